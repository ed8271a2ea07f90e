"""Input pipeline for the GQN datasets (DeepMind's gqn-datasets TFRecord format).

Pure functions over `tf.data`, after deepmind/gqn-datasets `data_reader.py`. A scene
record holds `sequence_size` views of one scene; every example the pipeline yields
draws K + 1 distinct views of a scene at random (inside `map`, per example): the first
K form the context `{(x^k, v^k)}` of the paper, the last one is the query `(x^q, v^q)`.

Layout on disk (exactly DeepMind's, so their download can be used as is):

    ROOT/<basepath>/<train|test>/<i>-of-<n>.tfrecord    i = 1..n, both zero-padded

Each record is a `tf.train.Example` with

    frames:  bytes list of `sequence_size` JPEG images, frame_size x frame_size x 3
    cameras: float list of `sequence_size * 5` numbers, [x, y, z, yaw, pitch] per view
             (yaw and pitch in radians)

The data is at gs://gqn-dataset/<basepath> (https://github.com/deepmind/gqn-datasets);
ROOT may be that bucket itself ('gs://gqn-dataset') since files are read with tf.io.gfile.
"""

import collections
import os

import numpy as np
import tensorflow.compat.v1 as tf

from data_provider import camera
from data_provider import logs
from data_provider import record_check
from data_provider import record_guards
from data_provider import records
# The pose encoder lives in `camera`; it stays importable from here, where tf-gqn had it.
from data_provider.camera import encode_pose

Context = collections.namedtuple('Context', ['frames', 'cameras'])
Query = collections.namedtuple('Query', ['context', 'query_camera'])
DatasetInfo = collections.namedtuple(
    'DatasetInfo',
    ['basepath', 'train_size', 'test_size', 'frame_size', 'sequence_size'])

# train_size / test_size count files (not scenes), as in DeepMind's data_reader.py.
_DATASETS = dict(
    jaco=DatasetInfo(
        basepath='jaco', train_size=3600, test_size=400,
        frame_size=64, sequence_size=11),
    mazes=DatasetInfo(
        basepath='mazes', train_size=1080, test_size=120,
        frame_size=84, sequence_size=300),
    rooms_free_camera_with_object_rotations=DatasetInfo(
        basepath='rooms_free_camera_with_object_rotations',
        train_size=2034, test_size=226, frame_size=128, sequence_size=10),
    rooms_ring_camera=DatasetInfo(
        basepath='rooms_ring_camera', train_size=2160, test_size=240,
        frame_size=64, sequence_size=10),
    rooms_free_camera_no_object_rotations=DatasetInfo(
        basepath='rooms_free_camera_no_object_rotations',
        train_size=2160, test_size=240, frame_size=64, sequence_size=10),
    shepard_metzler_5_parts=DatasetInfo(
        basepath='shepard_metzler_5_parts', train_size=900, test_size=100,
        frame_size=64, sequence_size=15),
    shepard_metzler_7_parts=DatasetInfo(
        basepath='shepard_metzler_7_parts', train_size=900, test_size=100,
        frame_size=64, sequence_size=15),
    # Rendered by this project's own renderer in the same format. They carry their own
    # names so a small synthetic set is never taken for DeepMind's data.
    synth_rooms_ring_camera=DatasetInfo(
        basepath='synth_rooms_ring_camera', train_size=20, test_size=4,
        frame_size=64, sequence_size=10),
    synth_shepard_metzler_5_parts=DatasetInfo(
        basepath='synth_shepard_metzler_5_parts', train_size=20, test_size=4,
        frame_size=64, sequence_size=15),
    synth_shepard_metzler_7_parts=DatasetInfo(
        basepath='synth_shepard_metzler_7_parts', train_size=20, test_size=4,
        frame_size=64, sequence_size=15),
)

_PROJECT_DATASETS = frozenset(
    name for name in _DATASETS if name.startswith('synth_'))

# Whole batches kept ready ahead of the consumer. Small on purpose: every prefetched
# batch is batch_size * (K + 1) decoded float frames.
_PREFETCH_BATCHES = 2


def dataset_names():
  """Returns the names of all known datasets, sorted."""
  return sorted(_DATASETS)


