"""The GQN `model_fn`s for `tf.estimator`: what both models share, and the DRAW GQN's.

A model_fn builds its network (gqn_graph.gqn_draw, gqn_vae.gqn_vae) and hands what it
rendered, as `Renderings`, to `estimator_spec`, which makes the EstimatorSpec of every
mode the same way for both: the negative ELBO, the Adam step, the training log line,
the EVAL metrics and the `--debug` summaries (the canvas sequence where the model has
one).
"""

import collections
import os
import time

import tensorflow.compat.v1 as tf

from data_provider import logs
from gqn import gqn_graph
from gqn import gqn_objective
from gqn import loss_guard
from gqn import precision
from gqn import schedules

ModeKeys = tf.estimator.ModeKeys


def _duration(seconds):
  """'1h 02m', '3m 07s' or '12s': an ETA read at a glance."""
  seconds = int(round(seconds))
  if seconds >= 3600:
    return '%dh %02dm' % (seconds // 3600, seconds % 3600 // 60)
  if seconds >= 60:
    return '%dm %02ds' % (seconds // 60, seconds % 60)
  return '%ds' % seconds


class TrainLogHook(tf.train.SessionRunHook):
  """Logs one line every `every_n_steps` steps: step, loss, L2, steps/s and the ETA.

  The line reads `step 200/5000: loss 3412.7, l2 0.021, 1.93 steps/s, ETA 41m 27s`; the
  total and the ETA appear when `max_steps` is known, the rate from the second line on.
  """

  def __init__(self, tensors, every_n_steps, max_steps=None):
    """`tensors`: dict name -> scalar tensor, logged in its order; must include 'step'."""
    self._tensors = tensors
    self._every_n_steps = max(1, int(every_n_steps))
    self._max_steps = max_steps
    self._last = None

  def begin(self):
    self._last = None
    self._count = 0

  def before_run(self, run_context):
    self._count += 1
    if self._count % self._every_n_steps == 0 or self._last is None:
      return tf.train.SessionRunArgs(self._tensors)
    return None

  def after_run(self, run_context, run_values):
    values = run_values.results
    if not values:
      return
    now, step = time.time(), values['step']
    parts = ['%s %.5g' % (name, value) for name, value in values.items() if name != 'step']
    if self._last is not None:
      last_time, last_step = self._last
      if now > last_time and step > last_step:
        rate = (step - last_step) / (now - last_time)
        parts.append('%.2f steps/s' % rate)
        if self._max_steps:
          parts.append('ETA %s' % _duration(max(self._max_steps - step, 0) / rate))
    self._last = (now, step)
    total = '/%d' % self._max_steps if self._max_steps else ''
    logs.logger.info('step %d%s: %s', step, total, ', '.join(parts))


# What a model rendered, for `estimator_spec`:
#   posterior_mean: [B, H, W, 3], the rendering from z ~ q (None in PREDICT).
#   posteriors, priors: the Gaussians q and pi over z of each step, for the KL (L of them
#     in the DRAW GQN, one in the GQN-VAE; None in PREDICT).
#   generated_mean: [B, H, W, 3], the rendering from z ~ pi (None in TRAIN).
#   posterior_canvases, generated_canvases: the DRAW canvas sequence eta_g(u_l),
#     l = 1..L, of each rendering, [B, H, W, 3] each, for the debug pictures; None for a
#     model without one (the GQN-VAE) or a rendering not built.
_RENDERINGS = ('posterior_mean', 'posteriors', 'priors', 'generated_mean',
               'posterior_canvases', 'generated_canvases')
Renderings = collections.namedtuple('Renderings', _RENDERINGS,
                                    defaults=(None,) * len(_RENDERINGS))


def _image_summary(name, images, max_outputs=3):
  tf.summary.image(name, tf.clip_by_value(images, 0.0, 1.0), max_outputs=max_outputs)


def _debug_summaries(features, labels, mean, mean_name, scalars, canvases=None):
  """Pictures and scalars for TensorBoard (`--debug`), for either model.

  Args:
    features: the model_fn's features; its first scene's context views are shown.
    labels: [B, H, W, 3] the targets.
    mean: [B, H, W, 3] the rendering shown as `mean_name`.
    scalars: dict name -> scalar tensor.
    canvases: the DRAW canvas sequence of `mean`, [B, H, W, 3] per step, shown left to
      right for the first scene as 'canvas_sequence'; None: no such picture.
  """
  # The first scene's context views side by side, [1, H, K * W, 3]; K may be known only
  # at run time (a random context size).
  height, channels = features.context.frames.shape.as_list()[2::2]
  views = tf.transpose(features.context.frames[0], [1, 0, 2, 3])  # H x K x W x 3
  _image_summary('context_frames', tf.reshape(views, [1, height, -1, channels]), 1)
  _image_summary('target', labels)
  _image_summary(mean_name, mean)
  if canvases is not None:
    _image_summary('canvas_sequence', tf.concat([c[:1] for c in canvases], axis=2), 1)
  for name, value in scalars.items():
    tf.summary.scalar(name, value)


def adam_train_op(loss, global_step, gqn_config, compute_dtype):
  """The paper's optimiser step on `loss`: Adam at the annealed learning rate.

  A NaN / Inf loss fails the step before its update is applied, so no checkpoint (the
  CheckpointSaverHook saves after the step) ever holds a non-finite state.

  Returns:
    (train_op, learning rate tensor).
  """
  lr = schedules.learning_rate(global_step, gqn_config)
  optimizer = tf.train.AdamOptimizer(lr, beta1=0.9, beta2=0.999, epsilon=1e-8)
  with tf.control_dependencies([loss_guard.loss_guard(loss, global_step)]):
    return precision.minimize(optimizer, loss, global_step, compute_dtype), lr


def _eval_metrics(elbo, l2_generation, l2_posterior):
  """The EVAL metrics of either model, each the mean over the evaluated batches.

  Args:
    elbo: gqn_objective.Elbo of the posterior path.
    l2_generation: scalar mean squared error of the rendering from z ~ pi.
    l2_posterior: scalar mean squared error of the rendering from z ~ q.

  Returns:
    dict name -> (value, update op): elbo, target_llh, kl, l2 (the generation's) and
    l2_posterior.
  """
  return {
      'elbo': tf.metrics.mean(elbo.elbo),
      'target_llh': tf.metrics.mean(elbo.target_llh),
      'kl': tf.metrics.mean(elbo.kl),
      'l2': tf.metrics.mean(l2_generation),
      'l2_posterior': tf.metrics.mean(l2_posterior),
  }


def estimator_spec(mode, features, labels, params, config, renderings):
  """The EstimatorSpec of either model, from what it rendered.

  Args:
    mode, features, labels, params, config: the model_fn's arguments (see
      gqn_draw_model_fn).
    renderings: Renderings; PREDICT reads generated_mean only.

  Returns:
    tf.estimator.EstimatorSpec. TRAIN: loss (the negative ELBO) and the Adam train op.
    EVAL: loss and the metrics of `_eval_metrics`. PREDICT: 'predicted_mean', the
    rendering from z ~ pi, [B, H, W, 3].
  """
  # PREDICT graphs hold it too, as tf-gqn's do.
  global_step = tf.train.get_or_create_global_step()
  if mode == ModeKeys.PREDICT:
    predictions = {'predicted_mean': renderings.generated_mean}
    return tf.estimator.EstimatorSpec(
        mode, predictions=predictions,
        export_outputs={'predict': tf.estimator.export.PredictOutput(predictions)})

  gqn_config = params['gqn_params']
  debug = params.get('debug', False)
  sigma = schedules.pixel_sigma(global_step, gqn_config)
  posterior_mean = renderings.posterior_mean
  elbo = gqn_objective.gqn_draw_elbo(labels, posterior_mean, sigma, renderings.posteriors,
                                     renderings.priors)
  l2_posterior = tf.reduce_mean(tf.squared_difference(labels, posterior_mean))

  if mode == ModeKeys.TRAIN:
    compute_dtype = precision.compute_dtype(params.get('mixed_precision'))
    train_op, lr = adam_train_op(elbo.elbo, global_step, gqn_config, compute_dtype)
    if debug:
      _debug_summaries(features, labels, posterior_mean, 'posterior_mean', {
          'target_llh': elbo.target_llh, 'kl': elbo.kl, 'learning_rate': lr,
          'pixel_sigma': sigma, 'l2': l2_posterior}, renderings.posterior_canvases)
    log_hook = TrainLogHook({'step': global_step, 'loss': elbo.elbo, 'l2': l2_posterior},
                            params.get('log_steps', 100), params.get('max_steps'))
    return tf.estimator.EstimatorSpec(mode, loss=elbo.elbo, train_op=train_op,
                                      training_hooks=[log_hook])

  generated_mean = renderings.generated_mean
  l2_generation = tf.reduce_mean(tf.squared_difference(labels, generated_mean))
  hooks = []
  if debug:
    _debug_summaries(features, labels, generated_mean, 'generated_mean', {
        'target_llh': elbo.target_llh, 'kl': elbo.kl, 'pixel_sigma': sigma,
        'l2': l2_generation}, renderings.generated_canvases)
    if config is not None and config.model_dir:
      hooks.append(tf.train.SummarySaverHook(
          save_steps=1, output_dir=os.path.join(config.model_dir, 'eval_debug'),
          summary_op=tf.summary.merge_all()))
  return tf.estimator.EstimatorSpec(
      mode, loss=elbo.elbo, eval_metric_ops=_eval_metrics(elbo, l2_generation, l2_posterior),
      evaluation_hooks=hooks)


def gqn_draw_model_fn(features, labels, mode, params, config=None):
  """Estimator model_fn of the GQN with the DRAW renderer.

  Args:
    features: Query(context=Context(frames [B, K, H, W, 3], cameras [B, K, 7]),
      query_camera [B, 7]); K may be known only at run time.
    labels: [B, H, W, 3] target frames (None in PREDICT).
    mode: a tf.estimator.ModeKeys value.
    params: dict with 'gqn_params' (a GQNConfig) and optionally 'debug' (bool, image and
      scalar summaries), 'log_steps' (int, the interval of the training log line),
      'max_steps' (int or None, the step the log line's ETA counts to),
      'implementation' ('fast', the default, or 'reference': the same numbers, see
      gqn/gqn_draw.py) and 'mixed_precision' (None, 'float16' or 'bfloat16': the compute
      dtype; variables stay float32, float16 training scales the loss).
    config: the Estimator's RunConfig (optional; used for the eval summary directory).

  Returns:
    tf.estimator.EstimatorSpec (see `estimator_spec`). TRAIN: loss (the negative ELBO)
    and the Adam train op. EVAL: loss and the metrics elbo, target_llh, kl (posterior
    path), l2 (generated mean vs target, prior path) and l2_posterior. PREDICT:
    'predicted_mean', [B, H, W, 3].
  """
  outputs = gqn_graph.gqn_draw(
      features.query_camera, features.context.frames, features.context.cameras,
      params['gqn_params'], target_frame=None if mode == ModeKeys.PREDICT else labels,
      generate=mode != ModeKeys.TRAIN, implementation=params.get('implementation', 'fast'),
      compute_dtype=precision.compute_dtype(params.get('mixed_precision')))
  posterior, generation = outputs.posterior, outputs.generation
  renderings = Renderings()
  if posterior is not None:
    renderings = renderings._replace(
        posterior_mean=posterior.mu_target, posteriors=posterior.steps.posteriors,
        priors=posterior.steps.priors, posterior_canvases=posterior.canvas_images)
  if generation is not None:
    renderings = renderings._replace(generated_mean=generation.mu_target,
                                     generated_canvases=generation.canvas_images)
  return estimator_spec(mode, features, labels, params, config, renderings)
