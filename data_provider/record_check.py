"""Bad records found by the pipeline: collected, diagnosed in Python, reported by file.

The tf.data side (`record_guards`) only flags a record as bad and hands it to a
`BadRecords` collector. Why a record is bad is found out afterwards, here, by reading
that one record again (`diagnose_record`, `diagnose_file`), so the messages can be
specific without slowing the pipeline down. `check_first_record` and `layout_hint`
explain the two mistakes made before any record is read: files of another dataset, and
a data directory one level off.
"""

import collections
import os
import re
import threading

import numpy as np
import tensorflow.compat.v1 as tf

from data_provider import camera
from data_provider import logs
from data_provider import record_guards
from data_provider import records

# In skip mode, this many bad records in a row mean the data is wrong as a whole (every
# file broken, or the wrong dataset) rather than damaged here and there: the data ends
# instead of looping forever over records that are all dropped.
MAX_BAD_IN_A_ROW = 1000
# Skipped records logged one by one; after these, every 100th.
_LOGGED_SKIPS = 10


class CorruptRecordError(ValueError):
  """A record or file of a dataset is damaged; the message names the file and the fault."""


class DatasetMismatchError(ValueError):
  """The files hold another dataset than the one named (frame size or views per scene)."""


BadRecord = collections.namedtuple('BadRecord', ['path', 'position', 'unreadable', 'info'])


class BadRecords(object):
  """Collects the invalid records a pipeline met; says what was wrong with them.

  One collector per run: pass it to `gqn_tfr_provider.gqn_dataset(bad_records=...)` (or
  to every input pipeline of the run), then after training or evaluation call
  `raise_if_stopped()` and log `summary()`.
  """

  def __init__(self, skip=False, max_bad_in_a_row=None):
    """Makes an empty collector.

    Args:
      skip: skip invalid records (True) or end the data at the first one (False).
      max_bad_in_a_row: in skip mode, this many bad records in a row end the data;
        None: MAX_BAD_IN_A_ROW.
    """
    self.skip = skip
    self.max_bad_in_a_row = max_bad_in_a_row or MAX_BAD_IN_A_ROW
    self._lock = threading.Lock()
    self._records = collections.OrderedDict()  # (path, position, unreadable) -> BadRecord
    self._stopped_at = None

  def add(self, path, position, unreadable, info, stopping=False):
    """Notes a bad record (called from the pipeline, once per record and epoch)."""
    record = BadRecord(path, position, unreadable, info)
    with self._lock:
      key = (path, position, unreadable)
      is_new = key not in self._records
      self._records.setdefault(key, record)
      if stopping and self._stopped_at is None:
        self._stopped_at = record
      count = len(self._records)
    if is_new and not stopping and (count <= _LOGGED_SKIPS or count % 100 == 0):
      logs.logger.warning('Skipping %s (%d bad records skipped so far).',
                          _where(record), count)

  @property
  def count(self):
    """Distinct bad records met so far (unreadable file tails count once each)."""
    with self._lock:
      return len(self._records)

  def files(self):
    """OrderedDict path -> number of bad records met in it."""
    counts = collections.OrderedDict()
    with self._lock:
      for record in self._records.values():
        counts[record.path] = counts.get(record.path, 0) + 1
    return counts

  def raise_if_stopped(self):
    """Raises the error of the record that ended the data, if one did.

    Raises:
      CorruptRecordError: names the file, the record, what is wrong with it and what
        to do.
    """
    with self._lock:
      record = self._stopped_at
    if record is None:
      return
    problem = _describe(record)
    if self.skip:
      raise CorruptRecordError(
          'Stopped reading: %d records in a row were bad, so the data looks wrong as a '
          'whole rather than damaged here and there. The last one: %s' % (
              self.max_bad_in_a_row, problem))
    raise CorruptRecordError(
        '%s To go on without such records, pass --skip_corrupt_records (they are '
        'counted and reported).' % problem)

  def summary(self, listed_files=5):
    """One line: how many records were skipped, from which files; '' when none."""
    files = self.files()
    if not files:
      return ''
    listed = ', '.join('%s (%d)' % (path, count)
                       for path, count in list(files.items())[:listed_files])
    more = ', ...' if len(files) > listed_files else ''
    with self._lock:
      first = next(iter(self._records.values()))
    return ('Skipped %d bad records in %d files: %s%s. The first: %s'
            % (self.count, len(files), listed, more, _describe(first)))


