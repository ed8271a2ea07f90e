"""Distributed training through tf.distribute: strategies, TF_CONFIG, input sharding, and
real runs of train_gqn_draw.py on CPU (mirrored over two CPU devices; local clusters of
processes on 127.0.0.1 for multi_worker and parameter_server)."""

import glob
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import tensorflow.compat.v1 as tf

import train_gqn_draw
from data_provider import gqn_tfr_provider
from gqn import distribute
from gqn import gqn_params
from tests import fake_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASET = 'rooms_ring_camera'
# Every subprocess and every cluster is bounded by this; a hung collective or a lost
# server fails the test instead of stalling the suite. Generous: a cluster run needs
# ~15 s of CPU, but took 220 s of wall time on a 2-core machine loaded 5x over.
TIMEOUT_SECS = 420
MIRRORED = distribute.MIRRORED
MULTI_WORKER = distribute.MULTI_WORKER
PARAMETER_SERVER = distribute.PARAMETER_SERVER


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('gqn-dataset'))
  for mode in ('train', 'test'):
    fake_data.write_fake_dataset(root, DATASET, mode, num_files=2, scenes_per_file=4)
  return root


@pytest.fixture(scope='module')
def reference_variables(data_dir, tmp_path_factory):
  """(name, shape) of every variable in a checkpoint of a run without distribution."""
  model_dir = str(tmp_path_factory.mktemp('reference'))
  train_gqn_draw.train(gqn_params.tiny_config(), data_dir, DATASET, model_dir,
                       train_gqn_draw.TrainOptions(batch_size=2, max_steps=1, log_steps=1))
  return tf.train.list_variables(model_dir)


def _task(cluster, task_type, task_index=0):
  return json.dumps({'cluster': cluster, 'task': {'type': task_type, 'index': task_index}})


# TF_CONFIG parsing and cluster roles.

def test_tf_config_is_parsed_into_the_task():
  cluster = {'chief': ['h0:1'], 'worker': ['h1:1', 'h2:1'], 'ps': ['h3:1']}
  task = distribute.read_tf_config(
      PARAMETER_SERVER, {'TF_CONFIG': _task(cluster, 'worker', 1)})
  assert task == distribute.ClusterTask(cluster, 'worker', 1)
  assert not distribute.is_chief(task)
  assert distribute.num_workers(task) == 3
  assert distribute.worker_id(task) == 2  # The chief counts first.
  chief = distribute.read_tf_config(PARAMETER_SERVER, {'TF_CONFIG': _task(cluster, 'chief')})
  assert distribute.is_chief(chief) and distribute.worker_id(chief) == 0
  # Without a chief, worker 0 is the chief; the evaluator may be outside the cluster.
  workers = {'worker': ['h1:1', 'h2:1']}
  assert distribute.is_chief(distribute.read_tf_config(
      MULTI_WORKER, {'TF_CONFIG': _task(workers, 'worker', 0)}))
  evaluator = distribute.read_tf_config(
      MULTI_WORKER, {'TF_CONFIG': _task(workers, 'evaluator')})
  assert evaluator.task_type == 'evaluator' and not distribute.is_chief(evaluator)


@pytest.mark.parametrize('mode, tf_config, problem', [
    (MULTI_WORKER, None, 'it is not set'),
    (MULTI_WORKER, '{"cluster": ', 'not valid JSON'),
    (MULTI_WORKER, '{"task": {"type": "worker", "index": 0}}', 'no "cluster"'),
    (MULTI_WORKER, _task({'chief': ['h0:1'], 'ps': ['h1:1']}, 'chief'), "'ps' job"),
    (PARAMETER_SERVER, _task({'chief': ['h0:1'], 'worker': ['h1:1']}, 'chief'),
     'no "ps" job'),
    (MULTI_WORKER, _task({'chief': ['h0:1'], 'worker': ['h1:1']}, 'worker', 1),
     'task worker 1 is not in the cluster'),
    (MULTI_WORKER, _task({'chief': ['h0:1'], 'worker': 'h1:1'}, 'chief'),
     '"host:port" strings'),
    (MULTI_WORKER, _task({'chief': ['h0:1', 'h1:1']}, 'chief'), '2 chiefs'),
    (MULTI_WORKER, _task({'chief': ['h0:1']}, 'master'), '"type" among'),
])
def test_bad_tf_config_is_one_clear_error(mode, tf_config, problem):
  environ = {} if tf_config is None else {'TF_CONFIG': tf_config}
  with pytest.raises(ValueError) as error:
    distribute.read_tf_config(mode, environ)
  message = str(error.value)
  assert 'TF_CONFIG' in message and problem in message and '"cluster"' in message


