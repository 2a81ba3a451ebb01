#!/usr/bin/env python3
"""Generate the test fixtures under Fixtures/ with TensorFlow 2.x.

Run from the repository root:

    /work/venvs/tf/bin/python Fixtures/generate.py

Needs: tensorflow (2.x, Keras 3 or tf.keras 2), numpy, ai_edge_litert; tflite_micro is optional
(used only to record TFLM outputs / check that TFLM loads the models).

Everything is deterministic: all weights and all data come from numpy Generators with fixed
seeds (Keras/TF initialisers are never relied on), and TF's global seeds are fixed as well.
Re-running with the same TensorFlow version rewrites byte-identical files.

Layout (see Fixtures/README.md for the full table):
  *.tflite                      models converted with TF 2.x's converter (TF2 API)
  graphdef/<name>.pb            frozen TF 1.x-style GraphDefs (constants only)
  savedmodel/<name>/            the same graphs as constants-only TF1 SavedModels
  reference/<name>_tf*.tflite   TF's own conversion of those GraphDefs (float and int8)
  calib/*.npy                   calibration (representative-dataset) inputs used for int8
  heldout/<name>_inputs.npy     100 inputs not used for calibration (+ TF's float outputs)
  expected/<tflite>_*.npy       10 inputs per .tflite; outputs of LiteRT's reference kernels
                                (_litert), of the default LiteRT interpreter (_litert_default,
                                XNNPACK) and of TFLM (_tflm)
  manifest.json                 machine-readable summary (ops, tensors, node names)

Check the result without TensorFlow: /work/venvs/oracle/bin/python Fixtures/verify.py

Array convention for every .npy: axis 0 indexes samples, the remaining axes are exactly
the model's input (or output) tensor shape, batch dimension included, e.g. [N, 1, 1960].
"""

import hashlib
import json
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np
import tensorflow as tf

try:  # Keras 3 (TF >= 2.16) or tf.keras 2
    import keras
except ImportError:  # pragma: no cover
    keras = tf.keras

from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2,
)

try:
    from tensorflow.lite.python import schema_py_generated as tfl_schema
except ImportError:  # pragma: no cover
    tfl_schema = None

from ai_edge_litert.interpreter import Interpreter as LiteRTInterpreter
from ai_edge_litert.interpreter import OpResolverType

try:
    from tflite_micro.python.tflite_micro import runtime as tflm_runtime
except Exception:  # pragma: no cover - TFLM is optional
    tflm_runtime = None


HERE = os.path.dirname(os.path.abspath(__file__))
WRITTEN = []
MANIFEST = {"tflite": {}, "graphdef": {}, "savedmodel": {}}

N_EXPECTED = 10
N_HELDOUT = 100


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------

def set_global_seeds(seed=1234):
    np.random.seed(seed)
    tf.random.set_seed(seed)
    try:
        keras.utils.set_random_seed(seed)
    except Exception:
        pass


