"""Training a GQN: the run options, the input functions and the training loop.

train_gqn_draw.py is its command line; `train` is the function a test or a script calls:

    train(gqn_params.tiny_config(), data_dir, 'rooms_ring_camera', model_dir,
          TrainOptions(batch_size=4, max_steps=100))
"""

import collections
import contextlib

import tensorflow.compat.v1 as tf

from data_provider import gqn_tfr_provider
from data_provider import logs
from data_provider import record_check
from gqn import checkpoint_integrity
from gqn import checkpoints
from gqn import distribute as distribute_lib
from gqn import estimator as estimator_lib
from gqn import interrupts
from gqn import loss_guard
from gqn import model_dir as model_dir_lib
from gqn import precision
from gqn import snapshots
from gqn import train_clock

# How a run trains, apart from the config and the data's and model's places; the fields
# are named as train_gqn_draw.py's flags.
#   batch_size: examples per step of one replica; with N replicas training synchronously
#     one step is one update on N * batch_size examples (see gqn/distribute.py).
#   train_epochs: passes over the training files (None: no limit).
#   max_steps: stop at this global step (None: no limit). With neither, training runs
#     until it is stopped, checkpointing every `chkpt_steps`.
#   chkpt_steps: checkpoint interval in steps.
#   keep_checkpoints: the newest checkpoints kept (0: all, for a learning curve of every
#     one; see gqn/curves.py).
#   log_steps: interval of the log line (loss, L2, steps/s) and of summaries.
#   debug: write image and scalar summaries for TensorBoard.
#   initial_eval: evaluate on the test split before training.
#   memcap: fraction of GPU memory the process may take.
#   queue_threads: parallel reader/decoder threads.
#   queue_buffer: shuffle buffer, in examples.
#   seed: graph and input-pipeline seed.
#   distribution: a gqn.distribute.Distribution; None trains on one device.
#   eval_steps: cluster modes: batches of the test split per evaluation (evaluator task).
#   eval_throttle_secs: cluster modes: least seconds between two evaluations.
#   skip_corrupt_records: skip bad records (damaged files, frames that are not JPEG
#     images of the dataset's size, non-finite cameras) and report them at the end,
#     instead of stopping at the first.
#   xla: compile the graphs with XLA (global JIT).
#   mixed_precision: None, 'float16', 'bfloat16' or 'auto' (bfloat16 on a CPU with
#     native bfloat16, else float32: gqn/precision.py): the compute dtype; variables and
#     checkpoints stay float32.
#   max_minutes: stop once this run has trained that long, whatever the step (None: no
#     limit); the checkpoint of the step reached is saved.
#   init_from: a published snapshot's directory (gqn/snapshots.py) that a new run starts
#     from: its variables and global step, with fresh optimizer slots. Ignored once
#     `model_dir` has a checkpoint of its own.
_TRAIN_DEFAULTS = collections.OrderedDict([
    ('batch_size', 36), ('train_epochs', None), ('max_steps', None), ('chkpt_steps', 10000),
    ('keep_checkpoints', 5),
    ('log_steps', 100), ('debug', False), ('initial_eval', False), ('memcap', 1.0),
    ('queue_threads', 4), ('queue_buffer', 64), ('seed', None), ('distribution', None),
    ('eval_steps', 10), ('eval_throttle_secs', 600), ('skip_corrupt_records', False),
    ('xla', False), ('mixed_precision', None), ('max_minutes', None), ('init_from', None)])
TrainOptions = collections.namedtuple('TrainOptions', list(_TRAIN_DEFAULTS),
                                      defaults=list(_TRAIN_DEFAULTS.values()))


def input_fn(config, data_dir, dataset, mode, options, num_epochs, bad_records,
             distributed=False):
  """The provider's input_fn for the config and `options`, whichever model trains on it.

  The config gives the context size, the frame size and, for TRAIN, whether each batch
  draws its number of context views (RANDOM_CONTEXT_SIZE).
  """
  return gqn_tfr_provider.make_input_fn(
      dataset, config.CONTEXT_SIZE, data_dir, mode, batch_size=options.batch_size,
      num_epochs=num_epochs, custom_frame_size=(config.IMG_HEIGHT, config.IMG_WIDTH),
      num_threads=options.queue_threads, buffer_size=options.queue_buffer,
      seed=options.seed, bad_records=bad_records, distributed=distributed,
      random_context_size=config.RANDOM_CONTEXT_SIZE)


def check_dataset(config, data_dir, dataset, mode=tf.estimator.ModeKeys.TRAIN):
  """Raises the data provider's clear error now, before any graph is built or trained.

  A missing directory, an unknown dataset or a context size the dataset cannot give
  would otherwise surface deep inside `Estimator.train` as a stack trace.
  """
  with tf.Graph().as_default():
    gqn_tfr_provider.gqn_dataset(
        dataset=dataset, context_size=config.CONTEXT_SIZE, root=data_dir, mode=mode,
        custom_frame_size=(config.IMG_HEIGHT, config.IMG_WIDTH))


