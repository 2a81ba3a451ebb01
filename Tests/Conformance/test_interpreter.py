"""Conformance of the reference interpreter (`tfrewrite run`) with TFLite Micro.

TFLM (PyPI `tflite-micro`, run in a child process by oracle.py) is the oracle.
Each model gets RUNS seeded random inputs; TFLM's outputs and ours must be
bit-identical for integer outputs and within FLOAT_ATOL for float outputs.

Models:
  - every Fixtures/**/*.tflite;
  - every corpus model (../shared/models/tflite) whose ops the interpreter
    models; the others are skipped with the op names (SVDF, LSTM, custom
    signal ops, ethos-u ...), and test_corpus_coverage prints the list;
  - small single-op models built here with the official schema (object API of
    ai-edge-litert's schema_py_generated), one per kernel and dtype, with
    odd shapes, broadcasting, masks, fused activations and dilations, so that
    every kernel's arithmetic meets TFLM, not only the ops the fixtures use.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import harness
import oracle

TFREWRITE = harness.tfrewrite_path()
if not TFREWRITE.is_file():
    pytest.skip(f"tfrewrite binary not found at {TFREWRITE} (run `swift build`, "
                "or set TFREWRITE=/path/to/tfrewrite)", allow_module_level=True)

RUNS = int(os.environ.get("INTERPRETER_RUNS", "50"))
SEED = 20240611
FLOAT_ATOL = 1e-5
UNSUPPORTED_MARK = "not supported by the interpreter"


# ---------------------------------------------------------------------------
# Running both sides
# ---------------------------------------------------------------------------

def run_ours(model: Path, inputs: list, work: Path):
    """Runs `tfrewrite run M --input in.npz --batch -o out.npz` on all input
    sets at once. Returns (list per run of list of outputs, None) or
    (None, error text)."""
    specs = oracle.input_specs(model)
    names = [s.name for s in specs]
    keys = names if len(set(names)) == len(names) and all(names) else [f"arr_{k}" for k in range(len(specs))]
    stacked = {key: np.stack([run[k] for run in inputs]) for k, key in enumerate(keys)}
    work.mkdir(parents=True, exist_ok=True)
    in_path, out_path = work / "in.npz", work / "out.npz"
    np.savez(in_path, **stacked)
    # --state: the runs share variable tensors, as they do on the TFLM oracle's one interpreter.
    proc = harness.run_tfrewrite(TFREWRITE, "run", model, "--input", in_path, "--batch", "--state", "-o", out_path)
    if proc.returncode != 0:
        return None, proc.stderr.strip()
    with np.load(out_path, allow_pickle=False) as z:
        outs = [z[k] for k in z.files]
    return [[o[r] for o in outs] for r in range(len(inputs))], None


def run_tflm(model: Path, inputs: list):
    return oracle.run("tflm", model, inputs)


def assert_conforms(model: Path, ours: list, theirs: list, int_tolerance=0):
    assert len(ours) == len(theirs), f"{len(ours)} runs vs {len(theirs)}"
    worst = 0.0
    for r, (a_run, b_run) in enumerate(zip(ours, theirs)):
        assert len(a_run) == len(b_run), f"run {r}: {len(a_run)} outputs vs TFLM's {len(b_run)}"
        for k, (a, b) in enumerate(zip(a_run, b_run)):
            b = np.asarray(b)
            assert a.dtype == b.dtype, f"run {r} output {k}: dtype {a.dtype} vs TFLM {b.dtype}"
            assert a.shape == b.shape, f"run {r} output {k}: shape {a.shape} vs TFLM {b.shape}"
            if a.dtype.kind == "f":
                both_nan = np.isnan(a) & np.isnan(b)
                assert np.array_equal(np.isnan(a), np.isnan(b)), f"run {r} output {k}: NaN positions differ"
                d = np.where(both_nan, 0.0, np.abs(a.astype(np.float64) - b.astype(np.float64)))
                m = float(np.nanmax(d)) if d.size else 0.0
                worst = max(worst, m)
                assert m <= FLOAT_ATOL, (f"{model.name} run {r} output {k}: max abs diff {m:g} > {FLOAT_ATOL} "
                                         f"at {np.unravel_index(int(np.argmax(d)), d.shape)}")
            else:
                diff = np.flatnonzero(np.abs(a.astype(np.int64) - b.astype(np.int64)) > int_tolerance)
                assert diff.size == 0, (f"{model.name} run {r} output {k}: {diff.size} values differ from TFLM, "
                                        f"first at flat index {diff[0]}: ours {a.flat[diff[0]]}, TFLM {b.flat[diff[0]]}")
    return worst


def check_model(model: Path, work: Path, runs=RUNS, seed=SEED):
    inputs = oracle.make_inputs(model, seed, runs)
    ours, err = run_ours(model, inputs, work)
    if err is not None and UNSUPPORTED_MARK in err:
        pytest.skip(f"{model.name}: {err.split(UNSUPPORTED_MARK + ': ', 1)[-1]}")
    assert err is None, f"tfrewrite run failed: {err}"
    theirs = run_tflm(model, inputs)
    if isinstance(theirs, oracle.RunFailure) and theirs.kind == "cannot load":
        # A model only LiteRT runs (float16 weights, sparse constants): LiteRT is the oracle,
        # within 1e-5 for float and 1 LSB for integers (issue 17; LiteRT's optimized int8
        # kernels round differently from TFLM's reference ones).
        litert = oracle.run("litert", model, inputs)
        if not isinstance(litert, oracle.RunFailure):
            return assert_conforms(model, ours, litert, int_tolerance=1)
    if isinstance(theirs, oracle.RunFailure):
        pytest.fail(f"TFLM cannot run {model.name}: {theirs}", pytrace=False)
    return assert_conforms(model, ours, theirs)


# ---------------------------------------------------------------------------
# Fixtures and corpus
# ---------------------------------------------------------------------------

def _fixture_params():
    return [pytest.param(p, id=p.relative_to(harness.FIXTURES_DIR).with_suffix("").as_posix())
            for p in harness.fixture_models()]


def _corpus_params():
    corpus = harness.corpus_models()
    if corpus is None:
        return [pytest.param(None, id="corpus-missing",
                             marks=pytest.mark.skip(reason=f"model corpus absent at {harness.CORPUS_DIR}"))]
    return [pytest.param(p, id=p.stem) for p in corpus]


# Fixtures on which the reference TFLM computes something else than LiteRT and Keras (checked
# by hand and below): our interpreter is compared with LiteRT there, and the test fails once
# TFLM agrees again, so the entry gets removed.
TFLM_DISAGREES = {
    "lstm_stacked_loop_float": "TFLM's WHILE runs the stacked Keras 3 LSTM loop wrongly (outputs "
                               "off by up to ~1 against LiteRT and Keras, which agree to 1e-7)",
}


@pytest.mark.parametrize("model", _fixture_params())
def test_fixture_matches_tflm(model, tmp_path):
    if model.stem not in TFLM_DISAGREES:
        check_model(model, tmp_path)
        return
    inputs = oracle.make_inputs(model, SEED, 10)
    ours, err = run_ours(model, inputs, tmp_path)
    assert err is None, f"tfrewrite run failed: {err}"
    litert = oracle.run("litert", model, inputs, litert_resolver="ref")
    assert not isinstance(litert, oracle.RunFailure), f"LiteRT cannot run {model.name}: {litert}"
    assert_conforms(model, ours, litert)
    tflm = run_tflm(model, inputs)
    still_wrong = isinstance(tflm, oracle.RunFailure) or any(
        not np.allclose(np.asarray(a), np.asarray(b), atol=1e-3) for ra, rb in zip(tflm, litert) for a, b in zip(ra, rb))
    assert still_wrong, f"TFLM now agrees with LiteRT on {model.name}: remove it from TFLM_DISAGREES"


@pytest.mark.parametrize("model", _corpus_params())
def test_corpus_model_matches_tflm(model, tmp_path):
    check_model(model, tmp_path)


def _unsupported_ops(model: Path, work: Path):
    """The interpreter's own list of ops it cannot run ('' when it runs)."""
    inputs = oracle.make_inputs(model, SEED, 1)
    _, err = run_ours(model, inputs, work)
    if err is None:
        return ""
    if UNSUPPORTED_MARK in err:
        return err.split(UNSUPPORTED_MARK + ": ", 1)[-1]
    raise AssertionError(f"{model.name}: tfrewrite run failed for another reason: {err}")


