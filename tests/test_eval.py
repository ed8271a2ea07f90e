"""eval_gqn.py on a tf-gqn-layout snapshot (no gqn_config.json) and on a tiny trained model."""

import json
import math
import os

import numpy as np
from PIL import Image
import pytest

import eval_gqn
from gqn import gqn_params
from gqn import model_dir as model_dir_lib
from tests.snapshot import DATASET

METRIC_KEYS = ('generation_mse', 'mean_render_mse', 'elbo_nats', 'target_llh_nats', 'kl_nats',
               'bits_per_dim', 'pixel_sigma', 'psnr_db', 'best_of_n_mse', 'sample_spread')


def _args(model_dir, data_dir, *extra):
  return ['--model_dir', model_dir, '--data_dir', data_dir, '--dataset', DATASET] + list(extra)


def _check_metrics(metrics, num_examples, seq_length, pixels):
  for key in METRIC_KEYS:
    assert np.isfinite(metrics[key]), key
  assert metrics['num_examples'] == num_examples
  assert len(metrics['kl_per_step']) == seq_length
  assert sum(metrics['kl_per_step']) == pytest.approx(metrics['kl_nats'], rel=1e-4)
  assert metrics['elbo_nats'] == pytest.approx(
      metrics['target_llh_nats'] + metrics['kl_nats'], rel=1e-4)
  assert metrics['bits_per_dim'] == pytest.approx(
      (metrics['elbo_nats'] + pixels * math.log(256)) / (pixels * math.log(2)))
  for value in metrics['baselines'].values():
    assert 0 < value < 1
  # -10 log10 is convex, so the mean of the images' PSNRs is at least the PSNR of the
  # mean MSE (Jensen).
  assert metrics['psnr_db'] >= -10 * math.log10(metrics['mean_render_mse']) - 1e-6
  assert metrics['best_of_n_mse'] <= metrics['generation_mse'] + 1e-12
  assert 0 <= metrics['mean_render_colour_mse'] <= metrics['mean_render_mse']
  assert metrics['sample_spread'] >= 0
  correlation = metrics['spread_error_correlation']
  assert math.isnan(correlation) or -1 <= correlation <= 1
  assert metrics['ssim'] <= 1


@pytest.mark.slow
def test_snapshot_without_config_is_evaluated_and_rendered(reference_snapshot, fake_data_dir,
                                                           tmp_path, capsys):
  output_dir = str(tmp_path / 'eval')
  code = eval_gqn.main(_args(reference_snapshot, fake_data_dir, '--max_examples', '2',
                             '--batch_size', '2', '--flight', '3', '--num_samples', '1',
                             '--output_dir', output_dir))
  assert code == 0
  with open(os.path.join(output_dir, 'metrics.json')) as f:
    metrics = json.load(f)
  _check_metrics(metrics, 2, 8, 64 * 64 * 3)
  assert metrics['global_step'] == 0
  assert metrics['pixel_sigma'] == pytest.approx(2.0)  # sigma at step 0
  assert metrics['checkpoint'].endswith('model.ckpt-0')
  assert metrics['inferred_fields']['ENC_TYPE'] == 'pool'
  assert metrics['inferred_fields']['Z_CHANNELS'] == 64
  # A checkpoint without gqn_config.json is tf-gqn's, read with tf-gqn's prior timing.
  assert metrics['config'] == gqn_params.tf_gqn_config()._asdict()
  # 2 scenes x (5 context views, target, mean render, 1 sample), 64 px tiles, 2 px gaps.
  with Image.open(os.path.join(output_dir, 'scenes.png')) as image:
    assert image.size == (8 * 66 - 2, 2 * 66 - 2)
  # 8 DRAW canvases and the target.
  with Image.open(os.path.join(output_dir, 'canvas_sequence.png')) as image:
    assert image.size == (9 * 66 - 2, 64)
  with Image.open(os.path.join(output_dir, 'flight.gif')) as gif:
    assert gif.n_frames == 3 and gif.size == (64, 64) and gif.info['loop'] == 0
  printed = capsys.readouterr().out
  assert 'generation_mse' in printed and 'nearest_context_mse' in printed
  assert os.path.join(output_dir, 'flight.gif') in printed


