"""Keras 3 LSTM/GRU loops through `--rules micro` on the reference TFLM.

TF 2.21 exports a Keras 3 recurrent layer as a WHILE over condition and body
subgraphs. The micro rules replace an LSTM loop with one
UNIDIRECTIONAL_SEQUENCE_LSTM (pass fuse-lstm-loop) and unroll the others (GRU;
pass unroll-while). The result must have no WHILE and, run on TFLM, give what
LiteRT computes on the original loop (<= 1e-5) on the held-out digits --
including the stacked LSTM, whose loop TFLM itself runs wrongly
(test_interpreter.py's TFLM_DISAGREES). The fused op's states are variable
tensors that TFLM and LiteRT keep between invocations, so each sample runs
after a reset, as firmware does between independent windows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import harness
import oracle

TFREWRITE = harness.tfrewrite_path()
if not TFREWRITE.is_file():
    pytest.skip(f"tfrewrite binary not found at {TFREWRITE} (run `swift build`, "
                "or set TFREWRITE=/path/to/tfrewrite)", allow_module_level=True)

RECURRENT = harness.FIXTURES_DIR / "recurrent"
FLOAT_ATOL = 1e-5
SAMPLES = 100


@pytest.mark.parametrize("name", ["lstm", "gru", "lstm_stacked"])
def test_unrolled_loop_runs_on_tflm_like_litert(name, tmp_path):
    original = RECURRENT / f"{name}_loop_float.tflite"
    unrolled = tmp_path / f"{name}_micro.tflite"
    proc = harness.run_tfrewrite(TFREWRITE, original, "--rules", "micro", "-o", unrolled)
    assert proc.returncode == 0, harness.describe_process(proc)

    doc = harness.inspect_json(TFREWRITE, unrolled)
    ops = {op["op"] for g in doc["subgraphs"] for op in g["operators"]}
    assert "WHILE" not in ops, f"{name}: a WHILE is left: {sorted(ops)}"
    assert len(doc["subgraphs"]) == 1, f"{name}: {len(doc['subgraphs'])} subgraphs left"
    fused = "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops
    assert fused == name.startswith("lstm"), f"{name}: ops {sorted(ops)}"

    heldout = np.load(RECURRENT / "heldout_inputs.npy").astype(np.float32)
    inputs = [[heldout[k:k + 1]] for k in range(SAMPLES)]
    litert = oracle.run("litert", original, inputs, litert_resolver="ref")
    assert not isinstance(litert, oracle.RunFailure), f"LiteRT cannot run {original.name}: {litert}"
    tflm = oracle.run("tflm", unrolled, inputs, reset_state=True)
    assert not isinstance(tflm, oracle.RunFailure), f"TFLM cannot run the unrolled {name}: {tflm}"
    worst = max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
                for ra, rb in zip(tflm, litert) for a, b in zip(ra, rb))
    assert worst <= FLOAT_ATOL, f"{name}: unrolled on TFLM vs LiteRT on the loop: max abs diff {worst:g}"
    keras = np.load(RECURRENT / f"{name}_keras.npy")[:SAMPLES]
    got = np.concatenate([np.asarray(r[0], np.float64) for r in tflm])
    assert float(np.max(np.abs(got - keras))) <= FLOAT_ATOL, f"{name}: TFLM vs Keras"


def test_fused_lstm_state_carries_over_without_reset(tmp_path):
    """The fused op's variable states persist between invocations on TFLM (as in TF's own
    fused LSTM): without a reset, the second window starts from the first one's state."""
    fused = tmp_path / "lstm_micro.tflite"
    proc = harness.run_tfrewrite(TFREWRITE, RECURRENT / "lstm_loop_float.tflite", "--rules", "micro", "-o", fused)
    assert proc.returncode == 0, harness.describe_process(proc)
    heldout = np.load(RECURRENT / "heldout_inputs.npy").astype(np.float32)
    inputs = [[heldout[k:k + 1]] for k in range(10)]
    kept = oracle.run("tflm", fused, inputs)
    reset = oracle.run("tflm", fused, inputs, reset_state=True)
    assert not isinstance(kept, oracle.RunFailure) and not isinstance(reset, oracle.RunFailure)
    assert np.array_equal(kept[0][0], reset[0][0])
    worst = max(float(np.max(np.abs(a[0] - b[0]))) for a, b in zip(kept, reset))
    assert worst > 1e-3, f"without a reset the outputs differ by only {worst:g}"


@pytest.mark.parametrize("name", ["lstm", "lstm_stacked"])
def test_fused_lstm_int8_on_tflm(name, tmp_path):
    """int8 fused LSTM (int16 cell state) through `--rules micro --quantize int8`: TFLM gives
    what tfrewrite's interpreter gives, bit for bit; its error against Keras is no larger than
    that of TF's own int8 export of the unrolled model (on TFLM too), and its held-out accuracy
    is within half a point of Keras."""
    int8 = tmp_path / f"{name}_int8.tflite"
    proc = harness.run_tfrewrite(TFREWRITE, RECURRENT / f"{name}_loop_float.tflite", "--rules", "micro",
                                 "--quantize", "int8", "--calibration", RECURRENT / "calib.npy", "--float-io", "-o", int8)
    assert proc.returncode == 0, harness.describe_process(proc)
    doc = harness.inspect_json(TFREWRITE, int8)
    ops = [op["op"] for op in doc["subgraphs"][0]["operators"]]
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops and "WHILE" not in ops, ops

    heldout = np.load(RECURRENT / "heldout_inputs.npy").astype(np.float32)
    labels = np.load(RECURRENT / "heldout_labels.npy")
    keras = np.load(RECURRENT / f"{name}_keras.npy")
    inputs = [[heldout[k:k + 1]] for k in range(len(heldout))]
    ours_tflm = oracle.run("tflm", int8, inputs, reset_state=True)
    assert not isinstance(ours_tflm, oracle.RunFailure), f"TFLM cannot run the int8 {name}: {ours_tflm}"
    got = np.concatenate([r[0] for r in ours_tflm])

    np.save(tmp_path / "x.npy", heldout)
    proc = harness.run_tfrewrite(TFREWRITE, "run", "-q", "--batch", "--input", tmp_path / "x.npy", int8, "-o", tmp_path / "y.npy")
    assert proc.returncode == 0, harness.describe_process(proc)
    ours = np.load(tmp_path / "y.npy").reshape(got.shape)
    assert np.array_equal(ours, got), f"{name}: tfrewrite run differs from TFLM by {np.max(np.abs(ours - got))}"

    tf_int8 = oracle.run("tflm", RECURRENT / f"{name}_unrolled_int8.tflite", inputs)
    assert not isinstance(tf_int8, oracle.RunFailure), f"TFLM cannot run TF's int8 {name}: {tf_int8}"
    theirs = np.concatenate([r[0] for r in tf_int8])
    n = len(keras)
    ours_error, tf_error = np.mean(np.abs(got[:n] - keras)), np.mean(np.abs(theirs[:n] - keras))
    assert ours_error <= tf_error, f"{name}: mean abs error vs Keras {ours_error:.5f}, TF's int8 {tf_error:.5f}"
    accuracy = np.mean(got[:n].argmax(1) == labels[:n])
    keras_accuracy = np.mean(keras.argmax(1) == labels[:n])
    assert abs(accuracy - keras_accuracy) <= 0.005, f"{name}: int8 accuracy {accuracy:.4f}, Keras {keras_accuracy:.4f}"
