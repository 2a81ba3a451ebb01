#!/usr/bin/env python3
"""Measure what one tflite-micro (TFLM) build loads and runs, and write it as a rules profile.

For the tflite-micro Python wheel VERSION (a nightly on PyPI, 0.dev<timestamp>) this script

1. creates (once) the venv .venv/tflm-<date> holding that wheel (the latest one reuses
   .venv/conformance, which scripts/conformance-venv.sh pins to it);
2. writes one-op models with tfrewrite's own writer: IR text per builtin op x tensor type,
   turned into .tflite by the `tfrewrite-op-models` tool, at op versions 1, the lowest the
   types need (op_version.cc) and the highest TFLite defines (runtime_version.cc); plus one
   registration probe per builtin code and per custom op code TFLM ships. The ops without a
   template here take Tests/Conformance/op_coverage.py's one-op cases (imported, so both
   measure the same models), with their data type swapped for each type tried; the few it
   builds from bytes (SVDF, UNIDIRECTIONAL_SEQUENCE_LSTM, the resource-variable ops) run at
   the types they have;
3. loads and invokes each model on that wheel's interpreter (a child process that is
   restarted when a kernel crashes it) and records what ran;
4. writes Rules/NAME.yaml: the registered ops, the tensor types each op's kernel ran with
   (`op_types`), whether op versions matter, the quantization modes, and a header citing
   the wheel and the date measured.

Usage (from the repository root, after `swift build`; the python needs NumPy, as the
conformance venv has, for op_coverage.py):
    python3 scripts/measure-tflm-profile.py --venv 0.dev20231010131554   # only create the venv
    python3 scripts/measure-tflm-profile.py 0.dev20231010131554 micro_2023_10
    python3 scripts/measure-tflm-profile.py 0.dev20240624135632 micro_2024_06
    python3 scripts/measure-tflm-profile.py 0.dev20261023182759 micro_latest
then `scripts/embed-rules.sh` and rebuild. Docs/rules.md, "Measured profiles", says more.

The op's type is the element type of its first non-constant input (the data it computes on),
as KernelLimits.signatureType in Sources/Passes/Support/KernelLimits.swift reads it.
"""

import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Tests", "Conformance"))
PINNED_LATEST = "0.dev20261023182759"  # the wheel scripts/conformance-venv.sh pins

# Tensor types tried for every op: IR short name and quantization for the quantized ones.
TYPES = {"float32": "f32", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "uint8": "u8", "bool": "i1",
         "uint16": "u16", "uint32": "u32", "uint64": "u64"}
QUANT = {"int8": " q(0.05, 0)", "int16": " q(0.001, 0)", "uint8": " q(0.05, 128)"}

# Output quantization the kernels require (tflite-micro kernels/softmax_common.cc,
# logistic_common.cc, tanh_common.cc, log_softmax.cc, l2norm.cc).
FIXED_OUTPUT = {
    ("SOFTMAX", "int8"): " q(0.00390625, -128)", ("SOFTMAX", "int16"): " q(0.000030517578125, 0)",
    ("SOFTMAX", "uint8"): " q(0.00390625, 0)",
    ("LOGISTIC", "int8"): " q(0.00390625, -128)", ("LOGISTIC", "int16"): " q(0.000030517578125, 0)",
    ("LOGISTIC", "uint8"): " q(0.00390625, 0)",
    ("TANH", "int8"): " q(0.0078125, 0)", ("TANH", "int16"): " q(0.000030517578125, 0)",
    ("TANH", "uint8"): " q(0.0078125, 128)",
    ("LOG_SOFTMAX", "int8"): " q(0.0625, 127)", ("LOG_SOFTMAX", "uint8"): " q(0.0625, 255)",
    ("L2_NORMALIZATION", "int8"): " q(0.0078125, 0)", ("L2_NORMALIZATION", "uint8"): " q(0.0078125, 128)",
}

# Custom op codes TFLM's all-ops resolver may register (python_ops_resolver.cc).
CUSTOM_CODES = [
    "CIRCULAR_BUFFER", "TFLite_Detection_PostProcess", "ethos-u",
    "SignalDelay", "SignalEnergy", "SignalFftAutoScale", "SignalFilterBank", "SignalFilterBankLog",
    "SignalFilterBankSpectralSubtraction", "SignalFilterBankSquareRoot", "SignalFramer",
    "SignalIrfft", "SignalOverlapAdd", "SignalPCAN", "SignalRfft", "SignalStacker", "SignalWindow",
]