def test_corpus_coverage(tmp_path):
    """Prints which corpus models are skipped because of ops the interpreter
    does not model, with the op names; the three micro models that only use
    modelled ops must run."""
    corpus = harness.corpus_models()
    if corpus is None:
        pytest.skip(f"model corpus absent at {harness.CORPUS_DIR}")
    lines, runnable = [], []
    for k, m in enumerate(corpus):
        ops = _unsupported_ops(m, tmp_path / str(k))
        if ops:
            lines.append(f"  skipped {m.name}: {ops}")
        else:
            runnable.append(m.name)
    print("\ncorpus models the interpreter runs: " + ", ".join(runnable))
    print("corpus models skipped (ops not modelled):\n" + "\n".join(lines))
    for name in ("hello_world_float.tflite", "hello_world_int8.tflite", "micro_speech_quantized.tflite",
                 "audio_preprocessor_int8.tflite"):
        if any(m.name == name for m in corpus):
            assert name in runnable, f"{name} should run on the interpreter"


# ---------------------------------------------------------------------------
# Single-op models
# ---------------------------------------------------------------------------

S = oracle._schema()
T = S.TensorType
OP = S.BuiltinOperator
OPT = S.BuiltinOptions
ACT = S.ActivationFunctionType


class Net:
    """A one-op model: runtime inputs (random per run), constants, outputs."""

    def __init__(self):
        self.tensors, self.buffers = [], [S.BufferT()]
        self.inputs, self.outputs = [], []

    def tensor(self, shape, ttype, q=None, data=None, name=None, qdim=0):
        t = S.TensorT()
        t.shape = list(shape)
        t.type = ttype
        t.name = (name or f"t{len(self.tensors)}").encode()
        if q is not None:
            scales, zps = q
            qp = S.QuantizationParametersT()
            qp.scale = list(np.atleast_1d(np.asarray(scales, np.float32)))
            qp.zeroPoint = list(np.atleast_1d(np.asarray(zps, np.int64)))
            qp.quantizedDimension = qdim
            t.quantization = qp
        if data is not None:
            b = S.BufferT()
            b.data = np.ascontiguousarray(data).view(np.uint8).ravel()
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        self.tensors.append(t)
        return len(self.tensors) - 1

    def input(self, shape, ttype, q=None):
        i = self.tensor(shape, ttype, q, name=f"in{len(self.inputs)}")
        self.inputs.append(i)
        return i

    def output(self, shape, ttype, q=None):
        i = self.tensor(shape, ttype, q, name=f"out{len(self.outputs)}")
        self.outputs.append(i)
        return i

    def build(self, opcode, ins, outs, options_type=0, options=None,
              custom_code=None, custom_options=b"") -> bytes:
        """A custom op (opcode CUSTOM) takes `custom_code` and flexbuffer
        `custom_options`."""
        import flatbuffers
        code = S.OperatorCodeT()
        code.builtinCode = opcode
        code.deprecatedBuiltinCode = min(opcode, 127)
        code.version = 1
        op = S.OperatorT()
        op.opcodeIndex = 0
        op.inputs = list(ins)
        op.outputs = list(outs)
        op.builtinOptionsType = options_type
        op.builtinOptions = options
        if custom_code is not None:
            code.customCode = custom_code.encode()
            op.customOptions = list(custom_options)
            op.customOptionsFormat = S.CustomOptionsFormat.FLEXBUFFERS
        sg = S.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs, sg.operators = self.tensors, self.inputs, self.outputs, [op]
        sg.name = b"main"
        m = S.ModelT()
        m.version = 3
        m.operatorCodes = [code]
        m.subgraphs = [sg]
        m.buffers = self.buffers
        m.description = b"tfrewrite interpreter conformance"
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def opts(cls, **fields):
    o = getattr(S, cls)()
    for k, v in fields.items():
        setattr(o, k, v)
    return o


rng = np.random.default_rng(7)


def i8(shape):
    return rng.integers(-127, 128, size=shape, dtype=np.int8)


