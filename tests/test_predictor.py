"""GqnViewPredictor, the SavedModel export and checkpoint reading (gqn/checkpoints.py)."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from data_provider import gqn_tfr_provider
from gqn import checkpoints
from gqn import gqn_model
from gqn import gqn_params
from gqn import gqn_predictor
from tests import fake_data
from tests.data import reference_weights

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')


def _raw_pose(rng):
  return np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1),
                   rng.uniform(-np.pi, np.pi), rng.uniform(-0.5, 0.5)], np.float32)


def _encode(raw):
  raw = np.asarray(raw, np.float64)
  return np.concatenate([raw[..., :3], np.sin(raw[..., 3:4]), np.cos(raw[..., 3:4]),
                         np.sin(raw[..., 4:5]), np.cos(raw[..., 4:5])], -1).astype(np.float32)


@pytest.fixture(scope='module')
def tiny_predictor(tiny_model):
  with gqn_predictor.GqnViewPredictor(tiny_model, seed=0) as predictor:
    yield predictor


def _add_fake_views(predictor, num_views, seed=0, size=32):
  rng = np.random.RandomState(seed)
  for view in range(num_views):
    predictor.add_context_view(fake_data.fake_frame(0, view, size, rng), _raw_pose(rng))


def test_predictor_works_where_tensorflow_2_starts_eager(tiny_model, tmp_path):
  """The README's snippet, in a fresh Python: no graph mode set up by the caller."""
  script = textwrap.dedent("""
      import sys
      import numpy as np
      from gqn.gqn_predictor import GqnViewPredictor
      with GqnViewPredictor(sys.argv[1]) as predictor:
        predictor.add_context_view(np.full((64, 64, 3), 0.5, np.float32), [0, 0, 0, 0, 0])
        image = predictor.render_query_view([0.5, 0.5, 0, 1.0, 0])
      print('rendered', image.shape)
      """)
  path = tmp_path / 'snippet.py'
  path.write_text(script)
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  environ = dict(os.environ, PYTHONPATH=root, TF_CPP_MIN_LOG_LEVEL='2')
  done = subprocess.run([sys.executable, str(path), tiny_model], cwd=str(tmp_path),
                        env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        universal_newlines=True, timeout=300)
  assert done.returncode == 0, done.stdout[-3000:]
  assert 'rendered (32, 32, 3)' in done.stdout


def test_snapshot_mean_render_equals_the_reference_prediction(reference_snapshot):
  """With the reference weights, sample=False is tf-gqn's PREDICT with the noise zeroed."""
  reference = np.load(os.path.join(DATA, 'reference_outputs_pool.npz'))['predicted_mean']
  frames, cameras, query, _ = reference_weights.fixed_inputs(batch=2)
  with gqn_predictor.GqnViewPredictor(reference_snapshot) as predictor:
    assert predictor.config == gqn_params.tf_gqn_config()
    for scene in range(2):
      predictor.clear_context()
      for view in range(frames.shape[1]):
        predictor.add_context_view(frames[scene, view], cameras[scene, view])
      assert predictor.num_context_views == 5
      raw = predictor.render_query_view(query[scene], clip=False)
      np.testing.assert_allclose(raw, reference[scene], rtol=1e-5,
                                 atol=1e-5 * np.abs(reference).max())
      clipped = predictor.render_query_view(query[scene])
      assert clipped.shape == (64, 64, 3) and clipped.min() >= 0 and clipped.max() <= 1
      np.testing.assert_allclose(clipped, np.clip(reference[scene], 0, 1), atol=1e-5)


def test_five_number_pose_renders_like_its_encoding(tiny_predictor):
  rng = np.random.RandomState(3)
  frames = [fake_data.fake_frame(1, view, 32, rng) for view in range(3)]
  raw_context = [_raw_pose(rng) for _ in frames]
  raw_query = _raw_pose(rng)

  tiny_predictor.clear_context()
  for frame, pose in zip(frames, raw_context):
    tiny_predictor.add_context_view(frame, pose)
  from_raw = tiny_predictor.render_query_view(raw_query, clip=False)

  tiny_predictor.clear_context()
  for frame, pose in zip(frames, raw_context):
    tiny_predictor.add_context_view(frame, _encode(pose))
  from_encoded = tiny_predictor.render_query_view(_encode(raw_query), clip=False)
  np.testing.assert_allclose(from_raw, from_encoded, atol=1e-5)
  # Yaw is periodic: a pose one turn round renders the same view.
  turned = raw_query + np.array([0, 0, 0, 2 * np.pi, 0], np.float32)
  np.testing.assert_allclose(tiny_predictor.render_query_view(turned, clip=False), from_raw,
                             atol=1e-4)


