"""Training runs that survive being stopped: signals, non-finite losses, damaged checkpoints.

A GQN trains for days, so a run must be able to stop at any moment and go on with the
same command:

  * SIGINT (Ctrl-C) and SIGTERM (`kill`, a batch scheduler's pre-emption) end training
    after the step in flight; the Estimator's CheckpointSaverHook then saves the state
    of that step (`StopOnSignals`). A second signal ends the process at once.
  * A non-finite loss (NaN / Inf) stops the step before its update is applied
    (`loss_guard`, a dependency of the train op, so it runs before any hook can save),
    so every checkpoint keeps a finite state; `non_finite_loss_error` turns TF's error
    into one that names the step.
  * A kill -9 cannot leave a checkpoint that breaks the restart: TF writes the
    `checkpoint` file only after a checkpoint's files. Should it name files that are
    missing or cut short anyway (a full disk, a partial copy of the directory),
    `recover_checkpoint_state` goes back to the newest complete checkpoint and says so.

Exit codes of the entry points (train_gqn_draw.py, eval_gqn.py):

  0    done
  2    bad input: flags, config file, dataset directory or records, checkpoint
  3    the loss became NaN or Inf (EXIT_NON_FINITE_LOSS)
  130  stopped by SIGINT after saving a checkpoint (128 + 2)
  143  stopped by SIGTERM after saving a checkpoint (128 + 15)
"""

import os
import re
import signal
import threading

import tensorflow.compat.v1 as tf

from gqn import checkpoints

EXIT_BAD_INPUT = 2
EXIT_NON_FINITE_LOSS = 3
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_SIGNAL_NAMES = {signal.SIGINT: 'SIGINT', signal.SIGTERM: 'SIGTERM'}
_NON_FINITE = 'GQN training loss is not finite:'
_NON_FINITE_MESSAGE = re.compile(
    re.escape(_NON_FINITE) + r'\] \[([^\]]*)\] \[at global step\] \[(-?\d+)\]')
_CHECKPOINT_INDEX = re.compile(r'^(.*\.ckpt-(\d+))\.index$')
_DATA_SHARD = re.compile(r'\.data-(\d+)-of-(\d+)$')
_PARTIAL_SAVE_DIR = re.compile(r'^.*\.ckpt-\d+_temp$')
_PARTIAL_FILE = re.compile(r'\.(tmp[0-9a-f]{32}|tempstate\d+)$')


class TrainingInterrupted(Exception):
  """Training stopped on a signal, after saving a checkpoint of the step reached."""

  def __init__(self, signum, step, checkpoint):
    self.signum = signum
    self.step = step
    self.checkpoint = checkpoint
    self.exit_code = 128 + signum
    super(TrainingInterrupted, self).__init__(
        'Stopped by %s at step %s; saved %s. Run the same command to continue.'
        % (_SIGNAL_NAMES.get(signum, signum), step, checkpoint))


class NonFiniteLossError(RuntimeError):
  """The loss became NaN or Inf; the step's update was not applied."""
  exit_code = EXIT_NON_FINITE_LOSS


class CheckpointStateError(ValueError):
  """A model directory's checkpoints are all incomplete; nothing safe to continue from."""


