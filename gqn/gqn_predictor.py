"""Rendering scenes from new viewpoints with a trained GQN, and exporting it for serving.

    predictor = GqnViewPredictor('/models/gqn_rooms')   # a model dir or a checkpoint
    for frame, pose in views:                            # any number of context views
      predictor.add_context_view(frame, pose)            # pose: [x, y, z, yaw, pitch]
    image = predictor.render_query_view([2.0, 0.5, 0.3, -2.9, -0.1])  # H x W x 3 in [0, 1]

What a render is: the generation path of the model (Eslami et al. 2018): the context
views are encoded to r, and the DRAW generator unrolls L steps, drawing each latent
z_l from its prior pi_l = eta_pi(h^g_{l-1}); the image is the generated mean
mu_target = eta_g(u_L). The pixel noise of the likelihood (sigma_t) is never added.

* `sample=False` (a *mean render*): z_l = mu_l, the prior's mean, at every step (the
  noise eps of z_l = mu_l + sigma_l * eps is fed as zeros). Deterministic: the same
  context and camera always give the same image.
* `sample=True`: z_l ~ pi_l, a new draw every call; different calls show what the model
  considers possible where the context does not tell (e.g. behind objects).

Cameras are `[x, y, z, yaw, pitch]` as stored in gqn-datasets records (radians) or
their 7-number encoding `[x, y, z, sin yaw, cos yaw, sin pitch, cos pitch]`; 5-number
poses are encoded by `data_provider.camera.encode_pose`, the one pose encoder. Angle
conventions (those of DeepMind's rooms data and of data_provider/scenes): z is up; yaw
is the heading of the viewing direction about z, from +x towards +y; pitch is its
elevation, positive looking up. `facing_yaw` and `camera_ring` (data_provider/camera.py)
build such cameras.
"""

import os

import numpy as np
import tensorflow.compat.v1 as tf

from data_provider import camera
# The camera helpers, importable from here as before.
from data_provider.camera import RAW_POSE_SIZE  # pylint: disable=unused-import
from data_provider.camera import camera_ring  # pylint: disable=unused-import
from data_provider.camera import decode_pose  # pylint: disable=unused-import
from data_provider.camera import facing_yaw  # pylint: disable=unused-import
from gqn import checkpoints
from gqn import gqn_graph
from gqn import gqn_params
from gqn import gqn_vae
from gqn import model_dir as model_dir_lib
# Names of the serving signature's inputs and output.
SERVING_INPUTS = ('context_frames', 'context_cameras', 'query_camera')
SERVING_OUTPUT = 'generated_mean'


def build_generation(query_camera, context_frames, context_cameras, config):
  """The generation path of the GQN in the current graph, and its latent noise.

  Args:
    query_camera: [B, 7] the query camera v^q.
    context_frames: [B, K, H, W, 3] context images in [0, 1] (K may be dynamic).
    context_cameras: [B, K, 7] their cameras.
    config: the GQNConfig.

  Returns:
    (RenderedView of the generation path, noise): noise is the list of the L [B, h, w, Z]
    tensors eps_l of z_l = mu_l + sigma_l * eps_l; feeding zeros to them
    (`zero_noise_feed`) makes the render a mean render (DrawSteps.noise). For the
    GQN-VAE (config.MODEL 'vae'): a view with its mu_target only, and its one eps.
  """
  if config.MODEL == 'vae':
    view = gqn_vae.gqn_vae(query_camera, context_frames, context_cameras, config,
                           generate=True).generation
    return gqn_graph.RenderedView(view.mu_target, [], None), [view.noise]
  generation = gqn_graph.gqn_draw(query_camera, context_frames, context_cameras, config,
                                  generate=True).generation
  return generation, generation.steps.noise


def _noise_shape(noise, batch_size, config):
  static = noise.shape.as_list()
  if static and None not in static[1:]:
    return [batch_size] + static[1:]
  return [batch_size] + list(gqn_params.lstm_grid(config)) + [config.Z_CHANNELS]


