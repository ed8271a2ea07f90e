"""Fuzz: randomly damaged record files give valid examples or the clear error, nothing else.

Each trial damages a copy of a small valid split (flipped bytes, a cut, overwritten or
inserted garbage) and reads it through `gqn_dataset`. Whatever the damage, the pipeline
must either yield valid examples (shapes, finite values in [0, 1]) or end with
`CorruptRecordError` naming the file; it must never raise anything else, crash or hang.
"""

import os
import shutil
import threading
import time

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from data_provider import gqn_tfr_provider
from data_provider import record_check
from data_provider import records
from tests import fake_data

pytestmark = pytest.mark.slow  # Every test here takes more than 10 s.

DATASET = 'rooms_ring_camera'
CONTEXT = 3
NUM_TRIALS = 40
TRIAL_TIMEOUT_S = 60.0


def _damage(data, rng):
  """Returns `data` damaged in one of four ways, and the way."""
  data = bytearray(data)
  kind = rng.randint(4)
  if kind == 0:  # Flipped bits anywhere: framing, CRCs, proto fields, JPEG bytes.
    for position in rng.randint(len(data), size=rng.randint(1, 9)):
      data[position] ^= 1 << rng.randint(8)
  elif kind == 1:  # A download that stopped part-way.
    data = data[:rng.randint(1, len(data))]
  elif kind == 2:  # A span overwritten with garbage.
    start = rng.randint(len(data))
    length = min(rng.randint(1, 200), len(data) - start)
    data[start:start + length] = rng.bytes(length)
  else:  # Garbage inserted.
    start = rng.randint(len(data))
    data[start:start] = rng.bytes(rng.randint(1, 200))
  return bytes(data), ('flip', 'cut', 'overwrite', 'insert')[kind]


def _read_all(root, skip):
  """Reads the whole test split; returns (examples, error or None)."""
  bad_records = record_check.BadRecords(skip=skip)
  examples = []
  with tf.Graph().as_default():
    data = gqn_tfr_provider.gqn_dataset(DATASET, CONTEXT, root, 'test', batch_size=1,
                                        bad_records=bad_records, num_threads=2)
    next_batch = tf.data.make_one_shot_iterator(data).get_next()
    with tf.Session() as sess:
      while True:
        try:
          examples.append(sess.run(next_batch))
        except tf.errors.OutOfRangeError:
          break
  try:
    bad_records.raise_if_stopped()
  except record_check.CorruptRecordError as error:
    return examples, error
  return examples, None


def _run_with_timeout(function, *args):
  result = {}

  def target():
    try:
      result['value'] = function(*args)
    except Exception as error:  # pylint: disable=broad-except
      result['error'] = error

  thread = threading.Thread(target=target, daemon=True)
  thread.start()
  thread.join(TRIAL_TIMEOUT_S)
  assert not thread.is_alive(), 'reading a damaged file hung for %.0f s' % TRIAL_TIMEOUT_S
  if 'error' in result:
    raise result['error']
  return result['value']


def _assert_valid(example, context=CONTEXT):
  features, target = example
  frames = features.context.frames
  assert frames.shape == (1, context, 64, 64, 3)
  assert features.context.cameras.shape == (1, context, 7)
  assert features.query_camera.shape == (1, 7) and target.shape == (1, 64, 64, 3)
  for images in (frames, target):
    assert np.isfinite(images).all() and images.min() >= 0.0 and images.max() <= 1.0
  for cameras in (features.context.cameras, features.query_camera):
    assert np.isfinite(cameras).all()
    # sin^2 + cos^2 = 1 for yaw and for pitch: the encoding of finite raw angles.
    np.testing.assert_allclose(cameras[..., 3] ** 2 + cameras[..., 4] ** 2, 1, atol=1e-4)


def test_damaged_records_yield_valid_examples_or_the_clear_error(tmp_path):
  clean_root = str(tmp_path / 'clean')
  [path] = fake_data.write_fake_dataset(clean_root, DATASET, 'test', num_files=1,
                                        scenes_per_file=3)
  relative = os.path.relpath(path, clean_root)
  with open(path, 'rb') as f:
    clean = f.read()
  rng = np.random.RandomState(20181)
  outcomes = {'valid': 0, 'error': 0, 'skipped': 0}
  start = time.time()
  for trial in range(NUM_TRIALS):
    root = str(tmp_path / ('trial%d' % trial))
    shutil.copytree(clean_root, root)
    damaged, kind = _damage(clean, rng)
    damaged_path = os.path.join(root, relative)
    with open(damaged_path, 'wb') as f:
      f.write(damaged)
    skip = bool(trial % 2)
    examples, error = _run_with_timeout(_read_all, root, skip)
    for example in examples:
      _assert_valid(example)
    if error is not None:
      assert damaged_path in str(error), (kind, str(error))
      outcomes['error'] += 1
    elif len(examples) < 3:
      assert skip, (kind, 'records were lost without an error')
      outcomes['skipped'] += 1
    else:
      outcomes['valid'] += 1
    shutil.rmtree(root)
  # The damage must actually have been met, in both modes, within the time bound.
  assert outcomes['error'] > 0 and outcomes['skipped'] > 0, outcomes
  assert time.time() - start < NUM_TRIALS * TRIAL_TIMEOUT_S


