#!/usr/bin/env python3
"""A person-detection-style int8 CNN (96x96x1 grayscale input), trained on scikit-learn's
digits upscaled to 96x96, for the patch-based rewrite of `--optimize memory` (issue 14).

Run from the repository root with a venv that has tensorflow-cpu (2.21) and scikit-learn:

    $TF_PYTHON Fixtures/patch/generate.py

TFLM's outputs come from a second step run with the conformance venv's python (it has
tflite_micro; the TF venv does not), started by the first: $TFLM_PYTHON, default
.venv/conformance/bin/python, runs `generate.py --expected`.

The network is the early stage of a MobileNet-v1 (as TFLM's person_detection example,
width 0.5): a 3x3 stride-2 convolution, then depthwise 3x3 / pointwise 1x1 blocks that halve
the map twice, then a small head (global average pooling, dense, softmax). As in
person_detection, the largest tensors are the first blocks' 48x48 maps, so TFLM's arena is
set by those layers and only a patch-based rewrite of that stage lowers it.

Data: each 8x8 digit (pixel / 16) is resized bilinearly to 96x96 (tf.image.resize), the
digits' own train/held-out split and seed as Fixtures/recurrent. Trained briefly (fixed
seeds), exported with TF's converter as float and as full int8 (int8 input and output,
calibrated on 100 training images).

Written: person_cnn_float.tflite, person_cnn_int8.tflite, heldout_int8.npy (20 held-out
images quantized with the int8 model's input scale and zero point, numpy round,
[20,1,96,96,1]), expected_<model>_tflm.npy (TFLM's outputs on them; the float model reads
the same images dequantized, `float_inputs`), manifest.json (with that scale and zero point).
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np

OUT = Path(__file__).resolve().parent
MODELS = ("person_cnn_float", "person_cnn_int8")

SIZE = 96
EPOCHS = 12
HELDOUT = 20


def images(x):
    """[N,8,8] digits in [0,1] -> [N,96,96,1] float32, bilinear."""
    return tf.image.resize(x[..., None], (SIZE, SIZE), method="bilinear").numpy().astype(np.float32)


def build(batch_size):
    keras.utils.set_random_seed(SEED)
    L = keras.layers
    inp = keras.Input((SIZE, SIZE, 1), batch_size=batch_size, name="image")
    # Each convolution as MobileNet writes it: no bias, batch normalization, ReLU (TF's
    # converter folds the normalization into the convolution and fuses the ReLU).
    def block(layer, h, name):
        h = layer(h)
        h = L.BatchNormalization(momentum=0.9, name=name + "_bn")(h)
        return L.ReLU(name=name + "_relu")(h)
    h = block(L.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="conv1"), inp, "conv1")
    h = block(L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw1"), h, "dw1")
    h = block(L.Conv2D(32, 1, use_bias=False, name="pw1"), h, "pw1")
    h = block(L.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False, name="dw2"), h, "dw2")
    h = block(L.Conv2D(32, 1, use_bias=False, name="pw2"), h, "pw2")
    h = block(L.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False, name="dw3"), h, "dw3")
    h = block(L.Conv2D(64, 1, use_bias=False, name="pw3"), h, "pw3")
    h = L.GlobalAveragePooling2D(name="pool")(h)
    out = L.Dense(10, activation="softmax", name="classes")(h)
    return keras.Model(inp, out, name="person_cnn")


def float_inputs(quantized, scale, zero_point):
    """The float model's held-out inputs: the int8 images dequantized (so one file serves both)."""
    return ((quantized.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)).astype(np.float32)


def heldout(name):
    quantized = np.load(OUT / "heldout_int8.npy")
    if name.endswith("int8"):
        return quantized
    q = json.loads((OUT / "manifest.json").read_text())["input_quantization"]
    return float_inputs(quantized, q["scale"], q["zero_point"])


def expected():
    """TFLM's outputs on the held-out inputs (run with a python that has tflite_micro)."""
    from tflite_micro.python.tflite_micro import runtime
    for name in MODELS:
        inputs = heldout(name)
        interp = runtime.Interpreter.from_bytes((OUT / f"{name}.tflite").read_bytes(), arena_size=1 << 20)
        outs = []
        for x in inputs:
            interp.set_input(x, 0)
            interp.invoke()
            outs.append(interp.get_output(0).copy())
        np.save(OUT / f"expected_{name}_tflm.npy", np.stack(outs))


def main():
    global keras, tf, SEED
    import keras
    import tensorflow as tf
    sys.path.insert(0, str(OUT.parent / "recurrent"))
    from generate import SEED, data
    (xt, yt), (xh, yh) = data()
    train_x, held_x = images(xt), images(xh)
    model = build(None)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_x, yt, batch_size=32, epochs=EPOCHS, verbose=0, shuffle=False)
    accuracy = float(np.mean(np.argmax(model.predict(held_x, verbose=0), axis=1) == yh))
    fixed = build(1)
    fixed.set_weights(model.get_weights())

    def convert(int8):
        converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([train_x[i:i + 1]] for i in range(100))
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        return converter.convert()

    manifest = {"generator": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
                              "data": "sklearn load_digits, 8x8 resized bilinearly to 96x96, pixel/16",
                              "epochs": EPOCHS, "train": len(xt), "heldout_used": HELDOUT},
                "keras_heldout_accuracy": accuracy, "models": {}}
    held_float = held_x[:HELDOUT, None]  # [20,1,96,96,1]
    for name in MODELS:
        int8 = name.endswith("int8")
        blob = convert(int8)
        (OUT / f"{name}.tflite").write_bytes(blob)
        if int8:
            interp = tf.lite.Interpreter(model_content=blob)
            scale, zero = interp.get_input_details()[0]["quantization"]
            np.save(OUT / "heldout_int8.npy", np.clip(np.round(held_float / scale) + zero, -128, 127).astype(np.int8))
            manifest["input_quantization"] = {"scale": float(scale), "zero_point": int(zero)}
        manifest["models"][name] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    tflm_python = os.environ.get("TFLM_PYTHON", str(OUT.parent.parent / ".venv/conformance/bin/python"))
    subprocess.run([tflm_python, __file__, "--expected"], check=True)
    for name in MODELS:
        labels = np.argmax(np.load(OUT / f"expected_{name}_tflm.npy").reshape(HELDOUT, -1), axis=1)
        manifest["models"][name]["tflm_heldout_accuracy"] = float(np.mean(labels == yh[:HELDOUT]))
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(json.dumps(manifest, indent=2, sort_keys=True))


if __name__ == "__main__":
    expected() if sys.argv[1:] == ["--expected"] else main()
