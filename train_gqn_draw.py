"""Trains a GQN with the DRAW renderer on a gqn-datasets dataset.

  python3 train_gqn_draw.py --data_dir /data/gqn-dataset --dataset rooms_ring_camera \
      --model_dir /models/gqn_rooms

The model directory records the config (`gqn_config.json`) and checkpoints; running the
same command again continues from the last checkpoint with the recorded config.

Several GPUs of one machine: add `--distribution mirrored` (`--batch_size` is per GPU).
Several machines: `--distribution multi_worker` (synchronous) or `parameter_server`
(asynchronous), the same command in every process with TF_CONFIG set to its role and a
shared --model_dir; see gqn/distribute.py.
"""

import argparse
import os
import contextlib
import signal
import sys

# TensorFlow's C++ start-up chatter (I/W lines) hides the tool's own output.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top

from data_provider import gqn_tfr_provider
from data_provider import record_check
from gqn import distribute as distribute_lib
from gqn import gqn_model
from gqn import gqn_params
from gqn import model_dir as model_dir_lib
from gqn import run_safety


def _input_fn(config, data_dir, dataset, mode, batch_size, num_epochs, queue_threads,
              queue_buffer, seed, bad_records=None):
  def input_fn():
    return gqn_tfr_provider.gqn_input_fn(
        dataset=dataset, context_size=config.CONTEXT_SIZE, root=data_dir, mode=mode,
        batch_size=batch_size, num_epochs=num_epochs, custom_frame_size=config.IMG_HEIGHT,
        num_threads=queue_threads, buffer_size=queue_buffer, seed=seed,
        bad_records=bad_records)
  return input_fn


def _distributed_input_fn(config, data_dir, dataset, mode, batch_size, num_epochs,
                          queue_threads, queue_buffer, seed, bad_records=None):
  """The input_fn of a distributed Estimator: one pipeline per worker, a dataset.

  The Estimator calls it once per worker with a tf.distribute.InputContext and hands its
  batches of `batch_size` to the worker's replicas in turn: `batch_size` is per replica.
  Each worker reads its share of the files, with its own shuffle seed.
  """
  def input_fn(input_context=None):
    return gqn_tfr_provider.gqn_dataset(
        dataset=dataset, context_size=config.CONTEXT_SIZE, root=data_dir, mode=mode,
        batch_size=batch_size, num_epochs=num_epochs, custom_frame_size=config.IMG_HEIGHT,
        num_threads=queue_threads, buffer_size=queue_buffer,
        seed=distribute_lib.pipeline_seed(seed, input_context),
        input_context=input_context, bad_records=bad_records)
  return input_fn


def check_dataset(config, data_dir, dataset, mode=tf.estimator.ModeKeys.TRAIN):
  """Raises the data provider's clear error now, before any graph is built or trained.

  A missing directory, an unknown dataset or a context size the dataset cannot give
  would otherwise surface deep inside `Estimator.train` as a stack trace.
  """
  with tf.Graph().as_default():
    gqn_tfr_provider.gqn_dataset(
        dataset=dataset, context_size=config.CONTEXT_SIZE, root=data_dir, mode=mode,
        custom_frame_size=config.IMG_HEIGHT)


def make_estimator(config, model_dir, debug=False, log_steps=100, chkpt_steps=10000,
                   memcap=1.0, seed=None, distribution=None, xla=False,
                   mixed_precision=None):
  """The GQN Estimator for `model_dir`.

  `distribution`: a gqn.distribute.Distribution. `xla`: compile the graphs with XLA
  (global JIT). `mixed_precision`: None, 'float16' or 'bfloat16', the compute dtype
  (variables and checkpoints stay float32; see gqn_model.gqn_draw_model_fn).
  """
  session_config = tf.ConfigProto(
      gpu_options=tf.GPUOptions(per_process_gpu_memory_fraction=memcap, allow_growth=True))
  train_distribute = None
  if distribution is not None:
    train_distribute = distribution.strategy
    distribute_lib.configure_session(distribution, session_config)
  if xla:
    session_config.graph_options.optimizer_options.global_jit_level = (
        tf.OptimizerOptions.ON_1)
    # Without this flag auto-clustering leaves CPU graphs alone; TensorFlow reads it
    # when the first session starts.
    flags = os.environ.get('TF_XLA_FLAGS', '')
    if '--tf_xla_cpu_global_jit' not in flags:
      os.environ['TF_XLA_FLAGS'] = (flags + ' --tf_xla_cpu_global_jit').strip()
  run_config = tf.estimator.RunConfig(
      model_dir=model_dir, save_checkpoints_steps=chkpt_steps, save_checkpoints_secs=None,
      save_summary_steps=log_steps, log_step_count_steps=None, tf_random_seed=seed,
      session_config=session_config, train_distribute=train_distribute)
  return tf.estimator.Estimator(
      model_fn=gqn_model.gqn_draw_model_fn, model_dir=model_dir, config=run_config,
      params={'gqn_params': config, 'debug': debug, 'log_steps': log_steps,
              'mixed_precision': mixed_precision})


