#!/usr/bin/env python3
"""Generated operator conformance: one-op models per operator x type x options, run on
`tfrewrite run` and on the reference runtime, and the coverage table written from the results.

1. Every case below is IR text (Docs/architecture.md); `tfrewrite-op-models DIR` (our own
   writer) turns each into a .tflite at the lowest op version its types need.
2. Seeded random inputs (8 samples a model) go through the real TFLM runtime (PyPI tflite-micro,
   all models in one child process) and through `tfrewrite run --batch`. Where TFLM does not
   register the op, LiteRT's reference kernels are the oracle.
3. Integer outputs must be identical; float32 outputs within 1e-6 relative.
4. `--write-docs` replaces the table between the coverage markers of Docs/interpreter.md, so the
   documented coverage is what the tests measured.

    python Tests/Conformance/op_coverage.py [--tfrewrite BIN] [--op-models BIN] [--write-docs] [--json OUT]

Exit 1 when any case differs from its oracle. Used by test_op_coverage.py.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DOC = ROOT / "Docs" / "interpreter.md"
BEGIN, END = "<!-- op-coverage:begin -->", "<!-- op-coverage:end -->"
SAMPLES = 8
# "hybrid": float32 activations with int8 weights (dynamic-range quantization), which only
# LiteRT runs (TFLM has no hybrid kernels), compared within HYBRID_TOLERANCE of the output's
# largest magnitude: the integer sums are exact, but LiteRT's kernels scale and subtract the
# input offset in float in their own order, so an output that cancels to near zero can differ
# from theirs by a few ulps of the terms (most values are equal bit for bit).
TYPES = ["float32", "int8", "int16", "int32", "bool", "hybrid"]
HYBRID_TOLERANCE = 1e-5
SHORT = {"float32": "f32", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "bool": "i1", "uint8": "u8"}

# BuiltinOptions union tags (schema.fbs) of the opaque option tables written as raw bytes.
TAGS = {"SpaceToDepth": 19, "DepthToSpace": 94, "MirrorPad": 77, "ResizeBilinear": 15, "ResizeNearestNeighbor": 74,
        "Reducer": 27, "LeakyRelu": 75, "Split": 35, "SplitV": 79, "Unpack": 64, "If": 92, "While": 93, "Cumsum": 102, "BatchMatMul": 101, "TransposeConv": 49, "Pool2D": 5}


def options(tag, fields):
    """IR text for an opaque options table: `fields` maps field id -> ("i32" | "bool", value).
    The raw bytes are the vtable entries, then the table's fields (int32s first, 4-aligned)."""
    words = [(i, k, v) for i, (k, v) in sorted(fields.items()) if k in ("i32", "f32")]
    bytes_ = [(i, v) for i, (k, v) in sorted(fields.items()) if k == "bool"]
    offsets, inline = {}, b""
    for i, k, v in words:
        offsets[i] = 4 + len(inline)
        inline += struct.pack("<i" if k == "i32" else "<f", v)
    for i, v in bytes_:
        offsets[i] = 4 + len(inline)
        inline += struct.pack("<b", v)
    while len(inline) % 4:
        inline += b"\0"
    vtable = b"".join(struct.pack("<H", offsets.get(i, 0)) for i in range(max(fields) + 1))
    return f" {{options_type={TAGS[tag]}, vtable={max(fields) + 1}, raw={(vtable + inline).hex()}}}"


def quant(t, scale, zp):
    return f" q({scale}, {zp})" if t == "int8" else ""


def tt(t, shape, scale=0.05, zp=3):
    return f"{SHORT[t]}[{','.join(map(str, shape))}]{quant(t, scale, zp)}"


def const(t, shape, values, scale=0.05, zp=3):
    if t == "float32":
        body = ", ".join(repr(float(v)) for v in values)
    else:
        body = ", ".join(str(int(v)) for v in values)
    return f"{tt(t, shape, scale, zp)} = [{body}]"


class Case:
    """One one-op model: IR text, the op, the type column, what the variant exercises, and how to
    draw each input (name -> "normal" | "positive" | "nonzero" | "index:N")."""

    def __init__(self, op, t, variant, inputs, consts, op_line, outputs, draw=None, litert_because=None, subgraphs=""):
        self.op, self.type, self.variant = op, t, variant
        # A model built another way (schema-built bytes or a fixture file) instead of IR text.
        self.model_bytes = None
        # Set when TFLM's result is not defined for this case (the reason is kept): LiteRT's
        # reference kernels are the oracle instead.
        self.litert_because = litert_because
        lines = ['subgraph 0 "main"']
        lines += [f'  input %{i} "{n}": {ty}' for i, (n, ty) in enumerate(inputs)]
        base = len(inputs)
        lines += [f'  const %{base + i} "{n}": {c}' for i, (n, c) in enumerate(consts)]
        lines.append(f"  #0 {op_line}")
        out_base = base + len(consts)
        lines += [f"  output %{out_base + i}" for i in range(outputs)]
        self.text = "\n".join(lines) + "\n" + subgraphs
        self.input_names = [n for n, _ in inputs]
        self.draw = draw or {}
        # Relative tolerance for float32 outputs; `normwise`: relative to the output's largest
        # magnitude instead of each value's.
        self.tolerance = 1e-6
        self.normwise = False

    @property
    def stem(self):
        return re.sub(r"[^A-Za-z0-9_]+", "_", f"{self.op}__{self.type}__{self.variant}")


def unary_case(op, t, shape=(2, 3, 4), variant="basic", out_q=(0.05, 3), in_q=(0.05, 3), draw="normal", opts=""):
    return Case(op, t, variant, [("x", tt(t, shape, *in_q))], [],
                f'{op} v1{opts} (%0) -> %1 "y": {tt(t, shape, *out_q)}', 1, {"x": draw})


def binary_case(op, t, a_shape, b_shape, out_shape, variant, out_q=(0.05, 3), draw_b="normal", out_type=None):
    o = tt(out_type or t, out_shape, *out_q)
    return Case(op, t, variant, [("a", tt(t, a_shape)), ("b", tt(t, b_shape, 0.04, -2))], [],
                f'{op} v1 (%0, %1) -> %2 "y": {o}', 1, {"b": draw_b})


