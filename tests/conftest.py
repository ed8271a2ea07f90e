"""Shared test set-up: graph mode as in TensorFlow 1.15, the models the tests share, and
the training loop on a fixed batch that each model's tests run.

The session fixtures write each shared model once per test session, whichever test asks
first (the default-config snapshot costs seconds, the tiny model a short training run).
"""

import os

import numpy as np
import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top

tf.disable_eager_execution()
tf.logging.set_verbosity(tf.logging.WARN)


def _excess_losses_on_a_fixed_batch(model_fn, config, steps, batch=4):
  """Trains `model_fn` `steps` steps on one batch; each step's loss over the floor."""
  from tests import fake_data  # pylint: disable=g-import-not-at-top
  with tf.Graph().as_default():
    tf.set_random_seed(0)
    features, target = fake_data.fake_batch(config, batch=batch)
    spec = model_fn(features, target, tf.estimator.ModeKeys.TRAIN, {'gqn_params': config})
    step = tf.train.get_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      losses = [sess.run([spec.loss, spec.train_op])[0] for _ in range(steps)]
      assert sess.run(step) == steps
  assert np.all(np.isfinite(losses)), losses
  # At sigma_t = 2 most of the loss is the Gaussian's normaliser, which no model can
  # lower; what learning can remove is the excess over it.
  pixels = config.IMG_HEIGHT * config.IMG_WIDTH * config.IMG_CHANNELS
  floor = pixels * (np.log(config.GENERATOR_SIGMA_ALPHA) + 0.5 * np.log(2 * np.pi))
  return np.asarray(losses) - floor


@pytest.fixture
def excess_losses_on_a_fixed_batch():
  """The training loop of the "one real step lowers the loss" tests, for any model_fn.

  A function (model_fn, config, steps, batch=4): trains `model_fn` in TRAIN mode for
  `steps` steps on one fixed batch of random scenes (tests/fake_data.fake_batch, graph
  seed 0) and returns each step's loss minus the part no model can lower, the Gaussian
  normaliser at the initial pixel sigma, H * W * C * (log sigma + log(2 pi) / 2).
  """
  return _excess_losses_on_a_fixed_batch

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
