#!/usr/bin/env python3
"""Generate the Keras model files under Fixtures/keras/ (issue 18: .keras and .h5 without TF).

Run from the repository root:

    /work/tfvenv/bin/python Fixtures/keras/generate.py

Needs tensorflow-cpu 2.x with Keras 3, scikit-learn and numpy; for the Keras 2 (.h5 written by
tf.keras before Keras 3) files also tf_keras, e.g. installed beside it with
`pip install --no-deps --target DIR tf-keras` and DIR on PYTHONPATH (skipped when absent).
TensorFlow is only used here: the tests read the files without it.

Five small models trained briefly on data sets bundled with scikit-learn:
  cnn_digits    8x8 digits, Functional: Rescaling -> Conv2D 8 same relu -> BatchNormalization ->
                MaxPooling2D -> [DepthwiseConv2D 3x3 same -> ReLU] + [Conv2D 8 1x1] (Add) ->
                Concatenate with a SeparableConv2D branch -> ZeroPadding2D -> AveragePooling2D
                -> Conv2D 16 3x3 -> GlobalAveragePooling2D -> Dropout -> Dense 10 softmax
  conv1d_digits digits as 8 steps of 8 features: Conv1D 16 3 relu -> ZeroPadding1D ->
                MaxPooling1D -> Conv1D 16 3 same (causal) -> BatchNormalization -> Activation
                relu -> AveragePooling1D -> Flatten -> Dense 10 -> Softmax
  mlp_cancer    breast cancer (30 features divided by their training maximum): Normalization
                (adapted) -> Dense 16 relu -> Dropout -> Dense 8 tanh -> Dense 2 softmax
  lstm_digits   digits as 8 steps of 8 features: LSTM 16 -> Dense 10 softmax
  gru_digits    digits as 8 steps of 8 features: GRU 16 (return_sequences) -> GRU 12 -> Dense 10
                softmax

Each is written as <name>.keras (Keras 3 zip) and <name>.h5 (Keras 3 legacy HDF5), and with
tf_keras available as <name>_keras2.h5, plus:
  <name>_inputs.npy    held-out samples (float32, [N, 1, ...]); the tests use all of them
  <name>_labels.npy    their labels (int64, [N])
  <name>_keras.npy     Keras's own outputs (model.predict, float32, [N, 1, classes])
  <name>_keras2.npy    the Keras 2 model's outputs on the same inputs
  <name>_calib.npy     training samples for int8 calibration ([64, 1, ...])
  summary.json         versions, Keras's accuracy on the held-out samples and that of TF's own
                       int8 conversion (TFLiteConverter.from_keras_model with <name>_calib.npy)
"""

import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

ROOT = os.path.dirname(os.path.abspath(__file__))
MODELS = ("cnn_digits", "conv1d_digits", "mlp_cancer", "lstm_digits", "gru_digits")


def split(x, y, seed):
    return train_test_split(x.astype(np.float32), y, test_size=0.2, random_state=seed, stratify=y)


def data(name):
    if name == "mlp_cancer":
        x, y = load_breast_cancer(return_X_y=True)
        x_train, x_test, y_train, y_test = split(x, y, 7)
        scale = x_train.max(axis=0)
        return x_train / scale, x_test / scale, y_train, y_test
    x, y = load_digits(return_X_y=True)
    shape = (8, 8, 1) if name == "cnn_digits" else (8, 8)
    if name != "cnn_digits":
        x = x / 16.0
    return split(x.reshape((-1,) + shape), y, 11)


def build(keras, name, x_train):
    L = keras.layers
    if name == "cnn_digits":
        inputs = keras.Input((8, 8, 1))
        x = L.Rescaling(1 / 16.0)(inputs)
        x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
        x = L.BatchNormalization()(x)
        x = L.MaxPooling2D(2)(x)
        a = L.ReLU()(L.DepthwiseConv2D(3, padding="same")(x))
        b = L.Conv2D(8, 1)(x)
        added = L.Add()([a, b])
        c = L.SeparableConv2D(4, 3, padding="same", activation="relu")(x)
        x = L.Concatenate()([added, c])
        x = L.ZeroPadding2D(1)(x)
        x = L.AveragePooling2D(2)(x)
        x = L.Conv2D(16, 2, activation="relu")(x)
        x = L.GlobalAveragePooling2D()(x)
        x = L.Dropout(0.2)(x)
        return keras.Model(inputs, L.Dense(10, activation="softmax")(x))
    if name == "conv1d_digits":
        return keras.Sequential([
            keras.Input((8, 8)),
            L.Conv1D(16, 3, activation="relu"),
            L.ZeroPadding1D(1),
            L.MaxPooling1D(2),
            L.Conv1D(16, 3, padding="causal"),
            L.BatchNormalization(),
            L.Activation("relu"),
            L.AveragePooling1D(2),
            L.Flatten(),
            L.Dense(10),
            L.Softmax(),
        ])
    if name == "mlp_cancer":
        norm = L.Normalization()
        norm.adapt(x_train)
        return keras.Sequential([
            keras.Input((30,)),
            norm,
            L.Dense(16, activation="relu"),
            L.Dropout(0.1),
            L.Dense(8, activation="tanh"),
            L.Dense(2, activation="softmax"),
        ])
    if name == "lstm_digits":
        return keras.Sequential([keras.Input((8, 8)), L.LSTM(16), L.Dense(10, activation="softmax")])
    if name == "gru_digits":
        return keras.Sequential([keras.Input((8, 8)), L.GRU(16, return_sequences=True), L.GRU(12),
                                 L.Dense(10, activation="softmax")])
    raise ValueError(name)