def with_consts(op, t, x_shape, consts, out_shape, variant, opts="", out_type=None, out_q=(0.05, 3), draw="normal", const_first=False):
    """One data input and integer constant operands (axes, shapes, paddings)."""
    cs = [(f"c{i}", const(ct, cshape, values)) for i, (ct, cshape, values) in enumerate(consts)]
    operands = [f"%{1 + i}" for i in range(len(cs))]
    operands = operands + ["%0"] if const_first else ["%0"] + operands
    out = f'"y": {tt(out_type or t, out_shape, *out_q)}'
    return Case(op, t, variant, [("x", tt(t, x_shape))], cs,
                f'{op} v1{opts} ({", ".join(operands)}) -> %{1 + len(cs)} {out}', 1, {"x": draw})


def cases():
    cs = []
    add = cs.append
    # One-input math and activations.
    for op in ["ABS", "NEG", "EXP", "FLOOR", "CEIL", "ROUND", "SIN", "COS", "SQUARE", "ELU", "RELU", "RELU6",
               "LOGISTIC", "TANH", "HARD_SWISH", "ZEROS_LIKE", "L2_NORMALIZATION", "LOG_SOFTMAX"]:
        add(unary_case(op, "float32"))
    for op in ["LOG", "SQRT", "RSQRT"]:
        add(unary_case(op, "float32", draw="positive"))
    add(unary_case("ABS", "int8", variant="rescaled", out_q=(0.03, -5)))
    add(unary_case("ABS", "int8", variant="same scale", out_q=(0.05, 3)))
    add(unary_case("ELU", "int8", out_q=(0.04, 10)))
    add(unary_case("RELU", "int8", out_q=(0.03, -128)))
    add(unary_case("RELU6", "int8", out_q=(0.05, 3)))
    add(unary_case("LOGISTIC", "int8", out_q=(0.00390625, -128)))
    add(unary_case("TANH", "int8", out_q=(0.0078125, 0)))
    add(unary_case("LEAKY_RELU", "float32", opts=options("LeakyRelu", {0: ("f32", 0.2)})))
    add(unary_case("LEAKY_RELU", "int8", opts=options("LeakyRelu", {0: ("f32", 0.2)}), out_q=(0.04, -1)))
    add(unary_case("ZEROS_LIKE", "int8"))
    add(unary_case("ZEROS_LIKE", "int32"))
    add(unary_case("SOFTMAX", "float32", opts=" {beta=1.0}"))
    add(unary_case("SOFTMAX", "int8", opts=" {beta=1.0}", out_q=(0.00390625, -128)))
    add(unary_case("LOGICAL_NOT", "bool"))
    # Binary ops: same shapes and broadcasting.
    for op in ["ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "FLOOR_MOD", "FLOOR_DIV", "DIV", "PRELU"]:
        for t in ["float32", "int8", "int32"]:
            if op in ("FLOOR_MOD", "FLOOR_DIV", "DIV") and t == "int8":
                continue
            if op == "PRELU" and t == "int32":
                continue
            nz = "nonzero" if op in ("FLOOR_MOD", "FLOOR_DIV", "DIV") else "normal"
            add(binary_case(op, t, (2, 3, 4), (2, 3, 4), (2, 3, 4), "same shape", draw_b=nz))
            add(binary_case(op, t, (2, 3, 4), (4,), (2, 3, 4), "broadcast", out_q=(0.06, -7), draw_b=nz))
    for op in ["EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"]:
        for t in ["float32", "int8", "int32"]:
            add(binary_case(op, t, (2, 3), (3,), (2, 3), "broadcast", out_type="bool"))
    for op in ["LOGICAL_AND", "LOGICAL_OR"]:
        add(binary_case(op, "bool", (2, 3), (3,), (2, 3), "broadcast"))
    add(Case("ADD_N", "int8", "3 inputs", [("a", tt("int8", (2, 3))), ("b", tt("int8", (2, 3))), ("c", tt("int8", (2, 3)))], [],
             f'ADD_N v1 (%0, %1, %2) -> %3 "y": {tt("int8", (2, 3), 0.09, -6)}', 1))
    for t in ["float32", "int32"]:
        add(Case("ADD_N", t, "3 inputs", [("a", tt(t, (2, 3))), ("b", tt(t, (2, 3))), ("c", tt(t, (2, 3)))], [],
                 f'ADD_N v1 (%0, %1, %2) -> %3 "y": {tt(t, (2, 3))}', 1))
    for t in ["float32", "int8", "int32"]:
        q = tt(t, (2, 3))
        add(Case("SELECT_V2", t, "broadcast", [("c", "i1[2,1]"), ("a", q), ("b", tt(t, (3,)))], [],
                 f'SELECT_V2 v1 (%0, %1, %2) -> %3 "y": {q}', 1))
    # Layout: element-moving ops on float32 and int8 (same quantization in and out).
    for t in ["float32", "int8"]:
        add(with_consts("SPACE_TO_DEPTH", t, (1, 4, 6, 3), [], (1, 2, 3, 12), "block 2", options("SpaceToDepth", {0: ("i32", 2)})))
        add(with_consts("DEPTH_TO_SPACE", t, (1, 2, 3, 8), [], (1, 4, 6, 2), "block 2", options("DepthToSpace", {0: ("i32", 2)})))
        add(with_consts("SPACE_TO_BATCH_ND", t, (1, 4, 6, 2), [("int32", (2,), [2, 2]), ("int32", (2, 2), [0, 0, 0, 0])],
                        (4, 2, 3, 2), "block 2x2"))
        padded = with_consts("SPACE_TO_BATCH_ND", t, (1, 4, 5, 2), [("int32", (2,), [2, 2]), ("int32", (2, 2), [0, 0, 1, 0])],
                             (4, 2, 3, 2), "block 2x2 padded")
        # TFLM's space_to_batch_nd.cc never sets SpaceToBatchParams.output_offset, so its pad
        # value is whatever its persistent buffer held; LiteRT pads with the zero point.
        padded.litert_because = "TFLM pads with an uninitialized value"
        add(padded)
        add(with_consts("BATCH_TO_SPACE_ND", t, (4, 2, 3, 2), [("int32", (2,), [2, 2]), ("int32", (2, 2), [0, 1, 1, 0])],
                        (1, 3, 5, 2), "block 2x2 cropped"))
        add(with_consts("MIRROR_PAD", t, (2, 3, 4), [("int32", (3, 2), [0, 1, 2, 1, 1, 3])], (3, 6, 8), "symmetric",
                        options("MirrorPad", {0: ("bool", 1)})))
        add(with_consts("MIRROR_PAD", t, (2, 3, 4), [("int32", (3, 2), [1, 0, 2, 1, 1, 2])], (3, 6, 7), "reflect",
                        options("MirrorPad", {0: ("bool", 0)})))
        add(with_consts("BROADCAST_TO", t, (3, 1), [("int32", (3,), [2, 3, 4])], (2, 3, 4), "rank grows"))
        add(with_consts("REVERSE_V2", t, (2, 3, 4), [("int32", (1,), [1])], (2, 3, 4), "axis 1"))
        add(with_consts("GATHER_ND", t, (3, 4, 2), [("int32", (2, 2), [2, 1, 0, 3])], (2, 2), "slices"))
        add(with_consts("RESIZE_NEAREST_NEIGHBOR", t, (1, 3, 4, 2), [("int32", (2,), [5, 7])], (1, 5, 7, 2), "upscale"))
        add(with_consts("RESIZE_NEAREST_NEIGHBOR", t, (1, 3, 4, 2), [("int32", (2,), [6, 3])], (1, 6, 3, 2), "half pixel",
                        options("ResizeNearestNeighbor", {1: ("bool", 1)})))
        add(with_consts("RESIZE_BILINEAR", t, (1, 3, 4, 2), [("int32", (2,), [5, 7])], (1, 5, 7, 2), "upscale"))
        add(with_consts("RESIZE_BILINEAR", t, (1, 3, 4, 2), [("int32", (2,), [6, 3])], (1, 6, 3, 2), "half pixel",
                        options("ResizeBilinear", {3: ("bool", 1)})))
        add(with_consts("RESIZE_BILINEAR", t, (1, 3, 4, 2), [("int32", (2,), [5, 7])], (1, 5, 7, 2), "align corners",
                        options("ResizeBilinear", {2: ("bool", 1)})))
        add(with_consts("REDUCE_MAX", t, (2, 3, 4), [("int32", (1,), [1])], (2, 4), "axis 1"))
        add(with_consts("REDUCE_MIN", t, (2, 3, 4), [("int32", (2,), [0, 2])], (1, 3, 1), "keep dims",
                        options("Reducer", {0: ("bool", 1)})))
        for op in ["ARG_MAX", "ARG_MIN"]:
            add(with_consts(op, t, (2, 3, 4), [("int32", (1,), [1])], (2, 4), "axis 1", out_type="int32"))
        add(Case("EMBEDDING_LOOKUP", t, "rows", [("ids", "i32[3]"), ("v", tt(t, (5, 4)))], [],
                 f'EMBEDDING_LOOKUP v1 (%0, %1) -> %2 "y": {tt(t, (3, 4))}', 1, {"ids": "index:5"}))
        add(with_consts("PAD", t, (2, 3), [("int32", (2, 2), [1, 0, 0, 2])], (3, 5), "pad"))
        add(with_consts("TRANSPOSE", t, (2, 3, 4), [("int32", (3,), [2, 0, 1])], (4, 2, 3), "perm"))
        add(with_consts("RESHAPE", t, (2, 3, 4), [("int32", (2,), [6, 4])], (6, 4), "reshape"))
    for t in ["float32", "int8", "int32"]:
        add(Case("FILL", t, "scalar", [("v", tt(t, ()))], [("dims", const("int32", (2,), [2, 3]))],
                 f'FILL v1 (%1, %0) -> %2 "y": {tt(t, (2, 3))}', 1))
    add(with_consts("MIRROR_PAD", "int32", (2, 3), [("int32", (2, 2), [1, 1, 2, 2])], (4, 7), "symmetric",
                    options("MirrorPad", {0: ("bool", 1)})))
    for t in ["float32", "int8", "int32"]:
        add(Case("DYNAMIC_UPDATE_SLICE", t, "clamped start", [("x", tt(t, (4, 5))), ("u", tt(t, (2, 3)))],
                 [("s", const("int32", (2,), [3, -1]))], f'DYNAMIC_UPDATE_SLICE v1 (%0, %1, %2) -> %3 "y": {tt(t, (4, 5))}', 1))
    add(with_consts("GATHER_ND", "int32", (3, 4), [("int32", (3, 2), [2, 1, 0, 3, 1, 1])], (3,), "elements"))
    # Reductions and scans.
    add(with_consts("SUM", "float32", (2, 3, 4), [("int32", (2,), [0, 2])], (3,), "two axes"))
    add(with_consts("SUM", "float32", (2, 3, 4), [("int32", (1,), [-1])], (2, 3, 1), "keep dims", options("Reducer", {0: ("bool", 1)})))
    add(with_consts("SUM", "int8", (2, 3, 4), [("int32", (2,), [0, 2])], (3,), "two axes", out_q=(0.4, -3)))
    add(with_consts("SUM", "int8", (2, 3, 4), [("int32", (1,), [-1])], (2, 3, 1), "keep dims", options("Reducer", {0: ("bool", 1)}), out_q=(0.2, 5)))
    add(Case("SUM", "int16", "axis 1", [("x", "i16[2,3,4] q(0.001, 0)")], [("a", const("int32", (1,), [1]))],
             'SUM v1 (%0, %1) -> %2 "y": i16[2,4] q(0.003, 0)', 1))
    add(with_consts("MEAN", "float32", (2, 3, 4), [("int32", (1,), [1])], (2, 4), "axis 1", " {keep_dims=false}"))
    add(with_consts("MEAN", "int8", (2, 3, 4), [("int32", (1,), [1])], (2, 4), "axis 1", " {keep_dims=false}", out_q=(0.04, -3)))
    for t in ["float32", "int32", "int8"]:
        add(with_consts("CUMSUM", t, (2, 3, 4), [("int32", (), [1])], (2, 3, 4), "axis 1", out_q=(0.1, -5)))
        add(with_consts("CUMSUM", t, (2, 3, 4), [("int32", (), [2])], (2, 3, 4), "exclusive reverse",
                        options("Cumsum", {0: ("bool", 1), 1: ("bool", 1)}), out_q=(0.1, -5)))
    # Matrix products and windows.
    add(Case("BATCH_MATMUL", "float32", "broadcast batch", [("a", "f32[2,3,4]"), ("b", "f32[1,4,5]")], [],
             'BATCH_MATMUL v1 (%0, %1) -> %2 "y": f32[2,3,5]', 1))
    add(Case("BATCH_MATMUL", "float32", "adj_x adj_y", [("a", "f32[2,4,3]"), ("b", "f32[2,5,4]")], [],
             f'BATCH_MATMUL v1{options("BatchMatMul", {0: ("bool", 1), 1: ("bool", 1)})} (%0, %1) -> %2 "y": f32[2,3,5]', 1))
    add(Case("BATCH_MATMUL", "int8", "broadcast batch", [("a", "i8[2,3,4] q(0.05, 3)"), ("b", "i8[1,4,5] q(0.04, -2)")], [],
             'BATCH_MATMUL v1 (%0, %1) -> %2 "y": i8[2,3,5] q(0.12, 5)', 1))
    add(Case("BATCH_MATMUL", "int8", "adj_x adj_y", [("a", "i8[2,4,3] q(0.05, 3)"), ("b", "i8[2,5,4] q(0.04, -2)")], [],
             f'BATCH_MATMUL v1{options("BatchMatMul", {0: ("bool", 1), 1: ("bool", 1)})} (%0, %1) -> %2 "y": i8[2,3,5] q(0.12, 5)', 1))
    rng = np.random.default_rng(17)
    w = rng.standard_normal(3 * 3 * 3 * 2).round(3)
    for pad, (stride, out) in [("SAME", (2, (1, 6, 8, 3))), ("VALID", (2, (1, 7, 9, 3)))]:
        opts = options("TransposeConv", {0: ("bool", 0 if pad == "SAME" else 1), 1: ("i32", stride), 2: ("i32", stride)})
        add(Case("TRANSPOSE_CONV", "float32", f"{pad} stride {stride}", [("x", "f32[1,3,4,2]")],
                 [("shape", const("int32", (4,), out)), ("w", const("float32", (3, 3, 3, 2), w[:54])), ("b", const("float32", (3,), [0.5, -0.25, 1.0]))],
                 f'TRANSPOSE_CONV v1{opts} (%1, %2, %0, %3) -> %4 "y": f32[{",".join(map(str, out))}]', 1))
    wq = rng.integers(-127, 128, 54)
    for variant, scales in [("per-channel", "q(axis 0: 3 scales, zp 0)"), ("per-tensor", "q(0.02, 0)")]:
        opts = options("TransposeConv", {0: ("bool", 0), 1: ("i32", 2), 2: ("i32", 2)})
        add(Case("TRANSPOSE_CONV", "int8", f"SAME stride 2 {variant}", [("x", tt("int8", (1, 3, 4, 2)))],
                 [("shape", const("int32", (4,), (1, 6, 8, 3))),
                  ("w", f"i8[3,3,3,2] {scales} = [{', '.join(str(int(v)) for v in wq)}]"),
                  ("b", "i32[3] q(0.001, 0) = [100, -250, 40]")],
                 f'TRANSPOSE_CONV v1{opts} (%1, %2, %0, %3) -> %4 "y": {tt("int8", (1, 6, 8, 3), 0.08, -6)}', 1))
    add(Case("L2_POOL_2D", "float32", "SAME 2x2 stride 2", [("x", "f32[1,5,6,3]")], [],
             f'L2_POOL_2D v1{options("Pool2D", {0: ("bool", 0), 1: ("i32", 2), 2: ("i32", 2), 3: ("i32", 2), 4: ("i32", 2)})} (%0) -> %1 "y": f32[1,3,3,3]', 1))
    for t in ["float32", "int8"]:
        add(Case("AVERAGE_POOL_2D", t, "VALID 2x2", [("x", tt(t, (1, 4, 4, 3)))], [],
                 f'AVERAGE_POOL_2D v1 {{padding=VALID, stride=2x2, filter=2x2}} (%0) -> %1 "y": {tt(t, (1, 2, 2, 3))}', 1))
        add(Case("MAX_POOL_2D", t, "SAME 3x3", [("x", tt(t, (1, 5, 5, 2)))], [],
                 f'MAX_POOL_2D v1 {{padding=SAME, stride=2x2, filter=3x3}} (%0) -> %1 "y": {tt(t, (1, 3, 3, 2))}', 1))
        wt = "int8" if t == "int8" else "float32"
        wq = (0.02, 0)
        wc = const(wt, (3, 2, 2, 2), rng.integers(-100, 100, 24) if t == "int8" else rng.standard_normal(24).round(3), *wq)
        bc = (f"i32[3] q({0.05 * 0.02}, 0) = [10, -20, 30]" if t == "int8" else const("float32", (3,), [0.1, 0.2, -0.3]))
        add(Case("CONV_2D", t, "SAME stride 1", [("x", tt(t, (1, 4, 4, 2)))], [("w", wc), ("b", bc)],
                 f'CONV_2D v1 {{padding=SAME, stride=1x1, dilation=1x1}} (%0, %1, %2) -> %3 "y": {tt(t, (1, 4, 4, 3), 0.1, -4)}', 1))
        fc = const(wt, (3, 8), rng.integers(-100, 100, 24) if t == "int8" else rng.standard_normal(24).round(3), *wq)
        add(Case("FULLY_CONNECTED", t, "bias", [("x", tt(t, (2, 8)))], [("w", fc), ("b", bc)],
                 f'FULLY_CONNECTED v1 (%0, %1, %2) -> %3 "y": {tt(t, (2, 3), 0.1, -4)}', 1))
        add(Case("CONCATENATION", t, "axis 1", [("a", tt(t, (2, 3))), ("b", tt(t, (2, 2)))], [],
                 f'CONCATENATION v1 {{axis=1}} (%0, %1) -> %2 "y": {tt(t, (2, 5))}', 1))
    # Ops that move or convert elements, already covered by test_interpreter.py one by one.
    for t in ["float32", "int8", "int32"]:
        add(with_consts("EXPAND_DIMS", t, (2, 3), [("int32", (), [1])], (2, 1, 3), "axis 1"))
        add(with_consts("GATHER", t, (4, 3), [("int32", (2,), [3, 1])], (2, 3), "axis 0", " {axis=0, batch_dims=0}"))
        add(with_consts("SLICE", t, (3, 4), [("int32", (2,), [1, 1]), ("int32", (2,), [2, -1])], (2, 3), "begin size"))
        add(with_consts("STRIDED_SLICE", t, (3, 6), [("int32", (2,), [0, 1]), ("int32", (2,), [3, 6]), ("int32", (2,), [2, 2])], (2, 3),
                        "strides", " {begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0}"))
        add(with_consts("SQUEEZE", t, (1, 3, 1, 2), [], (3, 2), "all", " {squeeze_dims=[]}"))
        add(with_consts("PADV2", t, (2, 3), [("int32", (2, 2), [0, 1, 2, 0]), (t, (), [5])], (3, 5), "constant"))
        add(with_consts("SHAPE", t, (2, 3, 4), [], (3,), "int32", " {out_type=INT32}", out_type="int32"))
        add(Case("PACK", t, "axis 1", [("a", tt(t, (2, 3))), ("b", tt(t, (2, 3)))], [],
                 f'PACK v1 {{values_count=2, axis=1}} (%0, %1) -> %2 "y": {tt(t, (2, 2, 3))}', 1))
        add(Case("UNPACK", t, "axis 0", [("x", tt(t, (2, 3)))], [],
                 f'UNPACK v1{options("Unpack", {0: ("i32", 2), 1: ("i32", 0)})} (%0) -> %1 "y0": {tt(t, (3,))}, %2 "y1": {tt(t, (3,))}', 2))
        add(Case("SPLIT", t, "axis 1", [("x", tt(t, (2, 4)))], [("axis", const("int32", (), [1]))],
                 f'SPLIT v1{options("Split", {0: ("i32", 2)})} (%1, %0) -> %2 "y0": {tt(t, (2, 2))}, %3 "y1": {tt(t, (2, 2))}', 2))
        add(Case("SPLIT_V", t, "sizes", [("x", tt(t, (2, 5)))], [("sizes", const("int32", (2,), [2, 3])), ("axis", const("int32", (), [1]))],
                 f'SPLIT_V v1{options("SplitV", {0: ("i32", 2)})} (%0, %1, %2) -> %3 "y0": {tt(t, (2, 2))}, %4 "y1": {tt(t, (2, 3))}', 2))
    add(Case("CAST", "float32", "to int32", [("x", "f32[2,3]")], [], 'CAST v1 (%0) -> %1 "y": i32[2,3]', 1))
    add(Case("CAST", "int32", "to float32", [("x", "i32[2,3]")], [], 'CAST v1 (%0) -> %1 "y": f32[2,3]', 1))
    add(Case("CAST", "int8", "to int32", [("x", "i8[2,3]")], [], 'CAST v1 (%0) -> %1 "y": i32[2,3]', 1))
    add(Case("QUANTIZE", "float32", "to int8", [("x", "f32[2,3]")], [], 'QUANTIZE v1 (%0) -> %1 "y": i8[2,3] q(0.02, -3)', 1))
    add(Case("QUANTIZE", "int8", "requantize", [("x", "i8[2,3] q(0.05, 3)")], [], 'QUANTIZE v1 (%0) -> %1 "y": i8[2,3] q(0.03, -7)', 1))
    add(Case("DEQUANTIZE", "int8", "to float32", [("x", "i8[2,3] q(0.05, 3)")], [], 'DEQUANTIZE v1 (%0) -> %1 "y": f32[2,3]', 1))
    for t in ["float32", "int8"]:
        wc = const(t, (1, 3, 3, 4), rng.integers(-100, 100, 36) if t == "int8" else rng.standard_normal(36).round(3), 0.02, 0)
        bc = (f"i32[4] q({0.05 * 0.02}, 0) = [10, -20, 30, 5]" if t == "int8" else const("float32", (4,), [0.1, 0.2, -0.3, 0]))
        add(Case("DEPTHWISE_CONV_2D", t, "SAME multiplier 2", [("x", tt(t, (1, 5, 5, 2)))], [("w", wc), ("b", bc)],
                 f'DEPTHWISE_CONV_2D v1 {{padding=SAME, stride=2x2, dilation=1x1, depth_multiplier=2}} (%0, %1, %2) -> %3 "y": {tt(t, (1, 3, 3, 4), 0.1, -4)}', 1))
    for t in ["int32"]:
        add(Case("BROADCAST_ARGS", t, "shapes", [("a", "i32[3]"), ("b", "i32[2]")], [], 'BROADCAST_ARGS v1 (%0, %1) -> %2 "y": i32[3]', 1,
                 {"a": "shape:1,4,3", "b": "shape:4,1"}))
    add(with_consts("REDUCE_ALL", "bool", (2, 3, 4), [("int32", (1,), [1])], (2, 4), "axis 1"))
    for c in hybrid_cases(rng):
        add(c)
    for c in int16_cases():
        add(c)
    # Control flow: subgraphs 1 and 2 follow subgraph 0 in the IR text.
    branches = ('subgraph 1 "then"\n  input %0 "x": f32[2,3]\n  #0 RELU v1 (%0) -> %1 "y": f32[2,3]\n  output %1\n'
                'subgraph 2 "else"\n  input %0 "x": f32[2,3]\n  #0 NEG v1 (%0) -> %1 "y": f32[2,3]\n  output %1\n')
    add(Case("IF", "float32", "then RELU else NEG", [("c", "i1[]"), ("x", "f32[2,3]")], [],
             f'IF v1{options("If", {0: ("i32", 1), 1: ("i32", 2)})} (%0, %1) -> %2 "y": f32[2,3]', 1, subgraphs=branches))
    loop = ('subgraph 1 "cond"\n  input %0 "i": i32[]\n  input %1 "x": f32[2,3]\n  const %2 "n": i32[] = [4]\n'
            '  #0 LESS v1 (%0, %2) -> %3 "c": i1[]\n  output %3\n'
            'subgraph 2 "body"\n  input %0 "i": i32[]\n  input %1 "x": f32[2,3]\n  const %2 "one": i32[] = [1]\n'
            '  const %3 "k": f32[] = [0.75]\n  #0 ADD v1 (%0, %2) -> %4 "i1": i32[]\n  #1 MUL v1 (%1, %3) -> %5 "t": f32[2,3]\n'
            '  #2 ADD v1 (%5, %1) -> %6 "x1": f32[2,3]\n  output %4\n  output %6\n')
    add(Case("WHILE", "float32", "counted loop", [("i", "i32[]"), ("x", "f32[2,3]")], [],
             f'WHILE v1{options("While", {0: ("i32", 1), 1: ("i32", 2)})} (%0, %1) -> %2 "i_out": i32[], %3 "y": f32[2,3]', 2,
             subgraphs=loop))
    # Schema-built recurrent models of test_interpreter.py (their state is a variable tensor, and
    # every run here carries it over, as on the device) and a fixture with resource variables.
    import test_interpreter as ti
    for t, name, build in [("float32", "SVDF", lambda: ti.svdf(ti.T.FLOAT32, act=ti.ACT.RELU)),
                           ("int8", "SVDF", lambda: ti.svdf(ti.T.INT8)),
                           ("float32", "UNIDIRECTIONAL_SEQUENCE_LSTM", lambda: ti.lstm(ti.T.FLOAT32)),
                           ("int8", "UNIDIRECTIONAL_SEQUENCE_LSTM", lambda: ti.lstm(ti.T.INT8))]:
        c = Case(name, t, "schema-built, state carried", [], [], "", 0)
        c.model_bytes = build()
        add(c)
    accumulator = (ROOT / "Fixtures" / "repair" / "accumulator_resource_variable.tflite").read_bytes()
    for op in ["CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"]:
        c = Case(op, "float32", "accumulator fixture", [], [], "", 0)
        c.model_bytes = accumulator
        add(c)
    return cs


def int16_cases():
    """Symmetric int16 activations (zero point 0) on TFLM's int16 kernels: LOGISTIC and TANH with
    power-of-two input scales (the kernels' shift-only path; TANH also with left shift 1) and a
    general scale (the 3·4096·scale multiplier), output scale 2^-15; RELU rescaling; RELU6."""
    out = []
    def i16(shape, scale):
        return f"i16[{','.join(map(str, shape))}] q({scale}, 0)"
    q15 = 1 / 32768
    for op, scales in [("LOGISTIC", [2 ** -12, 0.0007]), ("TANH", [2 ** -12, 2 ** -11, 0.0007])]:
        for s in scales:
            variant = f"input scale 2^{int(np.log2(s))}" if np.log2(s).is_integer() else f"input scale {s}"
            out.append(Case(op, "int16", variant, [("x", i16((2, 3, 4), s))], [], f'{op} v1 (%0) -> %1 "y": {i16((2, 3, 4), q15)}', 1))
    out.append(Case("RELU", "int16", "rescaled", [("x", i16((2, 3, 4), 0.002))], [], f'RELU v1 (%0) -> %1 "y": {i16((2, 3, 4), 0.0015)}', 1))
    out.append(Case("RELU6", "int16", "same scale", [("x", i16((2, 3, 4), 0.0005))], [], f'RELU6 v1 (%0) -> %1 "y": {i16((2, 3, 4), 0.0005)}', 1))
    return out


def hybrid_cases(rng):
    """Float input, int8 weights (LiteRT fully_connected.cc / conv.cc / depthwise_conv.cc hybrid
    paths): symmetric and asymmetric input quantization, per-tensor and per-channel weights,
    fused activations, padding and strides. The fixtures of Fixtures/repair are real converter
    output of the same kind."""
    def weights(shape, scales):
        n = int(np.prod(shape))
        q = (f"q(axis {0 if len(shape) == 2 or shape[0] > 1 else 3}: scales [{', '.join(map(str, scales))}], zp 0)"
             if len(scales) > 1 else f"q({scales[0]}, 0)")
        return f"i8[{','.join(map(str, shape))}] {q} = [{', '.join(str(int(v)) for v in rng.integers(-127, 128, n))}]"

    def bias(n):
        return const("float32", (n,), rng.standard_normal(n).round(3))

    out = []
    why = "TFLM has no hybrid kernels"
    for variant, scales, opts in [("per-channel asymmetric", [0.02, 0.035, 0.011], " {asymmetric_quantize_inputs=true}"),
                                  ("per-channel symmetric RELU", [0.02, 0.035, 0.011], " {act=RELU}"),
                                  ("per-tensor symmetric", [0.02], ""),
                                  ("per-tensor asymmetric keep_num_dims", [0.02], " {keep_num_dims=true, asymmetric_quantize_inputs=true}")]:
        shape_out = "f32[2,2,3]" if "keep_num_dims" in variant else "f32[4,3]"
        out.append(Case("FULLY_CONNECTED", "hybrid", variant, [("x", "f32[2,2,8]" if "keep" in variant else "f32[4,8]")],
                        [("w", weights((3, 8), scales)), ("b", bias(3))],
                        f'FULLY_CONNECTED v1{opts} (%0, %1, %2) -> %3 "y": {shape_out}', 1, litert_because=why))
    for variant, scales, opts, out_shape in [
            ("per-channel SAME", [0.02, 0.03, 0.012], "{padding=SAME, stride=1x1, dilation=1x1}", (2, 5, 5, 3)),
            ("per-channel VALID stride 2 RELU6", [0.02, 0.03, 0.012], "{padding=VALID, stride=2x2, dilation=1x1, act=RELU6}", (2, 2, 2, 3)),
            ("per-tensor SAME stride 2", [0.02], "{padding=SAME, stride=2x2, dilation=1x1}", (2, 3, 3, 3))]:
        out.append(Case("CONV_2D", "hybrid", variant, [("x", "f32[2,5,5,2]")], [("w", weights((3, 3, 3, 2), scales)), ("b", bias(3))],
                        f'CONV_2D v1 {opts} (%0, %1, %2) -> %3 "y": f32[{",".join(map(str, out_shape))}]', 1, litert_because=why))
    for variant, opts, out_shape in [
            ("SAME multiplier 2", "{padding=SAME, stride=2x2, dilation=1x1, depth_multiplier=2}", (2, 3, 3, 4)),
            ("VALID dilation 2 RELU", "{padding=VALID, stride=1x1, dilation=2x2, depth_multiplier=2, act=RELU}", (2, 1, 1, 4))]:
        out.append(Case("DEPTHWISE_CONV_2D", "hybrid", variant, [("x", "f32[2,5,5,2]")],
                        [("w", weights((1, 3, 3, 4), [0.02, 0.03, 0.012, 0.05])), ("b", bias(4))],
                        f'DEPTHWISE_CONV_2D v1 {opts} (%0, %1, %2) -> %3 "y": f32[{",".join(map(str, out_shape))}]', 1, litert_because=why))
    for c in out:
        c.tolerance, c.normwise = HYBRID_TOLERANCE, True
    for name in ["mlp_dynamic_range", "cnn_dynamic_range"]:
        for op in (["FULLY_CONNECTED"] if name.startswith("mlp") else ["CONV_2D", "FULLY_CONNECTED"]):
            c = Case(op, "hybrid", f"{name} fixture", [], [], "", 0, litert_because=why)
            c.model_bytes = (ROOT / "Fixtures" / "repair" / f"{name}.tflite").read_bytes()
            c.tolerance, c.normwise = HYBRID_TOLERANCE, True
            out.append(c)
    return out


# ---------------------------------------------------------------------------------------------

ORACLE_CHILD = r"""
import json, sys, numpy as np
jobs = json.load(open(sys.argv[1]))
results = {}
def tflm(path, inputs):
    from tflite_micro.python.tflite_micro import runtime
    it = None
    for arena in (1 << 16, 1 << 20, 1 << 24):
        try:
            it = runtime.Interpreter.from_bytes(open(path, "rb").read(), arena_size=arena)
            break
        except Exception as e:
            err = str(e)
    if it is None:
        raise RuntimeError(err)
    outs = []
    n_out = 0
    while True:
        try:
            it.get_output_details(n_out); n_out += 1
        except Exception:
            break
    for s in range(len(inputs[0])):
        for k, a in enumerate(inputs):
            it.set_input(a[s], k)
        it.invoke()
        outs.append([np.array(it.get_output(k)) for k in range(n_out)])
    return outs
def litert(path, inputs):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    ins, outs_d = it.get_input_details(), it.get_output_details()
    outs = []
    for s in range(len(inputs[0])):
        for d, a in zip(ins, inputs):
            it.set_tensor(d["index"], a[s])
        it.invoke()
        outs.append([np.array(it.get_tensor(d["index"])) for d in outs_d])
    return outs
for job in jobs:
    data = np.load(job["inputs"])
    inputs = [data[n] for n in job["names"]]
    entry = {}
    try:
        if job["litert"]:
            raise RuntimeError("Didn't find op: TFLM's result is undefined here")
        outs = tflm(job["model"], inputs)
        entry["oracle"] = "TFLM"
    except Exception as e:
        msg = str(e)
        if "Didn't find op" in msg or "Failed to get registration" in msg:
            try:
                outs = litert(job["model"], inputs)
                entry["oracle"] = "LiteRT"
            except Exception as e2:
                entry["error"] = "LiteRT: " + str(e2).splitlines()[0][:200]
                results[job["model"]] = entry
                continue
        else:
            entry["error"] = "TFLM: " + msg.strip().splitlines()[-1][:200] if msg.strip() else "TFLM: failed"
            results[job["model"]] = entry
            continue
    np.savez(job["out"], *[np.stack([o[k] for o in outs]) for k in range(len(outs[0]))])
    results[job["model"]] = entry
json.dump(results, open(sys.argv[2], "w"))
"""


def draw(rng, kind, dtype, shape):
    shape = (SAMPLES,) + tuple(shape)
    if dtype == np.float32:
        a = rng.standard_normal(shape) * 2
        if kind == "positive":
            a = np.abs(a) + 0.05
        if kind == "nonzero":
            a = np.where(np.abs(a) < 0.25, 0.25, a)
        return a.astype(np.float32)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    if kind.startswith("shape:"):
        # Broadcast-compatible shapes: each dimension the given size or 1.
        dims = np.array([int(d) for d in kind[6:].split(",")])
        return np.where(rng.integers(0, 3, shape) == 0, 1, dims).astype(dtype)
    if kind.startswith("index:"):
        return rng.integers(0, int(kind[6:]), shape).astype(dtype)
    if dtype == np.int32:
        a = rng.integers(-20, 21, shape)
        if kind == "nonzero":
            a = np.where(a == 0, 3, a)
        return a.astype(np.int32)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def input_specs(model_path):
    """(dtype, shape) of each subgraph-0 input, read with the LiteRT schema."""
    from ai_edge_litert import schema_py_generated as schema
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(open(model_path, "rb").read(), 0))
    g = m.subgraphs[0]
    types = {0: np.float32, 9: np.int8, 2: np.int32, 6: np.bool_, 7: np.int16, 4: np.int64, 3: np.uint8}
    return [(types[g.tensors[i].type], [int(d) for d in (g.tensors[i].shape if g.tensors[i].shape is not None else [])]) for i in g.inputs]