def test_mean_render_is_deterministic_and_samples_vary(tiny_predictor):
  tiny_predictor.clear_context()
  _add_fake_views(tiny_predictor, 2)
  pose = [0.5, -0.2, 0.1, 1.0, -0.1]
  first = tiny_predictor.render_query_view(pose)
  np.testing.assert_array_equal(tiny_predictor.render_query_view(pose), first)
  samples = [tiny_predictor.render_query_view(pose, sample=True) for _ in range(2)]
  assert np.abs(samples[0] - samples[1]).max() > 1e-3
  assert np.abs(samples[0] - first).max() > 1e-3
  # One batched call renders what single calls do.
  poses = [pose, [0.0, 0.3, 0.0, -2.0, 0.2]]
  batch = tiny_predictor.render_query_views(poses)
  assert batch.shape == (2, 32, 32, 3)
  np.testing.assert_allclose(batch[0], first, atol=1e-6)
  # The number of context views is free, and each one changes the scene.
  _add_fake_views(tiny_predictor, 1, seed=5)
  assert tiny_predictor.num_context_views == 3
  assert np.abs(tiny_predictor.render_query_view(pose) - first).max() > 1e-6


def test_frames_are_converted_and_resized_like_the_data(tiny_predictor):
  rng = np.random.RandomState(0)
  frame = fake_data.fake_frame(2, 3, 64, rng)  # uint8 at twice the model's size
  pose = _raw_pose(rng)
  query = _raw_pose(rng)
  tiny_predictor.clear_context()
  tiny_predictor.add_context_view(frame, pose)
  from_uint8_64 = tiny_predictor.render_query_view(query)
  # Area resizing by 2 is the mean of 2 x 2 blocks.
  shrunk = (frame.astype(np.float64) / 255.0).reshape(32, 2, 32, 2, 3).mean(axis=(1, 3))
  tiny_predictor.clear_context()
  tiny_predictor.add_context_view(shrunk.astype(np.float32), pose)
  np.testing.assert_allclose(tiny_predictor.render_query_view(query), from_uint8_64, atol=1e-5)


def test_bad_inputs_are_refused_with_what_to_do(tiny_predictor):
  tiny_predictor.clear_context()
  with pytest.raises(ValueError, match='no context views'):
    tiny_predictor.render_query_view([0, 0, 0, 0, 0])
  frame = np.zeros([32, 32, 3], np.float32)
  with pytest.raises(ValueError, match='5 numbers'):
    tiny_predictor.add_context_view(frame, [0, 0, 0, 0, 0, 0])
  with pytest.raises(ValueError, match=r'\[0, 1\]'):
    tiny_predictor.add_context_view(frame + 2.0, [0, 0, 0, 0, 0])
  with pytest.raises(ValueError, match='H x W x 3'):
    tiny_predictor.add_context_view(np.zeros([32, 32], np.uint8), [0, 0, 0, 0, 0])
  assert tiny_predictor.num_context_views == 0