def zero_noise_feed(noise, batch_size, config):
  """A feed_dict of zeros for the noise tensors of `build_generation`: z_l = mu_l."""
  return {eps: np.zeros(_noise_shape(eps, batch_size, config), eps.dtype.as_numpy_dtype)
          for eps in noise}


def _resolve(model_dir_or_checkpoint, config):
  """(checkpoint path, config) of a model directory or checkpoint prefix.

  A given `config` is used as it is; else the model directory's gqn_config.json or,
  without one, the fields read off the checkpoint on top of the default config
  (model_dir.resolve_config).
  """
  checkpoint = checkpoints.find_checkpoint(model_dir_or_checkpoint)
  if config is None:
    model_dir = model_dir_or_checkpoint
    if not tf.io.gfile.isdir(model_dir):
      model_dir = os.path.dirname(checkpoint)
    config = model_dir_lib.resolve_config(model_dir, None, None, checkpoint).config
  return checkpoint, config


class GqnViewPredictor(object):
  """Renders one scene from any camera, given some views of it (see the module docstring).

  One graph (placeholders, the generation path, a pose encoder and a resizer) is built
  and restored once, in its own session, and reused by every call. The context may
  hold any number of views; the model was trained with CONTEXT_SIZE of them.
  """

  def __init__(self, model_dir_or_checkpoint, config=None, seed=None):
    """Loads a model.

    Args:
      model_dir_or_checkpoint: a model directory (its latest checkpoint) or a
        checkpoint prefix such as `<dir>/model.ckpt-220000`.
      config: the GQNConfig; None reads the model directory's gqn_config.json or,
        without one (tf-gqn's snapshots), reads the config off the checkpoint on top of
        the default config.
      seed: graph seed for the draws of `sample=True` (reproducible sequences).

    Raises:
      ValueError: no checkpoint there; CheckpointMismatchError (a ValueError) when the
        config does not fit the checkpoint.
    """
    self.checkpoint, self.config = _resolve(model_dir_or_checkpoint, config)
    config = self.config
    self._graph = tf.Graph()
    with self._graph.as_default():
      if seed is not None:
        tf.set_random_seed(seed)
      self._frames, self._cameras, self._query, _ = gqn_graph.model_placeholders(config)
      view, self._noise = build_generation(self._query, self._frames, self._cameras, config)
      self._mean = view.mu_target
      checkpoints.check_compatible(self.checkpoint, config, tf.global_variables())
      saver = tf.train.Saver(tf.global_variables())
      self._raw_poses = tf.placeholder(tf.float32, [None, RAW_POSE_SIZE], 'raw_poses')
      self._encoded_poses = camera.encode_pose(self._raw_poses)
      # Frames of another size are resized as the data provider resizes records.
      self._image = tf.placeholder(tf.float32, [None, None, config.IMG_CHANNELS], 'image')
      size = [config.IMG_HEIGHT, config.IMG_WIDTH]
      self._shrunk = tf.image.resize_images(self._image[tf.newaxis], size,
                                             tf.image.ResizeMethod.AREA)[0]
      self._grown = tf.image.resize_images(self._image[tf.newaxis], size,
                                            tf.image.ResizeMethod.BILINEAR)[0]
      self._graph.finalize()
    self._session = tf.Session(graph=self._graph)
    checkpoints.restore(saver, self._session, self.checkpoint)
    self._context_frames = []
    self._context_cameras = []

  def __enter__(self):
    return self

  def __exit__(self, *unused_exc):
    self.close()

  def close(self):
    """Releases the session."""
    self._session.close()

  @property
  def num_context_views(self):
    return len(self._context_frames)

  def encode_cameras(self, poses):
    """[N, 5] raw or [N, 7] encoded poses -> [N, 7] encoded cameras (float32).

    Raises:
      ValueError: the poses are neither 5 nor 7 numbers, or not finite.
    """
    poses = np.asarray(poses, np.float32)
    if poses.ndim != 2 or poses.shape[1] not in (RAW_POSE_SIZE, self.config.POSE_CHANNELS):
      raise ValueError('A camera pose is 5 numbers [x, y, z, yaw, pitch] (radians) or 7 '
                       'numbers [x, y, z, sin yaw, cos yaw, sin pitch, cos pitch]; got '
                       'shape %s.' % (poses.shape[1:] if poses.ndim == 2 else poses.shape,))
    if not np.all(np.isfinite(poses)):
      raise ValueError('Camera poses must be finite numbers; got %s.' % poses.tolist())
    if poses.shape[1] == RAW_POSE_SIZE:
      return self._session.run(self._encoded_poses, {self._raw_poses: poses})
    return poses

  def _model_frame(self, frame):
    """HxWx3 uint8 or float in [0, 1], any size -> the model's size, float32 in [0, 1]."""
    frame = np.asarray(frame)
    channels = self.config.IMG_CHANNELS
    if frame.ndim != 3 or frame.shape[2] != channels:
      raise ValueError('A context frame is an H x W x %d image; got shape %s.'
                       % (channels, frame.shape))
    if frame.dtype == np.uint8:
      frame = frame.astype(np.float32) / 255.0
    elif np.issubdtype(frame.dtype, np.floating):
      frame = frame.astype(np.float32)
      if not np.all(np.isfinite(frame)) or frame.min() < 0.0 or frame.max() > 1.0:
        raise ValueError('A float context frame must hold values in [0, 1] (got [%g, %g]); '
                         'pass 0..255 images as uint8.' % (frame.min(), frame.max()))
    else:
      raise ValueError('A context frame must be uint8 (0..255) or float in [0, 1]; got '
                       'dtype %s.' % frame.dtype)
    height, width = self.config.IMG_HEIGHT, self.config.IMG_WIDTH
    if frame.shape[:2] == (height, width):
      return frame
    shrink = frame.shape[0] >= height and frame.shape[1] >= width
    resized = self._session.run(self._shrunk if shrink else self._grown,
                                {self._image: frame})
    return np.clip(resized, 0.0, 1.0)

  def add_context_view(self, frame, pose):
    """Adds one view of the scene to the context.

    Args:
      frame: [H, W, 3] image, uint8 (0..255) or float in [0, 1]; resized to the model's
        IMG_HEIGHT x IMG_WIDTH if it has another size (area averaging when shrinking).
      pose: its camera, 5 numbers [x, y, z, yaw, pitch] or 7 encoded ones.

    Raises:
      ValueError: a bad frame or pose; the message says what is expected.
    """
    camera = self.encode_cameras(np.reshape(np.asarray(pose, np.float32), [1, -1]))[0]
    self._context_frames.append(self._model_frame(frame))
    self._context_cameras.append(camera)

  def clear_context(self):
    """Forgets every context view (to start on another scene)."""
    self._context_frames = []
    self._context_cameras = []

  def render_query_views(self, poses, sample=False, clip=True):
    """Renders the scene from N cameras at once.

    Args:
      poses: [N, 5] raw or [N, 7] encoded cameras.
      sample: False for mean renders (z_l = mu_l, deterministic), True to draw z_l from
        the prior (see the module docstring).
      clip: clip to [0, 1]; False returns the generated mean as the model outputs it.

    Returns:
      [N, H, W, 3] float32 images.

    Raises:
      ValueError: no context views yet, or bad poses.
    """
    if not self._context_frames:
      raise ValueError('The predictor has no context views: call add_context_view(frame, '
                       'pose) with at least one view of the scene first.')
    cameras = self.encode_cameras(poses)
    num = len(cameras)
    feed = {
        self._frames: np.repeat(np.stack(self._context_frames)[np.newaxis], num, axis=0),
        self._cameras: np.repeat(np.stack(self._context_cameras)[np.newaxis], num, axis=0),
        self._query: cameras,
    }
    if not sample:
      feed.update(zero_noise_feed(self._noise, num, self.config))
    images = self._session.run(self._mean, feed)
    return np.clip(images, 0.0, 1.0) if clip else images

  def render_query_view(self, pose, sample=False, clip=True):
    """Renders the scene from one camera.

    Args:
      pose: 5 numbers [x, y, z, yaw, pitch] or 7 encoded ones.
      sample: False for a mean render (z_l = mu_l at every step: deterministic); True
        draws z_l from the prior, so each call may differ.
      clip: clip to [0, 1] (default); False returns the raw generated mean.

    Returns:
      [H, W, 3] float32 image, in [0, 1] when clipped.
    """
    return self.render_query_views(np.reshape(np.asarray(pose, np.float32), [1, -1]),
                                   sample=sample, clip=clip)[0]