def _where(record):
  if record.unreadable:
    return 'the rest of %s, unreadable after record %d' % (record.path, record.position)
  return 'record %d of %s' % (record.position, record.path)


def _describe(record):
  """What is wrong with a BadRecord, read again from its file."""
  if record.unreadable:
    return diagnose_file(record.path) or (
        '%s could not be read to its end.' % record.path)
  try:
    serialized = _read_record(record.path, record.position)
  except (tf.errors.OpError, IndexError) as error:
    return 'Record %d of %s could not be read again (%s).' % (
        record.position, record.path, _first_line(error))
  problem = diagnose_record(serialized, record.info)
  return 'Record %d of %s: %s' % (
      record.position, record.path,
      problem or 'could not be turned into an example.')


def _first_line(error):
  message = getattr(error, 'message', None) or str(error)
  return message.strip().splitlines()[0] if message.strip() else type(error).__name__


def _read_record(path, position):
  num_records = 0
  for serialized in tf.io.tf_record_iterator(path):
    if num_records == position:
      return serialized
    num_records += 1
  raise IndexError('the file now holds only %d records' % num_records)


def diagnose_file(path):
  """Reads a TFRecord file through; None if it is fine, else what is wrong, one line.

  Returns:
    E.g. '/d/train/07-of-20.tfrecord is truncated: it breaks at byte 39998 of 53276,
    after 3 records. Download it again (or delete it: the files present are used).'
  """
  num_records = 0
  try:
    for _ in tf.io.tf_record_iterator(path):
      num_records += 1
  except tf.errors.NotFoundError as error:
    return '%s cannot be opened (%s).' % (path, _first_line(error))
  except tf.errors.OpError as error:
    message = _first_line(error)
    offset = re.search(r'record at (\d+)', message)
    size = ''
    try:
      size = ' of %d' % tf.io.gfile.stat(path).length
    except tf.errors.OpError:
      pass
    kind = 'truncated' if 'truncated' in message else 'corrupt'
    where = (' at byte %s%s' % (offset.group(1), size)) if offset else ''
    return ('%s is %s: it breaks%s, after %d records. Download it again (or delete it: '
            'the files present are used).' % (path, kind, where, num_records))
  return None


def diagnose_record(serialized, info):
  """What is wrong with one scene record, or None if it is a valid one.

  Mirrors the pipeline's checks: a `tf.train.Example` with `info.sequence_size` JPEG
  frames of `info.frame_size` pixels and `5 * sequence_size` finite camera values.

  Args:
    serialized: bytes, one record.
    info: the dataset's DatasetInfo.

  Returns:
    None, or one sentence naming the fault.
  """
  try:
    example = tf.train.Example.FromString(serialized)
  except Exception:  # pylint: disable=broad-except
    # protobuf raises its own DecodeError (or others, by implementation) on bad bytes.
    return 'not a tf.train.Example (the bytes do not parse).'
  features = example.features.feature
  for name in (records.FRAMES_KEY, records.CAMERAS_KEY):
    if name not in features:
      return 'no "%s" feature (it has: %s); not a gqn-datasets scene record.' % (
          name, ', '.join(sorted(features)) or 'none')
  frames = list(features[records.FRAMES_KEY].bytes_list.value)
  cameras = np.array(features[records.CAMERAS_KEY].float_list.value, np.float32)
  num_values = camera.RAW_POSE_SIZE * info.sequence_size
  if len(frames) != info.sequence_size or cameras.size != num_values:
    return ('%d frames and %d camera values, but %s scenes have %d views (%d frames, %d '
            'camera values): is it a file of another dataset?'
            % (len(frames), cameras.size, info.basepath, info.sequence_size,
               info.sequence_size, num_values))
  for view, frame in enumerate(frames):
    if not frame.startswith(record_guards.JPEG_MAGIC):
      return 'frame %d is not a JPEG image (it starts with %s).' % (
          view, ' '.join('%02x' % byte for byte in bytearray(frame[:4])) or 'nothing')
  if not np.all(np.isfinite(cameras)):
    return 'camera values that are not finite (%s).' % ', '.join(
        sorted(set(str(value) for value in cameras[~np.isfinite(cameras)])))
  for view, shape in enumerate(_decoded_shapes(frames)):
    if isinstance(shape, str):
      return 'frame %d is a damaged JPEG image (%s).' % (view, shape)
    if shape != (info.frame_size, info.frame_size, 3):
      return ('frame %d is %dx%d pixels, but %s frames are %dx%d: is it a file of another '
              'dataset?' % (view, shape[1], shape[0], info.basepath, info.frame_size,
                            info.frame_size))
  return None