# The nightlies before 2025 require tensorflow (their flatbuffer_utils.py imports its gfile) and
# were built against NumPy 1.x: install the TensorFlow of their time, which pins numpy<2.
ERA_DEPENDENCIES = {
    "0.dev20231010131554": ["tensorflow==2.14.1", "numpy<2"],
    "0.dev20240624135632": ["tensorflow==2.16.2", "numpy<2"],
}

NOT_REGISTERED = ("Didn't find op for builtin opcode", "Failed to get registration from op code")


def ty(t, shape, op=None):
    q = FIXED_OUTPUT.get((op, t)) if op else None
    return f"{TYPES[t]}[{shape}]{q if q is not None else QUANT.get(t, '')}"


def const(t, shape, values):
    t, _, q = t.partition(" ")  # "int32 q(0.0025, 0)": a type with its own quantization
    if q:
        body = ", ".join(str(int(v)) for v in values)
        return f"{TYPES[t]}[{shape}] {q} = [{body}]"
    if t == "uint64":  # IR text has no value form for u64: a digest reads back as zeros
        return f"{ty(t, shape)} = sha256:00000000"
    body = ", ".join((f"{float(v)}" if t == "float32" else str(int(bool(v))) if t == "bool" else str(int(v))) for v in values)
    return f"{ty(t, shape)} = [{body}]"


def weights(t):
    """Weight and bias types for activations of type t (int16 activations take int8 weights
    and int64 biases: TFLM's 16x8 kernels); quantized biases have scale input x weights."""
    if t == "int8":
        return "int8", "int32 q(0.0025, 0)"
    if t == "int16":
        return "int8", "int64 q(0.00005, 0)"
    return t, t


def graph(inputs, consts, op_line, outputs):
    lines = ['subgraph 0 "main"']
    lines += [f'  input %{i} "{n}": {tt}' for i, n, tt in inputs]
    lines += [f'  const %{i} "{n}": {c}' for i, n, c in consts]
    lines.append(f"  #0 {op_line}")
    lines += [f"  output %{i}" for i in outputs]
    return "\n".join(lines) + "\n"


def unary(op, opts=""):
    def make(t):
        return graph([(0, "x", ty(t, "1,4"))], [], f'{op} v1{opts} (%0) -> %1 "y": {ty(t, "1,4", op)}', [1])
    return make


def binary(op, out=None):
    def make(t):
        o = ty(out, "1,4") if out else ty(t, "1,4")
        return graph([(0, "a", ty(t, "1,4")), (1, "b", ty(t, "1,4"))], [], f'{op} v1 (%0, %1) -> %2 "y": {o}', [2])
    return make


def with_i32(op, data_shape, i32_shape, i32_values, out_shape, opts="", out_type=None, const_first=False):
    def make(t):
        c = (1, "p", const("int32", i32_shape, i32_values))
        args = "(%1, %0)" if const_first else "(%0, %1)"
        o = ty(out_type, out_shape) if out_type else ty(t, out_shape)
        return graph([(0, "x", ty(t, data_shape))], [c], f'{op} v1{opts} {args} -> %2 "y": {o}', [2])
    return make


def conv(op, opts, w_shape, w_count, out_shape, x_shape="1,3,3,2", bias=2):
    def make(t):
        wt, bt = weights(t)
        return graph([(0, "x", ty(t, x_shape))],
                     [(1, "w", const(wt, w_shape, [1] * w_count)), (2, "b", const(bt, str(bias), [0] * bias))],
                     f'{op} v1{opts} (%0, %1, %2) -> %3 "y": {ty(t, out_shape)}', [3])
    return make


def pool(op):
    def make(t):
        return graph([(0, "x", ty(t, "1,3,3,2"))], [],
                     f'{op} v1 {{padding=VALID, stride=1x1, filter=2x2}} (%0) -> %1 "y": {ty(t, "1,2,2,2")}', [1])
    return make


def reduce(op, opts=""):
    return with_i32(op, "1,4", "1", [1], "1", opts)


def quantize(t):
    out = " q(0.1, 0)" if t != "uint8" else " q(0.05, 0)"
    return graph([(0, "x", ty(t, "1,4"))], [], f'QUANTIZE v1 (%0) -> %1 "y": i8[1,4]{out}', [1])