def train(config, data_dir, dataset, model_dir, options=None):
  """Trains a GQN; returns the global step reached.

  Stopping is safe at any moment: the same call continues from the newest complete
  checkpoint (see gqn/checkpoint_integrity.py, gqn/interrupts.py). SIGINT / SIGTERM save a
  checkpoint first.

  With an `options.distribution` of a cluster mode every process of the cluster calls
  this with the same arguments (its role comes from TF_CONFIG): the chief and the workers train,
  the evaluator evaluates each new checkpoint, a parameter server serves until killed.
  Only the chief writes checkpoints, summaries and gqn_config.json.

  Args:
    config: the GQNConfig (written to `model_dir/gqn_config.json`).
    data_dir: root of the gqn-datasets directories.
    dataset: dataset name (a key of the data provider's table).
    model_dir: where checkpoints, summaries and the config go.
    options: TrainOptions (None: the defaults).

  Returns:
    The global step of the latest checkpoint in `model_dir` (None if a cluster task
    finds none there).

  Raises:
    ValueError: bad data directory, records (record_check.CorruptRecordError, after
      saving a checkpoint) or checkpoint (checkpoints.CheckpointMismatchError,
      checkpoint_integrity.CheckpointStateError).
    loss_guard.NonFiniteLossError: the loss became NaN / Inf (no update applied).
    interrupts.TrainingInterrupted: SIGINT / SIGTERM, after saving a checkpoint.
  """
  options = options or TrainOptions()
  if options.keep_checkpoints < 0:
    raise ValueError('keep_checkpoints is %d; it must be 0 (keep all) or more.'
                     % options.keep_checkpoints)
  batch_size, seed = options.batch_size, options.seed
  distribution = options.distribution or distribute_lib.make_distribution(
      distribute_lib.NONE)
  in_cluster = distribution.mode in distribute_lib.CLUSTER_MODES
  if in_cluster and options.initial_eval:
    raise ValueError('--initial_eval evaluates before training on one machine; in a '
                     'cluster the evaluator task (TF_CONFIG "type": "evaluator") '
                     'evaluates every new checkpoint instead. Drop --initial_eval.')
  role = distribution.task.task_type if distribution.task else None
  if role == distribute_lib.EVALUATOR:
    check_dataset(config, data_dir, dataset, tf.estimator.ModeKeys.EVAL)
  elif role != distribute_lib.PS:  # A parameter server reads no data.
    check_dataset(config, data_dir, dataset)
  mixed_precision = precision.resolve(options.mixed_precision)
  computing = ''
  if options.mixed_precision == precision.AUTO:
    computing = ' computing in %s (--mixed_precision auto: %s);' % (
        mixed_precision or 'float32',
        'this CPU has native bfloat16' if mixed_precision else 'no native bfloat16 here')
  if in_cluster and config.FIXED_CONTEXT_STEPS:
    raise ValueError('FIXED_CONTEXT_STEPS is %d, but a cluster (--distribution %s) draws the '
                     'number of context views from the start; train the first %d steps on '
                     'one machine, or set --fixed_context_steps 0.'
                     % (config.FIXED_CONTEXT_STEPS, distribution.mode,
                        config.FIXED_CONTEXT_STEPS))
  warm_start = None
  start_step = 0
  if distribute_lib.is_chief(distribution.task):
    # Before the config is written: a checkpoint that does not fit it is refused.
    resumed = checkpoint_integrity.resume_checkpoint(model_dir, config)
    if resumed is not None:
      start_step = checkpoints.global_step(resumed)
    if resumed is None and options.init_from:
      start = checkpoints.find_checkpoint(options.init_from)
      checkpoints.check_compatible(start, config)
      warm_start = snapshots.warm_start_settings(start)
      logs.logger.info('Starting from the snapshot %s (global step %d), with fresh '
                       'optimizer slots.', start, checkpoints.global_step(start))
    model_dir_lib.write_config(model_dir, config)
  bad_records = record_check.BadRecords(skip=options.skip_corrupt_records)
  graph_seed = seed
  if seed is not None:
    # Trainers draw independent noise; MultiWorkerMirrored broadcasts the chief's
    # initial variables and parameter servers hold one copy, so the model starts equal.
    graph_seed += distribute_lib.worker_id(distribution.task)
  estimator = estimator_lib.make_estimator(
      config, model_dir, options.debug, options.log_steps, options.chkpt_steps,
      options.memcap, graph_seed, distribution=distribution, xla=options.xla,
      mixed_precision=mixed_precision, max_steps=options.max_steps,
      keep_checkpoints=options.keep_checkpoints, warm_start_from=warm_start)
  logs.logger.info('Training a GQN (batch size %d per replica) on %s in %s;%s config: %s',
                   batch_size, dataset, model_dir, computing, config)
  if distribution.mode != distribute_lib.NONE:
    logs.logger.info(distribute_lib.describe(distribution, batch_size))
  logs.logger.info('Learning rate %g -> %g over ANNEAL_LR_TAU = %d global steps; a global '
                   'step is one update, so the schedule does not change with the number '
                   'of replicas.', config.ADAM_LR_ALPHA, config.ADAM_LR_BETA,
                   config.ANNEAL_LR_TAU)
  if config.SIGMA_LATE_STEP:
    logs.logger.info('Pixel sigma %g -> %g over ANNEAL_SIGMA_TAU = %d steps, then %g from '
                     'global step %d.', config.GENERATOR_SIGMA_ALPHA,
                     config.GENERATOR_SIGMA_BETA, config.ANNEAL_SIGMA_TAU,
                     config.GENERATOR_SIGMA_LATE, config.SIGMA_LATE_STEP)
  phases = context_phases(config, start_step, options.max_steps)
  if phases[0][0] != config:
    logs.logger.info('All %d context views until global step %d, then 1..%d at random.',
                     config.CONTEXT_SIZE, config.FIXED_CONTEXT_STEPS, config.CONTEXT_SIZE)
  train_input_fn = lambda phase_config: input_fn(
      phase_config, data_dir, dataset, tf.estimator.ModeKeys.TRAIN, options,
      options.train_epochs, bad_records, distributed=distribution.strategy is not None)
  eval_input_fn = input_fn(config, data_dir, dataset, tf.estimator.ModeKeys.EVAL, options,
                           1, bad_records)
  with interrupts.StopOnSignals() as stop, _non_finite_loss_errors(model_dir, config):
    if in_cluster:
      tf.estimator.train_and_evaluate(
          estimator, tf.estimator.TrainSpec(train_input_fn(config), max_steps=options.max_steps,
                                            hooks=[stop.hook()]),
          tf.estimator.EvalSpec(eval_input_fn, steps=options.eval_steps, start_delay_secs=0,
                                throttle_secs=options.eval_throttle_secs))
    else:
      if options.initial_eval:
        estimator.evaluate(eval_input_fn)
        bad_records.raise_if_stopped()
      hooks = [stop.hook()]
      if options.max_minutes:
        hooks.append(train_clock.TimeLimitHook(options.max_minutes))
      for phase_config, phase_end in phases:
        if stop.signum is not None:
          break
        # Each checkpoint records the training time it was saved at, for the curves.
        estimator.train(train_input_fn(phase_config), max_steps=phase_end, hooks=hooks,
                        saving_listeners=[train_clock.TrainingClock(model_dir)])
        checkpoint = estimator.latest_checkpoint()
        if checkpoint is None or checkpoints.global_step(checkpoint) < (phase_end or 0):
          break  # stopped early: the clock, a signal or the end of the data
  if bad_records.count:
    logs.logger.warning(bad_records.summary())
  bad_records.raise_if_stopped()
  checkpoint = estimator.latest_checkpoint()
  step = None if checkpoint is None else checkpoints.global_step(checkpoint)
  if stop.signum is not None:
    raise interrupts.TrainingInterrupted(stop.signum, step, checkpoint)
  return step


def context_phases(config, start_step, max_steps):
  """The Estimator.train calls of a run from `start_step`: [(config, max_steps), ...].

  With FIXED_CONTEXT_STEPS ahead of `start_step`, a first call trains on all
  CONTEXT_SIZE views (RANDOM_CONTEXT_SIZE off) up to that step, and a second draws the
  number of views on to `max_steps`; otherwise one call does it all. The input pipeline
  cannot see the global step, so the switch is a new input_fn.
  """
  switch = config.FIXED_CONTEXT_STEPS
  fixed = config._replace(RANDOM_CONTEXT_SIZE=False)
  if start_step >= switch:
    return [(config, max_steps)]
  if max_steps is not None and max_steps <= switch:
    return [(fixed, max_steps)]
  return [(fixed, switch), (config, max_steps)]


@contextlib.contextmanager
def _non_finite_loss_errors(model_dir, config):
  """Turns the error of a NaN / Inf loss (loss_guard.loss_guard) into one naming the step."""
  try:
    yield
  except tf.errors.InvalidArgumentError as error:
    non_finite = loss_guard.non_finite_loss_error(error, model_dir, config)
    if non_finite is None:
      raise
    raise non_finite from None
