"""Tests of the GQN TFRecord input pipeline on fake records in DeepMind's format."""

import logging
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from data_provider import gqn_tfr_provider as provider
from data_provider import logs
from data_provider import record_check
from tests import fake_data

_DEEPMIND = {
    'jaco': ('jaco', 3600, 400, 64, 11),
    'mazes': ('mazes', 1080, 120, 84, 300),
    'rooms_free_camera_with_object_rotations': (
        'rooms_free_camera_with_object_rotations', 2034, 226, 128, 10),
    'rooms_ring_camera': ('rooms_ring_camera', 2160, 240, 64, 10),
    'rooms_free_camera_no_object_rotations': (
        'rooms_free_camera_no_object_rotations', 2160, 240, 64, 10),
    'shepard_metzler_5_parts': ('shepard_metzler_5_parts', 900, 100, 64, 15),
    'shepard_metzler_7_parts': ('shepard_metzler_7_parts', 900, 100, 64, 15),
}
_PROJECT = {
    'synth_rooms_ring_camera': ('synth_rooms_ring_camera', 20, 4, 64, 10),
    'synth_shepard_metzler_5_parts': ('synth_shepard_metzler_5_parts', 20, 4, 64, 15),
    'synth_shepard_metzler_7_parts': ('synth_shepard_metzler_7_parts', 20, 4, 64, 15),
}


def _np_encode_pose(raw):
  raw = np.asarray(raw, np.float64)
  return np.concatenate([raw[..., :3],
                         np.sin(raw[..., 3:4]), np.cos(raw[..., 3:4]),
                         np.sin(raw[..., 4:5]), np.cos(raw[..., 4:5])], axis=-1)


def _read(dataset, root, mode, max_batches=None, **kwargs):
  """Runs gqn_input_fn in a fresh graph; returns (static tensors, list of batches)."""
  batches = []
  with tf.Graph().as_default():
    features, labels = provider.gqn_input_fn(dataset, root=root, mode=mode, **kwargs)
    with tf.Session() as sess:
      while max_batches is None or len(batches) < max_batches:
        try:
          batches.append(sess.run((features, labels)))
        except tf.errors.OutOfRangeError:
          break
  return (features, labels), batches


def _examples(batches):
  """Flattens batches into (context frames, context cameras, query camera, target)."""
  for features, labels in batches:
    for i in range(labels.shape[0]):
      yield (features.context.frames[i], features.context.cameras[i],
             features.query_camera[i], labels[i])


def _views_of(example):
  """Returns (scene id, tuple of view indices: context..., query) of an example."""
  frames, _, _, target = example
  codes = [fake_data.decode_fake_frame(f) for f in list(frames) + [target]]
  scenes = set(scene for scene, _ in codes)
  assert len(scenes) == 1, 'views of one example come from different scenes: %s' % codes
  return scenes.pop(), tuple(view for _, view in codes)


def test_table_lists_deepmind_and_project_datasets():
  expected = dict(_DEEPMIND)
  expected.update(_PROJECT)
  assert provider.dataset_names() == sorted(expected)
  for name, values in expected.items():
    assert tuple(provider.dataset_info(name)) == values, name
    assert provider.dataset_info(name) == provider.DatasetInfo(*values)


def test_dataset_info_unknown_name_lists_valid_names():
  with pytest.raises(ValueError) as error:
    provider.dataset_info('rooms_ring')
  assert "'rooms_ring'" in str(error.value)
  for name in list(_DEEPMIND) + list(_PROJECT):
    assert name in str(error.value)


def test_dataset_files_follow_deepmind_naming():
  files = provider.dataset_files('rooms_ring_camera', '/data', 'train')
  assert len(files) == 2160
  assert files[0] == '/data/rooms_ring_camera/train/0001-of-2160.tfrecord'
  assert files[-1] == '/data/rooms_ring_camera/train/2160-of-2160.tfrecord'
  files = provider.dataset_files('mazes', '/data', tf.estimator.ModeKeys.EVAL)
  assert len(files) == 120
  assert files[6] == '/data/mazes/test/007-of-120.tfrecord'
  files = provider.dataset_files('synth_rooms_ring_camera', 'r',
                                 tf.estimator.ModeKeys.PREDICT)
  assert files == ['r/synth_rooms_ring_camera/test/%d-of-4.tfrecord' % i
                   for i in range(1, 5)]
  files = provider.dataset_files('shepard_metzler_5_parts', 'r',
                                 tf.estimator.ModeKeys.TRAIN)
  assert files[0] == 'r/shepard_metzler_5_parts/train/001-of-900.tfrecord'


