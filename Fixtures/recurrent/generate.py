#!/usr/bin/env python3
"""Recurrent fixtures: Keras 3 LSTM and GRU classifiers trained on scikit-learn's digits.

Run from the repository root with a venv that has tensorflow-cpu (2.21) and scikit-learn:

    $TF_PYTHON Fixtures/recurrent/generate.py

Each 8x8 digit image is read as 8 time steps of 8 features (pixel / 16). Every model is
trained briefly (fixed seeds, deterministic), then exported with TF's own converter in the
forms users get:

  <name>_loop_float.tflite       the default export: a WHILE loop over a body subgraph
  <name>_loop_int8.tflite        TF's post-training int8 of the same (float I/O), when TF can:
                                 TF 2.21's converter dies with SIGSEGV on these loops, so the
                                 conversion runs in a child process and the manifest records
                                 the crash instead
  <name>_unrolled_float.tflite   the same weights with unroll=True: plain ops, no loop
  <name>_unrolled_int8.tflite    TF's post-training int8 of the unrolled model

Beside them: calib.npy (the 100 training images given to TF's converter as the
representative dataset), heldout_inputs.npy / heldout_labels.npy (the digits the models never
saw), <name>_keras.npy (Keras's own float outputs on the held-out inputs) and manifest.json
(accuracies, ops, TF/Keras versions).
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np
import keras
import tensorflow as tf
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parent
UNITS = 16
EPOCHS = 30
SEED = 1234


def data():
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)  # [N, 8, 8]: time steps x features
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def build(kind, unroll):
    keras.utils.set_random_seed(SEED)
    inp = keras.Input((8, 8), batch_size=1, name="digits")
    if kind == "lstm":
        h = keras.layers.LSTM(UNITS, unroll=unroll, name="lstm")(inp)
    elif kind == "gru":
        h = keras.layers.GRU(UNITS, unroll=unroll, name="gru")(inp)
    elif kind == "lstm_stacked":
        h = keras.layers.LSTM(UNITS, return_sequences=True, unroll=unroll, name="lstm_1")(inp)
        h = keras.layers.LSTM(UNITS, unroll=unroll, name="lstm_2")(h)
    else:
        raise ValueError(kind)
    out = keras.layers.Dense(10, activation="softmax", name="classes")(h)
    return keras.Model(inp, out, name=kind)


def train(kind, train_set):
    x, y = train_set
    keras.utils.set_random_seed(SEED)
    # Training runs on a batch-free copy (the exported model has batch 1).
    inp = keras.Input((8, 8))
    template = build(kind, unroll=False)
    m = keras.Model(inp, template(inp))
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0, shuffle=True)
    return template


def convert(model, calib, int8):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([c[None]] for c in calib)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def convert_in_child(model, calib):
    """TF's int8 conversion in a separate process (it can crash): returns the bytes, or the
    way the child died."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save(f"{tmp}/model.keras")
        np.save(f"{tmp}/calib.npy", calib)
        proc = subprocess.run([sys.executable, __file__, "--convert-int8", tmp], capture_output=True, text=True)
        out = Path(tmp) / "model.tflite"
        if proc.returncode == 0 and out.is_file() and out.stat().st_size > 0:
            return out.read_bytes(), None
        reason = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        return None, f"TF {tf.__version__}'s converter failed ({reason}) on full-integer quantization"


def run_litert(blob, xs):
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_content=blob)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    outs = []
    for x in xs:
        it.set_tensor(i["index"], x[None].astype(np.float32))
        it.invoke()
        outs.append(it.get_tensor(o["index"])[0].copy())
    return np.stack(outs)


def ops_of(blob):
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_content=blob)
    return sorted({d["op_name"] for d in it._get_ops_details()})


def main():
    (x_train, y_train), (x_test, y_test) = data()
    calib = x_train[:100]
    np.save(OUT / "calib.npy", calib)
    np.save(OUT / "heldout_inputs.npy", x_test)
    np.save(OUT / "heldout_labels.npy", y_test)
    manifest = {"generator": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
                              "data": "sklearn load_digits, rows as time steps, pixel/16",
                              "train": int(len(x_train)), "heldout": int(len(x_test)), "epochs": EPOCHS},
                "models": {}}
    for kind in ["lstm", "gru", "lstm_stacked"]:
        trained = train(kind, (x_train, y_train))
        keras_out = trained.predict(x_test, batch_size=1, verbose=0).astype(np.float32)
        np.save(OUT / f"{kind}_keras.npy", keras_out)
        entry = {"keras_accuracy": float((keras_out.argmax(1) == y_test).mean())}
        unrolled = build(kind, unroll=True)
        unrolled.set_weights(trained.get_weights())
        for form, model in [("loop", trained), ("unrolled", unrolled)]:
            for int8 in [False, True]:
                name = f"{kind}_{form}_{'int8' if int8 else 'float'}"
                blob, failure = convert_in_child(model, calib) if int8 else (convert(model, calib, False), None)
                if failure:
                    entry[name] = {"not_written": failure}
                    print(name, failure, file=sys.stderr)
                    continue
                (OUT / f"{name}.tflite").write_bytes(blob)
                out = run_litert(blob, x_test)
                entry[name] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob), "ops": ops_of(blob),
                               "litert_accuracy": float((out.argmax(1) == y_test).mean()),
                               "litert_max_abs_vs_keras": float(np.abs(out - keras_out).max()),
                               "litert_mean_abs_vs_keras": float(np.abs(out - keras_out).mean())}
                print(name, entry[name]["ops"], "acc", entry[name]["litert_accuracy"], file=sys.stderr)
        manifest["models"][kind] = entry
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--convert-int8":
        work = Path(sys.argv[2])
        loaded = keras.models.load_model(work / "model.keras")
        (work / "model.tflite").write_bytes(convert(loaded, np.load(work / "calib.npy"), True))
    else:
        main()
