"""Whether a checkpoint's files are complete, and a model directory's recovery after a fault.

A kill -9 cannot leave a checkpoint that breaks the restart (TF writes the `checkpoint`
file only after a checkpoint's files). Should it name files that are missing or cut
short anyway (a full disk, a partial copy of the directory), `recover_checkpoint_state`
goes back to the newest complete checkpoint and says so, and `check_restorable` refuses
a damaged checkpoint given to evaluation, naming an earlier one. `resume_checkpoint` is
where training decides what it continues from.
"""

import os
import re

import tensorflow.compat.v1 as tf

from data_provider import logs
from gqn import checkpoints

_DATA_SHARD = re.compile(r'\.data-(\d+)-of-(\d+)$')
_PARTIAL_SAVE_DIR = re.compile(r'^.*\.ckpt-\d+_temp$')
_PARTIAL_FILE = re.compile(r'\.(tmp[0-9a-f]{32}|tempstate\d+)$')


class CheckpointStateError(ValueError):
  """A model directory's checkpoints are all incomplete; nothing safe to continue from."""


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
    logs.logger.info('Removed what interrupted saves left in %s: %s.', model_dir,
                     ', '.join(sorted(removed)))


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
  on_disk = checkpoints.checkpoints_on_disk(model_dir)
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
  logs.logger.warning('%s; continuing from %s, the newest complete checkpoint.',
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
    CheckpointMismatchError: the checkpoint does not fit `config`; names the
      differing variables and the flags that would fix it.
  """
  prefix = recover_checkpoint_state(model_dir)
  if prefix is None:
    logs.logger.info('No checkpoint in %s: training starts at step 0.', model_dir)
    return None
  checkpoints.check_compatible(prefix, config)
  logs.logger.info('Continuing from %s (global step %s).', prefix,
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
  complete = [other for other in checkpoints.checkpoints_on_disk(model_dir)
              if other != prefix and checkpoint_problem(other) is None]
  instead = ('pass an earlier one, e.g. --checkpoint %s' % complete[0] if complete
             else 'no other complete checkpoint is in %s' % (model_dir or '.'))
  raise CheckpointStateError('Checkpoint %s cannot be restored: %s; %s.'
                             % (prefix, problem, instead))