def dataset_info(name):
  """Returns the `DatasetInfo` of dataset `name`.

  Args:
    name: one of `dataset_names()`, e.g. 'rooms_ring_camera'.

  Returns:
    DatasetInfo(basepath, train_size, test_size, frame_size, sequence_size); the sizes
    count files per split, frame_size is the stored image side in pixels and
    sequence_size the number of views per scene record.

  Raises:
    ValueError: `name` is not a known dataset.
  """
  if name not in _DATASETS:
    raise ValueError('Unknown GQN dataset %r; valid names are: %s.'
                     % (name, ', '.join(dataset_names())))
  return _DATASETS[name]


def _split_for_mode(mode):
  """Maps an Estimator mode or a split name to the split directory 'train' / 'test'."""
  modes = tf.estimator.ModeKeys
  split = {
      modes.TRAIN: 'train',
      modes.EVAL: 'test',
      modes.PREDICT: 'test',
      'train': 'train',
      'test': 'test',
  }.get(mode)
  if split is None:
    raise ValueError(
        'Unknown mode %r: use tf.estimator.ModeKeys.TRAIN (reads the train split), '
        'EVAL or PREDICT (read the test split), or the split names \'train\' / '
        '\'test\'.' % (mode,))
  return split


def dataset_files(dataset, root, mode):
  """Returns the paths of all files a split of `dataset` declares, in order.

  Args:
    dataset: dataset name, see `dataset_names()`.
    root: directory holding one sub-directory per dataset (may be 'gs://gqn-dataset').
    mode: tf.estimator.ModeKeys.TRAIN / EVAL / PREDICT or 'train' / 'test'.

  Returns:
    List of `ROOT/<basepath>/<split>/<i>-of-<n>.tfrecord`, i = 1..n, both zero-padded
    to len(str(n)), e.g. '.../rooms_ring_camera/train/0001-of-2160.tfrecord'. The files
    need not exist.

  Raises:
    ValueError: unknown dataset or mode.
  """
  info = dataset_info(dataset)
  split = _split_for_mode(mode)
  num_files = info.train_size if split == 'train' else info.test_size
  width = len(str(num_files))
  directory = os.path.join(root, info.basepath, split)
  return [os.path.join(directory, '%0*d-of-%0*d.tfrecord'
                       % (width, i, width, num_files))
          for i in range(1, num_files + 1)]


def _existing_files(dataset, root, mode):
  """Returns the declared files of a split that exist; logs partial downloads.

  Raises:
    FileNotFoundError: none of the declared files exist; the message names the
      directory, the expected layout and where the data comes from.
  """
  declared = dataset_files(dataset, root, mode)
  directory = os.path.dirname(declared[0])
  # One glob instead of one stat per file: a split has up to 3600 files and may sit
  # in a bucket.
  present = set()
  if tf.io.gfile.isdir(directory):
    present = set(tf.io.gfile.glob(os.path.join(directory, '*.tfrecord')))
  files = [path for path in declared if path in present]
  if not files:
    if dataset in _PROJECT_DATASETS:
      source = ('it is rendered by this project\'s own renderer (it is not part of '
                'DeepMind\'s gqn-datasets)')
    else:
      source = ('download it from DeepMind\'s gqn-datasets '
                '(https://github.com/deepmind/gqn-datasets), e.g. '
                '`gsutil -m cp -R gs://gqn-dataset/%s %s`'
                % (dataset_info(dataset).basepath, root))
    found = ''
    if present:
      found = (' It holds %d *.tfrecord files, none named as expected (e.g. %s).'
               % (len(present), os.path.basename(sorted(present)[0])))
    else:
      # Say what is there when the layout explains it (e.g. ROOT/<dataset> given as ROOT).
      hint = record_check.layout_hint(
          root, dataset_info(dataset).basepath, _split_for_mode(mode),
          set(info.basepath for info in _DATASETS.values()))
      found = ' ' + hint if hint else ''
    raise FileNotFoundError(
        'No %s files found in %s.%s Expected %d files named %s ... %s there '
        '(layout ROOT/<dataset>/<train|test>/<i>-of-<n>.tfrecord); %s.'
        % (dataset, directory, found, len(declared), os.path.basename(declared[0]),
           os.path.basename(declared[-1]), source))
  if len(files) < len(declared):
    logs.logger.info('%s: using %d of %d files in %s (partial download).',
                     dataset, len(files), len(declared), directory)
  return files


