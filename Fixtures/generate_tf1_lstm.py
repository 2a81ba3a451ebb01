#!/usr/bin/env python3
"""TF1 while-loop LSTM GraphDefs and TensorFlow's own outputs for them (issue 16).

    /work/tfvenv/bin/python Fixtures/generate_tf1_lstm.py [--corpus ../shared/models/graphdef]

1. Our own fixture, graphdef/tf1_lstm_digits.pb: `tf.compat.v1.nn.dynamic_rnn` (TF1 control
   flow: a while frame with TensorArrays) over a BasicLSTMCell of 16 units, then a dense
   softmax over 10 classes, on scikit-learn's digits (8x8 images as 8 time steps of 8
   features, pixel / 16), trained briefly with fixed seeds. The classifier reads the last
   step of the gathered output sequence, so the graph has TensorArray scatter, read, write
   and gather. Keras 3 has no BasicLSTMCell, so the cell is written out here exactly as TF's
   rnn_cell_impl.py BasicLSTMCell.call computes it (concat, matmul, bias, split into i, j, f,
   o, forget_bias 1.0).
   Beside it: calib/tf1_lstm_digits_calib.npy [100,1,8,8] (training images),
   heldout/tf1_lstm_digits_{inputs,labels,tf_outputs}.npy (the 397 digits never trained on).
2. The ML-KWS Basic_LSTM_S graph (third-party, never copied here), cut at Mfcc like
   generate_graphdef_refs.py: calib/corpus_Basic_LSTM_S_calib.npy [32,1,49,10],
   heldout/corpus_Basic_LSTM_S_{inputs,tf_outputs}.npy [100,...]: real MFCCs of seeded synthetic
   audio through the graph's own front end, and TF's outputs of the frozen graph for them.

For both, TF's own converter (from_frozen_graph, float and full int8) is tried in a child
process; what it wrote or why it failed goes into tf1_lstm/manifest.json, with the int8 error
of its output against TF's float outputs when it converts. Deterministic.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import generate_graphdef_refs as corpus_refs  # noqa: E402

UNITS, CLASSES, SEED, STEPS = 16, 10, 1234, 600
DIGITS_PB = os.path.join(HERE, "graphdef", "tf1_lstm_digits.pb")
MANIFEST = os.path.join(HERE, "tf1_lstm", "manifest.json")


class BasicLSTMCell:
    """TF's BasicLSTMCell (rnn_cell_impl.py) with given or fresh weights; state (c, h)."""

    def __init__(self, units, kernel, bias):
        self.units, self.kernel, self.bias = units, kernel, bias

    @property
    def state_size(self):
        return (self.units, self.units)

    @property
    def output_size(self):
        return self.units

    def zero_state(self, batch, dtype):
        return (tf.zeros([batch, self.units], dtype), tf.zeros([batch, self.units], dtype))

    def __call__(self, x, state, scope=None):
        c, h = state
        gates = tf.nn.bias_add(tf.matmul(tf.concat([x, h], 1), self.kernel), self.bias)
        i, j, f, o = tf.split(gates, 4, axis=1)
        new_c = c * tf.sigmoid(f + 1.0) + tf.sigmoid(i) * tf.tanh(j)
        new_h = tf.tanh(new_c) * tf.sigmoid(o)
        return new_h, (new_c, new_h)


def digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def classifier(x, weights):
    cell = BasicLSTMCell(UNITS, weights["kernel"], weights["bias"])
    seq, _ = tf.compat.v1.nn.dynamic_rnn(cell, x, dtype=tf.float32, scope="rnn")
    last = seq[:, -1, :]
    return tf.nn.softmax(tf.matmul(last, weights["w"]) + weights["b"], name="probabilities")