def dequantize(t):
    return graph([(0, "x", ty(t, "1,4"))], [], 'DEQUANTIZE v1 (%0) -> %1 "y": f32[1,4]', [1])


def cast(t):
    out = "int32" if t == "float32" else "float32"
    return graph([(0, "x", ty(t, "1,4"))], [], f'CAST v1 (%0) -> %1 "y": {ty(out, "1,4")}', [1])


def fill(t):
    return graph([(0, "v", ty(t, ""))], [(1, "dims", const("int32", "1", [4]))], f'FILL v1 (%1, %0) -> %2 "y": {ty(t, "4")}', [2])


def concatenation(t):
    return graph([(0, "a", ty(t, "1,2")), (1, "b", ty(t, "1,2"))], [],
                 f'CONCATENATION v1 {{axis=1}} (%0, %1) -> %2 "y": {ty(t, "1,4")}', [2])


def pack(t):
    return graph([(0, "a", ty(t, "4")), (1, "b", ty(t, "4"))], [],
                 f'PACK v1 {{values_count=2, axis=0}} (%0, %1) -> %2 "y": {ty(t, "2,4")}', [2])


def add_n(t):
    return graph([(0, "a", ty(t, "1,4")), (1, "b", ty(t, "1,4"))], [], f'ADD_N v1 (%0, %1) -> %2 "y": {ty(t, "1,4")}', [2])


def split(t):
    return graph([(0, "x", ty(t, "1,4"))], [(1, "axis", const("int32", "", [1]))],
                 f'SPLIT v1 {{options_type=35, raw=040002000000}} (%1, %0) -> %2 "y0": {ty(t, "1,2")}, %3 "y1": {ty(t, "1,2")}', [2, 3])


def unpack(t):
    return graph([(0, "x", ty(t, "2,4"))], [],
                 f'UNPACK v1 {{options_type=64, raw=040002000000}} (%0) -> %1 "y0": {ty(t, "4")}, %2 "y1": {ty(t, "4")}', [1, 2])


def slice_(t):
    return graph([(0, "x", ty(t, "1,4"))], [(1, "b", const("int32", "2", [0, 1])), (2, "s", const("int32", "2", [1, 2]))],
                 f'SLICE v1 (%0, %1, %2) -> %3 "y": {ty(t, "1,2")}', [3])


def strided_slice(t):
    return graph([(0, "x", ty(t, "1,4"))],
                 [(1, "b", const("int32", "2", [0, 1])), (2, "e", const("int32", "2", [1, 3])), (3, "s", const("int32", "2", [1, 1]))],
                 f'STRIDED_SLICE v1 {{begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0}} (%0, %1, %2, %3) -> %4 "y": {ty(t, "1,2")}', [4])


def gather(t):
    return graph([(0, "x", ty(t, "4"))], [(1, "i", const("int32", "2", [0, 2]))],
                 f'GATHER v1 {{axis=0, batch_dims=0}} (%0, %1) -> %2 "y": {ty(t, "2")}', [2])


def padv2(t):
    return graph([(0, "x", ty(t, "1,4"))], [(1, "p", const("int32", "2,2", [0, 0, 1, 1])), (2, "v", const(t, "", [0]))],
                 f'PADV2 v1 (%0, %1, %2) -> %3 "y": {ty(t, "1,6")}', [3])


def prelu(t):
    return graph([(0, "x", ty(t, "1,4"))], [(1, "alpha", const(t, "4", [1, 1, 1, 1]))],
                 f'PRELU v1 (%0, %1) -> %2 "y": {ty(t, "1,4")}', [2])


def batch_matmul(t):
    return graph([(0, "a", ty(t, "1,2,3")), (1, "b", ty(t, "1,3,2"))], [],
                 f'BATCH_MATMUL v1 (%0, %1) -> %2 "y": {ty(t, "1,2,2")}', [2])


def select_v2(t):
    return graph([(0, "a", ty(t, "1,4")), (1, "b", ty(t, "1,4"))], [(2, "c", const("bool", "1,4", [1, 0, 1, 0]))],
                 f'SELECT_V2 v1 (%2, %0, %1) -> %3 "y": {ty(t, "1,4")}', [3])


