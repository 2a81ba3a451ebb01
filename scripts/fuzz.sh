#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets (Sources/Fuzz/*) with AddressSanitizer in
# .build-fuzz and runs each for FUZZ_SECONDS (default 60), one line per target:
#   TARGET: N runs, C crashes
# Seeds come from Fixtures/, Rules/ and, when present, ../shared/models (copied into the
# scratch corpus .build-fuzz/corpus/TARGET, never into the repository); the corpus grows across
# runs. Crash inputs go to Tests/FuzzCrashes/TARGET/, which `make fuzz-replay` and the Swift
# tests replay. FUZZ_TARGETS limits the targets ("tflite rules"); extra libFuzzer flags in
# FUZZ_FLAGS. Exit 1 when any target crashed.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-tflite graphdef savedmodel rules npy pipeline tensorbundle}
build=.build-fuzz
models=../shared/models
[[ -d $models ]] || models=/work/shared/models

echo "== fuzzer build ($build)"
for t in $targets; do
    swift build --build-path "$build" --product "fuzz-$t" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
        -Xcc -fsanitize=fuzzer-no-link,address > "$build-log.txt" 2>&1 \
        || { grep -E "error" "$build-log.txt" | sort -u | head -n 20; echo "fuzzer build of fuzz-$t failed; log: $build-log.txt"; exit 2; }
done
bin=$(swift build --build-path "$build" --show-bin-path)

# Seeds: small files only (libFuzzer's -max_len follows the largest seed, and big seeds slow
# every execution down).
seed() {  # seed TARGET FILE...
    local dir=$build/corpus/$1; shift
    mkdir -p "$dir"
    for f in "$@"; do
        [[ -f $f && $(stat -c %s "$f") -le 262144 ]] || continue
        cp "$f" "$dir/seed-$(sha1sum "$f" | cut -c1-12)"
    done
}
shared() { [[ -d $models ]] && find "$models" -type f -name "$1" | sort; }
tflites=(Fixtures/*.tflite $(shared '*.tflite'))
graphdefs=(Fixtures/graphdef/*.pb $(shared '*.pb'))
savedmodels=(Fixtures/savedmodel/*/saved_model.pb Fixtures/savedmodel_variables/*/saved_model.pb)
seed tflite "${tflites[@]}"
seed graphdef "${graphdefs[@]}"
seed savedmodel "${savedmodels[@]}"
seed tensorbundle Fixtures/savedmodel_variables/*/variables/variables.index
seed rules $(find Rules -name '*.yaml' | sort)
seed npy Fixtures/calib/*.npy
npz=$build/seed.npz
rm -f "$npz" && zip -q -0 -j "$npz" Fixtures/calib/tiny_conv_calib.npy Fixtures/calib/bn_net_calib.npy && seed npy "$npz"
seed pipeline "${tflites[@]}" "${graphdefs[@]}" "${savedmodels[@]}"
dict() { case $1 in tflite) echo tflite;; graphdef|savedmodel) echo protobuf;; rules) echo rules;; npy) echo npy;; pipeline) echo tflite;; tensorbundle) echo protobuf;; esac; }

echo "== fuzzing ${seconds}s per target"
status=0
mkdir -p "$build/logs"
for t in $targets; do
    crashes=Tests/FuzzCrashes/$t
    mkdir -p "$crashes"
    before=$(find "$crashes" -type f | wc -l)
    log=$build/logs/$t.log
    # Leak checking is off: the Swift runtime keeps caches alive until exit.
    # -rss_limit_mb also caps single allocations; FuzzTarget.memoryBudget (256 MiB) keeps
    # legal-but-large inputs well below it. -timeout: an input taking > 10 s is a hang.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$bin/fuzz-$t" "$build/corpus/$t" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -dict="Tests/FuzzDictionaries/$(dict "$t").dict" -artifact_prefix="$crashes/" \
        ${FUZZ_FLAGS:-} > "$log" 2>&1
    rc=$?
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
    [[ -n $runs ]] || runs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
    rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
    found=$(( $(find "$crashes" -type f | wc -l) - before ))
    echo "$t: ${runs:-0} runs, $found crashes"
    echo "   (${rate:-?} exec/s, exit $rc; log: $log)"
    if [[ $found -gt 0 || $rc -ne 0 ]]; then
        status=1
        grep -E "ERROR: libFuzzer|ERROR: AddressSanitizer|Fatal error|SUMMARY" "$log" | head -n 3 | sed 's/^/   /'
    fi
    rmdir "$crashes" 2>/dev/null
done
exit $status