def test_cli_without_tf_config_names_it(data_dir, tmp_path, monkeypatch, capsys):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  code = train_gqn_draw.main(['--data_dir', data_dir, '--dataset', DATASET, '--preset',
                              'tiny', '--model_dir', str(tmp_path / 'model'),
                              '--distribution', 'multi_worker', '--max_steps', '1'])
  assert code == 2
  error = capsys.readouterr().err
  assert 'TF_CONFIG' in error and 'multi_worker' in error
  assert not glob.glob(str(tmp_path / 'model' / 'model.ckpt*'))


def test_single_machine_modes_refuse_a_cluster_in_tf_config(monkeypatch):
  # Without this check the Estimator would wait for the cluster's master forever.
  monkeypatch.setenv('TF_CONFIG', _task({'chief': ['h0:1'], 'worker': ['h1:1']}, 'chief'))
  for mode in ('none', MIRRORED):
    with pytest.raises(ValueError) as error:
      distribute.make_distribution(mode)
    message = str(error.value)
    assert 'TF_CONFIG' in message and '2 tasks' in message and mode in message
  # A one-task cluster, as some schedulers set, is local training.
  monkeypatch.setenv('TF_CONFIG', _task({'chief': ['h0:1']}, 'chief'))
  assert distribute.make_distribution('none').strategy is None


def test_initial_eval_in_a_cluster_is_refused(data_dir, tmp_path):
  task = distribute.ClusterTask({'chief': ['h0:1']}, 'chief', 0)
  distribution = distribute.Distribution(MULTI_WORKER, None, [], task)
  with pytest.raises(ValueError) as error:
    train_gqn_draw.train(gqn_params.tiny_config(), data_dir, DATASET, str(tmp_path),
                         train_gqn_draw.TrainOptions(initial_eval=True,
                                                     distribution=distribution))
  assert 'evaluator' in str(error.value)


# Devices and the batch-size bookkeeping.

def test_mirrored_devices_are_checked():
  num_gpus = len(tf.config.experimental.list_physical_devices('GPU'))
  expected = ['/device:GPU:%d' % i for i in range(num_gpus)] or ['/device:CPU:0']
  assert distribute.mirrored_devices() == expected
  assert distribute.mirrored_devices(devices=['/cpu:0', 'cpu:1']) == [
      '/device:CPU:0', '/device:CPU:1']
  for devices, problem in [(['/gpu:%d' % num_gpus], 'is not on this machine'),
                           (['gpu0'], 'not a local device name'),
                           (['/job:worker/gpu:0'], 'not a local device name'),
                           (['/cpu:0', '/device:CPU:0'], 'twice')]:
    with pytest.raises(ValueError) as error:
      distribute.mirrored_devices(devices=devices)
    assert problem in str(error.value) and devices[-1] in str(error.value)
  with pytest.raises(ValueError) as error:
    distribute.mirrored_devices(num_gpus=num_gpus + 1)
  assert '--num_gpus %d' % (num_gpus + 1) in str(error.value)
  with pytest.raises(ValueError) as error:
    distribute.make_distribution(PARAMETER_SERVER, num_gpus=1)
  assert 'CUDA_VISIBLE_DEVICES' in str(error.value)


def test_cpu_replicas_get_cpu_devices_in_the_session():
  distribution = distribute.Distribution(
      MIRRORED, None, ['/device:CPU:0', '/device:CPU:2'], None)
  config = distribute.configure_session(distribution, tf.ConfigProto())
  assert config.device_count['CPU'] == 3
  gpus = distribute.Distribution(MIRRORED, None, ['/device:GPU:0'], None)
  assert 'CPU' not in distribute.configure_session(gpus, tf.ConfigProto()).device_count


