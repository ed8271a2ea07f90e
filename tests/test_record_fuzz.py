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
import tensorflow.compat.v1 as tf

from data_provider import gqn_tfr_provider
from data_provider import record_check
from tests import fake_data

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


def _assert_valid(example):
  features, target = example
  frames = features.context.frames
  assert frames.shape == (1, CONTEXT, 64, 64, 3)
  assert features.context.cameras.shape == (1, CONTEXT, 7)
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