def fully_connected(t):
    wt, bt = weights(t)
    return graph([(0, "x", ty(t, "1,4"))], [(1, "w", const(wt, "2,4", [1] * 8)), (2, "b", const(bt, "2", [0, 0]))],
                 f'FULLY_CONNECTED v1 (%0, %1, %2) -> %3 "y": {ty(t, "1,2")}', [3])


def resize(op):
    return with_i32(op, "1,2,2,1", "2", [4, 4], "1,4,4,1")


# Builtin op -> IR text for tensor type t. Ops TFLM registers that are missing here are
# recorded as registered, without a measured type list (the profile's tensor_types apply).
TEMPLATES = {
    **{op: unary(op) for op in [
        "ABS", "CEIL", "COS", "ELU", "EXP", "FLOOR", "HARD_SWISH", "LOG", "LOGISTIC", "NEG", "RELU",
        "RELU6", "ROUND", "RSQRT", "SIN", "SQRT", "SQUARE", "TANH", "ZEROS_LIKE", "LOG_SOFTMAX",
        "L2_NORMALIZATION", "LOGICAL_NOT", "LEAKY_RELU"]},
    "SOFTMAX": unary("SOFTMAX", " {beta=1.0}"),
    **{op: binary(op) for op in [
        "ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "FLOOR_DIV", "FLOOR_MOD",
        "LOGICAL_AND", "LOGICAL_OR"]},
    **{op: binary(op, "bool") for op in ["EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL"]},
    "ADD_N": add_n,
    "RESHAPE": with_i32("RESHAPE", "1,4", "2", [2, 2], "2,2"),
    "EXPAND_DIMS": with_i32("EXPAND_DIMS", "1,4", "", [0], "1,1,4"),
    "TRANSPOSE": with_i32("TRANSPOSE", "2,3", "2", [1, 0], "3,2"),
    "PAD": with_i32("PAD", "1,4", "2,2", [0, 0, 1, 1], "1,6"),
    "PADV2": padv2,
    "BROADCAST_TO": with_i32("BROADCAST_TO", "1,4", "2", [2, 4], "2,4"),
    "CUMSUM": with_i32("CUMSUM", "1,4", "", [1], "1,4"),
    "SHAPE": lambda t: graph([(0, "x", ty(t, "1,4"))], [], 'SHAPE v1 {out_type=INT32} (%0) -> %1 "y": i32[2]', [1]),
    "MEAN": reduce("MEAN", " {keep_dims=false}"), "SUM": reduce("SUM"), "REDUCE_MAX": reduce("REDUCE_MAX"), "REDUCE_MIN": reduce("REDUCE_MIN"),
    "CONCATENATION": concatenation, "PACK": pack, "UNPACK": unpack, "SPLIT": split, "SLICE": slice_,
    "STRIDED_SLICE": strided_slice, "GATHER": gather, "FILL": fill, "PRELU": prelu,
    "BATCH_MATMUL": batch_matmul, "SELECT_V2": select_v2,
    "QUANTIZE": quantize, "DEQUANTIZE": dequantize, "CAST": cast,
    "FULLY_CONNECTED": fully_connected,
    "CONV_2D": conv("CONV_2D", " {padding=VALID, stride=1x1, dilation=1x1}", "2,1,1,2", 4, "1,3,3,2"),
    "DEPTHWISE_CONV_2D": conv("DEPTHWISE_CONV_2D", " {padding=VALID, stride=1x1, dilation=1x1, depth_multiplier=1}", "1,1,1,2", 2, "1,3,3,2"),
    "AVERAGE_POOL_2D": pool("AVERAGE_POOL_2D"), "MAX_POOL_2D": pool("MAX_POOL_2D"),
    "RESIZE_NEAREST_NEIGHBOR": resize("RESIZE_NEAREST_NEIGHBOR"), "RESIZE_BILINEAR": resize("RESIZE_BILINEAR"),
}


# Ops that hand tensors to subgraphs: a failure of their one-op model is a failure of an op in
# the subgraph (checked as itself), not of their kernel, so they get no op_types entry.
PASS_THROUGH = {"IF", "WHILE"}

# IR short names back to the type names above.
SHORT_TYPES = {short: name for name, short in TYPES.items()}
TYPE_TOKEN = re.compile(r"\b(f32|i8|i16|i32|i64|u8|i1|u16|u32|u64)\[([0-9,]*)\]( q\([^)]*\))?")