def test_global_batch_and_the_log_line_state_what_a_step_is():
  mirrored = distribute.Distribution(
      MIRRORED, None, ['/device:GPU:0', '/device:GPU:1', '/device:GPU:2'], None)
  assert distribute.global_batch_size(mirrored, 12) == 36
  assert '3 replicas x batch 12 per replica = global batch 36' in distribute.describe(
      mirrored, 12)
  cluster = {'chief': ['h0:1'], 'worker': ['h1:1', 'h2:1'], 'ps': ['h3:1']}
  local = distribute.local_replicas(distribute.Distribution(MULTI_WORKER, None, [], None))
  multi = distribute.Distribution(
      MULTI_WORKER, None, [], distribute.ClusterTask(
          {'chief': ['h0:1'], 'worker': ['h1:1', 'h2:1']}, 'worker', 1))
  assert distribute.global_batch_size(multi, 4) == 4 * 3 * local
  assert 'global batch %d' % (12 * local) in distribute.describe(multi, 4)
  ps = distribute.Distribution(
      PARAMETER_SERVER, None, [], distribute.ClusterTask(cluster, 'worker', 0))
  assert distribute.global_batch_size(ps, 4) == 4 * local
  assert 'asynchronously' in distribute.describe(ps, 4)
  assert 'batch of 4' in distribute.describe(distribute.Distribution('none', None, [], None), 4)


# Input sharding: each worker its own files and its own seed.

def _scene_ids(input_fn, input_context, num_batches):
  with tf.Graph().as_default():
    data = input_fn(input_context=input_context)
    batch = tf.data.make_one_shot_iterator(data).get_next()
    with tf.Session() as session:
      labels = [session.run(batch)[1] for _ in range(num_batches)]
  return [[fake_data.decode_fake_frame(frame)[0] for frame in frames] for frames in labels]


def test_workers_read_disjoint_files_with_their_own_seeds(data_dir):
  config = gqn_params.tiny_config()
  input_fn = gqn_tfr_provider.make_input_fn(
      DATASET, config.CONTEXT_SIZE, data_dir, tf.estimator.ModeKeys.TRAIN, batch_size=2,
      num_epochs=None, custom_frame_size=config.IMG_HEIGHT, num_threads=2, buffer_size=8,
      seed=3, distributed=True)
  scenes = []
  for pipeline in range(2):
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline)
    batches = _scene_ids(input_fn, context, num_batches=4)  # Two epochs of its file.
    scenes.append(sorted(set(s for batch in batches for s in batch)))
  # File 1 holds scenes 0-3, file 2 scenes 4-7; each pipeline sees all of its file.
  assert scenes == [[0, 1, 2, 3], [4, 5, 6, 7]]
  seeds = [distribute.pipeline_seed(3, tf.distribute.InputContext(2, i)) for i in range(2)]
  assert seeds[0] != seeds[1]
  assert distribute.pipeline_seed(None, tf.distribute.InputContext(2, 1)) is None
  # Without a strategy the Estimator passes no context: the whole split.
  assert sorted(set(s for batch in _scene_ids(input_fn, None, 8) for s in batch)) == list(
      range(8))


# Real training runs, in subprocesses.

def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  try:
    for sock in sockets:
      sock.bind(('127.0.0.1', 0))
    return [sock.getsockname()[1] for sock in sockets]
  finally:
    for sock in sockets:
      sock.close()


def _command(data_dir, model_dir, distribution, *flags):
  return [sys.executable, os.path.join(ROOT, 'train_gqn_draw.py'), '--data_dir', data_dir,
          '--dataset', DATASET, '--model_dir', model_dir, '--preset', 'tiny',
          '--batch_size', '2', '--log_steps', '1', '--queue_threads', '1',
          '--distribution', distribution] + list(flags)


def _environ(tf_config=None):
  environ = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL='2',
                 CUDA_VISIBLE_DEVICES='')  # CPU only, so the replica counts are known.
  environ.pop('TF_CONFIG', None)
  if tf_config is not None:
    environ['TF_CONFIG'] = tf_config
  return environ


def _log_tail(path, lines=25):
  with open(path) as f:
    return ''.join(f.readlines()[-lines:])


def _run_cluster(tmp_path, cluster, tasks, command):
  """Starts one process per (type, index) of `tasks`, TF_CONFIG set per process.

  Waits for every task but the parameter servers (which serve until killed) to exit,
  within TIMEOUT_SECS in all; kills whatever still runs on the way out, pass or fail.

  Returns:
    Dict task type -> (exit code, log path) for the tasks that exit.
  """
  processes = {}
  try:
    for task_type, task_index in tasks:
      log = str(tmp_path / ('%s_%d.log' % (task_type, task_index)))
      with open(log, 'w') as out:
        processes[task_type] = (subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env=_environ(_task(cluster, task_type, task_index))), log)
    deadline = time.time() + TIMEOUT_SECS
    results = {}
    for task_type, (process, log) in processes.items():
      if task_type == 'ps':
        continue
      try:
        code = process.wait(timeout=max(1, deadline - time.time()))
      except subprocess.TimeoutExpired:
        raise AssertionError('%s did not finish in %d s; its log ends:\n%s'
                             % (task_type, TIMEOUT_SECS, _log_tail(log)))
      assert code == 0, '%s exited with %d; its log ends:\n%s' % (
          task_type, code, _log_tail(log))
      results[task_type] = (code, log)
    if 'ps' in processes:
      assert processes['ps'][0].poll() is None, 'the parameter server died:\n%s' % (
          _log_tail(processes['ps'][1]))
    return results
  finally:
    for process, _ in processes.values():
      if process.poll() is None:
        process.kill()
      process.wait()


