"""Data-parallel training of the GQN through tf.distribute and the Estimator.

Modes (`--distribution` of train_gqn_draw.py):

  none              One device, no strategy.
  mirrored          Synchronous, one machine: a replica of the model on each local GPU
                    (tf.distribute.MirroredStrategy); gradients are all-reduced and every
                    replica applies the same update.
  multi_worker      Synchronous, several machines, every local GPU of each
                    (tf.distribute.experimental.MultiWorkerMirroredStrategy, collective
                    all-reduce between the workers).
  parameter_server  Asynchronous, several machines: the variables live on parameter
                    servers and every worker updates them on its own batches
                    (tf.distribute.experimental.ParameterServerStrategy).

The cluster modes read the standard TF_CONFIG environment variable, one per process:

  {"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222"], "ps": ["host2:2222"]},
   "task": {"type": "worker", "index": 0}}

Every process runs the same command line with its own TF_CONFIG and the same model
directory, which must be shared (a bucket or a network file system): the chief alone
writes the checkpoints, summaries and gqn_config.json there, the evaluator (task type
'evaluator', outside the cluster) evaluates each new checkpoint, and after a restart every
worker restores the latest one. MultiWorkerMirrored workers must run the chief's save ops
too (they hold collectives); TensorFlow sends their copies to `model_dir/tmp_worker_<i>`,
which may be deleted. The chief, the workers and the evaluator return once `max_steps` is
reached; parameter servers serve until they are killed.

Batch size and steps. `batch_size` is the batch of one replica (the Estimator's
convention: the input_fn is called once per worker and its batches go to the replicas in
turn). In the synchronous modes one step is one update on the global batch
`batch_size * num_replicas`, with the loss averaged over it, and the global step counts
these updates. In parameter_server mode one step is one worker's update on
`batch_size * local replicas` examples, and the global step counts the updates of all
workers together. `max_steps`, the checkpoint and log intervals and the learning-rate and
pixel-sigma schedules (pure functions of the global step) all count global steps, i.e.
updates, not examples: with N replicas the same schedule sees N times more data per step.
"""

import collections
import json
import os

import tensorflow.compat.v1 as tf

from data_provider import logs

# Each worker's input pipeline seed; the provider seeds its pipelines with it.
from data_provider.gqn_tfr_provider import pipeline_seed  # pylint: disable=unused-import

NONE = 'none'
MIRRORED = 'mirrored'
MULTI_WORKER = 'multi_worker'
PARAMETER_SERVER = 'parameter_server'
MODES = (NONE, MIRRORED, MULTI_WORKER, PARAMETER_SERVER)
CLUSTER_MODES = (MULTI_WORKER, PARAMETER_SERVER)

TF_CONFIG = 'TF_CONFIG'
CHIEF, WORKER, PS, EVALUATOR = 'chief', 'worker', 'ps', 'evaluator'

# This process's place in a cluster, from TF_CONFIG. `cluster` maps job name -> list of
# 'host:port'; the evaluator may be missing from it (it serves no one).
ClusterTask = collections.namedtuple('ClusterTask', ['cluster', 'task_type', 'task_index'])

# How this process trains. `strategy` is None in mode 'none'; `local_devices` are the
# devices of this process's replicas ([] when TensorFlow places them: the cluster modes
# use every local GPU, else the CPU); `task` is the ClusterTask of the cluster modes.
Distribution = collections.namedtuple(
    'Distribution', ['mode', 'strategy', 'local_devices', 'task'])

_TF_CONFIG_EXAMPLE = (
    '{"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222"]%s}, '
    '"task": {"type": "worker", "index": 0}}')


def _tf_config_error(mode, problem):
  example = _TF_CONFIG_EXAMPLE % (', "ps": ["host2:2222"]' if mode == PARAMETER_SERVER
                                  else '')
  return ValueError(
      '--distribution %s reads the cluster from the %s environment variable, and %s. '
      'Set it in every process to JSON like %s (one "task" per process; the evaluator '
      'uses "type": "evaluator" and need not be in the cluster).'
      % (mode, TF_CONFIG, problem, example))