def retyped(text, source, t):
    """op_coverage IR text with every tensor of type `source` (its data type) made type t, the
    constants' values converted; None when a value has no form in t."""
    src = TYPES[source]
    lines = []
    for line in text.splitlines():
        head, sep, values = line.partition(" = [")
        typed = TYPE_TOKEN.sub(lambda m: f"{TYPES[t]}[{m.group(2)}]{QUANT.get(t, '')}" if m.group(1) == src else m.group(0), head)
        if sep and typed != head:
            if t == "uint64":
                return None
            numbers = [float(v) for v in values.rstrip("]").split(",") if v.strip()]
            if t == "float32":
                body = ", ".join(repr(v) for v in numbers)
            elif t == "bool":
                body = ", ".join(str(int(v != 0)) for v in numbers)
            else:
                body = ", ".join(str(int(round(abs(v) if t.startswith("uint") else v))) for v in numbers)
            line = f"{typed} = [{body}]"
        else:
            line = typed + sep + values
        lines.append(line)
    return "\n".join(lines) + "\n"


def signature_type(text):
    """The type of the op's first non-constant input in IR text (KernelLimits.signatureType)."""
    main = text.split("\nsubgraph 1 ", 1)[0]
    inputs = dict(re.findall(r'^  input (%\d+) "[^"]*": (\w+)\[', main, re.M))
    operands = re.search(r"^  #0 [^(]*\(([^)]*)\)", text, re.M).group(1)
    for v in (o.strip() for o in operands.split(",")):
        if v in inputs:
            return SHORT_TYPES[inputs[v]]
    return None


def shared_cases(skip):
    """op_coverage.py's cases for the ops not in `skip`, one per op x type tried: (op, type,
    IR text or None, model bytes or None). Per type, the op's own case of that type (with the
    quantized weights and bias its kernel needs), else its float32 case (or its first) retyped;
    the type recorded is the op's signature type."""
    import op_coverage
    by_op = {}
    for c in op_coverage.cases():
        if c.op not in skip:
            by_op.setdefault(c.op, []).append(c)
    out = []
    for op, cs in sorted(by_op.items()):
        texts = [c for c in cs if c.model_bytes is None]
        if not texts:
            seen = set()
            for c in cs:
                if c.type not in seen:
                    seen.add(c.type)
                    out.append((op, c.type, None, c.model_bytes))
            continue
        source = next((c for c in texts if c.type == "float32"), texts[0])
        own = {}
        for c in texts:
            own.setdefault(c.type, c.text)
        for t in TYPES:
            text = own[t] if t in own else retyped(source.text, source.type, t)
            if text is not None:
                out.append((op, t, text, None))
    return out


# Feature probes (quantization modes and the grouped CONV_2D), each a one-op model whose
# success sets the flag.
FEATURES = {
    # float input, int8 weights: hybrid kernels.
    "hybrid": graph([(0, "x", "f32[1,4]")], [(1, "w", "i8[2,4] q(0.1, 0) = [1, 1, 1, 1, 1, 1, 1, 1]")],
                    'FULLY_CONNECTED v1 (%0, %1, %none) -> %2 "y": f32[1,2]', [2]),
    "float16": graph([(0, "x", "f32[1,4]")], [(1, "w", "f16[2,4] = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]")],
                     'FULLY_CONNECTED v1 (%0, %1, %none) -> %2 "y": f32[1,2]', [2]),
    "uint8": graph([(0, "x", "u8[1,4] q(0.1, 128)")], [(1, "w", "u8[2,4] q(0.1, 128) = [130, 130, 130, 130, 130, 130, 130, 130]")],
                   'FULLY_CONNECTED v1 (%0, %1, %none) -> %2 "y": u8[1,2] q(0.2, 128)', [2]),
    # Keras Conv2D(groups=2): the filter has half the input's channels (CONV_2D v6).
    "grouped_conv": graph([(0, "x", "f32[1,3,3,4]")], [(1, "w", "f32[4,1,1,2] = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]"),
                                                      (2, "b", "f32[4] = [0.0, 0.0, 0.0, 0.0]")],
                          'CONV_2D v1 {padding=VALID, stride=1x1, dilation=1x1} (%0, %1, %2) -> %3 "y": f32[1,3,3,4]', [3]),
}