def _checkpoint_step(model_dir):
  return tf.train.load_variable(tf.train.latest_checkpoint(model_dir), 'global_step')


def _scalars(event_dir, tag):
  values = {}
  for path in glob.glob(os.path.join(event_dir, 'events.out.tfevents.*')):
    for event in tf.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == tag:
          values[event.step] = value.simple_value
  return values


@pytest.mark.slow
def test_mirrored_over_two_cpu_devices(data_dir, reference_variables, tmp_path):
  model_dir = str(tmp_path / 'model')
  log = str(tmp_path / 'mirrored.log')
  with open(log, 'w') as out:
    code = subprocess.call(
        _command(data_dir, model_dir, MIRRORED, '--devices', '/cpu:0,/cpu:1',
                 '--max_steps', '3'),
        cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=_environ(),
        timeout=TIMEOUT_SECS)
  assert code == 0, _log_tail(log)
  assert _checkpoint_step(model_dir) == 3
  # Snapshot-compatible: the same variables, names and shapes, as without distribution.
  assert tf.train.list_variables(model_dir) == reference_variables
  with open(log) as f:
    text = f.read()
  assert '2 replicas x batch 2 per replica = global batch 4' in text
  # The second replica's graph really is on the second device.
  with open(os.path.join(model_dir, 'graph.pbtxt')) as f:
    assert 'device:CPU:1' in f.read()


@pytest.mark.slow
def test_multi_worker_cluster_with_an_evaluator(data_dir, reference_variables, tmp_path):
  model_dir = str(tmp_path / 'model')  # Shared by all tasks, as on a cluster file system.
  chief, worker = ['127.0.0.1:%d' % port for port in _free_ports(2)]
  results = _run_cluster(
      tmp_path, {'chief': [chief], 'worker': [worker]},
      [('chief', 0), ('worker', 0), ('evaluator', 0)],
      _command(data_dir, model_dir, MULTI_WORKER, '--max_steps', '4', '--chkpt_steps', '2',
               '--eval_steps', '2', '--eval_throttle_secs', '1'))
  assert _checkpoint_step(model_dir) == 4
  assert tf.train.list_variables(model_dir) == reference_variables
  with open(results['chief'][1]) as f:
    assert '2 workers x 1 local replicas x batch 2 per replica = global batch 4' in f.read()
  # Only the chief writes the model directory's summaries and checkpoints: one training
  # event file. The worker must run the same save ops (they hold collectives) and TF
  # sends its copies to a throwaway tmp_worker_0 subdirectory.
  assert len(glob.glob(os.path.join(model_dir, 'events.out.tfevents.*'))) == 1
  assert sorted(os.path.basename(d) for d in glob.glob(os.path.join(model_dir, 'tmp_*'))) \
      == ['tmp_worker_0']
  # The evaluator evaluated the final checkpoint on the test split.
  assert 4 in _scalars(os.path.join(model_dir, 'eval'), 'elbo')


@pytest.mark.slow
def test_parameter_server_cluster(data_dir, reference_variables, tmp_path):
  model_dir = str(tmp_path / 'model')
  chief, worker, ps = ['127.0.0.1:%d' % port for port in _free_ports(3)]
  # A worker that finds the variables uninitialised polls again only after 30 s (TF's
  # SessionManager), so this run takes about 40 s.
  _run_cluster(
      tmp_path, {'chief': [chief], 'worker': [worker], 'ps': [ps]},
      [('ps', 0), ('chief', 0), ('worker', 0)],
      _command(data_dir, model_dir, PARAMETER_SERVER, '--max_steps', '4'))
  # Asynchronous: the worker may add an update after the chief's last one.
  assert _checkpoint_step(model_dir) >= 4
  assert tf.train.list_variables(model_dir) == reference_variables
  assert len(glob.glob(os.path.join(model_dir, 'events.out.tfevents.*'))) == 1
  assert not glob.glob(os.path.join(model_dir, 'tmp_*'))