def compare(ours, ref, tolerance=1e-6, normwise=False):
    if ours.shape != ref.shape:
        return f"shape {list(ours.shape)} vs {list(ref.shape)}"
    if ours.dtype != ref.dtype:
        return f"dtype {ours.dtype} vs {ref.dtype}"
    if ours.dtype == np.float32:
        same = (ours == ref) | (np.isnan(ours) & np.isnan(ref))
        magnitude = np.abs(ref.astype(np.float64))
        if normwise and magnitude.size:
            magnitude = np.full_like(magnitude, np.nanmax(magnitude))
        close = np.abs(ours.astype(np.float64) - ref) <= tolerance * magnitude
        bad = ~(same | close)
        if bad.any():
            return f"{int(bad.sum())} of {ours.size} floats beyond {tolerance:g} relative{' to the largest' if normwise else ''} (max abs diff {np.nanmax(np.abs(ours - ref)):.3g})"
        return None
    bad = ours != ref
    if bad.any():
        return f"{int(bad.sum())} of {ours.size} values differ (max diff {int(np.abs(ours.astype(np.int64) - ref).max())})"
    return None


def run(tfrewrite, op_models, python, work):
    work = Path(work)
    all_cases = cases()
    for c in all_cases:
        if c.model_bytes is None:
            (work / f"{c.stem}.ir").write_text(c.text)
        else:
            (work / f"{c.stem}.v1.tflite").write_bytes(c.model_bytes)
    proc = subprocess.run([str(op_models), str(work)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"tfrewrite-op-models failed: {proc.stderr.strip()}")
    minimum = {}
    for line in proc.stdout.splitlines():
        r = json.loads(line)
        minimum[r["model"]] = r["minimum"]
    rng = np.random.default_rng(2026)
    jobs = []
    for c in all_cases:
        model = work / f"{c.stem}.v{minimum.get(c.stem, 1)}.tflite"
        c.model = model
        specs = input_specs(model)
        if not c.input_names:
            c.input_names = [f"in{k}" for k in range(len(specs))]
        arrays = {n: draw(rng, c.draw.get(n, "normal"), dt, shape) for n, (dt, shape) in zip(c.input_names, specs)}
        c.inputs = work / f"{c.stem}.in.npz"
        np.savez(c.inputs, **arrays)
        jobs.append({"model": str(model), "inputs": str(c.inputs), "names": c.input_names, "out": str(work / f"{c.stem}.ref.npz"),
                     "litert": bool(c.litert_because)})
    (work / "jobs.json").write_text(json.dumps(jobs))
    child = work / "oracle_child.py"
    child.write_text(ORACLE_CHILD)
    # TFLM and LiteRT print to stdout/stderr; the verdicts go to a file.
    subprocess.run([python, str(child), str(work / "jobs.json"), str(work / "oracle.json")], capture_output=True, text=True, timeout=1200)
    verdicts = json.loads((work / "oracle.json").read_text()) if (work / "oracle.json").exists() else {}
    results = []
    for c, job in zip(all_cases, jobs):
        v = verdicts.get(job["model"], {"error": "oracle crashed"})
        r = {"op": c.op, "type": c.type, "variant": c.variant, "oracle": v.get("oracle")}
        if "error" in v:
            r["status"], r["detail"] = "oracle-rejects", v["error"]
            results.append(r)
            continue
        out = work / f"{c.stem}.ours.npz"
        # --state: the oracle runs the samples on one interpreter, so state carries over there too.
        p = subprocess.run([str(tfrewrite), "run", str(c.model), "--input", str(c.inputs), "--batch", "--state", "-o", str(out)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            r["status"], r["detail"] = "no-kernel", p.stderr.strip().splitlines()[-1][:300] if p.stderr.strip() else f"exit {p.returncode}"
            results.append(r)
            continue
        ours = np.load(out)
        ref = np.load(job["out"])
        ours_list = [ours[k] for k in ours.files]
        ref_list = [ref[f"arr_{k}"] for k in range(len(ref.files))]
        problems = [compare(a, b, c.tolerance, c.normwise) for a, b in zip(ours_list, ref_list)]
        if len(ours_list) != len(ref_list):
            problems.append(f"{len(ours_list)} outputs vs {len(ref_list)}")
        problems = [p for p in problems if p]
        r["status"] = "fail" if problems else "pass"
        if problems:
            r["detail"] = "; ".join(problems)
        results.append(r)
    return results


def registered_ops():
    """The builtin ops current TFLM registers: Rules/micro_latest.yaml, measured from the pinned
    tflite-micro wheel by scripts/measure-tflm-profile.py."""
    text = (ROOT / "Rules" / "micro_latest.yaml").read_text()
    block = text.split("  ops: {", 1)[1].split("}", 1)[0]
    return sorted(re.findall(r"([A-Z0-9_]+): any", block))


def table(results):
    by_op = {}
    for r in results:
        by_op.setdefault(r["op"], {}).setdefault(r["type"], []).append(r)
    ops = sorted(set(registered_ops()) | set(by_op))
    lines = ["| op | " + " | ".join(TYPES) + " | oracle |", "|---|" + "---|" * (len(TYPES) + 1)]
    for op in ops:
        cells, oracles = [], set()
        for t in TYPES:
            rs = by_op.get(op, {}).get(t, [])
            for r in rs:
                if r.get("oracle"):
                    oracles.add(r["oracle"])
            passed = [r for r in rs if r["status"] == "pass"]
            failed = [r for r in rs if r["status"] == "fail"]
            missing = [r for r in rs if r["status"] == "no-kernel"]
            if failed:
                cells.append(f"✗ {len(failed)}/{len(rs)}")
            elif missing and not passed:
                cells.append("no kernel")
            elif passed:
                cells.append(f"✓ {len(passed)}" + (f" (+{len(missing)} no kernel)" if missing else ""))
            elif rs:
                cells.append("oracle rejects")
            else:
                cells.append("")
        tag = "" if op in by_op else " (no test yet)"
        lines.append(f"| {op}{tag} | " + " | ".join(cells) + f" | {', '.join(sorted(oracles))} |")
    return "\n".join(lines)


def summary(results):
    counts = {s: sum(r["status"] == s for r in results) for s in ("pass", "fail", "no-kernel", "oracle-rejects")}
    passing_ops = {r["op"] for r in results if r["status"] == "pass"}
    untested = [op for op in registered_ops() if op not in passing_ops]
    return counts, untested


def write_docs(results):
    counts, untested = summary(results)
    body = (f"{BEGIN}\nGenerated by `Tests/Conformance/op_coverage.py --write-docs` from its last run: "
            f"{len(results)} one-op models, {counts['pass']} pass, {counts['fail']} differ, "
            f"{counts['no-kernel']} have no kernel here, {counts['oracle-rejects']} are rejected by the oracle "
            f"(the type is not one its kernel takes). Cells: ✓ n = n variants (options, broadcasting, "
            f"quantization) equal to the oracle (integers bit for bit, float32 within 1e-6 relative; hybrid — "
            f"float32 activations with int8 weights, which only LiteRT runs — within {HYBRID_TOLERANCE:g} of the output's largest magnitude). "
            f"TFLM-registered ops without a passing type: {', '.join(untested) or 'none'}.\n\n"
            f"{table(results)}\n{END}")
    text = DOC.read_text()
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: body, text, flags=re.S)
    else:
        text = text.replace("## How the int8 arithmetic is matched", "## Generated coverage\n\n" + body + "\n\n## How the int8 arithmetic is matched")
    DOC.write_text(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tfrewrite", default=os.environ.get("TFREWRITE", str(ROOT / ".build" / "debug" / "tfrewrite")))
    ap.add_argument("--op-models", default=None)
    ap.add_argument("--python", default=str(ROOT / ".venv" / "conformance" / "bin" / "python"))
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    op_models = args.op_models or str(Path(args.tfrewrite).parent / "tfrewrite-op-models")
    with tempfile.TemporaryDirectory(prefix="op-coverage-") as work:
        results = run(args.tfrewrite, op_models, args.python, work)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.write_docs:
        write_docs(results)
    counts, untested = summary(results)
    for r in results:
        if r["status"] in ("fail", "no-kernel"):
            print(f"{r['status']}: {r['op']} {r['type']} {r['variant']}: {r.get('detail', '')}")
    print(f"{len(results)} models: {counts}; TFLM ops without a passing type: {untested}")
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
