#!/usr/bin/env bash
# GraphDef import benchmark (run by scripts/bench.sh with BIN and WORK set; not a timed test).
#
# Times the whole `tfrewrite model.pb -o x.tflite` process (wall time, peak RSS via
# scripts/bench.py) beside TensorFlow's own converter (tf.compat.v1.lite.TFLiteConverter.
# from_frozen_graph) on the same graph in the same run:
#   - MobileNetV2-224 (tf.keras.applications.MobileNetV2(weights=None), frozen with
#     convert_variables_to_constants_v2 into $WORK; ~14 MB, never committed). Goal: <= 0.15 s.
#   - DS_CNN_S.pb from ../shared/models/graphdef (cut at Mfcc), when the corpus is present.
# Needs a TensorFlow venv in TF_PYTHON (e.g. /work/venvs/tf/bin/python) for the MobileNet
# graph and for TF's timings; without it only the corpus graph is timed, ours only.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$(swift build -c release --show-bin-path)}
WORK=${WORK:-/tmp/tfrewrite-bench}
TF_PYTHON=${TF_PYTHON:-}
mkdir -p "$WORK"
echo "== GraphDef import"

tf_convert() {  # tf_convert NAME PB INPUT OUTPUT SHAPE: TF's converter, whole process, 3 runs
    python3 scripts/bench.py "TF from_frozen_graph $1" --runs 3 -- "$TF_PYTHON" -c '
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
pb, i, o, shape, dst = sys.argv[1:6]
c = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(pb, input_arrays=[i], output_arrays=[o],
    input_shapes={i: [int(d) for d in shape.split(",")]})
open(dst, "wb").write(c.convert())
' "$2" "$3" "$4" "$5" "$WORK/tf-$1.tflite"
}

if [[ -n "$TF_PYTHON" && -x "$TF_PYTHON" ]]; then
    mnv2="$WORK/mobilenet_v2.pb"
    if [[ ! -f "$mnv2" ]]; then
        "$TF_PYTHON" scripts/make-mobilenet-pb.py "$mnv2" 2>/dev/null
    fi
    echo "mobilenet_v2.pb: $(stat -c %s "$mnv2") bytes"
    python3 scripts/bench.py "tfrewrite MobileNetV2-224 .pb -> .tflite" --runs 7 -- "$BIN/tfrewrite" "$mnv2" -o "$WORK/mnv2.tflite"
    tf_convert mobilenet_v2 "$mnv2" input Identity 1,224,224,3
    echo "ops: ours $("$BIN/tfrewrite" inspect --json "$WORK/mnv2.tflite" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["subgraphs"][0]["operators"]))'), TF $("$BIN/tfrewrite" inspect --json "$WORK/tf-mobilenet_v2.tflite" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["subgraphs"][0]["operators"]))')"
else
    echo "TF_PYTHON not set: MobileNetV2 graph and TF timings skipped"
fi

ds=../shared/models/graphdef/DS_CNN_S.pb
if [[ -f "$ds" ]]; then
    python3 scripts/bench.py "tfrewrite DS_CNN_S .pb -> .tflite" --runs 7 -- "$BIN/tfrewrite" "$ds" --input Mfcc -o "$WORK/ds_cnn_s.tflite"
    [[ -n "$TF_PYTHON" && -x "$TF_PYTHON" ]] && tf_convert DS_CNN_S "$ds" Mfcc labels_softmax 1,49,10
else
    echo "corpus absent ($ds): DS_CNN_S skipped"
fi