def _select_views(sequence_size, num_views, seed_pair):
  """Draws `num_views` distinct view indices of one scene, uniformly at random.

  The top-k of i.i.d. uniform scores is a uniformly random ordered subset. With a seed
  the scores are stateless, so the choice depends only on (seed, example index) and not
  on the order in which parallel map calls happen to run.

  Returns:
    `[num_views]` int32 indices into the scene's views.
  """
  if seed_pair is None:
    scores = tf.random.uniform([sequence_size])
  else:
    scores = tf.random.stateless_uniform([sequence_size], seed=seed_pair)
  _, indices = tf.nn.top_k(scores, k=num_views)
  return indices


def _parse(serialized, sequence_size):
  """Parses one scene record into `[S]` JPEG strings and `[S, 5]` raw cameras."""
  features = tf.io.parse_single_example(serialized, {
      records.FRAMES_KEY: tf.io.FixedLenFeature([sequence_size], tf.string),
      records.CAMERAS_KEY: tf.io.FixedLenFeature(
          [sequence_size * camera.RAW_POSE_SIZE], tf.float32),
  })
  cameras = tf.reshape(features[records.CAMERAS_KEY],
                       [sequence_size, camera.RAW_POSE_SIZE])
  return record_guards.checked_scene(features[records.FRAMES_KEY], cameras)


def _decode_frames(jpegs, num_views, frame_size, out_size):
  """Decodes `[N]` JPEG strings to `[N, H, W, 3]` frames.

  Args:
    jpegs: `[num_views]` string tensor; `num_views` is static.
    num_views: N.
    frame_size: the stored frame side.
    out_size: (H, W), the output frame size.

  Returns:
    uint8 frames when out_size is the stored size (`_frames_to_float` converts whole
    batches to [0, 1]), float32 frames in [0, 1] when they are resized.
  """
  # One decode op per view: for N known in advance this is cheaper than a tf.map_fn
  # loop, whose overhead is larger than the decoding of a 64 px frame.
  frames = tf.stack([tf.image.decode_jpeg(jpegs[view], channels=3)
                     for view in range(num_views)])
  # Fails at run time if the files do not hold frames of the size the table declares
  # (a record of another dataset), also when they are resized below.
  frames = tf.ensure_shape(frames, [num_views, frame_size, frame_size, 3])
  if out_size == (frame_size, frame_size):
    return frames
  frames = tf.image.convert_image_dtype(frames, tf.float32)  # uint8 -> [0, 1]
  if max(out_size) <= frame_size:
    # Area averaging does not alias when shrinking (84 / 128 px -> 64 px).
    # resize_images is TensorFlow 1.15's spelling that does not warn in 2.x; it runs
    # the same resize_area / resize_bilinear kernels (align_corners=False).
    frames = tf.image.resize_images(frames, list(out_size), tf.image.ResizeMethod.AREA)
  else:
    frames = tf.image.resize_images(frames, list(out_size), tf.image.ResizeMethod.BILINEAR)
  frames = tf.clip_by_value(frames, 0.0, 1.0)
  frames.set_shape([num_views] + list(out_size) + [3])
  return frames


def decode_frames(jpegs, num_views, frame_size, out_size):
  """Decodes `[N]` JPEG strings to `[N, H, W, 3]` float32 frames in [0, 1].

  The frames exactly as a batch of `gqn_dataset` holds them: the pipeline's decode and
  area (or bilinear) resize, then its conversion to float. For tools that read whole
  scenes outside the pipeline (the representation analyses), so that they see the
  pixels the model was trained on.

  Args:
    jpegs: `[num_views]` string tensor; `num_views` is static.
    num_views: N.
    frame_size: the stored frame side (the dataset's DatasetInfo.frame_size); other
      sizes fail at run time.
    out_size: (H, W), the output frame size.
  """
  frames = _decode_frames(jpegs, num_views, frame_size, out_size)
  return tf.image.convert_image_dtype(frames, tf.float32)


def _output_size(custom_frame_size, frame_size):
  """(H, W) of the output frames from `gqn_dataset`'s custom_frame_size.

  Raises:
    ValueError: custom_frame_size is not None, a positive int or a pair of them.
  """
  if custom_frame_size is None:
    return (frame_size, frame_size)
  size = custom_frame_size
  if not isinstance(size, (tuple, list)):
    size = (size, size)
  if len(size) != 2 or not all(
      isinstance(side, (int, np.integer)) and side >= 1 for side in size):
    raise ValueError('custom_frame_size must be a positive number of pixels, a pair '
                     '(height, width) of them, or None; got %r.' % (custom_frame_size,))
  return (int(size[0]), int(size[1]))


