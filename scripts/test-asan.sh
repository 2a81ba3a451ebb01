#!/usr/bin/env bash
# `make test-asan`: the Swift test suite built with AddressSanitizer (Swift and the C targets)
# in its own build path, .build-asan. Any ASan report fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
build=.build-asan
echo "== swift build --build-tests (AddressSanitizer, $build)"
swift build --build-path "$build" --build-tests -Xswiftc -sanitize=address -Xcc -fsanitize=address \
    > "$build-log.txt" 2>&1 || { grep -E "error" "$build-log.txt" | sort -u | head -n 40; exit 1; }
echo "== swift test (AddressSanitizer)"
export TFREWRITE_REPAIR_ARTIFACTS="$PWD/$build/repair-artifacts"
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
    swift test --skip-build --build-path "$build" > "$build-test.log" 2>&1
rc=$?
grep -E "error:|' failed \(|Executed [0-9]+ tests|ERROR: AddressSanitizer|SUMMARY" "$build-test.log" | tail -n 40
[[ $rc -eq 0 ]] || { echo "swift test under AddressSanitizer failed (exit $rc); log: $build-test.log"; exit 1; }