def train(keras, name):
    x_train, x_test, y_train, y_test = data(name)
    model = build(keras, name, x_train)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=12, batch_size=32, verbose=0)
    return model, x_train, x_test, y_test


def predict(model, inputs):
    return np.stack([model.predict(s, verbose=0) for s in inputs]).astype(np.float32)


def keras2():
    """Runs in a child process with tf_keras (TF_USE_LEGACY_KERAS=1): the Keras 2 .h5 files."""
    import tf_keras as keras
    keras.utils.set_random_seed(18)
    for name in MODELS:
        model, x_train, _, _ = train(keras, name)
        inputs = np.load(os.path.join(ROOT, f"{name}_inputs.npy"))
        model.save(os.path.join(ROOT, f"{name}_keras2.h5"), save_format="h5")
        np.save(os.path.join(ROOT, f"{name}_keras2.npy"), predict(model, inputs))
        print(name, "keras 2 saved")


def tf_int8_outputs(tf, model, calib, inputs):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s] for s in calib)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    i, o = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    outputs = []
    for s in inputs:
        interpreter.set_tensor(i, s)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(o).copy())
    return np.stack(outputs)


def main():
    import tensorflow as tf
    import keras
    keras.utils.set_random_seed(18)
    tf.config.experimental.enable_op_determinism()
    for f in os.listdir(ROOT):
        if f.endswith((".keras", ".h5", ".npy")) or f == "summary.json":
            os.remove(os.path.join(ROOT, f))
    summary = {"generator": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}, "models": {}}
    for name in MODELS:
        model, x_train, x_test, y_test = train(keras, name)
        inputs = x_test[:, None]  # one sample per row with the batch-1 input shape: [N, 1, ...]
        outputs = predict(model, inputs)
        calib = x_train[:64, None].astype(np.float32)
        np.save(os.path.join(ROOT, f"{name}_inputs.npy"), inputs)
        np.save(os.path.join(ROOT, f"{name}_labels.npy"), y_test.astype(np.int64))
        np.save(os.path.join(ROOT, f"{name}_keras.npy"), outputs)
        np.save(os.path.join(ROOT, f"{name}_calib.npy"), calib)
        model.save(os.path.join(ROOT, f"{name}.keras"))
        model.save(os.path.join(ROOT, f"{name}.h5"))
        # The saved files give Keras's outputs back through Keras's own loader.
        for ext in (".keras", ".h5"):
            loaded = keras.saving.load_model(os.path.join(ROOT, name + ext))
            assert np.max(np.abs(predict(loaded, inputs[:10]) - outputs[:10])) < 1e-6, (name, ext)
        entry = {"test_samples": int(len(y_test)), "keras_accuracy": float(np.mean(np.argmax(outputs[:, 0], -1) == y_test)),
                 "input_shape": list(inputs.shape[1:]), "output_shape": list(outputs.shape[1:])}
        try:
            tf_int8 = tf_int8_outputs(tf, model, calib, inputs)
            entry["tf_int8_accuracy"] = float(np.mean(np.argmax(tf_int8[:, 0], -1) == y_test))
            entry["tf_int8_max_abs_error"] = float(np.max(np.abs(tf_int8 - outputs)))
        except Exception as e:  # TF cannot quantize every model fully to int8 (e.g. its LSTM)
            entry["tf_int8_error"] = str(e).splitlines()[0][:200]
        summary["models"][name] = entry
        print(name, entry)
    try:
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
        subprocess.run([sys.executable, __file__, "--keras2"], check=True, env=env)
        summary["generator"]["tf_keras"] = subprocess.run(
            [sys.executable, "-c", "import tf_keras; print(tf_keras.__version__)"], env=env,
            capture_output=True, text=True, check=True).stdout.strip()
    except subprocess.CalledProcessError as e:
        print("no Keras 2 files (tf_keras not importable):", e, file=sys.stderr)
    with open(os.path.join(ROOT, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    keras2() if "--keras2" in sys.argv else main()
