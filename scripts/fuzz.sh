#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets (Sources/Fuzz/*) with AddressSanitizer in
# .build-fuzz and runs each for FUZZ_SECONDS (default 60), one line per target:
#   TARGET: N runs, C crashes
# Seeds come from Fixtures/, Rules/ and, when present, ../shared/models (copied into the
# scratch corpus .build-fuzz/corpus/TARGET, never into the repository); the corpus grows across
# runs. Crash inputs go to Tests/FuzzCrashes/TARGET/, which `make fuzz-replay` and the Swift
# tests replay. FUZZ_TARGETS limits the targets ("tflite rules"); extra libFuzzer flags in
# FUZZ_FLAGS (e.g. -runs=1000000 to stop after a million executions). Exit 1 when any target
# crashed.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-tflite graphdef savedmodel rules npy pipeline irtext tensorbundle keras}
# FUZZ_CONFIG=release builds the targets optimized (in .build-fuzz-release): several times the
# executions per second, for the long runs Docs/security.md records.
config=${FUZZ_CONFIG:-debug}
case $config in
    debug) build=.build-fuzz ;;
    release) build=.build-fuzz-release ;;
    *) echo "FUZZ_CONFIG must be debug or release, got '$config'" >&2; exit 2 ;;
esac
models=../shared/models
[[ -d $models ]] || models=/work/shared/models

echo "== fuzzer build ($build)"
for t in $targets; do
    swift build -c "$config" --build-path "$build" --product "fuzz-$t" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
        -Xcc -fsanitize=fuzzer-no-link,address > "$build-log.txt" 2>&1 \
        || { grep -E "error" "$build-log.txt" | sort -u | head -n 20; echo "fuzzer build of fuzz-$t failed; log: $build-log.txt"; exit 2; }
done
bin=$(swift build -c "$config" --build-path "$build" --show-bin-path)

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
# fuzz-keras reads HDF5 as the reader child's output (HDF5SnapshotCodec), never through
# libhdf5 (Docs/security.md), so its seeds are the fixtures with every HDF5 file replaced by
# that snapshot: .h5 files, and .keras archives whose model.weights.h5 is one. Made by a built
# tfrewrite when there is one.
snapseeds=$build/keras-snapshot-seeds
rm -rf "$snapseeds" && mkdir -p "$snapseeds"
if [[ -x .build/debug/tfrewrite ]]; then
    for f in Fixtures/keras/*.h5; do
        .build/debug/tfrewrite __hdf5-reader 1073741824 536870912 10 < "$f" > "$snapseeds/$(basename "$f").snapshot" || true
    done
    python3 - "$snapseeds" Fixtures/keras/*.keras <<'PY'
import subprocess, sys, zipfile
out = sys.argv[1]
for path in sys.argv[2:]:
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    snapshot = subprocess.run([".build/debug/tfrewrite", "__hdf5-reader", "1073741824", "536870912", "10"],
                              input=members["model.weights.h5"], capture_output=True).stdout
    members["model.weights.h5"] = snapshot
    name = path.rsplit("/", 1)[-1]
    with zipfile.ZipFile(f"{out}/{name}", "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(zipfile.ZipInfo(n, (1980, 1, 1, 0, 0, 0)), data)
PY
    seed keras "$snapseeds"/*
fi
seed rules $(find Rules -name '*.yaml' | sort)
# .npy seeds are made small here (the calibration fixtures are 30-125 KB, and libFuzzer's
# speed falls with the seed size): a few dtypes, orders and shapes, alone and zipped.
npyseeds=$build/npy-seeds
rm -rf "$npyseeds" && mkdir -p "$npyseeds"
python3 - "$npyseeds" <<'PY'
import struct, sys
def npy(descr, fortran, shape, data):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data
seeds = {
    "f32.npy": npy("<f4", "False", "(2, 3)", struct.pack("<6f", 0, 1.5, -2, 3.25, 1e-3, 7)),
    "i8.npy": npy("|i1", "False", "(1, 4)", bytes([0, 127, 128, 255])),
    "u8.npy": npy("|u1", "True", "(2, 2)", bytes([1, 2, 3, 4])),
    "i16be.npy": npy(">i2", "False", "(3,)", struct.pack(">3h", -1, 2, 300)),
    "i32.npy": npy("<i4", "False", "()", struct.pack("<i", 42)),
    "bool.npy": npy("|b1", "False", "(2,)", bytes([0, 1])),
    "f64.npy": npy("<f8", "False", "(1, 1, 2)", struct.pack("<2d", 0.5, -0.5)),
}
for name, data in seeds.items():
    open(f"{sys.argv[1]}/{name}", "wb").write(data)
PY
(cd "$npyseeds" && zip -q -0 stored.npz f32.npy i8.npy && zip -q -9 deflated.npz f32.npy u8.npy bool.npy)
seed npy "$npyseeds"/*
seed pipeline "${tflites[@]}" "${graphdefs[@]}" "${savedmodels[@]}"
# IR text: the given and result sections of the golden pass tests, one seed each.
irseeds=$build/irtext-seeds
rm -rf "$irseeds" && mkdir -p "$irseeds"
for g in Tests/TFRewriteTests/Golden/Passes/*.ir; do
    awk -v out="$irseeds/$(basename "$g" .ir)" '/^# given/{f=out".given"; next} /^# result/{f=out".result"; next} /^#/{next} f{print > f}' "$g"
done
seed irtext "$irseeds"/*
dict() { case $1 in tflite) echo tflite;; graphdef|savedmodel|tensorbundle) echo protobuf;; rules) echo rules;; npy) echo npy;; pipeline) echo tflite;; irtext) echo irtext;; keras) echo keras;; esac; }

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