NUM_RECORDS = 200
RECORD_TIMEOUT_MS = 20000


def _damage_record(frames, cameras, rng):
  """One scene record, damaged in one of seven ways (or, by chance, still valid)."""
  frames, cameras = list(frames), np.array(cameras)
  kind = rng.randint(7)
  if kind == 4:  # One frame's JPEG bytes flipped, cut or replaced.
    view = rng.randint(len(frames))
    frame = bytearray(frames[view])
    how = rng.randint(3)
    if how == 0:
      for position in rng.randint(len(frame), size=rng.randint(1, 9)):
        frame[position] ^= 1 << rng.randint(8)
    elif how == 1:
      frame = frame[:rng.randint(len(frame))]
    else:
      frame = bytearray(rng.bytes(rng.randint(1, 2000)))
    frames[view] = bytes(frame)
  elif kind == 5:  # A camera value that is not a number, or huge.
    cameras.flat[rng.randint(cameras.size)] = (np.nan, np.inf, -np.inf, 1e38)[rng.randint(4)]
  elif kind == 6:  # A view missing or one too many.
    frames = frames[:-1] if rng.randint(2) else frames + frames[:1]
  record = bytearray(records.serialize_scene(frames, cameras))
  if kind == 0:  # Bits flipped anywhere in the serialized Example.
    for position in rng.randint(len(record), size=rng.randint(1, 9)):
      record[position] ^= 1 << rng.randint(8)
  elif kind == 1:
    record = record[:rng.randint(len(record))]
  elif kind == 2:
    start = rng.randint(len(record))
    length = min(rng.randint(1, 200), len(record) - start)
    record[start:start + length] = rng.bytes(length)
  elif kind == 3:
    start = rng.randint(len(record))
    record[start:start] = rng.bytes(rng.randint(1, 200))
  return bytes(record)


def _scene_of(path):
  return records.parse_scene(next(iter(tf.io.tf_record_iterator(path))))


def _read_each(root, bad_records, context):
  """Reads the test split one example at a time, each read under a time limit."""
  examples = []
  with tf.Graph().as_default():
    data = gqn_tfr_provider.gqn_dataset(DATASET, context, root, 'test', batch_size=1,
                                        bad_records=bad_records, num_threads=2)
    next_batch = tf.data.make_one_shot_iterator(data).get_next()
    limit = tf.RunOptions(timeout_in_ms=RECORD_TIMEOUT_MS)
    with tf.Session() as sess:
      while True:
        try:
          examples.append(sess.run(next_batch, options=limit))
        except tf.errors.OutOfRangeError:
          return examples


def test_damaged_scene_records_are_read_or_named_and_agree_with_the_diagnosis(tmp_path):
  root = str(tmp_path)
  [path] = fake_data.write_fake_dataset(root, DATASET, 'test', num_files=1,
                                        scenes_per_file=1)
  frames, cameras = _scene_of(path)
  rng = np.random.RandomState(7)
  # Record 0 stays valid: the dataset check reads it.
  serialized = [records.serialize_scene(frames, cameras)] + [
      _damage_record(frames, cameras, rng) for _ in range(NUM_RECORDS - 1)]
  records.write_records(path, serialized)
  info = gqn_tfr_provider.dataset_info(DATASET)
  verdicts = [record_check.diagnose_record(record, info) for record in serialized]
  bad_positions = [i for i, problem in enumerate(verdicts) if problem is not None]
  assert 0 < len(bad_positions) < NUM_RECORDS - 1, 'the damage should vary'

  # Skipping, with every view decoded (K + 1 = all 10): the pipeline's verdict on each
  # record is the diagnosis's; every valid record gives a valid example.
  all_views = info.sequence_size - 1
  skipped = record_check.BadRecords(skip=True)
  examples = _run_with_timeout(_read_each, root, skipped, all_views)
  for example in examples:
    _assert_valid(example, all_views)
  assert len(examples) == NUM_RECORDS - len(bad_positions)
  assert skipped.count == len(bad_positions)
  assert skipped.files() == {path: len(bad_positions)}

  # Stopping: the error names the first bad record and says what is wrong with it.
  stopped = record_check.BadRecords()
  _run_with_timeout(_read_each, root, stopped, all_views)
  first = bad_positions[0]
  try:
    stopped.raise_if_stopped()
    raise AssertionError('a bad record was read without an error')
  except record_check.CorruptRecordError as error:
    assert str(error).startswith('Record %d of %s: %s' % (first, path, verdicts[first]))
