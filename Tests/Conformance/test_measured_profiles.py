"""Measured TFLM profiles (Rules/micro_latest.yaml, micro_2024_06.yaml, micro_2023_10.yaml,
written by scripts/measure-tflm-profile.py) agree with the TFLM they were measured on:

* `tfrewrite check M --rules P --json` reports an error exactly when that wheel's interpreter
  cannot load and invoke M, for every fixture and corpus model;
* the grouped-convolution fixtures rewritten with `--rules micro_versioned_2020` load and run on
  the oldest measured wheel, with the outputs that wheel gives the original.

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
import tflm_batch

MODELS = harness.fixture_models() + (harness.corpus_models() or [])

# profile -> the venv whose python runs that TFLM (None: this one).
PROFILES = {
    "micro_latest": (None, "0.dev20261023182759"),
    "micro_2024_06": (".venv/tflm-20240624", "0.dev20240624135632"),
    "micro_2023_10": (".venv/tflm-20231010", "0.dev20231010131554"),
}
OLDEST = "micro_2023_10"

# Findings about wrong results, which a load-and-invoke cannot judge:
# - the 2023-10 wheel loads and invokes per-channel FULLY_CONNECTED weights (computed with one
#   scale before tflite-micro PR #2673, 2024-09), whereas the 2024-06 wheel refuses them at load
#   ("failed to allocate tensors"), so there the finding is a load failure like any other;
# - runtime-size: a loop body's SLICE whose output size only the run decides (the stacked Keras 3
#   LSTM loop). The two older wheels abort (SIGABRT) invoking it, which this test sees; current
#   TFLM invokes it and returns wrong outputs (test_interpreter.py's TFLM_DISAGREES checks that
#   it still does).
WRONG_RESULT_FINDINGS = {("per-channel-fully-connected", "micro_2023_10"), ("runtime-size", "micro_latest")}

KNOWN_MISSES: dict[str, set[str]] = {}


def tflm_python(profile: str):
    venv, wheel = PROFILES[profile]
    if venv is None:
        return None
    python = harness.REPO_ROOT / venv / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{venv} (tflite-micro {wheel}) is absent; create it with "
                    f"`python3 scripts/measure-tflm-profile.py {wheel} {profile}`")
    return str(python)


def _short(path: Path) -> str:
    return str(path.relative_to(path.parents[1]))


@pytest.mark.parametrize("profile", list(PROFILES))
def test_check_agrees_with_the_measured_tflm_on_every_model(tfrewrite, profile):
    python = tflm_python(profile)
    checks = {}
    for model in MODELS:
        proc = harness.run_tfrewrite(tfrewrite, "check", model, "--rules", profile, "--json")
        if proc.returncode != 2:
            checks[model] = [f"{f['op']} #{f['op_index']}: {f['code']}" for f in json.loads(proc.stdout)["findings"]
                             if f["severity"] == "error" and (f["code"], profile) not in WRONG_RESULT_FINDINGS]
    runs = tflm_batch.verdicts(python, list(checks))
    disagreements, known = [], KNOWN_MISSES.get(profile, set())
    for model, errors in checks.items():
        failure = runs[model]
        if _short(model) in known:
            assert failure is not None and not errors, f"{_short(model)} is listed in KNOWN_MISSES but agrees now: remove it"
        elif failure is None and errors:
            disagreements.append(f"{_short(model)}: TFLM runs it, check reports {errors}")
        elif failure is not None and not errors:
            disagreements.append(f"{_short(model)}: TFLM fails ({failure[:200]}), check reports no error")
    assert len(checks) >= 40, f"only {len(checks)} models checked"
    assert not disagreements, f"{len(disagreements)} of {len(checks)} models:\n" + "\n".join(disagreements)


GROUPED = sorted((harness.FIXTURES_DIR / "repair").glob("grouped_conv_*.tflite"))


@pytest.mark.parametrize("model", GROUPED, ids=[m.name for m in GROUPED])
def test_ungrouped_fixture_runs_on_the_oldest_wheel(tfrewrite, tmp_path, model):
    python = tflm_python(OLDEST)
    out = tmp_path / model.name
    # As test_ungroup_conv.py: per-tensor-fully-connected is lossy, so it is left out here.
    proc = harness.run_tfrewrite(tfrewrite, model, "--rules", "micro_versioned_2020",
                                 "--disable-pass", "per-tensor-fully-connected", "-o", out)
    assert proc.returncode == 0, harness.describe_process(proc)
    inputs = oracle.make_inputs(model, seed=3, count=3)
    old = oracle.run("tflm", out, inputs, python=python)
    assert not isinstance(old, oracle.RunFailure), f"the oldest wheel cannot run the output: {old}"
    # The grouped original also runs on that wheel (micro_2023_10: grouped_conv true): the
    # rewrite must compute exactly what it does there (kernels' rounding changed since).
    current = oracle.run("tflm", model, inputs, python=python)
    assert not isinstance(current, oracle.RunFailure), current
    for a, b in zip(old, current):
        for x, y in zip(a, b):
            if np.issubdtype(x.dtype, np.integer):
                np.testing.assert_array_equal(x, y)
            else:
                np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)


def _first_scale_only(src: Path, dst: Path) -> int:
    """Copies src with each per-channel FULLY_CONNECTED filter given its first channel's scale
    (same int8 weights); returns how many filters changed."""
    import flatbuffers
    schema = oracle._schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(src.read_bytes()), 0)
    changed = 0
    for sg in model.subgraphs:
        for op in sg.operators:
            code = model.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) != schema.BuiltinOperator.FULLY_CONNECTED:
                continue
            q = sg.tensors[op.inputs[1]].quantization
            if q is not None and q.scale is not None and len(q.scale) > 1:
                q.scale, q.zeroPoint, q.quantizedDimension = [float(q.scale[0])], [0], 0
                changed += 1
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    dst.write_bytes(builder.Output())
    return changed


@pytest.mark.parametrize("name", ["reference/corpus/DNN_S_tf_int8", "repair/mlp_int8_uint8_io"])
def test_the_2023_wheel_computes_per_channel_fully_connected_with_one_scale(tmp_path, name):
    """The `per-channel-fully-connected` finding on micro_2023_10 is a wrong result, not a load
    failure: that wheel's fully_connected_common.cc takes one multiplier from filter->params.scale,
    which micro_allocator.cc fills with the first channel's scale. Its outputs equal current
    TFLM's on the same model with every per-channel filter given that one scale, and differ from
    current TFLM's on the model as written."""
    python = tflm_python("micro_2023_10")
    model = harness.FIXTURES_DIR / f"{name}.tflite"
    emulated = tmp_path / "first_scale.tflite"
    assert _first_scale_only(model, emulated) >= 2
    inputs = oracle.make_inputs(model, seed=1, count=10)
    old = oracle.run("tflm", model, inputs, python=python)
    assert not isinstance(old, oracle.RunFailure), old
    one_scale = oracle.run("tflm", emulated, inputs)
    current = oracle.run("tflm", model, inputs)
    for result in (one_scale, current):
        assert not isinstance(result, oracle.RunFailure), result
    pairs = [(a, b, c) for ra, rb, rc in zip(old, one_scale, current) for a, b, c in zip(ra, rb, rc)]
    for a, b, _ in pairs:
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, _, c in pairs), "the 2023 wheel agrees with per-channel FULLY_CONNECTED now"