@pytest.mark.slow
def test_export_serves_the_mean_render(tiny_model, tiny_predictor, tmp_path):
  export_dir = str(tmp_path / 'export' / '1')
  assert gqn_predictor.export_saved_model(export_dir, tiny_model) == export_dir
  rng = np.random.RandomState(7)
  frames = rng.uniform(0, 1, [2, 4, 32, 32, 3]).astype(np.float32)
  cameras = _encode(np.stack([[_raw_pose(rng) for _ in range(4)] for _ in range(2)]))
  queries = _encode(np.stack([_raw_pose(rng) for _ in range(2)]))
  with tf.Graph().as_default() as graph, tf.Session() as sess:
    meta_graph = tf.saved_model.loader.load(sess, [tf.saved_model.tag_constants.SERVING],
                                            export_dir)
    signature = meta_graph.signature_def[
        tf.saved_model.signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY]
    assert sorted(signature.inputs) == sorted(gqn_predictor.SERVING_INPUTS)
    tensor = lambda info: graph.get_tensor_by_name(info.name)
    feed = {tensor(signature.inputs['context_frames']): frames,
            tensor(signature.inputs['context_cameras']): cameras,
            tensor(signature.inputs['query_camera']): queries}
    served = sess.run(tensor(signature.outputs['generated_mean']), feed)
    # The served render uses no noise: it is the same every time.
    np.testing.assert_array_equal(
        sess.run(tensor(signature.outputs['generated_mean']), feed), served)
  assert served.shape == (2, 32, 32, 3)
  for scene in range(2):
    tiny_predictor.clear_context()
    for view in range(4):
      tiny_predictor.add_context_view(frames[scene, view], cameras[scene, view])
    np.testing.assert_allclose(served[scene], tiny_predictor.render_query_view(queries[scene]),
                               atol=1e-5)
  with pytest.raises(ValueError, match='exists already'):
    gqn_predictor.export_saved_model(export_dir, tiny_model)


def test_checkpoint_fields_are_read_off_the_variables(tiny_model, tmp_path):
  checkpoint = checkpoints.find_checkpoint(tiny_model)
  assert checkpoint.endswith('model.ckpt-4')
  assert checkpoints.global_step(checkpoint) == 4
  tiny = gqn_params.tiny_config()
  config, inferred = checkpoints.infer_config(checkpoint, gqn_params.default_config())
  assert set(inferred) == {'ENC_TYPE', 'ENC_CHANNELS', 'POSE_CHANNELS', 'ENC_CODE_CHANNELS',
                           'LSTM_KERNEL_SIZE',
                           'LSTM_OUTPUT_CHANNELS', 'Z_CHANNELS', 'LSTM_CANVAS_CHANNELS',
                           'CANVAS_UPSAMPLING', 'CANVAS_SCALE', 'ETA_INTERNAL_KERNEL_SIZE',
                           'ETA_EXTERNAL_KERNEL_SIZE', 'IMG_CHANNELS'}
  for name in inferred:
    assert getattr(config, name) == getattr(tiny, name), name
  # What the variables cannot tell stays the base config's.
  assert config.SEQ_LENGTH == 8 and config.IMG_HEIGHT == 64
  checkpoints.check_compatible(checkpoint, config)
  pinned, _ = checkpoints.infer_config(checkpoint, gqn_params.default_config(),
                                       pinned=('Z_CHANNELS',))
  assert pinned.Z_CHANNELS == 64
  with pytest.raises(checkpoints.CheckpointMismatchError) as error:
    checkpoints.check_compatible(checkpoint, pinned)
  assert 'GQN/GQN_RNN/LSTM_gen/GQNCell/z_LSTMConv/kernel' in str(error.value)
  assert 'Z_CHANNELS=8 (config: 64)' in str(error.value)

  # A directory without a `checkpoint` file: the highest step's checkpoint is found.
  copy = tmp_path / 'copy'
  copy.mkdir()
  for path in tf.io.gfile.glob(checkpoint + '.*'):
    shutil.copy(path, str(copy))
  assert checkpoints.find_checkpoint(str(copy)) == str(copy / 'model.ckpt-4')
  with pytest.raises(ValueError, match='No checkpoint in'):
    checkpoints.find_checkpoint(str(tmp_path))
  with pytest.raises(ValueError, match='No checkpoint at'):
    checkpoints.find_checkpoint(str(copy / 'model.ckpt-5'))


def test_predictor_refuses_a_config_that_does_not_fit(tiny_model):
  with pytest.raises(checkpoints.CheckpointMismatchError, match='--enc_type tower'):
    gqn_predictor.GqnViewPredictor(tiny_model,
                                   gqn_params.tiny_config()._replace(ENC_TYPE='pool'))