def read_tf_config(mode, environ=None):
  """Parses and checks TF_CONFIG for a cluster mode.

  Args:
    mode: MULTI_WORKER or PARAMETER_SERVER (the jobs each allows differ).
    environ: the environment to read (default: os.environ).

  Returns:
    ClusterTask(cluster, task_type, task_index).

  Raises:
    ValueError: TF_CONFIG is missing, not JSON, or does not describe a cluster this
      mode can run (no chief or worker, 'ps' jobs with multi_worker or none with
      parameter_server, a task not in the cluster, ...); the message names TF_CONFIG,
      the problem and shows a valid example.
  """
  environ = os.environ if environ is None else environ
  raw = environ.get(TF_CONFIG)
  if not raw:
    raise _tf_config_error(mode, 'it is not set')
  try:
    tf_config = json.loads(raw)
  except ValueError as error:
    raise _tf_config_error(mode, 'it is not valid JSON (%s): %r' % (error, raw))
  if not isinstance(tf_config, dict) or not isinstance(tf_config.get('cluster'), dict):
    raise _tf_config_error(mode, 'it has no "cluster" object: %r' % (raw,))
  cluster = tf_config['cluster']
  allowed = (CHIEF, WORKER, PS, EVALUATOR) if mode == PARAMETER_SERVER else (
      CHIEF, WORKER, EVALUATOR)
  for job, addresses in cluster.items():
    if job not in allowed:
      raise _tf_config_error(mode, 'its cluster has a %r job; %s clusters have only %s'
                             % (job, mode, ', '.join(repr(j) for j in allowed)))
    if (not isinstance(addresses, list) or not addresses
        or not all(isinstance(a, str) and ':' in a for a in addresses)):
      raise _tf_config_error(mode, 'the %r job is not a list of "host:port" strings: %r'
                             % (job, addresses))
  if len(cluster.get(CHIEF, [])) > 1:
    raise _tf_config_error(mode, 'it lists %d chiefs; a cluster has at most one'
                           % len(cluster[CHIEF]))
  if not cluster.get(CHIEF) and not cluster.get(WORKER):
    raise _tf_config_error(mode, 'its cluster has neither a "chief" nor a "worker"')
  if mode == PARAMETER_SERVER and not cluster.get(PS):
    raise _tf_config_error(mode, 'its cluster has no "ps" job')
  task = tf_config.get('task')
  if not isinstance(task, dict) or task.get('type') not in allowed:
    raise _tf_config_error(mode, 'its "task" must have a "type" among %s, got %r'
                           % (', '.join(repr(j) for j in allowed), task))
  task_type = task['type']
  try:
    task_index = int(task.get('index', 0))
  except (TypeError, ValueError):
    raise _tf_config_error(mode, 'its task index %r is not an integer' % (task['index'],))
  if task_type != EVALUATOR and not 0 <= task_index < len(cluster.get(task_type, [])):
    raise _tf_config_error(mode, 'task %s %d is not in the cluster (%d %r tasks listed)'
                           % (task_type, task_index, len(cluster.get(task_type, [])),
                              task_type))
  return ClusterTask(cluster=cluster, task_type=task_type, task_index=task_index)


def is_chief(task):
  """Whether this process is the chief: it alone writes checkpoints and summaries.

  The 'chief' task, or worker 0 when the cluster has no chief; True without a cluster.
  """
  if task is None:
    return True
  if task.task_type == CHIEF:
    return True
  return task.task_type == WORKER and task.task_index == 0 and CHIEF not in task.cluster


def num_workers(task):
  """Training processes in the cluster: the chief and the workers (1 without one)."""
  if task is None:
    return 1
  return len(task.cluster.get(CHIEF, [])) + len(task.cluster.get(WORKER, []))


def worker_id(task):
  """This trainer's position among the chief and the workers, 0-based (chief first)."""
  if task is None or task.task_type not in (CHIEF, WORKER):
    return 0
  return task.task_index + (len(task.cluster.get(CHIEF, []))
                            if task.task_type == WORKER else 0)


def _gpus():
  return tf.config.experimental.list_physical_devices('GPU')