def path(*parts):
    p = os.path.join(HERE, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def rel(p):
    return os.path.relpath(p, HERE)


def note(p):
    if os.path.isdir(p):
        for root, _, files in sorted(os.walk(p)):
            for f in sorted(files):
                note(os.path.join(root, f))
        return
    WRITTEN.append(p)
    print(f"  wrote {rel(p):55s} {os.path.getsize(p):9d} B")


def write_bytes(p, data):
    with open(p, "wb") as f:
        f.write(data)
    note(p)


def save_npy(p, arr):
    np.save(p, np.ascontiguousarray(arr))
    note(p)


def he(rng, shape, fan_in, gain=1.0):
    return (rng.standard_normal(shape) * gain * np.sqrt(2.0 / fan_in)).astype(np.float32)


def bn_params(rng, ch):
    """gamma, beta, moving_mean, moving_variance - all non-trivial."""
    return [
        rng.uniform(0.6, 1.4, ch).astype(np.float32),
        rng.normal(0.0, 0.2, ch).astype(np.float32),
        rng.normal(0.0, 0.3, ch).astype(np.float32),
        rng.uniform(0.5, 2.0, ch).astype(np.float32),
    ]


def rescale_logits(w, b, feats, target_std=1.5):
    """Re-scale/centre a final dense layer on typical features so that the logits vary with
    the input (std ~target_std across samples, per class) and are roughly zero-mean per class:
    the softmax is neither saturated nor dominated by one class."""
    logits = feats @ w
    s = float(target_std / max(float(np.mean(np.std(logits, axis=0))), 1e-6))
    w = (w * s).astype(np.float32)
    b = (b - np.mean(logits * s, axis=0)).astype(np.float32)
    return w, b


# ---- data generators (one seeded stream per purpose) ---------------------------------

def spectrogram_like(seed, n, shape):
    """micro_speech-like features in 0..26 (the TFLM front end's float range): a per-sample
    spectral envelope over the 40 channels plus per-cell noise, so samples differ from each
    other. Generated as [n, 49, 40] and reshaped to [n] + shape."""
    rng = np.random.default_rng(seed)
    env = rng.uniform(0.0, 1.0, (n, 1, MS_W))
    noise = rng.uniform(0.0, 1.0, (n, MS_H, MS_W))
    return (26.0 * (0.5 * env + 0.5 * noise)).astype(np.float32).reshape((n,) + tuple(shape))


def mfcc_like(seed, n, shape):
    """MFCC-like: per-sample per-coefficient offset + noise, low coefficients larger."""
    rng = np.random.default_rng(seed)
    offset = rng.normal(0.0, 1.0, (n,) + (1,) * (len(shape) - 1) + (shape[-1],))
    base = 0.7 * offset + 0.7 * rng.normal(0.0, 1.0, (n,) + tuple(shape))
    coef_scale = np.linspace(3.0, 0.5, shape[-1])
    return (base * coef_scale).astype(np.float32)


def image_like(seed, n, shape):
    """Images in [0, 1]: a per-sample colour plus pixel noise."""
    rng = np.random.default_rng(seed)
    colour = rng.uniform(0.0, 1.0, (n,) + (1,) * (len(shape) - 1) + (shape[-1],))
    noise = rng.uniform(0.0, 1.0, (n,) + tuple(shape))
    return (0.6 * colour + 0.4 * noise).astype(np.float32)


# ---- tflite inspection ------------------------------------------------------------------

_OP_NAMES = None
_TYPE_NAMES = None


def _enum_names(cls):
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


def inspect_tflite(data):
    """Op list (name, version) + tensor quantization summary, read from the flatbuffer."""
    global _OP_NAMES, _TYPE_NAMES
    if tfl_schema is None:
        return {}
    if _OP_NAMES is None:
        _OP_NAMES = _enum_names(tfl_schema.BuiltinOperator)
        _TYPE_NAMES = _enum_names(tfl_schema.TensorType)
    m = tfl_schema.Model.GetRootAsModel(data, 0)
    sg = m.Subgraphs(0)
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        oc = m.OperatorCodes(op.OpcodeIndex())
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = _OP_NAMES.get(code, str(code))
        entry = {"op": name, "version": oc.Version(),
                 "inputs": [int(op.Inputs(j)) for j in range(op.InputsLength())],
                 "outputs": [int(op.Outputs(j)) for j in range(op.OutputsLength())]}
        if name in ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D") and op.InputsLength() > 1:
            t = sg.Tensors(op.Inputs(1))
            q = t.Quantization()
            nscale = q.ScaleLength() if q is not None else 0
            entry["weights_type"] = _TYPE_NAMES[t.Type()]
            entry["weights_shape"] = [int(d) for d in t.ShapeAsNumpy()]
            if nscale:
                entry["weights_quant"] = ("per-channel" if nscale > 1 else "per-tensor")
                entry["weights_scales"] = nscale
                entry["weights_qdim"] = q.QuantizedDimension()
        ops.append(entry)

    def tinfo(idx):
        t = sg.Tensors(idx)
        d = {"index": int(idx), "name": t.Name().decode(), "type": _TYPE_NAMES[t.Type()],
             "shape": [int(x) for x in t.ShapeAsNumpy()] if t.ShapeLength() else []}
        if t.ShapeSignatureLength():
            d["shape_signature"] = [int(x) for x in t.ShapeSignatureAsNumpy()]
        q = t.Quantization()
        if q is not None and q.ScaleLength() == 1:
            d["scale"] = float(q.Scale(0))
            d["zero_point"] = int(q.ZeroPoint(0))
        return d

    return {
        "description": (m.Description() or b"").decode(),
        "ops": ops,
        "inputs": [tinfo(sg.Inputs(i)) for i in range(sg.InputsLength())],
        "outputs": [tinfo(sg.Outputs(i)) for i in range(sg.OutputsLength())],
    }


def op_names(info):
    return [o["op"] for o in info.get("ops", [])]


# ---- conversion ------------------------------------------------------------------------

def rep_dataset(calib):
    def gen():
        for i in range(calib.shape[0]):
            yield [calib[i]]
    return gen


def make_int8(converter, calib, int8_io=True):
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = rep_dataset(calib)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def convert_concrete(cf, calib=None, int8_io=True):
    conv = tf.lite.TFLiteConverter.from_concrete_functions([cf])
    if calib is None:
        return conv.convert()
    return make_int8(conv, calib, int8_io)


def convert_frozen(pb_path, inputs, outputs, input_shapes, calib=None):
    conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        pb_path, input_arrays=inputs, output_arrays=outputs, input_shapes=input_shapes)
    if calib is None:
        return conv.convert()
    return make_int8(conv, calib, True)