def _frames_to_float(features, labels):
  """A batch's frames as float32 in [0, 1]: one conversion per batch, not per example.

  uint8 frames are divided by 255 (as tf.image.convert_image_dtype does); frames that
  are float32 already (resized ones) pass unchanged.
  """
  to_float = lambda frames: tf.image.convert_image_dtype(frames, tf.float32)
  context = features.context._replace(frames=to_float(features.context.frames))
  return features._replace(context=context), to_float(labels)


def _random_context_size(batch_index, features, labels, max_views, seed):
  """Keeps the first k context views of every example of a batch, k uniform in 1..max_views.

  One k per batch, as the paper's training did: the examples' views are already a random
  choice of their scenes', so the first k are a random k of them. With a seed, k is a
  stateless draw from (seed, -1 - batch index): it depends on neither the order of
  parallel map calls nor the view choice, whose stream positions (seed, example index)
  are never negative.

  Args:
    batch_index: int64 scalar, position of the batch in the stream.
    features: Query(Context(frames [B, K, H, W, 3], cameras [B, K, 7]), query_camera).
    labels: [B, H, W, 3], passed through.
    max_views: K, the largest k.
    seed: None or int; see `gqn_dataset`.

  Returns:
    (features with frames [B, k, H, W, 3] and cameras [B, k, 7], labels); k is known
    only at run time (the scene encoder sums over views).
  """
  if seed is None:
    views = tf.random.uniform([], 1, max_views + 1, dtype=tf.int32)
  else:
    seed_pair = tf.stack([tf.constant(seed, tf.int64), -1 - tf.cast(batch_index, tf.int64)])
    views = tf.random.stateless_uniform([], seed_pair, 1, max_views + 1, dtype=tf.int32)
  context = Context(frames=features.context.frames[:, :views],
                    cameras=features.context.cameras[:, :views])
  return features._replace(context=context), labels


def _preprocess(index, serialized, info, context_size, out_size, seed):
  """Turns one scene record into a (Query, target frame) example.

  Args:
    index: int64 scalar, position of the example in the stream (counts on across
      epochs, so a seeded pipeline still picks new views for a scene every epoch).
    serialized: string scalar, one `tf.train.Example`.
    info: the dataset's DatasetInfo.
    context_size: K.
    out_size: (H, W) of the output frames.
    seed: None or int; see `gqn_dataset`.

  Returns:
    (Query(Context(frames [K, H, W, 3], cameras [K, 7]), query_camera [7]),
     target frame [H, W, 3]); frames as `_decode_frames` returns them.
  """
  num_views = context_size + 1
  jpegs, raw_cameras = _parse(serialized, info.sequence_size)
  seed_pair = None
  if seed is not None:
    seed_pair = tf.stack([tf.constant(seed, tf.int64), tf.cast(index, tf.int64)])
  indices = _select_views(info.sequence_size, num_views, seed_pair)
  # Gather before decoding: a maze record has 300 views and we need K + 1 of them.
  frames = _decode_frames(tf.gather(jpegs, indices), num_views,
                          info.frame_size, out_size)  # [K+1, H, W, 3]
  cameras = encode_pose(tf.gather(raw_cameras, indices))  # [K+1, 7]
  cameras.set_shape([num_views, camera.POSE_SIZE])
  context = Context(frames=frames[:context_size], cameras=cameras[:context_size])
  query = Query(context=context, query_camera=cameras[context_size])
  return query, frames[context_size]


