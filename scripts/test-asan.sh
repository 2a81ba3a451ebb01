#!/usr/bin/env bash
# `make test-asan`: the Swift test suite built with AddressSanitizer (Swift and the C targets)
# and UndefinedBehaviorSanitizer (the C targets: swiftc has no UBSan mode for Swift, whose
# arithmetic traps on its own) in its own build path, .build-asan. Any ASan or UBSan report
# fails the run: UBSan does not recover, so the test process stops at the first report.
set -uo pipefail
cd "$(dirname "$0")/.."
build=.build-asan
echo "== swift build --build-tests (AddressSanitizer; UBSan for C, $build)"
swift build --build-path "$build" --build-tests -Xswiftc -sanitize=address \
    -Xcc -fsanitize=address,undefined -Xcc -fno-sanitize-recover=undefined \
    -Xswiftc -Xclang-linker -Xswiftc -fsanitize=undefined \
    > "$build-log.txt" 2>&1 || { grep -E "error" "$build-log.txt" | sort -u | head -n 40; exit 1; }
echo "== swift test (AddressSanitizer)"
export TFREWRITE_REPAIR_ARTIFACTS="$PWD/$build/repair-artifacts"
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    swift test --skip-build --build-path "$build" > "$build-test.log" 2>&1
rc=$?
grep -E "error:|' failed \(|Executed [0-9]+ tests|ERROR: AddressSanitizer|runtime error:|SUMMARY" "$build-test.log" | tail -n 40
if grep -q "runtime error:" "$build-test.log"; then echo "UndefinedBehaviorSanitizer reported; log: $build-test.log"; exit 1; fi
[[ $rc -eq 0 ]] || { echo "swift test under AddressSanitizer failed (exit $rc); log: $build-test.log"; exit 1; }
