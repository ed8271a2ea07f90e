"""Faults and bad input: killed runs resume, bad data and checkpoints get one clear line.

Processes are started and killed for real (kill -9, SIGTERM), files truncated for real.
"""

import contextlib
import glob
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
from PIL import Image
import pytest
import tensorflow.compat.v1 as tf

import demo
import eval_gqn
import results
import train_gqn_draw
from data_provider import gqn_tfr_provider
from data_provider import record_check
from data_provider import records
from gqn import checkpoint_integrity
from gqn import interrupts
from gqn import loss_guard
from tests import fake_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASET = 'rooms_ring_camera'
INFO = gqn_tfr_provider.dataset_info(DATASET)


# Records ---------------------------------------------------------------------------------

def _scene(seed, views=INFO.sequence_size, frame_size=INFO.frame_size):
  """([views] JPEG bytes, [views, 5] float32 cameras) of a valid scene."""
  rng = np.random.RandomState(seed)
  frames = [fake_data.encode_fake_jpeg(fake_data.fake_frame(seed, view, frame_size, rng))
            for view in range(views)]
  cameras = rng.uniform(-1.0, 1.0, size=[views, 5]).astype(np.float32)
  return frames, cameras


def _record(frames, cameras, drop=None):
  example = records.scene_example(frames, cameras)
  if drop is not None:
    del example.features.feature[drop]
  return example.SerializeToString()


def _png_frame():
  frames, cameras = _scene(1)
  buf = io.BytesIO()
  Image.fromarray(fake_data.fake_frame(1, 3, 64, np.random.RandomState(0))).save(
      buf, format='PNG')
  frames[3] = buf.getvalue()
  return _record(frames, cameras)


