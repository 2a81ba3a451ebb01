#!/usr/bin/env bash
# Runs two tfrewrite binaries on the same conversions and compares what they write (sha256 of
# every output file, exit code, stderr without timings). For changes that must not change
# outputs, e.g. performance work:
#
#   git worktree add /tmp/base <start-commit> && (cd /tmp/base && swift build -c release)
#   scripts/compare-outputs.sh /tmp/base/.build/release/tfrewrite .build/release/tfrewrite
#
# Models: Fixtures/*.tflite, Fixtures/graphdef/*.pb, Fixtures/savedmodel/*, the corpus in
# ../shared/models (skipped when absent), and EXTRA_MODELS (space-separated paths). Each is
# converted with no rules, --rules micro, --rules micro_speech, --quantize int8 with random:4,
# and --quantize int8 with its Fixtures/calib/*.npy samples where those match the model.
# Prints one line per difference and a count; exits 1 when anything differs.
set -uo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 2 ]] || { echo "usage: $0 BASE_BINARY NEW_BINARY" >&2; exit 2; }
base=$1 new=$2
corpus=${CORPUS:-../shared/models}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Input flags the corpus graphs need (Docs/graphdef.md): the KWS front end is cut at Mfcc.
flags_for() {
    case "$(basename "$1")" in
        DNN_S.pb) echo "--input Mfcc --output labels_softmax" ;;
        CNN_S.pb | DS_CNN_S.pb) echo "--input Mfcc:1,49,10 --output labels_softmax" ;;
        *) echo "" ;;
    esac
}
# Calibration samples recorded for a model (Fixtures/calib/<name>_calib.npy).
calib_for() {
    local name
    name=$(basename "$1")
    case "$name" in
        ds_cnn_float.tflite) name=ds_cnn ;;
        micro_speech_float.tflite) name=micro_speech ;;
        qdq_float_io.tflite) name=qdq_float_io ;;
        CNN_S.pb | DNN_S.pb | DS_CNN_S.pb) name=corpus_${name%.pb} ;;
        *.pb) name=${name%.pb} ;;
        *) name=$(basename "$name") ;;
    esac
    [[ -f Fixtures/calib/${name}_calib.npy ]] && echo "Fixtures/calib/${name}_calib.npy"
}

models=(Fixtures/*.tflite Fixtures/graphdef/*.pb Fixtures/savedmodel/*)
if [[ -d $corpus ]]; then
    models+=("$corpus"/tflite/*.tflite "$corpus"/graphdef/*.pb)
else
    echo "corpus absent ($corpus): corpus models skipped"
fi
# shellcheck disable=SC2206
models+=(${EXTRA_MODELS:-})

runs=0 differences=0 refused=0
run_both() {  # LABEL ARGS...: the same command with each binary, outputs compared
    local label=$1
    shift
    local results=()
    for which in base new; do
        local bin=$base
        [[ $which == new ]] && bin=$new
        rm -rf "$work/$which" && mkdir -p "$work/$which"
        "$bin" "$@" -o "$work/$which/out.tflite" >"$work/$which/stdout" 2>"$work/$which/stderr"
        echo "exit $?" >"$work/$which/status"
        # Timings differ from run to run; everything else must not.
        sed -E 's/\([0-9.]+ s\)//; s/[0-9.]+ (ms|s)\b/T/g' "$work/$which/stderr" >"$work/$which/stderr.txt"
        rm "$work/$which/stderr"
        results+=("$(cd "$work/$which" && sha256sum ./* | sha256sum | cut -c1-16)")
    done
    runs=$((runs + 1))
    grep -q "exit 0" "$work/base/status" || refused=$((refused + 1))
    if [[ ${results[0]} != "${results[1]}" ]]; then
        differences=$((differences + 1))
        echo "DIFFERENT: $label"
        diff -r "$work/base" "$work/new" | head -5
    fi
}

for m in "${models[@]}"; do
    [[ -e $m ]] || continue
    read -r -a flags <<<"$(flags_for "$m")"
    run_both "$m" "$m" "${flags[@]}"
    run_both "$m --rules micro" "$m" "${flags[@]}" --rules micro
    run_both "$m --rules micro_speech" "$m" "${flags[@]}" --rules micro_speech
    run_both "$m --quantize int8 random:4" "$m" "${flags[@]}" --quantize int8 --calibration random:4
    calib=$(calib_for "$m")
    if [[ -n $calib ]]; then
        run_both "$m --quantize int8 $calib" "$m" "${flags[@]}" --quantize int8 --calibration "$calib"
        run_both "$m --rules micro --quantize int8 $calib" "$m" "${flags[@]}" --rules micro --quantize int8 --calibration "$calib"
    fi
done
echo "$runs conversions compared ($refused of them refused with an error by the base binary), $differences different"
[[ $differences -eq 0 ]]
