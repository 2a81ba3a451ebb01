#!/usr/bin/env python3
"""Generate small untrained Keras models under Fixtures/keras/layers/ that cover the layer
options the trained fixtures (generate.py) do not: each is saved as .keras and .h5 with 8 random
inputs and Keras's outputs for them, so the importer's lowering of each layer is checked against
Keras itself. Weights are Keras's seeded initial ones, with biases and batch-norm statistics
set to random values so that no term is zero.

    /work/tfvenv/bin/python Fixtures/keras/generate_layers.py [NAME…]

With names, only those models of MORE_MODELS are written (the others' files stay as they are).

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


def conv_transpose_groups():
    inp = keras.Input((5, 5, 4))
    x = L.Conv2DTranspose(6, 3, strides=2, padding="same", activation="relu")(inp)
    x = L.Conv2D(6, 3, groups=3, padding="same")(x)
    x = L.Conv2DTranspose(4, 4, strides=2, padding="same")(x)
    x = L.Conv2DTranspose(3, (2, 1), strides=(1, 2), padding="valid", activation="tanh")(x)
    x = L.UpSampling2D((2, 1))(x)
    return keras.Model(inp, L.Conv1D(4, 1)(L.Reshape((-1, 3))(x)))


def sequence_layers():
    return keras.Sequential([
        keras.Input((6,)),
        L.Embedding(10, 4),
        L.UpSampling1D(2),
        L.LayerNormalization(),
        L.PReLU(shared_axes=[1]),
        L.ELU(alpha=0.5),
        L.TimeDistributed(L.Dense(4, activation="elu")),
        L.Conv1D(6, 3, groups=2, padding="same"),
        L.LayerNormalization(center=False, epsilon=0.01),
        L.PReLU(),
    ])


def timedistributed_states():
    inp = keras.Input((3, 6, 6, 2))
    x = L.TimeDistributed(L.Conv2D(4, 3, activation="relu"))(inp)
    x = L.TimeDistributed(L.Flatten())(x)
    seq, h, c = L.LSTM(5, return_sequences=True, return_state=True)(x)
    out, h2 = L.GRU(4, return_state=True)(seq)
    return keras.Model(inp, L.Dense(3)(L.Concatenate()([h, c, h2, out])))


def nested_shared():
    inp = keras.Input((8,))
    shared = L.Dense(8, activation="tanh")
    inner_sequential = keras.Sequential([keras.Input((8,)), L.Dense(6, activation="relu"), L.Dense(4)])
    i2 = keras.Input((4,))
    inner_functional = keras.Model(i2, L.LayerNormalization()(L.Dense(3)(i2)))
    a = shared(inp)
    b = shared(a)
    c = inner_sequential(b)
    d = inner_functional(c)
    e = inner_functional(L.Dense(4)(a))
    return keras.Model(inp, L.Dense(2)(L.Concatenate()([d, e, c])))


# Layers added later (issue 18), each model built under its own seed, so that adding one leaves
# the others' weights unchanged: Conv2DTranspose (same/valid, kernel smaller than the stride),
# grouped Conv1D/Conv2D, UpSampling1D/2D, Embedding, LayerNormalization, PReLU, ELU,
# TimeDistributed, LSTM/GRU return_state, a shared layer and nested Sequential/Functional models.
MORE_MODELS = (conv_transpose_groups, sequence_layers, timedistributed_states, nested_shared)


INTEGER_INPUTS = {"sequence_layers": 10}  # Embedding indices: integers below the vocabulary size


def save(name, model, rng):
    for layer in model.layers:
        randomize(layer, rng)
    shape = (8, 1) + tuple(model.input_shape[1:])
    if name in INTEGER_INPUTS:
        inputs = rng.integers(0, INTEGER_INPUTS[name], shape).astype(np.float32)
    else:
        inputs = rng.normal(0, 1, shape).astype(np.float32)
    outputs = np.stack([model.predict(s, verbose=0) for s in inputs]).astype(np.float32)
    np.save(os.path.join(ROOT, f"{name}_inputs.npy"), inputs)
    np.save(os.path.join(ROOT, f"{name}_keras.npy"), outputs)
    model.save(os.path.join(ROOT, f"{name}.keras"))
    model.save(os.path.join(ROOT, f"{name}.h5"))
    for ext in (".keras", ".h5"):
        loaded = keras.saving.load_model(os.path.join(ROOT, name + ext))
        assert np.max(np.abs(np.stack([loaded.predict(s, verbose=0) for s in inputs]) - outputs)) < 1e-6, (name, ext)
    print(name, outputs.shape)


def randomize(layer, rng):
    """Keras's initial weights, with vectors (biases, statistics, PReLU alphas) made random."""
    if isinstance(layer, keras.Model):
        for inner in layer.layers:
            randomize(inner, rng)
        return
    weights = layer.get_weights()
    if isinstance(layer, L.BatchNormalization):
        weights = [rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in weights]
    elif isinstance(layer, L.PReLU):
        weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in weights]
    else:
        weights = [w if w.ndim > 1 or w.size == 0 else rng.normal(0, 0.3, w.shape).astype(np.float32) for w in weights]
    layer.set_weights(weights)


def main():
    import sys
    only = set(sys.argv[1:])  # names: (re)generate just these models
    if only:
        for k, build in enumerate(MORE_MODELS):
            if build.__name__ in only:
                keras.utils.set_random_seed(100 + k)
                save(build.__name__, build(), np.random.default_rng(100 + k))
        return
    keras.utils.set_random_seed(18)
    rng = np.random.default_rng(18)
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT)
    for name, model in models():
        save(name, model, rng)  # draws from rng in the same order as before save() existed
    for k, build in enumerate(MORE_MODELS):
        keras.utils.set_random_seed(100 + k)
        save(build.__name__, build(), np.random.default_rng(100 + k))


if __name__ == "__main__":
    main()