# Runs in the wheel's venv: loads and invokes each model named on stdin, one result line each.
CHILD = r"""
import json, os, sys, tempfile
import numpy as np
from tflite_micro.python.tflite_micro import runtime
# TFLM's MicroPrintf writes to stdout, Python errors to stderr: both go to a log per model,
# results to the original stdout.
log = tempfile.TemporaryFile()
results = os.fdopen(os.dup(1), "w")
saved_out, saved_err = os.dup(1), os.dup(2)
for path in sys.stdin:
    path = path.strip()
    log.seek(0); log.truncate()
    sys.stdout.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
        it = runtime.Interpreter.from_bytes(open(path, "rb").read())
        k = 0
        while True:
            try:
                d = it.get_input_details(k)
            except Exception:
                break
            dtype = np.dtype(d["dtype"])
            it.set_input(np.ones(d["shape"], dtype=dtype), k)
            k += 1
        it.invoke()
        verdict = "OK"
    except Exception as e:
        verdict = "ERROR " + str(e)
    sys.stdout.flush()
    os.dup2(saved_out, 1)
    os.dup2(saved_err, 2)
    log.seek(0)
    detail = log.read().decode(errors="replace")
    results.write(json.dumps({"path": path, "verdict": verdict, "log": detail[-600:]}) + "\n")
    results.flush()
"""


def venv_for(version):
    """The venv holding tflite-micro==version, created on first use; and the install seconds."""
    if version == PINNED_LATEST:
        py = os.path.join(ROOT, ".venv", "conformance", "bin", "python")
        if not os.path.exists(py):
            subprocess.run([os.path.join(ROOT, "scripts", "conformance-venv.sh")], check=True)
        return py, None
    date = version.replace("0.dev", "")[:8]
    venv = os.path.join(ROOT, ".venv", f"tflm-{date}")
    py = os.path.join(venv, "bin", "python")
    stamp = os.path.join(venv, ".tflite-micro-version")
    if os.path.exists(stamp) and open(stamp).read().strip() == version:
        return py, None
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"tflite-micro=={version}",
                    *ERA_DEPENDENCIES.get(version, [])], check=True)
    open(stamp, "w").write(version + "\n")
    return py, time.monotonic() - start


def run_models(py, paths):
    """path -> {"verdict", "log"}; a model that kills the child is recorded as a crash."""
    results = {}
    pending = list(paths)
    while pending:
        proc = subprocess.run([py, "-c", CHILD], input="\n".join(pending) + "\n", capture_output=True, text=True, timeout=3600)
        for line in proc.stdout.splitlines():
            r = json.loads(line)
            results[r["path"]] = r
        pending = [p for p in pending if p not in results]
        if pending:
            results[pending[0]] = {"path": pending[0], "verdict": f"CRASH (exit {proc.returncode})", "log": proc.stderr[-600:]}
            pending = pending[1:]
    return results


def registered(result):
    text = result["verdict"] + result["log"]
    return not any(s in text for s in NOT_REGISTERED)


