"""The GQN-VAE through the tools: --model, the recorded MODEL, its checkpoints, evaluation."""

import json
import math
import os
import shutil

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import eval_gqn
import train_gqn_draw
from data_provider.scenes import render
from gqn import checkpoints
from gqn import estimator as estimator_lib
from gqn import flags
from gqn import gqn_graph
from gqn import gqn_model
from gqn import gqn_params
from gqn import gqn_predictor
from gqn import gqn_vae
from gqn import model_dir as model_dir_lib
from tests import snapshot

DATASET = 'synth_rooms_ring_camera'


# The MODEL field and the --model flag.

def test_model_field_defaults_to_draw_and_is_validated():
  assert gqn_params.default_config().MODEL == 'draw'
  assert all(make().MODEL == 'draw' for make in gqn_params.PRESETS.values())
  assert gqn_params.create_gqn_config({'MODEL': 'vae'}).MODEL == 'vae'
  with pytest.raises(ValueError, match='MODEL.*--model'):
    gqn_params.create_gqn_config({'MODEL': 'gan'})
  # A gqn_config.json written before the field (tf-gqn's) holds the DRAW GQN.
  values = gqn_params.default_config()._asdict()
  del values['MODEL']
  assert gqn_params.config_from_json(json.dumps(values)).MODEL == 'draw'
  values['MODEL'] = 1
  with pytest.raises(ValueError, match="'MODEL'.*str"):
    gqn_params.config_from_json(json.dumps(values))
  recorded = gqn_params.tiny_config()._replace(MODEL='vae')
  assert gqn_params.config_from_json(gqn_params.config_to_json(recorded)) == recorded


def test_model_flag_sets_the_field_and_a_preset_leaves_it_unpinned():
  parser = train_gqn_draw._parser()  # pylint: disable=protected-access
  assert parser.parse_args([]).model is None
  overrides = flags.config_overrides(parser.parse_args(['--model', 'vae', '--preset', 'tiny']))
  assert overrides == {'MODEL': 'vae'}
  assert flags.flag_of('MODEL') == '--model'
  assert eval_gqn._parser().parse_args(  # pylint: disable=protected-access
      ['--model_dir', 'm', '--dataset', DATASET, '--model', 'vae']).model == 'vae'
  # A preset picks sizes, not the model; --model pins it.
  assert 'MODEL' not in model_dir_lib.pinned_fields('tiny', {})
  assert 'MODEL' in model_dir_lib.pinned_fields('tiny', {'MODEL': 'draw'})
  assert 'MODEL' in model_dir_lib.pinned_fields(None, {'MODEL': 'vae'})


def test_estimator_takes_the_model_fn_of_the_config(tmp_path):
  assert estimator_lib.MODEL_FNS == {'draw': gqn_model.gqn_draw_model_fn,
                                     'vae': gqn_vae.gqn_vae_model_fn}
  config = gqn_params.tiny_config()._replace(MODEL='vae')
  estimator = estimator_lib.make_estimator(config, str(tmp_path))
  # The Estimator wraps the model_fn; its params carry the config that picked it.
  assert estimator.params['gqn_params'].MODEL == 'vae'


# Checkpoints of the GQN-VAE.

def _write_vae_checkpoint(model_dir, config):
  """A checkpoint of an untrained GQN-VAE of `config`; returns its prefix."""
  with tf.Graph().as_default():
    frames, cameras, query, target = gqn_graph.model_placeholders(config)
    gqn_vae.gqn_vae(query, frames, cameras, config, target_frame=target, generate=True)
    tf.train.get_or_create_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return tf.train.Saver().save(sess, os.path.join(model_dir, 'model.ckpt'),
                                   global_step=0)


def test_vae_checkpoint_fields_are_read_off_its_variables(tmp_path):
  tiny_vae = gqn_params.tiny_config()._replace(MODEL='vae')
  checkpoint = _write_vae_checkpoint(str(tmp_path), tiny_vae)
  assert checkpoints.checkpoint_model(checkpoint) == 'vae'
  config, inferred = checkpoints.infer_config(checkpoint, gqn_params.default_config())
  assert inferred['MODEL'] == 'vae' and config.MODEL == 'vae'
  for name in ('ENC_CHANNELS', 'POSE_CHANNELS', 'LSTM_KERNEL_SIZE', 'LSTM_OUTPUT_CHANNELS',
               'Z_CHANNELS', 'LSTM_CANVAS_CHANNELS', 'ETA_INTERNAL_KERNEL_SIZE',
               'ETA_EXTERNAL_KERNEL_SIZE', 'IMG_CHANNELS'):
    assert getattr(config, name) == getattr(tiny_vae, name), name
  checkpoints.check_compatible(checkpoint, config)
  # The DRAW GQN pinned on a VAE checkpoint: refused, naming both models.
  for check in (lambda: checkpoints.check_compatible(checkpoint, gqn_params.tiny_config()),
                lambda: checkpoints.infer_config(checkpoint, gqn_params.tiny_config(),
                                                 pinned=('MODEL',))):
    with pytest.raises(checkpoints.CheckpointMismatchError) as error:
      check()
    assert 'GQN-VAE' in str(error.value) and '--model vae' in str(error.value)
  # A VAE of other sizes: the differing variables and the flags that fit.
  with pytest.raises(checkpoints.CheckpointMismatchError, match='Z_CHANNELS=8'):
    checkpoints.check_compatible(checkpoint, tiny_vae._replace(Z_CHANNELS=16))


def test_draw_checkpoint_with_the_vae_pinned_is_refused(reference_snapshot):
  checkpoint = checkpoints.find_checkpoint(reference_snapshot)
  assert checkpoints.checkpoint_model(checkpoint) == 'draw'
  vae = gqn_params.default_config()._replace(MODEL='vae')
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match='holds the DRAW GQN.*--model draw'):
    checkpoints.infer_config(checkpoint, vae, pinned=('MODEL',))