# Ops whose one-op models op_coverage.py builds from bytes (state tensors, resource variables),
# measured at their own types only, and IF/WHILE, whose one-op models fail only where an op of
# their subgraphs does: the profile gives them no op_types entry.
MEASURED_WITHOUT_TYPES = {"ASSIGN_VARIABLE", "CALL_ONCE", "READ_VARIABLE", "SVDF", "UNIDIRECTIONAL_SEQUENCE_LSTM", "VAR_HANDLE", "IF", "WHILE"}


def _profile_tables(profile: str):
    import re
    text = (harness.REPO_ROOT / "Rules" / f"{profile}.yaml").read_text()
    ops = set(re.findall(r"([A-Z0-9_]+): any", text.split("  ops: {", 1)[1].split("}", 1)[0]))
    typed = set(re.findall(r"([A-Z0-9_]+): \[", text.split("  op_types: {", 1)[1].split("}", 1)[0]))
    return text, ops, typed


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_registered_op_is_measured_by_type(profile):
    """scripts/measure-tflm-profile.py measures every op the wheel registers: by type where a
    one-op model can be retyped (its templates and op_coverage.py's cases), the rest named in
    the header."""
    text, ops, typed = _profile_tables(profile)
    assert ops, profile
    unmeasured = ops - typed - MEASURED_WITHOUT_TYPES
    assert not unmeasured, f"{profile}: registered but not measured by type: {sorted(unmeasured)}"
    for op in MEASURED_WITHOUT_TYPES & ops:
        assert op in text.split("target:", 1)[0], f"{profile}'s header does not say how {op} was measured"


@pytest.mark.parametrize("profile", list(PROFILES))
def test_conversion_exits_zero_only_when_the_measured_wheel_runs_the_output(tfrewrite, tmp_path, profile):
    """`tfrewrite M --rules P -o OUT` on every fixture and corpus model: exit 0 only when that
    wheel loads and invokes OUT; exit 2 only when it cannot run M as it is (or for a wrong-result
    finding, which loading cannot show), with nothing written."""
    python = tflm_python(profile)
    written, refused = {}, {}
    for k, model in enumerate(MODELS):
        out = tmp_path / f"{k}_{model.name}"
        proc = harness.run_tfrewrite(tfrewrite, model, "--rules", profile, "-o", out)
        assert proc.returncode in (0, 2), harness.describe_process(proc)
        if proc.returncode == 0:
            written[out] = model
        else:
            assert not out.exists(), f"{_short(model)}: exit 2 but {out.name} was written"
            refused[model] = proc.stderr.strip()
    runs = tflm_batch.verdicts(python, list(written) + list(refused))
    problems = [f"{_short(m)}: exit 0, but {profile}'s wheel cannot run the output: {runs[out][:200]}"
                for out, m in written.items() if runs[out] is not None]
    wrong_result_codes = {code for code, p in WRONG_RESULT_FINDINGS if p == profile}
    for model, err in refused.items():
        if runs[model] is None and not any(code in err for code in wrong_result_codes):
            problems.append(f"{_short(model)}: refused ({err[:200]}), but the wheel runs it as it is")
    print(f"{profile}: {len(written)} written and run, {len(refused)} refused with a reason")
    assert len(written) >= 20, f"only {len(written)} conversions succeeded"
    assert not problems, f"{len(problems)} of {len(MODELS)} models:\n" + "\n".join(problems)
