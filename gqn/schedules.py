"""Schedules of training: pure functions of the global step (pixel sigma, learning rate)."""

import tensorflow.compat.v1 as tf


def annealed_value(step, alpha, beta, tau):
  """Linear anneal from `alpha` at step 0 to `beta` at step `tau`, then constant.

  value_t = max(beta + (alpha - beta) * (1 - t / tau), beta). Used for the pixel sigma
  (GENERATOR_SIGMA_*, ANNEAL_SIGMA_TAU) and the learning rate (ADAM_LR_*, ANNEAL_LR_TAU).

  Args:
    step: the global step, a scalar integer or float tensor (or Python number).
    alpha, beta: start and end values.
    tau: number of steps of the anneal.

  Returns:
    A float32 scalar tensor.
  """
  step = tf.cast(step, tf.float32)
  value = beta + (alpha - beta) * (1.0 - step / float(tau))
  return tf.maximum(value, float(beta))


def pixel_sigma(step, config):
  """The standard deviation sigma_t of the pixel likelihood at `step`.

  Annealed from GENERATOR_SIGMA_ALPHA to GENERATOR_SIGMA_BETA over ANNEAL_SIGMA_TAU
  steps; with SIGMA_LATE_STEP > 0, GENERATOR_SIGMA_LATE from that step on.
  """
  sigma = annealed_value(step, config.GENERATOR_SIGMA_ALPHA, config.GENERATOR_SIGMA_BETA,
                         config.ANNEAL_SIGMA_TAU)
  if not config.SIGMA_LATE_STEP:
    return sigma
  late = tf.cast(step, tf.float32) >= float(config.SIGMA_LATE_STEP)
  return tf.where(late, tf.constant(config.GENERATOR_SIGMA_LATE, tf.float32), sigma)


def learning_rate(step, config):
  """The annealed Adam learning rate at `step`."""
  return annealed_value(step, config.ADAM_LR_ALPHA, config.ADAM_LR_BETA, config.ANNEAL_LR_TAU)
