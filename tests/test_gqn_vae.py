"""The GQN-VAE baseline: shapes, scope, mixed precision, KL, learning, restore."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from gqn import gqn_params
from gqn import gqn_vae
from tests import fake_data

MODES = tf.estimator.ModeKeys


def _run(fetches):
  with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    return sess.run(fetches)


def _tiny_variables():
  """Trainable variables of the tiny config's TRAIN graph: name -> shape."""
  config = gqn_params.tiny_config()
  with tf.Graph().as_default():
    features, target = fake_data.fake_batch(config)
    gqn_vae.gqn_vae_model_fn(features, target, MODES.TRAIN, {'gqn_params': config})
    return {v.op.name: v.shape.as_list() for v in tf.trainable_variables()}


def test_output_shapes_tiny():
  config = gqn_params.tiny_config()  # 32 x 32 images, r 8 x 8 x 64, Z = 8
  with tf.Graph().as_default():
    features, target = fake_data.fake_batch(config)
    outputs = gqn_vae.gqn_vae(features.query_camera, features.context.frames,
                              features.context.cameras, config, target_frame=target,
                              generate=True)
    values = _run(outputs)
  assert values.representation.shape == (3, 8, 8, 64)
  for distribution in (values.prior, values.posterior):
    assert distribution.mu.shape == distribution.sigma.shape == (3, 8, 8, 8)
    assert np.all(distribution.sigma > 0)
  for view in (values.posterior_view, values.generation):
    assert view.mu_target.shape == (3, 32, 32, 3)
    assert view.z.shape == view.noise.shape == (3, 8, 8, 8)
    assert np.all(np.isfinite(view.mu_target))
  # z is the reparameterised sample of its distribution with the returned noise.
  np.testing.assert_allclose(
      values.generation.z, values.prior.mu + values.prior.sigma * values.generation.noise,
      rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('name, overrides, grid', [
    ('default', {}, (16, 16)),
    ('tiny', {}, (8, 8)),
    ('tiny', {'IMG_WIDTH': 48, 'ENC_TYPE': 'pool'}, (8, 12)),
])
def test_builds_at_preset_sizes(name, overrides, grid):
  config = gqn_params.create_gqn_config(overrides, base=gqn_params.preset(name))
  with tf.Graph().as_default():
    features, target = fake_data.fake_batch(config, batch=1)
    outputs = gqn_vae.gqn_vae(features.query_camera, features.context.frames,
                              features.context.cameras, config, target_frame=target,
                              generate=True)
    # Only the graph is built (static shapes); the default preset is too large to run here.
    assert outputs.representation.shape.as_list() == [1] + list(grid) + [config.ENC_CHANNELS]
    assert outputs.posterior.mu.shape.as_list() == [1] + list(grid) + [config.Z_CHANNELS]
    for view in (outputs.posterior_view, outputs.generation):
      assert view.mu_target.shape.as_list() == [1, config.IMG_HEIGHT, config.IMG_WIDTH, 3]


def test_every_variable_is_under_the_gqn_vae_scope_with_golden_names_and_count():
  variables = _tiny_variables()
  assert all(name.startswith('GQN-VAE/') for name in variables)
  expected = {
      'GQN-VAE/TowerEncoder/conv2d/kernel': [2, 2, 3, 64],
      'GQN-VAE/Sample_eta_pi/hidden/kernel': [3, 3, 71, 32],
      'GQN-VAE/Sample_eta_pi/eta/conv2d/kernel': [3, 3, 32, 16],
      'GQN-VAE/Sample_eta_q/hidden/kernel': [3, 3, 71 + 48, 32],
      'GQN-VAE/Sample_eta_q/eta/conv2d/kernel': [3, 3, 32, 16],
      'GQN-VAE/VAETowerDecoder/conv2d/kernel': [1, 1, 8 + 64 + 7, 32],
      'GQN-VAE/VAETowerDecoder/conv2d_1/kernel': [3, 3, 32, 32],
      'GQN-VAE/VAETowerDecoder/conv2d_transpose/kernel': [2, 2, 32, 32],
      'GQN-VAE/VAETowerDecoder/conv2d_2/kernel': [3, 3, 32, 32],
      'GQN-VAE/VAETowerDecoder/conv2d_transpose_1/kernel': [2, 2, 32, 32],
      'GQN-VAE/VAETowerDecoder/eta_g/kernel': [1, 1, 32, 3],
  }
  for name, shape in expected.items():
    assert variables[name] == shape, name
  # Tower encoder 75072, eta_pi 25104, eta_q 38928, decoder 29411.
  assert sum(int(np.prod(shape)) for shape in variables.values()) == 168515


# The model_fn in each mode: tests/test_gqn_model.py's test_model_fn_modes_tiny, for both
# models.


@pytest.mark.parametrize('mixed_precision', ['float16', 'bfloat16'])
def test_mixed_precision_trains_with_float32_loss_and_variables(mixed_precision):
  config = gqn_params.tiny_config()
  params = {'gqn_params': config, 'mixed_precision': mixed_precision}
  with tf.Graph().as_default():
    features, target = fake_data.fake_batch(config, batch=2)
    spec = gqn_vae.gqn_vae_model_fn(features, target, MODES.TRAIN, params)
    assert spec.loss.dtype == tf.float32
    assert all(v.dtype.base_dtype == tf.float32 for v in tf.trainable_variables())
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
      losses = [sess.run([spec.loss, spec.train_op])[0] for _ in range(2)]
  assert np.all(np.isfinite(losses))


def test_kl_is_zero_when_the_posterior_equals_the_prior():
  """With eta_q's weights set to eta_pi's (and zero on the target), q == pi and KL = 0."""
  config = gqn_params.tiny_config()
  condition_channels = config.ENC_CHANNELS + config.POSE_CHANNELS
  with tf.Graph().as_default():
    features, target = fake_data.fake_batch(config)
    spec = gqn_vae.gqn_vae_model_fn(features, target, MODES.EVAL, {'gqn_params': config})
    variables = {v.op.name: v for v in tf.global_variables()}
    copies = []
    for suffix in ('hidden/bias', 'eta/conv2d/kernel', 'eta/conv2d/bias'):
      copies.append(tf.assign(variables['GQN-VAE/Sample_eta_q/' + suffix],
                              variables['GQN-VAE/Sample_eta_pi/' + suffix]))
    q_kernel = variables['GQN-VAE/Sample_eta_q/hidden/kernel']
    pi_kernel = variables['GQN-VAE/Sample_eta_pi/hidden/kernel']
    target_part = tf.zeros_like(q_kernel[:, :, condition_channels:])
    copies.append(tf.assign(q_kernel, tf.concat([pi_kernel, target_part], axis=2)))
    kl, target_llh = spec.eval_metric_ops['kl'], spec.eval_metric_ops['target_llh']
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
      sess.run(kl[1])
      assert sess.run(kl[0]) > 0.01  # independent initial heads disagree
      sess.run(tf.local_variables_initializer())
      sess.run(copies)
      sess.run([kl[1], target_llh[1]])
      assert sess.run(kl[0]) == pytest.approx(0.0, abs=1e-5)
      assert np.isfinite(sess.run(target_llh[0]))


def test_training_steps_lower_the_loss_on_a_fixed_batch(excess_losses_on_a_fixed_batch):
  config = gqn_params.tiny_config()
  excess = excess_losses_on_a_fixed_batch(gqn_vae.gqn_vae_model_fn, config, 60)
  assert np.mean(excess[-5:]) < 0.5 * np.mean(excess[:5])


def test_saved_in_train_restores_in_predict(tmp_path):
  config = gqn_params.tiny_config()
  params = {'gqn_params': config, 'log_steps': 1}

  def input_fn():
    return tf.data.Dataset.from_tensors(fake_data.fake_batch(config, batch=2)).repeat()

  estimator = tf.estimator.Estimator(gqn_vae.gqn_vae_model_fn, model_dir=str(tmp_path),
                                     params=params)
  estimator.train(input_fn, steps=3)
  checkpoint = tf.train.latest_checkpoint(str(tmp_path))
  assert checkpoint is not None and checkpoint.endswith('-3')

  with tf.Graph().as_default():
    features, _ = fake_data.fake_batch(config, batch=2)
    spec = gqn_vae.gqn_vae_model_fn(features, None, MODES.PREDICT, params)
    kernel = [v for v in tf.global_variables()
              if v.op.name == 'GQN-VAE/VAETowerDecoder/eta_g/kernel'][0]
    with tf.Session() as sess:
      # Every variable of the PREDICT graph must be in the TRAIN checkpoint.
      tf.train.Saver().restore(sess, checkpoint)
      restored, predicted = sess.run([kernel, spec.predictions['predicted_mean']])
  np.testing.assert_array_equal(
      restored, tf.train.load_variable(checkpoint, 'GQN-VAE/VAETowerDecoder/eta_g/kernel'))
  assert predicted.shape == (2, 32, 32, 3) and np.all(np.isfinite(predicted))
  predictions = next(estimator.predict(input_fn, yield_single_examples=False))
  assert predictions['predicted_mean'].shape == (2, 32, 32, 3)
