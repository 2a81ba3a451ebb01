#!/usr/bin/env bash
# Arena planning benchmark (run by scripts/bench.sh with BIN and WORK set; not a timed test):
# `tfrewrite memory` on a 1k-op chain (tfrewrite-bench-models chain: ADD and RELU alternating)
# replays TFLM's allocations about 30 times (the minimum-arena search) and plans 1k buffers.
# Goal (issue 14): < 1 s for the whole process.
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
for m in Fixtures/ds_cnn_int8.tflite ../shared/models/tflite/keyword_scrambled.tflite; do
    [[ -f "$m" ]] || continue
    python3 scripts/bench.py "memory $(basename "$m")" --runs 5 -- "$BIN/tfrewrite" memory "$m"
done
