"""Honest exits and honest findings, measured on the real TFLM (the tflite_micro package):

* `tfrewrite M --rules micro -o OUT` exits 0 only when OUT loads and runs on TFLM; otherwise
  it exits 2, names each blocking op with its index, and writes nothing.
* `tfrewrite check M --rules micro` reports an error exactly when TFLM cannot run M.
* `--allow-unsupported` writes the output anyway, with a warning per problem.

Every fixture (Fixtures/**.tflite, including the float16, dynamic-range, sparse, uint8-I/O and
resource-variable exports of Fixtures/generate_repair.py) and every corpus model is tried.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import harness
import oracle

MODELS = harness.fixture_models() + (harness.corpus_models() or [])


def test_corpus_is_present():
    if harness.corpus_models() is None:
        pytest.skip(f"model corpus not found at {harness.CORPUS_DIR}: only fixtures were tried")


def _ids(paths):
    return [str(Path(p).relative_to(Path(p).parents[1])) for p in paths]


def tflm_runs(model: Path):
    """None when TFLM loads and invokes the model on two seeded inputs, else the failure."""
    inputs = oracle.make_inputs(model, seed=1, count=2)
    r = oracle.run("tflm", model, inputs)
    return r if isinstance(r, oracle.RunFailure) else None


@pytest.mark.parametrize("model", MODELS, ids=_ids(MODELS))
def test_rules_micro_exits_zero_only_on_a_model_tflm_runs(tfrewrite, tmp_path, model):
    out = tmp_path / "out.tflite"
    proc = harness.run_tfrewrite(tfrewrite, model, "--rules", "micro", "-o", out)
    assert proc.returncode in (0, 2), harness.describe_process(proc)
    if proc.returncode == 0:
        failure = tflm_runs(out)
        assert failure is None, f"exit 0 but TFLM cannot run the output: {failure}"
    else:
        assert not out.exists(), "exit 2 but an output was written"
        err = proc.stderr.strip()
        assert err.startswith("tfrewrite: error:") and "\n" not in err, err
        if "cannot run" in err:
            assert re.search(r"[A-Z_0-9a-z-]+ #\d+: ", err), f"no op and index named: {err}"
        assert tflm_runs(model) is not None, f"refused, but TFLM runs the input as it is: {err}"


# The models TFLM invokes but computes wrongly (the same as test_interpreter.py's TFLM_DISAGREES,
# which checks that they still differ from LiteRT).
TFLM_RUNS_WRONGLY = {"lstm_stacked_loop_float"}


@pytest.mark.parametrize("model", MODELS, ids=_ids(MODELS))
def test_check_reports_an_error_exactly_when_tflm_cannot_run_the_model(tfrewrite, model):
    proc = harness.run_tfrewrite(tfrewrite, "check", model, "--rules", "micro", "--json")
    if proc.returncode == 2:
        pytest.skip(f"tfrewrite cannot read it: {proc.stderr.strip()}")
    report = json.loads(proc.stdout)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    failure = tflm_runs(model)
    # runtime-size is about wrong outputs, which a load-and-invoke cannot see: current TFLM
    # invokes such a model (the stacked Keras 3 LSTM loop) and returns wrong outputs, which
    # test_interpreter.py's TFLM_DISAGREES checks against LiteRT.
    wrong_results = [f for f in errors if f["code"] == "runtime-size"]
    if wrong_results:
        assert model.stem in TFLM_RUNS_WRONGLY, f"runtime-size on {model.name}, which TFLM is not known to run wrongly"
        errors = [f for f in errors if f["code"] != "runtime-size"]
    if failure is None:
        assert errors == [], f"TFLM runs it, but check reports {errors}"
    else:
        assert errors, f"TFLM fails ({failure}), but check reports no error"


def test_allow_unsupported_writes_with_a_warning(tfrewrite, repo_root, tmp_path):
    model = repo_root / "Fixtures/repair/mlp_dynamic_range.tflite"
    out = tmp_path / "out.tflite"
    refused = harness.run_tfrewrite(tfrewrite, model, "--rules", "micro", "-o", out)
    assert refused.returncode == 2 and not out.exists(), harness.describe_process(refused)
    assert "FULLY_CONNECTED #0: hybrid" in refused.stderr
    proc = harness.run_tfrewrite(tfrewrite, model, "--rules", "micro", "-o", out, "--allow-unsupported")
    assert proc.returncode == 0, harness.describe_process(proc)
    assert out.exists()
    assert "warning: the target micro (tflm) cannot run FULLY_CONNECTED #0: hybrid" in proc.stderr
    assert tflm_runs(out) is not None, "the test's premise: TFLM refuses the hybrid model"
