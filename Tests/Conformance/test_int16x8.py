"""`--quantize int16x8` and `--max-error` against the reference TFLM.

Every GraphDef fixture (and the ML-KWS corpus graphs when ../shared/models is there) is
converted with `--quantize int16x8`; the held-out inputs (quantized to int16 with the model's
own input parameters) and seeded random int16 inputs then run through `tfrewrite run` and the
TFLM python interpreter: every int16 output must be identical. The output error against TF's
float model is measured next to our int8 conversion of the same graph (int16x8 must be lower).
`--max-error` conversions (mixed int8/int16x8, QUANTIZE at the boundaries) must run bit-exact
on TFLM too and meet their budget on the calibration data.

QUANT16_REPORT=path.json saves the measured errors."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

import harness
import oracle
from test_interpreter import (ACT, OP, OPT, T, S, Net, assert_conforms, binary, check_model, concat, f32, opts, pad,
                              pool, run_ours, split, strided_slice, transpose, unary)
from test_quantize import CASES, io_quantization, real_outputs

TFREWRITE = harness.tfrewrite_path()
FIX = harness.FIXTURES_DIR
RANDOM_RUNS = 20
REPORT: dict = {}

if not TFREWRITE.exists():
    pytest.skip(f"tfrewrite binary not found at {TFREWRITE}", allow_module_level=True)


def _params():
    out = []
    for name, case in CASES.items():
        marks = [] if Path(case[0]).exists() else [pytest.mark.skip(reason=f"corpus graph absent: {case[0]}")]
        out.append(pytest.param(name, id=name, marks=marks))
    return out


def convert(name, tmp: Path, *flags) -> Path:
    src, args, calib = CASES[name][0], CASES[name][1], CASES[name][2]
    out = tmp / f"{name}_{'_'.join(f.strip('-') for f in flags)}.tflite"
    proc = harness.run_tfrewrite(TFREWRITE, src, *args, *flags, "--calibration", FIX / calib, "-o", out)
    if proc.returncode != 0:
        pytest.fail(f"{name} {' '.join(flags)} failed: " + harness.describe_process(proc), pytrace=False)
    return out


def quantized_runs(model: Path, samples) -> list:
    """Float samples as runs for this model's int8/int16 input (round half away from zero)."""
    spec = oracle.input_specs(model)[0]
    q = io_quantization(model, "inputs")[0]
    runs = []
    for x in samples:
        x = np.asarray(x, dtype=np.float32).reshape(spec.shape)
        if spec.dtype != np.float32:
            s, zp = q
            info = np.iinfo(spec.dtype)
            x = np.clip(np.trunc(x / s + np.copysign(0.5, x)) + zp, info.min, info.max).astype(spec.dtype)
        runs.append([x])
    return runs


def bit_exact_on_tflm(model: Path, runs: list, work: Path):
    ours, err = run_ours(model, runs, work)
    assert err is None, f"tfrewrite run failed: {err}"
    theirs = oracle.run("tflm", model, runs)
    assert not isinstance(theirs, oracle.RunFailure), f"TFLM cannot run {model.name}: {theirs}"
    assert_conforms(model, ours, theirs)
    return ours


def types_of(model: Path) -> set:
    doc = harness.inspect_json(TFREWRITE, model)
    return {t["dtype"] for sg in doc["subgraphs"] for t in sg["tensors"]}


@pytest.mark.parametrize("name", _params())
def test_int16x8_bit_exact_on_tflm_and_better_than_int8(name, tmp_path):
    out16 = convert(name, tmp_path, "--quantize", "int16x8")
    out8 = convert(name, tmp_path, "--quantize", "int8")
    specs = oracle.input_specs(out16) + oracle.output_specs(out16)
    assert all(s.dtype == np.int16 for s in specs), [s.dtype for s in specs]
    heldout = np.load(FIX / CASES[name][3])
    ours16 = bit_exact_on_tflm(out16, quantized_runs(out16, heldout), tmp_path / "heldout")
    bit_exact_on_tflm(out16, oracle.make_inputs(out16, 7, RANDOM_RUNS), tmp_path / "random")
    ref = oracle.run("litert", FIX / CASES[name][4], quantized_runs(FIX / CASES[name][4], heldout))
    assert not isinstance(ref, oracle.RunFailure), str(ref)
    ref_y = real_outputs(FIX / CASES[name][4], ref)
    y16 = real_outputs(out16, ours16)
    ours8 = oracle.run("tflm", out8, quantized_runs(out8, heldout))
    y8 = real_outputs(out8, ours8)
    e16, e8 = float(np.mean(np.abs(y16 - ref_y))), float(np.mean(np.abs(y8 - ref_y)))
    agree16 = int(np.sum(np.argmax(y16, -1) == np.argmax(ref_y, -1)))
    REPORT[name] = {"int16x8": e16, "int8": e8, "argmax_int16x8": agree16, "n": len(heldout)}
    print(f"{name}: int16x8 {e16:.6f} / int8 {e8:.6f}, argmax {agree16}/{len(heldout)}")
    assert e16 < e8, f"{name}: int16x8 error {e16} is not below int8's {e8}"


