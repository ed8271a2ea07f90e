"""Tests run in graph mode, as TensorFlow 1.15 does by default."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top

tf.disable_eager_execution()
tf.logging.set_verbosity(tf.logging.WARN)
