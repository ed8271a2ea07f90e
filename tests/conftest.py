"""Shared test set-up: graph mode as in TensorFlow 1.15, and the models the tests share.

The session fixtures write each shared model once per test session, whichever test asks
first (the default-config snapshot costs seconds, the tiny model a short training run).
"""

import os

import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top

tf.disable_eager_execution()
tf.logging.set_verbosity(tf.logging.WARN)

@pytest.fixture(scope='session')
def fake_data_dir(tmp_path_factory):
  """A fake rooms_ring_camera (64 px, DeepMind's layout): 8 train and 8 test scenes."""
  from tests import fake_data  # pylint: disable=g-import-not-at-top
  from tests import snapshot  # pylint: disable=g-import-not-at-top
  root = str(tmp_path_factory.mktemp('gqn-dataset'))
  for mode in ('train', 'test'):
    fake_data.write_fake_dataset(root, snapshot.DATASET, mode, num_files=2, scenes_per_file=4)
  return root


@pytest.fixture(scope='session')
def reference_snapshot(tmp_path_factory):
  """A model directory laid out like tf-gqn's published snapshots (no gqn_config.json)."""
  from tests import snapshot  # pylint: disable=g-import-not-at-top
  model_dir = str(tmp_path_factory.mktemp('snapshot'))
  snapshot.write_reference_snapshot(model_dir)
  return model_dir


@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory, fake_data_dir):  # pylint: disable=redefined-outer-name
  """A model directory of the tiny preset trained 4 steps on the fake data."""
  import train_gqn_draw  # pylint: disable=g-import-not-at-top
  from gqn import gqn_params  # pylint: disable=g-import-not-at-top
  from tests import snapshot  # pylint: disable=g-import-not-at-top
  model_dir = str(tmp_path_factory.mktemp('tiny_model'))
  train_gqn_draw.train(gqn_params.tiny_config(), fake_data_dir, snapshot.DATASET, model_dir,
                       train_gqn_draw.TrainOptions(batch_size=4, max_steps=4,
                                                   log_steps=100, seed=1))
  return model_dir
