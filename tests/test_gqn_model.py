"""Per-module behaviour of the GQN: config, schedules, objective, shapes, model_fns, learning."""

import json

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from gqn import estimator
from gqn import gqn_draw
from gqn import gqn_encoder
from gqn import gqn_graph
from gqn import gqn_model
from gqn import gqn_objective
from gqn import gqn_params
from gqn import schedules
from tests import fake_data

MODES = tf.estimator.ModeKeys
SPEC_DEFAULTS = [
    ('IMG_HEIGHT', 64), ('IMG_WIDTH', 64), ('IMG_CHANNELS', 3), ('POSE_CHANNELS', 7),
    ('CONTEXT_SIZE', 5), ('ENC_TYPE', 'pool'), ('ENC_HEIGHT', 16), ('ENC_WIDTH', 16),
    ('ENC_CHANNELS', 256), ('LSTM_OUTPUT_CHANNELS', 256), ('LSTM_CANVAS_CHANNELS', 256),
    ('LSTM_KERNEL_SIZE', 5), ('Z_CHANNELS', 64), ('GENERATOR_INPUT_CHANNELS', 327),
    ('INFERENCE_INPUT_CHANNELS', 263), ('SEQ_LENGTH', 8), ('ETA_INTERNAL_KERNEL_SIZE', 5),
    ('ETA_EXTERNAL_KERNEL_SIZE', 1), ('ANNEAL_SIGMA_TAU', 200000),
    ('GENERATOR_SIGMA_ALPHA', 2.0), ('GENERATOR_SIGMA_BETA', 0.7), ('ANNEAL_LR_TAU', 1600000),
    ('ADAM_LR_ALPHA', 5e-4), ('ADAM_LR_BETA', 5e-5)]


def _run(fetches, feed=None):
  with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    return sess.run(fetches, feed)


# Config.

def test_default_config_is_the_spec():
  config = gqn_params.tf_gqn_config()
  assert list(config._fields[:len(SPEC_DEFAULTS)]) == [name for name, _ in SPEC_DEFAULTS]
  for name, value in SPEC_DEFAULTS:
    assert getattr(config, name) == value, name
  assert config.PRIOR_BEFORE_UPDATE is False
  assert gqn_params.create_gqn_config({}) == config
  # The default preset is tf-gqn's model trained with the paper's prior timing.
  assert gqn_params.default_config() == config._replace(PRIOR_BEFORE_UPDATE=True)


def test_create_gqn_config_takes_known_keys_ignores_others_and_derives_sizes():
  config = gqn_params.create_gqn_config(
      {'IMG_HEIGHT': 32, 'IMG_WIDTH': 32, 'Z_CHANNELS': 16, 'ENC_CHANNELS': 128,
       'SEQ_LENGTH': 12, 'NOT_A_FIELD': 1})
  assert (config.ENC_HEIGHT, config.ENC_WIDTH) == (8, 8)
  assert config.INFERENCE_INPUT_CHANNELS == 128 + 7
  assert config.GENERATOR_INPUT_CHANNELS == 128 + 7 + 16
  assert config.SEQ_LENGTH == 12


def test_create_gqn_config_refuses_contradicting_derived_size_and_bad_values():
  with pytest.raises(ValueError, match='ENC_HEIGHT'):
    gqn_params.create_gqn_config({'IMG_HEIGHT': 32, 'ENC_HEIGHT': 16})
  with pytest.raises(ValueError, match='ENC_TYPE'):
    gqn_params.create_gqn_config({'ENC_TYPE': 'lstm'})
  with pytest.raises(ValueError, match='IMG_WIDTH'):
    gqn_params.create_gqn_config({'IMG_WIDTH': 30})


