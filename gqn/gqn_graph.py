"""The GQN graph: scene encoder, DRAW renderer and image head, under scope `GQN`."""

import collections

import tensorflow.compat.v1 as tf

from gqn import fast_unroll
from gqn import gqn_draw as draw
from gqn import gqn_encoder
from gqn import gqn_params
from gqn import layers
from gqn.precision import cast_to

# One rendering of the query view: mu_target [B, H, W, 3], the image mean of the final
# canvas (eta_g(u_L)); canvas_images, eta_g(u_l) for every step l (for pictures of the
# DRAW sequence; only computed when fetched); steps, the per-step DrawSteps.
RenderedView = collections.namedtuple('RenderedView', ['mu_target', 'canvas_images', 'steps'])
# representation: r, [B, h, w, C] tiled to the LSTM grid. posterior: the training
# (posterior) path, or None without a target. generation: the prior path, or None.
GQNOutputs = collections.namedtuple('GQNOutputs', ['representation', 'posterior', 'generation'])


IMPLEMENTATIONS = ('fast', 'reference')
DEFAULT_IMPLEMENTATION = 'fast'
# The unroll of each implementation (see gqn_draw.py and fast_unroll.py).
_UNROLLS = {'fast': fast_unroll.fast_unroll, 'reference': draw.reference_unroll}


def check_implementation(implementation):
  """Raises ValueError unless `implementation` is one of IMPLEMENTATIONS."""
  if implementation not in IMPLEMENTATIONS:
    raise ValueError('Unknown implementation %r; use one of %s (both compute the same '
                     'numbers; \'reference\' is the plain, slower computation).'
                     % (implementation, ', '.join(repr(i) for i in IMPLEMENTATIONS)))


def repeat_cells(representation, height, grid_height):
  """r [B, h, w, C] with each cell repeated to fill a grid grid_height / h times finer."""
  factor = grid_height // height
  if factor == 1:
    return representation
  # depth_to_space of the channels tiled factor^2 times: an exact repeat of each cell.
  return tf.nn.depth_to_space(tf.tile(representation, [1, 1, 1, factor * factor]), factor)


def draw_unroll(representation, query_camera, seq_length, generator, prior, inference=None,
                posterior=None, target_frame=None, prior_before_update=False,
                implementation=DEFAULT_IMPLEMENTATION):
  """Unrolls the DRAW renderer; see gqn_draw.reference_unroll for the arguments.

  `implementation`: 'fast' or 'reference', the same numbers to float rounding.

  Raises:
    ValueError: unknown `implementation`.
  """
  check_implementation(implementation)
  return _UNROLLS[implementation](representation, query_camera, seq_length, generator, prior,
                                  inference, posterior, target_frame, prior_before_update)


def model_placeholders(config, num_views=None):
  """Placeholders for the model's inputs, with a dynamic batch size.

  Args:
    config: the GQNConfig (image size and channels, camera size).
    num_views: the static number of context views, or None for any number.

  Returns:
    (context_frames [B, K, H, W, C], context_cameras [B, K, 7], query_camera [B, 7],
     target_frame [B, H, W, C]), float32.
  """
  image = [config.IMG_HEIGHT, config.IMG_WIDTH, config.IMG_CHANNELS]
  return (tf.placeholder(tf.float32, [None, num_views] + image, 'context_frames'),
          tf.placeholder(tf.float32, [None, num_views, config.POSE_CHANNELS],
                         'context_cameras'),
          tf.placeholder(tf.float32, [None, config.POSE_CHANNELS], 'query_camera'),
          tf.placeholder(tf.float32, [None] + image, 'target_frame'))


def gqn_draw(query_pose, context_frames, context_poses, config, target_frame=None,
             generate=None, scope='GQN', implementation=DEFAULT_IMPLEMENTATION,
             compute_dtype=tf.float32):
  """Builds the GQN with the DRAW renderer.

  The argument names are tf-gqn's; in the data provider's features they are
  `query_camera` and `Context(frames, cameras)`.

  Args:
    query_pose: [B, 7] the query camera v^q.
    context_frames: [B, K, H, W, 3] the context images, in [0, 1].
    context_poses: [B, K, 7] their cameras.
    config: a GQNConfig.
    target_frame: [B, H, W, 3] the target image x^q. When given, the posterior path
      (inference core, z ~ q) is built, as in training.
    generate: whether to build the generation path (z ~ pi). Defaults to
      `target_frame is None`. Both paths share every variable.
    scope: the outer variable scope; 'GQN' in tf-gqn's snapshots.
    implementation: 'fast' (default) or 'reference', see gqn_draw.py and
      fast_unroll.py. Both create the
      same variables and compute the same numbers to float rounding.
    compute_dtype: tf.float32, or tf.float16 / tf.bfloat16 for mixed precision: the
      network computes in it while the variables stay float32. Outputs (images and
      latent distributions) are float32 either way.

  Returns:
    GQNOutputs.

  Raises:
    ValueError: unknown `implementation`.
  """
  check_implementation(implementation)
  if generate is None:
    generate = target_frame is None
  cast = lambda tensor: cast_to(tensor, compute_dtype)
  with tf.variable_scope(scope, reuse=tf.AUTO_REUSE):
    representation = gqn_encoder.encode_scene(
        cast(context_frames), cast(context_poses), config.ENC_TYPE, config.ENC_CHANNELS,
        config.ENC_POOLED_CHANNELS, config.ENC_CODE_CHANNELS)
    grid = list(gqn_params.lstm_grid(config))
    if config.ENC_TYPE == 'pool':
      tiled_representation = tf.tile(representation, [1] + grid + [1])  # 1x1 -> h x w
    else:
      # The tower's r is on the encoder's grid; a finer LSTM grid (CANVAS_SCALE < 4)
      # repeats each of its cells.
      representation = repeat_cells(representation, config.ENC_HEIGHT, grid[0])
      tiled_representation = representation

    with tf.variable_scope('GQN_RNN'):
      hidden, latent = config.LSTM_OUTPUT_CHANNELS, config.Z_CHANNELS
      kernel = config.ETA_INTERNAL_KERNEL_SIZE
      if target_frame is not None:
        inference = draw.InferenceCore(config)
        posterior = draw.LatentDistribution('Sample_eta_q', hidden, latent, kernel)
      generator = draw.GeneratorCore(config)
      prior = draw.LatentDistribution('Sample_eta_pi', hidden, latent, kernel)
    eta_g = layers.Conv2D('eta_g', config.LSTM_CANVAS_CHANNELS, config.IMG_CHANNELS,
                             config.ETA_EXTERNAL_KERNEL_SIZE)

    def render(**posterior_args):
      with tf.name_scope('GQN_RNN'):
        final, steps = draw_unroll(
            representation, query_pose, config.SEQ_LENGTH, generator, prior,
            prior_before_update=config.PRIOR_BEFORE_UPDATE,
            implementation=implementation, **posterior_args)
      if implementation == 'reference':
        mu_target = eta_g(final.canvas)
        images = [eta_g(u) for u in steps.canvases]
      else:
        images = fast_unroll.images_from_hidden_sums(generator, eta_g, steps)
        mu_target = images[-1]
      to_float32 = lambda image: cast_to(image, tf.float32)
      return RenderedView(to_float32(mu_target), [to_float32(i) for i in images], steps)

    posterior_view = None
    if target_frame is not None:
      posterior_view = render(inference=inference, posterior=posterior,
                              target_frame=cast(target_frame))
    generation_view = render() if generate else None
  return GQNOutputs(tiled_representation, posterior_view, generation_view)