def gqn_dataset(dataset, context_size, root, mode, batch_size=1, num_epochs=1,
                custom_frame_size=None, num_threads=4, buffer_size=256, seed=None,
                input_context=None, bad_records=None, random_context_size=False):
  """Builds the tf.data pipeline of (features, labels) batches for a GQN dataset.

  Each example is one scene with K = `context_size` context views and one query view,
  drawn per example (inside `map`) as K + 1 distinct views of the scene; a new draw is
  made every time a scene comes round again.

  TRAIN reads the 'train' split, shuffles the file order and `buffer_size` scene records
  (records, not batches) and drops the last partial batch so the batch size is static.
  EVAL / PREDICT / 'test' read the 'test' split in file order, without shuffling, and
  keep the last partial batch. Both repeat `num_epochs` times (None: forever).

  Memory is bounded by: the shuffle buffer of `buffer_size` serialized records (TRAIN
  only; JPEG bytes, ~30-60 KB per 64 px rooms scene, ~1-2 MB per 300-view maze scene),
  up to `num_threads` examples being decoded (only the K + 1 chosen views are decoded),
  one batch being filled (uint8 frames unless resized: batch_size * (K + 1) * H * W * 3
  bytes, ~2.7 MB for B=36, K=5, 64 px) and at most 3 batches of float32 frames (2
  prefetched, 1 being converted), each 4 times that (~10 MB). Nothing grows with the
  dataset size.

  Args:
    dataset: dataset name, see `dataset_names()`.
    context_size: K, the number of context views per example, 1 <= K < sequence_size.
    root: directory holding `<basepath>/<train|test>/*.tfrecord` (or 'gs://gqn-dataset').
    mode: tf.estimator.ModeKeys.TRAIN / EVAL / PREDICT, or 'train' / 'test'.
    batch_size: B, examples per batch.
    num_epochs: passes over the data; None repeats forever.
    custom_frame_size: side H = W of the output frames, or a pair (H, W) for frames
      that are not square (a config whose IMG_HEIGHT != IMG_WIDTH); None keeps the
      stored size. 84 px (mazes) and 128 px (rooms_free_camera_with_object_rotations)
      are trained at 64. Shrinking uses area resizing.
    num_threads: parallel record parsing / decoding calls, and files read at once.
    buffer_size: scene records in the TRAIN shuffle buffer.
    seed: None, or an int that makes the file order, the record shuffle and the view
      choice deterministic.
    input_context: optional tf.distribute.InputContext; when given, this pipeline reads
      only its share of the files (every num_input_pipelines-th, from
      input_pipeline_id).
    bad_records: what a bad record does (a file that breaks off, a record that does not
      parse, a frame that is not a JPEG of the dataset's size, non-finite cameras).
      None: the pipeline fails with an error naming the record's file. A
      `record_check.BadRecords()`: the data ends cleanly before it and the collector
      holds it (call its `raise_if_stopped()` after training / evaluating);
      `BadRecords(skip=True)`: bad records are skipped and counted there.
    random_context_size: TRAIN only: each batch keeps the first k of its K context
      views, k drawn uniformly from 1..K per batch (GQNConfig.RANDOM_CONTEXT_SIZE, the
      paper's training), whichever model trains on it. The test split always gives K
      views, so evaluations compare at one K.

  Returns:
    tf.data.Dataset of `(features, labels)`:
      features: Query(context=Context(frames [B, K, H, W, 3] float32 in [0, 1],
                                       cameras [B, K, 7]),
                      query_camera [B, 7]),
      labels: the query frame x^q, [B, H, W, 3] float32 in [0, 1].
    H, W are static; K is static unless `random_context_size` (in TRAIN); B is static
    in TRAIN.

  Raises:
    ValueError: unknown dataset or mode, context_size out of range, bad frame size, or
      no files left for this input pipeline; record_check.DatasetMismatchError: the
      first file holds scenes of another view count or frame size than the table's.
    FileNotFoundError: none of the split's files exist.
  """
  info = dataset_info(dataset)
  split = _split_for_mode(mode)
  if not 1 <= context_size <= info.sequence_size - 1:
    raise ValueError(
        'context_size %d is out of range for %s: its scenes have %d views and each '
        'example needs context_size + 1 of them, so context_size must be in [1, %d].'
        % (context_size, dataset, info.sequence_size, info.sequence_size - 1))
  out_size = _output_size(custom_frame_size, info.frame_size)
  is_training = split == 'train'

  files = _existing_files(dataset, root, mode)
  if input_context is not None:
    # Shard files, not records, so no two pipelines read the same file; done before
    # any shuffling so that unseeded pipelines still partition the data.
    num_existing = len(files)
    files = files[input_context.input_pipeline_id::
                  input_context.num_input_pipelines]
    if not files:
      raise ValueError(
          'Input pipeline %d of %d has no files: only %d %s files exist; use fewer '
          'pipelines or download more files.'
          % (input_context.input_pipeline_id, input_context.num_input_pipelines,
             num_existing, dataset))
  record_check.check_first_record(files[0], dataset, info, _DATASETS)

  data = tf.data.Dataset.from_tensor_slices(files)
  if is_training:
    data = data.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
  cycle_length = max(1, min(num_threads, len(files)))
  # Records come with their file and position, so a bad one can be named.
  data = data.interleave(record_guards.read_records, cycle_length=cycle_length,
                         block_length=1, num_parallel_calls=cycle_length)
  if is_training:
    data = data.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
  data = data.repeat(num_epochs)
  # The index feeds the seeded view choice; it keeps counting across epochs.
  data = data.enumerate()
  data = data.map(
      lambda index, record: record_guards.guarded(
          lambda index, serialized: _preprocess(
              index, serialized, info, context_size, out_size, seed),
          index, *record),
      num_parallel_calls=num_threads)
  data = record_guards.drop_bad_records(data, bad_records, info)
  data = data.batch(batch_size, drop_remainder=is_training)
  if random_context_size and is_training:
    # Before the frames become float: the views left out are never converted.
    data = data.enumerate().map(
        lambda index, batch: _random_context_size(index, batch[0], batch[1], context_size,
                                                  seed))
  data = data.map(_frames_to_float)
  return data.prefetch(_PREFETCH_BATCHES)


