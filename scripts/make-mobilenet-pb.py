#!/usr/bin/env python3
"""Writes a frozen MobileNetV2-224 GraphDef (random weights) for the benchmarks.

    $TF_PYTHON scripts/make-mobilenet-pb.py OUT.pb      (needs TensorFlow; not committed)
"""
import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

tf.keras.utils.set_random_seed(1)
model = tf.keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
fn = tf.function(lambda x: model(x, training=False))
frozen = convert_variables_to_constants_v2(fn.get_concrete_function(tf.TensorSpec([1, 224, 224, 3], tf.float32, name="input")))
with open(sys.argv[1], "wb") as f:
    f.write(frozen.graph.as_graph_def().SerializeToString())
