"""Small fake GQN datasets in DeepMind's exact TFRecord format, for tests.

Every frame carries its identity so a test can tell which views the pipeline chose:
the left half of the frame codes the view index, the right half the scene id (the
scene's position among all scenes written by one `write_fake_dataset` call), each as a
3-digit base-8 number spread over R, G, B at levels 16 + 32 * digit. Small zero-mean
noise on top makes the frames random-ish without moving the half means; JPEG keeps
those means to within a few levels, area resizing keeps them exactly.
`decode_fake_frame` reads the code back.

`fake_batch` gives one batch of random inputs at a config's sizes, for tests that feed
a model directly.
"""

import os

import numpy as np
import tensorflow.compat.v1 as tf

from data_provider import gqn_tfr_provider
from data_provider import records

_LEVEL_STEP = 32
_NOISE = 8  # Peak noise amplitude; far below half a level step, so codes survive.
_MAX_CODE = 8 ** 3


def _code_color(value):
  """Returns the RGB uint8 levels coding `value` in [0, 512)."""
  digits = [value % 8, (value // 8) % 8, value // 64]
  return np.array([_LEVEL_STEP // 2 + _LEVEL_STEP * d for d in digits], np.float32)


def _uncode_color(mean_rgb):
  digits = np.clip(np.round((np.asarray(mean_rgb, np.float64) - _LEVEL_STEP / 2.)
                            / _LEVEL_STEP), 0, 7).astype(int)
  return int(digits[0] + 8 * digits[1] + 64 * digits[2])


def fake_frame(scene_id, view, frame_size, rng):
  """Returns a `[frame_size, frame_size, 3]` uint8 frame coding (scene_id, view)."""
  if not (0 <= scene_id < _MAX_CODE and 0 <= view < _MAX_CODE):
    raise ValueError('Fake frames code scene ids and views below %d, got scene %d, '
                     'view %d.' % (_MAX_CODE, scene_id, view))
  half = frame_size // 2
  frame = np.empty([frame_size, frame_size, 3], np.float32)
  frame[:, :half] = _code_color(view)
  frame[:, half:] = _code_color(scene_id)
  frame += rng.uniform(-_NOISE, _NOISE, size=frame.shape)
  return np.clip(np.round(frame), 0, 255).astype(np.uint8)


def decode_fake_frame(frame):
  """Reads (scene_id, view) back from a fake frame.

  Args:
    frame: `[H, W, 3]` array, uint8 in [0, 255] or float in [0, 1], at any size (e.g.
      after resizing).

  Returns:
    (scene_id, view) ints.
  """
  frame = np.asarray(frame, np.float64)
  if frame.max() <= 1.0:
    frame = frame * 255.
  width = frame.shape[1]
  # Stay clear of the middle, where JPEG's chroma subsampling blends the two halves.
  left = frame[:, width // 8:3 * width // 8].mean(axis=(0, 1))
  right = frame[:, 5 * width // 8:7 * width // 8].mean(axis=(0, 1))
  return _uncode_color(right), _uncode_color(left)


def encode_fake_jpeg(frame):
  """JPEG bytes of a fake frame: quality 90, the encoder's default chroma subsampling."""
  return records.encode_jpeg(frame, quality=90, full_chroma=False)


def write_fake_dataset(root, dataset, mode='train', num_files=None, scenes_per_file=2,
                       seed=0, frame_size=None):
  """Writes a few valid scene records of `dataset` under `root`, DeepMind's layout.

  Args:
    root: dataset root; files go to `root/<basepath>/<split>/<i>-of-<n>.tfrecord`.
    dataset: any name of the provider's table.
    mode: 'train' / 'test' or a tf.estimator.ModeKeys value (EVAL, PREDICT -> 'test').
    num_files: how many of the declared files to write, from the first; None writes 2
      (fewer if fewer are declared), i.e. a partial download, the common case.
    scenes_per_file: scene records per file.
    seed: seeds frames and cameras.
    frame_size: stored frame side; None is the table's. Other sizes give records the
      provider refuses (as files of another dataset).

  Returns:
    List of written file paths. Scene ids count scenes over these files in order
    (file i holds ids i * scenes_per_file ...); see `read_fake_records`.
  """
  info = gqn_tfr_provider.dataset_info(dataset)
  frame_size = frame_size or info.frame_size
  declared = gqn_tfr_provider.dataset_files(dataset, root, mode)
  if num_files is None:
    num_files = min(2, len(declared))
  rng = np.random.RandomState(seed)
  paths = declared[:num_files]
  tf.io.gfile.makedirs(os.path.dirname(paths[0]))

  def scene_record(scene_id):
    frames = [encode_fake_jpeg(fake_frame(scene_id, view, frame_size, rng))
              for view in range(info.sequence_size)]
    cameras = np.concatenate([
        rng.uniform(-1., 1., size=[info.sequence_size, 3]),  # x, y, z
        rng.uniform(-np.pi, np.pi, size=[info.sequence_size, 1]),  # yaw
        rng.uniform(-0.5, 0.5, size=[info.sequence_size, 1]),  # pitch
    ], axis=1).astype(np.float32)
    return records.serialize_scene(frames, cameras)

  for i, path in enumerate(paths):
    records.write_records(path, [scene_record(i * scenes_per_file + j)
                                 for j in range(scenes_per_file)])
  return paths


def read_fake_records(paths):
  """Reads back the raw cameras of the scenes written to `paths`, by scene id.

  Returns:
    List of `[sequence_size, 5]` float32 arrays `[x, y, z, yaw, pitch]`, index = the
    scene id coded in the frames, when `paths` is the list `write_fake_dataset` returned.
  """
  return [records.parse_scene(record)[1]
          for path in paths for record in tf.io.tf_record_iterator(path)]


def fake_batch(config, batch=3, seed=0):
  """One batch of random inputs at `config`'s sizes, as the model_fn's constants.

  Returns:
    (Query(Context(frames [B, K, H, W, 3] in [0, 1], cameras [B, K, 7] in [-1, 1]),
           query_camera [B, 7]),
     target frames [B, H, W, 3]), float32 constants in the default graph; K is
    CONTEXT_SIZE.
  """
  rng = np.random.RandomState(seed)
  height, width, views = config.IMG_HEIGHT, config.IMG_WIDTH, config.CONTEXT_SIZE
  frames = rng.uniform(size=(batch, views, height, width, 3)).astype(np.float32)
  cameras = rng.uniform(-1, 1, size=(batch, views, 7)).astype(np.float32)
  query = rng.uniform(-1, 1, size=(batch, 7)).astype(np.float32)
  target = rng.uniform(size=(batch, height, width, 3)).astype(np.float32)
  context = gqn_tfr_provider.Context(tf.constant(frames), tf.constant(cameras))
  return gqn_tfr_provider.Query(context, tf.constant(query)), tf.constant(target)
