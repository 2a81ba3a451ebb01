"""Conv1D and Keras preprocessing on the real interpreters (fixtures of
Fixtures/generate_repair.py, trained on scikit-learn's digits; all 297 held-out digits with
their labels):

* fold-through-reshape: the frozen GraphDef of a Keras Conv1D + BatchNormalization imports with
  its bias and batch norm folded into the CONV_2Ds (TF's own export has the same 5 ops), its
  float outputs within 1e-6 of the unfolded import on LiteRT and TFLM, and its int8 error (our
  `--quantize int8` with the converter's calibration images) no worse than TF's own
  post-training quantization of the same model;
* fold-input-normalization: a power-of-two Rescaling before a Conv1D folds into it bit-exactly;
  Normalization (breast cancer's 30 features, or raw digits before a Conv1D), whose fold would
  round, stays and the outputs are TF's bit for bit;
* fold-normalization-into-input-quantization: in int8, Rescaling(0.05) goes into the input
  quantization, with the unfolded int8 model's outputs; per-feature Normalization stays;
* expand-dims-to-reshape: the Keras-path export (EXPAND_DIMS) runs on micro_versioned_2020's
  ops with identical outputs.
"""

from __future__ import annotations

import numpy as np
import pytest

import harness
import oracle
from test_repair import io_quantization, op_names

REPAIR = harness.FIXTURES_DIR / "repair"
RUNTIMES = ["litert", "tflm"]


def samples(file):
    return [[x.astype(np.float32)] for x in np.load(REPAIR / file)]


def labels(file="conv1d_labels.npy"):
    return np.load(REPAIR / file)


def raw_outputs(runtime, model, runs):
    """The model's outputs as it gives them (int8 inputs quantized per the model)."""
    specs = oracle.input_specs(model)
    if np.dtype(specs[0].dtype) == np.int8:
        scale, zp = io_quantization(model, "input")
        runs = [[np.clip(np.round(r[0] / scale) + zp, -128, 127).astype(np.int8)] for r in runs]
    r = oracle.run(runtime, model, runs, litert_resolver="ref")
    assert not isinstance(r, oracle.RunFailure), f"{runtime} on {model.name}: {r}"
    return np.stack([o[0] for o in r])


def float_outputs(runtime, model, runs):
    """Outputs as float: int8 inputs are quantized, int8 outputs dequantized, per the model."""
    y = raw_outputs(runtime, model, runs).reshape(len(runs), -1)
    if y.dtype == np.int8:
        scale, zp = io_quantization(model, "output")
        y = (y.astype(np.float32) - zp) * scale
    return y


def convert(tfrewrite, model, out, *extra):
    proc = harness.run_tfrewrite(tfrewrite, model, "-o", out, *extra)
    assert proc.returncode == 0, harness.describe_process(proc)
    return out


def assert_close(got, want, rel=1e-6, label=""):
    scale = max(float(np.max(np.abs(want))), 1e-30)
    err = float(np.max(np.abs(got - want))) / scale
    assert err <= rel, f"{label}: max error {err:.3g} of the largest output"
    return err