def test_presets_derive_from_default_and_round_trip_through_json():
  tiny = gqn_params.preset('tiny')
  assert tiny.IMG_HEIGHT == 32 and tiny.ENC_HEIGHT == 8
  assert tiny.ENC_TYPE == 'tower' and tiny.PRIOR_BEFORE_UPDATE is True
  assert tiny.RANDOM_CONTEXT_SIZE is True
  assert gqn_params.preset('default') == gqn_params.default_config()
  assert gqn_params.config_from_json(gqn_params.config_to_json(tiny)) == tiny
  # small is tiny with a 48-channel code of the scene, which the DRAW cores read with r.
  small = gqn_params.preset('small')
  assert small._replace(ENC_CODE_CHANNELS=0, INFERENCE_INPUT_CHANNELS=None,
                        GENERATOR_INPUT_CHANNELS=None) == tiny._replace(
                            INFERENCE_INPUT_CHANNELS=None, GENERATOR_INPUT_CHANNELS=None)
  assert small.ENC_CODE_CHANNELS == 48
  assert small.INFERENCE_INPUT_CHANNELS == tiny.INFERENCE_INPUT_CHANNELS + 48
  assert gqn_params.config_from_json(gqn_params.config_to_json(small)) == small
  with pytest.raises(ValueError, match='huge'):
    gqn_params.preset('huge')


def test_config_json_refuses_unknown_key_and_wrong_type():
  values = gqn_params.default_config()._asdict()
  values['SEQ_LENTH'] = 8
  with pytest.raises(ValueError, match='SEQ_LENTH'):
    gqn_params.config_from_json(json.dumps(values))
  values = gqn_params.default_config()._asdict()
  values['SEQ_LENGTH'] = '8'
  with pytest.raises(ValueError, match='SEQ_LENGTH'):
    gqn_params.config_from_json(json.dumps(values))
  # tf-gqn's file carries only its 24 fields, with integral floats written as ints.
  values = dict(SPEC_DEFAULTS)
  values['GENERATOR_SIGMA_ALPHA'] = 2
  assert gqn_params.config_from_json(json.dumps(values)) == gqn_params.tf_gqn_config()


def test_canvas_upsampling_defaults_to_tf_gqn_and_is_recorded():
  assert gqn_params.tf_gqn_config().CANVAS_UPSAMPLING == 'transposed'
  resize = gqn_params.create_gqn_config({'CANVAS_UPSAMPLING': 'resize'},
                                        base=gqn_params.tiny_config())
  assert json.loads(gqn_params.config_to_json(resize))['CANVAS_UPSAMPLING'] == 'resize'
  assert gqn_params.config_from_json(gqn_params.config_to_json(resize)) == resize
  # A gqn_config.json written before the field existed reads as tf-gqn's upsampling.
  values = gqn_params.tiny_config()._asdict()
  del values['CANVAS_UPSAMPLING']
  assert gqn_params.config_from_json(json.dumps(values)).CANVAS_UPSAMPLING == 'transposed'
  with pytest.raises(ValueError, match="CANVAS_UPSAMPLING is 'pixel_shuffle'"):
    gqn_params.create_gqn_config({'CANVAS_UPSAMPLING': 'pixel_shuffle'})


def test_canvas_scale_defaults_to_tf_gqn_and_is_recorded_and_validated():
  assert gqn_params.tf_gqn_config().CANVAS_SCALE == 4
  assert gqn_params.lstm_grid(gqn_params.tiny_config()) == (8, 8)
  finer = gqn_params.create_gqn_config({'CANVAS_SCALE': 2}, base=gqn_params.tiny_config())
  assert gqn_params.lstm_grid(finer) == (16, 16)
  assert (finer.ENC_HEIGHT, finer.ENC_WIDTH) == (8, 8)  # the encoder's grid is unchanged
  assert gqn_params.config_from_json(gqn_params.config_to_json(finer)) == finer
  # A gqn_config.json written before the field existed reads as tf-gqn's scale.
  values = gqn_params.tiny_config()._asdict()
  del values['CANVAS_SCALE']
  assert gqn_params.config_from_json(json.dumps(values)).CANVAS_SCALE == 4
  with pytest.raises(ValueError, match='CANVAS_SCALE is 3'):
    gqn_params.create_gqn_config({'CANVAS_SCALE': 3})
  with pytest.raises(ValueError, match='GQN-VAE'):
    gqn_params.create_gqn_config({'CANVAS_SCALE': 2, 'MODEL': 'vae'})


