#!/usr/bin/env python3
"""Generate small untrained Keras models under Fixtures/keras/layers/ that cover the layer
options the trained fixtures (generate.py) do not: each is saved as .keras and .h5 with 8 random
inputs and Keras's outputs for them, so the importer's lowering of each layer is checked against
Keras itself. Weights are Keras's seeded initial ones, with biases and batch-norm statistics
set to random values so that no term is zero.

    /work/tfvenv/bin/python Fixtures/keras/generate_layers.py

  <name>.keras, <name>.h5, <name>_inputs.npy ([8, 1, ...] float32), <name>_keras.npy
"""

import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import keras

L = keras.layers
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers")


def models():
    inp = keras.Input((10, 10, 3))
    x = L.Cropping2D(((1, 0), (0, 2)))(inp)
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu6", use_bias=False)(x)
    a = L.LeakyReLU(negative_slope=0.1)(L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", dilation_rate=2)(x))
    b = L.Conv2D(12, 1, activation="swish")(x)
    m = L.Multiply()([a, b])
    s = L.Subtract()([a, b])
    x = L.Average()([m, s, L.Maximum()([a, b])])
    x = L.BatchNormalization(center=False)(x)
    x = L.GlobalMaxPooling2D(keepdims=True)(x)
    x = L.Reshape((3, 4))(x)
    x = L.Permute((2, 1))(x)
    x = L.Flatten()(x)
    yield "conv2d_merges", keras.Model(inp, L.Dense(5, activation="sigmoid")(x))

    yield "conv1d_options", keras.Sequential([
        keras.Input((16, 4)),
        L.Conv1D(6, 3, dilation_rate=2, padding="same", activation="tanh"),
        L.DepthwiseConv1D(3, depth_multiplier=2, padding="valid"),
        L.SeparableConv1D(5, 3, strides=2, activation="relu"),
        L.Cropping1D((1, 1)),
        L.GlobalMaxPooling1D(),
        L.Rescaling(0.5, offset=0.25),
        L.Dense(3),
        L.ReLU(max_value=6.0),
    ])

    yield "recurrent_options", keras.Sequential([
        keras.Input((6, 5)),
        L.SimpleRNN(7, return_sequences=True),
        L.GRU(6, reset_after=False, return_sequences=True, go_backwards=True),
        L.LSTM(4, return_sequences=True, go_backwards=True),
        L.Dense(3, activation="softmax"),
        L.GlobalAveragePooling1D(),
    ])

    yield "bidirectional", keras.Sequential([
        keras.Input((5, 4)),
        L.Bidirectional(L.LSTM(6, return_sequences=True)),
        L.Bidirectional(L.GRU(5), merge_mode="sum"),
        L.Dense(3),
    ])


def main():
    keras.utils.set_random_seed(18)
    rng = np.random.default_rng(18)
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT)
    for name, model in models():
        for layer in model.layers:
            weights = layer.get_weights()
            if isinstance(layer, L.BatchNormalization):
                weights = [rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in weights]
            else:
                weights = [w if w.ndim > 1 or w.size == 0 else rng.normal(0, 0.3, w.shape).astype(np.float32) for w in weights]
            layer.set_weights(weights)
        inputs = rng.normal(0, 1, (8, 1) + tuple(model.input_shape[1:])).astype(np.float32)
        outputs = np.stack([model.predict(s, verbose=0) for s in inputs]).astype(np.float32)
        np.save(os.path.join(ROOT, f"{name}_inputs.npy"), inputs)
        np.save(os.path.join(ROOT, f"{name}_keras.npy"), outputs)
        model.save(os.path.join(ROOT, f"{name}.keras"))
        model.save(os.path.join(ROOT, f"{name}.h5"))
        for ext in (".keras", ".h5"):
            loaded = keras.saving.load_model(os.path.join(ROOT, name + ext))
            assert np.max(np.abs(np.stack([loaded.predict(s, verbose=0) for s in inputs]) - outputs)) < 1e-6, (name, ext)
        print(name, outputs.shape)


if __name__ == "__main__":
    main()