def _parse_device(name, num_gpus):
  """'/gpu:1' -> '/device:GPU:1'; checks it is a local CPU, or a GPU this machine has."""
  try:
    spec = tf.DeviceSpec.from_string(name)
  except ValueError:
    spec = None
  if (spec is None or spec.job is not None or spec.device_type not in ('CPU', 'GPU')
      or spec.device_index is None):
    raise ValueError('--devices: %r is not a local device name; use names like /gpu:0, '
                     '/gpu:1 (or /cpu:0, /cpu:1).' % (name,))
  if spec.device_type == 'GPU' and spec.device_index >= num_gpus:
    if num_gpus:
      has = '%d GPUs, /gpu:0 ... /gpu:%d' % (num_gpus, num_gpus - 1)
    else:
      has = 'no GPU; use /cpu:0 (or several, /cpu:0,/cpu:1)'
    raise ValueError('--devices: %s is not on this machine, which has %s.' % (name, has))
  return spec.to_string()


def mirrored_devices(num_gpus=None, devices=None):
  """The local devices a MirroredStrategy replicates the model on.

  Args:
    num_gpus: use the first `num_gpus` GPUs; None uses all of them.
    devices: explicit device names, e.g. ['/gpu:0', '/gpu:2']; overrides `num_gpus`.
      CPU names ['/cpu:0', '/cpu:1', ...] give that many CPU devices (they share the
      machine's cores: for testing the replicated graph without a GPU).

  Returns:
    List of canonical device names ('/device:GPU:0', ...), one replica each. Without a
    GPU (and no `devices`) this is ['/device:CPU:0'], one replica; the fallback is
    logged.

  Raises:
    ValueError: both arguments given, `num_gpus` < 1 or more than the machine has, or a
      device name that is not local or not on this machine.
  """
  if devices is not None and num_gpus is not None:
    raise ValueError('Give --num_gpus or --devices, not both (got %d and %s).'
                     % (num_gpus, ','.join(devices)))
  gpus = len(_gpus())
  if devices is not None:
    if not devices:
      raise ValueError('--devices is empty; list device names like /gpu:0,/gpu:1.')
    parsed = [_parse_device(name, gpus) for name in devices]
    if len(set(parsed)) != len(parsed):
      raise ValueError('--devices lists a device twice: %s.' % ','.join(devices))
    return parsed
  if num_gpus is not None:
    if num_gpus < 1:
      raise ValueError('--num_gpus must be at least 1, got %d.' % num_gpus)
    if num_gpus > gpus:
      raise ValueError('--num_gpus %d asks for more GPUs than this machine has (%d).'
                       % (num_gpus, gpus))
  if not gpus:
    logs.logger.warning('mirrored: no GPU found; training on the CPU, one replica.')
    return ['/device:CPU:0']
  return ['/device:GPU:%d' % i for i in range(num_gpus or gpus)]


def configure_session(distribution, session_config):
  """Adds the CPU devices that mirrored CPU replicas need to a tf.ConfigProto.

  The Estimator's sessions see only the devices their ConfigProto asks for; a process
  has one CPU device unless `device_count` asks for more.
  """
  cpus = [tf.DeviceSpec.from_string(d).device_index for d in distribution.local_devices
          if tf.DeviceSpec.from_string(d).device_type == 'CPU']
  if cpus:
    session_config.device_count['CPU'] = max(cpus) + 1
  return session_config


def _check_no_cluster(mode):
  """Refuses a TF_CONFIG cluster that a single-machine mode would trip over.

  The Estimator reads TF_CONFIG whatever the mode: without a strategy it would look for
  the cluster's master, and with MirroredStrategy it refuses to train. A one-task cluster
  (what some job schedulers set) means local training and is fine without a strategy.
  """
  try:
    cluster = json.loads(os.environ.get(TF_CONFIG) or '{}').get('cluster') or {}
    tasks = sum(len(addresses) for addresses in cluster.values())
  except (ValueError, AttributeError, TypeError):
    return  # Not a cluster the Estimator could use either; it reports it itself.
  if tasks > 1 or (tasks and mode == MIRRORED):
    raise ValueError(
        '%s describes a cluster of %d tasks, but --distribution %s trains on this '
        'machine alone. Use --distribution multi_worker or parameter_server to train on '
        'the cluster, or unset %s.' % (TF_CONFIG, tasks, mode, TF_CONFIG))


