"""A tf-gqn-layout snapshot for the evaluation and predictor tests, with known weights.

tf-gqn's snapshots (rooms_ring_camera, 220K steps) are a model directory with the
checkpoint of the TRAIN graph of the default config (model variables, Adam slots,
`global_step`) and no `gqn_config.json`. This writes the same layout with the
deterministic reference weights (tests/data/reference_weights.py), so tests can load it
the way users load the published snapshots (the `reference_snapshot` fixture of
conftest.py).
"""

import os

import tensorflow.compat.v1 as tf

from data_provider.gqn_tfr_provider import Context, Query
from gqn import gqn_model
from gqn import gqn_params
from tests.data import reference_weights

CHECKPOINT_NAME = 'model.ckpt-0'
# The dataset of tf-gqn's snapshots; the shared fake data and tiny model use it too.
DATASET = 'rooms_ring_camera'


def write_reference_snapshot(model_dir, global_step=0):
  """Saves the default-config TRAIN graph with the reference weights into `model_dir`.

  Args:
    model_dir: directory to write into (created if missing). No gqn_config.json is
      written, as in the published snapshots.
    global_step: value stored as `global_step` (the reference outputs are at 0).

  Returns:
    The checkpoint path, `<model_dir>/model.ckpt-0`.
  """
  frames, poses, query, target = reference_weights.fixed_inputs(batch=1)
  with tf.Graph().as_default():
    features = Query(Context(tf.constant(frames), tf.constant(poses)), tf.constant(query))
    gqn_model.gqn_draw_model_fn(features, tf.constant(target), tf.estimator.ModeKeys.TRAIN,
                                {'gqn_params': gqn_params.tf_gqn_config()})
    with tf.Session() as sess:
      for variable in tf.global_variables():
        value = reference_weights.value_for(
            variable.op.name, variable.shape.as_list(),
            variable.dtype.base_dtype.as_numpy_dtype)
        if variable.op.name == 'global_step':
          value = value + global_step
        variable.load(value, sess)
      tf.io.gfile.makedirs(model_dir)
      return tf.train.Saver().save(sess, os.path.join(model_dir, CHECKPOINT_NAME),
                                   write_meta_graph=False)