# Schedules: pure functions of the step.

def test_schedules_at_zero_half_tau_and_beyond():
  config = gqn_params.default_config()
  with tf.Graph().as_default():
    sigma = [schedules.pixel_sigma(t, config) for t in (0, 100000, 200000, 10 ** 6)]
    lr = [schedules.learning_rate(t, config) for t in (0, 1600000, 10 ** 7)]
    sigma, lr = _run([sigma, lr])
  np.testing.assert_allclose(sigma, [2.0, 1.35, 0.7, 0.7], rtol=1e-6)
  np.testing.assert_allclose(lr, [5e-4, 5e-5, 5e-5], rtol=1e-6)


def test_fixed_context_steps_defaults_to_none_and_is_recorded_and_validated():
  assert gqn_params.tf_gqn_config().FIXED_CONTEXT_STEPS == 0
  assert gqn_params.tiny_config().FIXED_CONTEXT_STEPS == 0
  first = gqn_params.create_gqn_config({'FIXED_CONTEXT_STEPS': 5000},
                                       base=gqn_params.tiny_config())
  assert gqn_params.config_from_json(gqn_params.config_to_json(first)) == first
  # A gqn_config.json written before the field existed draws the views from the start.
  values = gqn_params.tiny_config()._asdict()
  del values['FIXED_CONTEXT_STEPS']
  assert gqn_params.config_from_json(json.dumps(values)).FIXED_CONTEXT_STEPS == 0
  with pytest.raises(ValueError, match='FIXED_CONTEXT_STEPS is -1'):
    gqn_params.create_gqn_config({'FIXED_CONTEXT_STEPS': -1}, base=gqn_params.tiny_config())
  # Without a random number of views there is nothing to switch to.
  with pytest.raises(ValueError, match='FIXED_CONTEXT_STEPS is 5000, but RANDOM_CONTEXT_SIZE'):
    gqn_params.create_gqn_config({'FIXED_CONTEXT_STEPS': 5000})


def test_enc_pooled_channels_defaults_to_tf_gqn_and_is_recorded_and_validated():
  assert gqn_params.tf_gqn_config().ENC_POOLED_CHANNELS == 0
  assert gqn_params.tiny_config().ENC_POOLED_CHANNELS == 0
  split = gqn_params.create_gqn_config({'ENC_POOLED_CHANNELS': 32},
                                       base=gqn_params.tiny_config())
  assert gqn_params.config_from_json(gqn_params.config_to_json(split)) == split
  # r keeps its channels, so the DRAW cores' inputs do not change.
  assert split.INFERENCE_INPUT_CHANNELS == gqn_params.tiny_config().INFERENCE_INPUT_CHANNELS
  # A gqn_config.json written before the field existed reads as tf-gqn's tower.
  values = gqn_params.tiny_config()._asdict()
  del values['ENC_POOLED_CHANNELS']
  assert gqn_params.config_from_json(json.dumps(values)).ENC_POOLED_CHANNELS == 0
  with pytest.raises(ValueError, match='ENC_POOLED_CHANNELS is 65'):
    gqn_params.create_gqn_config({'ENC_POOLED_CHANNELS': 65}, base=gqn_params.tiny_config())
  with pytest.raises(ValueError, match='ENC_POOLED_CHANNELS is -1'):
    gqn_params.create_gqn_config({'ENC_POOLED_CHANNELS': -1}, base=gqn_params.tiny_config())
  with pytest.raises(ValueError, match="ENC_POOLED_CHANNELS is 32, but ENC_TYPE is 'pool'"):
    gqn_params.create_gqn_config({'ENC_POOLED_CHANNELS': 32})