def train(train_set):
    x_train, y_train = train_set
    with tf.Graph().as_default() as g:
        tf.compat.v1.set_random_seed(SEED)
        init = tf.compat.v1.glorot_uniform_initializer(seed=SEED)
        weights = {
            "kernel": tf.compat.v1.get_variable("kernel", [8 + UNITS, 4 * UNITS], initializer=init),
            "bias": tf.compat.v1.get_variable("bias", [4 * UNITS], initializer=tf.compat.v1.zeros_initializer()),
            "w": tf.compat.v1.get_variable("w", [UNITS, CLASSES], initializer=init),
            "b": tf.compat.v1.get_variable("b", [CLASSES], initializer=tf.compat.v1.zeros_initializer()),
        }
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8])
        y = tf.compat.v1.placeholder(tf.int64, [None])
        probs = classifier(x, weights)
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, probs))
        step = tf.compat.v1.train.AdamOptimizer(0.02).minimize(loss)
        rng = np.random.default_rng(SEED)
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for _ in range(STEPS):
                batch = rng.choice(len(x_train), 64, replace=False)
                sess.run(step, {x: x_train[batch], y: y_train[batch]})
            return sess.run(weights)


def export_graph(weights):
    """The inference graph with batch 1, weights as constants and only what `probabilities`
    needs (what freezing gives: dynamic_rnn's unused final state and counters are dropped)."""
    with tf.Graph().as_default() as g:
        x = tf.compat.v1.placeholder(tf.float32, [1, 8, 8], name="digits")
        consts = {k: tf.constant(v, name=k) for k, v in weights.items()}
        classifier(x, consts)
        return tf.compat.v1.graph_util.extract_sub_graph(g.as_graph_def(), ["probabilities"])


def run(gd, input_name, output_name, inputs):
    with tf.Graph().as_default() as g:
        tf.import_graph_def(gd, name="")
        x = g.get_tensor_by_name(input_name + ":0")
        y = g.get_tensor_by_name(output_name + ":0")
        with tf.compat.v1.Session(graph=g) as sess:
            return np.stack([sess.run(y, {x: xi}) for xi in inputs]).astype(np.float32)


# Both child programs: TF's full-int8 settings (int8 I/O), as generate_graphdef_refs.py uses.
FULL_INT8 = r"""
def full_int8(conv, samples):
    samples = list(samples)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter(samples)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
"""

CONVERT_CHILD = r"""
import os, sys, numpy as np
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
""" + FULL_INT8 + r"""
pb, inp, out, shape, calib, dest = sys.argv[1:7]
shape = [int(s) for s in shape.split(",")]
conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(pb, [inp], [out], {inp: shape})
if calib != "-":
    samples = np.load(calib)
    full_int8(conv, ([s] for s in samples))
open(dest, "wb").write(conv.convert())
"""


def tf_convert(pb, inp, out, shape, calib_path, dest):
    """TF's converter in a child (it can crash); the file written, or why not."""
    r = subprocess.run([sys.executable, "-c", CONVERT_CHILD, pb, inp, out, ",".join(map(str, shape)), calib_path or "-", dest],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        if os.path.exists(dest):
            os.remove(dest)
        lines = [l.strip() for l in r.stderr.strip().splitlines() if l.strip()]
        errors = [l for l in lines if "error:" in l and "tf.entry_function" not in l]
        why = (errors or lines or [f"exit status {r.returncode}"])[0]
        return {"not_written": f"TF {tf.__version__}'s converter failed: {why[:400]}"}
    with open(dest, "rb") as f:
        data = f.read()
    return {"file": os.path.relpath(dest, HERE), "sha256": hashlib.sha256(data).hexdigest()}


def int8_error(path, inputs, reference):
    """A TFLite model (float, or int8 with int8 I/O) run on LiteRT: max and mean abs error
    against TF's float outputs."""
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=path)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    (si, zi), (so, zo) = i["quantization"], o["quantization"]
    outs = []
    for x in inputs:
        if i["dtype"] == np.int8:
            it.set_tensor(i["index"], np.clip(np.round(x / si + zi), -128, 127).astype(np.int8).reshape(i["shape"]))
        else:
            it.set_tensor(i["index"], x.reshape(i["shape"]).astype(np.float32))
        it.invoke()
        y = it.get_tensor(o["index"])
        outs.append((y.astype(np.float32) - zo) * so if o["dtype"] == np.int8 else y)
    outs = np.stack(outs).reshape(reference.shape).astype(np.float32)
    diff = np.abs(outs - reference)
    return {"max_abs_vs_tf_float": float(diff.max()), "mean_abs_vs_tf_float": float(diff.mean())}, outs


