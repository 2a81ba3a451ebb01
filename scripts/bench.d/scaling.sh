#!/usr/bin/env bash
# Scaling benchmark (run by scripts/bench.sh with BIN and WORK set; not a timed test): the same
# small layer repeated 1k, 4k, 16k and 64k times, so time per op shows whether a job's cost
# grows faster than the model. Models come from tfrewrite-bench-models (never committed):
#   - chain-N.tflite: N ops alternating ADD (own [1,16] constant) and RELU, float32;
#   - relu-chain-N.pb: a frozen GraphDef, Placeholder + N Relu nodes.
# Jobs: .tflite round trip, GraphDef import, --rules micro, --quantize int8 (random:2).
# Goal: per job, the largest time per op is within 2x of the smallest (printed as "spread").
# A process has a fixed cost (start, load the rules, ~20 ms) that would dominate 1k ops, so
# the spread is computed on the time beyond a 1-op model's ("net"), from the fastest run of
# each (the machine's other load only ever adds time), for wall time and for CPU time (user +
# system, all threads: less disturbed by other processes on a shared machine).
# Then the large cases of issues 13 and 21: a 100k-node GraphDef chain (goal < 10 s), a 100k-op
# chain through --quantize int8, and a model of 10k subgraphs through --rules micro.
# SCALING_SIZES overrides the sizes (e.g. SCALING_SIZES="1000 4000" for a quick look).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$(swift build -c release --show-bin-path)}
WORK=${WORK:-/tmp/tfrewrite-bench}
sizes=(${SCALING_SIZES:-1000 4000 16000 64000})
mkdir -p "$WORK/scaling"
dir="$WORK/scaling"
echo "== Scaling (time per op across model sizes)"

results="$dir/results.txt"
: >"$results"
timed() {  # JOB N CMD...: one bench.py line, remembered for the spread
    local job=$1 n=$2
    shift 2
    local runs=5
    ((n >= 64000)) && runs=3
    local line
    line=$(python3 scripts/bench.py "$job, $n ops" --runs "$runs" --per-op "$n" -- "$@")
    echo "$line"
    local wall cpu
    wall=$(echo "$line" | sed -E 's/.* min +([0-9.]+) s .*/\1/')
    cpu=$(echo "$line" | sed -E 's/.*cpu min +([0-9.]+) s.*/\1/')
    echo "$job|$n|$wall|$cpu" >>"$results"
}

for n in 1 "${sizes[@]}"; do
    chain=$("$BIN/tfrewrite-bench-models" chain "$dir" "$n")
    pb=$("$BIN/tfrewrite-bench-models" relu-pb "$dir" "$n")
    timed ".tflite round trip" "$n" "$BIN/tfrewrite" "$chain" -o "$dir/out.tflite"
    timed "GraphDef import" "$n" "$BIN/tfrewrite" "$pb" -o "$dir/out.tflite"
    timed "--rules micro" "$n" "$BIN/tfrewrite" "$chain" --rules micro -o "$dir/out.tflite"
    timed "--quantize int8 (random:2)" "$n" "$BIN/tfrewrite" "$chain" --quantize int8 --calibration random:2 -o "$dir/out.tflite"
done
python3 - "$results" <<'PY'
import sys
for column, what in ((2, "wall"), (3, "cpu")):
    fixed, net = {}, {}
    for line in open(sys.argv[1]):
        fields = line.rstrip("\n").split("|")
        job, n, seconds = fields[0], int(fields[1]), float(fields[column])
        if n == 1:
            fixed[job] = seconds
        else:
            net.setdefault(job, []).append((n, (seconds - fixed[job]) / n * 1e6))
    for job, figures in net.items():
        us = [u for _, u in figures]
        listing = ", ".join(f"{n // 1000}k {u:.1f}" for n, u in figures)
        print(f"spread ({what}) {job:<28} {max(us) / min(us):5.2f}x  net us/op (least time minus a 1-op model's, {fixed[job]:.3f} s): {listing}")
PY

pb=$("$BIN/tfrewrite-bench-models" relu-pb "$dir" 100000)
python3 scripts/bench.py "GraphDef import, 100k-node chain" --runs 3 --per-op 100000 -- "$BIN/tfrewrite" "$pb" -o "$dir/out.tflite"
chain=$("$BIN/tfrewrite-bench-models" chain "$dir" 100000)
python3 scripts/bench.py "--quantize int8, 100k-op chain" --runs 3 --per-op 100000 -- "$BIN/tfrewrite" "$chain" --quantize int8 --calibration random:2 -o "$dir/out.tflite"
many=$("$BIN/tfrewrite-bench-models" subgraphs "$dir" 10000)
python3 scripts/bench.py "--rules micro, 10k subgraphs" --runs 3 -- "$BIN/tfrewrite" "$many" --rules micro -o "$dir/out.tflite"
