"""The generated operator conformance (op_coverage.py) as a test: every one-op model equals its
oracle (TFLM, or LiteRT where TFLM lacks the op), every builtin op current TFLM registers has a
passing type, and Docs/interpreter.md shows the table these results give."""

from __future__ import annotations

import sys

import pytest

import op_coverage


@pytest.fixture(scope="module")
def results(tfrewrite, tmp_path_factory):
    op_models = tfrewrite.parent / "tfrewrite-op-models"
    if not op_models.is_file():
        pytest.skip(f"{op_models} not built")
    return op_coverage.run(tfrewrite, op_models, sys.executable, tmp_path_factory.mktemp("op-coverage"))


def test_every_case_matches_its_oracle(results):
    differing = [f"{r['op']} {r['type']} {r['variant']}: {r['detail']}" for r in results if r["status"] in ("fail", "no-kernel")]
    assert differing == []


def test_every_op_tflm_registers_has_a_passing_type(results):
    _, untested = op_coverage.summary(results)
    assert untested == []


def test_documented_table_is_the_measured_one(results):
    text = op_coverage.DOC.read_text()
    assert op_coverage.table(results) in text, "Docs/interpreter.md is stale: run Tests/Conformance/op_coverage.py --write-docs"


def test_a_wrong_kernel_would_be_caught():
    # The comparison itself: one LSB off in int8, and 2e-6 relative in float32, are failures.
    import numpy as np
    ref = np.array([[1, 2, 3]], np.int8)
    assert op_coverage.compare(ref + np.int8(1), ref) is not None
    f = np.array([1.0, -2.0], np.float32)
    assert op_coverage.compare(f * np.float32(1 + 2e-6), f) is not None
    assert op_coverage.compare(f.copy(), f) is None