def gqn_input_fn(dataset, context_size, root, mode, batch_size=1, num_epochs=1,
                 custom_frame_size=None, num_threads=4, buffer_size=256, seed=None,
                 input_context=None, bad_records=None, random_context_size=False):
  """Returns one batch of `gqn_dataset(...)` from a one-shot iterator.

  For tf.estimator, as tf-gqn used it:
  `input_fn=lambda: gqn_input_fn('rooms_ring_camera', 5, root, mode, 36)`.
  Arguments, memory bound and raised errors are those of `gqn_dataset`.

  Returns:
    (features, labels) tensors: features = Query(context=Context(frames [B, K, H, W, 3],
    cameras [B, K, 7]), query_camera [B, 7]), labels = target frames [B, H, W, 3].
  """
  data = gqn_dataset(dataset, context_size, root, mode, batch_size=batch_size,
                     num_epochs=num_epochs, custom_frame_size=custom_frame_size,
                     num_threads=num_threads, buffer_size=buffer_size, seed=seed,
                     input_context=input_context, bad_records=bad_records,
                     random_context_size=random_context_size)
  return tf.data.make_one_shot_iterator(data).get_next()


def pipeline_seed(seed, input_context):
  """The seed of one input pipeline: distinct per pipeline, None stays None.

  Pipelines already read disjoint files; distinct seeds also make their shuffles and
  view choices independent instead of moving in lockstep.

  Args:
    seed: None or the run's int seed.
    input_context: None or the pipeline's tf.distribute.InputContext.

  Returns:
    None, or seed + input_pipeline_id.
  """
  if seed is None or input_context is None:
    return seed
  return seed + input_context.input_pipeline_id


def make_input_fn(dataset, context_size, root, mode, batch_size=1, num_epochs=1,
                  custom_frame_size=None, num_threads=4, buffer_size=256, seed=None,
                  bad_records=None, distributed=False, random_context_size=False):
  """The Estimator's input_fn for a split of `dataset`, on one device or distributed.

  Arguments, memory bound and raised errors are those of `gqn_dataset`, plus:

  Args:
    distributed: False: the input_fn takes no argument and returns `gqn_input_fn`'s
      (features, labels) tensors. True, for an Estimator with a distribution strategy:
      the input_fn takes the worker's tf.distribute.InputContext (or None) and returns
      the dataset of `batch_size` batches that the Estimator hands to the worker's
      replicas in turn (`batch_size` is per replica); each pipeline reads its share of
      the files, seeded with `pipeline_seed(seed, input_context)`.

  Returns:
    A function of no arguments, or of `input_context` when distributed.
  """
  arguments = dict(
      dataset=dataset, context_size=context_size, root=root, mode=mode,
      batch_size=batch_size, num_epochs=num_epochs, custom_frame_size=custom_frame_size,
      num_threads=num_threads, buffer_size=buffer_size, bad_records=bad_records,
      random_context_size=random_context_size)
  if distributed:
    def distributed_input_fn(input_context=None):
      return gqn_dataset(seed=pipeline_seed(seed, input_context),
                         input_context=input_context, **arguments)
    return distributed_input_fn
  return lambda: gqn_input_fn(seed=seed, **arguments)