def export_saved_model(export_dir, model_dir_or_checkpoint, config=None):
  """Exports the mean render of a checkpoint as a SavedModel for serving.

  Signature `serving_default` (predict): inputs `context_frames` [B, K, H, W, 3] float in
  [0, 1] (any K), `context_cameras` [B, K, 7] and `query_camera` [B, 7] (encoded
  cameras); output `generated_mean` [B, H, W, 3], the mean render (z_l = mu_l, as
  `render_query_view(pose, sample=False)`) clipped to [0, 1]. Load it with
  `tf.saved_model.loader.load(sess, ['serve'], export_dir)` or serve it with TF Serving
  (which expects `<model>/<version>/` as `export_dir`).

  The mean render needs no noise, so the served graph has none: the generation graph is
  imported with its noise tensors mapped to zeros, and its variables restored.

  Args:
    export_dir: the new SavedModel directory; it must not exist yet.
    model_dir_or_checkpoint: a model directory or a checkpoint prefix.
    config: the GQNConfig; None resolves it as GqnViewPredictor does.

  Returns:
    export_dir.

  Raises:
    ValueError: export_dir exists, no checkpoint, or the config does not fit it.
  """
  if tf.io.gfile.exists(export_dir):
    raise ValueError('The export directory %s exists already; pass a new one (e.g. '
                     '%s/1 for version 1 under TF Serving).' % (export_dir, export_dir))
  checkpoint, config = _resolve(model_dir_or_checkpoint, config)
  with tf.Graph().as_default():
    frames, cameras, query, _ = gqn_graph.model_placeholders(config)
    view, noise = build_generation(query, frames, cameras, config)
    checkpoints.check_compatible(checkpoint, config, tf.global_variables())
    inner_names = [t.name for t in (frames, cameras, query)]
    noise_names = [eps.name for eps in noise]
    noise_shapes = [_noise_shape(eps, None, config)[1:] for eps in noise]
    noise_dtypes = [eps.dtype for eps in noise]
    mean_name = view.mu_target.name
    meta_graph = tf.train.export_meta_graph()

  with tf.Graph().as_default(), tf.Session() as sess:
    with tf.name_scope('serving'):
      inputs = gqn_graph.model_placeholders(config)[:3]
      batch = tf.shape(inputs[2])[0]
      zeros = [tf.zeros(tf.stack([batch] + shape), dtype)
               for shape, dtype in zip(noise_shapes, noise_dtypes)]
    input_map = dict(zip(inner_names + noise_names, list(inputs) + zeros))
    saver = tf.train.import_meta_graph(meta_graph, input_map=input_map)
    mean = tf.get_default_graph().get_tensor_by_name(mean_name)
    with tf.name_scope('serving'):
      output = tf.clip_by_value(mean, 0.0, 1.0, name=SERVING_OUTPUT)
    saver.restore(sess, checkpoint)
    build = tf.saved_model.utils.build_tensor_info
    signature = tf.saved_model.signature_def_utils.build_signature_def(
        inputs={name: build(tensor) for name, tensor in zip(SERVING_INPUTS, inputs)},
        outputs={SERVING_OUTPUT: build(output)},
        method_name=tf.saved_model.signature_constants.PREDICT_METHOD_NAME)
    builder = tf.saved_model.builder.SavedModelBuilder(export_dir)
    builder.add_meta_graph_and_variables(
        sess, [tf.saved_model.tag_constants.SERVING],
        signature_def_map={
            tf.saved_model.signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY: signature},
        strip_default_attrs=True)
    builder.save()
  return export_dir
