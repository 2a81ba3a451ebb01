"""Conformance of the repair passes: a rewritten model must compute what the original did,
on LiteRT and on TFLM, over many seeded random inputs (oracle.py).

Two sources of rewritten models:

* Pairs written by the Swift test `RepairArtifactsTests` (fixtures through each pass, random
  1-channel convs through conv-to-depthwise, random shape arithmetic through fold-shapes):

      TFREWRITE_REPAIR_ARTIFACTS=/tmp/repair swift test --filter RepairArtifactsTests
      TFREWRITE_REPAIR_ARTIFACTS=/tmp/repair pytest Tests/Conformance/test_repair.py

* The CLI, `tfrewrite IN -o OUT --rules R` (skipped with the reason when the CLI does not
  take --rules).

TFREWRITE_REPAIR_RUNS (default 100) sets the number of random inputs per comparison.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import harness
import oracle

RUNS = int(os.environ.get("TFREWRITE_REPAIR_RUNS", "100"))
# The 140 random single-op cases vary weights and shapes across cases, so fewer inputs each
# keep the suite inside CI's budget; fixtures and CLI cases keep RUNS (≥100).
RANDOM_CASE_RUNS = int(os.environ.get("TFREWRITE_REPAIR_RANDOM_RUNS", "20"))
SEED = 1
ARTIFACTS = os.environ.get("TFREWRITE_REPAIR_ARTIFACTS")
MANIFESTS = ("fixtures.json", "convs.json", "folds.json")


# ----------------------------------------------------------------------------
# Reading models
# ----------------------------------------------------------------------------

def _model(path):
    schema = oracle._schema()
    return schema, schema.Model.GetRootAs(Path(path).read_bytes(), 0)


def op_names(path) -> list:
    """Builtin op names of subgraph 0, in order."""
    schema, m = _model(path)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        codes.append(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()))
    sg = m.Subgraphs(0)
    return [names.get(codes[sg.Operators(i).OpcodeIndex()], "?") for i in range(sg.OperatorsLength())]


def io_quantization(path, which: str, k: int = 0):
    """(scale, zero_point) of subgraph 0's input or output k."""
    _, m = _model(path)
    sg = m.Subgraphs(0)
    index = sg.Inputs(k) if which == "input" else sg.Outputs(k)
    q = sg.Tensors(index).Quantization()
    assert q is not None and q.ScaleLength() == 1, f"{path}: {which} {k} is not per-tensor quantized"
    return float(q.Scale(0)), int(q.ZeroPoint(0))


# ----------------------------------------------------------------------------
# Comparisons
# ----------------------------------------------------------------------------

def assert_same_outputs(original, rewritten, atol, runtimes, label="", litert_resolver="builtin", runs=None):
    res = oracle.compare_models(str(original), str(rewritten), runs=runs or RUNS, seed=SEED, atol=atol,
                                runtimes=tuple(runtimes), litert_resolver=litert_resolver)
    problems = []
    for rt, c in res.items():
        if c.status not in ("identical", "within atol"):
            where = f"{rt} ({litert_resolver} kernels)" if rt == "litert" else rt
            problems.append(f"{where}: {c.status}: {c.detail}")
    assert not problems, f"{label}\n" + "\n".join(problems)
    return res


def quantize(x, scale, zero_point):
    """TFLite/TFLM AffineQuantize: round-half-away-from-zero of float32 x / scale, + zp, clamped."""
    v = (np.asarray(x, np.float32) / np.float32(scale)).astype(np.float64)
    r = np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5))
    return np.clip(r + zero_point, -128, 127).astype(np.int8)


def dequantize(q, scale, zero_point):
    """TFLite DEQUANTIZE: float(double(scale) * (q - zp))."""
    return (np.float64(np.float32(scale)) * (np.asarray(q, np.int64) - zero_point)).astype(np.float32)


def assert_int8_io_equivalent(original, rewritten, runtimes, label=""):
    """Float model vs int8-I/O model: quantize the float inputs ourselves, dequantize the int8
    outputs, and require the same numbers."""
    in_scale, in_zp = io_quantization(rewritten, "input")
    out_scale, out_zp = io_quantization(rewritten, "output")
    float_inputs = oracle.make_inputs(str(original), SEED, RUNS)
    # Spread the inputs over the quantized range instead of N(0,1) (mostly clamped).
    lo, hi = (-128 - in_zp) * in_scale, (127 - in_zp) * in_scale
    rng = np.random.default_rng(SEED)
    float_inputs = [[rng.uniform(lo, hi, size=t.shape).astype(np.float32) for t in run] for run in float_inputs]
    int8_inputs = [[quantize(t, in_scale, in_zp) for t in run] for run in float_inputs]
    problems = []
    for rt in runtimes:
        a = oracle.run(rt, str(original), float_inputs)
        b = oracle.run(rt, str(rewritten), int8_inputs)
        if isinstance(a, oracle.RunFailure) or isinstance(b, oracle.RunFailure):
            problems.append(f"{rt}: original {a if isinstance(a, oracle.RunFailure) else 'ran'}, "
                            f"rewritten {b if isinstance(b, oracle.RunFailure) else 'ran'}")
            continue
        deq = [[dequantize(o, out_scale, out_zp) for o in run] for run in b]
        d = oracle.diff_outputs(a, deq)
        if not d.identical:
            problems.append(f"{rt}: max abs diff {d.max_abs_diff:g} at {d.where} ({d.mismatched_values} values)")
    assert not problems, f"{label}\n" + "\n".join(problems)


