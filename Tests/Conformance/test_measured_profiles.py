"""Measured TFLM profiles (Rules/micro_latest.yaml, micro_2024_06.yaml, micro_2023_10.yaml,
written by scripts/measure-tflm-profile.py) agree with the TFLM they were measured on:

* `tfrewrite check M --rules P --json` reports an error exactly when that wheel's interpreter
  cannot load and invoke M, for every fixture and corpus model;
* the grouped-convolution fixtures rewritten with `--rules micro_versioned_2020` load and run on
  the oldest measured wheel, with the outputs current TFLM gives the original.

The latest wheel is the one this venv holds (scripts/conformance-venv.sh). The older wheels
live in .venv/tflm-<date>, which the measuring script creates (their tflite-micro requires
tensorflow: a few minutes and ~2 GB, too slow for every `make test`); without them those
tests skip and say how to create them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import harness
import oracle

MODELS = harness.fixture_models() + (harness.corpus_models() or [])

# profile -> the venv whose python runs that TFLM (None: this one).
PROFILES = {
    "micro_latest": (None, "0.dev20261023182759"),
    "micro_2024_06": (".venv/tflm-20240624", "0.dev20240624135632"),
    "micro_2023_10": (".venv/tflm-20231010", "0.dev20231010131554"),
}
OLDEST = "micro_2023_10"


def tflm_python(profile: str):
    venv, wheel = PROFILES[profile]
    if venv is None:
        return None
    python = harness.REPO_ROOT / venv / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{venv} (tflite-micro {wheel}) is absent; create it with "
                    f"`python3 scripts/measure-tflm-profile.py {wheel} {profile}`")
    return str(python)


def tflm_failure(model: Path, python):
    inputs = oracle.make_inputs(model, seed=1, count=2)
    r = oracle.run("tflm", model, inputs, python=python)
    return r if isinstance(r, oracle.RunFailure) else None


def _short(path: Path) -> str:
    return str(path.relative_to(path.parents[1]))


@pytest.mark.parametrize("profile", list(PROFILES))
def test_check_agrees_with_the_measured_tflm_on_every_model(tfrewrite, profile):
    python = tflm_python(profile)
    disagreements, tried = [], 0
    for model in MODELS:
        proc = harness.run_tfrewrite(tfrewrite, "check", model, "--rules", profile, "--json")
        if proc.returncode == 2:
            continue
        errors = [f"{f['op']} #{f['op_index']}: {f['code']}" for f in json.loads(proc.stdout)["findings"]
                  if f["severity"] == "error"]
        failure = tflm_failure(model, python)
        tried += 1
        if failure is None and errors:
            disagreements.append(f"{_short(model)}: TFLM runs it, check reports {errors}")
        elif failure is not None and not errors:
            disagreements.append(f"{_short(model)}: TFLM fails ({failure}), check reports no error")
    assert tried >= 40, f"only {tried} models tried"
    assert not disagreements, f"{len(disagreements)} of {tried} models:\n" + "\n".join(disagreements)


GROUPED = sorted((harness.FIXTURES_DIR / "repair").glob("grouped_conv_*.tflite"))


@pytest.mark.parametrize("model", GROUPED, ids=[m.name for m in GROUPED])
def test_ungrouped_fixture_runs_on_the_oldest_wheel(tfrewrite, tmp_path, model):
    python = tflm_python(OLDEST)
    out = tmp_path / model.name
    proc = harness.run_tfrewrite(tfrewrite, model, "--rules", "micro_versioned_2020", "-o", out)
    assert proc.returncode == 0, harness.describe_process(proc)
    inputs = oracle.make_inputs(model, seed=3, count=3)
    old = oracle.run("tflm", out, inputs, python=python)
    assert not isinstance(old, oracle.RunFailure), f"the oldest wheel cannot run the output: {old}"
    current = oracle.run("tflm", model, inputs)
    assert not isinstance(current, oracle.RunFailure), current
    for a, b in zip(old, current):
        for x, y in zip(a, b):
            if np.issubdtype(x.dtype, np.integer):
                np.testing.assert_array_equal(x, y)
            else:
                np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)
