#!/usr/bin/env python3
"""A streaming keyword-spotting-style model: one frame in, the class scores and the next
states out, trained on scikit-learn's digits (each 8x8 image read as 8 frames of 8 features,
as Fixtures/recurrent does).

Run from the repository root with a venv that has tensorflow-cpu (2.21) and scikit-learn:

    $TF_PYTHON Fixtures/streaming/generate.py

The network is a temporal CNN as streaming keyword spotters use (kws_streaming's
"stream" layers): two Conv1D layers (kernel 3, 64 filters) and a classifier over the last 4
frames. The non-streaming model sees all 8 frames; the streaming one the same weights, fed
one frame at a time, each layer keeping the frames it still needs as an explicit state
(input state -> CONCATENATION with the new frame -> the layer; the concatenation minus its
oldest frame is the next state, a model output). After the 8th frame its scores equal the
non-streaming model's (checked below).

The Keras code computes the next states last, but TF's converter writes each state update
right after its layer anyway; what it does put early are the int8 model's QUANTIZE ops of all
four float inputs (each quantized state then lives from the first op on), which
`tfrewrite --optimize memory` moves next to their readers.

Written: kws_stream_float.tflite, kws_stream_int8.tflite (TF's post-training int8, float
I/O, calibrated on states and frames of 100 streamed training digits), heldout.npz (the
inputs of streaming 20 held-out digits, frame by frame: frame, state1..3), manifest.json.
"""

import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np
import keras
import tensorflow as tf

OUT = Path(__file__).resolve().parent
# The recurrent fixtures' digits and split (the same seed and 1400 training images).
sys.path.insert(0, str(OUT.parent / "recurrent"))
from generate import SEED, data  # noqa: E402
FEATURES = 8
FILTERS = 64
KERNEL = 3
CLASSIFIER_FRAMES = 4  # frames the classifier sees: 8 - 2 * (KERNEL - 1)
INPUTS = ["frame", "state1", "state2", "state3"]
EPOCHS = 30


def layers():
    keras.utils.set_random_seed(SEED)
    return (keras.layers.Conv1D(FILTERS, KERNEL, activation="relu", name="conv1"),
            keras.layers.Conv1D(FILTERS, KERNEL, activation="relu", name="conv2"),
            keras.layers.Dense(10, name="scores"))


def non_streaming(conv1, conv2, dense):
    inp = keras.Input((8, FEATURES), name="frames")
    h = conv2(conv1(inp))
    out = keras.layers.Softmax()(dense(keras.layers.Flatten()(h)))
    return keras.Model(inp, out)


def streaming(conv1, conv2, dense):
    frame = keras.Input((1, FEATURES), batch_size=1, name="frame")
    s1 = keras.Input((KERNEL - 1, FEATURES), batch_size=1, name="state1")
    s2 = keras.Input((KERNEL - 1, FILTERS), batch_size=1, name="state2")
    s3 = keras.Input((CLASSIFIER_FRAMES - 1, FILTERS), batch_size=1, name="state3")
    b1 = keras.layers.Concatenate(axis=1)([s1, frame])
    b2 = keras.layers.Concatenate(axis=1)([s2, conv1(b1)])
    b3 = keras.layers.Concatenate(axis=1)([s3, conv2(b2)])
    scores = keras.layers.Softmax()(dense(keras.layers.Flatten()(b3)))
    # The next states, computed last in the Keras code (TF's converter reorders them).
    drop_oldest = lambda b: keras.layers.Cropping1D((1, 0))(b)
    return keras.Model([frame, s1, s2, s3], [scores, drop_oldest(b1), drop_oldest(b2), drop_oldest(b3)])


def zero_states():
    return [np.zeros((1, KERNEL - 1, FEATURES), np.float32), np.zeros((1, KERNEL - 1, FILTERS), np.float32),
            np.zeros((1, CLASSIFIER_FRAMES - 1, FILTERS), np.float32)]


def stream(model, digit):
    """The inputs of each step and the scores after the last frame."""
    states = zero_states()
    steps = []
    for t in range(8):
        inputs = [digit[None, t:t + 1]] + states
        steps.append(inputs)
        scores, *states = model(inputs)
        states = [np.asarray(s) for s in states]
    return steps, np.asarray(scores)


def convert(model, calib_steps, int8):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # By input name: the converted model's inputs need not be in the Keras order.
        converter.representative_dataset = lambda: (dict(zip(INPUTS, step)) for step in calib_steps)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def main():
    (xt, yt), (xh, yh) = data()
    conv1, conv2, dense = layers()
    full = non_streaming(conv1, conv2, dense)
    full.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    full.fit(xt, yt, batch_size=32, epochs=EPOCHS, verbose=0, shuffle=False)
    accuracy = float(np.mean(np.argmax(full.predict(xh, batch_size=1, verbose=0), axis=1) == yh))
    model = streaming(conv1, conv2, dense)
    worst = 0.0
    calib_steps = []
    for digit in xt[:100]:
        steps, _ = stream(model, digit)
        calib_steps += steps
    heldout_steps = []
    for digit in xh[:20]:
        steps, scores = stream(model, digit)
        heldout_steps += steps
        worst = max(worst, float(np.max(np.abs(scores - full(digit[None]).numpy()))))
    assert worst < 1e-5, f"streaming scores differ from the full model's by {worst}"
    manifest = {"generator": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
                              "data": "sklearn load_digits, rows as frames, pixel/16", "epochs": EPOCHS,
                              "train": len(xt), "heldout": len(xh)},
                "keras_heldout_accuracy": accuracy, "streaming_vs_full_max_abs": worst, "models": {}}
    for name, int8 in (("kws_stream_float", False), ("kws_stream_int8", True)):
        blob = convert(model, calib_steps, int8)
        (OUT / f"{name}.tflite").write_bytes(blob)
        manifest["models"][name] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    np.savez(OUT / "heldout.npz", **{n: np.concatenate([s[k] for s in heldout_steps]) for k, n in enumerate(INPUTS)})
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(json.dumps(manifest, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
