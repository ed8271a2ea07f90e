"""The scene record codec of DeepMind's gqn-datasets: JPEG frames, Example, TFRecord file.

A scene is one `tf.train.Example` with

    frames:  bytes list, one JPEG per view (FRAMES_KEY)
    cameras: float list, the views' [x, y, z, yaw, pitch] concatenated, views * 5 numbers
             (CAMERAS_KEY)

and a TFRecord file frames each serialized record as

    uint64 length | uint32 masked crc32c(length) | data | uint32 masked crc32c(data)

(little endian), which `count_records` walks without parsing. Everything that writes
scene records (the renderer, the tests' fake datasets) builds them here.
"""

import io
import os
import struct

import numpy as np
from PIL import Image
import tensorflow.compat.v1 as tf

from data_provider import camera

FRAMES_KEY = 'frames'
CAMERAS_KEY = 'cameras'
JPEG_QUALITY = 95

_LENGTH_HEADER = struct.Struct('<QI')  # length, masked crc of the length
_DATA_CRC_SIZE = 4


def encode_jpeg(frame, quality=JPEG_QUALITY, full_chroma=True):
  """JPEG bytes of one `[H, W, 3]` frame.

  Args:
    frame: uint8 pixels, or float pixels in [0, 1] (rounded to the nearest level).
    quality: the JPEG quality, 1..95.
    full_chroma: keep colour at full resolution (no 4:2:0 chroma subsampling), as the
      renderer does since small frames have sharp colour edges everywhere; False keeps
      the encoder's default subsampling.

  Returns:
    bytes.
  """
  pixels = np.asarray(frame)
  if pixels.dtype != np.uint8:
    pixels = np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
  buffer = io.BytesIO()
  # -1 is Pillow's own default (4:2:0 for colour images).
  Image.fromarray(pixels).save(buffer, format='JPEG', quality=quality,
                               subsampling=0 if full_chroma else -1)
  return buffer.getvalue()


def scene_example(jpegs, cameras):
  """The `tf.train.Example` of one scene.

  Args:
    jpegs: list of V encoded frames (bytes).
    cameras: `[V, 5]` poses `[x, y, z, yaw, pitch]` (any shape with V * 5 numbers).

  Returns:
    tf.train.Example with the FRAMES_KEY and CAMERAS_KEY features.
  """
  return tf.train.Example(features=tf.train.Features(feature={
      FRAMES_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=list(jpegs))),
      CAMERAS_KEY: tf.train.Feature(float_list=tf.train.FloatList(
          value=np.asarray(cameras, dtype=np.float32).ravel().tolist())),
  }))


def serialize_scene(jpegs, cameras):
  """Serialized `scene_example(jpegs, cameras)`: one record, bytes."""
  return scene_example(jpegs, cameras).SerializeToString()


def parse_scene(serialized):
  """The encoded frames and cameras of one serialized scene record.

  Returns:
    (jpegs: list of V bytes, cameras: `[V, 5]` float32 raw poses).
  """
  features = tf.train.Example.FromString(serialized).features.feature
  return (list(features[FRAMES_KEY].bytes_list.value),
          np.array(features[CAMERAS_KEY].float_list.value, np.float32).reshape(
              [-1, camera.RAW_POSE_SIZE]))


def partial_path(path):
  """The hidden name `path` is written under before it is complete."""
  directory, name = os.path.split(path)
  return os.path.join(directory, '.%s.partial' % name)


def write_records(path, records):
  """Writes serialized records to the TFRecord file `path`, atomically.

  The records go to `partial_path(path)`, which is renamed to `path` once complete, so
  an interrupted write never leaves a file under the final name.

  Args:
    path: destination file on the local file system; its directory must exist.
      Replaced if present.
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
