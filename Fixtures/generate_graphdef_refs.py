#!/usr/bin/env python3
"""TensorFlow's own conversions of the ML-KWS corpus GraphDefs, as references for the
GraphDef importer (and, later, the int8 quantizer).

    /work/venvs/tf/bin/python Fixtures/generate_graphdef_refs.py [--corpus ../shared/models/graphdef]

For DNN_S, CNN_S and DS_CNN_S (cut at `Mfcc` -> `labels_softmax`, like a user deploying the
part a microcontroller runs) it writes:

  reference/corpus/<name>_tf.tflite       tf.compat.v1.lite.TFLiteConverter.from_frozen_graph, float
  reference/corpus/<name>_tf_int8.tflite  the same, full int8 with int8 I/O, calibrated on calib/
  calib/corpus_<name>_calib.npy           [32,1,T,10] f32: the representative dataset, in order
  heldout/corpus_<name>_inputs.npy        [100,1,T,10] f32: inputs never used for calibration
  heldout/corpus_<name>_tf_outputs.npy    [100,1,12] f32: TF's outputs of the frozen graph for them
  reference/corpus/manifest.json          versions, sha256 of the source .pb and the outputs, op lists

The corpus .pb files are third-party data and are never copied here; only these derived
files are. Inputs are real MFCC features: seeded synthetic audio (harmonic tones with an
envelope, plus noise) run through each graph's own DecodeWav -> AudioSpectrogram -> Mfcc
front end, so their ranges are what the models see in use. T is 25 for DNN_S (40 ms
stride) and 49 for the others. Deterministic: fixed seeds, one numpy Generator per purpose.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ("DNN_S", "CNN_S", "DS_CNN_S")
INPUT, OUTPUT = "Mfcc", "labels_softmax"
CALIB_COUNT, HELDOUT_COUNT = 32, 100
CALIB_SEED, HELDOUT_SEED = 20240, 90517
SAMPLE_RATE, SAMPLES = 16000, 16000


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def load_graph(pb_path):
    gd = tf.compat.v1.GraphDef()
    with open(pb_path, "rb") as f:
        gd.ParseFromString(f.read())
    return gd


def synthetic_audio(rng):
    """One second of keyword-like audio in [-1, 1]: a voiced segment (a few harmonics of a
    gliding f0 under a smooth envelope) at a random place, plus background noise."""
    t = np.arange(SAMPLES) / SAMPLE_RATE
    f0 = rng.uniform(90, 320) * (1 + rng.uniform(-0.2, 0.2) * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voiced = sum(rng.uniform(0.2, 1.0) / k * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
                 for k in range(1, 6))
    start, length = rng.uniform(0.05, 0.5), rng.uniform(0.25, 0.6)
    envelope = np.exp(-0.5 * ((t - start - length / 2) / (length / 4)) ** 2)
    noise = rng.normal(0, rng.uniform(0.002, 0.05), SAMPLES)
    x = rng.uniform(0.1, 0.6) * envelope * voiced / 2 + noise
    return np.clip(x, -1, 1).astype(np.float32)


def mfcc_features(gd, seed, count):
    """[count, 1, T, 10] MFCCs from the graph's own audio front end."""
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default() as g:
        tf.import_graph_def(gd, name="")
        wav_in = g.get_tensor_by_name("wav_data:0")
        mfcc = g.get_tensor_by_name(INPUT + ":0")
        audio = tf.compat.v1.placeholder(tf.float32, [SAMPLES, 1])
        encoded = tf.audio.encode_wav(audio, SAMPLE_RATE)
        with tf.compat.v1.Session(graph=g) as sess:
            out = []
            for _ in range(count):
                wav = sess.run(encoded, {audio: synthetic_audio(rng)[:, None]})
                out.append(sess.run(mfcc, {wav_in: wav}))
    return np.stack(out).astype(np.float32)


def run_graph(gd, inputs):
    with tf.Graph().as_default() as g:
        tf.import_graph_def(gd, name="")
        x = g.get_tensor_by_name(INPUT + ":0")
        y = g.get_tensor_by_name(OUTPUT + ":0")
        with tf.compat.v1.Session(graph=g) as sess:
            return np.stack([sess.run(y, {x: xi}) for xi in inputs]).astype(np.float32)


def convert(pb_path, shape, calib=None):
    conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        pb_path, input_arrays=[INPUT], output_arrays=[OUTPUT], input_shapes={INPUT: list(shape)})
    if calib is not None:
        def representative():
            for sample in calib:
                yield [sample]
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def op_list(data):
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_content=data)
    return [d["op_name"] for d in it._get_ops_details()]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    print("  wrote", os.path.relpath(path, HERE))


def save_npy(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, arr)
    print("  wrote", os.path.relpath(path, HERE), arr.shape, arr.dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "shared", "models", "graphdef"))
    args = ap.parse_args()
    np.random.seed(0)
    tf.random.set_seed(0)
    manifest = {"tensorflow": tf.__version__, "numpy": np.__version__, "input": INPUT, "output": OUTPUT,
                "calibration_seed": CALIB_SEED, "heldout_seed": HELDOUT_SEED, "models": {}}
    for name in MODELS:
        pb = os.path.join(args.corpus, f"{name}.pb")
        if not os.path.isfile(pb):
            sys.exit(f"{pb} not found (pass --corpus DIR)")
        print(name)
        gd = load_graph(pb)
        calib = mfcc_features(gd, CALIB_SEED, CALIB_COUNT)
        heldout = mfcc_features(gd, HELDOUT_SEED, HELDOUT_COUNT)
        shape = list(calib.shape[1:])
        outputs = run_graph(gd, heldout)
        save_npy(os.path.join(HERE, "calib", f"corpus_{name}_calib.npy"), calib)
        save_npy(os.path.join(HERE, "heldout", f"corpus_{name}_inputs.npy"), heldout)
        save_npy(os.path.join(HERE, "heldout", f"corpus_{name}_tf_outputs.npy"), outputs)
        f32 = convert(pb, shape)
        i8 = convert(pb, shape, calib)
        f32_path = os.path.join(HERE, "reference", "corpus", f"{name}_tf.tflite")
        i8_path = os.path.join(HERE, "reference", "corpus", f"{name}_tf_int8.tflite")
        write(f32_path, f32)
        write(i8_path, i8)
        manifest["models"][name] = {
            "source": f"../shared/models/graphdef/{name}.pb", "source_sha256": sha256(pb),
            "input_shape": shape,
            "float": {"file": os.path.relpath(f32_path, HERE), "sha256": sha256(f32_path), "ops": op_list(f32)},
            "int8": {"file": os.path.relpath(i8_path, HERE), "sha256": sha256(i8_path), "ops": op_list(i8)},
            "argmax_histogram": np.bincount(outputs.reshape(HELDOUT_COUNT, -1).argmax(1), minlength=12).tolist(),
        }
        print("  float ops:", " ".join(manifest["models"][name]["float"]["ops"]))
    with open(os.path.join(HERE, "reference", "corpus", "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
