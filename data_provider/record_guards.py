"""The tf.data side of bad records: read each file to its damage, guard each record.

A download that stopped half-way, a flipped bit or a file from another dataset must not
cost a training run, nor an afternoon with a TensorFlow stack trace. The pipeline of
`gqn_tfr_provider.gqn_dataset` therefore

  * reads each file on its own (`read_records`), carrying the file and the record's
    position with every record; a file that cannot be read to its end (truncated, or a
    corrupt length or checksum) yields the records before the fault and then one marker
    element, found by comparing the bytes read with the file's size;
  * turns every record into an example inside a guard (`guarded`): any error of parsing,
    checking (`checked_scene`: JPEG frames, finite cameras; the provider checks the frame
    size) or decoding gives a validity flag instead of failing the pipeline;
  * hands the invalid ones to a `record_check.BadRecords` collector
    (`drop_bad_records`), which either ends the data at the first of them (the default:
    the caller then raises the error naming the file, after a clean end of training) or
    skips and counts them (`skip=True`, `--skip_corrupt_records`).

Why a record is bad is found out afterwards, in Python, by `record_check`.
"""

import collections

import numpy as np
import tensorflow.compat.v1 as tf

# Where a record came from, carried through the pipeline next to it:
#   path: string scalar, the TFRecord file.
#   position: int64 scalar, the record's index in its file; for an unreadable-file
#     marker, the number of records read before the fault.
#   unreadable: bool scalar, the element marks a file that could not be read to its end.
RecordSource = collections.namedtuple('RecordSource', ['path', 'position', 'unreadable'])

# A TFRecord stores each record as length (8 bytes), CRC of the length (4), data, CRC of
# the data (4).
_FRAMING_BYTES = 16
JPEG_MAGIC = b'\xff\xd8\xff'


def read_records(path):
  """Reads one TFRecord file, tolerating a damaged tail.

  Args:
    path: string scalar tensor, the file.

  Returns:
    tf.data.Dataset of `(serialized, RecordSource)`: every readable record in file
    order, then, only when the file could not be read to its end, one marker element
    (serialized '', unreadable True, position = number of records read).
  """
  # After a read error the reader gives up on the file, so ignore_errors ends it there.
  records = tf.data.TFRecordDataset(path).apply(tf.data.experimental.ignore_errors())
  records = records.map(lambda serialized: (serialized, False))
  records = records.concatenate(tf.data.Dataset.from_tensors((tf.constant(''), True)))

  def count(state, element):
    num_records, num_bytes = state
    serialized, is_end = element
    length = tf.cast(tf.strings.length(serialized), tf.int64) + _FRAMING_BYTES
    step = tf.cast(tf.logical_not(is_end), tf.int64)
    return ((num_records + step, num_bytes + step * length),
            (serialized, num_records, num_bytes, is_end))

  records = records.apply(tf.data.experimental.scan(
      (tf.constant(0, tf.int64), tf.constant(0, tf.int64)), count))
  # The end element is kept only when the records read fall short of the file's size.
  records = records.filter(lambda serialized, position, num_bytes, is_end: tf.cond(
      is_end, lambda: tf.not_equal(num_bytes, _file_size(path)), lambda: True))
  return records.map(lambda serialized, position, num_bytes, is_end: (
      serialized, RecordSource(path=path, position=position, unreadable=is_end)))


def _file_size(path):
  """int64 scalar: the size of file `path` in bytes, -1 if it cannot be read."""
  def size(name):
    try:
      return np.int64(tf.io.gfile.stat(name.decode('utf-8')).length)
    except (tf.errors.OpError, OSError):
      return np.int64(-1)
  result = tf.numpy_function(size, [path], tf.int64)
  result.set_shape([])
  return result


def checked_scene(frames, cameras):
  """Passes a parsed scene through, failing inside the record guard when it is invalid.

  Args:
    frames: `[S]` string tensor of encoded frames.
    cameras: `[S, 5]` float32 raw cameras.

  Returns:
    (frames, cameras), unchanged, with checks that every frame is a JPEG image and every
    camera number is finite; a failed check raises InvalidArgumentError, which
    `guarded` turns into an invalid record.
  """
  is_jpeg = tf.equal(tf.strings.substr(frames, 0, len(JPEG_MAGIC)), JPEG_MAGIC)
  checks = [
      tf.debugging.Assert(tf.reduce_all(is_jpeg), ['a frame is not a JPEG image']),
      tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(cameras)),
                          ['a camera value is not finite']),
  ]
  with tf.control_dependencies(checks):
    return tf.identity(frames), tf.identity(cameras)


