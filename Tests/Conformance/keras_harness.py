"""Shared helpers of the Keras and SavedModel import tests (test_keras_import.py,
test_savedmodel_variables.py): convert a model file with the CLI, run the .tflite on a runtime
through oracle.py, and compare with Keras's own outputs stored by the fixture generators."""

from __future__ import annotations

import numpy as np

import harness
import oracle

FLOAT_TOLERANCE = 1e-5


def run_outputs(runtime, model, inputs):
    """The first output of `model` on each sample of `inputs` ([N, ...]), stacked."""
    result = oracle.run(runtime, model, [[x] for x in inputs])
    assert not isinstance(result, oracle.RunFailure), f"{runtime}: {result}"
    return np.stack([run[0] for run in result])


def convert(tfrewrite, work_dir, subdir, source, *args, name):
    """`tfrewrite SOURCE ARGS -o WORK/SUBDIR/NAME.tflite`, which must succeed."""
    out = work_dir / subdir / f"{name}.tflite"
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = harness.run_tfrewrite(tfrewrite, source, *args, "-o", out)
    assert proc.returncode == 0, harness.describe_process(proc)
    return out


def assert_float_matches(runtime, model, inputs, expected):
    got = run_outputs(runtime, model, inputs)
    error = float(np.abs(got.reshape(expected.shape) - expected).max())
    assert error <= FLOAT_TOLERANCE, error


def assert_int8_keeps_accuracy(runtime, model, inputs, expected, labels, summary):
    """Held-out accuracy within 0.5 points of Keras's; where TF 2.21 could quantize the model
    itself (summary has tf_int8_max_abs_error), a largest error no worse than TF's."""
    got = run_outputs(runtime, model, inputs).reshape(expected.shape)
    accuracy = float(np.mean(got[:, 0].argmax(-1) == labels))
    assert abs(accuracy - summary["keras_accuracy"]) <= 0.005, (accuracy, summary["keras_accuracy"])
    if "tf_int8_max_abs_error" in summary:
        error = float(np.abs(got - expected).max())
        assert error <= summary["tf_int8_max_abs_error"], (error, summary)
