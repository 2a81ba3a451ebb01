#!/usr/bin/env python3
"""Generate the TF2 SavedModels *with variables* under Fixtures/savedmodel_variables/.

Run from the repository root:

    /work/tfvenv/bin/python Fixtures/generate_savedmodel_variables.py

Needs tensorflow-cpu 2.x with Keras 3, scikit-learn and numpy. TensorFlow is only used here: the
tests read the SavedModels without it (issue 18).

Two small Keras models trained on data sets bundled with scikit-learn:
  mlp_cancer   breast cancer (30 features, each divided by its training-set maximum so all lie in
               [0, 1]: a per-tensor int8 input cannot hold raw features that span 0.001 to 4000,
               with which TF's own int8 conversion falls to chance): Normalization (adapted)
               -> Dense 16 relu -> Dense 8 relu -> Dense 2 softmax
  cnn_digits   8x8 digits: Conv2D 8 3x3 relu -> BatchNormalization -> MaxPooling2D -> Conv2D 12 3x3
               relu -> Flatten -> Dense 10 softmax

Each is saved twice, in the two layouts Keras users get:
  <name>_tfsave/   tf.saved_model.save(model, dir)   (the Keras model as a tf.Module, its call traced)
  <name>_export/   model.export(dir)                 (Keras 3's ExportArchive)
and with:
  <name>_inputs.npy     held-out samples (float32, [N, 1, ...features]); the first 10 are the
                        "fixed inputs"
  <name>_labels.npy     their labels (int64, [N])
  <name>_keras.npy      Keras's own outputs (model.predict, float32, [N, 1, classes])
  <name>_calib.npy      training samples for int8 calibration ([64, 1, ...])
  summary.json          versions, Keras's accuracy on the held-out samples, and the accuracy and
                        largest output error (against Keras) of TF's own int8 conversion
                        (TFLiteConverter.from_saved_model on <name>_export with <name>_calib.npy,
                        float I/O, run by tf.lite.Interpreter)
Training is seeded (keras.utils.set_random_seed, deterministic ops) but TF versions differ in
their numerics, so another TF version may give slightly different weights; the tests compare
against the .npy files written in the same run.
"""

import json
import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np
import tensorflow as tf
import keras
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "savedmodel_variables")


def split(x, y, seed):
    return train_test_split(x.astype(np.float32), y, test_size=0.25, random_state=seed, stratify=y)


def mlp_cancer():
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = split(x, y, 7)
    scale = x_train.max(axis=0)
    x_train, x_test = x_train / scale, x_test / scale
    norm = keras.layers.Normalization()
    norm.adapt(x_train)
    model = keras.Sequential([
        keras.Input((30,)),
        norm,
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=30, batch_size=32, verbose=0)
    return model, x_train, x_test, y_test


def cnn_digits():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).reshape(-1, 8, 8, 1)
    x_train, x_test, y_train, y_test = split(x, y, 11)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(12, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=15, batch_size=32, verbose=0)
    return model, x_train, x_test, y_test


def tf_int8_outputs(saved_model, calib, inputs):
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
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
    outputs = np.stack(outputs)
    return outputs


def main():
    keras.utils.set_random_seed(18)
    tf.config.experimental.enable_op_determinism()
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT)
    summary = {"generator": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}, "models": {}}
    for name, build in (("mlp_cancer", mlp_cancer), ("cnn_digits", cnn_digits)):
        model, x_train, x_test, y_test = build()
        # One sample per row with the model's batch-1 input shape: [N, 1, ...].
        inputs = x_test[:, None]
        outputs = np.stack([model.predict(s, verbose=0) for s in inputs]).astype(np.float32)
        accuracy = float(np.mean(np.argmax(outputs[:, 0], axis=-1) == y_test))
        np.save(os.path.join(ROOT, f"{name}_inputs.npy"), inputs)
        np.save(os.path.join(ROOT, f"{name}_labels.npy"), y_test.astype(np.int64))
        np.save(os.path.join(ROOT, f"{name}_keras.npy"), outputs)
        np.save(os.path.join(ROOT, f"{name}_calib.npy"), x_train[:64, None].astype(np.float32))
        tf.saved_model.save(model, os.path.join(ROOT, f"{name}_tfsave"))
        model.export(os.path.join(ROOT, f"{name}_export"), verbose=False)
        for layout in ("tfsave", "export"):
            d = os.path.join(ROOT, f"{name}_{layout}")
            for sub in ("assets",):  # empty directories git cannot store
                p = os.path.join(d, sub)
                if os.path.isdir(p) and not os.listdir(p):
                    os.rmdir(p)
            fp = os.path.join(d, "fingerprint.pb")
            if os.path.exists(fp):
                os.remove(fp)  # hashes of the other files; not read by tfrewrite
            # Check the saved model reproduces Keras's outputs through TF's own loader.
            loaded = tf.saved_model.load(d)
            serve = loaded.signatures["serving_default"]
            key = list(serve.structured_outputs)[0]
            got = np.stack([serve(tf.constant(s))[key].numpy() for s in inputs[:10]])
            assert np.max(np.abs(got - outputs[:10])) < 1e-5, (name, layout)
        tf_int8 = tf_int8_outputs(os.path.join(ROOT, f"{name}_export"), x_train[:64, None], inputs)
        summary["models"][name] = {"test_samples": int(len(y_test)), "keras_accuracy": accuracy,
                                   "tf_int8_accuracy": float(np.mean(np.argmax(tf_int8[:, 0], axis=-1) == y_test)),
                                   "tf_int8_max_abs_error": float(np.max(np.abs(tf_int8 - outputs))),
                                   "input_shape": list(inputs.shape[1:]), "output_shape": list(outputs.shape[1:])}
        print(name, "accuracy", accuracy)
    with open(os.path.join(ROOT, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