def test_enc_code_channels_defaults_to_tf_gqn_and_is_recorded_and_validated():
  assert gqn_params.tf_gqn_config().ENC_CODE_CHANNELS == 0
  assert gqn_params.tiny_config().ENC_CODE_CHANNELS == 0
  coded = gqn_params.create_gqn_config({'ENC_CODE_CHANNELS': 48},
                                       base=gqn_params.tiny_config())
  assert gqn_params.config_from_json(gqn_params.config_to_json(coded)) == coded
  # The code comes after the map's channels: the DRAW cores read 48 more.
  assert coded.INFERENCE_INPUT_CHANNELS == gqn_params.tiny_config().INFERENCE_INPUT_CHANNELS + 48
  assert coded.GENERATOR_INPUT_CHANNELS == gqn_params.tiny_config().GENERATOR_INPUT_CHANNELS + 48
  # A gqn_config.json written before the field existed reads as tf-gqn's tower.
  values = gqn_params.tiny_config()._asdict()
  del values['ENC_CODE_CHANNELS']
  assert gqn_params.config_from_json(json.dumps(values)).ENC_CODE_CHANNELS == 0
  with pytest.raises(ValueError, match='ENC_CODE_CHANNELS is -1'):
    gqn_params.create_gqn_config({'ENC_CODE_CHANNELS': -1}, base=gqn_params.tiny_config())
  with pytest.raises(ValueError, match="ENC_CODE_CHANNELS is 16, but ENC_TYPE is 'pool'"):
    gqn_params.create_gqn_config({'ENC_CODE_CHANNELS': 16})


def test_late_sigma_stage_takes_over_at_its_step_and_old_configs_have_none():
  config = gqn_params.create_gqn_config(
      dict(SIGMA_LATE_STEP=100000, GENERATOR_SIGMA_LATE=0.5), base=gqn_params.tiny_config())
  with tf.Graph().as_default():
    sigma = _run([schedules.pixel_sigma(t, config) for t in (0, 1000, 99999, 100000, 10 ** 6)])
  np.testing.assert_allclose(sigma, [2.0, 1.35, 0.7, 0.5, 0.5], rtol=1e-6)
  assert gqn_params.config_from_json(gqn_params.config_to_json(config)) == config
  # tf-gqn's config, and a gqn_config.json written before the fields existed: no late stage.
  assert gqn_params.tf_gqn_config().SIGMA_LATE_STEP == 0
  values = gqn_params.tiny_config()._asdict()
  del values['SIGMA_LATE_STEP'], values['GENERATOR_SIGMA_LATE']
  assert gqn_params.config_from_json(json.dumps(values)).SIGMA_LATE_STEP == 0
  with pytest.raises(ValueError, match='SIGMA_LATE_STEP is -1'):
    gqn_params.create_gqn_config({'SIGMA_LATE_STEP': -1})
  with pytest.raises(ValueError, match='GENERATOR_SIGMA_LATE is 0'):
    gqn_params.create_gqn_config({'GENERATOR_SIGMA_LATE': 0})


# Objective: golden values.

def test_kl_of_identical_gaussians_is_zero_and_nll_matches_closed_form():
  rng = np.random.RandomState(1)
  mu = rng.normal(size=(2, 4, 4, 3)).astype(np.float32)
  sigma = rng.uniform(0.5, 2, size=(2, 4, 4, 3)).astype(np.float32)
  target = rng.uniform(size=(2, 8, 8, 3)).astype(np.float32)
  mean = rng.uniform(size=(2, 8, 8, 3)).astype(np.float32)
  with tf.Graph().as_default():
    same = gqn_draw.Gaussian(tf.constant(mu), tf.constant(sigma))
    elbo = gqn_objective.gqn_draw_elbo(tf.constant(target), tf.constant(mean), 0.7,
                                       [same, same], [same, same])
    elbo = _run(elbo)
  assert elbo.kl == pytest.approx(0.0, abs=1e-5)
  log_prob = -0.5 * ((target - mean) / 0.7) ** 2 - np.log(0.7) - 0.5 * np.log(2 * np.pi)
  expected = -log_prob.mean(axis=0).sum()
  assert elbo.target_llh == pytest.approx(expected, rel=1e-5)
  assert elbo.elbo == pytest.approx(expected, rel=1e-5)


