"""The float16, dynamic-range and sparse repairs on the real interpreters: the input model runs
on LiteRT (reference kernels), the repaired one on TFLM, and their outputs are compared on the
held-out digits of Fixtures/repair (made by Fixtures/generate_repair.py).

* float16 → float32 (fold-float16-constants) is lossless: TFLM's output equals LiteRT's on the
  input model within float rounding of the kernels (≤ 1e-6), and is bit-identical on LiteRT.
* hybrid → full int8 (dequantize-hybrid-weights + --quantize int8 with calibration data): the
  int8 model's class probabilities stay within quantization error of the hybrid model's.
* sparse → dense (densify-sparse-constants) is lossless: bit-identical outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import harness
import oracle
from test_repair import io_quantization

REPAIR = harness.FIXTURES_DIR / "repair"


def digits(model: Path, file="digits_inputs.npy"):
    """The 16 held-out digits (or the 64 calibration ones) shaped for the model's input (MLPs
    take [1, 64])."""
    x = np.load(REPAIR / file)
    shape = oracle.input_specs(model)[0].shape
    return [[img.reshape(shape).astype(np.float32)] for img in x]


def quantized(model: Path, runs):
    scale, zp = io_quantization(model, "input")
    return [[np.clip(np.round(r[0] / scale) + zp, -128, 127).astype(np.int8)] for r in runs]


def outputs(runtime, model, runs, **kw):
    r = oracle.run(runtime, model, runs, **kw)
    assert not isinstance(r, oracle.RunFailure), f"{runtime} on {model.name}: {r}"
    return np.stack([o[0] for o in r])


def convert(tfrewrite, model, out, *extra):
    proc = harness.run_tfrewrite(tfrewrite, model, "--rules", "micro", "-o", out, *extra)
    assert proc.returncode == 0, harness.describe_process(proc)
    return out


@pytest.mark.parametrize("name", ["mlp_float16", "cnn_float16"])
def test_float16_repair_is_lossless(tfrewrite, tmp_path, name):
    model = REPAIR / f"{name}.tflite"
    out = convert(tfrewrite, model, tmp_path / "out.tflite")
    runs = digits(model)
    want = outputs("litert", model, runs, litert_resolver="ref")
    assert np.array_equal(outputs("litert", out, runs, litert_resolver="ref"), want)
    got = outputs("tflm", out, runs)
    assert np.max(np.abs(got - want)) <= 1e-6


@pytest.mark.parametrize("name", ["mlp_dynamic_range", "cnn_dynamic_range"])
def test_hybrid_becomes_full_int8_with_calibration(tfrewrite, tmp_path, name):
    model = REPAIR / f"{name}.tflite"
    out = tmp_path / "out.tflite"
    refused = harness.run_tfrewrite(tfrewrite, model, "--rules", "micro", "-o", out)
    assert refused.returncode == 2 and not out.exists()
    assert "hybrid" in refused.stderr and "--calibration" in refused.stderr, refused.stderr
    runs = digits(model)
    calib = tmp_path / "calib.npy"
    np.save(calib, np.stack([r[0] for r in digits(model, "digits_calib.npy")]))
    convert(tfrewrite, model, out, "--quantize", "int8", "--calibration", str(calib))
    want = outputs("litert", model, runs, litert_resolver="ref")
    q = outputs("tflm", out, quantized(out, runs))
    scale, zp = io_quantization(out, "output")
    got = (q.astype(np.float32) - zp) * scale
    # Softmax probabilities: within a few output steps (1/256) plus the weights' and
    # activations' quantization error; the predicted digit agrees on nearly every image.
    assert np.max(np.abs(got - want)) <= 0.05
    agree = np.mean(np.argmax(got, -1) == np.argmax(want, -1))
    print(f"{name}: max |int8 - hybrid| {np.max(np.abs(got - want)):.4f}, top-1 agreement {agree:.2f}")
    assert agree >= 0.9, f"top-1 agreement {agree:.2f}"


@pytest.mark.parametrize("name", ["mlp_sparse_float", "mlp_sparse_int8"])
def test_sparse_repair_is_lossless_and_the_round_trip_keeps_sparsity(tfrewrite, tmp_path, name):
    model = REPAIR / f"{name}.tflite"
    runs = digits(model)
    if oracle.input_specs(model)[0].type_name == "INT8":
        runs = quantized(model, runs)
    want = outputs("litert", model, runs, litert_resolver="ref")
    # No rules: the sparse encoding and its DENSIFY ops are written back as they were.
    kept = tmp_path / "kept.tflite"
    proc = harness.run_tfrewrite(tfrewrite, model, "-o", kept)
    assert proc.returncode == 0, harness.describe_process(proc)
    from test_repair import op_names
    assert op_names(kept) == op_names(model) and "DENSIFY" in op_names(kept)
    assert np.array_equal(outputs("litert", kept, runs, litert_resolver="ref"), want)
    # --rules micro: dense constants, no DENSIFY, the same numbers on TFLM.
    out = convert(tfrewrite, model, tmp_path / "out.tflite")
    assert "DENSIFY" not in op_names(out)
    assert np.array_equal(outputs("litert", out, runs, litert_resolver="ref"), want)
    # Lossless is the LiteRT comparison above (same kernels, dense vs sparse weights). TFLM's
    # int8 kernels round a few results a step or two away from LiteRT's reference kernels (its
    # SOFTMAX here: 2 steps on one of 160 values); float is exact.
    got = outputs("tflm", out, runs)
    tolerance = 2 if got.dtype == np.int8 else 0
    assert np.max(np.abs(got.astype(np.int32) - want.astype(np.int32))) <= tolerance
