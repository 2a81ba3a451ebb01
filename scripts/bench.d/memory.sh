#!/usr/bin/env bash
# Arena planning benchmark (run by scripts/bench.sh with BIN and WORK set; not a timed test):
# `tfrewrite memory` on a 1k-op chain (tfrewrite-bench-models chain: ADD and RELU alternating)
# replays TFLM's allocations about 30 times (the minimum-arena search) and plans 1k buffers.
# Goal (issue 14): < 1 s for the whole process at 1k ops; the 100k-op chain shows the planner
# stays near-linear (TFLM's own quadratic scan took 36-71 s there).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$(swift build -c release --show-bin-path)}
WORK=${WORK:-/tmp/tfrewrite-bench}
mkdir -p "$WORK/memory"
echo "== Arena planning (tfrewrite memory)"
for n in 1000 4000; do
    model=$("$BIN/tfrewrite-bench-models" chain "$WORK/memory" "$n")
    python3 scripts/bench.py "memory plan $n ops (text)" --runs 5 -- "$BIN/tfrewrite" memory "$model"
    python3 scripts/bench.py "memory plan $n ops (--json)" --runs 5 -- "$BIN/tfrewrite" memory --json "$model"
done
model=$("$BIN/tfrewrite-bench-models" chain "$WORK/memory" 100000)
python3 scripts/bench.py "memory plan 100000 ops (text)" --runs 1 -- "$BIN/tfrewrite" memory "$model"
python3 scripts/bench.py "check --arena-limit 100000 ops" --runs 1 -- "$BIN/tfrewrite" check "$model" --arena-limit 100000000
for m in Fixtures/ds_cnn_int8.tflite ../shared/models/tflite/keyword_scrambled.tflite; do
    [[ -f "$m" ]] || continue
    python3 scripts/bench.py "memory $(basename "$m")" --runs 5 -- "$BIN/tfrewrite" memory "$m"
done