def train(config, data_dir, dataset, model_dir, batch_size=36, train_epochs=None,
          max_steps=None, chkpt_steps=10000, log_steps=100, debug=False, initial_eval=False,
          memcap=1.0, queue_threads=4, queue_buffer=64, seed=None, distribution=None,
          eval_steps=10, eval_throttle_secs=600, skip_corrupt_records=False,
          xla=False, mixed_precision=None):
  """Trains a GQN; returns the global step reached.

  Stopping is safe at any moment: the same call continues from the newest complete
  checkpoint (see gqn/run_safety.py). SIGINT / SIGTERM save a checkpoint first.

  With a `distribution` of a cluster mode every process of the cluster calls this with
  the same arguments (its role comes from TF_CONFIG): the chief and the workers train,
  the evaluator evaluates each new checkpoint, a parameter server serves until killed.
  Only the chief writes checkpoints, summaries and gqn_config.json.

  Args:
    config: the GQNConfig (written to `model_dir/gqn_config.json`).
    data_dir: root of the gqn-datasets directories.
    dataset: dataset name (a key of the data provider's table).
    model_dir: where checkpoints, summaries and the config go.
    batch_size: examples per step of one replica; with N replicas training
      synchronously one step is one update on N * batch_size examples (see
      gqn/distribute.py).
    train_epochs: passes over the training files (None: no limit).
    max_steps: stop at this global step (None: no limit). With neither, training runs
      until it is stopped, checkpointing every `chkpt_steps`.
    chkpt_steps: checkpoint interval in steps.
    log_steps: interval of the log line (loss, L2, steps/s) and of summaries.
    debug: write image and scalar summaries for TensorBoard.
    initial_eval: evaluate on the test split before training.
    memcap: fraction of GPU memory the process may take.
    queue_threads: parallel reader/decoder threads.
    queue_buffer: shuffle buffer, in examples.
    seed: graph and input-pipeline seed.
    distribution: a gqn.distribute.Distribution; None trains on one device.
    eval_steps: cluster modes: batches of the test split per evaluation (evaluator task).
    eval_throttle_secs: cluster modes: least seconds between two evaluations.
    xla: compile the graphs with XLA (global JIT).
    mixed_precision: None, 'float16' or 'bfloat16': the compute dtype; variables and
      checkpoints stay float32.
    skip_corrupt_records: skip bad records (damaged files, frames that are not JPEG
      images of the dataset's size, non-finite cameras) and report them at the end,
      instead of stopping at the first.

  Returns:
    The global step of the latest checkpoint in `model_dir` (None if a cluster task
    finds none there).

  Raises:
    ValueError: bad data directory, records (record_check.CorruptRecordError, after
      saving a checkpoint) or checkpoint (checkpoints.CheckpointMismatchError,
      run_safety.CheckpointStateError).
    run_safety.NonFiniteLossError: the loss became NaN / Inf (no update applied).
    run_safety.TrainingInterrupted: SIGINT / SIGTERM, after saving a checkpoint.
  """
  distribution = distribution or distribute_lib.make_distribution(distribute_lib.NONE)
  in_cluster = distribution.mode in distribute_lib.CLUSTER_MODES
  if in_cluster and initial_eval:
    raise ValueError('--initial_eval evaluates before training on one machine; in a '
                     'cluster the evaluator task (TF_CONFIG "type": "evaluator") '
                     'evaluates every new checkpoint instead. Drop --initial_eval.')
  role = distribution.task.task_type if distribution.task else None
  if role == distribute_lib.EVALUATOR:
    check_dataset(config, data_dir, dataset, tf.estimator.ModeKeys.EVAL)
  elif role != distribute_lib.PS:  # A parameter server reads no data.
    check_dataset(config, data_dir, dataset)
  if distribute_lib.is_chief(distribution.task):
    # Before the config is written: a checkpoint that does not fit it is refused.
    run_safety.resume_checkpoint(model_dir, config)
    model_dir_lib.write_config(model_dir, config)
  bad_records = record_check.BadRecords(skip=skip_corrupt_records)
  graph_seed = seed
  if seed is not None:
    # Trainers draw independent noise; MultiWorkerMirrored broadcasts the chief's
    # initial variables and parameter servers hold one copy, so the model starts equal.
    graph_seed += distribute_lib.worker_id(distribution.task)
  estimator = make_estimator(config, model_dir, debug, log_steps, chkpt_steps, memcap,
                             graph_seed, distribution=distribution, xla=xla,
                             mixed_precision=mixed_precision)
  tf.logging.info('Training a GQN (batch size %d per replica) on %s in %s; config: %s',
                  batch_size, dataset, model_dir, config)
  tf.logging.info(distribute_lib.describe(distribution, batch_size))
  tf.logging.info('Learning rate %g -> %g over ANNEAL_LR_TAU = %d global steps; a global '
                  'step is one update, so the schedule does not change with the number '
                  'of replicas.', config.ADAM_LR_ALPHA, config.ADAM_LR_BETA,
                  config.ANNEAL_LR_TAU)
  if distribution.strategy is not None:
    train_input_fn = _distributed_input_fn(
        config, data_dir, dataset, tf.estimator.ModeKeys.TRAIN, batch_size, train_epochs,
        queue_threads, queue_buffer, seed, bad_records)
  else:
    train_input_fn = _input_fn(config, data_dir, dataset, tf.estimator.ModeKeys.TRAIN,
                               batch_size, train_epochs, queue_threads, queue_buffer, seed,
                               bad_records)
  with run_safety.StopOnSignals() as stop, _non_finite_loss_errors(model_dir, config):
    if in_cluster:
      eval_input_fn = _input_fn(config, data_dir, dataset, tf.estimator.ModeKeys.EVAL,
                                batch_size, 1, queue_threads, queue_buffer, seed,
                                bad_records)
      tf.estimator.train_and_evaluate(
          estimator, tf.estimator.TrainSpec(train_input_fn, max_steps=max_steps,
                                            hooks=[stop.hook()]),
          tf.estimator.EvalSpec(eval_input_fn, steps=eval_steps, start_delay_secs=0,
                                throttle_secs=eval_throttle_secs))
    else:
      if initial_eval:
        estimator.evaluate(_input_fn(config, data_dir, dataset, tf.estimator.ModeKeys.EVAL,
                                     batch_size, 1, queue_threads, queue_buffer, seed,
                                     bad_records))
        bad_records.raise_if_stopped()
      if stop.signum is None:
        estimator.train(train_input_fn, max_steps=max_steps, hooks=[stop.hook()])
  if bad_records.count:
    tf.logging.warning(bad_records.summary())
  bad_records.raise_if_stopped()
  checkpoint = estimator.latest_checkpoint()
  step = None if checkpoint is None else tf.train.load_variable(checkpoint, 'global_step')
  if stop.signum is not None:
    raise run_safety.TrainingInterrupted(stop.signum, step, checkpoint)
  return step


