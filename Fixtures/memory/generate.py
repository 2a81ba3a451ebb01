#!/usr/bin/env python3
"""A probe for offline memory plans: a dense chain 16 -> 4 -> 4 -> 16 (float), trained on
scikit-learn's digits to reconstruct each image shrunk to 4x4 (16 features, scaled to [0, 1])
through a 4-unit bottleneck.

Its tensors are 64, 16, 16 and 64 bytes, alive over consecutive ops. TFLM's greedy planner
places the two 64-byte ones first (input at 0, output at 0), then the 16-byte ones around
them, and needs 96 bytes; first fit in the order of first use needs 80. So
`tfrewrite --optimize memory` writes an OfflineMemoryAllocation plan for it
(Tests/Conformance/test_optimize_memory.py checks TFLM's figures and outputs).

Run from the repository root with a venv that has tensorflow-cpu (2.21) and scikit-learn:

    $TF_PYTHON Fixtures/memory/generate.py

Written: narrow_chain_float.tflite.
"""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np
import keras
import tensorflow as tf
from sklearn.datasets import load_digits

HERE = Path(__file__).resolve().parent


def shrunk_digits():
    images = load_digits().images.astype(np.float32) / 16.0
    return images.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16)


def main():
    keras.utils.set_random_seed(1234)
    x = shrunk_digits()
    model = keras.Sequential([
        keras.Input((16,), batch_size=1),
        keras.layers.Dense(4, activation="relu"),
        keras.layers.Dense(4, activation="relu"),
        keras.layers.Dense(16),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x, x, epochs=30, batch_size=32, verbose=0)
    print(f"reconstruction mse {model.evaluate(x, x, verbose=0):.4f} (predicting the mean: {np.mean((x - x.mean(0)) ** 2):.4f})")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    (HERE / "narrow_chain_float.tflite").write_bytes(converter.convert())


if __name__ == "__main__":
    main()