@pytest.mark.parametrize('flags, variable, fix', [
    (['--enc_type', 'tower'], 'GQN/TowerEncoder/conv2d/kernel', '--enc_type pool'),
    (['--preset', 'tiny'], 'GQN/TowerEncoder/conv2d/kernel: checkpoint has none, '
     'graph [2, 2, 3, 64]', '--preset default'),
])
def test_config_contradicting_the_snapshot_is_refused(reference_snapshot, fake_data_dir,
                                                      tmp_path, capsys, flags, variable, fix):
  output_dir = str(tmp_path / 'eval')
  code = eval_gqn.main(_args(reference_snapshot, fake_data_dir, '--output_dir', output_dir,
                             *flags))
  assert code == 2
  error = [line for line in capsys.readouterr().err.splitlines() if 'error:' in line]
  assert len(error) == 1
  assert variable in error[0] and fix in error[0]
  assert not os.path.exists(output_dir)


@pytest.mark.slow
def test_tiny_model_metrics_pictures_reproducibility_and_export(tiny_model, fake_data_dir,
                                                                tmp_path):
  export_dir = str(tmp_path / 'export')
  metrics = eval_gqn.evaluate(tiny_model, fake_data_dir, DATASET, max_examples=5,
                              batch_size=2, seed=3, flight=4, export_dir=export_dir,
                              progress=False)
  config = gqn_params.tiny_config()
  _check_metrics(metrics, 5, config.SEQ_LENGTH, 32 * 32 * 3)
  assert metrics['global_step'] == 4
  assert metrics['config_source'] == model_dir_lib.config_path(tiny_model)
  output_dir = os.path.join(tiny_model, 'eval')  # the default
  for name in ('metrics.json', 'scenes.png', 'canvas_sequence.png', 'flight.gif'):
    assert os.path.isfile(os.path.join(output_dir, name)), name
  with Image.open(os.path.join(output_dir, 'scenes.png')) as image:
    # 2 scenes (the first batch) x (5 context, target, mean render, 3 samples); 32 px
    # tiles are shown at 64 px.
    assert image.size == (10 * 66 - 2, 2 * 66 - 2)
  assert os.path.isfile(os.path.join(export_dir, 'saved_model.pb'))
  # The same seed evaluates the same examples with the same draws.
  again = eval_gqn.evaluate(tiny_model, fake_data_dir, DATASET, max_examples=5, batch_size=2,
                            seed=3, output_dir=str(tmp_path / 'again'), progress=False)
  for key in METRIC_KEYS:
    assert again[key] == pytest.approx(metrics[key], rel=1e-6), key
  assert again['baselines'] == metrics['baselines']
  # The whole split when max_examples is 0: 8 test scenes.
  everything = eval_gqn.evaluate(tiny_model, fake_data_dir, DATASET, max_examples=0,
                                 batch_size=3, num_samples=0, output_dir=str(tmp_path / 'all'),
                                 progress=False)
  assert everything['num_examples'] == 8
  # With no samples asked for, one is still drawn: best-of-1 is the generation MSE.
  assert everything['num_samples'] == 1
  assert everything['best_of_n_mse'] == pytest.approx(everything['generation_mse'], rel=1e-9)
  assert everything['sample_spread'] == 0


def test_flag_contradicting_gqn_config_json_is_refused(tiny_model, fake_data_dir, capsys):
  code = eval_gqn.main(_args(tiny_model, fake_data_dir, '--seq_length', '6'))
  assert code == 2
  error = capsys.readouterr().err
  assert 'SEQ_LENGTH' in error and 'gqn_config.json' in error