@contextlib.contextmanager
def _non_finite_loss_errors(model_dir, config):
  """Turns the error of a NaN / Inf loss (run_safety.loss_guard) into one naming the step."""
  try:
    yield
  except tf.errors.InvalidArgumentError as error:
    non_finite = run_safety.non_finite_loss_error(error, model_dir, config)
    if non_finite is None:
      raise
    raise non_finite from None


def _parser():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  # Data.
  parser.add_argument('--data_dir', default='/tmp/data/gqn-dataset',
                      help='Root of the gqn-datasets directories.')
  parser.add_argument('--dataset', default='shepard_metzler_5_parts',
                      help='Dataset name, e.g. rooms_ring_camera.')
  parser.add_argument('--queue_threads', type=int, default=4,
                      help='Parallel threads reading and decoding records.')
  parser.add_argument('--queue_buffer', type=int, default=64,
                      help='Shuffle buffer size, in examples.')
  parser.add_argument('--skip_corrupt_records', action='store_true',
                      help='Skip bad records (damaged files, frames that are not JPEG '
                      'images of the dataset\'s size, non-finite cameras), reporting '
                      'their number and files at the end, instead of stopping at the '
                      'first one.')
  # Model. Unset flags take the preset's value, or the model directory's gqn_config.json.
  parser.add_argument('--model_dir', default='/tmp/models/gqn',
                      help='Checkpoints, summaries and gqn_config.json.')
  parser.add_argument('--preset', choices=list(gqn_params.PRESETS), default=None,
                      help='Named config (default: "default", the tf-gqn model).')
  parser.add_argument('--seq_length', type=int, default=None, help='DRAW steps L.')
  parser.add_argument('--context_size', type=int, default=None, help='Context views K.')
  parser.add_argument('--img_size', type=int, default=None,
                      help='Frame size the model works at; frames are resized to it.')
  # Optimisation.
  parser.add_argument('--adam_lr_alpha', type=float, default=None,
                      help='Initial learning rate (tf-gqn: 5e-4).')
  parser.add_argument('--adam_lr_beta', type=float, default=None,
                      help='Final learning rate (tf-gqn: 5e-5).')
  parser.add_argument('--anneal_lr_tau', type=int, default=None,
                      help='Steps over which the learning rate anneals.')
  parser.add_argument('--batch_size', type=int, default=36)
  parser.add_argument('--train_epochs', type=int, default=None,
                      help='Passes over the training data (default: no limit).')
  parser.add_argument('--max_steps', type=int, default=None, help='Stop at this global step.')
  parser.add_argument('--seed', type=int, default=None)
  # Runtime and logging.
  parser.add_argument('--chkpt_steps', type=int, default=10000, help='Checkpoint interval.')
  parser.add_argument('--log_steps', type=int, default=100,
                      help='Log and summary interval, in steps.')
  parser.add_argument('--memcap', type=float, default=1.0,
                      help='Fraction of GPU memory to use.')
  parser.add_argument('--debug', action='store_true',
                      help='Write image and scalar summaries for TensorBoard.')
  parser.add_argument('--initial_eval', action='store_true',
                      help='Evaluate on the test split before training.')
  parser.add_argument('--xla', action='store_true',
                      help='Compile the graphs with XLA (global JIT; on CPU it also sets '
                      'TF_XLA_FLAGS=--tf_xla_cpu_global_jit).')
  parser.add_argument('--mixed_precision', choices=('float16', 'bfloat16'), default=None,
                      help='Compute in this dtype (GPUs: float16; CPUs with bfloat16 '
                      'support: bfloat16); variables and checkpoints stay float32.')
  # Distribution. --batch_size is per replica; steps count global updates.
  parser.add_argument('--distribution', choices=distribute_lib.MODES,
                      default=distribute_lib.NONE,
                      help='none: one device. mirrored: synchronous over the GPUs of this '
                      'machine. multi_worker: synchronous over the machines in TF_CONFIG. '
                      'parameter_server: asynchronous, variables on the TF_CONFIG "ps" '
                      'tasks.')
  parser.add_argument('--num_gpus', type=int, default=None,
                      help='mirrored: use the first N GPUs (default: all; the CPU if '
                      'there is none).')
  parser.add_argument('--devices', default=None,
                      help='mirrored: comma-separated devices, e.g. /gpu:0,/gpu:2.')
  parser.add_argument('--eval_steps', type=int, default=10,
                      help='multi_worker / parameter_server: test batches per '
                      'evaluation of the evaluator task.')
  parser.add_argument('--eval_throttle_secs', type=int, default=600,
                      help='multi_worker / parameter_server: least seconds between two '
                      'evaluations.')
  return parser


