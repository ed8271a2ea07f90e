"""Stopping a run cleanly on SIGINT / SIGTERM; how the entry points report it, and their codes.

A GQN trains for days, so a run must be able to stop at any moment and go on with the
same command. SIGINT (Ctrl-C) and SIGTERM (`kill`, a batch scheduler's pre-emption) end
training after the step in flight; the Estimator's CheckpointSaverHook then saves the
state of that step (`StopOnSignals`). A second signal ends the process at once.

Exit codes of the entry points (eval_gqn.py; train_gqn_draw.py, demo.py and results.py
through `run_command`, which prints the reason in one line):

  0    done
  2    bad input: flags, config file, dataset directory or records, checkpoint
       (EXIT_BAD_INPUT)
  3    the loss became NaN or Inf (EXIT_NON_FINITE_LOSS, see gqn/loss_guard.py)
  130  stopped by SIGINT after saving a checkpoint (128 + 2)
  143  stopped by SIGTERM after saving a checkpoint (128 + 15)
"""

import signal
import sys
import threading

import tensorflow.compat.v1 as tf

from data_provider import logs

EXIT_BAD_INPUT = 2
EXIT_NON_FINITE_LOSS = 3
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_SIGNAL_NAMES = {signal.SIGINT: 'SIGINT', signal.SIGTERM: 'SIGTERM'}


def exit_code_of_signal(signum):
  """The shell's exit code of a process ended by signal `signum`: 128 + signum."""
  return 128 + signum


class TrainingStopped(Exception):
  """Training ended before its last step; `exit_code` is the entry points' exit status.

  Its message says why and what to do; the entry points print it and return the code.
  """
  exit_code = 1


class TrainingInterrupted(TrainingStopped):
  """Training stopped on a signal, after saving a checkpoint of the step reached."""

  def __init__(self, signum, step, checkpoint):
    self.signum = signum
    self.step = step
    self.checkpoint = checkpoint
    self.exit_code = exit_code_of_signal(signum)
    super(TrainingInterrupted, self).__init__(
        'Stopped by %s at step %s; saved %s. Run the same command to continue.'
        % (_SIGNAL_NAMES.get(signum, signum), step, checkpoint))


def run_command(tool, function, again):
  """Runs `function()` for an entry point that trains; returns (its result, exit code).

  Bad input (ValueError, IOError), a stop of training (`TrainingStopped`: a signal after
  its checkpoint, a non-finite loss) and Ctrl-C outside training each print one line
  that names `tool` and return (None, the exit code); `again` tells what running the
  command again does. Otherwise (function's result, 0).
  """
  try:
    return function(), 0
  except (ValueError, IOError) as error:
    print('%s: error: %s' % (tool, error), file=sys.stderr)
    return None, EXIT_BAD_INPUT
  except TrainingStopped as stopped:
    print('%s: %s' % (tool, stopped), file=sys.stderr)
    return None, stopped.exit_code
  except KeyboardInterrupt:
    print('%s: interrupted. Run it again to go on: %s' % (tool, again), file=sys.stderr)
    return None, exit_code_of_signal(signal.SIGINT)


class StopOnSignals(object):
  """Context manager: SIGINT / SIGTERM request a clean stop instead of killing the run.

  Inside it, the first SIGINT or SIGTERM is noted and `hook()` asks the training loop to
  stop after the step in flight; the Estimator's CheckpointSaverHook saves on the way
  out. The handlers go back to the default at once, so a second signal ends the process
  immediately (Python runs handlers between session calls, so a step that hangs, e.g.
  on a stalled input, is only left that way). Outside the main thread, where Python
  cannot set handlers, it does nothing.

    with interrupts.StopOnSignals() as stop:
      estimator.train(input_fn, hooks=[stop.hook()])
    if stop.signum: ...
  """

  def __init__(self, signals=_SIGNALS):
    self._signals = signals
    self._previous = {}
    self.signum = None

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signum in self._signals:
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc_info):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}
    return False

  def _handle(self, signum, frame):
    del frame
    if self.signum is None:
      self.signum = signum
    for other in self._previous:
      signal.signal(other, signal.SIG_DFL)
    logs.logger.warning('%s received: stopping after this step and saving a checkpoint '
                        '(send it again to quit at once, without saving).',
                        _SIGNAL_NAMES.get(signum, signum))

  def hook(self):
    """A SessionRunHook that requests a stop once a signal has arrived."""
    return _StopHook(self)


class _StopHook(tf.train.SessionRunHook):

  def __init__(self, stop):
    self._stop = stop

  def after_run(self, run_context, run_values):
    if self._stop.signum is not None:
      run_context.request_stop()