def make_distribution(mode, num_gpus=None, devices=None):
  """Builds the strategy for `mode` and checks this process's cluster role.

  Args:
    mode: one of MODES.
    num_gpus: mirrored only: the first `num_gpus` GPUs (default: all).
    devices: mirrored only: explicit device names (see `mirrored_devices`).

  Returns:
    A Distribution.

  Raises:
    ValueError: unknown mode, device flags with another mode than mirrored, a missing
      or invalid TF_CONFIG in a cluster mode, or a TF_CONFIG cluster in a
      single-machine mode.
  """
  if mode not in MODES:
    raise ValueError('Unknown --distribution %r; choose one of: %s.'
                     % (mode, ', '.join(MODES)))
  if mode != MIRRORED and (num_gpus is not None or devices is not None):
    raise ValueError(
        '--num_gpus and --devices apply to --distribution mirrored; with %s every '
        'process uses all GPUs it sees (restrict them with CUDA_VISIBLE_DEVICES).' % mode)
  if mode == NONE:
    _check_no_cluster(mode)
    return Distribution(mode, None, [], None)
  if mode == MIRRORED:
    _check_no_cluster(mode)
    local = mirrored_devices(num_gpus, devices)
    return Distribution(mode, tf.distribute.MirroredStrategy(devices=local), local, None)
  # The strategies read TF_CONFIG from os.environ too; so does this check.
  task = read_tf_config(mode)
  if task.task_type == EVALUATOR:
    # The evaluator evaluates without a strategy; the Estimator only needs a train
    # strategy to run train_and_evaluate as a cluster task, and the cluster strategies
    # cannot be built on a task outside the training cluster.
    return Distribution(mode, tf.distribute.MirroredStrategy(devices=['/cpu:0']), [], task)
  # Both strategies find the cluster in TF_CONFIG themselves (TFConfigClusterResolver).
  if mode == MULTI_WORKER:
    strategy = tf.distribute.experimental.MultiWorkerMirroredStrategy()
  else:
    strategy = tf.distribute.experimental.ParameterServerStrategy()
  return Distribution(mode, strategy, [], task)


def local_replicas(distribution):
  """Replicas this process trains: mirrored devices, else its GPUs (or its one CPU)."""
  if distribution.local_devices:
    return len(distribution.local_devices)
  return max(1, len(_gpus())) if distribution.mode in CLUSTER_MODES else 1


def global_batch_size(distribution, batch_size):
  """Examples in one global step.

  Args:
    distribution: a Distribution.
    batch_size: the per-replica batch (what the input_fn yields).

  Returns:
    batch_size * all replicas in the synchronous modes (assuming every worker has as
    many replicas as this one); in parameter_server mode the examples of one worker's
    update, batch_size * its local replicas.
  """
  replicas = local_replicas(distribution)
  if distribution.mode == MULTI_WORKER:
    replicas *= num_workers(distribution.task)
  return batch_size * replicas


def describe(distribution, batch_size):
  """One log line stating the replicas, the global batch and what a step means.

  Args:
    distribution: a Distribution.
    batch_size: the per-replica batch.

  Returns:
    A sentence for the log, e.g. 'mirrored over /device:GPU:0, /device:GPU:1: 2 replicas
    x batch 36 per replica = global batch 72; one step is one synchronous update on it.'
  """
  replicas = local_replicas(distribution)
  if distribution.mode == NONE:
    return 'No distribution: one step is one update on a batch of %d.' % batch_size
  if distribution.mode == MIRRORED:
    return ('mirrored over %s: %d replicas x batch %d per replica = global batch %d; one '
            'step is one synchronous update on it.'
            % (', '.join(distribution.local_devices), replicas, batch_size,
               global_batch_size(distribution, batch_size)))
  task = distribution.task
  role = '%s %d' % (task.task_type, task.task_index)
  if task.task_type in (EVALUATOR, PS):
    role += ' (it does not train)'
  if distribution.mode == MULTI_WORKER:
    return ('multi_worker, this is %s: %d workers x %d local replicas x batch %d per '
            'replica = global batch %d; one step is one synchronous update on it.'
            % (role, num_workers(task), replicas, batch_size,
               global_batch_size(distribution, batch_size)))
  return ('parameter_server, this is %s: %d workers update the variables on %d ps '
          'asynchronously; each worker step is one update on %d local replicas x batch %d '
          '= %d examples, and the global step counts the updates of all workers.'
          % (role, num_workers(task), len(task.cluster[PS]), replicas, batch_size,
             global_batch_size(distribution, batch_size)))
