"""The guard against a non-finite loss: a graph op of the train op, and its error.

A non-finite loss (NaN / Inf) stops the step before its update is applied (`loss_guard`,
a dependency of the train op, so it runs before any hook can save), so every
checkpoint keeps a finite state; `non_finite_loss_error` turns TensorFlow's error into
one that names the step. The model_fn imports only this module of the run-time.
"""

import re

import tensorflow.compat.v1 as tf

from gqn.interrupts import EXIT_NON_FINITE_LOSS
from gqn.interrupts import TrainingStopped

_NON_FINITE = 'GQN training loss is not finite:'
_NON_FINITE_MESSAGE = re.compile(
    re.escape(_NON_FINITE) + r'\] \[([^\]]*)\] \[at global step\] \[(-?\d+)\]')


class NonFiniteLossError(TrainingStopped, RuntimeError):
  """The loss became NaN or Inf; the step's update was not applied."""
  exit_code = EXIT_NON_FINITE_LOSS


def loss_guard(loss, global_step):
  """An op that fails the step when `loss` is not finite.

  Make the train op depend on it (`tf.control_dependencies([loss_guard(...)])`): the
  bad step then fails before its update is applied and before any hook's `after_run`
  (where the CheckpointSaverHook saves), so no checkpoint holds its state.

  Args:
    loss: float scalar tensor.
    global_step: the global step tensor (named in the error).

  Returns:
    The Assert op.
  """
  return tf.debugging.Assert(tf.math.is_finite(loss),
                             [_NON_FINITE, loss, 'at global step', global_step])


def non_finite_loss_error(error, model_dir, config=None):
  """The NonFiniteLossError for an error raised by `loss_guard`; None for other errors.

  Args:
    error: a tf.errors.OpError from training.
    model_dir: the model directory (to name its newest checkpoint).
    config: the run's GQNConfig, to quote the learning rate; optional.
  """
  match = _NON_FINITE_MESSAGE.search(getattr(error, 'message', '') or str(error))
  if match is None:
    return None
  loss, step = match.group(1), int(match.group(2))
  checkpoint = tf.train.latest_checkpoint(model_dir)
  kept = ('the newest checkpoint, %s, is intact' % checkpoint if checkpoint
          else 'no checkpoint was written yet')
  rate = ''
  if config is not None:
    rate = ' (ADAM_LR_ALPHA is %g)' % config.ADAM_LR_ALPHA
  return NonFiniteLossError(
      'Training stopped at step %d: the loss is %s. That step\'s update was not applied '
      'and %s. A loss that blows up usually means a learning rate too high for the '
      'data%s or broken input; start a new --model_dir with a lower --adam_lr_alpha, or '
      'run the same command to retry from the checkpoint.' % (step, loss, kept, rate))
