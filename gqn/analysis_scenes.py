"""The scenes the analyses read: every view of a split's first scenes, and their factors.

Frames come at the model's size with the pixels the input pipeline gives (its own decode
and resize); cameras both raw and encoded by data_provider.camera. Factors are the ground
truth this project's renderer writes beside its records (data_provider/scenes/factors.py).
"""

import collections
import os

import numpy as np
import tensorflow.compat.v1 as tf

from data_provider import camera
from data_provider import gqn_tfr_provider
from data_provider import records
from data_provider.scenes import factors as scene_factors

# Every view of some scenes of a split, in record order: frames [S, V, H, W, 3] float32
# in [0, 1] at the model's size, raw_cameras [S, V, 5] ([x, y, z, yaw, pitch]) and
# cameras [S, V, 7] (the model's encoding).
Scenes = collections.namedtuple('Scenes', ['frames', 'raw_cameras', 'cameras'])


def decode_scenes(dataset, jpegs, image_size):
  """Decodes the JPEG frames of scenes by the input pipeline's own decode and resize.

  Args:
    dataset: the dataset name (its stored frame size).
    jpegs: S lists of V encoded frames (bytes) each.
    image_size: the model's frame side.

  Returns:
    [S, V, image_size, image_size, 3] float32 in [0, 1], the pixels a batch of
    data_provider.gqn_tfr_provider.gqn_dataset holds.
  """
  frame_size = gqn_tfr_provider.dataset_info(dataset).frame_size
  num_views = len(jpegs[0])
  with tf.Graph().as_default(), tf.Session() as session:
    encoded = tf.placeholder(tf.string, [num_views], 'jpegs')
    frames = gqn_tfr_provider.decode_frames(encoded, num_views, frame_size,
                                            (image_size, image_size))
    return np.stack([session.run(frames, {encoded: scene}) for scene in jpegs])


def read_scenes(data_dir, dataset, split, max_scenes, image_size):
  """Reads the first `max_scenes` scenes of a split, every view, in record order.

  Record order is the order of the split's files and of the records in each, the order
  of the factors the renderer writes beside them.

  Args:
    data_dir: root of the datasets (holds `<dataset>/<split>/*.tfrecord`).
    dataset: a dataset name of data_provider.gqn_tfr_provider.
    split: 'train' or 'test'.
    max_scenes: how many scenes to read (fewer when the split holds fewer).
    image_size: the model's frame side; stored frames are decoded and resized to it as
      the input pipeline does (`decode_scenes`).

  Returns:
    Scenes.

  Raises:
    FileNotFoundError: the split has no scenes there.
  """
  jpegs, raw = [], []
  for path in gqn_tfr_provider.dataset_files(dataset, data_dir, split):
    if len(jpegs) >= max_scenes:
      break
    if not tf.io.gfile.exists(path):
      continue
    for serialized in tf.io.tf_record_iterator(path):
      scene_jpegs, cameras = records.parse_scene(serialized)
      jpegs.append(scene_jpegs)
      raw.append(cameras)
      if len(jpegs) >= max_scenes:
        break
  if not jpegs:
    raise FileNotFoundError(
        'No %s scenes of %s under %s; render or download the dataset there first '
        '(layout <data_dir>/<dataset>/<train|test>/<i>-of-<n>.tfrecord).'
        % (split, dataset, data_dir))
  raw = np.stack(raw).astype(np.float32)
  return Scenes(decode_scenes(dataset, jpegs, image_size), raw, encode_poses(raw))


def encode_poses(raw_cameras):
  """[..., 5] raw cameras -> [..., 7] model cameras, through data_provider.camera."""
  with tf.Graph().as_default(), tf.Session() as session:
    return session.run(camera.encode_pose(raw_cameras))


def first(scenes, count):
  """The first `count` scenes of `scenes` (all of them when it holds fewer)."""
  return Scenes(*(values[:count] for values in scenes))


def read_factors(data_dir, dataset, split, num_scenes):
  """The factors of the first `num_scenes` scenes of a split, in record order.

  Raises:
    FileNotFoundError: the split has no factors sidecars (not rendered by this
      project's renderer, or rendered before it wrote them); the message says what to do.
  """
  split_dir = os.path.dirname(gqn_tfr_provider.dataset_files(dataset, data_dir, split)[0])
  return scene_factors.read_scene_factors(split_dir)[:num_scenes]
