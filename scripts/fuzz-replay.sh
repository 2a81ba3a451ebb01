#!/usr/bin/env bash
# `make fuzz-replay`: every saved crash input (Tests/FuzzCrashes/TARGET/*) through the normal,
# non-sanitizer build of its fuzz target; each must be accepted or refused, never crash.
set -uo pipefail
cd "$(dirname "$0")/.."
swift build > .build-log.txt 2>&1 || { grep -E "error" .build-log.txt | sort -u | head -n 20; exit 2; }
bin=$(swift build --show-bin-path)
status=0 total=0
for dir in Tests/FuzzCrashes/*/; do
    [[ -d $dir ]] || continue
    t=$(basename "$dir")
    n=$(find "$dir" -type f ! -name '.*' | wc -l)
    [[ $n -gt 0 ]] || continue
    total=$((total + n))
    if SWIFT_BACKTRACE=enable=no timeout 300 "$bin/fuzz-$t" "$dir" > ".build/fuzz-replay-$t.log" 2>&1; then
        echo "$t: $n inputs replayed, no crash"
    else
        echo "$t: CRASH replaying $dir (exit $?); log: .build/fuzz-replay-$t.log"
        status=1
    fi
done
echo "replayed $total saved crash inputs"
exit $status