def _damaged_jpeg():
  frames, cameras = _scene(2)
  frames[4] = frames[4][:len(frames[4]) // 3]
  return _record(frames, cameras)


def _nan_camera():
  frames, cameras = _scene(3)
  cameras[2, 4] = np.nan
  return _record(frames, cameras)


def _few_views():
  return _record(*_scene(4, views=INFO.sequence_size - 1))


def _wrong_size():
  return _record(*_scene(5, frame_size=2 * INFO.frame_size))


def _no_cameras():
  return _record(*_scene(6), drop='cameras')


# Each bad record and the phrase its diagnosis must contain.
BAD_RECORDS = [
    ('png_frame', _png_frame, 'frame 3 is not a JPEG image'),
    ('damaged_jpeg', _damaged_jpeg, 'frame 4 is a damaged JPEG image'),
    ('nan_camera', _nan_camera, 'not finite (nan)'),
    ('few_views', _few_views, '9 frames and 45 camera values'),
    ('wrong_size', _wrong_size, 'frame 0 is 128x128 pixels'),
    ('no_cameras', _no_cameras, 'no "cameras" feature'),
    ('not_an_example', lambda: b'\xff' * 64, 'not a tf.train.Example'),
]


def _write_records(path, serialized):
  tf.io.gfile.makedirs(os.path.dirname(path))
  records.write_records(path, serialized)


def _read_all(root, bad_records, mode='test', context_size=INFO.sequence_size - 1,
              num_epochs=1):
  """Number of examples the pipeline yields; every one is checked to be valid."""
  count = 0
  with tf.Graph().as_default():
    features, labels = gqn_tfr_provider.gqn_input_fn(
        DATASET, context_size, root, mode, batch_size=1, num_epochs=num_epochs,
        bad_records=bad_records)
    with tf.Session() as session:
      while True:
        try:
          _, target = session.run((features, labels))
        except tf.errors.OutOfRangeError:
          return count
        assert target.shape == (1, 64, 64, 3) and np.all(np.isfinite(target))
        count += 1


def test_every_kind_of_bad_record_is_named_and_skipped_or_stopped_at(tmp_path):
  root = str(tmp_path)
  paths = gqn_tfr_provider.dataset_files(DATASET, root, 'test')
  good = [_record(*_scene(10 + i)) for i in range(2 * len(BAD_RECORDS) + 2)]
  # The first file is valid (it is what the dataset check reads); then per kind a file
  # [good, bad, good].
  _write_records(paths[0], good[:2])
  for i, (_, make, _) in enumerate(BAD_RECORDS):
    _write_records(paths[i + 1], [good[2 + 2 * i], make(), good[3 + 2 * i]])

  # Skipping: every good record comes through (all views are decoded: K + 1 = 10), each
  # bad one is counted once, under its file.
  skipped = record_check.BadRecords(skip=True)
  assert _read_all(root, skipped) == len(good)
  assert skipped.count == len(BAD_RECORDS)
  assert list(skipped.files()) == paths[1:len(BAD_RECORDS) + 1]
  assert skipped.summary().startswith('Skipped %d bad records in %d files: %s (1)'
                                      % (len(BAD_RECORDS), len(BAD_RECORDS), paths[1]))

  # The diagnosis of each, read again from its file.
  for i, (name, make, phrase) in enumerate(BAD_RECORDS):
    problem = record_check.diagnose_record(make(), INFO)
    assert problem is not None and phrase in problem, (name, problem)
    assert record_check.diagnose_record(good[i], INFO) is None

  # Stopping (the default): the data ends before the first bad record; the error names
  # its file, position and fault.
  stopped = record_check.BadRecords()
  assert _read_all(root, stopped) < len(good)
  with pytest.raises(record_check.CorruptRecordError) as error:
    stopped.raise_if_stopped()
  message = str(error.value)
  match = re.match(r'Record 1 of (\S+): ', message)
  assert match and match.group(1) in paths[1:len(BAD_RECORDS) + 1], message
  assert BAD_RECORDS[paths.index(match.group(1)) - 1][2] in message
  assert '--skip_corrupt_records' in message


def test_truncated_and_corrupt_files_are_named(tmp_path):
  root = str(tmp_path)
  paths = fake_data.write_fake_dataset(root, DATASET, 'test', num_files=3,
                                       scenes_per_file=3)
  with open(paths[1], 'rb') as f:
    data = f.read()
  with open(paths[1], 'wb') as f:  # Cut inside the last record: 2 records stay readable.
    f.write(data[:len(data) - 1000])
  with open(paths[2], 'rb') as f:
    data = bytearray(f.read())
  data[len(data) // 2] ^= 0xff  # A flipped bit inside the second record.
  with open(paths[2], 'wb') as f:
    f.write(bytes(data))

  skipped = record_check.BadRecords(skip=True)
  assert _read_all(root, skipped, context_size=3) == 3 + 2 + 1
  assert set(skipped.files()) == set(paths[1:])
  summary = skipped.summary()
  assert 'Skipped 2 bad records in 2 files' in summary
  problems = {path: record_check.diagnose_file(path) for path in paths}
  assert problems[paths[0]] is None
  assert re.match(r'\S+ is truncated: it breaks at byte \d+ of %d, after 2 records'
                  % os.path.getsize(paths[1]), problems[paths[1]])
  assert 'is corrupt' in problems[paths[2]] and 'after 1 records' in problems[paths[2]]

  # Without a collector the pipeline fails, naming the file.
  with pytest.raises(tf.errors.InvalidArgumentError, match='Bad GQN record'):
    _read_all(root, None, context_size=3)


def test_skipping_gives_up_when_the_data_is_bad_as_a_whole(tmp_path, monkeypatch):
  monkeypatch.setattr(record_check, 'MAX_BAD_IN_A_ROW', 20)
  root = str(tmp_path)
  paths = gqn_tfr_provider.dataset_files(DATASET, root, 'test')
  _write_records(paths[0], [_nan_camera()] * 3)
  bad = record_check.BadRecords(skip=True)
  # Repeating forever over data that is mostly bad must end, not spin.
  with pytest.raises(record_check.CorruptRecordError, match='20 records in a row'):
    _read_all(root, bad, context_size=3, num_epochs=None)
    bad.raise_if_stopped()


def test_layout_hints_say_where_the_data_is():
  hint = record_check.layout_hint
  names = {'rooms_ring_camera', 'jaco'}
  assert hint('/d/gqn/rooms_ring_camera', 'rooms_ring_camera', 'train', names) == (
      '--data_dir points at the dataset directory itself; pass its parent: '
      '--data_dir /d/gqn')
  assert hint('/d/gqn/rooms_ring_camera/train/', 'rooms_ring_camera', 'train', names) == (
      '--data_dir points at a split directory; pass the directory two levels up: '
      '--data_dir /d/gqn')
  assert hint('/no/such/dir', 'rooms_ring_camera', 'train', names) == (
      '/no/such/dir does not exist (or is not a directory).')


# The command line: one line and exit code 2 -------------------------------------------

def _main(args, capfd):
  """(exit code, stderr) of train_gqn_draw.main; asserts there is no stack trace.

  stderr holds the gqn logger's lines too: the command's logs.setup() writes them there
  and stops them from reaching the root logger, where caplog would listen.
  """
  capfd.readouterr()
  code = train_gqn_draw.main(args)
  err = capfd.readouterr().err
  assert 'Traceback' not in err
  return code, err



def _train_args(data_dir, model_dir, *extra):
  return ['--data_dir', data_dir, '--dataset', DATASET, '--model_dir', model_dir,
          '--batch_size', '2', '--log_steps', '1', '--seed', '1'] + list(extra)


def _last_line(err):
  return err.strip().splitlines()[-1]


def test_dataset_problems_are_one_line_and_exit_2(tmp_path, capfd, fake_data_dir):
  model_dir = str(tmp_path / 'model')
  empty = tmp_path / 'empty'
  empty.mkdir()
  wrong_size = str(tmp_path / 'wrong_size')
  fake_data.write_fake_dataset(wrong_size, DATASET, 'train', frame_size=32)
  cases = [
      (str(empty), [], '%s is empty' % empty),
      (os.path.join(fake_data_dir, DATASET), [],
       'pass its parent: --data_dir %s' % fake_data_dir),
      (fake_data_dir, ['--context_size', '10'], 'context_size must be in [1, 9]'),
      (wrong_size, [], 'holds scenes of 10 views of 32x32 pixels'),
  ]
  for data_dir, extra, phrase in cases:
    code, err = _main(_train_args(data_dir, model_dir, '--preset', 'tiny',
                              '--max_steps', '1', *extra), capfd)
    assert code == 2, err
    line = _last_line(err)
    assert line.startswith('train_gqn_draw.py: error: ') and phrase in line, line
  assert not glob.glob(os.path.join(model_dir, 'model.ckpt*'))


def test_config_file_with_unknown_key_or_wrong_type_is_refused(tmp_path, capfd, tiny_model,
                                                               fake_data_dir):
  model_dir = _copy(tiny_model, tmp_path)
  path = os.path.join(model_dir, 'gqn_config.json')
  for values, phrase in (({'SEQ_LENGHT': 8}, "unknown key 'SEQ_LENGHT'"),
                         ({'SEQ_LENGTH': '8'}, "key 'SEQ_LENGTH' is '8' (str)")):
    with open(path, 'w') as f:
      f.write(json.dumps(values))
    code, err = _main(_train_args(fake_data_dir, model_dir, '--max_steps', '1'), capfd)
    assert code == 2
    assert phrase in _last_line(err) and path in _last_line(err)
    code = eval_gqn.main(['--model_dir', model_dir, '--data_dir', fake_data_dir,
                          '--dataset', DATASET])
    line = _last_line(capfd.readouterr().err)
    assert code == 2
    assert line.startswith('eval_gqn.py: error: ') and phrase in line and path in line


def test_checkpoint_that_does_not_fit_the_config_is_refused(tmp_path, capfd, tiny_model,
                                                            fake_data_dir):
  model_dir = str(tmp_path / 'model')
  shutil.copytree(tiny_model, model_dir)
  os.remove(os.path.join(model_dir, 'gqn_config.json'))  # As in tf-gqn's snapshots.
  code, err = _main(_train_args(fake_data_dir, model_dir, '--max_steps', '6'), capfd)
  assert code == 2
  line = _last_line(err)
  assert 'does not fit the config' in line
  assert 'GQN/PoolEncoder/conv2d/kernel: checkpoint has none, graph [2, 2, 3, 256]' in line
  assert '--preset tiny' in line
  # Nothing was written: the right flags still work afterwards.
  assert not os.path.exists(os.path.join(model_dir, 'gqn_config.json'))
  assert tf.train.latest_checkpoint(model_dir).endswith('model.ckpt-4')


@pytest.mark.slow
def test_bad_record_stops_training_after_a_checkpoint_then_skipping_trains_on(
    tmp_path, capfd):
  data_dir = str(tmp_path / 'data')
  paths = fake_data.write_fake_dataset(data_dir, DATASET, 'train', num_files=2,
                                       scenes_per_file=4)
  with open(paths[1], 'rb') as f:
    data = f.read()
  with open(paths[1], 'wb') as f:
    f.write(data[:len(data) // 2])  # A download that stopped half-way.
  model_dir = str(tmp_path / 'model')
  code, err = _main(_train_args(data_dir, model_dir, '--preset', 'tiny', '--max_steps',
                            '20'), capfd)
  assert code == 2
  line = _last_line(err)
  assert line.startswith('train_gqn_draw.py: error: %s is truncated' % paths[1]), line
  # Nothing lost: the steps trained before the bad record are saved.
  reached = tf.train.load_variable(tf.train.latest_checkpoint(model_dir), 'global_step')
  assert 1 <= reached < 20

  code, log = _main(_train_args(data_dir, model_dir, '--max_steps', '8',
                               '--skip_corrupt_records'), capfd)
  assert code == 0
  assert 'Continuing from %s/model.ckpt-%d' % (model_dir, reached) in log
  assert 'Skipped 1 bad records in 1 files: %s (1)' % paths[1] in log
  assert tf.train.latest_checkpoint(model_dir).endswith('model.ckpt-8')


# Numerical faults ------------------------------------------------------------------------

@pytest.mark.slow
def test_nan_loss_stops_naming_the_step_and_no_checkpoint_holds_it(
    tmp_path, capfd, fake_data_dir):
  model_dir = str(tmp_path / 'model')
  code, err = _main(_train_args(fake_data_dir, model_dir, '--preset', 'tiny',
                            '--max_steps', '20', '--chkpt_steps', '1',
                            '--adam_lr_alpha', '1e30', '--adam_lr_beta', '1e30'),
                    capfd)
  assert code == interrupts.EXIT_NON_FINITE_LOSS == 3
  match = re.search(r'Training stopped at step (\d+): the loss is (nan|inf|-inf)\. ',
                    _last_line(err))
  assert match, _last_line(err)
  step = int(match.group(1))
  latest = tf.train.latest_checkpoint(model_dir)
  assert latest.endswith('model.ckpt-%d' % step)  # Saved before the bad step, kept.
  for index in glob.glob(os.path.join(model_dir, 'model.ckpt-*.index')):
    prefix = index[:-len('.index')]
    assert int(prefix.rsplit('-', 1)[1]) <= step
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      assert np.all(np.isfinite(reader.get_tensor(name))), (prefix, name)


def test_loss_guard_names_the_step():
  with tf.Graph().as_default():
    step = tf.train.get_or_create_global_step()
    loss = tf.placeholder(tf.float32, [])
    guard = loss_guard.loss_guard(loss, step)
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      session.run(guard, {loss: 1.0})
      for value, shown in ((np.nan, 'nan'), (np.inf, 'inf')):
        with pytest.raises(tf.errors.InvalidArgumentError) as error:
          session.run(guard, {loss: value})
        nan = loss_guard.non_finite_loss_error(error.value, '/nowhere')
        assert str(nan).startswith('Training stopped at step 0: the loss is %s.' % shown)
  assert loss_guard.non_finite_loss_error(
      tf.errors.InvalidArgumentError(None, None, 'other'), '/nowhere') is None


# make demo and make results: a stop is one line, the exit code of train_gqn_draw.py ------

@pytest.mark.parametrize('command,function', [(demo, 'run_demo'), (results, 'run_dataset')])
@pytest.mark.parametrize('stop,code,says', [
    (interrupts.TrainingInterrupted(signal.SIGINT, 120, '/m/model.ckpt-120'), 130,
     'Stopped by SIGINT at step 120; saved /m/model.ckpt-120. Run the same command'),
    (loss_guard.NonFiniteLossError('Training stopped at step 7: the loss is nan.'), 3,
     'Training stopped at step 7: the loss is nan.'),
    (KeyboardInterrupt(), 130, 'interrupted. Run it again to go on: it trains on from the '
     'last checkpoint'),
    (IOError('no space left'), 2, 'error: no space left')])
def test_a_stopped_demo_or_results_says_why_in_one_line(command, function, stop, code, says,
                                                         monkeypatch, capsys):
  def stopped(*unused_args, **unused_kwargs):
    raise stop
  monkeypatch.setattr(command, function, stopped)
  assert command.main(['--run_dir', '/nowhere']) == code
  captured = capsys.readouterr()
  err = captured.err.strip().splitlines()
  assert len(err) == 1, captured.err
  assert err[0].startswith(command.__name__ + '.py: ') and says in err[0], err[0]
  assert 'Traceback' not in captured.out


@pytest.mark.parametrize('stop,code,says', [
    (interrupts.TrainingInterrupted(signal.SIGTERM, 9, '/m/model.ckpt-9'), 143,
     'Stopped by SIGTERM at step 9; saved /m/model.ckpt-9. Run the same command'),
    (KeyboardInterrupt(), 130, 'interrupted. Run it again to go on: it trains on from the '
     'last checkpoint in --model_dir.')])
def test_a_stopped_training_says_why_in_one_line(stop, code, says, monkeypatch, capsys):
  def stopped(unused_args):
    raise stop
  monkeypatch.setattr(train_gqn_draw, '_train', stopped)
  assert train_gqn_draw.main(['--data_dir', '/nowhere', '--model_dir', '/nowhere']) == code
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1, err
  assert err[0].startswith('train_gqn_draw.py: ') and says in err[0], err[0]


# Checkpoints -----------------------------------------------------------------------------

def _copy(model_dir, tmp_path, name='model'):
  copy = str(tmp_path / name)
  shutil.copytree(model_dir, copy)
  return copy


def test_incomplete_checkpoints_fall_back_to_the_newest_complete_one(tmp_path, tiny_model):
  # tiny_model holds model.ckpt-0 and model.ckpt-4; the `checkpoint` file names -4.
  model_dir = _copy(tiny_model, tmp_path)
  assert checkpoint_integrity.recover_checkpoint_state(model_dir).endswith('model.ckpt-4')

  data = glob.glob(os.path.join(model_dir, 'model.ckpt-4.data-*'))[0]
  with open(data, 'r+b') as f:
    f.truncate(os.path.getsize(data) // 2)  # A disk that filled up.
  assert 'its data is cut short' in checkpoint_integrity.checkpoint_problem(
      os.path.join(model_dir, 'model.ckpt-4'))
  assert checkpoint_integrity.recover_checkpoint_state(model_dir).endswith('model.ckpt-0')
  assert tf.train.latest_checkpoint(model_dir).endswith('model.ckpt-0')

  model_dir = _copy(tiny_model, tmp_path, 'no_index')
  os.remove(os.path.join(model_dir, 'model.ckpt-4.index'))
  assert checkpoint_integrity.recover_checkpoint_state(model_dir).endswith('model.ckpt-0')

  model_dir = _copy(tiny_model, tmp_path, 'no_state')  # `checkpoint` lost: rebuilt.
  os.remove(os.path.join(model_dir, 'checkpoint'))
  assert checkpoint_integrity.recover_checkpoint_state(model_dir).endswith('model.ckpt-4')
  assert tf.train.get_checkpoint_state(model_dir).all_model_checkpoint_paths == [
      os.path.join(model_dir, 'model.ckpt-0'), os.path.join(model_dir, 'model.ckpt-4')]

  model_dir = _copy(tiny_model, tmp_path, 'all_broken')
  for index in glob.glob(os.path.join(model_dir, '*.index')):
    os.remove(index)
  with pytest.raises(checkpoint_integrity.CheckpointStateError, match='no complete checkpoint'):
    checkpoint_integrity.recover_checkpoint_state(model_dir)
  assert checkpoint_integrity.recover_checkpoint_state(str(tmp_path / 'new')) is None


@pytest.mark.slow
def test_leftovers_of_a_kill_during_a_save_do_not_break_the_restart(
    tmp_path, capfd, tiny_model, fake_data_dir):
  model_dir = _copy(tiny_model, tmp_path)
  # A save of step 6 cut short by kill -9: TF writes into a temp directory, then the
  # data, the index and last the `checkpoint` file; and one with its index missing.
  temp = os.path.join(model_dir, 'model.ckpt-6_temp')
  os.mkdir(temp)
  with open(os.path.join(temp, 'part-00000-of-00001.data-00000-of-00001.tempstate1'),
            'wb') as f:
    f.write(b'\0' * 100)
  meta_tmp = os.path.join(model_dir, 'model.ckpt-6.meta.tmp' + '0123456789abcdef' * 2)
  with open(meta_tmp, 'wb') as f:
    f.write(b'\0' * 10)
  data = glob.glob(os.path.join(model_dir, 'model.ckpt-4.data-*'))[0]
  shutil.copy(data, data.replace('ckpt-4', 'ckpt-5'))
  code, err = _main(_train_args(fake_data_dir, model_dir, '--max_steps', '6'), capfd)
  assert code == 0, err
  assert 'Continuing from %s/model.ckpt-4 (global step 4)' % model_dir in err
  assert tf.train.latest_checkpoint(model_dir).endswith('model.ckpt-6')
  # The partial writes, which TF neither reads nor removes, are gone.
  assert not os.path.exists(temp) and not os.path.exists(meta_tmp)


@pytest.mark.slow
def test_eval_stops_at_a_bad_record_or_skips_it_and_refuses_a_damaged_checkpoint(
    tmp_path, capfd, tiny_model, fake_data_dir):
  data_dir = str(tmp_path / 'data')
  shutil.copytree(fake_data_dir, data_dir)
  damaged = gqn_tfr_provider.dataset_files(DATASET, data_dir, 'test')[1]
  with open(damaged, 'r+b') as f:
    f.truncate(os.path.getsize(damaged) // 2)
  output_dir = str(tmp_path / 'eval')
  args = ['--model_dir', tiny_model, '--data_dir', data_dir, '--dataset', DATASET,
          '--max_examples', '0', '--batch_size', '2', '--num_samples', '1',
          '--output_dir', output_dir]

  code = eval_gqn.main(args)
  err = capfd.readouterr().err
  assert code == 2 and 'Traceback' not in err
  assert _last_line(err).startswith('eval_gqn.py: error: %s is truncated' % damaged)
  assert not os.path.exists(os.path.join(output_dir, 'metrics.json'))  # No partial metrics.

  assert eval_gqn.main(args + ['--skip_corrupt_records']) == 0
  assert 'Skipped 1 bad records in 1 files: %s (1)' % damaged in capfd.readouterr().err
  with open(os.path.join(output_dir, 'metrics.json')) as f:
    assert json.load(f)['num_examples'] == 4 + 2  # The intact file and 2 readable records.

  model_dir = _copy(tiny_model, tmp_path)
  data = glob.glob(os.path.join(model_dir, 'model.ckpt-4.data-*'))[0]
  with open(data, 'r+b') as f:
    f.truncate(100)
  code = eval_gqn.main(args[:1] + [model_dir] + args[2:])
  line = _last_line(capfd.readouterr().err)
  assert code == 2
  assert line == ('eval_gqn.py: error: Checkpoint %s/model.ckpt-4 cannot be restored: its '
                  'data is cut short (100 of at least %d bytes); pass an earlier one, e.g. '
                  '--checkpoint %s/model.ckpt-0.'
                  % (model_dir, int(re.search(r'at least (\d+)', line).group(1)), model_dir))


# Real processes --------------------------------------------------------------------------

@contextlib.contextmanager
def _training(args, log_path):
  """A train_gqn_draw.py process writing to `log_path`; ended on leaving if still running.

  So a failing test leaves no training behind.
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONUNBUFFERED='1')
  with open(log_path, 'w') as log:
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'train_gqn_draw.py')] +
                               args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    try:
      yield process
    finally:
      if process.poll() is None:
        process.kill()
      process.wait()


def _wait_for(condition, process, timeout=120, interval=0.05):
  deadline = time.time() + timeout
  while not condition():
    assert process.poll() is None, 'the run ended early'
    assert time.time() < deadline, 'timed out'
    time.sleep(interval)


def _save_in_flight(model_dir, least_step):
  """Whether TF is writing a checkpoint of step >= least_step: its `*_temp` directory."""
  try:
    names = os.listdir(model_dir)
  except OSError:
    return False
  return any(re.match(r'model\.ckpt-(\d+)_temp$', name) and
             int(name.split('-')[1][:-len('_temp')]) >= least_step for name in names)


def _read(path):
  with open(path) as f:
    return f.read()


@pytest.mark.slow
def test_kill_9_during_a_save_then_the_same_command_continues_to_max_steps(
    tmp_path, fake_data_dir):
  model_dir = str(tmp_path / 'model')
  args = _train_args(fake_data_dir, model_dir, '--preset', 'tiny', '--max_steps', '12',
                     '--chkpt_steps', '1')
  with _training(args, str(tmp_path / 'first.log')) as process:
    # kill -9 as soon as TF is writing the checkpoint of step 3 or later (each step saves).
    _wait_for(lambda: _save_in_flight(model_dir, 3), process, interval=0.0005)
    process.kill()
    assert process.wait() == -signal.SIGKILL
  saved = tf.train.get_checkpoint_state(model_dir).model_checkpoint_path
  reached = int(saved.rsplit('-', 1)[1])
  assert reached >= 2

  # --verbose: TensorFlow's own INFO line names the checkpoint it restored.
  log_path = str(tmp_path / 'second.log')
  with _training(args + ['--verbose'], log_path) as process:
    assert process.wait(timeout=300) == 0
  text = _read(log_path)
  assert 'Continuing from %s (global step %d)' % (saved, reached) in text
  assert 'Restoring parameters from %s' % saved in text
  assert tf.train.latest_checkpoint(model_dir).endswith('model.ckpt-12')
  assert not glob.glob(os.path.join(model_dir, '*_temp'))  # Half-written save removed.
  # The global step went on from the checkpoint: this run saved only later steps.
  saved_steps = [int(s) for s in re.findall(r'Saving checkpoints for (\d+)', text)]
  assert min(saved_steps) == reached and max(saved_steps) == 12


@pytest.mark.slow
@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_a_checkpoint_of_the_step_reached_and_exits(tmp_path, fake_data_dir,
                                                                 signum):
  model_dir = str(tmp_path / 'model')
  args = _train_args(fake_data_dir, model_dir, '--preset', 'tiny', '--max_steps',
                     '100000', '--chkpt_steps', '100000')
  log_path = str(tmp_path / 'run.log')
  with _training(args, log_path) as process:
    _wait_for(lambda: re.search(r'step [3-9]\d*[:/]', _read(log_path)), process)
    process.send_signal(signum)
    assert process.wait(timeout=120) == 128 + signum
  text = _read(log_path)
  match = re.search(r'train_gqn_draw.py: Stopped by %s at step (\d+); saved (\S+)\. Run '
                    'the same command to continue\.' % signal.Signals(signum).name, text)
  assert match, text[-2000:]
  step, checkpoint = int(match.group(1)), match.group(2)
  assert step >= 3
  assert checkpoint == tf.train.latest_checkpoint(model_dir)
  assert checkpoint.endswith('model.ckpt-%d' % step)
  assert tf.train.load_variable(checkpoint, 'global_step') == step
  assert 'Traceback' not in text
