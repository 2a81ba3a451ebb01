#!/usr/bin/env bash
# The quickstart: installs what is missing, builds tfrewrite (release), and repairs the bundled
# micro_speech fixture, made by TF 2.x's converter, for the micro_speech firmware's four-op resolver.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
echo "== building tfrewrite (release)"
swift build -c release --product tfrewrite 2>&1 | tail -n 1
bin=$(swift build -c release --show-bin-path)/tfrewrite
mkdir -p out
in=Fixtures/micro_speech_int8.tflite
run() { echo; echo "\$ tfrewrite $*"; "$bin" "$@"; }

run inspect "$in" | head -n 12
echo "   ..."
echo; echo "\$ tfrewrite check $in --rules micro_speech    (exit 1: findings)"
"$bin" check "$in" --rules micro_speech || true
run "$in" --rules micro_speech -o out/micro_speech_fixed.tflite --emit-resolver out/micro_speech_resolver.h
run check out/micro_speech_fixed.tflite --rules micro_speech
if [[ -f ../shared/models/tflite/micro_speech_quantized.tflite ]]; then
    echo; echo "\$ tfrewrite diff ../shared/models/tflite/micro_speech_quantized.tflite out/micro_speech_fixed.tflite"
    "$bin" diff ../shared/models/tflite/micro_speech_quantized.tflite out/micro_speech_fixed.tflite || true
fi
run out/micro_speech_fixed.tflite -o out/micro_speech_fixed.cc

# The same model from its TF1 training graph (a frozen GraphDef), quantized with calibration data.
run Fixtures/graphdef/tiny_conv.pb --rules micro_speech --quantize int8 --calibration Fixtures/calib/tiny_conv_calib.npy -o out/tiny_conv_int8.tflite
echo; echo "demo outputs are in out/: micro_speech_fixed.tflite (.cc/.h), micro_speech_resolver.h, tiny_conv_int8.tflite"
