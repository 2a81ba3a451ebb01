"""Rules pipelines: `tfrewrite M -o OUT --rules R` must keep what the model
computes (LiteRT and TFLM give the same outputs as for the original), leave
nothing for `tfrewrite check --rules R` to report, and refuse (exit 2, no
output) when the target cannot run the result.

Models: Fixtures/*.tflite and, when present, the corpus's reference
micro_speech model (a visible skip when absent).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

import harness
import oracle

TFREWRITE = harness.tfrewrite_path()
if not TFREWRITE.is_file():
    pytest.skip(f"tfrewrite binary not found at {TFREWRITE} (run `swift build`, "
                "or set TFREWRITE=/path/to/tfrewrite)", allow_module_level=True)

SEED = 3
N_INPUTS = int(os.environ.get("CONFORMANCE_INPUTS", "20"))
F = harness.FIXTURES_DIR

# (model, rules args, atol, codes `check` still reports): int8 rewrites must be
# bit-identical; a float CONV_2D -> DEPTHWISE_CONV_2D may sum in another order.
# The TF 2.21 fixtures have per-channel FULLY_CONNECTED weights, which the 2020
# profile cannot run; per-tensor-fully-connected requantizes them (not exactly:
# test_ungroup_conv.py measures it), so here it is disabled and `check` keeps
# reporting that one.
CASES = [
    pytest.param(F / "micro_speech_int8.tflite", ["--rules", "micro_speech"], 0.0, [], id="micro_speech_int8-micro_speech"),
    pytest.param(F / "micro_speech_float.tflite", ["--rules", "micro_speech"], 1e-5, [], id="micro_speech_float-micro_speech"),
    pytest.param(F / "ds_cnn_int8.tflite", ["--rules", "micro", "--batch", "1"], 0.0, [], id="ds_cnn_int8-micro"),
    pytest.param(F / "ds_cnn_float.tflite", ["--rules", "micro", "--batch", "1"], 1e-5, [], id="ds_cnn_float-micro"),
    pytest.param(F / "micro_speech_int8.tflite", ["--rules", "micro_versioned_2020", "--disable-pass", "per-tensor-fully-connected"], 0.0,
                 ["per-channel-fully-connected"], id="micro_speech_int8-versioned"),
]


def _corpus_speech():
    models = harness.corpus_models()
    if models is None:
        return pytest.param(None, ["--rules", "micro_speech"], 0.0, [], id="corpus-micro_speech_quantized",
                            marks=pytest.mark.skip(reason=f"model corpus not found at {harness.CORPUS_DIR}"))
    path = harness.CORPUS_DIR / "micro_speech_quantized.tflite"
    return pytest.param(path, ["--rules", "micro_speech"], 0.0, [], id="corpus-micro_speech_quantized")


CASES.append(_corpus_speech())


@pytest.mark.parametrize("model, args, atol, remaining", CASES)
def test_rules_keep_outputs_and_pass_check(model, args, atol, remaining, work_dir):
    out = work_dir / "rules" / f"{model.stem}-{args[1]}.tflite"
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = harness.run_tfrewrite(TFREWRITE, model, "-o", out, *args)
    assert proc.returncode == 0, harness.describe_process(proc)

    rules = args[:2]
    check = harness.run_tfrewrite(TFREWRITE, "check", out, *rules, "--json")
    assert check.returncode == (1 if remaining else 0), harness.describe_process(check)
    assert [f["code"] for f in json.loads(check.stdout)["findings"]] == remaining

    result = oracle.compare_models(model, out, runs=N_INPUTS, seed=SEED, atol=atol)
    ran = 0
    for runtime, cmp in result.items():
        assert not cmp.failed, f"{runtime}: {cmp.detail}"
        if cmp.status != "n/a":
            ran += 1
    assert ran > 0, "no runtime could run the model"


def test_original_fails_check_and_repair_fixes_it(work_dir):
    model = F / "micro_speech_int8.tflite"
    before = harness.run_tfrewrite(TFREWRITE, "check", model, "--rules", "micro_speech")
    assert before.returncode == 1, harness.describe_process(before)
    assert "CONV_2D #1 is not in the target micro_speech" in before.stdout
    assert "conv-to-depthwise" in before.stdout


def test_target_failure_writes_nothing(work_dir):
    out = work_dir / "rules" / "refused.tflite"
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = harness.run_tfrewrite(TFREWRITE, F / "ds_cnn_int8.tflite", "-o", out, "--rules", "micro_speech", "--batch", "1")
    assert proc.returncode == 2, harness.describe_process(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfrewrite: error: "), proc.stderr
    assert "cannot run" in lines[0] and "AVERAGE_POOL_2D" in lines[0]
    assert not out.exists()


@pytest.mark.skipif(shutil.which("c++") is None, reason="no C++ compiler")
def test_c_array_compiles_and_holds_the_tflite(work_dir):
    d = work_dir / "carray"
    d.mkdir(parents=True, exist_ok=True)
    model = F / "micro_speech_int8.tflite"
    tfl = d / "speech.tflite"
    proc = harness.run_tfrewrite(TFREWRITE, model, "-o", tfl, "--rules", "micro_speech")
    assert proc.returncode == 0, harness.describe_process(proc)
    proc = harness.run_tfrewrite(TFREWRITE, model, "-o", d / "speech.cc", "--rules", "micro_speech",
                                 "--array-name", "g_model", "--emit-resolver", d / "resolver.h")
    assert proc.returncode == 0, harness.describe_process(proc)
    (d / "dump.cc").write_text(
        '#include "speech.h"\n#include <cstdio>\n'
        'int main() { std::fwrite(g_model, 1, g_model_len, stdout); return 0; }\n')
    build = subprocess.run(["c++", "dump.cc", "speech.cc", "-o", "dump"], cwd=d, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    dumped = subprocess.run([str(d / "dump")], capture_output=True).stdout
    assert dumped == tfl.read_bytes()
    resolver = (d / "resolver.h").read_text()
    calls = sorted(line.split("op_resolver.")[1].split("(")[0]
                   for line in resolver.splitlines() if "op_resolver.Add" in line)
    assert calls == ["AddDepthwiseConv2D", "AddFullyConnected", "AddReshape", "AddSoftmax"]
    assert "MicroMutableOpResolver<kGModelOpCount>" in resolver


def _corpus_models():
    models = harness.corpus_models()
    if not models:
        return [pytest.param(None, id="corpus-missing",
                             marks=pytest.mark.skip(reason=f"model corpus not found at {harness.CORPUS_DIR}"))]
    return [pytest.param(m, id=m.stem) for m in models]


@pytest.mark.parametrize("model", _corpus_models())
def test_corpus_through_micro_rules_is_unchanged_or_reported(model, work_dir):
    """Every corpus model goes through `--rules micro` without any change in its outputs;
    what the target cannot run is reported (exit 2, nothing written), never broken."""
    out = work_dir / f"{model.stem}.micro.tflite"
    r = subprocess.run([str(TFREWRITE), str(model), "--rules", "micro", "-o", str(out)],
                       capture_output=True, text=True)
    if r.returncode == 2:
        assert "cannot run" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not out.exists()
        return
    assert r.returncode == 0, r.stderr
    res = oracle.compare_models(str(model), str(out), runs=N_INPUTS, seed=SEED, atol=0.0,
                                runtimes=("litert", "tflm"))
    ran = [rt for rt, c in res.items() if c.status in ("identical", "within atol")]
    bad = {rt: f"{c.status}: {c.detail}" for rt, c in res.items() if c.status == "different"}
    assert not bad, bad
    assert ran, f"no runtime could run {model.name}: { {rt: c.status for rt, c in res.items()} }"