class StopOnSignals(object):
  """Context manager: SIGINT / SIGTERM request a clean stop instead of killing the run.

  Inside it, the first SIGINT or SIGTERM is noted and `hook()` asks the training loop to
  stop after the step in flight; the Estimator's CheckpointSaverHook saves on the way
  out. The handlers go back to the default at once, so a second signal ends the process
  immediately (Python runs handlers between session calls, so a step that hangs, e.g.
  on a stalled input, is only left that way). Outside the main thread, where Python
  cannot set handlers, it does nothing.

    with run_safety.StopOnSignals() as stop:
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
    tf.logging.warning('%s received: stopping after this step and saving a checkpoint '
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


def checkpoint_problem(prefix):
  """Why the checkpoint `prefix` cannot be restored, or None when it is complete.

  Checks that the `.index` file reads and that all its data shards are there and at
  least as long as the numeric tensors the index lists need. A kill -9 or a full disk
  leaves files cut short in this way; bit rot inside the data is left to the restore.

  Args:
    prefix: a checkpoint prefix, e.g. '/models/gqn/model.ckpt-2000'.

  Returns:
    None, or a phrase such as 'its data is cut short (1200 of at least 9000 bytes)'.
  """
  if not tf.io.gfile.exists(prefix + '.index'):
    return 'its .index file is missing'
  try:
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
  except (tf.errors.OpError, ValueError) as error:
    message = (getattr(error, 'message', '') or str(error)).strip().splitlines()
    return 'its .index file is damaged (%s)' % (message[0] if message else error)
  shards = tf.io.gfile.glob(prefix + '.data-*-of-*')
  counts = set(int(match.group(2)) for match in
               (_DATA_SHARD.search(path) for path in shards) if match)
  if not shards or len(counts) != 1 or len(shards) != counts.pop():
    return 'its data files are missing or incomplete (found %d: %s)' % (
        len(shards), ', '.join(os.path.basename(path) for path in sorted(shards)) or 'none')
  needed = 0
  for name, shape in shapes.items():
    dtype = tf.as_dtype(dtypes[name])
    if dtype == tf.string:
      continue
    count = 1
    for size in shape:
      count *= size
    needed += count * dtype.size
  have = sum(tf.io.gfile.stat(path).length for path in shards)
  if have < needed:
    return 'its data is cut short (%d of at least %d bytes)' % (have, needed)
  return None


def _remove_partial_writes(model_dir):
  """Deletes what saves cut short by a kill left behind; TF never reads nor removes it.

  A sharded save writes into `<prefix>_temp/` and merges into `<prefix>.*` only when
  complete; other files are written as `<name>.tmp<hex>` or `<name>.tempstate<digits>`
  and renamed. Left over after a kill -9, each `_temp` directory can hold up to a whole
  checkpoint's worth of bytes, and they pile up with every interrupted save.
  """
  removed = []
  for name in tf.io.gfile.listdir(model_dir):
    name = name.rstrip('/')
    path = os.path.join(model_dir, name)
    if _PARTIAL_SAVE_DIR.match(name) and tf.io.gfile.isdir(path):
      tf.io.gfile.rmtree(path)
    elif _PARTIAL_FILE.search(name) and not tf.io.gfile.isdir(path):
      tf.io.gfile.remove(path)
    else:
      continue
    removed.append(name)
  if removed:
    tf.logging.info('Removed what interrupted saves left in %s: %s.', model_dir,
                    ', '.join(sorted(removed)))


def _checkpoints_on_disk(model_dir):
  """Prefixes of every `*.ckpt-<step>.index` in `model_dir`, newest step first."""
  found = []
  for name in tf.io.gfile.listdir(model_dir):
    match = _CHECKPOINT_INDEX.match(name)
    if match:
      found.append((int(match.group(2)), os.path.join(model_dir, match.group(1))))
  return [prefix for _, prefix in sorted(found, reverse=True)]


def recover_checkpoint_state(model_dir):
  """Makes the `checkpoint` file of `model_dir` name a complete checkpoint, if any.

  The checkpoint it names is kept when complete. Otherwise (it names missing or cut
  short files, is itself unreadable, or is missing beside checkpoint files) it is
  rewritten to name the newest complete checkpoint, with a warning saying which and
  why; the damaged files are left in place (training overwrites them when it reaches
  their step again). What saves cut short left behind (`*_temp` directories, temporary
  files) is removed.

  Args:
    model_dir: the model directory (may not exist yet).

  Returns:
    The prefix training will continue from, or None for a new run.

  Raises:
    CheckpointStateError: there are checkpoint files, but none is complete; the message
      lists what is wrong with each and what to do.
  """
  if not tf.io.gfile.isdir(model_dir):
    return None
  _remove_partial_writes(model_dir)
  state = tf.train.get_checkpoint_state(model_dir)  # None if missing or unreadable.
  named = state.model_checkpoint_path if state and state.model_checkpoint_path else None
  if named is not None:
    problem = checkpoint_problem(named)
    if problem is None:
      return named
  on_disk = _checkpoints_on_disk(model_dir)
  if named is None and not on_disk:
    return None
  problems = [(prefix, checkpoint_problem(prefix)) for prefix in on_disk]
  complete = [prefix for prefix, prefix_problem in problems if prefix_problem is None]
  state_file = os.path.join(model_dir, 'checkpoint')
  if not complete:
    listed = '; '.join('%s: %s' % (os.path.basename(prefix), prefix_problem)
                       for prefix, prefix_problem in problems[:3])
    if named is not None and named not in on_disk:
      listed = '%s: %s%s' % (os.path.basename(named), problem,
                             '; ' + listed if listed else '')
    raise CheckpointStateError(
        '%s holds no complete checkpoint to continue from (%s). Restore the files from '
        'a copy, or move them and %s away to train from scratch.'
        % (model_dir, listed, state_file))
  chosen = complete[0]
  if named is not None:
    why = '%s names %s, but %s' % (state_file, os.path.basename(named), problem)
  else:
    why = '%s is missing or unreadable' % state_file
  tf.logging.warning('%s; continuing from %s, the newest complete checkpoint.',
                     why, os.path.basename(chosen))
  tf.train.update_checkpoint_state(
      model_dir, os.path.basename(chosen),
      all_model_checkpoint_paths=[os.path.basename(p) for p in reversed(complete)])
  return chosen


def resume_checkpoint(model_dir, config):
  """The checkpoint a run in `model_dir` continues from, checked against `config`.

  Repairs the `checkpoint` file if needed (`recover_checkpoint_state`) and refuses a
  checkpoint that `config` cannot restore, before anything is built or written.

  Args:
    model_dir: the model directory.
    config: the GQNConfig the run builds.

  Returns:
    The checkpoint prefix, or None for a new run.

  Raises:
    CheckpointStateError: checkpoint files, but none complete.
    checkpoints.CheckpointMismatchError: the checkpoint does not fit `config`; names the
      differing variables and the flags that would fix it.
  """
  prefix = recover_checkpoint_state(model_dir)
  if prefix is None:
    tf.logging.info('No checkpoint in %s: training starts at step 0.', model_dir)
    return None
  checkpoints.check_compatible(prefix, config)
  tf.logging.info('Continuing from %s (global step %s).', prefix,
                  checkpoints.global_step(prefix))
  return prefix


def check_restorable(prefix):
  """Refuses a checkpoint whose files are missing or cut short, naming an earlier one.

  For tools that read a given checkpoint (evaluation) rather than train on.

  Raises:
    CheckpointStateError: what is wrong with `prefix` and the newest complete checkpoint
      beside it to pass instead, if any.
  """
  problem = checkpoint_problem(prefix)
  if problem is None:
    return
  model_dir = os.path.dirname(prefix)
  complete = [other for other in _checkpoints_on_disk(model_dir)
              if other != prefix and checkpoint_problem(other) is None]
  instead = ('pass an earlier one, e.g. --checkpoint %s' % complete[0] if complete
             else 'no other complete checkpoint is in %s' % (model_dir or '.'))
  raise CheckpointStateError('Checkpoint %s cannot be restored: %s; %s.'
                             % (prefix, problem, instead))