UNROLLED_CHILD = r"""
import os, sys, numpy as np
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
""" + FULL_INT8 + r"""
weights, calib, dest, quantize = sys.argv[1:5]
wt = np.load(weights)
kernel, bias, w, b = wt["kernel"], wt["bias"], wt["w"], wt["b"]
calib = np.load(calib)
steps, features = calib.shape[-2:]
units = kernel.shape[1] // 4

@tf.function(input_signature=[tf.TensorSpec([1, steps, features], tf.float32)])
def model(x):
    # BasicLSTMCell (rnn_cell_impl.py) over a Python loop: the same computation, no while frame.
    c = tf.zeros([1, units]); h = tf.zeros([1, units])
    for t in range(steps):
        gates = tf.nn.bias_add(tf.matmul(tf.concat([x[:, t, :], h], 1), kernel), bias)
        i, j, f, o = tf.split(gates, 4, axis=1)
        c = c * tf.sigmoid(f + 1.0) + tf.sigmoid(i) * tf.tanh(j)
        h = tf.tanh(c) * tf.sigmoid(o)
    return tf.nn.softmax(tf.matmul(h, w) + b)

conv = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
if quantize == "int8":
    full_int8(conv, ([s.reshape(1, steps, features)] for s in calib))
open(dest, "wb").write(conv.convert())
"""


def unrolled_references(name, weights, calib_path, heldout, outputs, entry):
    """TF's converter on the same cell unrolled by Python (TF cannot convert the while frame):
    its float and int8 models, and their error against TF's outputs of the GraphDef."""
    npz = os.path.join(HERE, "tf1_lstm", f"{name}_weights.tmp.npz")
    np.savez(npz, **weights)
    try:
        for kind in ("float", "int8"):
            dest = os.path.join(HERE, "reference", "tf1_lstm", f"{name}_unrolled_tf{'_int8' if kind == 'int8' else ''}.tflite")
            r = subprocess.run([sys.executable, "-c", UNROLLED_CHILD, npz, calib_path, dest, kind], capture_output=True, text=True, timeout=1800)
            if r.returncode != 0:
                entry[f"tf_unrolled_{kind}"] = {"not_written": (r.stderr.strip().splitlines() or ["?"])[-1][:400]}
                continue
            with open(dest, "rb") as f:
                data = f.read()
            result = {"file": os.path.relpath(dest, HERE), "sha256": hashlib.sha256(data).hexdigest()}
            errors, outs = int8_error(dest, heldout, outputs)
            result.update(errors)
            if kind == "int8":
                # The tests compare with these outputs; a corpus model's weights are third-party,
                # so its converted copies are not kept in the repository.
                out_path = os.path.join(HERE, "heldout", f"{name}_tf_unrolled_int8_outputs.npy")
                save(out_path, outs)
                result["outputs"] = os.path.relpath(out_path, HERE)
            if name.startswith("corpus_"):
                os.remove(dest)
                del result["file"]
            entry[f"tf_unrolled_{kind}"] = result
            print(" ", f"unrolled {kind}", result)
    finally:
        os.remove(npz)


def graph_constant(gd, name):
    node = next(n for n in gd.node if n.name == name)
    return tf.make_ndarray(node.attr["value"].tensor)


def save(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, arr)
    print("  wrote", os.path.relpath(path, HERE), arr.shape, arr.dtype)


