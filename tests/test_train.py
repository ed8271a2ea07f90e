"""train_gqn_draw.py: a few steps of the tiny preset on fake records, through its functions."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import train_gqn_draw
from data_provider import gqn_tfr_provider
from gqn import analysis_model
from gqn import checkpoints
from gqn import gqn_params
from gqn import model_dir as model_dir_lib
from gqn import training
from tests import fake_data


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('gqn-dataset'))
  for mode in ('train', 'test'):
    fake_data.write_fake_dataset(root, 'rooms_ring_camera', mode, num_files=2,
                                 scenes_per_file=4)
  return root


def _summary_tags(model_dir):
  tags = set()
  for path in glob.glob(os.path.join(model_dir, 'events.out.tfevents.*')):
    for event in tf.train.summary_iterator(path):
      tags.update(value.tag for value in event.summary.value)
  return tags


@pytest.mark.slow
def test_train_writes_checkpoint_config_and_debug_summaries(data_dir, tmp_path):
  model_dir = str(tmp_path / 'model')
  config = gqn_params.tiny_config()
  step = train_gqn_draw.train(config, data_dir, 'rooms_ring_camera', model_dir,
                              train_gqn_draw.TrainOptions(batch_size=4, max_steps=3,
                                                          log_steps=1, debug=True, seed=1))
  assert step == 3
  assert tf.train.latest_checkpoint(model_dir).endswith('model.ckpt-3')
  assert model_dir_lib.read_config(model_dir) == config
  tags = _summary_tags(model_dir)
  for tag in ('target_llh', 'kl', 'learning_rate', 'pixel_sigma', 'l2', 'loss'):
    assert tag in tags, tag
  for image in ('context_frames', 'target', 'posterior_mean', 'canvas_sequence'):
    assert any(t.startswith(image) for t in tags), image

  # Running again trains on from the checkpoint with the recorded config.
  assert train_gqn_draw.main(['--data_dir', data_dir, '--dataset', 'rooms_ring_camera',
                              '--model_dir', model_dir, '--batch_size', '4',
                              '--max_steps', '5']) == 0
  assert tf.train.latest_checkpoint(model_dir).endswith('model.ckpt-5')

  # Evaluation and prediction through the Estimator, from the same checkpoint.
  estimator = train_gqn_draw.make_estimator(config, model_dir)
  input_fn = lambda: gqn_tfr_provider.gqn_input_fn(
      'rooms_ring_camera', config.CONTEXT_SIZE, data_dir, tf.estimator.ModeKeys.EVAL,
      batch_size=2, custom_frame_size=config.IMG_HEIGHT)
  metrics = estimator.evaluate(input_fn, steps=2)
  for key in ('elbo', 'target_llh', 'kl', 'l2'):
    assert np.isfinite(metrics[key]), key
  assert metrics['elbo'] == pytest.approx(metrics['target_llh'] + metrics['kl'], rel=1e-4)
  predictions = list(estimator.predict(input_fn, yield_single_examples=True))
  assert len(predictions) == 8
  assert predictions[0]['predicted_mean'].shape == (32, 32, 3)


def test_flag_contradicting_recorded_config_is_refused(data_dir, tmp_path, capsys):
  model_dir = str(tmp_path / 'model')
  model_dir_lib.write_config(model_dir, gqn_params.tiny_config())
  code = train_gqn_draw.main(['--data_dir', data_dir, '--dataset', 'rooms_ring_camera',
                              '--model_dir', model_dir, '--seq_length', '6',
                              '--max_steps', '1'])
  assert code == 2
  error = capsys.readouterr().err
  assert 'SEQ_LENGTH' in error and 'gqn_config.json' in error
  assert not glob.glob(os.path.join(model_dir, 'model.ckpt*'))
  with open(model_dir_lib.config_path(model_dir)) as f:
    assert json.load(f)['SEQ_LENGTH'] == gqn_params.tiny_config().SEQ_LENGTH


@pytest.mark.slow
def test_late_sigma_flags_are_recorded_and_a_late_sigma_without_its_step_is_refused(
    data_dir, tmp_path, capsys):
  refused = str(tmp_path / 'refused')
  code = train_gqn_draw.main(['--data_dir', data_dir, '--dataset', 'rooms_ring_camera',
                              '--model_dir', refused, '--preset', 'tiny',
                              '--sigma_late', '0.5', '--max_steps', '1'])
  assert code == 2
  error = capsys.readouterr().err
  assert '--sigma_late 0.5' in error and '--sigma_late_step' in error
  assert not os.path.exists(refused)
  code = train_gqn_draw.main(['--data_dir', data_dir, '--dataset', 'rooms_ring_camera',
                              '--model_dir', refused, '--preset', 'tiny',
                              '--sigma_late', '0.5', '--sigma_late_step', '1000',
                              '--max_steps', '1'])
  assert code == 2
  assert 'SIGMA_LATE_STEP is 1000' in capsys.readouterr().err  # inside the 2000-step anneal
  model_dir = str(tmp_path / 'model')
  assert train_gqn_draw.main(['--data_dir', data_dir, '--dataset', 'rooms_ring_camera',
                              '--model_dir', model_dir, '--preset', 'tiny',
                              '--sigma_late', '0.5', '--sigma_late_step', '100000',
                              '--batch_size', '2', '--max_steps', '1']) == 0
  recorded = model_dir_lib.read_config(model_dir)
  assert (recorded.SIGMA_LATE_STEP, recorded.GENERATOR_SIGMA_LATE) == (100000, 0.5)


def test_context_phases_switch_to_random_views_at_the_fixed_steps():
  random = gqn_params.create_gqn_config({'FIXED_CONTEXT_STEPS': 100},
                                        base=gqn_params.tiny_config())
  fixed = random._replace(RANDOM_CONTEXT_SIZE=False)
  assert training.context_phases(random, 0, 300) == [(fixed, 100), (random, 300)]
  assert training.context_phases(random, 40, None) == [(fixed, 100), (random, None)]
  assert training.context_phases(random, 0, 60) == [(fixed, 60)]
  assert training.context_phases(random, 100, 300) == [(random, 300)]
  tiny = gqn_params.tiny_config()
  assert training.context_phases(tiny, 0, 300) == [(tiny, 300)]


@pytest.mark.slow
def test_fixed_context_steps_train_on_all_views_first_then_on_random_ones(
    data_dir, tmp_path, monkeypatch):
  drawn = []
  make_input_fn = training.input_fn
  def recording_input_fn(config, *args, **kwargs):
    if args[2] == tf.estimator.ModeKeys.TRAIN:
      drawn.append(config.RANDOM_CONTEXT_SIZE)
    return make_input_fn(config, *args, **kwargs)
  monkeypatch.setattr(training, 'input_fn', recording_input_fn)
  model_dir = str(tmp_path / 'model')
  main = lambda steps: train_gqn_draw.main([
      '--data_dir', data_dir, '--dataset', 'rooms_ring_camera', '--model_dir', model_dir,
      '--preset', 'tiny', '--fixed_context_steps', '3', '--batch_size', '2',
      '--max_steps', str(steps), '--max_minutes', '5', '--keep_checkpoints', '0'])
  assert main(5) == 0
  assert drawn == [False, True]
  # Each phase ends with its checkpoint, and the field is recorded.
  steps = sorted(int(path.split('-')[-1][:-len('.index')])
                 for path in glob.glob(os.path.join(model_dir, 'model.ckpt-*.index')))
  assert steps[-2:] == [3, 5]
  assert model_dir_lib.read_config(model_dir).FIXED_CONTEXT_STEPS == 3
  # Trained on past the switch, a run draws the number of views from its first step.
  assert main(6) == 0
  assert drawn == [False, True, True]


def _train_two_steps_and_encode(data_dir, tmp_path, flag, value):
  """Trains `tiny` with `flag value` for 2 steps; (config, checkpoint, r of 2 x 3 views)."""
  model_dir = str(tmp_path / 'model')
  assert train_gqn_draw.main([
      '--data_dir', data_dir, '--dataset', 'rooms_ring_camera', '--model_dir', model_dir,
      '--preset', 'tiny', flag, str(value), '--batch_size', '2',
      '--max_steps', '2', '--max_minutes', '5']) == 0
  config = model_dir_lib.read_config(model_dir)
  checkpoint = tf.train.latest_checkpoint(model_dir)
  model = analysis_model.GQNModel(config, checkpoint)
  try:
    rng = np.random.RandomState(0)
    r = model.encode(rng.uniform(size=(2, 3, 32, 32, 3)).astype(np.float32),
                     rng.normal(size=(2, 3, 7)).astype(np.float32))
  finally:
    model.close()
  return config, checkpoint, r


def _assert_repeated_over_grid(channels):
  np.testing.assert_allclose(channels, np.broadcast_to(channels[:, :1, :1], channels.shape),
                             rtol=1e-5, atol=1e-6)


def test_pooled_channels_flag_trains_is_recorded_and_pools_r(data_dir, tmp_path):
  config, _, r = _train_two_steps_and_encode(data_dir, tmp_path, '--enc_pooled_channels', 24)
  assert config.ENC_POOLED_CHANNELS == 24
  assert r.shape == (2, 8, 8, 64)
  # The last 24 channels are one code repeated over the grid; the others vary over it.
  _assert_repeated_over_grid(r[..., 40:])
  assert np.std(r[..., :40], axis=(1, 2)).max() > 1e-4


def test_code_channels_flag_trains_is_recorded_inferred_and_adds_a_code(data_dir, tmp_path):
  config, checkpoint, r = _train_two_steps_and_encode(data_dir, tmp_path,
                                                      '--enc_code_channels', 16)
  assert config.ENC_CODE_CHANNELS == 16
  # A checkpoint without its gqn_config.json still tells the code's size.
  inferred, fields = checkpoints.infer_config(checkpoint, gqn_params.tiny_config())
  assert fields['ENC_CODE_CHANNELS'] == 16 and inferred == config
  # All 64 channels of the map keep their place; the 16 after them are one code repeated
  # over the grid.
  assert r.shape == (2, 8, 8, 80)
  _assert_repeated_over_grid(r[..., 64:])
  assert np.std(r[..., :64], axis=(1, 2)).max() > 1e-4
  assert r[..., 64:].max() > 0


def test_missing_dataset_directory_is_one_clear_error(tmp_path, capsys):
  missing = str(tmp_path / 'nowhere')
  code = train_gqn_draw.main(['--data_dir', missing, '--dataset', 'rooms_ring_camera',
                              '--model_dir', str(tmp_path / 'model'), '--preset', 'tiny',
                              '--max_steps', '1'])
  assert code == 2
  assert missing in capsys.readouterr().err


def test_unknown_dataset_is_one_clear_error(tmp_path, capsys):
  code = train_gqn_draw.main(['--data_dir', str(tmp_path), '--dataset', 'rooms_ring',
                              '--model_dir', str(tmp_path / 'model'), '--max_steps', '1'])
  assert code == 2
  assert 'rooms_ring' in capsys.readouterr().err
