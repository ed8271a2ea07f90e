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


def gqn_draw(query_pose, context_frames, context_poses, config, target_frame=None,
             generate=None, scope='GQN'):
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

  Returns:
    GQNOutputs.
  """
  if generate is None:
    generate = target_frame is None
  with tf.variable_scope(scope, reuse=tf.AUTO_REUSE):
    representation = gqn_encoder.encode_scene(
        context_frames, context_poses, config.ENC_TYPE, config.ENC_CHANNELS)
    grid = [config.ENC_HEIGHT, config.ENC_WIDTH]
    if config.ENC_TYPE == 'pool':
      representation = tf.tile(representation, [1] + grid + [1])  # 1x1 -> h x w
    pose_map = gqn_utils.broadcast_pose(query_pose, *grid)

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
            representation, pose_map, config.SEQ_LENGTH, generator, prior,
            prior_before_update=config.PRIOR_BEFORE_UPDATE, **posterior_args)
      return RenderedView(eta_g(final.canvas), [eta_g(u) for u in steps.canvases], steps)

    posterior_view = None
    if target_frame is not None:
      posterior_view = render(inference=inference, posterior=posterior,
                              target_frame=target_frame)
    generation_view = render() if generate else None
  return GQNOutputs(representation, posterior_view, generation_view)