def references(name, pb, inp, out, calib, heldout, outputs, entry):
    calib_path = os.path.join(HERE, "calib", f"{name}_calib.npy")
    for kind, cal in (("float", None), ("int8", calib_path)):
        dest = os.path.join(HERE, "reference", "tf1_lstm", f"{name}_tf{'_int8' if cal else ''}.tflite")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        entry[f"tf_{kind}"] = tf_convert(pb, inp, out, list(calib.shape[1:]), cal, dest)
        if cal and "file" in entry["tf_int8"]:
            entry["tf_int8"].update(int8_error(dest, heldout, outputs)[0])
        print(" ", kind, entry[f"tf_{kind}"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "shared", "models", "graphdef"))
    args = ap.parse_args()
    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.disable_control_flow_v2()  # TF1 while frames, as the corpus graphs have
    np.random.seed(0)
    manifest = {"tensorflow": tf.__version__, "numpy": np.__version__, "models": {}}

    print("tf1_lstm_digits")
    train_set, (x_held, y_held) = digits()
    weights = train(train_set)
    gd = export_graph(weights)
    os.makedirs(os.path.dirname(DIGITS_PB), exist_ok=True)
    with open(DIGITS_PB, "wb") as f:
        f.write(gd.SerializeToString(deterministic=True))
    calib = train_set[0][:100, None]
    heldout = x_held[:, None]
    outputs = run(gd, "digits", "probabilities", heldout)
    save(os.path.join(HERE, "calib", "tf1_lstm_digits_calib.npy"), calib)
    save(os.path.join(HERE, "heldout", "tf1_lstm_digits_inputs.npy"), heldout)
    save(os.path.join(HERE, "heldout", "tf1_lstm_digits_labels.npy"), y_held)
    save(os.path.join(HERE, "heldout", "tf1_lstm_digits_tf_outputs.npy"), outputs)
    entry = {"file": os.path.relpath(DIGITS_PB, HERE), "ops": sorted({n.op for n in gd.node}),
             "tf_accuracy": float((outputs.reshape(len(y_held), -1).argmax(1) == y_held).mean())}
    references("tf1_lstm_digits", DIGITS_PB, "digits", "probabilities", calib, heldout, outputs, entry)
    unrolled_references("tf1_lstm_digits", weights, os.path.join(HERE, "calib", "tf1_lstm_digits_calib.npy"), heldout, outputs, entry)
    manifest["models"]["tf1_lstm_digits"] = entry

    pb = os.path.join(args.corpus, "Basic_LSTM_S.pb")
    if os.path.isfile(pb):
        print("Basic_LSTM_S")
        gd = corpus_refs.load_graph(pb)
        calib = corpus_refs.mfcc_features(gd, corpus_refs.CALIB_SEED, corpus_refs.CALIB_COUNT)
        heldout = corpus_refs.mfcc_features(gd, corpus_refs.HELDOUT_SEED, corpus_refs.HELDOUT_COUNT)
        outputs = corpus_refs.run_graph(gd, heldout)
        save(os.path.join(HERE, "calib", "corpus_Basic_LSTM_S_calib.npy"), calib)
        save(os.path.join(HERE, "heldout", "corpus_Basic_LSTM_S_inputs.npy"), heldout)
        save(os.path.join(HERE, "heldout", "corpus_Basic_LSTM_S_tf_outputs.npy"), outputs)
        entry = {"source": "../shared/models/graphdef/Basic_LSTM_S.pb", "source_sha256": corpus_refs.sha256(pb)}
        references("corpus_Basic_LSTM_S", pb, corpus_refs.INPUT, corpus_refs.OUTPUT, calib, heldout, outputs, entry)
        weights = {k: graph_constant(gd, n) for k, n in (("kernel", "lstm/rnn/basic_lstm_cell/kernel"), ("bias", "lstm/rnn/basic_lstm_cell/bias"), ("w", "W_o"), ("b", "b_o"))}
        unrolled_references("corpus_Basic_LSTM_S", weights, os.path.join(HERE, "calib", "corpus_Basic_LSTM_S_calib.npy"), heldout, outputs, entry)
        manifest["models"]["Basic_LSTM_S"] = entry
    else:
        print(f"{pb} not found: Basic_LSTM_S references not made")
    os.makedirs(os.path.dirname(MANIFEST), exist_ok=True)
    with open(MANIFEST, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
