#!/usr/bin/env python3
"""TF's converter to int8 (int8 I/O) with a representative dataset, for the benchmarks.

    $TF_PYTHON scripts/tf-int8-convert.py PB INPUT OUTPUT SHAPE CALIB DST

SHAPE like 1,224,224,3; CALIB is a .npy of samples or random:N (seeded standard-normal
samples: the distribution our random:N draws from).
"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
pb, inp, out, shape, calib, dst = sys.argv[1:7]
shape = [int(d) for d in shape.split(",")]
if calib.startswith("random:"):
    samples = np.random.default_rng(1).standard_normal((int(calib[7:]), *shape), dtype=np.float32)
else:
    samples = np.load(calib)
c = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(pb, input_arrays=[inp],
    output_arrays=[out], input_shapes={inp: shape})
c.optimizations = [tf.lite.Optimize.DEFAULT]
c.representative_dataset = lambda: ([s.reshape(shape).astype(np.float32)] for s in samples)
c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
c.inference_input_type = tf.int8
c.inference_output_type = tf.int8
open(dst, "wb").write(c.convert())
