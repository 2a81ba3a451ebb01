#!/usr/bin/env bash
# The whole test suite: Swift unit tests, then the conformance tests that run our outputs on the
# real LiteRT and TFLite Micro interpreters (a venv with both is created on first use).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh || exit 2

status=0
# The repair tests write rewritten model pairs here; the conformance tests run them on LiteRT and TFLM.
export TFREWRITE_REPAIR_ARTIFACTS="$PWD/.build/repair-artifacts"
rm -rf "$TFREWRITE_REPAIR_ARTIFACTS"
echo "== swift build"
swift build --build-tests > .build-log.txt 2>&1 || { grep -E "error" .build-log.txt | sort -u | head -n 40; tail -n 5 .build-log.txt; exit 1; }
tail -n 1 .build-log.txt

echo "== swift test"
swift test --skip-build > .swift-test.log 2>&1
rc=$?
grep -E "error:|skipped|' failed \(|Executed [0-9]+ tests" .swift-test.log | tail -n 60
[[ $rc -eq 0 ]] || { echo "swift test failed (exit $rc); full log: .swift-test.log"; status=1; }

echo "== conformance (LiteRT and TFLM)"
py=$(scripts/conformance-venv.sh | tail -n 1) || { echo "could not create the conformance venv"; exit 1; }
TFREWRITE="$(swift build --show-bin-path)/tfrewrite" "$py" -m pytest Tests/Conformance -q -rs || status=1

# A few seconds of libFuzzer per parser (Docs/security.md): catches a parser change that traps
# on the seeds' first mutations. The saved crash inputs already ran above (FuzzReplayTests).
echo "== fuzz smoke (${FUZZ_SMOKE_SECONDS:-5} s per target)"
FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-5} scripts/fuzz.sh || status=1
exit $status