def measure(version, name, tool):
    py, install_seconds = venv_for(version)
    work = tempfile.mkdtemp(prefix=f"tflm-{name}-")
    # Registration probes: every builtin code TFLM could know, and the custom codes.
    ops = json.loads(subprocess.run([tool, "--list-builtins"], capture_output=True, text=True, check=True).stdout)
    for op in ops:
        with open(os.path.join(work, f"reg__{op}.ir"), "w") as f:
            f.write(graph([(0, "x", "f32[1]")], [], f'{op} v1 (%0) -> %1 "y": f32[1]', [1]))
    with open(os.path.join(work, "custom_codes.txt"), "w") as f:
        f.write("\n".join(CUSTOM_CODES) + "\n")
    for op, make in TEMPLATES.items():
        for t in TYPES:
            with open(os.path.join(work, f"op__{op}__{t}.ir"), "w") as f:
                f.write(make(t))
    shared = shared_cases(set(TEMPLATES))
    signature, bytes_only = {}, set()
    for op, t, text, data in shared:
        stem = f"op__{op}__{t}"
        if text is None:
            with open(os.path.join(work, f"{stem}.v1.tflite"), "wb") as f:
                f.write(data)
            bytes_only.add(op)
        else:
            with open(os.path.join(work, f"{stem}.ir"), "w") as f:
                f.write(text)
            signature[stem] = signature_type(text)
    for feature, text in FEATURES.items():
        with open(os.path.join(work, f"feature__{feature}.ir"), "w") as f:
            f.write(text)
    made = subprocess.run([tool, work], capture_output=True, text=True)
    if made.returncode != 0:
        sys.exit(f"measure-tflm-profile: tfrewrite-op-models failed: {made.stderr.strip()}")
    models = [json.loads(line) for line in made.stdout.splitlines()]
    models += [{"model": f"op__{op}__{t}", "op": op, "minimum": 1, "versions": [1]} for op, t, text, _ in shared if text is None]
    paths = [os.path.join(work, f"{m['model']}.v{v}.tflite") for m in models for v in m["versions"]]
    start = time.monotonic()
    results = run_models(py, paths)
    run_seconds = time.monotonic() - start

    def result(model, v):
        return results[os.path.join(work, f"{model}.v{v}.tflite")]

    builtins = sorted(m["op"] for m in models if m["model"].startswith("reg__") and registered(result(m["model"], 1)))
    customs = [m["op"] for m in models if m["model"].startswith("custom__") and registered(result(m["model"], 1))]
    customs = [c for c in CUSTOM_CODES if c in customs]
    op_types, version_sensitive, failures, ran_at = {}, [], {}, {}
    for m in models:
        if not m["model"].startswith("op__"):
            continue
        _, op, t = m["model"].split("__")
        ok = {v: result(m["model"], v)["verdict"] == "OK" for v in m["versions"]}
        if len(set(ok.values())) > 1:
            version_sensitive.append(f"{op} {t} {ok}")
        # A shared case is recorded under the type check reads (an IF's is its bool condition).
        t = signature.get(m["model"], t)
        if ok[m["minimum"]] and op in builtins:
            if op not in bytes_only and op not in PASS_THROUGH and t not in op_types.get(op, []):
                op_types.setdefault(op, []).append(t)
            ran_at.setdefault(op, set()).add(t)
        elif op in builtins:
            r = result(m["model"], m["minimum"])
            failures[f"{op} {t}"] = " | ".join(line for line in (r["log"] + "\n" + r["verdict"]).splitlines() if line.strip())[-400:]
    features = {f: result(f"feature__{f}", 1)["verdict"] == "OK" for f in FEATURES}
    return {
        "version": version, "name": name, "python": py, "install_seconds": install_seconds,
        "run_seconds": run_seconds, "models": len(paths), "builtins": builtins, "customs": customs,
        "op_types": op_types, "version_sensitive": version_sensitive, "features": features,
        "failures": failures, "measured": datetime.date.today().isoformat(),
        "bytes_only": {op: sorted(ran_at.get(op, [])) for op in sorted(bytes_only)},
        "pass_through": {op: sorted(ran_at.get(op, [])) for op in sorted(PASS_THROUGH & set(builtins))},
    }


def flow_list(items, indent, width=100):
    lines, line = [], ""
    for item in items:
        piece = f"{item}, "
        if len(line) + len(piece) > width - indent:
            lines.append(line.rstrip())
            line = ""
        line += piece
    lines.append(line.rstrip().rstrip(","))
    return ("\n" + " " * indent).join(lines)