def check_case(case):
    label = f"{case['name']}: {case.get('note', '')}"
    missing = [op for op in case.get("absent_ops", []) if op in op_names(case["rewritten"])]
    assert not missing, f"{label}: rewritten model still has {missing}: {op_names(case['rewritten'])}"
    for comparison in case["comparisons"]:
        if case.get("kind") == "int8-io":
            assert_int8_io_equivalent(case["original"], case["rewritten"], comparison["runtimes"], label)
        else:
            is_random = case["name"].startswith(("conv", "fold"))
            assert_same_outputs(case["original"], case["rewritten"], comparison["atol"], comparison["runtimes"],
                                label, comparison.get("litert_resolver", "builtin"),
                                runs=RANDOM_CASE_RUNS if is_random else RUNS)


# ----------------------------------------------------------------------------
# Pairs written by the Swift test
# ----------------------------------------------------------------------------

def _artifact_cases():
    if not ARTIFACTS:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason="set TFREWRITE_REPAIR_ARTIFACTS=DIR and run `swift test --filter RepairArtifactsTests` "
                   "with it first, to write the model pairs"))]
    params = []
    for manifest in MANIFESTS:
        path = Path(ARTIFACTS) / manifest
        if not path.is_file():
            params.append(pytest.param(None, id=manifest, marks=pytest.mark.skip(
                reason=f"{path} missing: run `swift test --filter RepairArtifactsTests` with "
                       f"TFREWRITE_REPAIR_ARTIFACTS={ARTIFACTS}")))
            continue
        for case in json.loads(path.read_text())["cases"]:
            params.append(pytest.param(case, id=case["name"]))
    return params


@pytest.mark.parametrize("case", _artifact_cases())
def test_rewritten_pair(case):
    check_case(case)


# ----------------------------------------------------------------------------
# Through the CLI (`--rules`)
# ----------------------------------------------------------------------------

INT8_IO_RULES = "passes:\n  - int8-io\n  - cleanup\n"

CLI_CASES = [
    # fixture, extra CLI args, compare kind, atol, ops that must be gone
    ("micro_speech_int8", ["--rules", "micro_speech"], "same-io", 0.0, ["CONV_2D"]),
    ("micro_speech_float", ["--rules", "micro_speech"], "same-io", 1e-6, ["CONV_2D"]),
    ("ds_cnn_int8", ["--rules", "micro", "--batch", "1"], "same-io", 0.0, ["SHAPE", "STRIDED_SLICE", "PACK"]),
    ("ds_cnn_float", ["--rules", "micro", "--batch", "1"], "same-io", 1e-6, ["SHAPE", "STRIDED_SLICE", "PACK"]),
    ("qdq_float_io", ["--rules", "{int8_io_rules}"], "int8-io", 0.0, ["QUANTIZE", "DEQUANTIZE"]),
]


@pytest.mark.parametrize("fixture,args,kind,atol,absent", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_rules(tfrewrite, work_dir, fixture, args, kind, atol, absent):
    src = harness.FIXTURES_DIR / f"{fixture}.tflite"
    if not src.is_file():
        pytest.skip(f"fixture {src} absent")
    rules_file = work_dir / "int8_io_rules.yaml"
    rules_file.write_text(INT8_IO_RULES)
    args = [a.replace("{int8_io_rules}", str(rules_file)) for a in args]
    out = work_dir / f"{fixture}.cli.tflite"
    proc = harness.run_tfrewrite(tfrewrite, src, "-o", out, *args)
    err = (proc.stderr or "").lower()
    if proc.returncode == 2 and "--rules" in err and ("unknown option" in err or "unexpected argument" in err):
        pytest.skip("the CLI does not take --rules yet: " + proc.stderr.strip().splitlines()[0])
    assert proc.returncode == 0, harness.describe_process(proc)
    check_case({"name": f"{fixture} via CLI {' '.join(args)}", "original": str(src), "rewritten": str(out),
                "comparisons": [{"runtimes": ["litert", "tflm"], "atol": atol}], "kind": kind, "absent_ops": absent})