def test_kl_of_shifted_gaussian_matches_closed_form():
  with tf.Graph().as_default():
    q = gqn_draw.Gaussian(tf.ones([1, 2, 2, 1]), tf.ones([1, 2, 2, 1]))
    pi = gqn_draw.Gaussian(tf.zeros([1, 2, 2, 1]), 2.0 * tf.ones([1, 2, 2, 1]))
    elbo = _run(gqn_objective.gqn_draw_elbo(tf.zeros([1, 4, 4, 1]), tf.zeros([1, 4, 4, 1]),
                                            1.0, [q], [pi]))
  per_unit = np.log(2.0) + (1.0 + 1.0) / 8.0 - 0.5
  assert elbo.kl == pytest.approx(4 * per_unit, rel=1e-5)
  assert elbo.kl_per_step[0] == pytest.approx(4 * per_unit, rel=1e-5)


# Shapes per module.

@pytest.mark.parametrize('enc_type,expected', [('pool', [2, 1, 1, 16]), ('tower', [2, 8, 8, 16])])
def test_encoder_shapes_and_scope(enc_type, expected):
  with tf.Graph().as_default():
    r = gqn_encoder.encode_scene(tf.zeros([2, 3, 32, 32, 3]), tf.zeros([2, 3, 7]), enc_type, 16)
    names = [v.op.name for v in tf.global_variables()]
    value = _run(r)
  assert list(value.shape) == expected
  scope = {'pool': 'PoolEncoder', 'tower': 'TowerEncoder'}[enc_type]
  assert names[0] == scope + '/conv2d/kernel' and names[-1] == scope + '/conv2d_7/bias'
  assert len(names) == 16


def test_representation_is_the_sum_over_views():
  rng = np.random.RandomState(2)
  frames = rng.uniform(size=(1, 2, 16, 16, 3)).astype(np.float32)
  poses = rng.normal(size=(1, 2, 7)).astype(np.float32)
  with tf.Graph().as_default():
    both = gqn_encoder.encode_scene(tf.constant(frames), tf.constant(poses), 'pool', 8)
    with tf.variable_scope('', reuse=True):
      one = [gqn_encoder.encode_scene(tf.constant(frames[:, k:k + 1]),
                                      tf.constant(poses[:, k:k + 1]), 'pool', 8)
             for k in range(2)]
    both, one = _run([both, one])
  np.testing.assert_allclose(both, one[0] + one[1], rtol=1e-5, atol=1e-6)


def test_pooled_channels_average_the_towers_last_channels_over_its_grid():
  rng = np.random.RandomState(4)
  frames = rng.uniform(size=(2, 3, 32, 32, 3)).astype(np.float32)
  poses = rng.normal(size=(2, 3, 7)).astype(np.float32)
  with tf.Graph().as_default():
    tower = gqn_encoder.encode_scene(tf.constant(frames), tf.constant(poses), 'tower', 16)
    with tf.variable_scope('', reuse=True):
      split = gqn_encoder.encode_scene(tf.constant(frames), tf.constant(poses), 'tower', 16,
                                       pooled_channels=6)
    names = [v.op.name for v in tf.global_variables()]
    tower, split = _run([tower, split])
  assert split.shape == (2, 8, 8, 16) and len(names) == 16  # the tower's variables only
  np.testing.assert_allclose(split[..., :10], tower[..., :10], rtol=1e-6)
  pooled = np.broadcast_to(tower[..., 10:].mean(axis=(1, 2), keepdims=True), (2, 8, 8, 6))
  np.testing.assert_allclose(split[..., 10:], pooled, rtol=1e-5, atol=1e-6)
  assert np.std(tower[..., 10:], axis=(1, 2)).max() > 1e-3  # the map did vary there