def f32(shape, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def binary(opcode, ttype, shapes, out_shape, qs=None, act=ACT.NONE):
    n = Net()
    a = n.input(shapes[0], ttype, qs[0] if qs else None)
    b = n.input(shapes[1], ttype, qs[1] if qs else None)
    o = n.output(out_shape, ttype, qs[2] if qs else None)
    table = {OP.ADD: ("AddOptions", "AddOptionsT"), OP.SUB: ("SubOptions", "SubOptionsT"),
             OP.MUL: ("MulOptions", "MulOptionsT")}
    if opcode in table:
        tag, cls = table[opcode]
        return n.build(opcode, [a, b], [o], getattr(OPT, tag), opts(cls, fusedActivationFunction=act))
    return n.build(opcode, [a, b], [o])


def unary(opcode, ttype, shape, qin=None, qout=None, options=(0, None)):
    n = Net()
    a = n.input(shape, ttype, qin)
    o = n.output(shape, ttype, qout)
    return n.build(opcode, [a], [o], options[0], options[1])


def conv(ttype, in_shape, filt_shape, out_shape, stride, dil, pad, act, depthwise=False, mult=1):
    n = Net()
    oc = filt_shape[3] if depthwise else filt_shape[0]
    if ttype == T.INT8:
        ws = rng.uniform(0.002, 0.02, size=oc).astype(np.float32)
        x = n.input(in_shape, T.INT8, (0.05, -7))
        w = n.tensor(filt_shape, T.INT8, (ws, np.zeros(oc)), data=i8(filt_shape), qdim=3 if depthwise else 0)
        b = n.tensor([oc], T.INT32, (0.05 * ws, np.zeros(oc)), data=rng.integers(-3000, 3000, oc, dtype=np.int32))
        o = n.output(out_shape, T.INT8, (0.25, 3))
    else:
        x = n.input(in_shape, T.FLOAT32)
        w = n.tensor(filt_shape, T.FLOAT32, data=f32(filt_shape))
        b = n.tensor([oc], T.FLOAT32, data=f32([oc]))
        o = n.output(out_shape, T.FLOAT32)
    if depthwise:
        o_ = opts("DepthwiseConv2DOptionsT", padding=pad, strideW=stride[1], strideH=stride[0], depthMultiplier=mult,
                  fusedActivationFunction=act, dilationWFactor=dil[1], dilationHFactor=dil[0])
        return n.build(OP.DEPTHWISE_CONV_2D, [x, w, b], [o], OPT.DepthwiseConv2DOptions, o_)
    o_ = opts("Conv2DOptionsT", padding=pad, strideW=stride[1], strideH=stride[0], fusedActivationFunction=act,
              dilationWFactor=dil[1], dilationHFactor=dil[0])
    return n.build(OP.CONV_2D, [x, w, b], [o], OPT.Conv2DOptions, o_)


def fully_connected(ttype, in_shape, units, out_shape, keep, per_channel, bias=True, act=ACT.NONE):
    n = Net()
    depth = in_shape[-1]
    if ttype == T.INT8:
        ws = rng.uniform(0.002, 0.02, size=units if per_channel else 1).astype(np.float32)
        x = n.input(in_shape, T.INT8, (0.04, 5))
        w = n.tensor([units, depth], T.INT8, (ws, np.zeros(ws.size)), data=i8([units, depth]))
        b = n.tensor([units], T.INT32, (0.04 * ws, np.zeros(ws.size)), data=rng.integers(-2000, 2000, units, dtype=np.int32)) if bias else -1
        o = n.output(out_shape, T.INT8, (0.2, -4))
    else:
        x = n.input(in_shape, T.FLOAT32)
        w = n.tensor([units, depth], T.FLOAT32, data=f32([units, depth]))
        b = n.tensor([units], T.FLOAT32, data=f32([units])) if bias else -1
        o = n.output(out_shape, T.FLOAT32)
    return n.build(OP.FULLY_CONNECTED, [x, w, b], [o], OPT.FullyConnectedOptions,
                   opts("FullyConnectedOptionsT", fusedActivationFunction=act, keepNumDims=keep))


def pool(opcode, ttype, in_shape, out_shape, filt, stride, pad, act=ACT.NONE):
    n = Net()
    q = (0.03, -9) if ttype == T.INT8 else None
    x = n.input(in_shape, ttype, q)
    o = n.output(out_shape, ttype, q)
    return n.build(opcode, [x], [o], OPT.Pool2DOptions,
                   opts("Pool2DOptionsT", padding=pad, strideW=stride, strideH=stride, filterWidth=filt[1],
                        filterHeight=filt[0], fusedActivationFunction=act))


def softmax(ttype, shape, beta, qin=(0.15, 3), out_type=None):
    n = Net()
    out_type = out_type or ttype
    x = n.input(shape, ttype, qin if ttype == T.INT8 else None)
    out_q = {T.INT8: (1 / 256, -128), T.INT16: (1 / 65536, -32768)}.get(out_type)
    o = n.output(shape, out_type, out_q)
    return n.build(OP.SOFTMAX, [x], [o], OPT.SoftmaxOptions, opts("SoftmaxOptionsT", beta=beta))


def mean(ttype, shape, axes, out_shape, keep, qin=(0.05, -3), qout=(0.02, 6)):
    n = Net()
    x = n.input(shape, ttype, qin if ttype == T.INT8 else None)
    a = n.tensor([len(axes)], T.INT32, data=np.array(axes, np.int32))
    o = n.output(out_shape, ttype, qout if ttype == T.INT8 else None)
    return n.build(OP.MEAN, [x, a], [o], OPT.ReducerOptions, opts("ReducerOptionsT", keepDims=keep))


def pad(ttype, shape, pads, out_shape, v2=False, q=(0.1, 4)):
    n = Net()
    x = n.input(shape, ttype, q if ttype == T.INT8 else None)
    p = n.tensor([len(pads), 2], T.INT32, data=np.array(pads, np.int32))
    ins = [x, p]
    if v2:
        val = np.array([17], np.int8) if ttype == T.INT8 else np.array([1.5], np.float32)
        ins.append(n.tensor([1], ttype, q if ttype == T.INT8 else None, data=val))
    o = n.output(out_shape, ttype, q if ttype == T.INT8 else None)
    if v2:
        return n.build(OP.PADV2, ins, [o], OPT.PadV2Options, S.PadV2OptionsT())
    return n.build(OP.PAD, ins, [o], OPT.PadOptions, S.PadOptionsT())


def concat(ttype, shapes, axis, out_shape, q=(0.1, -2)):
    n = Net()
    ins = [n.input(s, ttype, q if ttype == T.INT8 else None) for s in shapes]
    o = n.output(out_shape, ttype, q if ttype == T.INT8 else None)
    return n.build(OP.CONCATENATION, ins, [o], OPT.ConcatenationOptions,
                   opts("ConcatenationOptionsT", axis=axis, fusedActivationFunction=ACT.NONE))


def strided_slice(ttype, shape, begin, end, strides, out_shape, bm=0, em=0, sm=0, q=(0.1, 1)):
    n = Net()
    x = n.input(shape, ttype, q if ttype == T.INT8 else None)
    ins = [x] + [n.tensor([len(v)], T.INT32, data=np.array(v, np.int32)) for v in (begin, end, strides)]
    o = n.output(out_shape, ttype, q if ttype == T.INT8 else None)
    return n.build(OP.STRIDED_SLICE, ins, [o], OPT.StridedSliceOptions,
                   opts("StridedSliceOptionsT", beginMask=bm, endMask=em, shrinkAxisMask=sm))


def pack(ttype, shape, count, axis, out_shape, q=(0.1, 1)):
    n = Net()
    ins = [n.input(shape, ttype, q if ttype == T.INT8 else None) for _ in range(count)]
    o = n.output(out_shape, ttype, q if ttype == T.INT8 else None)
    return n.build(OP.PACK, ins, [o], OPT.PackOptions, opts("PackOptionsT", valuesCount=count, axis=axis))


def quantize(in_type, out_type, shape, qin, qout):
    n = Net()
    x = n.input(shape, in_type, qin)
    o = n.output(shape, out_type, qout)
    return n.build(OP.QUANTIZE if out_type != T.FLOAT32 else OP.DEQUANTIZE, [x], [o])


def transpose(ttype, shape, perm, q=(0.1, 1)):
    n = Net()
    x = n.input(shape, ttype, q if ttype == T.INT8 else None)
    p = n.tensor([len(perm)], T.INT32, data=np.array(perm, np.int32))
    o = n.output([shape[i] for i in perm], ttype, q if ttype == T.INT8 else None)
    return n.build(OP.TRANSPOSE, [x, p], [o], OPT.TransposeOptions, S.TransposeOptionsT())


def gather(ttype, shape, axis, n_idx, q=(0.1, 1)):
    n = Net()
    x = n.tensor(shape, ttype, q if ttype == T.INT8 else None,
                 data=i8(shape) if ttype == T.INT8 else f32(shape))
    idx = n.input([n_idx], T.INT32)
    out_shape = list(shape[:axis]) + [n_idx] + list(shape[axis + 1:])
    o = n.output(out_shape, ttype, q if ttype == T.INT8 else None)
    return n.build(OP.GATHER, [x, idx], [o], OPT.GatherOptions, opts("GatherOptionsT", axis=axis))


def reshape_like(opcode, ttype, shape, out_shape, aux=None, options=(0, None)):
    n = Net()
    x = n.input(shape, ttype)
    ins = [x]
    if aux is not None:
        ins.append(n.tensor([len(aux)] if opcode == OP.RESHAPE else [], T.INT32, data=np.array(aux, np.int32)))
    o = n.output(out_shape, T.INT32 if opcode == OP.SHAPE else ttype)
    return n.build(opcode, ins, [o], options[0], options[1])


def svdf(ttype, batch=2, n_input=12, filters=8, rank=2, memory=5, state_type=None, act=ACT.NONE, bias=True):
    """SVDF with its variable state tensor (input 4); the runs carry the state, so the test
    checks the shift, the feature and time products and the rescaling over several steps."""
    n = Net()
    units = filters // rank
    if ttype == T.INT8:
        st = state_type or T.INT16
        x = n.input([batch, n_input], T.INT8, (0.05, -4))
        wf = n.tensor([filters, n_input], T.INT8, (0.011, 0), data=i8([filters, n_input]))
        t_data = (rng.integers(-20000, 20000, size=[filters, memory], dtype=np.int16) if st == T.INT16
                  else i8([filters, memory]))
        state_q = (0.0043, 0) if st == T.INT16 else (0.031, 3)
        wt = n.tensor([filters, memory], st, (0.0007 if st == T.INT16 else 0.013, 0), data=t_data)
        bias_scale = np.float32(state_q[0]) * np.float32(0.0007 if st == T.INT16 else 0.013)
        b = n.tensor([units], T.INT32, (bias_scale, 0), data=rng.integers(-4000, 4000, units, dtype=np.int32)) if bias else -1
        state = n.tensor([batch, memory * filters], st, state_q)
        o = n.output([batch, units], T.INT8, (0.09, 2))
    else:
        x = n.input([batch, n_input], T.FLOAT32)
        wf = n.tensor([filters, n_input], T.FLOAT32, data=f32([filters, n_input]))
        wt = n.tensor([filters, memory], T.FLOAT32, data=f32([filters, memory]))
        b = n.tensor([units], T.FLOAT32, data=f32([units])) if bias else -1
        state = n.tensor([batch, memory * filters], T.FLOAT32)
        o = n.output([batch, units], T.FLOAT32)
    n.tensors[state].isVariable = True
    return n.build(OP.SVDF, [x, wf, wt, b, state], [o], OPT.SVDFOptions,
                   opts("SVDFOptionsT", rank=rank, fusedActivationFunction=act))


def lstm(ttype, batch=2, steps=4, n_input=5, units=6, time_major=False, cell_clip=0.0, cell_scale=2.0 ** -11,
         hidden_q=(1 / 128, 0)):
    """UNIDIRECTIONAL_SEQUENCE_LSTM with its 24 inputs (lstm_shared.h order): the variable
    hidden and cell states carry over between runs, like SVDF's."""
    n = Net()
    x_shape = [steps, batch, n_input] if time_major else [batch, steps, n_input]
    out_shape = x_shape[:2] + [units]
    if ttype == T.INT8:
        x = n.input(x_shape, T.INT8, (0.05, -3))
        w_in = [n.tensor([units, n_input], T.INT8, (0.02 + 0.002 * g, 0), data=i8([units, n_input])) for g in range(4)]
        w_rec = [n.tensor([units, units], T.INT8, (0.015 + 0.001 * g, 0), data=i8([units, units])) for g in range(4)]
        biases = [n.tensor([units], T.INT32, (np.float32(0.05) * np.float32(0.02 + 0.002 * g), 0),
                           data=rng.integers(-2000, 2000, units, dtype=np.int32)) for g in range(4)]
        hidden = n.tensor([batch, units], T.INT8, hidden_q)
        cell = n.tensor([batch, units], T.INT16, (cell_scale, 0))
        o = n.output(out_shape, T.INT8, hidden_q)
    else:
        x = n.input(x_shape, T.FLOAT32)
        w_in = [n.tensor([units, n_input], T.FLOAT32, data=f32([units, n_input])) for _ in range(4)]
        w_rec = [n.tensor([units, units], T.FLOAT32, data=f32([units, units])) for _ in range(4)]
        biases = [n.tensor([units], T.FLOAT32, data=f32([units])) for _ in range(4)]
        hidden = n.tensor([batch, units], T.FLOAT32)
        cell = n.tensor([batch, units], T.FLOAT32)
        o = n.output(out_shape, T.FLOAT32)
    n.tensors[hidden].isVariable = True
    n.tensors[cell].isVariable = True
    ins = [x] + w_in + w_rec + [-1, -1, -1] + biases + [-1, -1] + [hidden, cell] + [-1] * 4
    return n.build(OP.UNIDIRECTIONAL_SEQUENCE_LSTM, ins, [o], OPT.UnidirectionalSequenceLSTMOptions,
                   opts("UnidirectionalSequenceLSTMOptionsT", fusedActivationFunction=ACT.TANH, cellClip=cell_clip,
                        timeMajor=time_major))


def compare(opcode, ttype, shapes, qs=None):
    n = Net()
    a = n.input(shapes[0], ttype, qs[0] if qs else None)
    b = n.input(shapes[1], ttype, qs[1] if qs else None)
    out = list(np.broadcast_shapes(tuple(shapes[0]), tuple(shapes[1])))
    o = n.output(out, T.BOOL)
    return n.build(opcode, [a, b], [o])


def logical(opcode, shapes):
    n = Net()
    ins = [n.input(s, T.BOOL) for s in shapes]
    out = list(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    return n.build(opcode, ins, [n.output(out, T.BOOL)])


def split(ttype, shape, axis, pieces, sizes=None, q=(0.1, 1)):
    """SPLIT (equal pieces), SPLIT_V (sizes, one −1) or, with pieces == 'unpack', UNPACK."""
    n = Net()
    qq = q if ttype == T.INT8 else None
    given_axis, axis = axis, axis % len(shape)
    if pieces == "unpack":
        x = n.input(shape, ttype, qq)
        outs = [n.output(shape[:axis] + shape[axis + 1:], ttype, qq) for _ in range(shape[axis])]
        return n.build(OP.UNPACK, [x], outs, OPT.UnpackOptions, opts("UnpackOptionsT", num=shape[axis], axis=axis))
    ax = n.tensor([], T.INT32, data=np.array(given_axis, np.int32))
    if sizes is None:
        x = n.input(shape, ttype, qq)
        outs = [n.output(shape[:axis] + [shape[axis] // pieces] + shape[axis + 1:], ttype, qq) for _ in range(pieces)]
        return n.build(OP.SPLIT, [ax, x], outs, OPT.SplitOptions, opts("SplitOptionsT", numSplits=pieces))
    x = n.input(shape, ttype, qq)
    sz = n.tensor([len(sizes)], T.INT32, data=np.array(sizes, np.int32))
    real = [s if s >= 0 else shape[axis] - sum(v for v in sizes if v >= 0) for s in sizes]
    outs = [n.output(shape[:axis] + [r] + shape[axis + 1:], ttype, qq) for r in real]
    return n.build(OP.SPLIT_V, [x, sz, ax], outs, OPT.SplitVOptions, opts("SplitVOptionsT", numSplits=len(sizes)))


def slice_op(ttype, shape, begin, size, index_type=T.INT32):
    n = Net()
    q = (0.1, 1) if ttype == T.INT8 else None
    x = n.input(shape, ttype, q)
    dt = np.int32 if index_type == T.INT32 else np.int64
    b = n.tensor([len(begin)], index_type, data=np.array(begin, dt))
    s = n.tensor([len(size)], index_type, data=np.array(size, dt))
    out = [d - bb if ss == -1 else ss for d, bb, ss in zip(shape, begin, size)]
    return n.build(OP.SLICE, [x, b, s], [n.output(out, ttype, q)], OPT.SliceOptions, S.SliceOptionsT())


Q_IN = (0.06, -5)
SINGLE_OP_MODELS = {
    "slice_f32_3d": lambda: slice_op(T.FLOAT32, [3, 5, 4], [1, 0, 2], [2, -1, 2]),
    "slice_int8_int64_indices": lambda: slice_op(T.INT8, [4, 6], [0, 3], [3, 3], index_type=T.INT64),
    # Comparisons (int8 compares real values: different scales and zero points) and logic.
    "less_f32_broadcast": lambda: compare(OP.LESS, T.FLOAT32, ([3, 4], [4])),
    "greater_equal_int32": lambda: compare(OP.GREATER_EQUAL, T.INT32, ([2, 5], [2, 5])),
    "equal_int8_scaled": lambda: compare(OP.EQUAL, T.INT8, ([4, 6], [1, 6]), [(0.05, 3), (0.1, -2)]),
    "less_equal_int8_scaled": lambda: compare(OP.LESS_EQUAL, T.INT8, ([4, 6], [4, 6]), [(0.02, 0), (0.03, 7)]),
    "not_equal_f32": lambda: compare(OP.NOT_EQUAL, T.FLOAT32, ([2, 3], [2, 3])),
    "greater_int8": lambda: compare(OP.GREATER, T.INT8, ([3, 1, 5], [4, 1]), [(0.07, -1), (0.07, -1)]),
    "logical_and_broadcast": lambda: logical(OP.LOGICAL_AND, ([2, 3], [3])),
    "logical_or": lambda: logical(OP.LOGICAL_OR, ([4], [4])),
    "logical_not": lambda: logical(OP.LOGICAL_NOT, ([2, 5],)),
    # SPLIT / SPLIT_V / UNPACK.
    "split_f32_axis1": lambda: split(T.FLOAT32, [2, 6, 3], 1, 3),
    "split_int8_last_axis": lambda: split(T.INT8, [4, 8], -1, 4),
    "split_v_f32": lambda: split(T.FLOAT32, [3, 10], 1, None, sizes=[2, -1, 5]),
    "split_v_int8_axis0": lambda: split(T.INT8, [6, 4], 0, None, sizes=[1, 5]),
    "unpack_f32_axis0": lambda: split(T.FLOAT32, [3, 4, 2], 0, "unpack"),
    "unpack_int8_axis1": lambda: split(T.INT8, [2, 3, 5], 1, "unpack"),
    # UNIDIRECTIONAL_SEQUENCE_LSTM (stateful like SVDF).
    "lstm_float": lambda: lstm(T.FLOAT32),
    "lstm_float_time_major_clip": lambda: lstm(T.FLOAT32, time_major=True, cell_clip=0.7),
    "lstm_int8": lambda: lstm(T.INT8),
    "lstm_int8_time_major": lambda: lstm(T.INT8, time_major=True, batch=3),
    "lstm_int8_clip_zero_point": lambda: lstm(T.INT8, cell_clip=1.5, cell_scale=2.0 ** -12, hidden_q=(0.009, 5)),
    "lstm_int8_cell_scale_large": lambda: lstm(T.INT8, cell_scale=2.0 ** -8, steps=6),
    "lstm_int8_cell_scale_not_power_of_two": lambda: lstm(T.INT8, cell_scale=0.0003),
    # SVDF (stateful: the runs share the state, as on the device).
    "svdf_float_relu": lambda: svdf(T.FLOAT32, act=ACT.RELU),
    "svdf_float_rank1": lambda: svdf(T.FLOAT32, rank=1, filters=6, memory=3),
    "svdf_int8_int16_state": lambda: svdf(T.INT8),
    "svdf_int8_int8_state": lambda: svdf(T.INT8, state_type=T.INT8),
    "svdf_int8_rank1_batch1": lambda: svdf(T.INT8, batch=1, rank=1, filters=16, memory=8),
    # Arithmetic with broadcasting and fused activations.
    "add_int8_broadcast_relu": lambda: binary(OP.ADD, T.INT8, ([2, 3, 4, 5], [1, 1, 5]), [2, 3, 4, 5],
                                              [(0.05, -3), (0.02, 5), (0.08, 2)], ACT.RELU),
    "add_int8_same_scale": lambda: binary(OP.ADD, T.INT8, ([3, 7], [3, 7]), [3, 7], [(0.1, 0), (0.1, 0), (0.1, 0)]),
    "sub_int8_relu6": lambda: binary(OP.SUB, T.INT8, ([4, 6], [4, 6]), [4, 6], [(0.03, 10), (0.05, -20), (0.04, -100)], ACT.RELU6),
    "sub_int8_broadcast": lambda: binary(OP.SUB, T.INT8, ([1, 5], [3, 1]), [3, 5], [(0.03, 1), (0.02, 2), (0.05, 3)]),
    "mul_int8_broadcast": lambda: binary(OP.MUL, T.INT8, ([2, 3, 6], [6]), [2, 3, 6], [(0.05, 4), (0.04, -6), (0.03, 1)]),
    "mul_int8_relu_n1_to_1": lambda: binary(OP.MUL, T.INT8, ([5, 5], [5, 5]), [5, 5], [(0.1, 0), (0.1, 0), (0.01, 0)], ACT.RELU_N1_TO_1),
    "maximum_int8": lambda: binary(OP.MAXIMUM, T.INT8, ([4, 3], [1, 3]), [4, 3], [(0.1, 1)] * 3),
    "minimum_int8": lambda: binary(OP.MINIMUM, T.INT8, ([4, 3], [4, 3]), [4, 3], [(0.1, 1)] * 3),
    "add_f32_broadcast_relu6": lambda: binary(OP.ADD, T.FLOAT32, ([2, 1, 4], [3, 1]), [2, 3, 4], act=ACT.RELU6),
    "sub_f32": lambda: binary(OP.SUB, T.FLOAT32, ([3, 4], [3, 4]), [3, 4]),
    "mul_f32_broadcast_relu": lambda: binary(OP.MUL, T.FLOAT32, ([2, 3, 4], [4]), [2, 3, 4], act=ACT.RELU),
    "maximum_f32": lambda: binary(OP.MAXIMUM, T.FLOAT32, ([3, 4], [1]), [3, 4]),
    "minimum_f32": lambda: binary(OP.MINIMUM, T.FLOAT32, ([3, 4], [3, 4]), [3, 4]),
    "add_int32": lambda: binary(OP.ADD, T.INT32, ([3, 4], [4]), [3, 4]),
    "mul_int32": lambda: binary(OP.MUL, T.INT32, ([3, 4], [3, 4]), [3, 4]),
    # SQUARED_DIFFERENCE (Docs/adding-an-op.md): int8 with saturation at the top of the output
    # range, 4-D broadcasting both ways, float32 and int32.
    "squared_difference_int8_broadcast": lambda: binary(OP.SQUARED_DIFFERENCE, T.INT8, ([2, 1, 4, 5], [3, 1, 5]), [2, 3, 4, 5],
                                                        [(0.05, -3), (0.03, 7), (0.2, -128)]),
    "squared_difference_int8_same_scale": lambda: binary(OP.SQUARED_DIFFERENCE, T.INT8, ([4, 9], [4, 9]), [4, 9],
                                                         [(0.1, 2), (0.1, 2), (1.5, -100)]),
    "squared_difference_int8_fine_output": lambda: binary(OP.SQUARED_DIFFERENCE, T.INT8, ([6, 7], [7]), [6, 7],
                                                          [(0.004, 0), (0.011, -20), (0.003, -128)]),
    "squared_difference_f32_broadcast": lambda: binary(OP.SQUARED_DIFFERENCE, T.FLOAT32, ([2, 1, 4], [3, 1]), [2, 3, 4]),
    "squared_difference_int32": lambda: binary(OP.SQUARED_DIFFERENCE, T.INT32, ([3, 4], [4]), [3, 4]),
    # Activations.
    "logistic_int8": lambda: unary(OP.LOGISTIC, T.INT8, [4, 64], (0.1, 10), (1 / 256, -128)),
    "logistic_int8_fine": lambda: unary(OP.LOGISTIC, T.INT8, [256], (0.02, -1), (1 / 256, -128)),
    "tanh_int8": lambda: unary(OP.TANH, T.INT8, [4, 64], (0.03, -5), (1 / 128, 0)),
    "tanh_int8_coarse": lambda: unary(OP.TANH, T.INT8, [256], (0.2, 0), (1 / 128, 0)),
    "relu_int8": lambda: unary(OP.RELU, T.INT8, [3, 50], (0.05, -10), (0.03, -128)),
    "relu6_int8": lambda: unary(OP.RELU6, T.INT8, [3, 50], (0.06, -30), (0.06, -30)),
    "leaky_relu_int8": lambda: unary(OP.LEAKY_RELU, T.INT8, [3, 50], (0.05, 3), (0.04, -20),
                                     (OPT.LeakyReluOptions, opts("LeakyReluOptionsT", alpha=0.2))),
    "logistic_f32": lambda: unary(OP.LOGISTIC, T.FLOAT32, [3, 40]),
    "tanh_f32": lambda: unary(OP.TANH, T.FLOAT32, [3, 40]),
    "relu_f32": lambda: unary(OP.RELU, T.FLOAT32, [3, 40]),
    "relu6_f32": lambda: unary(OP.RELU6, T.FLOAT32, [3, 40]),
    "leaky_relu_f32": lambda: unary(OP.LEAKY_RELU, T.FLOAT32, [3, 40], options=(OPT.LeakyReluOptions, opts("LeakyReluOptionsT", alpha=0.3))),
    "hard_swish_f32": lambda: unary(OP.HARD_SWISH, T.FLOAT32, [3, 40], options=(OPT.HardSwishOptions, S.HardSwishOptionsT())),
    "rsqrt_f32": lambda: unary(OP.RSQRT, T.FLOAT32, [3, 40]),
    "sqrt_f32": lambda: unary(OP.SQRT, T.FLOAT32, [3, 40]),
    # Convolutions.
    "conv_int8_dilated_same_relu": lambda: conv(T.INT8, [1, 9, 9, 3], [4, 3, 3, 3], [1, 9, 9, 4], (1, 1), (2, 2), S.Padding.SAME, ACT.RELU),
    "conv_int8_stride2_valid_17ch": lambda: conv(T.INT8, [2, 8, 7, 5], [17, 3, 2, 5], [2, 3, 3, 17], (2, 2), (1, 1), S.Padding.VALID, ACT.NONE),
    "conv_int8_same_stride2_relu6": lambda: conv(T.INT8, [1, 10, 6, 2], [8, 4, 3, 2], [1, 5, 3, 8], (2, 2), (1, 1), S.Padding.SAME, ACT.RELU6),
    "conv_f32_dilated_same": lambda: conv(T.FLOAT32, [1, 9, 9, 3], [4, 3, 3, 3], [1, 9, 9, 4], (1, 1), (2, 2), S.Padding.SAME, ACT.NONE),
    "conv_f32_stride2_relu": lambda: conv(T.FLOAT32, [2, 8, 7, 5], [17, 3, 2, 5], [2, 4, 4, 17], (2, 2), (1, 1), S.Padding.SAME, ACT.RELU),
    "dw_int8_mult2_valid": lambda: conv(T.INT8, [1, 7, 7, 3], [1, 3, 3, 6], [1, 3, 3, 6], (2, 2), (1, 1), S.Padding.VALID, ACT.NONE, True, 2),
    "dw_int8_same_relu_20ch": lambda: conv(T.INT8, [1, 6, 5, 20], [1, 3, 3, 20], [1, 6, 5, 20], (1, 1), (1, 1), S.Padding.SAME, ACT.RELU, True, 1),
    "dw_int8_dilated": lambda: conv(T.INT8, [1, 9, 9, 16], [1, 3, 3, 16], [1, 9, 9, 16], (1, 1), (2, 2), S.Padding.SAME, ACT.NONE, True, 1),
    "dw_f32_mult3_same": lambda: conv(T.FLOAT32, [1, 6, 6, 2], [1, 3, 3, 6], [1, 3, 3, 6], (2, 2), (1, 1), S.Padding.SAME, ACT.RELU6, True, 3),
    "dw_f32_18ch": lambda: conv(T.FLOAT32, [1, 5, 5, 18], [1, 3, 3, 18], [1, 5, 5, 18], (1, 1), (1, 1), S.Padding.SAME, ACT.NONE, True, 1),
    # Fully connected.
    "fc_int8_per_tensor_keep_dims": lambda: fully_connected(T.INT8, [2, 3, 8], 5, [2, 3, 5], True, False),
    "fc_int8_per_channel_relu": lambda: fully_connected(T.INT8, [4, 37], 19, [4, 19], False, True, act=ACT.RELU),
    "fc_int8_no_bias": lambda: fully_connected(T.INT8, [1, 20], 3, [1, 3], False, False, bias=False),
    "fc_f32_keep_dims": lambda: fully_connected(T.FLOAT32, [2, 3, 8], 5, [2, 3, 5], True, False),
    "fc_f32_no_bias_relu": lambda: fully_connected(T.FLOAT32, [3, 33], 18, [3, 18], False, False, bias=False, act=ACT.RELU),
    # Pooling.
    "avgpool_int8_same": lambda: pool(OP.AVERAGE_POOL_2D, T.INT8, [1, 7, 7, 3], [1, 4, 4, 3], (3, 3), 2, S.Padding.SAME),
    "avgpool_int8_valid_relu6": lambda: pool(OP.AVERAGE_POOL_2D, T.INT8, [2, 6, 6, 4], [2, 2, 2, 4], (3, 3), 2, S.Padding.VALID, ACT.RELU6),
    "maxpool_int8_same": lambda: pool(OP.MAX_POOL_2D, T.INT8, [1, 7, 5, 3], [1, 4, 3, 3], (2, 2), 2, S.Padding.SAME),
    "avgpool_f32_same": lambda: pool(OP.AVERAGE_POOL_2D, T.FLOAT32, [1, 7, 7, 3], [1, 4, 4, 3], (3, 3), 2, S.Padding.SAME),
    "maxpool_f32_valid_relu": lambda: pool(OP.MAX_POOL_2D, T.FLOAT32, [1, 6, 6, 2], [1, 5, 5, 2], (2, 2), 1, S.Padding.VALID, ACT.RELU),
    # Softmax.
    "softmax_int8": lambda: softmax(T.INT8, [3, 10], 1.0),
    "softmax_int8_beta_half": lambda: softmax(T.INT8, [2, 33], 0.5, (0.4, -10)),
    "softmax_int8_sharp": lambda: softmax(T.INT8, [4, 7], 1.0, (0.02, 0)),
    "softmax_f32_beta2": lambda: softmax(T.FLOAT32, [3, 10], 2.0),
    "softmax_int8_to_int16": lambda: softmax(T.INT8, [3, 10], 1.0, out_type=T.INT16),
    "softmax_int8_to_int16_sharp": lambda: softmax(T.INT8, [2, 2], 1.0, (0.07, 2), out_type=T.INT16),
    # Mean.
    "mean_int8_hw": lambda: mean(T.INT8, [1, 5, 6, 4], [1, 2], [1, 4], False),
    "mean_int8_keep_dims": lambda: mean(T.INT8, [2, 5, 6, 4], [1], [2, 1, 6, 4], True),
    "mean_int8_last_axis_same_scale": lambda: mean(T.INT8, [3, 9], [-1], [3], False, (0.05, 2), (0.05, 2)),
    "mean_f32_hw_keep": lambda: mean(T.FLOAT32, [1, 5, 6, 4], [1, 2], [1, 1, 1, 4], True),
    "mean_f32_axis0": lambda: mean(T.FLOAT32, [4, 3, 2], [0], [3, 2], False),
    # Data movement.
    "pad_int8": lambda: pad(T.INT8, [1, 3, 4, 2], [[0, 0], [1, 2], [0, 1], [0, 0]], [1, 6, 5, 2]),
    "padv2_int8": lambda: pad(T.INT8, [2, 3], [[1, 0], [2, 1]], [3, 6], v2=True),
    "pad_f32": lambda: pad(T.FLOAT32, [2, 3, 2], [[0, 1], [1, 1], [2, 0]], [3, 5, 4]),
    "padv2_f32": lambda: pad(T.FLOAT32, [2, 3], [[1, 1], [0, 2]], [4, 5], v2=True),
    "concat_int8_axis2": lambda: concat(T.INT8, [[1, 2, 3, 2], [1, 2, 1, 2], [1, 2, 4, 2]], 2, [1, 2, 8, 2]),
    "concat_f32_negative_axis": lambda: concat(T.FLOAT32, [[2, 3], [2, 5]], -1, [2, 8]),
    "strided_slice_int8_masks": lambda: strided_slice(T.INT8, [4, 6, 5], [1, -5, 0], [3, 0, 4], [1, 2, 1], [2, 3, 4], bm=2, em=2),
    "strided_slice_int8_shrink": lambda: strided_slice(T.INT8, [4, 6], [2, 1], [3, 5], [1, 2], [2], sm=1),
    "strided_slice_f32_negative_stride": lambda: strided_slice(T.FLOAT32, [5, 4], [4, 0], [0, 4], [-1, 1], [4, 4]),
    "strided_slice_f32_end_mask": lambda: strided_slice(T.FLOAT32, [5, 4], [-3, 1], [0, 0], [1, 1], [3, 3], em=3),
    "pack_int8_axis1": lambda: pack(T.INT8, [2, 3], 3, 1, [2, 3, 3]),
    "pack_f32_axis0": lambda: pack(T.FLOAT32, [4], 2, 0, [2, 4]),
    "transpose_int8": lambda: transpose(T.INT8, [2, 3, 4], [2, 0, 1]),
    "transpose_f32": lambda: transpose(T.FLOAT32, [2, 3, 4, 5], [0, 3, 1, 2]),
    "gather_int8_axis1": lambda: gather(T.INT8, [3, 8, 2], 1, 5),
    "gather_f32_axis0": lambda: gather(T.FLOAT32, [8, 3], 0, 4),
    "reshape_f32_infer": lambda: reshape_like(OP.RESHAPE, T.FLOAT32, [2, 3, 4], [4, 6], aux=[-1, 6]),
    "squeeze_f32": lambda: reshape_like(OP.SQUEEZE, T.FLOAT32, [1, 3, 1, 4], [3, 4],
                                        options=(OPT.SqueezeOptions, opts("SqueezeOptionsT", squeezeDims=[0, 2]))),
    "expand_dims_f32": lambda: reshape_like(OP.EXPAND_DIMS, T.FLOAT32, [3, 4], [3, 1, 4], aux=[1],
                                            options=(OPT.ExpandDimsOptions, S.ExpandDimsOptionsT())),
    "shape_f32": lambda: reshape_like(OP.SHAPE, T.FLOAT32, [2, 3, 4], [3],
                                      options=(OPT.ShapeOptions, opts("ShapeOptionsT", outType=T.INT32))),
    # Quantize / dequantize.
    "quantize_f32_to_int8": lambda: quantize(T.FLOAT32, T.INT8, [4, 50], None, (0.013, -7)),
    "quantize_int8_requantize": lambda: quantize(T.INT8, T.INT8, [4, 50], (0.05, 3), (0.021, -9)),
    "dequantize_int8": lambda: quantize(T.INT8, T.FLOAT32, [4, 50], (0.037, 11), None),
    "quantize_int16_to_int32": lambda: quantize(T.INT16, T.INT32, [4, 50], (0.00061, 0), (3.05e-05, 0)),
    "quantize_int8_to_int32": lambda: quantize(T.INT8, T.INT32, [4, 50], (0.05, 3), (0.0011, 0)),
    "quantize_int16_to_int8": lambda: quantize(T.INT16, T.INT8, [4, 50], (0.00061, 0), (0.04, -3)),
}


@pytest.fixture(scope="module")
def single_op_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("single_op_models")


@pytest.mark.parametrize("name", sorted(SINGLE_OP_MODELS))
def test_single_op_matches_tflm(name, single_op_dir, tmp_path):
    path = single_op_dir / f"{name}.tflite"
    path.write_bytes(SINGLE_OP_MODELS[name]())
    check_model(path, tmp_path, runs=RUNS)


def test_interpreter_catches_a_wrong_model(tmp_path):
    """The comparison can fail: a model whose output quantization differs from
    the one TFLM ran must not compare equal (guards against comparing a
    result with itself)."""
    a = tmp_path / "a.tflite"
    b = tmp_path / "b.tflite"
    a.write_bytes(unary(OP.RELU, T.INT8, [64], (0.05, -10), (0.03, -128)))
    b.write_bytes(unary(OP.RELU, T.INT8, [64], (0.05, -10), (0.031, -128)))
    inputs = oracle.make_inputs(a, SEED, 5)
    ours, err = run_ours(b, inputs, tmp_path / "w")
    assert err is None, err
    theirs = run_tflm(a, inputs)
    assert not isinstance(theirs, oracle.RunFailure), str(theirs)
    with pytest.raises(AssertionError):
        assert_conforms(b, ours, theirs)


# ---------------------------------------------------------------------------
# Float single-op models quantized by tfrewrite
# ---------------------------------------------------------------------------

QUANTIZED_FLOAT_MODELS = {
    # A runtime input minus a per-channel constant (TF's x − mean as in normalization layers).
    "squared_difference_const": lambda: _with_constant_operand(OP.SQUARED_DIFFERENCE, [2, 3, 8], [8]),
    "squared_difference_two_inputs": lambda: binary(OP.SQUARED_DIFFERENCE, T.FLOAT32, ([2, 3, 8], [3, 1]), [2, 3, 8]),
}


def _with_constant_operand(opcode, shape, const_shape):
    n = Net()
    a = n.input(shape, T.FLOAT32)
    c = n.tensor(const_shape, T.FLOAT32, data=f32(const_shape, 1.0), name="c")
    o = n.output(shape, T.FLOAT32)
    return n.build(opcode, [a, c], [o])


@pytest.mark.parametrize("name", sorted(QUANTIZED_FLOAT_MODELS))
def test_quantized_single_op_runs_on_tflm(name, tmp_path):
    """`tfrewrite --quantize int8` of a float single-op model: TFLM and LiteRT run the int8
    model, our interpreter matches TFLM bit for bit, and the dequantized outputs stay within a
    few output steps of the float model's."""
    float_model, int8_model = tmp_path / "float.tflite", tmp_path / "int8.tflite"
    float_model.write_bytes(QUANTIZED_FLOAT_MODELS[name]())
    specs = oracle.input_specs(float_model)
    calib_rng = np.random.default_rng(SEED + 1)
    calib = tmp_path / "calib.npz"
    np.savez(calib, **{s.name: calib_rng.standard_normal([64, *s.shape]).astype(np.float32) for s in specs})
    proc = harness.run_tfrewrite(TFREWRITE, float_model, "--quantize", "int8", "--calibration", calib, "-o", int8_model)
    assert proc.returncode == 0, harness.describe_process(proc)
    check_model(int8_model, tmp_path / "ours", runs=20)

    float_inputs = [[np.clip(x, -2.5, 2.5) for x in run] for run in oracle.make_inputs(float_model, SEED, 20)]
    graph_in = [_quantization(int8_model, "input", k) for k in range(len(specs))]
    (sx, _), (sy, _) = _quantization(int8_model, "op_input", 0), _quantization(int8_model, "op_input", 1)
    out_scale, out_zp = _quantization(int8_model, "output", 0)
    int8_inputs = [[np.clip(np.round(x / s) + z, -128, 127).astype(np.int8) for x, (s, z) in zip(run, graph_in)]
                   for run in float_inputs]
    expected = oracle.run("litert", float_model, float_inputs)
    assert not isinstance(expected, oracle.RunFailure), str(expected)
    for runtime in oracle.RUNTIMES:
        got = oracle.run(runtime, int8_model, int8_inputs)
        assert not isinstance(got, oracle.RunFailure), f"{runtime}: {got}"
        for r, (want, have) in enumerate(zip(expected, got)):
            want = want[0].astype(np.float64)
            real = (have[0].astype(np.float64) - out_zp) * out_scale
            # Each input is off by at most half its step, so (x − y)² by at most
            # |x − y|·(sx + sy) + ((sx + sy)/2)²; the output rounds once (plus the kernel's
            # fixed-point rounding) and saturates above its calibrated range.
            bound = np.sqrt(want) * (sx + sy) + ((sx + sy) / 2) ** 2 + out_scale
            in_range = want <= out_scale * (127 - out_zp)
            worst = (np.abs(real - want) - bound)[in_range].max()
            assert worst <= 0, f"{runtime} run {r}: error exceeds the rounding bound by {worst:g}"


def _quantization(model_path, which, k):
    """(scale, zero point) of subgraph 0's input `k`, output `k`, or operator 0's input `k`."""
    sg = oracle._schema().Model.GetRootAs(Path(model_path).read_bytes(), 0).Subgraphs(0)
    index = {"input": sg.Inputs, "output": sg.Outputs, "op_input": sg.Operators(0).Inputs}[which](k)
    q = sg.Tensors(index).Quantization()
    return float(q.Scale(0)), int(q.ZeroPoint(0))


# ---------------------------------------------------------------------------
# CLI input and output forms
# ---------------------------------------------------------------------------

def _run_cli(*args):
    return harness.run_tfrewrite(TFREWRITE, "run", *args)


def test_cli_input_forms_agree_with_tflm(tmp_path):
    """Two --input .npy files, a folder of .npy files and an .npz whose members
    are stored in a different order (matched by name) all give TFLM's result."""
    model = tmp_path / "add.tflite"
    model.write_bytes(binary(OP.ADD, T.INT8, ([2, 3], [2, 3]), [2, 3], [(0.05, -3), (0.02, 5), (0.08, 2)]))
    x0, x1 = oracle.make_inputs(model, SEED, 1)[0]
    theirs = run_tflm(model, [[x0, x1]])
    assert not isinstance(theirs, oracle.RunFailure), str(theirs)
    want = theirs[0][0]

    np.save(tmp_path / "a.npy", x0)
    np.save(tmp_path / "b.npy", x1)
    folder = tmp_path / "inputs"
    folder.mkdir()
    np.save(folder / "0_first.npy", x0)
    np.save(folder / "1_second.npy", x1)
    np.savez(tmp_path / "named.npz", in1=x1, in0=x0)  # reversed order, matched by name
    np.savez_compressed(tmp_path / "compressed.npz", in1=x1, in0=x0)  # deflated members (zlib)
    forms = {
        "two files": ["--input", tmp_path / "a.npy", "--input", tmp_path / "b.npy"],
        "folder": ["--input", folder],
        "npz by name": ["--input", tmp_path / "named.npz"],
        "compressed npz": ["--input", tmp_path / "compressed.npz"],
    }
    for form, args in forms.items():
        out = tmp_path / f"{form.replace(' ', '_')}.npy"
        proc = _run_cli(model, *args, "-o", out)
        assert proc.returncode == 0, f"{form}: {harness.describe_process(proc)}"
        assert "inference" in proc.stderr, f"{form}: no summary on stderr: {proc.stderr!r}"
        got = np.load(out)
        assert got.dtype == want.dtype and np.array_equal(got, want), f"{form}: {got} vs TFLM {want}"

    out = tmp_path / "out.npz"
    proc = _run_cli(model, *forms["two files"], "-o", out)
    assert proc.returncode == 0, harness.describe_process(proc)
    with np.load(out) as z:
        assert z.files == ["out0"]
        assert np.array_equal(z["out0"], want)


def test_cli_batch_forms(tmp_path):
    """--batch accepts [N] + input shape and [N] + input shape without its
    leading 1, and stacks the outputs along axis 0."""
    model = harness.FIXTURES_DIR / "micro_speech_int8.tflite"
    x = np.load(harness.FIXTURES_DIR / "expected" / "micro_speech_int8_inputs.npy")  # [10, 1, 1960]
    want = np.load(harness.FIXTURES_DIR / "expected" / "micro_speech_int8_tflm.npy")  # [10, 1, 4]
    for name, arr in {"full": x, "squeezed": x[:, 0, :]}.items():
        src, out = tmp_path / f"{name}.npy", tmp_path / f"{name}_out.npy"
        np.save(src, arr)
        proc = _run_cli(model, "--input", src, "--batch", "-o", out)
        assert proc.returncode == 0, harness.describe_process(proc)
        assert np.array_equal(np.load(out), want), name


@pytest.mark.parametrize("case", ["wrong dtype", "batch without --batch", "missing file",
                                  "truncated npz", "unsupported op", "too many inputs"])
def test_cli_errors_are_one_line_exit_2(case, tmp_path):
    model = harness.FIXTURES_DIR / "micro_speech_int8.tflite"
    x = np.load(harness.FIXTURES_DIR / "expected" / "micro_speech_int8_inputs.npy")
    np.save(tmp_path / "f32.npy", x.astype(np.float32)[0])
    np.save(tmp_path / "batch.npy", x)
    np.save(tmp_path / "one.npy", x[0])
    np.savez_compressed(tmp_path / "c.npz", fingerprint_input=x[0])
    whole = (tmp_path / "c.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[:60] + whole[-200:])  # deflate data cut short
    # The Ethos-U op only runs on the NPU: no interpreter kernel (TFLM has none either).
    unsupported = harness.CORPUS_DIR / "person_detect_vela.tflite"
    args = {
        "wrong dtype": (model, "--input", tmp_path / "f32.npy"),
        "batch without --batch": (model, "--input", tmp_path / "batch.npy"),
        "missing file": (model, "--input", tmp_path / "nope.npy"),
        "truncated npz": (model, "--input", tmp_path / "cut.npz"),
        "unsupported op": (unsupported, "--input", tmp_path / "one.npy"),
        "too many inputs": (model, "--input", tmp_path / "one.npy", "--input", tmp_path / "one.npy"),
    }[case]
    if case == "unsupported op" and not unsupported.is_file():
        pytest.skip(f"model corpus absent at {harness.CORPUS_DIR}")
    proc = _run_cli(*args)
    assert proc.returncode == 2, harness.describe_process(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfrewrite: error: "), proc.stderr
    expected = {
        "wrong dtype": "is INT8 but the array is <f4",
        "batch without --batch": "add --batch",
        "missing file": "no such file or folder",
        "truncated npz": "cut.npz",
        "unsupported op": 'ethos-u #0 (custom op "ethos-u" has no kernel)',
        "too many inputs": "the model has 1 input (fingerprint_input) but 2 arrays were given",
    }[case]
    assert expected in lines[0], lines[0]