def test_conv1d_bias_and_batch_norm_fold_like_tf(tfrewrite, tmp_path):
    folded = convert(tfrewrite, REPAIR / "conv1d_bn.pb", tmp_path / "folded.tflite")
    unfolded = convert(tfrewrite, REPAIR / "conv1d_bn.pb", tmp_path / "unfolded.tflite", "--disable-pass", "fold-through-reshape")
    assert op_names(folded) == ["RESHAPE", "CONV_2D", "CONV_2D", "FULLY_CONNECTED", "SOFTMAX"], op_names(folded)
    # TF's export: the same ops, plus the flatten RESHAPE simplify-reshapes drops.
    assert [op for op in op_names(REPAIR / "conv1d_bn_float.tflite") if op != "RESHAPE"] == ["CONV_2D", "CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    assert "ADD" in op_names(unfolded) and "MUL" in op_names(unfolded)
    runs = samples("conv1d_inputs.npy")
    for rt in RUNTIMES:
        want = float_outputs(rt, unfolded, runs)
        err = assert_close(float_outputs(rt, folded, runs), want, label=rt)
        print(f"conv1d float, {rt}: folded vs unfolded max error {err:.3g} of the largest output")


def test_conv1d_int8_error_is_no_worse_than_tf(tfrewrite, tmp_path):
    calib = str(REPAIR / "conv1d_calib.npy")  # the representative dataset TF's converter got
    ours = convert(tfrewrite, REPAIR / "conv1d_bn.pb", tmp_path / "ours.tflite", "--rules", "micro", "--quantize", "int8", "--calibration", calib)
    unfolded = convert(tfrewrite, REPAIR / "conv1d_bn.pb", tmp_path / "unfolded.tflite", "--rules", "micro", "--quantize", "int8",
                       "--calibration", calib, "--disable-pass", "fold-through-reshape")
    tf_int8 = REPAIR / "conv1d_bn_int8_tf.tflite"
    runs = samples("conv1d_inputs.npy")
    y = labels()
    reference = float_outputs("litert", REPAIR / "conv1d_bn_float.tflite", runs)
    accuracy = {"float": np.mean(np.argmax(reference, -1) == y)}
    error = {}
    for rt in RUNTIMES:
        for name, model in [("ours", ours), ("ours unfolded", unfolded), ("tf", tf_int8)]:
            got = float_outputs(rt, model, runs)
            error[rt, name] = float(np.mean(np.abs(got - reference)))
            accuracy[rt, name] = float(np.mean(np.argmax(got, -1) == y))
            print(f"conv1d int8 {name:14s} on {rt}: mean abs error {error[rt, name]:.3g}, "
                  f"max {np.max(np.abs(got - reference)):.3g}, accuracy {accuracy[rt, name]:.3f} (float {accuracy['float']:.3f})")
        assert error[rt, "ours"] <= error[rt, "tf"], error
        assert error[rt, "ours"] < error[rt, "ours unfolded"], error
        assert accuracy[rt, "ours"] >= accuracy[rt, "tf"] - 1 / len(y), accuracy


@pytest.mark.parametrize("name,inputs", [("preprocess_mlp", "cancer_inputs.npy"), ("preprocess_conv1d", "raw_conv1d_inputs.npy")])
def test_normalization_stays_in_float_where_a_fold_would_round(tfrewrite, tmp_path, name, inputs):
    """Normalization's shift (x − μ) and a 1/σ that is no power of two would change float
    results if folded (by 1.2e-6 of the largest output on these fixtures): `micro` keeps them,
    and the outputs are TF's, bit for bit."""
    tf_model = REPAIR / f"{name}_float.tflite"
    out = convert(tfrewrite, tf_model, tmp_path / "out.tflite", "--rules", "micro")
    ops = op_names(out)
    assert ops.count("MUL") == op_names(tf_model).count("MUL") and "SUB" in ops, ops
    runs = samples(inputs)
    for rt in RUNTIMES:
        assert np.array_equal(raw_outputs(rt, out, runs), raw_outputs(rt, tf_model, runs)), rt


@pytest.mark.parametrize("name", ["preprocess_mlp", "preprocess_conv1d"])
def test_frozen_graph_preprocessing_imports_like_tf(tfrewrite, tmp_path, name):
    """The GraphDef form: the import's fold-input-scale takes 1/σ into the first layer, as TF's
    converter would; the shift stays. Within 2e-6 of TF's export (relative to the largest output)."""
    out = convert(tfrewrite, REPAIR / f"{name}.pb", tmp_path / "out.tflite", "--rules", "micro")
    assert "SUB" in op_names(out), op_names(out)
    runs = samples("cancer_inputs.npy" if name == "preprocess_mlp" else "raw_conv1d_inputs.npy")
    for rt in RUNTIMES:
        err = assert_close(float_outputs(rt, out, runs), float_outputs(rt, REPAIR / f"{name}_float.tflite", runs), rel=2e-6, label=f"{name} {rt}")
        print(f"{name} (pb) on {rt}: max error {err:.3g} of the largest output")


def test_power_of_two_rescaling_folds_bit_exact(tfrewrite, tmp_path):
    """Rescaling(1/16) before a Conv1D (TF keeps the MUL there): folded into the CONV_2D's
    weights, the outputs on LiteRT and TFLM are TF's bit for bit."""
    tf_model = REPAIR / "rescaling_pow2_float.tflite"
    assert "MUL" in op_names(tf_model)
    out = convert(tfrewrite, tf_model, tmp_path / "out.tflite", "--rules", "micro")
    assert "MUL" not in op_names(out), op_names(out)
    runs = samples("raw_conv1d_inputs.npy")
    for rt in RUNTIMES:
        assert np.array_equal(raw_outputs(rt, out, runs), raw_outputs(rt, tf_model, runs)), rt


def test_rescaling_folds_into_the_int8_input_quantization(tfrewrite, tmp_path):
    """Rescaling(0.05) stays in float (0.05 is no power of two); in int8 it goes into the
    input's quantization: the model reads raw pixels with no MUL, and its int8 outputs equal the
    unfolded int8 model's on the same int8 inputs (both quantize the raw input alike)."""
    tf_model = REPAIR / "rescaling_float.tflite"
    args = ["--rules", "micro", "--quantize", "int8", "--calibration", str(REPAIR / "raw_conv1d_calib.npy")]
    assert "MUL" in op_names(convert(tfrewrite, tf_model, tmp_path / "float.tflite", "--rules", "micro"))
    folded = convert(tfrewrite, tf_model, tmp_path / "folded.tflite", *args)
    unfolded = convert(tfrewrite, tf_model, tmp_path / "unfolded.tflite", *args, "--disable-pass", "fold-normalization-into-input-quantization")
    assert "MUL" not in op_names(folded) and "MUL" in op_names(unfolded), (op_names(folded), op_names(unfolded))
    assert io_quantization(folded, "input") == io_quantization(unfolded, "input")
    runs = samples("raw_conv1d_inputs.npy")
    y = labels()
    reference = float_outputs("litert", tf_model, runs)
    for rt in RUNTIMES:
        a, b = raw_outputs(rt, folded, runs), raw_outputs(rt, unfolded, runs)
        err = {k: float(np.mean(np.abs(float_outputs(rt, m, runs) - reference))) for k, m in [("folded", folded), ("unfolded", unfolded)]}
        print(f"rescaling int8 on {rt}: {int(np.sum(a != b))} of {a.size} outputs differ from the unfolded model's; "
              f"mean abs error {err['folded']:.3g} (unfolded {err['unfolded']:.3g}), "
              f"accuracy {np.mean(np.argmax(a.reshape(len(runs), -1), -1) == y):.3f}")
        assert np.array_equal(a, b), rt


def normalization_errors(tfrewrite, tmp_path, name, data, *extra):
    """Converts Fixtures/repair/NAME_float.tflite to int8 (rules micro, EXTRA) and returns its op
    names and, per runtime, (mean abs error against TF's float model, accuracy, float accuracy)."""
    tf_model = REPAIR / f"{name}_float.tflite"
    out = convert(tfrewrite, tf_model, tmp_path / "out.tflite", "--rules", "micro", "--quantize", "int8",
                  "--calibration", str(REPAIR / f"{data}_calib.npy"), *extra)
    runs = samples(f"{data}_inputs.npy")
    reference = float_outputs("litert", tf_model, runs)
    y = labels("cancer_labels.npy" if data == "cancer" else "conv1d_labels.npy")
    measured = {}
    for rt in RUNTIMES:
        got = float_outputs(rt, out, runs)
        measured[rt] = (float(np.mean(np.abs(got - reference))), np.mean(np.argmax(got, -1) == y), np.mean(np.argmax(reference, -1) == y))
        print(f"{name} int8 {' '.join(extra)} on {rt}: mean abs error {measured[rt][0]:.3g}, "
              f"accuracy {measured[rt][1]:.3f} (float {measured[rt][2]:.3f})")
    return op_names(out), measured


# With int8 input: (features' scales more than 255 apart, so the Normalization folds into the
# first layer before quantizing; mean abs error bound). Measured 0.2405 (0.397 with the int8
# SUB/MUL) and 0.00183 (scales 56 apart: unfolded; folded it was 0.0030), on both runtimes.
INT8_INPUT = {"preprocess_mlp": (True, 0.27), "preprocess_conv1d": (False, 0.002)}


@pytest.mark.parametrize("name,data", [("preprocess_mlp", "cancer"), ("preprocess_conv1d", "raw_conv1d")])
def test_per_feature_normalization_with_int8_input(tfrewrite, tmp_path, name, data):
    """With an int8 input, a per-feature Normalization whose features' scales are far apart
    folds into the first layer in float before quantizing (fold-input-normalization-for-int8);
    one with close scales stays as int8 SUB and MUL. TFLM and LiteRT run both."""
    ops, measured = normalization_errors(tfrewrite, tmp_path, name, data)
    folded, bound = INT8_INPUT[name]
    assert ("SUB" not in ops) == folded, ops
    for rt, (err, _, _) in measured.items():
        assert err <= bound, rt


# Mean abs error vs the float model with --float-io (measured 0.0035 and 0.00087 on both
# runtimes; 0.397 and 0.0018 with the normalization in int8).
FLOAT_IO_ERROR = {"preprocess_mlp": 0.01, "preprocess_conv1d": 0.0013}


@pytest.mark.parametrize("name,data", [("preprocess_mlp", "cancer"), ("preprocess_conv1d", "raw_conv1d")])
def test_float_io_keeps_per_feature_normalization_in_float(tfrewrite, tmp_path, name, data):
    """With --float-io the input preprocessing stays float32 and the input QUANTIZE follows it:
    the features are quantized normalized, one scale fits them all, and the int8 model is
    about as accurate as the float one."""
    ops, measured = normalization_errors(tfrewrite, tmp_path, name, data, "--float-io")
    assert ops.index("QUANTIZE") > ops.index("SUB"), ops
    for rt, (err, accuracy, float_accuracy) in measured.items():
        assert err <= FLOAT_IO_ERROR[name], rt
        assert accuracy >= float_accuracy - 0.01, rt


def test_expand_dims_become_reshape_for_the_2020_target(tfrewrite, tmp_path):
    model = REPAIR / "conv1d_bn_keras_float.tflite"
    assert "EXPAND_DIMS" in op_names(model)
    check = harness.run_tfrewrite(tfrewrite, "check", model, "--rules", "micro_versioned_2020")
    assert "EXPAND_DIMS #0 is not in the target micro_versioned_2020 (tflm); its shape is dynamic: expand-dims-to-reshape" in check.stdout, check.stdout
    out = convert(tfrewrite, model, tmp_path / "out.tflite", "--rules", "micro_versioned_2020", "--batch", "1")
    ops = op_names(out)
    assert "EXPAND_DIMS" not in ops and "SQUEEZE" not in ops and "SHAPE" not in ops, ops
    runs = samples("conv1d_inputs.npy")[:32]
    for rt in RUNTIMES:
        assert np.array_equal(float_outputs(rt, out, runs), float_outputs(rt, model, runs)), rt


def test_keras_export_quantizes_through_expand_dims(tfrewrite, tmp_path):
    """EXPAND_DIMS passes int8 through like RESHAPE (TFLM's expand_dims copies the bytes): the
    Keras-path export quantizes with no DEQUANTIZE/QUANTIZE inside, and TFLM and LiteRT run it
    with the same error as the GraphDef import."""
    calib = str(REPAIR / "conv1d_calib.npy")
    out = convert(tfrewrite, REPAIR / "conv1d_bn_keras_float.tflite", tmp_path / "out.tflite",
                  "--rules", "micro", "--quantize", "int8", "--calibration", calib)
    ops = op_names(out)
    assert ops.count("EXPAND_DIMS") == 2 and "DEQUANTIZE" not in ops and "QUANTIZE" not in ops, ops
    runs = samples("conv1d_inputs.npy")
    reference = float_outputs("litert", REPAIR / "conv1d_bn_float.tflite", runs)
    tf_error = float(np.mean(np.abs(float_outputs("litert", REPAIR / "conv1d_bn_int8_tf.tflite", runs) - reference)))
    for rt in RUNTIMES:
        err = float(np.mean(np.abs(float_outputs(rt, out, runs) - reference)))
        print(f"conv1d Keras export int8 on {rt}: mean abs error {err:.3g} (TF's PTQ {tf_error:.3g})")
        assert err <= tf_error