def guarded(preprocess, index, serialized, source):
  """Runs `preprocess` on one record so that its errors flag the record instead of failing.

  The record goes through a one-element dataset whose errors are dropped, followed by a
  placeholder example: the first element of the two is the result.

  Args:
    preprocess: function (index, serialized) -> nest of tensors of static shapes.
    index: int64 scalar, the example's position in the stream.
    serialized: string scalar, the record.
    source: its RecordSource; an unreadable-file marker is not preprocessed.

  Returns:
    (example, source, ok): `preprocess`'s outputs (zeros when not ok), the source, and a
    bool scalar, False when the record is a marker or `preprocess` failed on it.
  """
  attempt = tf.data.Dataset.from_tensors((index, serialized, source.unreadable))
  attempt = attempt.filter(lambda index, serialized, unreadable: tf.logical_not(unreadable))
  attempt = attempt.map(lambda index, serialized, unreadable: (
      preprocess(index, serialized), True))
  attempt = attempt.apply(tf.data.experimental.ignore_errors())
  example_structure = tf.data.experimental.get_structure(attempt)[0]
  placeholder = tf.nest.map_structure(lambda spec: tf.zeros(spec.shape, spec.dtype),
                                      example_structure)
  attempt = attempt.concatenate(tf.data.Dataset.from_tensors((placeholder, False)))
  example, ok = tf.data.experimental.get_single_element(attempt.take(1))
  return example, source, ok


def drop_bad_records(data, bad_records, info):
  """Takes the invalid records out of a stream of `guarded` examples.

  Args:
    data: tf.data.Dataset of `(example, RecordSource, ok)`.
    bad_records: None, or a BadRecords. None: the first invalid record fails the
      pipeline with an InvalidArgumentError naming its file and position. A BadRecords
      with skip=False: the data ends cleanly before the first invalid record, which the
      collector keeps (its `raise_if_stopped` then raises the error). With skip=True:
      invalid records are dropped and counted; its `max_bad_in_a_row` of them in a row
      end the data as above.
    info: the dataset's DatasetInfo, for describing the records later.

  Returns:
    tf.data.Dataset of the valid examples.
  """
  if bad_records is None:
    def fail_on_bad(example, source, ok):
      check = tf.debugging.Assert(ok, [
          'Bad GQN record', source.position, 'of', source.path, '(or the file is damaged '
          'after that many records). Pass gqn_dataset a record_check.BadRecords to learn '
          'what is wrong with it, or to skip such records.'])
      with tf.control_dependencies([check]):
        return tf.nest.map_structure(tf.identity, example)
    return data.map(fail_on_bad)

  def note(source, stopping):
    def add(path, position, unreadable):
      bad_records.add(path.decode('utf-8'), int(position), bool(unreadable), info, stopping)
      return False
    kept = tf.numpy_function(add, [source.path, source.position, source.unreadable],
                             tf.bool)
    kept.set_shape([])
    return kept

  def count_bad_in_a_row(bad_in_a_row, element):
    example, source, ok = element
    bad_in_a_row = tf.where(ok, tf.constant(0, tf.int64), bad_in_a_row + 1)
    return bad_in_a_row, (example, source, ok, bad_in_a_row)

  data = data.apply(tf.data.experimental.scan(tf.constant(0, tf.int64), count_bad_in_a_row))
  if bad_records.skip:
    go_on = lambda ok, bad_in_a_row: tf.less(bad_in_a_row, bad_records.max_bad_in_a_row)
  else:
    go_on = lambda ok, bad_in_a_row: ok
  data = data.apply(tf.data.experimental.take_while(
      lambda example, source, ok, bad_in_a_row: tf.cond(
          go_on(ok, bad_in_a_row), lambda: True, lambda: note(source, True))))
  data = data.filter(lambda example, source, ok, bad_in_a_row: tf.cond(
      ok, lambda: True, lambda: note(source, False)))
  return data.map(lambda example, source, ok, bad_in_a_row: example)
