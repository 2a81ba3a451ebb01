#!/usr/bin/env python3
"""Export the trained Keras fixtures of generate.py as TF2 SavedModels with variables
(Keras 3 `model.export(DIR)`), so each of the five models exists as .keras, .h5 and a SavedModel
(issue 18). The models are not retrained: each is loaded from its committed <name>.keras, so
<name>_keras.npy (Keras's outputs), the calibration samples and summary.json apply unchanged.

    /work/tfvenv/bin/python Fixtures/keras/generate_savedmodels.py

  savedmodel/<name>/   saved_model.pb, variables/, fingerprint.pb (assets/ is empty and dropped)

Checked here: the exported `serve` function gives Keras's stored outputs back within 1e-6.
"""

import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
import keras

ROOT = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(ROOT, "savedmodel")
MODELS = ("cnn_digits", "conv1d_digits", "mlp_cancer", "lstm_digits", "gru_digits")


def main():
    keras.utils.set_random_seed(18)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for name in MODELS:
        model = keras.saving.load_model(os.path.join(ROOT, f"{name}.keras"))
        target = os.path.join(OUT, name)
        model.export(target, verbose=False)
        assets = os.path.join(target, "assets")
        if os.path.isdir(assets) and not os.listdir(assets):
            os.rmdir(assets)  # git keeps no empty directories
        inputs = np.load(os.path.join(ROOT, f"{name}_inputs.npy"))
        expected = np.load(os.path.join(ROOT, f"{name}_keras.npy"))
        loaded = tf.saved_model.load(target)
        got = np.stack([loaded.serve(tf.constant(s)).numpy() for s in inputs])
        error = float(np.max(np.abs(got - expected)))
        assert error < 1e-6, (name, error)
        print(name, "exported, serve vs Keras", error)


if __name__ == "__main__":
    main()
