"""Keras 3 LSTM/GRU loops through `--rules micro` (pass unroll-while) on the reference TFLM.

TF 2.21 exports a Keras 3 recurrent layer as a WHILE over condition and body
subgraphs. The micro rules unroll it. The unrolled model must have no WHILE and,
run on TFLM, give what LiteRT computes on the original loop (<= 1e-5) on the
held-out digits -- including the stacked LSTM, whose loop TFLM itself runs
wrongly (test_interpreter.py's TFLM_DISAGREES).
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

    heldout = np.load(RECURRENT / "heldout_inputs.npy").astype(np.float32)
    inputs = [[heldout[k:k + 1]] for k in range(SAMPLES)]
    litert = oracle.run("litert", original, inputs, litert_resolver="ref")
    assert not isinstance(litert, oracle.RunFailure), f"LiteRT cannot run {original.name}: {litert}"
    tflm = oracle.run("tflm", unrolled, inputs)
    assert not isinstance(tflm, oracle.RunFailure), f"TFLM cannot run the unrolled {name}: {tflm}"
    worst = max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
                for ra, rb in zip(tflm, litert) for a, b in zip(ra, rb))
    assert worst <= FLOAT_ATOL, f"{name}: unrolled on TFLM vs LiteRT on the loop: max abs diff {worst:g}"