def test_conv_lstm_cell_matches_its_equations():
  rng = np.random.RandomState(3)
  x = rng.normal(size=(2, 4, 4, 3)).astype(np.float32)
  c = rng.normal(size=(2, 4, 4, 5)).astype(np.float32)
  with tf.Graph().as_default():
    cell = gqn_draw.ConvLSTMCell([('x', 3)], 5, kernel_size=1)
    state = cell([tf.constant(x)], tf.constant(c))
    kernel = tf.global_variables()[0]
    bias = tf.global_variables()[1]
    state, kernel, bias = _run([state, kernel, bias])
  gates = x @ kernel[0, 0] + bias
  i, g, f, o = np.split(gates, 4, axis=-1)
  sigmoid = lambda a: 1 / (1 + np.exp(-a))
  c_new = sigmoid(f + 1) * c + sigmoid(i) * np.tanh(g)
  np.testing.assert_allclose(state.c, c_new, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(state.h, np.tanh(c_new) * sigmoid(o), rtol=1e-5, atol=1e-5)


def _both_paths(config):
  """gqn_draw's outputs, both paths, on a fake batch of 2, with initial variables."""
  with tf.Graph().as_default():
    features, target = fake_data.fake_batch(config, batch=2)
    return _run(gqn_graph.gqn_draw(features.query_camera, features.context.frames,
                                   features.context.cameras, config, target_frame=target,
                                   generate=True))


def test_draw_unroll_shapes_both_paths():
  config = gqn_params.tiny_config()
  values = _both_paths(config)
  h, w = config.ENC_HEIGHT, config.ENC_WIDTH
  assert values.representation.shape == (2, h, w, config.ENC_CHANNELS)
  for view in (values.posterior, values.generation):
    assert view.mu_target.shape == (2, 32, 32, 3)
    assert len(view.steps.canvases) == len(view.canvas_images) == config.SEQ_LENGTH
    assert view.steps.canvases[-1].shape == (2, 32, 32, config.LSTM_CANVAS_CHANNELS)
    assert view.steps.priors[0].mu.shape == (2, h, w, config.Z_CHANNELS)
    assert (view.steps.priors[0].sigma > 0).all()
    np.testing.assert_allclose(view.canvas_images[-1], view.mu_target, rtol=1e-5, atol=1e-6)
  assert len(values.posterior.steps.posteriors) == config.SEQ_LENGTH
  assert values.generation.steps.posteriors == []


def test_finer_canvas_grid_repeats_the_tower_r_and_keeps_the_shapes():
  with tf.Graph().as_default():
    r = tf.constant(np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5))
    repeated = _run(gqn_graph.repeat_cells(r, 3, 6))
  np.testing.assert_array_equal(repeated, np.repeat(np.repeat(
      np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5), 2, axis=1), 2, axis=2))
  config = gqn_params.create_gqn_config({'CANVAS_SCALE': 2}, base=gqn_params.tiny_config())
  values = _both_paths(config)
  r = values.representation
  assert r.shape == (2, 16, 16, config.ENC_CHANNELS)
  # The tower's 8 x 8 r, each cell repeated over 2 x 2 cells of the cores' grid.
  np.testing.assert_array_equal(r, np.repeat(np.repeat(r[:, ::2, ::2], 2, axis=1), 2, axis=2))
  assert np.abs(r).max() > 0
  for view in (values.posterior, values.generation):
    assert view.mu_target.shape == (2, 32, 32, 3)
    assert view.steps.priors[0].mu.shape == (2, 16, 16, config.Z_CHANNELS)


# model_fn, each mode.

def test_golden_parameter_counts():
  config = gqn_params.default_config()
  with tf.Graph().as_default():
    features, target = fake_data.fake_batch(config, batch=1)
    gqn_model.gqn_draw_model_fn(features, target, MODES.TRAIN, {'gqn_params': config})
    train_count = sum(np.prod(v.shape.as_list()) for v in tf.trainable_variables())
  with tf.Graph().as_default():
    features, _ = fake_data.fake_batch(config, batch=1)
    gqn_model.gqn_draw_model_fn(features, None, MODES.PREDICT, {'gqn_params': config})
    predict_count = sum(np.prod(v.shape.as_list()) for v in tf.trainable_variables())
  assert (train_count, predict_count) == (39682563, 17958275)