def write_profile(m, path):
    types = sorted({t for ts in m["op_types"].values() for t in ts}, key=list(TYPES).index)
    built = datetime.datetime.strptime(m["version"].replace("0.dev", "")[:8], "%Y%m%d").date().isoformat()
    f = m["features"]
    through_text = "; ".join(f"{op} {'/'.join(ts) or 'none'}" for op, ts in m["pass_through"].items())
    ran_at_text = "; ".join(f"{op} {'/'.join(ts) or 'none'}" for op, ts in m["bytes_only"].items())
    out = [
        f"# Generated by scripts/measure-tflm-profile.py; do not edit by hand, re-run it.",
        f"#",
        f"# TensorFlow Lite Micro as built into the tflite-micro Python wheel {m['version']}",
        f"# (nightly of {built}; all kernels registered by its PythonOpsResolver,",
        f"# python/tflite_micro/python_ops_resolver.cc). Measured on {m['measured']}: {m['models']} one-op",
        f"# models written by tfrewrite (tfrewrite-op-models) were loaded and invoked on that wheel.",
        f"# - ops: the builtin codes its resolver finds ({len(m['builtins'])}), and the custom codes ({len(m['customs'])});",
        f"# - op_types: per op, the tensor types (of the op's first non-constant input) whose one-op",
        f"#   model loaded and ran ({sum(len(v) for v in m['op_types'].values())} op x type pairs over {len(m['op_types'])} ops); ops",
        f"#   without an entry were not measured by type; the ops without a template in the script",
        f"#   use Tests/Conformance/op_coverage.py's one-op cases with their data type swapped;",
        f"#   {', '.join(m['bytes_only'])} come from bytes op_coverage.py builds and ran",
        f"#   at {ran_at_text} only, so they have no entry; nor have {', '.join(m['pass_through'])}, which",
        f"#   hand tensors to subgraphs whose ops are checked themselves (ran at {through_text});",
        f"# - check_versions: whether any op loaded at one version and failed at another",
        f"#   ({len(m['version_sensitive'])} such op x type pairs; versions 1, the minimum and TFLite's highest were tried);",
        f"# - quantization: FULLY_CONNECTED with float input and int8 weights (hybrid), float16",
        f"#   weights, uint8 tensors; grouped_conv: a CONV_2D whose filter has half the input channels.",
        f"# per_channel_fully_connected is not measured (a wrong result is not a load failure): it",
        f"# follows tflite-micro PR #2673 (2024-09), which made per-channel FULLY_CONNECTED weights work.",
        "target:",
        "  runtime: tflm",
        f"  source: \"tflite-micro wheel {m['version']} (PythonOpsResolver), measured {m['measured']} by scripts/measure-tflm-profile.py\"",
        f"  check_versions: {'true' if m['version_sensitive'] else 'false'}",
        "  ops: {",
        "    " + flow_list([f"{op}: any" for op in m["builtins"]], 4),
        "  }",
        "  custom_ops: [" + flow_list(m["customs"], 15) + "]",
        "  op_types: {",
        "    " + flow_list([f"{op}: [{', '.join(sorted(ts))}]" for op, ts in sorted(m["op_types"].items())], 4),
        "  }",
        f"  tensor_types: [{', '.join(types)}]",
        "  quantization:",
        f"    hybrid: {str(f['hybrid']).lower()}",
        f"    float16: {str(f['float16']).lower()}",
        f"    uint8: {str(f['uint8']).lower()}",
        f"    per_channel_fully_connected: {'true' if built >= '2024-09-30' else 'false'}",
        f"    grouped_conv: {str(f['grouped_conv']).lower()}",
        "",
        "passes:",
        "  - densify-sparse-constants",
        "  - fold-float16-constants" if not f["float16"] else None,
        "  - ungroup-conv" if not f["grouped_conv"] else None,
        "  - per-tensor-fully-connected" if built < "2024-09-30" else None,
        "  - conv-to-depthwise",
        "  - unroll-while",
        "  - inline-constant-if",
        "  - fold-shapes: { batch: 1 }",
        "  - cleanup",
        "  - legalize-op-versions",
    ]
    text = "\n".join(line for line in out if line is not None) + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--venv":
        py, seconds = venv_for(sys.argv[2])
        print(py if seconds is None else f"{py} (installed in {seconds:.0f} s)")
        return
    if len(sys.argv) != 3:
        sys.exit("usage: measure-tflm-profile.py TFLITE_MICRO_VERSION PROFILE_NAME   (e.g. 0.dev20231010131554 micro_2023_10)")
    version, name = sys.argv[1], sys.argv[2]
    bin_path = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    tool = os.path.join(bin_path, "tfrewrite-op-models")
    if not os.path.exists(tool):
        sys.exit("measure-tflm-profile: build first: swift build --product tfrewrite-op-models")
    m = measure(version, name, tool)
    path = os.path.join(ROOT, "Rules", f"{name}.yaml")
    write_profile(m, path)
    summary = {k: m[k] for k in ["version", "install_seconds", "run_seconds", "models", "version_sensitive", "features"]}
    summary.update(builtins=len(m["builtins"]), customs=len(m["customs"]), op_types=sum(len(v) for v in m["op_types"].values()))
    print(json.dumps(summary, indent=1))
    with open(os.path.join(ROOT, ".venv", f"{name}.failures.json"), "w") as fh:
        json.dump(m["failures"], fh, indent=1, sort_keys=True)
    print(f"wrote {path}; failing op x type pairs: .venv/{name}.failures.json")


if __name__ == "__main__":
    main()
