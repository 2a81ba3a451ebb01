"""Custom rules (Docs/writing-passes.md) on the real runtimes: models rewritten by the
rules of Rules/examples must load in LiteRT and TFLM and give the outputs of the original.

- conv_to_depthwise.yaml on the fixtures with a 1-channel CONV_2D (int8: bit-identical).
- fold_batch_norm.yaml + fuse_activation.yaml replacing the import pipeline's built-in
  fold-batch-norm and fuse-activation on the GraphDef fixtures (compared with tfrewrite's own
  default conversion of the same graph).
"""

from __future__ import annotations

import pytest

import harness
import oracle

TFREWRITE = harness.tfrewrite_path()
if not TFREWRITE.is_file():
    pytest.skip(f"tfrewrite binary not found at {TFREWRITE} (run `swift build`, "
                "or set TFREWRITE=/path/to/tfrewrite)", allow_module_level=True)

SEED = 5
N_INPUTS = 10
F = harness.FIXTURES_DIR
EXAMPLES = F.parent / "Rules" / "examples"


def _assert_same_outputs(a, b, atol):
    result = oracle.compare_models(a, b, runs=N_INPUTS, seed=SEED, atol=atol)
    ran = 0
    for runtime, cmp in result.items():
        assert not cmp.failed, f"{runtime}: {cmp.detail}"
        if cmp.status != "n/a":
            ran += 1
    assert ran > 0, "no runtime could run the model"


@pytest.mark.parametrize("name, atol", [
    ("micro_speech_int8.tflite", 0.0),
    ("micro_speech_float.tflite", 1e-5),
    ("qdq_float_io.tflite", 0.0),
])
def test_conv_to_depthwise_rule_keeps_outputs(name, atol, work_dir):
    out = work_dir / "custom_rules" / f"dw-{name}"
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = harness.run_tfrewrite(TFREWRITE, F / name, "-o", out, "--rules", EXAMPLES / "conv_to_depthwise.yaml", "--stats")
    assert proc.returncode == 0, harness.describe_process(proc)
    assert "stats: conv-to-depthwise: 1" in proc.stderr, proc.stderr
    _assert_same_outputs(F / name, out, atol)


@pytest.mark.parametrize("graph", ["bn_net", "keras_dscnn", "tiny_conv"])
def test_fold_and_fuse_rules_replace_the_import_passes(graph, work_dir):
    d = work_dir / "custom_rules"
    d.mkdir(parents=True, exist_ok=True)
    reference = d / f"{graph}-builtin.tflite"
    proc = harness.run_tfrewrite(TFREWRITE, F / "graphdef" / f"{graph}.pb", "-o", reference)
    assert proc.returncode == 0, harness.describe_process(proc)
    out = d / f"{graph}-rules.tflite"
    proc = harness.run_tfrewrite(
        TFREWRITE, F / "graphdef" / f"{graph}.pb", "-o", out,
        "--disable-pass", "fold-batch-norm", "--disable-pass", "fuse-activation",
        "--rules", EXAMPLES / "fold_batch_norm.yaml", "--rules", EXAMPLES / "fuse_activation.yaml", "--stats")
    assert proc.returncode == 0, harness.describe_process(proc)
    assert "stats: fuse-relu" in proc.stderr, proc.stderr
    ops = [op["op"] for op in harness.inspect_json(TFREWRITE, out)["subgraphs"][0]["operators"]]
    assert "RELU" not in ops and "RELU6" not in ops and "MUL" not in ops, ops
    _assert_same_outputs(reference, out, 1e-5)
