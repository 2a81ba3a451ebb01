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

  conv1d_bn_{float,int8_tf}.tflite           Conv1D (with bias) + BatchNormalization, twice, on
                                              each digit's 8 rows as an 8-step sequence of 8
                                              features: EXPAND_DIMS -> CONV_2D -> SQUEEZE with
                                              the BN left as MUL/ADD; the int8 one is TF's own
                                              post-training quantization, for comparison
  preprocess_mlp_float.tflite                 Rescaling(0.01) + Normalization (adapted) before
                                              a Dense network, on breast cancer's 30 raw features
  preprocess_conv1d_float.tflite              Rescaling(1/16, offset -0.5) + Normalization
                                              before a VALID Conv1D, on raw pixel values 0..16
  rescaling_pow2_float.tflite                 Rescaling(1/16) alone before a VALID Conv1D, on raw
                                              pixel values 0..16 (a power of two: folds bit-exact
                                              in float; TF keeps the MUL before a Conv1D)
  rescaling_float.tflite                      Rescaling(0.05) alone, the same way (folds into an
                                              int8 model's input quantization, not in float)
  conv1d_bn.pb, preprocess_{mlp,conv1d}.pb    the same models as frozen GraphDefs, the form
                                              tfrewrite imports without TF's folding
  conv1d_bn_keras_float.tflite                conv1d_bn through TF's Keras path (batch None):
                                              EXPAND_DIMS ops, SHAPE/STRIDED_SLICE/PACK

  digits_inputs.npy   [16, 1, 8, 8, 1] float32 held-out images (test split)
  digits_calib.npy    [64, 1, 8, 8, 1] float32 calibration images (train split), the exact
                      representative dataset given to the converter for the int8 exports

  conv1d_calib.npy    [64, 1, 8, 8] the same calibration images as 8-step sequences
  conv1d_inputs.npy   [297, 1, 8, 8] every held-out image (test split), conv1d_labels.npy their
                      digits (int64); raw_conv1d_* the same in raw pixel values 0..16
  cancer_inputs.npy   [119, 1, 30] held-out breast cancer rows, cancer_labels.npy their
                      classes, cancer_calib.npy [64, 1, 30] training rows

The MLP models take [1, 64] (the flattened image); reshape the .npy files accordingly.
`generate_repair.py conv1d` writes only the Conv1D and preprocessing fixtures,
`generate_repair.py rescaling` only the two Rescaling ones.
Deterministic up to TensorFlow's training kernels (fixed seeds, single-threaded).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np
import tensorflow as tf
import keras
from sklearn.datasets import load_breast_cancer, load_digits
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


def frozen_graph(model, input_shape):
    """The model as a frozen GraphDef (input "t", output "Identity"): ExpandDims, Conv2D,
    Squeeze, BiasAdd and the batch norm's Mul/AddV2 stay separate nodes."""
    spec = tf.TensorSpec([1, *input_shape], tf.float32)
    fn = tf.function(lambda t: model(t, training=False)).get_concrete_function(spec)
    return convert_variables_to_constants_v2(fn).graph.as_graph_def().SerializeToString()


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


def conv1d_bn():
    """Conv1D with bias and BatchNormalization: TF 2.21 converts each to EXPAND_DIMS -> CONV_2D
    -> SQUEEZE and leaves the bias and the batch norm as ADD/MUL after the SQUEEZE."""
    return keras.Sequential([
        keras.Input((8, 8)),
        keras.layers.Conv1D(16, 3, padding="same"),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Conv1D(16, 3, padding="same"),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
        keras.layers.Softmax(),
    ])


def preprocessing(raw, body, scale, offset):
    """Rescaling(scale, offset) then a Normalization adapted to the training data, before `body`."""
    norm = keras.layers.Normalization(axis=-1)
    norm.adapt(raw * scale + offset)
    return keras.Sequential([keras.Input(raw.shape[1:]), keras.layers.Rescaling(scale, offset), norm, *body])


def conv1d_fixtures():
    """The Conv1D + BN and preprocessing fixtures, with every held-out sample and its label."""
    seeds()
    d = load_digits()
    raw = d.images.astype(np.float32)  # [N, 8, 8], 0..16
    x, y = raw[:1500] / 16.0, d.target[:1500].astype(np.int64)
    xt, yt = raw[1500:] / 16.0, d.target[1500:].astype(np.int64)
    np.save(os.path.join(HERE, "conv1d_calib.npy"), x[:64][:, None])
    np.save(os.path.join(HERE, "conv1d_inputs.npy"), xt[:, None])
    np.save(os.path.join(HERE, "conv1d_labels.npy"), yt)
    np.save(os.path.join(HERE, "raw_conv1d_inputs.npy"), raw[1500:][:, None])
    np.save(os.path.join(HERE, "raw_conv1d_calib.npy"), raw[:64][:, None])

    m = train(conv1d_bn(), x, y, epochs=4)
    print("conv1d_bn keras accuracy", m.evaluate(xt, yt, verbose=0)[1])
    write("conv1d_bn_float.tflite", converter_for(m, (8, 8)).convert())
    # TF's Keras path (batch None): the ExpandDims stays an EXPAND_DIMS op.
    write("conv1d_bn_keras_float.tflite", tf.lite.TFLiteConverter.from_keras_model(m).convert())
    write("conv1d_bn.pb", frozen_graph(m, (8, 8)))
    c = converter_for(m, (8, 8))
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = rep(x[:64][:, None])
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    write("conv1d_bn_int8_tf.tflite", c.convert())

    # Breast cancer: 30 features on scales from 1e-3 to 1e3, where Normalization matters.
    cancer = load_breast_cancer()
    cx, cy = cancer.data.astype(np.float32), cancer.target.astype(np.int64)
    np.save(os.path.join(HERE, "cancer_inputs.npy"), cx[450:][:, None])
    np.save(os.path.join(HERE, "cancer_labels.npy"), cy[450:])
    np.save(os.path.join(HERE, "cancer_calib.npy"), cx[:64][:, None])
    p = train(preprocessing(cx[:450], [keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2), keras.layers.Softmax()], 0.01, 0.0), cx[:450], cy[:450], epochs=10)
    print("preprocess_mlp keras accuracy", p.evaluate(cx[450:], cy[450:], verbose=0)[1])
    write("preprocess_mlp_float.tflite", converter_for(p, (30,)).convert())
    write("preprocess_mlp.pb", frozen_graph(p, (30,)))
    q = train(preprocessing(raw[:1500], [
        keras.layers.Conv1D(16, 3, padding="valid", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
        keras.layers.Softmax(),
    ], 1.0 / 16.0, -0.5), raw[:1500], y)
    print("preprocess_conv1d keras accuracy", q.evaluate(raw[1500:], yt, verbose=0)[1])
    write("preprocess_conv1d_float.tflite", converter_for(q, (8, 8)).convert())
    write("preprocess_conv1d.pb", frozen_graph(q, (8, 8)))


def rescaling_fixtures():
    """Rescaling alone before a VALID Conv1D on raw digits (0..16, 8 rows of 8): by 1/16, a
    power of two, and by 0.05. Inputs: raw_conv1d_*.npy."""
    d = load_digits()
    raw = d.images.astype(np.float32)
    y = d.target.astype(np.int64)
    for name, scale in [("rescaling_pow2_float.tflite", 1.0 / 16.0), ("rescaling_float.tflite", 0.05)]:
        seeds()
        m = train(keras.Sequential([keras.Input((8, 8)), keras.layers.Rescaling(scale),
                                    keras.layers.Conv1D(16, 3, padding="valid", activation="relu"), keras.layers.Flatten(),
                                    keras.layers.Dense(10), keras.layers.Softmax()]), raw[:1500], y[:1500])
        print(name, "keras accuracy", m.evaluate(raw[1500:], y[1500:], verbose=0)[1])
        write(name, converter_for(m, (8, 8)).convert())


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
    import sys

    os.makedirs(HERE, exist_ok=True)
    if sys.argv[1:] == ["conv1d"]:
        conv1d_fixtures()
    elif sys.argv[1:] == ["rescaling"]:
        rescaling_fixtures()
    else:
        main()
        conv1d_fixtures()
        rescaling_fixtures()
