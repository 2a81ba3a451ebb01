#!/usr/bin/env bash
# Int8 post-training quantization benchmark (run by scripts/bench.sh with BIN and WORK set; not
# a timed test). Whole-process wall time and peak RSS (scripts/bench.py):
#   - DS_CNN_S.pb (../shared/models/graphdef, cut at Mfcc) -> int8 with the 32 calibration
#     samples of Fixtures/calib/corpus_DS_CNN_S_calib.npy, beside TF's converter
#     (from_frozen_graph + representative_dataset over the same samples, int8 I/O) when TF_PYTHON
#     points at a Python with TensorFlow. Goals: >= 50x faster than TF, <= 40 MiB peak RSS.
#   - MobileNetV2-224 -> int8 with 16 samples (random:16, seeded). Goal: <= 0.5 s. The frozen
#     graph is the one scripts/bench.d/graphdef.sh writes to $WORK/mobilenet_v2.pb (made here the
#     same way when that script has not run).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$(swift build -c release --show-bin-path)}
WORK=${WORK:-/tmp/tfrewrite-bench}
TF_PYTHON=${TF_PYTHON:-}
mkdir -p "$WORK"
echo "== Int8 quantization"

have_tf() { [[ -n "$TF_PYTHON" && -x "$TF_PYTHON" ]]; }

# TF's converter to int8 (int8 I/O) with a representative dataset: CALIB is a .npy of samples
# or random:N (seeded standard-normal samples: the distribution our random:N draws from).
tf_int8() {  # LABEL PB INPUT OUTPUT SHAPE CALIB DST
    python3 scripts/bench.py "TF from_frozen_graph $1 -> int8" --runs 3 -- "$TF_PYTHON" scripts/tf-int8-convert.py "${@:2}"
}

ds=../shared/models/graphdef/DS_CNN_S.pb
calib=Fixtures/calib/corpus_DS_CNN_S_calib.npy
if [[ -f "$ds" && -f "$calib" ]]; then
    python3 scripts/bench.py "tfrewrite DS_CNN_S .pb -> int8 (32 samples)" --runs 7 -- \
        "$BIN/tfrewrite" "$ds" --input Mfcc:1,49,10 --output labels_softmax \
        --quantize int8 --calibration "$calib" -o "$WORK/ds_cnn_s_int8.tflite"
    if have_tf; then
        tf_int8 "DS_CNN_S (32 samples)" "$ds" Mfcc labels_softmax 1,49,10 "$calib" "$WORK/tf-ds_cnn_s_int8.tflite"
    else
        echo "TF_PYTHON not set: TF's DS_CNN_S int8 timing skipped"
    fi
else
    echo "corpus absent ($ds): DS_CNN_S int8 skipped"
fi

mnv2="$WORK/mobilenet_v2.pb"
if [[ ! -f "$mnv2" ]] && have_tf; then
    "$TF_PYTHON" scripts/make-mobilenet-pb.py "$mnv2" 2>/dev/null
fi
if [[ -f "$mnv2" ]]; then
    python3 scripts/bench.py "tfrewrite MobileNetV2-224 .pb -> int8 (16 samples)" --runs 5 -- \
        "$BIN/tfrewrite" "$mnv2" --quantize int8 --calibration random:16 -o "$WORK/mnv2_int8.tflite"
    if have_tf; then
        tf_int8 "MobileNetV2-224 (16 samples)" "$mnv2" input Identity 1,224,224,3 random:16 "$WORK/tf-mnv2_int8.tflite"
    else
        echo "TF_PYTHON not set: TF's MobileNetV2 int8 timing skipped"
    fi
    python3 scripts/bench.py "tfrewrite MobileNetV2-224 .pb -> float (import only)" --runs 5 -- \
        "$BIN/tfrewrite" "$mnv2" -o "$WORK/mnv2_float.tflite"
    # One float inference in the interpreter (what calibration runs per sample, on each core).
    python3 - "$WORK/mnv2_input.npy" <<'PY'
import struct, sys
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 224, 224, 3), }"
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(b"\x00" * (224 * 224 * 3 * 4))
PY
    "$BIN/tfrewrite" run "$WORK/mnv2_float.tflite" --input "$WORK/mnv2_input.npy" --repeat 5 -o "$WORK/mnv2_out.npy" 2>&1 \
        | grep -E "inferences" | sed 's/^ */float inference in the interpreter: /' || true
else
    echo "no $mnv2 (needs TF_PYTHON, or run scripts/bench.d/graphdef.sh first): MobileNetV2 int8 skipped"
fi