def test_max_error_mixed_model_is_bit_exact_and_meets_budget(tmp_path):
    name = "tiny_conv"
    out8 = convert(name, tmp_path, "--quantize", "int8")
    heldout = np.load(FIX / CASES[name][3])
    # A budget between the int8 and int16x8 errors on the calibration data forces a mix.
    src, args, calib = CASES[name][0], CASES[name][1], CASES[name][2]
    out = tmp_path / "mixed.tflite"
    proc = harness.run_tfrewrite(TFREWRITE, src, *args, "--quantize", "int8", "--max-error", "0.003",
                                 "--calibration", FIX / calib, "-o", out)
    assert proc.returncode == 0, harness.describe_process(proc)
    m = re.search(r"(\d+) of (\d+) ops int16x8, error ([0-9.]+)", proc.stderr)
    assert m, proc.stderr
    assert 0 < int(m.group(1)) < int(m.group(2)), proc.stderr
    assert float(m.group(3)) <= 0.003
    assert {"INT8", "INT16"} <= types_of(out), types_of(out)
    bit_exact_on_tflm(out, quantized_runs(out, heldout), tmp_path / "mixed")
    REPORT["max_error_tiny_conv"] = proc.stderr.splitlines()


def test_max_error_unreachable_is_one_line_exit_2(tmp_path):
    name = "tiny_conv"
    src, args, calib = CASES[name][0], CASES[name][1], CASES[name][2]
    out = tmp_path / "never.tflite"
    proc = harness.run_tfrewrite(TFREWRITE, src, *args, "--quantize", "int8", "--max-error", "0.0000001",
                                 "--calibration", FIX / calib, "-o", out)
    assert proc.returncode == 2, harness.describe_process(proc)
    lines = [l for l in proc.stderr.splitlines() if l.startswith("tfrewrite: error:")]
    assert len(lines) == 1 and "cannot be met" in lines[0], proc.stderr
    assert not out.exists()


def _add_constant(shape, const_shape):
    """x + c with a constant c (the constant becomes an int16 operand)."""
    n = Net()
    a = n.input(shape, T.FLOAT32)
    c = n.tensor(const_shape, T.FLOAT32, data=f32(const_shape, 1.0), name="c")
    o = n.output(shape, T.FLOAT32)
    return n.build(OP.ADD, [a, c], [o], OPT.AddOptions, opts("AddOptionsT", fusedActivationFunction=ACT.NONE))


# Float one-op models quantized with --quantize int16x8: the ops no fixture has.
INT16_SINGLE_OPS = {
    "add_broadcast": lambda: binary(OP.ADD, T.FLOAT32, ([2, 3, 8], [3, 1]), [2, 3, 8]),
    "add_relu": lambda: binary(OP.ADD, T.FLOAT32, ([4, 6], [4, 6]), [4, 6], act=ACT.RELU),
    "add_constant": lambda: _add_constant([2, 3, 8], [8]),
    "sub": lambda: binary(OP.SUB, T.FLOAT32, ([4, 6], [4, 6]), [4, 6]),
    "mul_broadcast": lambda: binary(OP.MUL, T.FLOAT32, ([2, 3, 8], [1, 8]), [2, 3, 8]),
    "concatenation": lambda: concat(T.FLOAT32, [[2, 3], [2, 5]], 1, [2, 8]),
    "pad": lambda: pad(T.FLOAT32, [1, 4, 4, 2], [[0, 0], [1, 2], [2, 1], [0, 0]], [1, 7, 7, 2]),
    "strided_slice": lambda: strided_slice(T.FLOAT32, [4, 6], [1, 0], [4, 6], [1, 2], [3, 3]),
    "transpose": lambda: transpose(T.FLOAT32, [2, 3, 4], [2, 0, 1]),
    "max_pool_same": lambda: pool(OP.MAX_POOL_2D, T.FLOAT32, [1, 7, 5, 3], [1, 4, 3, 3], (2, 2), 2, S.Padding.SAME),
    "avg_pool_same_relu6": lambda: pool(OP.AVERAGE_POOL_2D, T.FLOAT32, [1, 7, 5, 3], [1, 4, 3, 3], (3, 3), 2, S.Padding.SAME, ACT.RELU6),
    "logistic": lambda: unary(OP.LOGISTIC, T.FLOAT32, [4, 16]),
    "tanh": lambda: unary(OP.TANH, T.FLOAT32, [4, 16]),
    "relu": lambda: unary(OP.RELU, T.FLOAT32, [4, 16]),
    "relu6": lambda: unary(OP.RELU6, T.FLOAT32, [4, 16]),
    "split": lambda: split(T.FLOAT32, [2, 6, 4], 1, 3),
    "unpack": lambda: split(T.FLOAT32, [2, 3, 4], -1, "unpack"),
}


