#!/usr/bin/env python3
"""Generate the repair fixtures under Fixtures/repair/ with TensorFlow 2.x and scikit-learn.

Run from the repository root:

    /work/tfvenv/bin/python Fixtures/generate_repair.py

Small Keras models trained briefly on scikit-learn's bundled digits (8x8 grey images, 10
classes), exported the ways downloaded models often come:

  mlp_float16.tflite, cnn_float16.tflite      float16 weights (DEQUANTIZE float16 -> float32)
  mlp_dynamic_range.tflite, cnn_dynamic_range.tflite
                                              dynamic-range ("hybrid") quantization: int8
                                              weights, float activations
  mlp_sparse_float.tflite                     sparse float weights (DENSIFY op)
  mlp_sparse_int8.tflite                      sparse int8 weights read directly by FULLY_CONNECTED
  grouped_conv_g{2,4,8}_{float,int8}.tflite   Conv2D(groups=g) on 8 channels: a CONV_2D whose
                                              filter has 8/g input channels (g=8: one per channel)

  mlp_int8_uint8_io.tflite                    full int8 with uint8 input and output: QUANTIZE
                                              uint8 -> int8 first, int8 -> uint8 last
  accumulator_resource_variable.tflite        a resource variable (VAR_HANDLE, READ_VARIABLE,
                                              ASSIGN_VARIABLE, CALL_ONCE): y = state += x

  digits_inputs.npy   [16, 1, 8, 8, 1] float32 held-out images (test split)
  digits_calib.npy    [64, 1, 8, 8, 1] float32 calibration images (train split), the exact
                      representative dataset given to the converter for the int8 exports

The MLP models take [1, 64] (the flattened image); reshape the .npy files accordingly.
Deterministic up to TensorFlow's training kernels (fixed seeds, single-threaded).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np
import tensorflow as tf
import keras
from sklearn.datasets import load_digits
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "repair")


def seeds():
    keras.utils.set_random_seed(1234)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)


def digits():
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]  # [N, 8, 8, 1] in [0, 1]
    y = d.target.astype(np.int64)
    return x[:1500], y[:1500], x[1500:], y[1500:]


def train(model, x, y, epochs=4):
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, shuffle=False)
    return model


def converter_for(model, input_shape):
    spec = tf.TensorSpec([1, *input_shape], tf.float32)
    fn = tf.function(lambda t: model(t, training=False)).get_concrete_function(spec)
    # Weights as constants (as a frozen graph), not resource variables.
    return tf.lite.TFLiteConverter.from_concrete_functions([convert_variables_to_constants_v2(fn)])


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes")


def rep(calib):
    def gen():
        for s in calib:
            yield [s]
    return gen


def mlp():
    return keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10), keras.layers.Softmax()])


def cnn():
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
        keras.layers.Softmax(),
    ])


def grouped(groups):
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(8, 3, padding="same", groups=groups, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
        keras.layers.Softmax(),
    ])


def prune(model, keep_fraction=0.2):
    """Zero all but the largest |w| of every Dense kernel, in blocks of 4 along the input axis,
    so the converter's sparsifier stores them sparse."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            w, b = layer.get_weights()
            blocks = np.abs(w).reshape(w.shape[0], -1, 1) if w.shape[1] % 4 else np.abs(w).reshape(w.shape[0], w.shape[1] // 4, 4).sum(-1, keepdims=True)
            cut = np.quantile(blocks, 1 - keep_fraction)
            mask = np.broadcast_to(blocks >= cut, blocks.shape[:2] + ((1 if w.shape[1] % 4 else 4),)).reshape(w.shape)
            layer.set_weights([np.where(mask, w, 0).astype(np.float32), b])


def accumulator():
    class Accumulator(tf.Module):
        def __init__(self):
            self.state = tf.Variable(tf.zeros([1, 4]))

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
        def __call__(self, x):
            self.state.assign_add(x)
            return self.state.read_value()

    module = Accumulator()
    c = tf.lite.TFLiteConverter.from_concrete_functions([module.__call__.get_concrete_function()], module)
    c.experimental_enable_resource_variables = True
    return c.convert()


def main():
    os.makedirs(HERE, exist_ok=True)
    seeds()
    x, y, xt, yt = digits()
    calib = x[:64][:, None]
    np.save(os.path.join(HERE, "digits_inputs.npy"), xt[:16][:, None])
    np.save(os.path.join(HERE, "digits_calib.npy"), calib)
    flat = x.reshape(-1, 64)
    flat_calib = calib.reshape(-1, 1, 64)

    m = train(mlp(), flat, y)
    c = converter_for(m, (64,))
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.target_spec.supported_types = [tf.float16]
    write("mlp_float16.tflite", c.convert())
    c = converter_for(m, (64,))
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    write("mlp_dynamic_range.tflite", c.convert())

    k = train(cnn(), x, y, epochs=2)
    c = converter_for(k, (8, 8, 1))
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.target_spec.supported_types = [tf.float16]
    write("cnn_float16.tflite", c.convert())
    c = converter_for(k, (8, 8, 1))
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    write("cnn_dynamic_range.tflite", c.convert())

    s = train(mlp(), flat, y)
    prune(s)
    c = converter_for(s, (64,))
    c.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    write("mlp_sparse_float.tflite", c.convert())
    c = converter_for(s, (64,))
    c.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY, tf.lite.Optimize.DEFAULT]
    c.representative_dataset = rep(flat_calib)
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    c.inference_input_type = tf.int8
    c.inference_output_type = tf.int8
    write("mlp_sparse_int8.tflite", c.convert())

    c = converter_for(m, (64,))
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = rep(flat_calib)
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    c.inference_input_type = tf.uint8
    c.inference_output_type = tf.uint8
    write("mlp_int8_uint8_io.tflite", c.convert())

    write("accumulator_resource_variable.tflite", accumulator())

    for g in (2, 4, 8):
        gm = train(grouped(g), x, y, epochs=2)
        c = converter_for(gm, (8, 8, 1))
        write(f"grouped_conv_g{g}_float.tflite", c.convert())
        c = converter_for(gm, (8, 8, 1))
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = rep(calib)
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        c.inference_input_type = tf.int8
        c.inference_output_type = tf.int8
        write(f"grouped_conv_g{g}_int8.tflite", c.convert())


if __name__ == "__main__":
    main()