def _run_time_views(features):
  """The features with K known only at run time, as a random context size gives them."""
  def unknown_views(tensor):
    shape = tensor.shape.as_list()
    return tf.placeholder_with_default(tensor, shape[:1] + [None] + shape[2:])
  context = features.context
  return features._replace(context=context._replace(
      frames=unknown_views(context.frames), cameras=unknown_views(context.cameras)))


@pytest.mark.parametrize('model', gqn_params.MODELS)
def test_model_fn_modes_tiny(model):
  # Both models' model_fns; what they share is gqn_model.estimator_spec.
  config = gqn_params.tiny_config()._replace(MODEL=model)
  model_fn = estimator.MODEL_FNS[model]
  params = {'gqn_params': config, 'debug': True}
  with tf.Graph().as_default():
    features, target = fake_data.fake_batch(config)
    spec = model_fn(_run_time_views(features), target, MODES.TRAIN, params)
    assert spec.loss.dtype == tf.float32 and spec.loss.shape.ndims == 0
    assert spec.train_op is not None
    summaries = {s.op.name for s in tf.get_collection(tf.GraphKeys.SUMMARIES)}
    for name in ('target_llh', 'kl', 'learning_rate', 'pixel_sigma', 'l2', 'context_frames',
                 'target', 'posterior_mean'):
      assert any(name in s for s in summaries), name
    # Only the DRAW GQN has a canvas sequence.
    assert any('canvas_sequence' in s for s in summaries) == (model == 'draw')
    loss = _run(spec.loss)
    assert np.isfinite(loss) and loss > 0
  with tf.Graph().as_default():
    features, target = fake_data.fake_batch(config)
    spec = model_fn(features, target, MODES.EVAL, params)
    assert spec.loss.dtype == tf.float32 and spec.loss.shape.ndims == 0
    assert set(spec.eval_metric_ops) == {'elbo', 'target_llh', 'kl', 'l2', 'l2_posterior'}
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
      sess.run([update for _, update in spec.eval_metric_ops.values()])
      metrics = sess.run({k: v for k, (v, _) in spec.eval_metric_ops.items()})
    assert metrics['elbo'] == pytest.approx(metrics['target_llh'] + metrics['kl'], rel=1e-5)
    assert all(np.isfinite(v) for v in metrics.values())
    assert metrics['kl'] >= 0
  with tf.Graph().as_default():
    features, _ = fake_data.fake_batch(config)
    spec = model_fn(features, None, MODES.PREDICT, params)
    assert set(spec.predictions) == {'predicted_mean'}
    assert _run(spec.predictions['predicted_mean']).shape == (3, 32, 32, 3)
    # Generation needs no posterior head.
    assert not any('Sample_eta_q' in v.op.name for v in tf.global_variables())


@pytest.mark.parametrize('prior_before_update', [False, True])
def test_training_steps_lower_the_loss_on_a_fixed_batch(prior_before_update,
                                                        excess_losses_on_a_fixed_batch):
  config = gqn_params.tiny_config()._replace(PRIOR_BEFORE_UPDATE=prior_before_update)
  excess = excess_losses_on_a_fixed_batch(gqn_model.gqn_draw_model_fn, config, 40)
  # Noise makes single steps jumpy: compare the first and last few.
  assert np.mean(excess[-5:]) < 0.5 * np.mean(excess[:5])


def test_prior_timing_changes_the_loss_not_the_variables():
  config = gqn_params.tiny_config()
  results = []
  for prior_before_update in (False, True):
    with tf.Graph().as_default():
      tf.set_random_seed(0)
      features, target = fake_data.fake_batch(config)
      spec = gqn_model.gqn_draw_model_fn(
          features, target, MODES.TRAIN,
          {'gqn_params': config._replace(PRIOR_BEFORE_UPDATE=prior_before_update)})
      names = sorted(v.op.name for v in tf.global_variables())
      results.append((names, _run(spec.loss)))
  assert results[0][0] == results[1][0]
  assert results[0][1] != results[1][1]