def _decoded_shapes(jpegs):
  """Per JPEG string: its decoded (height, width, 3) as the pipeline decodes it, or the
  decoder's one-line error."""
  with tf.Graph().as_default():
    jpeg = tf.placeholder(tf.string, [])
    shape = tf.shape(tf.io.decode_jpeg(jpeg, channels=3))
    with tf.Session() as session:
      shapes = []
      for data in jpegs:
        try:
          shapes.append(tuple(int(n) for n in session.run(shape, {jpeg: data})))
        except tf.errors.OpError as error:
          shapes.append(_first_line(error))
      return shapes


def check_first_record(path, dataset, info, infos):
  """Refuses files of another dataset, by their first record, before anything is built.

  Only a readable, well-formed first record whose number of views or frame size differs
  from the table is an error here: damage is left to the pipeline (which skips or
  reports it).

  Args:
    path: a file of the split.
    dataset: the dataset's name.
    info: its DatasetInfo.
    infos: dict name -> DatasetInfo of every known dataset, to suggest the right one.

  Raises:
    DatasetMismatchError: names the file, what it holds, what `dataset` should hold and
      the datasets that fit it.
  """
  try:
    serialized = next(iter(tf.io.tf_record_iterator(path)), None)
  except tf.errors.OpError:
    return
  if serialized is None:
    return
  try:
    features = tf.train.Example.FromString(serialized).features.feature
  except Exception:  # pylint: disable=broad-except
    return
  frames = []
  if records.FRAMES_KEY in features:
    frames = list(features[records.FRAMES_KEY].bytes_list.value)
  if not frames or not frames[0].startswith(record_guards.JPEG_MAGIC):
    return
  shape = _decoded_shapes(frames[:1])[0]
  if isinstance(shape, str):
    return
  views, size = len(frames), shape[0]
  if views == info.sequence_size and shape == (info.frame_size, info.frame_size, 3):
    return
  fitting = sorted(name for name, other in infos.items()
                   if other.sequence_size == views and other.frame_size == size)
  suggestion = ('; these datasets have that: %s' % ', '.join(fitting) if fitting
                else '; no known dataset has that')
  raise DatasetMismatchError(
      '%s holds scenes of %d views of %dx%d pixels, but %s has %d views of %dx%d pixels: '
      'is --dataset right, or is the file in the wrong directory%s?'
      % (path, views, shape[1], shape[0], dataset, info.sequence_size, info.frame_size,
         info.frame_size, suggestion))


def layout_hint(root, basepath, split, basepaths):
  """Why no files of a dataset were found under `root`, when the layout says why; or ''.

  Args:
    root: the data directory given (should hold `<basepath>/<split>/`).
    basepath: the dataset's directory name.
    split: 'train' or 'test'.
    basepaths: the directory names of all known datasets.

  Returns:
    A sentence for the error message, e.g. that `root` is the dataset directory itself.
  """
  normalized = root.rstrip('/') or root
  name = os.path.basename(normalized)
  parent = os.path.dirname(normalized)
  if name == basepath:
    return ('--data_dir points at the dataset directory itself; pass its parent: '
            '--data_dir %s' % (parent or '.'))
  if name in ('train', 'test') and os.path.basename(parent) == basepath:
    return ('--data_dir points at a split directory; pass the directory two levels up: '
            '--data_dir %s' % (os.path.dirname(parent) or '.'))
  if not tf.io.gfile.isdir(root):
    return '%s does not exist (or is not a directory).' % root
  entries = sorted(entry.rstrip('/') for entry in tf.io.gfile.listdir(root))
  if not entries:
    return '%s is empty.' % root
  datasets = [entry for entry in entries if entry in basepaths]
  if datasets:
    return '%s holds other datasets: %s.' % (root, ', '.join(datasets))
  if split in entries:
    return ('%s holds a %s/ directory: if it is the %s dataset directory, pass its parent: '
            '--data_dir %s' % (root, split, basepath, parent or '.'))
  return ''
