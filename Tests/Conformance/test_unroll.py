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
