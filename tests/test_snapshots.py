"""Published snapshots: what `publish` writes, training on from one, and the snapshots in
models/ measured again on a few test examples against their metrics.json."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from data_provider.scenes import render
from gqn import checkpoints
from gqn import evaluation
from gqn import gqn_params
from gqn import snapshots
from gqn import training
from tests import snapshot

MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'models')
PUBLISHED = ('synth_rooms_ring_camera', 'synth_shepard_metzler_7_parts')
# Examples of the test split evaluated again; metrics.json holds all of them.
CHECKED_EXAMPLES = 10


def test_optimizer_variables_are_told_apart():
  for name in ('GQN/eta_g/kernel/Adam', 'GQN/eta_g/kernel/Adam_1', 'beta1_power',
               'beta2_power'):
    assert snapshots.is_optimizer_variable(name), name
  for name in ('GQN/eta_g/kernel', 'global_step', 'GQN/GQN_RNN/LSTM_gen/GQNCell/z_LSTMConv/kernel'):
    assert not snapshots.is_optimizer_variable(name), name


def test_publish_keeps_the_model_and_training_on_starts_from_it(tiny_model, fake_data_dir,
                                                                tmp_path):
  published = str(tmp_path / 'snapshot')
  prefix = snapshots.publish(tiny_model, published, metrics={'mean_render_mse': 0.5})
  source = checkpoints.find_checkpoint(tiny_model)
  step = checkpoints.global_step(source)
  assert prefix == os.path.join(published, 'model.ckpt-%d' % step)
  assert sorted(os.listdir(published)) == sorted([
      'checkpoint', 'gqn_config.json', 'metrics.json', 'model.ckpt-%d.index' % step,
      'model.ckpt-%d.data-00000-of-00001' % step])
  with open(os.path.join(published, 'metrics.json')) as f:
    assert json.load(f) == {'mean_render_mse': 0.5}
  # The `checkpoint` file names the checkpoint relative to the directory: it moves.
  moved = str(tmp_path / 'moved')
  shutil.move(published, moved)
  moved_prefix = checkpoints.find_checkpoint(moved)
  assert moved_prefix == os.path.join(moved, 'model.ckpt-%d' % step)
  kept = checkpoints.read_variables(moved_prefix)
  every = checkpoints.read_variables(source)
  assert sorted(kept) == snapshots.model_variable_names(source)
  assert 'global_step' in kept and not any(snapshots.is_optimizer_variable(n) for n in kept)
  assert len(every) > 2 * len(kept)  # Adam's two slots per variable are gone
  for name in kept:
    np.testing.assert_array_equal(tf.train.load_variable(moved_prefix, name),
                                  tf.train.load_variable(source, name))
  assert os.path.getsize(moved_prefix + '.data-00000-of-00001') < 0.5 * os.path.getsize(
      source + '.data-00000-of-00001')

  # A new model directory trains on from it: the step goes on, the weights start there.
  config = gqn_params.tiny_config()
  model_dir = str(tmp_path / 'trained_on')
  reached = training.train(config, fake_data_dir, snapshot.DATASET, model_dir,
                           training.TrainOptions(batch_size=2, max_steps=step + 2,
                                                 log_steps=100, seed=0, init_from=moved))
  assert reached == step + 2
  after = checkpoints.find_checkpoint(model_dir)
  name = 'GQN/eta_g/kernel'
  start = tf.train.load_variable(moved_prefix, name)
  moved_by = np.abs(tf.train.load_variable(after, name) - start).max()
  # Two Adam steps move a weight by at most about 2 learning rates; a fresh
  # initialisation would differ by the weights' own scale.
  assert 0 < moved_by < 3 * config.ADAM_LR_ALPHA < 0.1 * np.abs(start).max()


@pytest.fixture(scope='module')
def rendered_test_splits(tmp_path_factory):
  """The test splits the published metrics were measured on (200 scenes, seed 0)."""
  root = str(tmp_path_factory.mktemp('published-data'))
  for dataset in PUBLISHED:
    render.render_dataset(root, dataset, train_scenes=1, test_scenes=200, seed=0,
                          progress=False)
  return root


@pytest.mark.parametrize('dataset', PUBLISHED)
def test_published_snapshot_measures_what_its_metrics_say(dataset, rendered_test_splits,
                                                          tmp_path):
  model_dir = os.path.join(MODELS, dataset)
  with open(os.path.join(model_dir, 'metrics.json')) as f:
    published = json.load(f)
  checkpoint = checkpoints.find_checkpoint(model_dir)
  assert checkpoints.global_step(checkpoint) == published['global_step']
  assert published['num_examples'] == 200 and published['dataset'] == dataset
  # Small enough to keep in the repository.
  assert sum(os.path.getsize(os.path.join(model_dir, name))
             for name in os.listdir(model_dir)) < 8 * 2 ** 20
  # Evaluated from a copy: evaluation writes TensorBoard summaries into its model_dir.
  copy = str(tmp_path / 'snapshot')
  shutil.copytree(model_dir, copy)
  metrics = evaluation.evaluate(copy, rendered_test_splits, dataset,
                                max_examples=CHECKED_EXAMPLES, batch_size=CHECKED_EXAMPLES,
                                output_dir=str(tmp_path / 'eval'), seed=published['seed'],
                                num_samples=1, report=False, progress=False)
  assert metrics['num_examples'] == CHECKED_EXAMPLES
  for name in evaluation.PER_EXAMPLE:
    np.testing.assert_allclose(metrics['per_example'][name],
                               published['per_example'][name][:CHECKED_EXAMPLES],
                               rtol=1e-3, err_msg=name)
  # What the snapshot is published for: its mean render beats both baselines.
  assert published['mean_render_mse'] < min(published['baselines'].values())
