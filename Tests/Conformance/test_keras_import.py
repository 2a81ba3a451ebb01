"""Keras model files (Fixtures/keras/, trained Keras models saved as .keras, Keras 3 .h5 and, when
the generator had tf_keras, Keras 2 .h5): converted with `--rules micro`, run on LiteRT's
reference kernels and on TFLM through oracle.py, against Keras's own outputs stored by
Fixtures/keras/generate.py and generate_layers.py.

  - float: every held-out sample within 1e-5 of Keras;
  - int8 (--quantize int8 with the fixture's calibration samples, float I/O): held-out accuracy
    within 0.5 points of Keras's, and, where TF 2.21 could quantize the model itself, a largest
    output error no worse than TF's own int8 conversion (summary.json).
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

DIR = harness.FIXTURES_DIR / "keras"
SUMMARY = json.loads((DIR / "summary.json").read_text())["models"]
MODELS = tuple(SUMMARY)
FORMS = {".keras": "keras", ".h5": "keras", "_keras2.h5": "keras2"}
# Untrained models covering the layer options the trained ones do not (generate_layers.py).
LAYER_MODELS = ("conv2d_merges", "conv1d_options", "recurrent_options", "bidirectional",
                "conv_transpose_groups", "sequence_layers", "timedistributed_states", "nested_shared")


def _convert(work_dir, source, *args, name):
    return keras_harness.convert(TFREWRITE, work_dir, "keras", source, "--rules", "micro", *args, name=name)


@pytest.mark.parametrize("runtime", oracle.RUNTIMES)
@pytest.mark.parametrize("form", tuple(FORMS))
@pytest.mark.parametrize("model", MODELS)
def test_float_matches_keras(model, form, runtime, work_dir):
    source = DIR / f"{model}{form}"
    if not source.exists():
        pytest.skip(f"{source.name} absent (the generator had no tf_keras)")
    out = _convert(work_dir, source, name=f"{model}{form.replace('.', '_')}")
    keras_harness.assert_float_matches(runtime, out, np.load(DIR / f"{model}_inputs.npy"), np.load(DIR / f"{model}_{FORMS[form]}.npy"))


@pytest.mark.parametrize("runtime", oracle.RUNTIMES)
@pytest.mark.parametrize("form", (".keras", ".h5"))
@pytest.mark.parametrize("model", LAYER_MODELS)
def test_layer_options_match_keras(model, form, runtime, work_dir):
    out = _convert(work_dir, DIR / "layers" / f"{model}{form}", name=f"layers_{model}{form.replace('.', '_')}")
    keras_harness.assert_float_matches(runtime, out, np.load(DIR / "layers" / f"{model}_inputs.npy"), np.load(DIR / "layers" / f"{model}_keras.npy"))


@pytest.mark.parametrize("runtime", oracle.RUNTIMES)
@pytest.mark.parametrize("model", MODELS)
def test_int8_keeps_accuracy(model, runtime, work_dir):
    out = _convert(work_dir, DIR / f"{model}.keras", "--quantize", "int8", "--calibration",
                   DIR / f"{model}_calib.npy", "--float-io", name=f"{model}_int8")
    keras_harness.assert_int8_keeps_accuracy(runtime, out, np.load(DIR / f"{model}_inputs.npy"), np.load(DIR / f"{model}_keras.npy"),
                                             np.load(DIR / f"{model}_labels.npy"), SUMMARY[model])
