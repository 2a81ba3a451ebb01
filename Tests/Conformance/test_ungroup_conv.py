"""ungroup-conv on the grouped-conv fixtures (Keras Conv2D(groups=2, 4, 8) on 8 channels,
Fixtures/generate_repair.py): with `--rules micro_versioned_2020` no grouped CONV_2D is left,
and the result computes what the grouped model does on LiteRT and TFLM — bit-exact in int8,
within 1e-6 in float.

micro_versioned_2020's table lists no SPLIT or CONCATENATION (its comment: add the ops of
that era in a file that extends it), so the test layers one that registers them.
"""

from __future__ import annotations

import pytest

import harness
import oracle
from test_repair import op_names

@pytest.mark.parametrize("groups", [2, 4, 8])
@pytest.mark.parametrize("kind", ["float", "int8"])
def test_grouped_conv_is_rewritten_and_computes_the_same(tfrewrite, tmp_path, groups, kind):
    model = harness.FIXTURES_DIR / "repair" / f"grouped_conv_g{groups}_{kind}.tflite"
    out = tmp_path / "out.tflite"
    # per-tensor-fully-connected (also in micro_versioned_2020) requantizes the Dense layer's
    # per-channel weights, which is not exact: test_per_tensor_fully_connected below.
    proc = harness.run_tfrewrite(tfrewrite, model, "--rules", "micro_versioned_2020",
                                 "--disable-pass", "per-tensor-fully-connected", "-o", out)
    assert proc.returncode == 0, harness.describe_process(proc)
    ops = op_names(out)
    if groups == 8:
        assert ops.count("DEPTHWISE_CONV_2D") == 1 and ops.count("CONV_2D") == 1, ops
    else:
        assert ops.count("SPLIT") == 1 and ops.count("CONV_2D") == 1 + groups and ops.count("CONCATENATION") == 1, ops
    atol = 0.0 if kind == "int8" else 1e-6
    res = oracle.compare_models(str(model), str(out), runs=50, seed=1, atol=atol, litert_resolver="ref")
    for rt, c in res.items():
        assert c.status in ("identical", "within atol"), f"{rt}: {c.detail}"


def test_without_the_pass_the_old_target_refuses_grouped_conv(tfrewrite, tmp_path):
    model = harness.FIXTURES_DIR / "repair" / "grouped_conv_g2_int8.tflite"
    out = tmp_path / "out.tflite"
    proc = harness.run_tfrewrite(tfrewrite, model, "--rules", "micro_versioned_2020", "--disable-pass", "ungroup-conv", "-o", out)
    assert proc.returncode == 2 and not out.exists()
    assert "CONV_2D #1: version 6, accepted up to 3" in proc.stderr, proc.stderr
    check = harness.run_tfrewrite(tfrewrite, "check", model, "--rules", "micro_versioned_2020")
    assert "CONV_2D #1 is version 6 (a grouped convolution), the target accepts up to 3: ungroup-conv rewrites it" in check.stdout, check.stdout


def test_per_tensor_fully_connected_for_the_old_target(tfrewrite, repo_root, tmp_path):
    """The Dense layer's per-channel int8 weights get one scale; the change is printed and the
    predicted digit stays on the held-out digits."""
    import numpy as np
    from test_precision_repairs import digits, quantized, outputs
    model = repo_root / "Fixtures/repair/grouped_conv_g4_int8.tflite"
    before = harness.run_tfrewrite(tfrewrite, "check", model, "--rules", "micro_versioned_2020")
    assert "per-tensor-fully-connected gives the weights one scale" in before.stdout, before.stdout
    out = tmp_path / "out.tflite"
    proc = harness.run_tfrewrite(tfrewrite, model, "--rules", "micro_versioned_2020", "-o", out)
    assert proc.returncode == 0, harness.describe_process(proc)
    assert "warning: per-tensor-fully-connected: FULLY_CONNECTED" in proc.stderr, proc.stderr
    after = harness.run_tfrewrite(tfrewrite, "check", out, "--rules", "micro_versioned_2020")
    assert after.returncode == 0, after.stdout
    runs = quantized(model, digits(model))
    want = outputs("tflm", model, runs).astype(np.int32)
    got = outputs("tflm", out, runs).astype(np.int32)
    agree = np.mean(np.argmax(got, -1) == np.argmax(want, -1))
    print(f"per-tensor FC: max {np.max(np.abs(got - want))} output steps, top-1 agreement {agree:.2f}")
    assert agree >= 0.9