def test_encode_pose_values_and_order():
  raw = np.array([[[1., 2., 3., np.pi / 2, 0.],
                   [-1., 0.5, 0., 0., -np.pi / 6]],
                  [[0., 0., 0., -np.pi, 0.25],
                   [4., -4., 2., 2.5, -0.5]]])  # [2, 2, 5], float64
  with tf.Graph().as_default():
    encoded = provider.encode_pose(raw)
    placeholder = tf.placeholder(tf.float32, [None, 5])
    from_tensor = provider.encode_pose(placeholder)
    with tf.Session() as sess:
      value, value_t = sess.run((encoded, from_tensor), {placeholder: raw[0, :, :]})
  assert encoded.dtype == tf.float32
  assert encoded.shape.as_list() == [2, 2, 7]
  assert from_tensor.shape.as_list() == [None, 7]
  np.testing.assert_allclose(value, _np_encode_pose(raw), atol=1e-6)
  np.testing.assert_allclose(value_t, _np_encode_pose(raw[0]), atol=1e-6)
  # [x, y, z, sin yaw, cos yaw, sin pitch, cos pitch], spelled out for one view.
  np.testing.assert_allclose(value[0, 0], [1., 2., 3., 1., 0., 0., 1.], atol=1e-6)
  np.testing.assert_allclose(value[0, 1], [-1., 0.5, 0., 0., 1., -0.5, np.sqrt(.75)],
                             atol=1e-6)


def test_encode_pose_rejects_wrong_size():
  with tf.Graph().as_default():
    with pytest.raises(ValueError) as error:
      provider.encode_pose(np.zeros([3, 7]))
  assert '[..., 5]' in str(error.value)


@pytest.mark.parametrize('dataset', sorted(list(_DEEPMIND) + list(_PROJECT)))
def test_every_dataset_yields_scenes_with_matching_cameras(tmp_path, dataset):
  root = str(tmp_path)
  info = provider.dataset_info(dataset)
  if info.sequence_size > 100:  # mazes: 300 views per scene, keep it small.
    paths = fake_data.write_fake_dataset(root, dataset, 'test', num_files=1,
                                         scenes_per_file=2)
  else:
    paths = fake_data.write_fake_dataset(root, dataset, 'test')
  raw_cameras = fake_data.read_fake_records(paths)
  context_size = 5
  (features, labels), batches = _read(dataset, root, tf.estimator.ModeKeys.EVAL,
                                      context_size=context_size, batch_size=2,
                                      custom_frame_size=64)
  # Static shapes: K, H, W known; the batch dimension may stay open outside TRAIN.
  assert features.context.frames.shape.as_list() == [None, context_size, 64, 64, 3]
  assert features.context.cameras.shape.as_list() == [None, context_size, 7]
  assert features.query_camera.shape.as_list() == [None, 7]
  assert labels.shape.as_list() == [None, 64, 64, 3]
  assert features.context.frames.dtype == tf.float32
  assert labels.dtype == tf.float32
  examples = list(_examples(batches))
  assert len(examples) == len(raw_cameras)  # One epoch of the test split.
  seen_scenes, view_choices = [], []
  for example in examples:
    frames, cameras, query_camera, target = example
    assert 0.0 <= frames.min() and frames.max() <= 1.0
    assert 0.0 <= target.min() and target.max() <= 1.0
    scene, views = _views_of(example)
    assert len(set(views)) == context_size + 1  # Distinct views.
    expected = _np_encode_pose(raw_cameras[scene][list(views)])
    np.testing.assert_allclose(cameras, expected[:context_size], atol=1e-5)
    np.testing.assert_allclose(query_camera, expected[context_size], atol=1e-5)
    seen_scenes.append(scene)
    view_choices.append(views)
  assert sorted(seen_scenes) == list(range(len(raw_cameras)))
  # Drawn per example, not once for the whole pipeline.
  assert len(set(view_choices)) > 1


def test_views_are_redrawn_every_epoch(tmp_path):
  root = str(tmp_path)
  fake_data.write_fake_dataset(root, 'rooms_ring_camera', 'test', num_files=1,
                               scenes_per_file=3)
  for seed in (None, 3):
    _, batches = _read('rooms_ring_camera', root, 'test', context_size=4,
                       num_epochs=4, seed=seed)
    choices = {}
    for example in _examples(batches):
      scene, views = _views_of(example)
      choices.setdefault(scene, []).append(views)
    assert sorted(choices) == [0, 1, 2]
    for scene, views in choices.items():
      assert len(views) == 4
      assert len(set(views)) > 1, 'scene %d saw the same views every epoch' % scene