@pytest.mark.parametrize("name", sorted(INT16_SINGLE_OPS))
def test_int16x8_single_op_bit_exact_on_tflm(name, tmp_path):
    float_model, q_model = tmp_path / "float.tflite", tmp_path / "int16.tflite"
    float_model.write_bytes(INT16_SINGLE_OPS[name]())
    rng = np.random.default_rng(5)
    calib = tmp_path / "calib.npz"
    np.savez(calib, **{s.name: rng.standard_normal([32, *s.shape]).astype(np.float32) for s in oracle.input_specs(float_model)})
    proc = harness.run_tfrewrite(TFREWRITE, float_model, "--quantize", "int16x8", "--calibration", calib, "-o", q_model)
    assert proc.returncode == 0, harness.describe_process(proc)
    assert "int16x8" in proc.stderr.splitlines()[0] or "quantized to int16x8" in proc.stderr, proc.stderr
    assert all(s.dtype == np.int16 for s in oracle.input_specs(q_model)), oracle.input_specs(q_model)
    check_model(q_model, tmp_path / "ours", runs=20)


# Models with standalone LOGISTIC / TANH ops (TFLM's int16 kernels, output scale 2^-15):
# (model, calibration, held-out inputs, the float outputs they are measured against).
# int16x8 must run bit-exact on TFLM and beat int8 against those outputs.
ACTIVATION_MODELS = {
    # Dense 8 tanh (Fixtures/keras/generate.py); Keras's own outputs.
    "keras/mlp_cancer": ("keras/mlp_cancer.keras", "keras/mlp_cancer_calib.npy", "keras/mlp_cancer_inputs.npy",
                         "keras/mlp_cancer_keras.npy"),
    # Keras GRU (two layers) and LSTM, imported unrolled: sigmoid / tanh gates.
    "keras/gru_digits": ("keras/gru_digits.keras", "keras/gru_digits_calib.npy", "keras/gru_digits_inputs.npy",
                         "keras/gru_digits_keras.npy"),
    "keras/lstm_digits": ("keras/lstm_digits.keras", "keras/lstm_digits_calib.npy", "keras/lstm_digits_inputs.npy",
                          "keras/lstm_digits_keras.npy"),
    # TF's unrolled GRU / LSTM (sigmoid and tanh gates, SPLIT, UNPACK; Fixtures/recurrent/generate.py).
    "recurrent/gru_unrolled": ("recurrent/gru_unrolled_float.tflite", "recurrent/calib.npy",
                               "recurrent/heldout_inputs.npy", "recurrent/gru_keras.npy"),
    "recurrent/lstm_unrolled": ("recurrent/lstm_unrolled_float.tflite", "recurrent/calib.npy",
                                "recurrent/heldout_inputs.npy", "recurrent/lstm_keras.npy"),
}


@pytest.mark.parametrize("name", sorted(ACTIVATION_MODELS))
def test_int16x8_activations_bit_exact_and_better_than_int8(name, tmp_path):
    source, calib, inputs_file, expected_file = (FIX / f for f in ACTIVATION_MODELS[name])
    inputs = np.load(inputs_file)
    expected = np.load(expected_file).reshape(len(inputs), -1)
    errors = {}
    for mode in ("int8", "int16x8"):
        out = tmp_path / f"{mode}.tflite"
        proc = harness.run_tfrewrite(TFREWRITE, source, "--quantize", mode, "--calibration", calib, "-o", out)
        assert proc.returncode == 0, harness.describe_process(proc)
        runs = quantized_runs(out, inputs)
        if mode == "int16x8":
            ops = {op["op"] for sg in harness.inspect_json(TFREWRITE, out)["subgraphs"] for op in sg["operators"]}
            assert ops & {"TANH", "LOGISTIC"}, ops
            assert types_of(out) <= {"INT16", "INT8", "INT32", "INT64"}, types_of(out)
            ys = bit_exact_on_tflm(out, runs, tmp_path / "heldout")
            bit_exact_on_tflm(out, oracle.make_inputs(out, 7, RANDOM_RUNS), tmp_path / "random")
        else:
            ys = oracle.run("tflm", out, runs)
            assert not isinstance(ys, oracle.RunFailure), str(ys)
        y = real_outputs(out, ys).reshape(len(inputs), -1)
        errors[mode] = float(np.mean(np.abs(y - expected)))
    REPORT[name] = errors
    print(f"{name}: int16x8 {errors['int16x8']:.6f} / int8 {errors['int8']:.6f}")
    assert errors["int16x8"] < errors["int8"], errors


def teardown_module(module):
    path = os.environ.get("QUANT16_REPORT")
    if path and REPORT:
        Path(path).write_text(json.dumps(REPORT, indent=1))