# ---- running ---------------------------------------------------------------------------

def quantize_to_input(x, detail):
    scale, zp = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0:
        return x.astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    q = np.round(x / scale) + zp  # np.round = half-to-even; fine for fixture inputs
    return np.clip(q, info.min, info.max).astype(detail["dtype"])


def run_litert(data, inputs, resolver=OpResolverType.BUILTIN_REF):
    """Run each input through LiteRT. Default: the reference kernels, no delegate. (The default
    interpreter applies XNNPACK, whose int8 results differ from the reference kernels and from
    TFLM by several quanta; TFLM matches the reference kernels to <= 1 quantum.)"""
    it = LiteRTInterpreter(model_content=data, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    di = it.get_input_details()[0]
    do = it.get_output_details()[0]
    outs = []
    for x in inputs:
        it.set_tensor(di["index"], x)
        it.invoke()
        outs.append(it.get_tensor(do["index"]).copy())
    return np.stack(outs)


def run_tflm(data, inputs):
    if tflm_runtime is None:
        return None, "tflite_micro not installed"
    try:
        it = tflm_runtime.Interpreter.from_bytes(data, arena_size=256 * 1024)
        outs = []
        for x in inputs:
            it.set_input(x, 0)
            it.invoke()
            outs.append(np.array(it.get_output(0)).copy())
        return np.stack(outs), None
    except Exception as e:  # report, don't fail: some graphs are not meant for TFLM
        return None, f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"


def emit_tflite(relpath, data, float_inputs, purpose):
    """Write a .tflite plus expected/<name>_{inputs,litert,tflm}.npy and record it."""
    p = path(relpath)
    write_bytes(p, data)
    name = os.path.splitext(os.path.basename(relpath))[0]
    it = LiteRTInterpreter(model_content=data)
    it.allocate_tensors()
    di = it.get_input_details()[0]
    shape = tuple(int(s) for s in di["shape"])
    xs = quantize_to_input(float_inputs.reshape((-1,) + shape), di)
    save_npy(path("expected", f"{name}_inputs.npy"), xs)
    ys = run_litert(data, xs)
    save_npy(path("expected", f"{name}_litert.npy"), ys)
    ys_default = run_litert(data, xs, OpResolverType.AUTO)
    save_npy(path("expected", f"{name}_litert_default.npy"), ys_default)
    xnn_diff = float(np.abs(ys_default.astype(np.float64) - ys.astype(np.float64)).max())
    tflm_out, tflm_err = run_tflm(data, xs)
    if tflm_out is not None:
        save_npy(path("expected", f"{name}_tflm.npy"), tflm_out)
        diff = np.abs(tflm_out.astype(np.float64) - ys.astype(np.float64)).max()
        tflm_status = f"ok (max |tflm - litert| = {diff:.6g})"
    else:
        tflm_status = f"FAILED: {tflm_err}"
    info = inspect_tflite(data)
    info.update({"file": relpath, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                 "purpose": purpose, "tflm": tflm_status,
                 "max_abs_litert_default_vs_ref": float(f"{xnn_diff:.6g}")})
    MANIFEST["tflite"][name] = info
    print(f"    ops: {' '.join(op_names(info))}")
    print(f"    tflm: {tflm_status}; LiteRT default (XNNPACK) vs reference: {xnn_diff:.6g}")
    return info


# ---- TF1 graph helpers -----------------------------------------------------------------

def ref_var(value, name):
    """A TF1 (ref) variable, as old training scripts made them; frozen later into Const+Identity."""
    return tf.compat.v1.Variable(value, name=name, use_resource=False)


def freeze_v1(graph, output_names):
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        gd = tf.compat.v1.graph_util.convert_variables_to_constants(
            sess, graph.as_graph_def(), output_names)
    return gd


def run_graphdef(gd, input_name, output_name, inputs):
    with tf.Graph().as_default() as g:
        tf.import_graph_def(gd, name="")
        x = g.get_tensor_by_name(input_name + ":0")
        y = g.get_tensor_by_name(output_name + ":0")
        with tf.compat.v1.Session(graph=g) as sess:
            return np.stack([sess.run(y, {x: xi}) for xi in inputs])


def write_savedmodel(gd, dirname, input_name, output_name):
    """Constants-only TF1 SavedModel (tag 'serve', signature 'serving_default')."""
    d = path("savedmodel", dirname, "x")[:-2]
    shutil.rmtree(d, ignore_errors=True)
    with tf.Graph().as_default() as g:
        tf.import_graph_def(gd, name="")
        with tf.compat.v1.Session(graph=g) as sess:
            b = tf.compat.v1.saved_model.Builder(d)
            sig = tf.compat.v1.saved_model.predict_signature_def(
                inputs={input_name: g.get_tensor_by_name(input_name + ":0")},
                outputs={output_name: g.get_tensor_by_name(output_name + ":0")})
            b.add_meta_graph_and_variables(
                sess, [tf.compat.v1.saved_model.tag_constants.SERVING],
                signature_def_map={"serving_default": sig})
            b.save()
    # The builder leaves an empty variables/ dir; git cannot store empty dirs, so remove it
    # here too so the fixture on disk matches the committed one.
    v = os.path.join(d, "variables")
    if os.path.isdir(v) and not os.listdir(v):
        os.rmdir(v)
    note(d)
    return d


def emit_graph(name, gd, input_name, input_shape, output_name, calib, heldout, expected,
               purpose):
    """Write graphdef/<name>.pb, savedmodel/<name>/, reference tflites, calib, heldout."""
    pb = path("graphdef", f"{name}.pb")
    write_bytes(pb, gd.SerializeToString(deterministic=True))
    sm_dir = write_savedmodel(gd, name, input_name, output_name)

    save_npy(path("calib", f"{name}_calib.npy"), calib)
    save_npy(path("heldout", f"{name}_inputs.npy"), heldout)
    tf_out = run_graphdef(gd, input_name, output_name, heldout)
    save_npy(path("heldout", f"{name}_tf_outputs.npy"), tf_out)

    # check the SavedModel really runs and matches the GraphDef
    loaded = tf.saved_model.load(sm_dir)
    fn = loaded.signatures["serving_default"]
    sm_out = np.stack([fn(**{input_name: tf.constant(x)})[output_name].numpy() for x in heldout[:5]])
    assert np.allclose(sm_out, tf_out[:5], atol=1e-6), f"SavedModel {name} disagrees with GraphDef"

    op_types = sorted({n.op for n in gd.node})
    MANIFEST["graphdef"][name] = {
        "file": rel(pb), "input": input_name, "input_shape": list(input_shape),
        "output": output_name, "op_types": op_types, "nodes": len(gd.node), "purpose": purpose,
        "sha256": hashlib.sha256(open(pb, "rb").read()).hexdigest(),
    }
    MANIFEST["savedmodel"][name] = {
        "dir": rel(sm_dir), "tags": ["serve"], "signature": "serving_default",
        "signature_input": f"{input_name} -> {input_name}:0",
        "signature_output": f"{output_name} -> {output_name}:0",
    }
    print(f"    graph ops: {' '.join(op_types)}")
    print(f"    input {input_name} {list(input_shape)}  ->  output {output_name}")

    f32 = convert_frozen(pb, [input_name], [output_name], {input_name: list(input_shape)})
    emit_tflite(f"reference/{name}_tf.tflite", f32, expected,
                f"TF converter (from_frozen_graph), float, of graphdef/{name}.pb")
    i8 = convert_frozen(pb, [input_name], [output_name], {input_name: list(input_shape)}, calib)
    emit_tflite(f"reference/{name}_tf_int8.tflite", i8, expected,
                f"TF converter (from_frozen_graph), full int8 with int8 I/O, of graphdef/{name}.pb,"
                f" calibrated on calib/{name}_calib.npy")
    return tf_out


# --------------------------------------------------------------------------------------
# 1. micro_speech tiny_conv
# --------------------------------------------------------------------------------------

MS_H, MS_W, MS_KH, MS_KW, MS_C, MS_LABELS = 49, 40, 10, 8, 8, 4
MS_OH, MS_OW = (MS_H + 1) // 2, (MS_W + 1) // 2          # SAME, stride 2 -> 25 x 20
MS_FLAT = MS_OH * MS_OW * MS_C                            # 4000


def tiny_conv_weights():
    rng = np.random.default_rng(101)
    w1 = he(rng, (MS_KH, MS_KW, 1, MS_C), MS_KH * MS_KW, gain=0.1)  # inputs are 0..26
    b1 = rng.normal(0.0, 0.5, MS_C).astype(np.float32)
    w2 = he(rng, (MS_FLAT, MS_LABELS), MS_FLAT)
    b2 = rng.normal(0.0, 0.1, MS_LABELS).astype(np.float32)
    # keep the softmax in a useful range on typical inputs
    x = spectrogram_like(9001, 64, (MS_H, MS_W, 1))
    feats = tf.nn.relu(tf.nn.conv2d(x, w1, 2, "SAME") + b1).numpy().reshape(64, -1)
    w2, b2 = rescale_logits(w2, b2, feats)
    return w1, b1, w2, b2


def tiny_conv_keras(weights):
    w1, b1, w2, b2 = weights
    inp = keras.Input(shape=(MS_H * MS_W,), name="fingerprint_input")
    x = keras.layers.Reshape((MS_H, MS_W, 1), name="reshape")(inp)
    x = keras.layers.Conv2D(MS_C, (MS_KH, MS_KW), strides=2, padding="same",
                            activation="relu", name="first_conv")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(MS_LABELS, name="final_fc")(x)
    x = keras.layers.Softmax(name="labels_softmax")(x)
    m = keras.Model(inp, x, name="tiny_conv")
    m.get_layer("first_conv").set_weights([w1, b1])
    m.get_layer("final_fc").set_weights([w2, b2])
    return m


def tiny_conv_graphdef(weights):
    """tiny_conv as tensorflow/examples/speech_commands/models.py builds it (+ labels_softmax)."""
    w1, b1, w2, b2 = weights
    g = tf.Graph()
    with g.as_default():
        fingerprint = tf.compat.v1.placeholder(tf.float32, [1, MS_H * MS_W], name="fingerprint_input")
        x = tf.reshape(fingerprint, [-1, MS_H, MS_W, 1], name="Reshape")
        first_weights = ref_var(w1, "first_weights")
        first_bias = ref_var(b1, "first_bias")
        x = tf.compat.v1.nn.conv2d(x, first_weights, [1, 2, 2, 1], "SAME", name="Conv2D")
        x = tf.nn.bias_add(x, first_bias, name="BiasAdd")
        x = tf.nn.relu(x, name="Relu")
        x = tf.reshape(x, [-1, MS_FLAT], name="Reshape_1")
        fc_w = ref_var(w2, "final_fc_weights")
        fc_b = ref_var(b2, "final_fc_bias")
        x = tf.matmul(x, fc_w, name="MatMul")
        x = tf.nn.bias_add(x, fc_b, name="BiasAdd_1")
        tf.nn.softmax(x, name="labels_softmax")
    return freeze_v1(g, ["labels_softmax"])


def gen_micro_speech():
    print("[1] micro_speech tiny_conv")
    weights = tiny_conv_weights()
    calib = spectrogram_like(1001, 16, (1, MS_H * MS_W))  # shared by both builds
    expected = spectrogram_like(1002, N_EXPECTED, (1, MS_H * MS_W))
    heldout = spectrogram_like(1003, N_HELDOUT, (1, MS_H * MS_W))

    # 1a. Keras / tf.function, TF2 converter, fixed batch 1
    m = tiny_conv_keras(weights)
    cf = tf.function(lambda x: m(x)).get_concrete_function(
        tf.TensorSpec([1, MS_H * MS_W], tf.float32, name="fingerprint_input"))
    save_npy(path("calib", "micro_speech_calib.npy"), calib)
    emit_tflite("micro_speech_float.tflite", convert_concrete(cf), expected,
                "tiny_conv (Keras, TF2 converter), float")
    info = emit_tflite("micro_speech_int8.tflite", convert_concrete(cf, calib), expected,
                       "tiny_conv (Keras, TF2 converter), full int8, int8 I/O,"
                       " calibrated on calib/micro_speech_calib.npy")
    assert "CONV_2D" in op_names(info), "expected CONV_2D in micro_speech_int8"

    # 1b. TF1-style frozen graph (same weights)
    gd = tiny_conv_graphdef(weights)
    tf_out = emit_graph("tiny_conv", gd, "fingerprint_input", [1, MS_H * MS_W], "labels_softmax",
                        calib, heldout, expected, "micro_speech tiny_conv, TF1 graph, frozen")
    keras_out = m(heldout[:, 0, :]).numpy()
    print(f"    Keras vs GraphDef max diff: {np.abs(keras_out - tf_out[:, 0, :]).max():.3g}")


# --------------------------------------------------------------------------------------
# 2. DS-CNN keyword model (Keras), dynamic batch -> SHAPE/STRIDED_SLICE/PACK/RESHAPE
# --------------------------------------------------------------------------------------

KW_T, KW_F, KW_C, KW_LABELS, KW_BLOCKS = 49, 10, 64, 12, 3


def ds_cnn_keras():
    inp = keras.Input(shape=(KW_T, KW_F), name="mfcc")
    x = keras.layers.Reshape((KW_T, KW_F, 1), name="reshape")(inp)
    x = keras.layers.Conv2D(KW_C, (10, 4), strides=2, padding="same", use_bias=True,
                            name="conv_1")(x)
    x = keras.layers.BatchNormalization(name="conv_1_bn")(x)
    x = keras.layers.ReLU(name="conv_1_relu")(x)
    for i in range(1, KW_BLOCKS + 1):
        x = keras.layers.DepthwiseConv2D((3, 3), padding="same", use_bias=False,
                                         name=f"dw_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"dw_{i}_bn")(x)
        x = keras.layers.ReLU(name=f"dw_{i}_relu")(x)
        x = keras.layers.Conv2D(KW_C, (1, 1), use_bias=False, name=f"pw_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"pw_{i}_bn")(x)
        x = keras.layers.ReLU(name=f"pw_{i}_relu")(x)
    x = keras.layers.AveragePooling2D(pool_size=(25, 5), name="avg_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(KW_LABELS, name="fc")(x)
    x = keras.layers.Softmax(name="labels_softmax")(x)
    m = keras.Model(inp, x, name="ds_cnn")

    rng = np.random.default_rng(202)
    m.get_layer("conv_1").set_weights([he(rng, (10, 4, 1, KW_C), 40),
                                       rng.normal(0, 0.1, KW_C).astype(np.float32)])
    m.get_layer("conv_1_bn").set_weights(bn_params(rng, KW_C))
    for i in range(1, KW_BLOCKS + 1):
        m.get_layer(f"dw_{i}").set_weights([he(rng, (3, 3, KW_C, 1), 9)])
        m.get_layer(f"dw_{i}_bn").set_weights(bn_params(rng, KW_C))
        m.get_layer(f"pw_{i}").set_weights([he(rng, (1, 1, KW_C, KW_C), KW_C)])
        m.get_layer(f"pw_{i}_bn").set_weights(bn_params(rng, KW_C))
    w = he(rng, (KW_C, KW_LABELS), KW_C)
    b = rng.normal(0, 0.1, KW_LABELS).astype(np.float32)
    # rescale the classifier on typical inputs
    body = keras.Model(inp, m.get_layer("flatten").output)
    feats = body(mfcc_like(9002, 64, (KW_T, KW_F))).numpy()
    m.get_layer("fc").set_weights(list(rescale_logits(w, b, feats)))
    return m


def gen_ds_cnn():
    print("[2] DS-CNN keyword model (dynamic batch)")
    m = ds_cnn_keras()
    calib = mfcc_like(2001, 32, (1, KW_T, KW_F))
    expected = mfcc_like(2002, N_EXPECTED, (1, KW_T, KW_F))
    heldout = mfcc_like(2003, N_HELDOUT, (1, KW_T, KW_F))

    cf_dyn = tf.function(lambda x: m(x)).get_concrete_function(
        tf.TensorSpec([None, KW_T, KW_F], tf.float32, name="mfcc"))
    save_npy(path("calib", "ds_cnn_calib.npy"), calib)
    for fname, data, purpose in (
            ("ds_cnn_float.tflite", convert_concrete(cf_dyn),
             "DS-CNN (Keras, batch None), float; Reshape+Flatten leave SHAPE->STRIDED_SLICE->PACK->RESHAPE"),
            ("ds_cnn_int8.tflite", convert_concrete(cf_dyn, calib),
             "DS-CNN (Keras, batch None), full int8, int8 I/O, calibrated on calib/ds_cnn_calib.npy")):
        info = emit_tflite(fname, data, expected, purpose)
        names = op_names(info)
        missing = [o for o in ("SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE") if o not in names]
        assert not missing, f"{fname}: dynamic-shape chain missing {missing}: {names}"
        assert len(data) < 300 * 1024, f"{fname} too large"

    # 4. keras_dscnn: the same model frozen with a fixed batch of 1
    cf1 = tf.function(lambda x: m(x)).get_concrete_function(
        tf.TensorSpec([1, KW_T, KW_F], tf.float32, name="mfcc"))
    frozen = convert_variables_to_constants_v2(cf1)
    gd = frozen.graph.as_graph_def()
    in_name = frozen.inputs[0].name.split(":")[0]
    out_name = frozen.outputs[0].name.split(":")[0]
    emit_graph("keras_dscnn", gd, in_name, [1, KW_T, KW_F], out_name, calib, heldout, expected,
               "DS-CNN Keras model frozen with convert_variables_to_constants_v2 (batch 1)")
    keras_out = m(heldout[:, 0]).numpy()
    tf_out = np.load(path("heldout", "keras_dscnn_tf_outputs.npy"))
    print(f"    Keras vs frozen GraphDef max diff: {np.abs(keras_out - tf_out[:, 0]).max():.3g}")


# --------------------------------------------------------------------------------------
# 3. QUANTIZE ... DEQUANTIZE (int8 inside, float I/O)
# --------------------------------------------------------------------------------------

def gen_qdq():
    print("[3] qdq_float_io")
    rng = np.random.default_rng(303)
    inp = keras.Input(shape=(12, 12, 1), name="image")
    x = keras.layers.Conv2D(4, (3, 3), strides=2, padding="same", activation="relu", name="conv")(inp)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(3, name="fc")(x)
    m = keras.Model(inp, x, name="qdq")
    m.get_layer("conv").set_weights([he(rng, (3, 3, 1, 4), 9), rng.normal(0, 0.1, 4).astype(np.float32)])
    m.get_layer("fc").set_weights([he(rng, (144, 3), 144), rng.normal(0, 0.1, 3).astype(np.float32)])
    calib = image_like(3001, 32, (1, 12, 12, 1))
    expected = image_like(3002, N_EXPECTED, (1, 12, 12, 1))
    cf = tf.function(lambda x: m(x)).get_concrete_function(
        tf.TensorSpec([1, 12, 12, 1], tf.float32, name="image"))
    save_npy(path("calib", "qdq_float_io_calib.npy"), calib)
    info = emit_tflite("qdq_float_io.tflite", convert_concrete(cf, calib, int8_io=False), expected,
                       "conv+dense, full int8 inside, FLOAT input/output (QUANTIZE ... DEQUANTIZE)")
    names = op_names(info)
    assert names[0] == "QUANTIZE" and names[-1] == "DEQUANTIZE", names


# --------------------------------------------------------------------------------------
# 4. bn_net: TF1 graph with FusedBatchNorm (V3 and V1), Relu6, MaxPool, depthwise, Mean
# --------------------------------------------------------------------------------------

def gen_bn_net():
    print("[4] bn_net (TF1 graph)")
    rng = np.random.default_rng(404)
    H, W, CIN, C1, MULT, NOUT = 16, 16, 3, 8, 2, 5
    C2 = C1 * MULT
    conv_w = he(rng, (3, 3, CIN, C1), 27)
    bn1 = bn_params(rng, C1)
    dw_w = he(rng, (3, 3, C1, MULT), 9)
    bn2 = bn_params(rng, C2)
    fc_w = he(rng, (C2, NOUT), C2)
    fc_b = rng.normal(0, 0.1, NOUT).astype(np.float32)

    def build(fc_w, fc_b):
        g = tf.Graph()
        with g.as_default():
            x = tf.compat.v1.placeholder(tf.float32, [1, H, W, CIN], name="input")
            w = ref_var(conv_w, "conv1/weights")
            x = tf.compat.v1.nn.conv2d(x, w, [1, 1, 1, 1], "SAME", name="conv1/Conv2D")
            gamma, beta, mean, var = [ref_var(v, f"conv1/BatchNorm/{n}") for v, n in
                                      zip(bn1, ("gamma", "beta", "moving_mean", "moving_variance"))]
            # tf.compat.v1.nn.fused_batch_norm emits FusedBatchNormV3 in TF 2.x
            x, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x, gamma, beta, mean=mean, variance=var, epsilon=1e-3, is_training=False,
                name="conv1/BatchNorm/FusedBatchNormV3")
            x = tf.nn.relu6(x, name="conv1/Relu6")
            x = tf.nn.max_pool2d(x, 2, 2, "VALID", name="pool1/MaxPool")
            dw = ref_var(dw_w, "dw2/depthwise_weights")
            x = tf.nn.depthwise_conv2d(x, dw, [1, 1, 1, 1], "SAME", name="dw2/depthwise")
            gamma, beta, mean, var = [ref_var(v, f"dw2/BatchNorm/{n}") for v, n in
                                      zip(bn2, ("gamma", "beta", "moving_mean", "moving_variance"))]
            # the original (V1) op, as TF 1.x graphs such as ML-KWS-for-MCU contain it
            x = tf.raw_ops.FusedBatchNorm(x=x, scale=gamma, offset=beta, mean=mean,
                                          variance=var, epsilon=1e-3, is_training=False,
                                          name="dw2/BatchNorm/FusedBatchNorm")[0]
            x = tf.nn.relu(x, name="dw2/Relu")
            x = tf.reduce_mean(x, axis=[1, 2], keepdims=False, name="pool2/Mean")
            fw = ref_var(fc_w, "fc/weights")
            fb = ref_var(fc_b, "fc/biases")
            x = tf.matmul(x, fw, name="fc/MatMul")
            x = tf.nn.bias_add(x, fb, name="fc/BiasAdd")
            tf.nn.softmax(x, name="output")
        return freeze_v1(g, ["output", "pool2/Mean"])

    calib = image_like(4001, 32, (1, H, W, CIN))
    heldout = image_like(4003, N_HELDOUT, (1, H, W, CIN))
    # rescale the classifier on typical inputs
    feats = run_graphdef(build(fc_w, fc_b), "input", "pool2/Mean", image_like(9004, 64, (1, H, W, CIN)))
    fc_w, fc_b = rescale_logits(fc_w, fc_b, feats[:, 0])
    gd = tf.compat.v1.graph_util.extract_sub_graph(build(fc_w, fc_b), ["output"])
    expected = image_like(4002, N_EXPECTED, (1, H, W, CIN))
    emit_graph("bn_net", gd, "input", [1, H, W, CIN], "output", calib, heldout, expected,
               "conv + FusedBatchNormV3 + relu6 + maxpool + depthwise + FusedBatchNorm(v1) + relu"
               " + Mean + MatMul/BiasAdd + softmax")


# --------------------------------------------------------------------------------------
# 5. scaled_input: pixels in 0..255 divided by 255 in the graph, then conv/depthwise/FC
# --------------------------------------------------------------------------------------

def gen_scaled_input():
    print("[5] scaled_input (TF1 graph, input normalization x / 255 inside the graph)")
    rng = np.random.default_rng(505)
    H, W, CIN, C1, NOUT = 16, 16, 3, 8, 4
    conv_w = he(rng, (3, 3, CIN, C1), 27)
    conv_b = rng.normal(0, 0.1, C1).astype(np.float32)
    dw_w = he(rng, (3, 3, C1, 1), 9)
    fc_w = he(rng, (C1, NOUT), C1)
    fc_b = rng.normal(0, 0.1, NOUT).astype(np.float32)

    def build(fc_w, fc_b):
        g = tf.Graph()
        with g.as_default():
            x = tf.compat.v1.placeholder(tf.float32, [1, H, W, CIN], name="pixels")
            x = tf.math.truediv(x, tf.constant(255.0), name="normalize/truediv")
            w = ref_var(conv_w, "conv1/weights")
            x = tf.compat.v1.nn.conv2d(x, w, [1, 2, 2, 1], "SAME", name="conv1/Conv2D")
            x = tf.nn.bias_add(x, ref_var(conv_b, "conv1/biases"), name="conv1/BiasAdd")
            x = tf.nn.relu(x, name="conv1/Relu")
            x = tf.nn.depthwise_conv2d(x, ref_var(dw_w, "dw2/depthwise_weights"), [1, 1, 1, 1], "SAME", name="dw2/depthwise")
            x = tf.nn.relu6(x, name="dw2/Relu6")
            x = tf.reduce_mean(x, axis=[1, 2], keepdims=False, name="pool/Mean")
            x = tf.matmul(x, ref_var(fc_w, "fc/weights"), name="fc/MatMul")
            x = tf.nn.bias_add(x, ref_var(fc_b, "fc/biases"), name="fc/BiasAdd")
            tf.nn.softmax(x, name="output")
        return freeze_v1(g, ["output", "pool/Mean"])

    def pixels(seed, n):
        return np.round(255.0 * image_like(seed, n, (1, H, W, CIN))).astype(np.float32)

    calib = pixels(5001, 32)
    heldout = pixels(5003, N_HELDOUT)
    feats = run_graphdef(build(fc_w, fc_b), "pixels", "pool/Mean", pixels(9005, 64))
    fc_w, fc_b = rescale_logits(fc_w, fc_b, feats[:, 0])
    gd = tf.compat.v1.graph_util.extract_sub_graph(build(fc_w, fc_b), ["output"])
    emit_graph("scaled_input", gd, "pixels", [1, H, W, CIN], "output", calib, heldout, pixels(5002, N_EXPECTED),
               "pixels / 255 (RealDiv) + conv (SAME, stride 2) + BiasAdd + relu + depthwise + relu6"
               " + Mean + MatMul/BiasAdd + softmax: TF folds the division into the conv")


# --------------------------------------------------------------------------------------

def main():
    if not os.path.isdir(os.path.join(HERE)):
        sys.exit("run from the repo root")
    set_global_seeds()
    print(f"TensorFlow {tf.__version__}, Keras {getattr(keras, '__version__', '?')}, numpy {np.__version__}")
    for sub in ("calib", "graphdef", "savedmodel", "reference", "heldout", "expected"):
        shutil.rmtree(os.path.join(HERE, sub), ignore_errors=True)
    for f in os.listdir(HERE):
        if f.endswith(".tflite"):
            os.remove(os.path.join(HERE, f))

    gen_micro_speech()
    gen_ds_cnn()
    gen_qdq()
    gen_bn_net()
    gen_scaled_input()

    MANIFEST["generator"] = {
        "tensorflow": tf.__version__, "keras": getattr(keras, "__version__", "?"),
        "numpy": np.__version__, "command": "python Fixtures/generate.py",
    }
    mp = path("manifest.json")
    with open(mp, "w") as f:
        json.dump(MANIFEST, f, indent=1, sort_keys=True)
        f.write("\n")
    note(mp)
    total = sum(os.path.getsize(p) for p in WRITTEN)
    print(f"{len(WRITTEN)} files, {total} bytes total")


if __name__ == "__main__":
    main()