# Training and evaluating a GQN-VAE with the tools, on rendered rooms.

@pytest.fixture(scope='module')
def vae_run(tmp_path_factory):
  """(data_dir, model_dir) of the tiny GQN-VAE trained 50 steps on a few rendered rooms."""
  root = tmp_path_factory.mktemp('vae')
  data_dir, model_dir = str(root / 'data'), str(root / 'model')
  render.render_dataset(data_dir, DATASET, train_scenes=16, test_scenes=4, seed=0,
                        workers=2, progress=False)
  code = train_gqn_draw.main([
      '--model', 'vae', '--preset', 'tiny', '--data_dir', data_dir, '--dataset', DATASET,
      '--model_dir', model_dir, '--batch_size', '4', '--max_steps', '50',
      '--chkpt_steps', '50', '--log_steps', '50', '--seed', '0', '--queue_threads', '2',
      '--queue_buffer', '8'])
  assert code == 0
  return data_dir, model_dir


@pytest.mark.slow
def test_vae_directory_records_the_model_and_evaluates_with_draws_metrics(
    vae_run, tiny_model, fake_data_dir, tmp_path):
  data_dir, model_dir = vae_run
  with open(model_dir_lib.config_path(model_dir)) as f:
    assert json.load(f)['MODEL'] == 'vae'
  assert model_dir_lib.read_config(model_dir) == gqn_params.tiny_config()._replace(MODEL='vae')
  checkpoint = checkpoints.find_checkpoint(model_dir)
  assert checkpoint.endswith('model.ckpt-50')
  assert checkpoints.checkpoint_model(checkpoint) == 'vae'

  metrics = eval_gqn.evaluate(model_dir, data_dir, DATASET, max_examples=4, batch_size=2,
                              seed=1, flight=3, progress=False)
  draw = eval_gqn.evaluate(tiny_model, fake_data_dir, snapshot.DATASET, max_examples=2,
                           batch_size=2, output_dir=str(tmp_path / 'draw'), progress=False)
  assert list(metrics) == list(draw)
  assert metrics['config']['MODEL'] == 'vae' and draw['config']['MODEL'] == 'draw'
  for key, value in metrics.items():
    if isinstance(value, float):
      assert math.isfinite(value), key
  assert metrics['num_examples'] == 4 and metrics['global_step'] == 50
  assert len(metrics['kl_per_step']) == 1
  assert metrics['kl_per_step'][0] == pytest.approx(metrics['kl_nats'], rel=1e-4)
  assert metrics['elbo_nats'] == pytest.approx(
      metrics['target_llh_nats'] + metrics['kl_nats'], rel=1e-4)
  output_dir = os.path.join(model_dir, 'eval')
  for name in ('metrics.json', 'scenes.png', 'flight.gif'):
    assert os.path.isfile(os.path.join(output_dir, name)), name
  # DRAW's canvas sequence has no VAE counterpart.
  assert not os.path.exists(os.path.join(output_dir, 'canvas_sequence.png'))


@pytest.mark.slow
def test_vae_mean_render_is_deterministic_and_samples_vary(vae_run):
  data_dir, model_dir = vae_run
  del data_dir
  predictor = gqn_predictor.GqnViewPredictor(model_dir, seed=0)
  assert predictor.config.MODEL == 'vae'
  rng = np.random.RandomState(0)
  for _ in range(3):
    predictor.add_context_view(rng.uniform(size=(32, 32, 3)).astype(np.float32),
                               rng.uniform(-1, 1, size=5))
  query = [0.5, 0.2, 0.1, 1.0, 0.0]
  mean = predictor.render_query_view(query)
  np.testing.assert_array_equal(mean, predictor.render_query_view(query))
  assert not np.allclose(predictor.render_query_view(query, sample=True),
                         predictor.render_query_view(query, sample=True))


@pytest.mark.slow
def test_draw_flag_on_a_vae_directory_is_refused(vae_run, tmp_path, capsys):
  data_dir, model_dir = vae_run
  args = ['--model_dir', model_dir, '--data_dir', data_dir, '--dataset', DATASET,
          '--max_examples', '2', '--output_dir', str(tmp_path / 'eval')]
  assert eval_gqn.main(args + ['--model', 'draw']) == 2
  error = capsys.readouterr().err
  assert "MODEL is 'vae' there but 'draw' here" in error
  assert train_gqn_draw.main(['--model', 'draw', '--preset', 'tiny', '--data_dir', data_dir,
                              '--dataset', DATASET, '--model_dir', model_dir,
                              '--max_steps', '51']) == 2
  assert "MODEL is 'vae' there but 'draw' here" in capsys.readouterr().err
  # Without gqn_config.json the checkpoint tells the model, and --model draw is refused
  # naming it.
  bare = str(tmp_path / 'bare')
  os.makedirs(bare)
  prefix = checkpoints.find_checkpoint(model_dir)
  for path in tf.io.gfile.glob(prefix + '.*'):
    shutil.copy(path, bare)
  args = ['--model_dir', bare, '--data_dir', data_dir, '--dataset', DATASET, '--preset',
          'tiny', '--max_examples', '2', '--num_samples', '1']
  assert eval_gqn.main(args + ['--model', 'draw']) == 2
  error = capsys.readouterr().err
  assert 'holds the GQN-VAE baseline' in error and '--model vae' in error
  assert eval_gqn.main(args) == 0
  with open(os.path.join(bare, 'eval', 'metrics.json')) as f:
    assert json.load(f)['inferred_fields']['MODEL'] == 'vae'
