"""The demo's pieces on a tiny rendered rooms set: the tiny GQN learns, the demo runs end to end."""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from PIL import Image

import demo
from data_provider import gqn_tfr_provider
from data_provider.scenes import render
from gqn import gqn_model
from gqn import gqn_params

pytestmark = pytest.mark.slow  # Every test here takes more than 10 s.


@pytest.fixture(scope='module')
def rooms_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('rendered'))
  render.render_dataset(root, demo.DATASET, train_scenes=24, test_scenes=8, seed=3,
                        workers=1, progress=False)
  return root


def test_tiny_gqn_loss_falls_on_rendered_rooms(rooms_dir):
  config = gqn_params.tiny_config()
  with tf.Graph().as_default():
    tf.set_random_seed(0)
    features, labels = gqn_tfr_provider.gqn_input_fn(
        demo.DATASET, config.CONTEXT_SIZE, rooms_dir, tf.estimator.ModeKeys.TRAIN,
        batch_size=8, num_epochs=None, custom_frame_size=config.IMG_HEIGHT, seed=0)
    spec = gqn_model.gqn_draw_model_fn(features, labels, tf.estimator.ModeKeys.TRAIN,
                                       {'gqn_params': config})
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      losses = [sess.run([spec.loss, spec.train_op])[0] for _ in range(150)]
  # The excess of the loss over the Gaussian normaliser at sigma_0, which no model can
  # remove, must shrink: new scenes and views come every step, so this is learning.
  floor = 32 * 32 * 3 * (np.log(config.GENERATOR_SIGMA_ALPHA) + 0.5 * np.log(2 * np.pi))
  first, last = np.mean(losses[:10]) - floor, np.mean(losses[-10:]) - floor
  assert last < 0.5 * first, (first, last)


def test_demo_runs_end_to_end_and_reports_against_baselines(rooms_dir, tmp_path, capsys):
  run_dir = str(tmp_path / 'demo')
  code = demo.main(['--data_dir', rooms_dir, '--run_dir', run_dir, '--train_scenes', '24',
                    '--test_scenes', '8', '--steps', '6', '--batch_size', '4',
                    '--eval_examples', '8', '--seed', '3', '--workers', '1'])
  assert code == 0
  out = capsys.readouterr().out
  assert 'GQN (%s, 6 steps)' % demo.PRESET in out
  assert 'mean of the context views' in out and 'nearest context view' in out
  for name in ('scenes.png', 'canvas_sequence.png', 'flight.gif', 'metrics.json'):
    assert os.path.getsize(os.path.join(run_dir, name)) > 0, name
  assert tf.train.latest_checkpoint(os.path.join(run_dir, 'model')).endswith('-6')
  # The published snapshot's fly-through from the same single image, beside the demo's.
  beside = os.path.join(run_dir, 'flight_beside_snapshot.gif')
  assert 'flight_beside_snapshot.gif' in out
  with Image.open(beside) as joined, Image.open(os.path.join(run_dir, 'flight.gif')) as own:
    assert joined.n_frames == own.n_frames == demo.FLIGHT_VIEWS
    assert joined.width > 2 * own.width and joined.height == own.height
  assert not os.path.exists(os.path.join(demo.SNAPSHOT, 'eval'))