def test_camera_ring_faces_its_centre_with_the_data_convention():
  # The convention of DeepMind's rooms and data_provider/scenes: yaw from +x towards +y,
  # a camera at (-d, 0) facing the origin has yaw 0, one at (0, -d) has yaw pi / 2.
  np.testing.assert_allclose(gqn_predictor.facing_yaw([[-2.0, 0.0], [0.0, -2.0]]),
                             [0.0, np.pi / 2], atol=1e-12)
  poses = gqn_predictor.camera_ring(8, radius=2.0, height=0.5, pitch=-0.3,
                                    centre=(1.0, -1.0), start_angle=0.25)
  assert poses.shape == (8, 5)
  offsets = poses[:, :2] - [1.0, -1.0]
  np.testing.assert_allclose(np.linalg.norm(offsets, axis=1), 2.0, rtol=1e-6)
  np.testing.assert_allclose(np.arctan2(offsets[0, 1], offsets[0, 0]), 0.25, atol=1e-6)
  # Each camera looks along -offset, i.e. at the centre.
  direction = np.stack([np.cos(poses[:, 3]), np.sin(poses[:, 3])], axis=1)
  np.testing.assert_allclose(direction, -offsets / 2.0, atol=1e-6)
  np.testing.assert_allclose(poses[:, 2], 0.5)
  np.testing.assert_allclose(poses[:, 4], -0.3)
  # decode_pose inverts the provider's encode_pose.
  with tf.Graph().as_default(), tf.Session() as sess:
    encoded = sess.run(gqn_tfr_provider.encode_pose(poses))
  np.testing.assert_allclose(gqn_predictor.decode_pose(encoded), poses, atol=1e-5)


def _training_checkpoint(config, path):
  """Writes a checkpoint of `config`'s training graph (initial values) under `path`."""
  graph = tf.Graph()
  with graph.as_default():
    features = gqn_tfr_provider.Query(
        gqn_tfr_provider.Context(tf.zeros([1, 5, 32, 32, 3]), tf.zeros([1, 5, 7])),
        tf.zeros([1, 7]))
    tf.train.get_or_create_global_step()
    gqn_model.gqn_draw_model_fn(features, tf.zeros([1, 32, 32, 3]),
                                tf.estimator.ModeKeys.TRAIN, {'gqn_params': config})
    names = [v.op.name for v in tf.global_variables()]
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return tf.train.Saver().save(sess, str(path / 'model.ckpt'), global_step=1), names


def test_resize_upsampling_is_read_off_the_variables(tmp_path):
  # A checkpoint of CANVAS_UPSAMPLING='resize' holds UpsampleGeneratorOutputResize in place
  # of tf-gqn's UpsampleGeneratorOutput; a config without the field is told by it.
  config = gqn_params.create_gqn_config(dict(CANVAS_UPSAMPLING='resize'),
                                        base=gqn_params.tiny_config())
  prefix, names = _training_checkpoint(config, tmp_path)
  assert 'GQN/GQN_RNN/LSTM_gen/UpsampleGeneratorOutputResize/kernel' in names
  assert 'GQN/GQN_RNN/LSTM_gen/UpsampleGeneratorOutput/kernel' not in names
  inferred, fields = checkpoints.infer_config(prefix, gqn_params.tiny_config())
  assert 'CANVAS_UPSAMPLING' in fields and inferred.CANVAS_UPSAMPLING == 'resize'
  checkpoints.check_compatible(prefix, inferred)
  with pytest.raises(checkpoints.CheckpointMismatchError):
    checkpoints.check_compatible(prefix, gqn_params.tiny_config())

def test_canvas_scale_is_read_off_the_variables(tmp_path):
  # CANVAS_SCALE is the side of the generator's upsampling kernel, and of the inference
  # core's downsampling kernel where the resize upsampling has no such kernel.
  for upsampling in gqn_params.CANVAS_UPSAMPLINGS:
    config = gqn_params.create_gqn_config(dict(CANVAS_SCALE=2, CANVAS_UPSAMPLING=upsampling),
                                          base=gqn_params.tiny_config())
    prefix, _ = _training_checkpoint(config, tmp_path / upsampling)
    inferred, fields = checkpoints.infer_config(prefix, gqn_params.tiny_config())
    assert fields['CANVAS_SCALE'] == 2 and inferred == config, upsampling
    checkpoints.check_compatible(prefix, inferred)
    with pytest.raises(checkpoints.CheckpointMismatchError):
      checkpoints.check_compatible(prefix, gqn_params.tiny_config())
