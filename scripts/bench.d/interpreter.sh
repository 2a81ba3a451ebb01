#!/usr/bin/env bash
# Interpreter speed beside LiteRT (run by scripts/bench.sh with BIN and WORK set; not a timed
# test): `tfrewrite run` on MobileNetV2-224 float and int8, one thread, next to LiteRT with
# XNNPACK on one thread (and LiteRT's built-in kernels) on the same .tflite files in the same run
# (scripts/bench-interpreter.py). Goal (issue 17): ours ≤ 1.5× XNNPACK for float and for int8.
#   - float: our conversion of the frozen MobileNetV2 graph (scripts/make-mobilenet-pb.py).
#   - int8: TF's converter output for that graph (from_frozen_graph, 16 seeded random
#     calibration samples, int8 I/O; what scripts/bench.d/quantize.sh writes), and our own
#     `--quantize int8` of it (random:16) cut before the SOFTMAX (with random weights the logits
#     are nearly constant, and an int8 SOFTMAX of their tiny scale is refused). The activations
#     also shrink layer by layer, and LiteRT refuses some of our layers' scale ratios
#     (kernel_util.cc no_integer_overflow_from_quantization): its line says so.
# Needs TF_PYTHON: a Python with TensorFlow (to make the graph) and ai-edge-litert.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$(swift build -c release --show-bin-path)}
WORK=${WORK:-/tmp/tfrewrite-bench}
TF_PYTHON=${TF_PYTHON:-}
mkdir -p "$WORK"
echo "== Interpreter speed (MobileNetV2-224, one thread)"

if [[ -z "$TF_PYTHON" || ! -x "$TF_PYTHON" ]] || ! "$TF_PYTHON" -c "import tensorflow, ai_edge_litert" 2>/dev/null; then
    echo "TF_PYTHON does not point at a Python with tensorflow and ai-edge-litert: interpreter speed skipped"
    exit 0
fi
mnv2="$WORK/mobilenet_v2.pb"
[[ -f "$mnv2" ]] || "$TF_PYTHON" scripts/make-mobilenet-pb.py "$mnv2" 2>/dev/null
"$BIN/tfrewrite" "$mnv2" -o "$WORK/run-mnv2-float.tflite" 2>/dev/null
"$BIN/tfrewrite" "$mnv2" --output mobilenetv2_1.00_224_1/predictions_1/BiasAdd \
    --quantize int8 --calibration random:16 -o "$WORK/run-mnv2-int8.tflite" 2>/dev/null
[[ -f "$WORK/tf-mnv2_int8.tflite" ]] || "$TF_PYTHON" scripts/tf-int8-convert.py \
    "$mnv2" input Identity 1,224,224,3 random:16 "$WORK/tf-mnv2_int8.tflite" 2>/dev/null
models=("float=$WORK/run-mnv2-float.tflite" "int8 (TF converter)=$WORK/tf-mnv2_int8.tflite" "int8 (ours)=$WORK/run-mnv2-int8.tflite")
"$TF_PYTHON" scripts/bench-interpreter.py --tfrewrite "$BIN/tfrewrite" --rounds "${BENCH_ROUNDS:-5}" --repeat "${BENCH_REPEAT:-20}" "${models[@]}"