@pytest.mark.parametrize('flags, named', [
    (['--dataset', 'rooms_ring'], 'rooms_ring'),
    (['--data_dir', '/nonexistent/gqn'], '/nonexistent/gqn'),
    (['--checkpoint', '/nonexistent/model.ckpt-7'], '/nonexistent/model.ckpt-7'),
    (['--batch_size', '0'], 'batch_size'),
])
def test_bad_input_is_one_clear_line(tiny_model, fake_data_dir, capsys, flags, named):
  try:
    code = eval_gqn.main(_args(tiny_model, fake_data_dir, *flags))
  except SystemExit as error:  # A bad flag value: argparse's exit.
    code = error.code
  assert code == 2
  error = [line for line in capsys.readouterr().err.splitlines() if 'error:' in line]
  assert len(error) == 1 and named in error[0]


def test_existing_export_dir_is_refused_before_evaluating(tiny_model, fake_data_dir, tmp_path,
                                                         capsys):
  code = eval_gqn.main(_args(tiny_model, fake_data_dir, '--export_dir', str(tmp_path),
                             '--output_dir', str(tmp_path / 'eval')))
  assert code == 2
  assert 'exists already' in capsys.readouterr().err
  assert not os.path.exists(str(tmp_path / 'eval'))


def test_nearest_context_view_weighs_position_then_direction():
  def camera(x, y, z, yaw, pitch=0.0):
    return [x, y, z, math.sin(yaw), math.cos(yaw), math.sin(pitch), math.cos(pitch)]
  context = np.array([[camera(3, 0, 0, math.pi), camera(0, 3, 0, 0.0),
                       camera(0, 3, 0, -math.pi / 2), camera(-3, 0, 0, 0.0)]])
  # Nearest position wins.
  assert eval_gqn.nearest_context_view(context, np.array([camera(2.5, 0.5, 0, 0.0)])) == [0]
  # Same position: the one looking the same way wins.
  assert eval_gqn.nearest_context_view(context, np.array([camera(0, 3, 0, -1.4)])) == [2]
  assert eval_gqn.nearest_context_view(context, np.array([camera(0, 3, 0, 0.2)])) == [1]


def test_flight_rings_follow_the_dataset_cameras():
  # A ring camera: views on a circle of radius 2 around (0.5, -0.5), height 1.2, all
  # facing the centre and looking down 0.2 rad.
  angles = np.array([0.3, 1.5, 2.9, 4.0, 5.5])
  centre = np.array([0.5, -0.5])
  positions = centre + 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
  yaw = np.arctan2(centre[1] - positions[:, 1], centre[0] - positions[:, 0])
  pitch = np.full(5, -0.2)
  cameras = np.concatenate([positions, np.full([5, 1], 1.2), np.sin(yaw)[:, None],
                            np.cos(yaw)[:, None], np.sin(pitch)[:, None],
                            np.cos(pitch)[:, None]], axis=1)
  ring = eval_gqn.flight_cameras(cameras, 6, 'rooms_ring_camera')
  offsets = ring[:, :2] - centre
  np.testing.assert_allclose(np.linalg.norm(offsets, axis=1), 2.0, rtol=1e-5)
  np.testing.assert_allclose(np.arctan2(offsets[:, 1], offsets[:, 0]) % (2 * np.pi),
                             (0.3 + 2 * np.pi * np.arange(6) / 6) % (2 * np.pi), atol=1e-5)
  np.testing.assert_allclose(ring[:, 2], 1.2, rtol=1e-6)
  np.testing.assert_allclose(ring[:, 4], -0.2, atol=1e-6)
  direction = np.stack([np.cos(ring[:, 3]), np.sin(ring[:, 3])], axis=1)
  np.testing.assert_allclose(direction, -offsets / 2.0, atol=1e-5)

  # An orbit (Shepard-Metzler): around the origin, facing it, pitch included.
  orbit = eval_gqn.flight_cameras(cameras, 4, 'synth_shepard_metzler_5_parts')
  radius = np.mean(np.linalg.norm(positions, axis=1))
  np.testing.assert_allclose(np.linalg.norm(orbit[:, :2], axis=1), radius, rtol=1e-5)
  np.testing.assert_allclose(orbit[:, 4], math.atan2(-1.2, radius), atol=1e-6)
  direction = np.stack([np.cos(orbit[:, 3]), np.sin(orbit[:, 3])], axis=1)
  np.testing.assert_allclose(direction, -orbit[:, :2] / radius, atol=1e-5)
