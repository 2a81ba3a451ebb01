"""Per-gate int8 scales for unrolled recurrent cells (`split-fully-connected-gates`, issues 16/20).

Each unrolled LSTM/GRU fixture is quantized to int8 with its calibration set, once as by
default (each gate's FULLY_CONNECTED split out, its own scale) and once with
`--disable-pass split-fully-connected-gates` (the gates share the SPLIT's one scale). The held-out
inputs then run on the reference TFLM, and the split conversion through `tfrewrite run` too:
its int8 outputs must be identical. The split conversion's mean abs error against the float reference must be below
the unsplit one's and no worse than TF's own int8 export (Keras fixtures: the committed TF 2.21
conversion run on TFLM; TF1 LSTMs: TF's PTQ of the cell unrolled by Python, its outputs
committed by Fixtures/generate_tf1_lstm.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import harness
import oracle
from test_interpreter import assert_conforms, run_ours
from test_quantize import io_quantization

TFREWRITE = harness.tfrewrite_path()
FIX = harness.FIXTURES_DIR
CORPUS = harness.REPO_ROOT.parent / "shared" / "models" / "graphdef"
REC = FIX / "recurrent"
SAMPLES = 397

if not TFREWRITE.exists():
    pytest.skip(f"tfrewrite binary not found at {TFREWRITE}", allow_module_level=True)

# name: (source, extra args, calibration, held-out inputs, float reference, TF int8 reference)
# A reference is a .tflite run on TFLM or the .npy of its outputs.
CASES = {
    **{f"{n}_unrolled": (REC / f"{n}_unrolled_float.tflite", [], REC / "calib.npy", REC / "heldout_inputs.npy",
                         REC / f"{n}_unrolled_float.tflite", REC / f"{n}_unrolled_int8.tflite")
       for n in ("lstm", "lstm_stacked", "gru")},
    "tf1_lstm_digits": (FIX / "graphdef" / "tf1_lstm_digits.pb", ["--output-arrays", "probabilities"],
                        FIX / "calib" / "tf1_lstm_digits_calib.npy", FIX / "heldout" / "tf1_lstm_digits_inputs.npy",
                        FIX / "heldout" / "tf1_lstm_digits_tf_outputs.npy",
                        FIX / "heldout" / "tf1_lstm_digits_tf_unrolled_int8_outputs.npy"),
    "Basic_LSTM_S": (CORPUS / "Basic_LSTM_S.pb", ["--input-arrays", "Mfcc", "--output-arrays", "labels_softmax"],
                     FIX / "calib" / "corpus_Basic_LSTM_S_calib.npy", FIX / "heldout" / "corpus_Basic_LSTM_S_inputs.npy",
                     FIX / "heldout" / "corpus_Basic_LSTM_S_tf_outputs.npy",
                     FIX / "heldout" / "corpus_Basic_LSTM_S_tf_unrolled_int8_outputs.npy"),
}

# Known gap, measured and explained in Docs/quantization.md: the split brings gru_unrolled from
# 1.20x to about 1.05x TF's error, its scales then match TF's, the rest is rounding.
ABOVE_TF = {"gru_unrolled": "per-gate scales as TF's; still about 5 % above"}


def quantize_runs(model: Path, xs) -> list:
    """Float samples as runs of this model's input (int8: round half away from zero)."""
    spec = oracle.input_specs(model)[0]
    runs = []
    for x in xs:
        x = np.asarray(x, dtype=np.float32).reshape(spec.shape)
        if spec.dtype == np.int8:
            s, zp = io_quantization(model, "inputs")[0]
            x = np.clip(np.trunc(x / s + np.copysign(0.5, x)) + zp, -128, 127).astype(np.int8)
        runs.append([x])
    return runs


def outputs_of(model: Path, runs: list, work: Path, bit_exact: bool) -> np.ndarray:
    """Dequantized output 0 of every run on TFLM; with `bit_exact`, `tfrewrite run` must give
    the same int8 outputs."""
    theirs = oracle.run("tflm", model, runs)
    assert not isinstance(theirs, oracle.RunFailure), f"TFLM cannot run {model.name}: {theirs}"
    if bit_exact:
        ours, err = run_ours(model, runs, work)
        assert err is None, f"tfrewrite run failed: {err}"
        assert_conforms(model, ours, theirs)
    out = np.stack([np.asarray(r[0], dtype=np.float32).reshape(-1) for r in theirs])
    if oracle.output_specs(model)[0].dtype == np.int8:
        s, zp = io_quantization(model, "outputs")[0]
        out = (out - zp) * s
    return out


def reference(path: Path, xs, work: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path)[:SAMPLES].astype(np.float32).reshape(len(xs), -1)
    theirs = oracle.run("tflm", path, quantize_runs(path, xs))
    assert not isinstance(theirs, oracle.RunFailure), f"TFLM cannot run {path.name}: {theirs}"
    out = np.stack([np.asarray(r[0], dtype=np.float32).reshape(-1) for r in theirs])
    if oracle.output_specs(path)[0].dtype == np.int8:
        s, zp = io_quantization(path, "outputs")[0]
        out = (out - zp) * s
    return out


def fully_connected_count(model: Path) -> int:
    doc = harness.inspect_json(TFREWRITE, model)
    return sum(op["op"] == "FULLY_CONNECTED" for g in doc["subgraphs"] for op in g["operators"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_gate_split_int8_bit_exact_on_tflm_and_no_worse_than_tf(name, tmp_path):
    source, args, calib, heldout, float_ref, tf_ref = CASES[name]
    if not source.is_file():
        pytest.skip(f"{source} not found (the third-party model corpus is absent)")
    xs = np.load(heldout)[:SAMPLES]
    models = {}
    for label, extra in (("split", []), ("shared", ["--disable-pass", "split-fully-connected-gates"])):
        out = tmp_path / f"{name}_{label}.tflite"
        proc = harness.run_tfrewrite(TFREWRITE, source, *args, "--quantize", "int8", "--calibration", calib, *extra, "-o", out)
        assert proc.returncode == 0, harness.describe_process(proc)
        models[label] = out
    assert fully_connected_count(models["split"]) > fully_connected_count(models["shared"])
    expected = reference(float_ref, xs, tmp_path / "float")
    # Only the default (split) conversion is held to bit-exactness here: the shared-scale one
    # is the comparison point for the error.
    errors = {label: float(np.abs(outputs_of(m, quantize_runs(m, xs), tmp_path / label, label == "split") - expected).mean())
              for label, m in models.items()}
    theirs = float(np.abs(reference(tf_ref, xs, tmp_path / "tf") - expected).mean())
    assert errors["split"] < errors["shared"], f"{name}: per-gate scales {errors['split']:g} vs shared {errors['shared']:g}"
    if name in ABOVE_TF:
        pytest.xfail(f"{name}: int8 mean abs error ours {errors['split']:g} vs TF's {theirs:g} ({ABOVE_TF[name]})")
    assert errors["split"] <= theirs, f"{name}: int8 mean abs error ours {errors['split']:g} vs TF's {theirs:g}"