def main(argv=None):
  args = _parser().parse_args(argv)
  tf.logging.set_verbosity(tf.logging.INFO)
  try:
    config, recorded = model_dir_lib.resolve_config(
        args.model_dir, args.preset, model_dir_lib.config_overrides(args))
    if recorded:
      tf.logging.info('Training on with the config recorded in %s.',
                      model_dir_lib.config_path(args.model_dir))
    distribution = distribute_lib.make_distribution(
        args.distribution, num_gpus=args.num_gpus,
        devices=(None if args.devices is None else
                 [name.strip() for name in args.devices.split(',') if name.strip()]))
    train(config, args.data_dir, args.dataset, args.model_dir, batch_size=args.batch_size,
          train_epochs=args.train_epochs, max_steps=args.max_steps,
          chkpt_steps=args.chkpt_steps, log_steps=args.log_steps, debug=args.debug,
          initial_eval=args.initial_eval, memcap=args.memcap,
          queue_threads=args.queue_threads, queue_buffer=args.queue_buffer, seed=args.seed,
          distribution=distribution, eval_steps=args.eval_steps,
          eval_throttle_secs=args.eval_throttle_secs,
          xla=args.xla, mixed_precision=args.mixed_precision,
          skip_corrupt_records=args.skip_corrupt_records)
  except (ValueError, IOError) as error:
    print('train_gqn_draw.py: error: %s' % error, file=sys.stderr)
    return run_safety.EXIT_BAD_INPUT
  except (run_safety.NonFiniteLossError, run_safety.TrainingInterrupted) as stopped:
    print('train_gqn_draw.py: %s' % stopped, file=sys.stderr)
    return stopped.exit_code
  except KeyboardInterrupt:
    # Ctrl-C before training started: nothing to save.
    print('train_gqn_draw.py: interrupted before training started.', file=sys.stderr)
    return 128 + signal.SIGINT
  return 0


if __name__ == '__main__':
  sys.exit(main())
