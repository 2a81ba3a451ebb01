"""TF2 SavedModels with variables: our .tflite, run on LiteRT's reference kernels and on TFLM
through oracle.py, against Keras's own outputs.

  - Fixtures/savedmodel_variables/ (Fixtures/generate_savedmodel_variables.py): trained Keras
    models saved by tf.saved_model.save and by Keras 3 model.export;
  - Fixtures/keras/savedmodel/ (Fixtures/keras/generate_savedmodels.py): the five trained Keras
    fixtures of Fixtures/keras/ (CNN, Conv1D, MLP, LSTM, GRU) exported by model.export, so each
    exists as .keras, .h5 and a SavedModel; the LSTM and GRU hold a While loop.

  - float: every held-out sample within 1e-5 of Keras;
  - int8 (--quantize int8 with the fixture's calibration samples, float I/O): held-out accuracy
    within 0.5 points of Keras's, and a largest output error no worse than that of TF 2.21's own
    int8 conversion of the same model (summary.json) where TF could convert it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import harness
import keras_harness
import oracle

TFREWRITE = harness.tfrewrite_path()
if not TFREWRITE.is_file():
    pytest.skip(f"tfrewrite binary not found at {TFREWRITE} (run `swift build`, "
                "or set TFREWRITE=/path/to/tfrewrite)", allow_module_level=True)

DIR = harness.FIXTURES_DIR / "savedmodel_variables"
SUMMARY = json.loads((DIR / "summary.json").read_text())["models"]
MODELS = ("mlp_cancer", "cnn_digits")
LAYOUTS = ("tfsave", "export")

KERAS_DIR = harness.FIXTURES_DIR / "keras"
KERAS_SUMMARY = json.loads((KERAS_DIR / "summary.json").read_text())["models"]
KERAS_MODELS = tuple(KERAS_SUMMARY)


def _convert(work_dir, source, *args, name):
    return keras_harness.convert(TFREWRITE, work_dir, "savedmodel_variables", source, *args, name=name)


@pytest.mark.parametrize("runtime", oracle.RUNTIMES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("model", MODELS)
def test_float_matches_keras(model, layout, runtime, work_dir):
    out = _convert(work_dir, DIR / f"{model}_{layout}", name=f"{model}_{layout}")
    keras_harness.assert_float_matches(runtime, out, np.load(DIR / f"{model}_inputs.npy"), np.load(DIR / f"{model}_keras.npy"))


@pytest.mark.parametrize("runtime", oracle.RUNTIMES)
@pytest.mark.parametrize("model", MODELS)
def test_int8_keeps_accuracy(model, runtime, work_dir):
    out = _convert(work_dir, DIR / f"{model}_export", "--quantize", "int8", "--calibration",
                   DIR / f"{model}_calib.npy", "--float-io", name=f"{model}_int8")
    keras_harness.assert_int8_keeps_accuracy(runtime, out, np.load(DIR / f"{model}_inputs.npy"), np.load(DIR / f"{model}_keras.npy"),
                                             np.load(DIR / f"{model}_labels.npy"), SUMMARY[model])


@pytest.mark.parametrize("runtime", oracle.RUNTIMES)
@pytest.mark.parametrize("model", KERAS_MODELS)
def test_keras_fixture_export_matches_keras(model, runtime, work_dir):
    out = _convert(work_dir, KERAS_DIR / "savedmodel" / model, "--rules", "micro", name=f"keras_{model}_export")
    keras_harness.assert_float_matches(runtime, out, np.load(KERAS_DIR / f"{model}_inputs.npy"), np.load(KERAS_DIR / f"{model}_keras.npy"))


# Known gap (issue 16): since split-fully-connected-gates gives each GRU gate its own int8 scale,
# the exported GRU classifies 346 of 360 held-out digits right against Keras's 348 (0.56 points,
# over the 0.5 allowed; with `--disable-pass split-fully-connected-gates` 347, at equal mean
# error 0.001302 vs 0.001305). Strict, so a fix shows.
INT8_ACCURACY_GAPS = {"gru_digits": "GRU int8 one sample past the 0.5-point bound with per-gate scales"}


@pytest.mark.parametrize("runtime", oracle.RUNTIMES)
@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.xfail(strict=True, reason=INT8_ACCURACY_GAPS[m]))
                                   if m in INT8_ACCURACY_GAPS else m for m in KERAS_MODELS])
def test_keras_fixture_export_int8_keeps_accuracy(model, runtime, work_dir):
    out = _convert(work_dir, KERAS_DIR / "savedmodel" / model, "--rules", "micro", "--quantize", "int8", "--calibration",
                   KERAS_DIR / f"{model}_calib.npy", "--float-io", name=f"keras_{model}_export_int8")
    keras_harness.assert_int8_keeps_accuracy(runtime, out, np.load(KERAS_DIR / f"{model}_inputs.npy"), np.load(KERAS_DIR / f"{model}_keras.npy"),
                                             np.load(KERAS_DIR / f"{model}_labels.npy"), KERAS_SUMMARY[model])
