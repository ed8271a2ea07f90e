"""The GQN graph: scene encoder, DRAW renderer and image head, under scope `GQN`."""

import collections

import tensorflow.compat.v1 as tf

from gqn import gqn_draw as draw
from gqn import gqn_encoder
from gqn import gqn_utils

# One rendering of the query view: mu_target [B, H, W, 3], the image mean of the final
# canvas (eta_g(u_L)); canvas_images, eta_g(u_l) for every step l (for pictures of the
# DRAW sequence; only computed when fetched); steps, the per-step DrawSteps.
RenderedView = collections.namedtuple('RenderedView', ['mu_target', 'canvas_images', 'steps'])
# representation: r, [B, h, w, C] tiled to the LSTM grid. posterior: the training
# (posterior) path, or None without a target. generation: the prior path, or None.
GQNOutputs = collections.namedtuple('GQNOutputs', ['representation', 'posterior', 'generation'])


def _images_from_hidden_sums(generator, eta_g, steps):
  """eta_g(u_l) for every step, through one small transposed convolution of s_l.

  With a 1 x 1 eta_g (kernel W_g, bias b_g) after u_l = Upsample(s_l) + l b_up,
    eta_g(u_l) = ConvTranspose(s_l; K_up W_g) + l b_up W_g + b_g,
  a stride-4 transposed convolution to 3 channels: the 256-channel canvas is not formed.
  A wider eta_g mixes neighbouring blocks, so its images are taken from the canvases.

  Returns:
    List of L images [B, H, W, 3], in the dtype of the hidden sums.
  """
  if eta_g.kernel_size != 1:
    return [eta_g(canvas) for canvas in steps.canvases]
  dtype = steps.hidden_sums[0].dtype
  pixel_matrix = gqn_utils.cast_to(eta_g.kernel[0, 0], dtype)  # [C_u, 3]
  image_kernel = tf.einsum('ijuc,uo->ijoc',
                           gqn_utils.cast_to(generator.upsample.kernel, dtype),
                           pixel_matrix)  # [4, 4, 3, C]
  bias_per_step = tf.matmul(gqn_utils.cast_to(generator.upsample.bias, dtype)[tf.newaxis],
                            pixel_matrix)[0]  # [3]
  image_bias = gqn_utils.cast_to(eta_g.bias, dtype)
  return [gqn_utils.block_conv2d_transpose(hidden_sum, image_kernel)
          + (float(step + 1) * bias_per_step + image_bias)
          for step, hidden_sum in enumerate(steps.hidden_sums)]


def gqn_draw(query_pose, context_frames, context_poses, config, target_frame=None,
             generate=None, scope='GQN', implementation=draw.DEFAULT_IMPLEMENTATION,
             compute_dtype=tf.float32):
  """Builds the GQN with the DRAW renderer.

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
    implementation: 'fast' (default) or 'reference', see gqn_draw.py. Both create the
      same variables and compute the same numbers to float rounding.
    compute_dtype: tf.float32, or tf.float16 / tf.bfloat16 for mixed precision: the
      network computes in it while the variables stay float32. Outputs (images and
      latent distributions) are float32 either way.

  Returns:
    GQNOutputs.

  Raises:
    ValueError: unknown `implementation`.
  """
  draw.check_implementation(implementation)
  if generate is None:
    generate = target_frame is None
  cast = lambda tensor: gqn_utils.cast_to(tensor, compute_dtype)
  with tf.variable_scope(scope, reuse=tf.AUTO_REUSE):
    representation = gqn_encoder.encode_scene(
        cast(context_frames), cast(context_poses), config.ENC_TYPE, config.ENC_CHANNELS)
    grid = [config.ENC_HEIGHT, config.ENC_WIDTH]
    tiled_representation = representation
    if config.ENC_TYPE == 'pool':
      tiled_representation = tf.tile(representation, [1] + grid + [1])  # 1x1 -> h x w

    with tf.variable_scope('GQN_RNN'):
      hidden, latent = config.LSTM_OUTPUT_CHANNELS, config.Z_CHANNELS
      kernel = config.ETA_INTERNAL_KERNEL_SIZE
      if target_frame is not None:
        inference = draw.InferenceCore(config)
        posterior = draw.LatentDistribution('Sample_eta_q', hidden, latent, kernel)
      generator = draw.GeneratorCore(config)
      prior = draw.LatentDistribution('Sample_eta_pi', hidden, latent, kernel)
    eta_g = gqn_utils.Conv2D('eta_g', config.LSTM_CANVAS_CHANNELS, config.IMG_CHANNELS,
                             config.ETA_EXTERNAL_KERNEL_SIZE)

    def render(**posterior_args):
      with tf.name_scope('GQN_RNN'):
        final, steps = draw.draw_unroll(
            representation, query_pose, config.SEQ_LENGTH, generator, prior,
            prior_before_update=config.PRIOR_BEFORE_UPDATE,
            implementation=implementation, **posterior_args)
      if implementation == 'reference':
        mu_target = eta_g(final.canvas)
        images = [eta_g(u) for u in steps.canvases]
      else:
        images = _images_from_hidden_sums(generator, eta_g, steps)
        mu_target = images[-1]
      to_float32 = lambda image: gqn_utils.cast_to(image, tf.float32)
      return RenderedView(to_float32(mu_target), [to_float32(i) for i in images], steps)

    posterior_view = None
    if target_frame is not None:
      posterior_view = render(inference=inference, posterior=posterior,
                              target_frame=cast(target_frame))
    generation_view = render() if generate else None
  return GQNOutputs(tiled_representation, posterior_view, generation_view)
