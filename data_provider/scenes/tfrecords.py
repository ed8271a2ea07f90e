"""Scene records in DeepMind's gqn-datasets format, written atomically.

A scene is one `tf.train.Example` with

    frames:  bytes list, one JPEG per view
    cameras: float list, the views' [x, y, z, yaw, pitch] concatenated (views * 5)

and a TFRecord file frames each serialized record as

    uint64 length | uint32 masked crc32c(length) | data | uint32 masked crc32c(data)

(little endian), which `count_records` walks without parsing.
"""

import io
import os
import struct

import numpy as np
from PIL import Image
import tensorflow.compat.v1 as tf

JPEG_QUALITY = 95

_LENGTH_HEADER = struct.Struct('<QI')  # length, masked crc of the length
_DATA_CRC_SIZE = 4


def encode_jpeg(frame):
  """JPEG bytes of one `[H, W, 3]` float frame in [0, 1]."""
  pixels = np.round(np.clip(frame, 0.0, 1.0) * 255.0).astype(np.uint8)
  buffer = io.BytesIO()
  # Full-resolution colour (no 4:2:0 chroma subsampling): small frames have sharp
  # colour edges everywhere.
  Image.fromarray(pixels).save(buffer, format='JPEG', quality=JPEG_QUALITY,
                               subsampling=0)
  return buffer.getvalue()


def serialize_scene(jpegs, cameras):
  """Serialized `tf.train.Example` of one scene.

  Args:
    jpegs: list of V JPEG byte strings.
    cameras: `[V, 5]` poses `[x, y, z, yaw, pitch]`.

  Returns:
    bytes.
  """
  example = tf.train.Example(features=tf.train.Features(feature={
      'frames': tf.train.Feature(bytes_list=tf.train.BytesList(value=list(jpegs))),
      'cameras': tf.train.Feature(float_list=tf.train.FloatList(
          value=np.asarray(cameras, dtype=np.float32).ravel().tolist())),
  }))
  return example.SerializeToString()


def partial_path(path):
  """The hidden name `path` is written under before it is complete."""
  directory, name = os.path.split(path)
  return os.path.join(directory, '.%s.partial' % name)


def write_records(path, records):
  """Writes serialized records to the TFRecord file `path`, atomically.

  The records go to `partial_path(path)`, which is renamed to `path` once complete, so
  an interrupted write never leaves a file under the final name.

  Args:
    path: destination file; its directory must exist. Replaced if present.
    records: iterable of bytes, consumed as it is written.
  """
  temporary = partial_path(path)
  try:
    with tf.io.TFRecordWriter(temporary) as writer:
      for record in records:
        writer.write(record)
    os.replace(temporary, path)
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)


def count_records(path):
  """Number of records in the TFRecord file `path`, read from the framing alone.

  Raises:
    ValueError: the file ends inside a record (it is truncated).
  """
  size = os.path.getsize(path)
  count = 0
  with open(path, 'rb') as f:
    offset = 0
    while offset < size:
      header = f.read(_LENGTH_HEADER.size)
      if len(header) < _LENGTH_HEADER.size:
        raise ValueError('%s is truncated: a record header is cut off.' % path)
      length, _ = _LENGTH_HEADER.unpack(header)
      offset += _LENGTH_HEADER.size + length + _DATA_CRC_SIZE
      if offset > size:
        raise ValueError('%s is truncated: its last record is cut off.' % path)
      f.seek(offset)
      count += 1
  return count
