#!/usr/bin/env bash
# Benchmarks (not timed tests): whole-process wall time and peak RSS of the release binary.
# Results go to stdout; copy them with the machine and date into Docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
work=${BENCH_DIR:-/tmp/tfrewrite-bench}
mkdir -p "$work"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date: $(date -u +%Y-%m-%d)"

# 1. Read + write a ≥100 MB .tflite (large FULLY_CONNECTED weights), no rules: a faithful rewrite.
fc=$("$bin/tfrewrite-bench-models" fc "$work" 100)
size=$(stat -c %s "$fc")
echo "fc model: $fc ($size bytes)"
# Drop the output between runs so every run writes a new file.
python3 scripts/bench.py "round trip 100 MB (read+write)" --runs 7 --bytes $((2 * size)) -- "$bin/tfrewrite" "$fc" -o "$work/fc-out.tflite"
python3 scripts/bench.py "inspect 100 MB" --runs 5 -- "$bin/tfrewrite" inspect "$fc"
cmp "$fc" "$work/fc-out.tflite" >/dev/null && echo "output identical to input: yes" || echo "output identical to input: no (re-serialized)"

# 2. Corpus and fixture round trips.
for m in ../shared/models/tflite/*.tflite Fixtures/*.tflite; do
    [[ -f "$m" ]] || continue
    python3 scripts/bench.py "round trip $(basename "$m")" --runs 5 -- "$bin/tfrewrite" "$m" -o "$work/rt.tflite"
done

# Later sections (GraphDef import, quantization) are added by their issues.
for extra in scripts/bench.d/*.sh; do
    [[ -f "$extra" ]] && BIN="$bin" WORK="$work" bash "$extra"
done
true