def test_native_sizes_and_area_resize(tmp_path):
  root = str(tmp_path)
  fake_data.write_fake_dataset(root, 'rooms_free_camera_with_object_rotations', 'test',
                               num_files=1, scenes_per_file=2)
  fake_data.write_fake_dataset(root, 'mazes', 'test', num_files=1, scenes_per_file=1)
  (features, labels), native = _read('mazes', root, 'test', context_size=3)
  assert features.context.frames.shape.as_list() == [None, 3, 84, 84, 3]
  assert native[0][1].shape == (1, 84, 84, 3)
  # The same seed picks the same views, so the 64 px frames must be the 2x2 means of
  # the 128 px ones.
  kwargs = dict(context_size=2, batch_size=2, seed=11)
  (features, _), full = _read('rooms_free_camera_with_object_rotations', root, 'test',
                              **kwargs)
  assert features.context.frames.shape.as_list() == [None, 2, 128, 128, 3]
  _, small = _read('rooms_free_camera_with_object_rotations', root, 'test',
                   custom_frame_size=64, **kwargs)
  full_frames = full[0][0].context.frames  # [2, 2, 128, 128, 3]
  block_means = full_frames.reshape([2, 2, 64, 2, 64, 2, 3]).mean(axis=(3, 5))
  np.testing.assert_allclose(small[0][0].context.frames, block_means, atol=1e-5)
  np.testing.assert_allclose(small[0][0].context.cameras,
                             full[0][0].context.cameras)


def test_train_mode_shuffles_repeats_and_has_static_batch(tmp_path):
  root = str(tmp_path)
  fake_data.write_fake_dataset(root, 'synth_shepard_metzler_7_parts', 'train')
  (features, labels), batches = _read(
      'synth_shepard_metzler_7_parts', root, tf.estimator.ModeKeys.TRAIN,
      context_size=6, batch_size=3, num_epochs=None, max_batches=6, buffer_size=8)
  assert features.context.frames.shape.as_list() == [3, 6, 64, 64, 3]
  assert labels.shape.as_list() == [3, 64, 64, 3]
  assert len(batches) == 6  # 18 examples from 4 scenes: repeats forever.
  scenes = [_views_of(example)[0] for example in _examples(batches)]
  assert set(scenes) == {0, 1, 2, 3}


def test_seed_makes_pipeline_deterministic(tmp_path):
  root = str(tmp_path)
  fake_data.write_fake_dataset(root, 'shepard_metzler_5_parts', 'train',
                               scenes_per_file=3)
  kwargs = dict(context_size=3, batch_size=2, num_epochs=2, num_threads=4,
                buffer_size=4)

  def run(seed):
    _, batches = _read('shepard_metzler_5_parts', root, 'train', seed=seed, **kwargs)
    return [_views_of(example) for example in _examples(batches)], batches

  choices_a, batches_a = run(5)
  choices_b, batches_b = run(5)
  choices_c, _ = run(6)
  assert len(choices_a) == 12
  assert choices_a == choices_b
  for (features_a, labels_a), (features_b, labels_b) in zip(batches_a, batches_b):
    np.testing.assert_array_equal(labels_a, labels_b)
    np.testing.assert_array_equal(features_a.context.cameras,
                                  features_b.context.cameras)
  assert choices_a != choices_c


def test_partial_download_is_logged(tmp_path, caplog, monkeypatch):
  root = str(tmp_path)
  fake_data.write_fake_dataset(root, 'synth_rooms_ring_camera', 'train')
  # The message goes through the gqn logger, which a command's logs.setup() stops from
  # propagating to the root logger where caplog listens.
  monkeypatch.setattr(logs.logger, 'propagate', True)
  with caplog.at_level(logging.INFO, logger=logs.logger.name):
    _, batches = _read('synth_rooms_ring_camera', root, 'train', context_size=2,
                       batch_size=4, max_batches=1)
  assert batches
  messages = [record.getMessage() for record in caplog.records]
  directory = os.path.join(root, 'synth_rooms_ring_camera', 'train')
  assert any('using 2 of 20 files' in m and directory in m for m in messages), messages


def test_missing_directory_error_says_where_and_what(tmp_path):
  root = str(tmp_path)
  with tf.Graph().as_default():
    with pytest.raises(FileNotFoundError) as error:
      provider.gqn_input_fn('rooms_ring_camera', 5, root, 'train')
  message = str(error.value)
  assert os.path.join(root, 'rooms_ring_camera', 'train') in message
  assert '0001-of-2160.tfrecord' in message
  assert 'gs://gqn-dataset/rooms_ring_camera' in message


def test_misnamed_files_are_reported(tmp_path):
  directory = tmp_path / 'synth_rooms_ring_camera' / 'test'
  directory.mkdir(parents=True)
  (directory / 'scenes-0.tfrecord').write_bytes(b'')
  with tf.Graph().as_default():
    with pytest.raises(FileNotFoundError) as error:
      provider.gqn_dataset('synth_rooms_ring_camera', 5, str(tmp_path), 'test')
  message = str(error.value)
  assert 'scenes-0.tfrecord' in message
  assert '1-of-4.tfrecord' in message
  assert 'renderer' in message


