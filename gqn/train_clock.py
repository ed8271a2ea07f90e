"""Training's wall-clock time at each checkpoint, kept in `MODEL_DIR/training_time.json`.

A learning curve against time needs how long the model had trained when each checkpoint
was written. File times cannot tell it once a run has been stopped and resumed, so
training records it: seconds of training (summed over every run in the directory, not
counting the pauses between them) for each checkpoint's global step.
"""

import json
import os
import time

import tensorflow.compat.v1 as tf

TIME_FILE = 'training_time.json'


def read_training_times(model_dir):
  """Returns {global step: seconds of training} of `model_dir` ({} when not recorded)."""
  path = os.path.join(model_dir, TIME_FILE)
  if not tf.io.gfile.exists(path):
    return {}
  with tf.io.gfile.GFile(path, 'r') as f:
    try:
      values = json.load(f)
    except ValueError:
      return {}  # a damaged record only loses the time axis of the curves
  return {int(step): float(seconds) for step, seconds in values.items()}


def _write_training_times(model_dir, times):
  path = os.path.join(model_dir, TIME_FILE)
  temp = path + '.tmp'
  with tf.io.gfile.GFile(temp, 'w') as f:
    json.dump({str(step): round(seconds, 2) for step, seconds in sorted(times.items())}, f,
              indent=1)
  tf.io.gfile.rename(temp, path, overwrite=True)


class TimeLimitHook(tf.estimator.SessionRunHook):
  """Stops training once this run has trained `minutes` (the Estimator then saves).

  The clock starts at the first `Estimator.train` call the hook is given to and runs on
  through later calls of the same run (training.context_phases).
  """

  def __init__(self, minutes):
    self._seconds = 60.0 * minutes
    self._start = None

  def begin(self):
    if self._start is None:
      self._start = time.time()

  def after_run(self, run_context, run_values):
    del run_values  # only the time counts
    if time.time() - self._start >= self._seconds:
      run_context.request_stop()


class TrainingClock(tf.estimator.CheckpointSaverListener):
  """Records the training time reached at every checkpoint the Estimator saves."""

  def __init__(self, model_dir):
    self._model_dir = model_dir
    self._times = {}
    self._offset = 0.0
    self._start = None

  def begin(self):
    self._times = read_training_times(self._model_dir)
    # A resumed run continues from the time the last checkpoint had reached.
    self._offset = self._times[max(self._times)] if self._times else 0.0
    self._start = time.time()

  def after_save(self, session, global_step_value):
    del session  # the time is all the listener needs
    step = int(global_step_value)
    if step in self._times and step != max(self._times):
      return
    self._times[step] = self._offset + time.time() - self._start
    _write_training_times(self._model_dir, self._times)
