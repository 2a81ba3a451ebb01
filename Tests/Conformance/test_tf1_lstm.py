"""TF1 while-loop LSTM GraphDefs (issue 16) on the reference TFLM.

`tfrewrite --rules micro` unrolls the TF1 while frame of our dynamic_rnn fixture
(Fixtures/graphdef/tf1_lstm_digits.pb) and of ML-KWS's Basic_LSTM_S (the corpus,
cut at Mfcc; skipped when absent). TF 2.21's converter cannot convert either
(TensorArrayV3 "is neither a custom op nor a flex op"), so the references are
TF's own outputs of the GraphDefs (Fixtures/generate_tf1_lstm.py):

- float on TFLM within 1e-5 of TF;
- int8 (`--quantize int8`, the fixture's calibration set) on TFLM: mean abs error
  against TF's float outputs no worse than TF's own int8 PTQ of the same cell unrolled
  by Python (its outputs on LiteRT: heldout/*_tf_unrolled_int8_outputs.npy); per-gate
  scales (split-fully-connected-gates) brought the digits fixture from 1.06x to 0.83x TF's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import harness
import oracle

TFREWRITE = harness.tfrewrite_path()
if not TFREWRITE.is_file():
    pytest.skip(f"tfrewrite binary not found at {TFREWRITE} (run `swift build`, "
                "or set TFREWRITE=/path/to/tfrewrite)", allow_module_level=True)

FIX = harness.FIXTURES_DIR
CORPUS = harness.REPO_ROOT.parent / "shared" / "models" / "graphdef"
MANIFEST = json.loads((FIX / "tf1_lstm" / "manifest.json").read_text())
SAMPLES = 100

CASES = {
    "tf1_lstm_digits": (FIX / "graphdef" / "tf1_lstm_digits.pb", ["--output-arrays", "probabilities"], "tf1_lstm_digits", 1.0),
    "Basic_LSTM_S": (CORPUS / "Basic_LSTM_S.pb", ["--input-arrays", "Mfcc", "--output-arrays", "labels_softmax"], "corpus_Basic_LSTM_S", 1.0),
}


def convert(name, tmp_path, *extra):
    source, args, ref, _ = CASES[name]
    if not source.is_file():
        pytest.skip(f"{source} not found (the third-party model corpus is absent)")
    out = tmp_path / f"{name}{'_int8' if extra else ''}.tflite"
    proc = harness.run_tfrewrite(TFREWRITE, source, *args, "--rules", "micro", *extra, "-o", out)
    assert proc.returncode == 0, harness.describe_process(proc)
    doc = harness.inspect_json(TFREWRITE, out)
    ops = {op["op"] for g in doc["subgraphs"] for op in g["operators"]}
    assert not ops & {"WHILE", "CUSTOM"}, f"{name}: {sorted(ops)}"
    return out, ref


def io_details(model):
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=str(model))
    return it.get_input_details()[0], it.get_output_details()[0]


def run(runtime, model, xs):
    """Float inputs in, float outputs out (int8 I/O quantized and dequantized here)."""
    i, o = io_details(model)
    if i["dtype"] == np.int8:
        scale, zero = i["quantization"]
        xs = np.clip(np.round(xs / scale + zero), -128, 127).astype(np.int8)
    result = oracle.run(runtime, model, [[x.reshape(i["shape"])] for x in xs])
    assert not isinstance(result, oracle.RunFailure), f"{runtime} cannot run {model.name}: {result}"
    out = np.stack([np.asarray(r[0]) for r in result]).astype(np.float32)
    if o["dtype"] == np.int8:
        scale, zero = o["quantization"]
        out = (out - zero) * scale
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_float_on_tflm_matches_tensorflow(name, tmp_path):
    model, ref = convert(name, tmp_path)
    xs = np.load(FIX / "heldout" / f"{ref}_inputs.npy")[:SAMPLES]
    expected = np.load(FIX / "heldout" / f"{ref}_tf_outputs.npy")[:SAMPLES]
    worst = float(np.abs(run("tflm", model, xs).reshape(expected.shape) - expected).max())
    assert worst <= 1e-5, f"{name}: max |TFLM - TF| = {worst:g}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_int8_on_tflm_no_worse_than_tf_ptq(name, tmp_path):
    ref = CASES[name][2]
    model, _ = convert(name, tmp_path, "--quantize", "int8", "--calibration", str(FIX / "calib" / f"{ref}_calib.npy"))
    xs = np.load(FIX / "heldout" / f"{ref}_inputs.npy")[:SAMPLES]
    expected = np.load(FIX / "heldout" / f"{ref}_tf_outputs.npy")[:SAMPLES]
    ours = float(np.abs(run("tflm", model, xs).reshape(expected.shape) - expected).mean())
    tf_outputs = np.load(FIX / MANIFEST["models"][name]["tf_unrolled_int8"]["outputs"])[:SAMPLES]
    theirs = float(np.abs(tf_outputs.reshape(expected.shape) - expected).mean())
    assert ours <= theirs * CASES[name][3], f"{name}: int8 mean abs error ours {ours:g} vs TF's PTQ {theirs:g}"
