"""Models for the evaluation and predictor tests: a tf-gqn-layout snapshot, a tiny model.

tf-gqn's snapshots (rooms_ring_camera, 220K steps) are a model directory with the
checkpoint of the TRAIN graph of the default config (model variables, Adam slots,
`global_step`) and no `gqn_config.json`. This writes the same layout with the spec's
deterministic reference weights (tests/data/reference_weights.py), so tests can load it
the way users load the published snapshots. The fixtures below also train a tiny model
on fake records.
"""

import os

import pytest
import tensorflow.compat.v1 as tf

import train_gqn_draw
from data_provider.gqn_tfr_provider import Context, Query
from gqn import gqn_model
from gqn import gqn_params
from tests import fake_data
from tests.data import reference_weights

CHECKPOINT_NAME = 'model.ckpt-0'


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
                                {'gqn_params': gqn_params.default_config()})
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


# Models shared by the evaluation and predictor tests: each is written once per test
# session, whichever test module asks first (the default-config one costs seconds).
_SHARED = {}
DATASET = 'rooms_ring_camera'


def _shared(key, make):
  if key not in _SHARED:
    _SHARED[key] = make()
  return _SHARED[key]


@pytest.fixture(scope='session')
def fake_data_dir(tmp_path_factory):
  """A fake rooms_ring_camera (64 px, DeepMind's layout): 8 train and 8 test scenes."""
  def make():
    root = str(tmp_path_factory.mktemp('gqn-dataset'))
    for mode in ('train', 'test'):
      fake_data.write_fake_dataset(root, DATASET, mode, num_files=2, scenes_per_file=4)
    return root
  return _shared('data', make)


@pytest.fixture(scope='session')
def reference_snapshot(tmp_path_factory):
  """A model directory laid out like tf-gqn's published snapshots (no gqn_config.json)."""
  def make():
    model_dir = str(tmp_path_factory.mktemp('snapshot'))
    write_reference_snapshot(model_dir)
    return model_dir
  return _shared('snapshot', make)


@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory, fake_data_dir):
  """A model directory of the tiny preset trained 4 steps on the fake data."""
  def make():
    model_dir = str(tmp_path_factory.mktemp('tiny_model'))
    train_gqn_draw.train(gqn_params.tiny_config(), fake_data_dir, DATASET, model_dir,
                         batch_size=4, max_steps=4, log_steps=100, seed=1)
    return model_dir
  return _shared('tiny', make)