def test_bad_arguments_raise_value_errors(tmp_path):
  root = str(tmp_path)
  fake_data.write_fake_dataset(root, 'rooms_ring_camera', 'test')
  with tf.Graph().as_default():
    with pytest.raises(ValueError) as error:
      provider.gqn_input_fn('rooms_ring_camera', 10, root, 'test')
    assert '10' in str(error.value) and '9' in str(error.value)
    with pytest.raises(ValueError) as error:
      provider.gqn_input_fn('no_such_set', 5, root, 'test')
    assert 'no_such_set' in str(error.value)
    assert 'rooms_ring_camera' in str(error.value)
    with pytest.raises(ValueError) as error:
      provider.gqn_input_fn('rooms_ring_camera', 5, root, 'validation')
    assert 'validation' in str(error.value)
    # EVAL and PREDICT read the test split, which exists; TRAIN's split does not.
    provider.gqn_input_fn('rooms_ring_camera', 5, root, tf.estimator.ModeKeys.PREDICT)
    with pytest.raises(FileNotFoundError) as error:
      provider.gqn_input_fn('rooms_ring_camera', 5, root, tf.estimator.ModeKeys.TRAIN)
    assert os.path.join('rooms_ring_camera', 'train') in str(error.value)


def test_input_context_shards_files(tmp_path):
  root = str(tmp_path)
  fake_data.write_fake_dataset(root, 'jaco', 'test', num_files=2, scenes_per_file=2)
  scenes = []
  for pipeline_id in range(2):
    context = tf.distribute.InputContext(num_input_pipelines=2,
                                         input_pipeline_id=pipeline_id)
    _, batches = _read('jaco', root, 'test', context_size=3, input_context=context)
    scenes.append(sorted(_views_of(example)[0] for example in _examples(batches)))
  assert scenes == [[0, 1], [2, 3]]  # File 1 holds scenes 0-1, file 2 scenes 2-3.
  context = tf.distribute.InputContext(num_input_pipelines=3, input_pipeline_id=2)
  with tf.Graph().as_default():
    with pytest.raises(ValueError) as error:
      provider.gqn_dataset('jaco', 3, root, 'test', input_context=context)
  assert 'no files' in str(error.value)


def test_make_input_fn_serves_one_device_and_each_distributed_pipeline(tmp_path):
  root = str(tmp_path)
  fake_data.write_fake_dataset(root, 'jaco', 'test', num_files=2, scenes_per_file=2)
  arguments = dict(dataset='jaco', context_size=3, root=root, mode='test', batch_size=2,
                   custom_frame_size=(32, 48), seed=5)  # Frames need not be square.
  with tf.Graph().as_default():
    features, labels = provider.make_input_fn(**arguments)()
    assert labels.shape.as_list() == [None, 32, 48, 3]
    assert features.context.cameras.shape.as_list() == [None, 3, 7]
  scenes = []
  for pipeline_id in range(2):
    context = tf.distribute.InputContext(num_input_pipelines=2,
                                         input_pipeline_id=pipeline_id)
    with tf.Graph().as_default():
      data = provider.make_input_fn(distributed=True, **arguments)(context)
      batch = tf.data.make_one_shot_iterator(data).get_next()
      with tf.Session() as sess:
        _, target = sess.run(batch)
    assert target.shape == (2, 32, 48, 3)
    scenes.append(sorted(fake_data.decode_fake_frame(frame)[0] for frame in target))
  assert scenes == [[0, 1], [2, 3]]  # Each pipeline reads its own file.
  assert provider.pipeline_seed(3, tf.distribute.InputContext(2, 1)) == 4
  assert provider.pipeline_seed(None, tf.distribute.InputContext(2, 1)) is None


def test_frames_of_the_wrong_size_are_refused_resized_or_not(tmp_path):
  root = str(tmp_path)
  fake_data.write_fake_dataset(root, 'rooms_ring_camera', 'test', frame_size=32)
  # Frames of another size than the table's mean another dataset's files: refused
  # before reading, also when the pipeline would resize them anyway.
  for size in (None, 48):
    with pytest.raises(record_check.DatasetMismatchError, match='32x32'):
      _read('rooms_ring_camera', root, 'test', context_size=2, custom_frame_size=size)


def test_fake_data_writes_a_partial_download(tmp_path):
  root = str(tmp_path)
  paths = fake_data.write_fake_dataset(root, 'rooms_ring_camera')
  assert paths == provider.dataset_files('rooms_ring_camera', root, 'train')[:2]
  assert all(os.path.exists(path) for path in paths)
  cameras = fake_data.read_fake_records(paths)
  assert len(cameras) == 4
  for camera in cameras:
    assert camera.shape == (10, 5)
    assert np.all(np.abs(camera[:, 3]) <= np.pi)
    assert np.all(np.abs(camera[:, 4]) <= 0.5)
