"""The GQN-VAE baseline: tower encoder, one Gaussian latent, tower-style decoder; its model_fn.

A baseline for the GQN of Eslami et al. (2018), after tf-gqn's `GQN-VAE`: the scene
representation r comes from the same tower encoder, but the query view is rendered from
a single latent z, in one pass, instead of L DRAW steps. A conditional VAE over the
query view:

  r = sum_k f(x^k, v^k)                               (gqn_encoder, tower)
  prior      pi(z | r, v^q)      = N(eta_pi(r, v^q))
  posterior  q(z | r, v^q, x^q)  = N(eta_q(r, v^q, x^q))
  mu_target = g(z, r, v^q)                            (deconvolutional decoder)
  -ELBO = -log N(x^q | mu_target, sigma_t) + KL(q || pi)

with the DRAW GQN's annealed pixel sigma sigma_t, learning rate and objective
(gqn_objective.gqn_draw_elbo with one step). z is spatial, [B, H/4, W/4, Z], on the grid
of the tower's r. Variables live under scope `GQN-VAE`:

  GQN-VAE/TowerEncoder/...           the project's tower encoder (gqn_encoder)
  GQN-VAE/Sample_eta_pi/hidden, eta  prior head
  GQN-VAE/Sample_eta_q/hidden, eta   posterior head
  GQN-VAE/VAETowerDecoder/...        decoder, ending in the image head `eta_g`

The GQNConfig fields are reused with these meanings:

  IMG_HEIGHT, IMG_WIDTH, IMG_CHANNELS, POSE_CHANNELS: as in the DRAW GQN.
  ENC_CHANNELS            C, channels of r (the encoder is the tower whatever ENC_TYPE says,
                          as in tf-gqn: the decoder needs a spatial r).
  Z_CHANNELS              Z, channels of the latent z.
  LSTM_OUTPUT_CHANNELS    D, width of the latent heads' hidden layer and of the decoder at
                          H/4 and H/2 (the generator LSTM's width in the DRAW GQN).
  LSTM_CANVAS_CHANNELS    width of the decoder's last feature map, at image resolution
                          (the DRAW canvas u, read by eta_g).
  LSTM_KERNEL_SIZE        kernel of the decoder's convolutions.
  ETA_INTERNAL_KERNEL_SIZE  kernel of eta_pi and eta_q (hidden layer and output).
  ETA_EXTERNAL_KERNEL_SIZE  kernel of the image head eta_g.
  GENERATOR_SIGMA_*, ANNEAL_SIGMA_TAU, ADAM_LR_*, ANNEAL_LR_TAU: the same schedules.
  Not read: ENC_TYPE, ENC_POOLED_CHANNELS, ENC_CODE_CHANNELS, SEQ_LENGTH,
  PRIOR_BEFORE_UPDATE and the DRAW input sizes (GENERATOR_INPUT_CHANNELS,
  INFERENCE_INPUT_CHANNELS).
"""

import collections

import tensorflow.compat.v1 as tf

from gqn import gqn_draw
from gqn import gqn_encoder
from gqn import gqn_model
from gqn import layers
from gqn import precision

ModeKeys = tf.estimator.ModeKeys

# The encoder's output and the latent live at 1/4 of the image size.
_GRID_SCALE = 4

# One rendering of the query view: mu_target [B, H, W, 3] (float32), the decoder's image
# mean; z [B, h, w, Z], the latent it was decoded from; noise, the eps ~ N(0, I) of
# z = mu + sigma * eps (so a caller can see or replace the sampling noise).
VAEView = collections.namedtuple('VAEView', ['mu_target', 'z', 'noise'])
# representation: r [B, h, w, C]. prior: Gaussian pi(z | r, v^q), mu and sigma
# [B, h, w, Z] (float32). posterior: Gaussian q(z | r, v^q, x^q), or None without a
# target. posterior_view: the rendering from z ~ q, or None without a target.
# generation: the rendering from z ~ pi, or None.
VAEOutputs = collections.namedtuple(
    'VAEOutputs', ['representation', 'prior', 'posterior', 'posterior_view', 'generation'])


class LatentHead(object):
  """eta_pi or eta_q: inputs -> hidden ReLU layer -> N(mu, sigma) over z.

  Variables `<scope>/hidden/{kernel,bias}` and `<scope>/eta/conv2d/{kernel,bias}`; the
  Gaussian's parameterisation (sigma = softplus(s + 0.5) + 1e-8) is the DRAW GQN's.
  """

  def __init__(self, scope, in_channels, hidden_channels, z_channels, kernel_size):
    with tf.variable_scope(scope):
      self.hidden = layers.Conv2D('hidden', in_channels, hidden_channels, kernel_size,
                                     activation=tf.nn.relu)
    self.eta = gqn_draw.LatentDistribution(scope, hidden_channels, z_channels, kernel_size)

  def __call__(self, inputs):
    """[B, h, w, in_channels] -> Gaussian with mu, sigma each [B, h, w, Z] (float32)."""
    return self.eta(self.hidden(inputs))


class TowerDecoder(object):
  """g(z, r, v^q): the tower encoder mirrored, from the h x w grid up to the image.

    h x w:    [z, r, v^q]  -> 1x1 conv D, ReLU -> k x k conv D, ReLU, + residual
    2h x 2w:  2x2 stride-2 transposed conv D, ReLU -> k x k conv D, ReLU, + residual
    H x W:    2x2 stride-2 transposed conv D_u, ReLU -> eta_g (to IMG_CHANNELS, linear)

  The 2x2 stride-2 transposed convolutions undo the tower's 2x2 stride-2 convolutions
  (each input position writes its own 2 x 2 block); the k x k convolutions after them
  mix neighbouring blocks. Variables under `VAETowerDecoder/` are named as tf.layers
  names them (`conv2d`, `conv2d_1`, ..., `conv2d_transpose`, `conv2d_transpose_1`) and
  `eta_g`.
  """

  def __init__(self, config):
    """Creates the variables.

    Args:
      config: a GQNConfig; reads Z_CHANNELS, ENC_CHANNELS, POSE_CHANNELS,
        LSTM_OUTPUT_CHANNELS (D), LSTM_CANVAS_CHANNELS (D_u), LSTM_KERNEL_SIZE (k),
        IMG_CHANNELS and ETA_EXTERNAL_KERNEL_SIZE.
    """
    width, canvas = config.LSTM_OUTPUT_CHANNELS, config.LSTM_CANVAS_CHANNELS
    kernel = config.LSTM_KERNEL_SIZE
    relu = tf.nn.relu
    in_channels = config.Z_CHANNELS + config.ENC_CHANNELS + config.POSE_CHANNELS
    with tf.variable_scope('VAETowerDecoder'):
      self.input = layers.Conv2D('conv2d', in_channels, width, 1, activation=relu)
      self.grid_residual = layers.Conv2D('conv2d_1', width, width, kernel, activation=relu)
      self.upsample = layers.Conv2DTranspose('conv2d_transpose', width, width, 2, 2)
      self.half_residual = layers.Conv2D('conv2d_2', width, width, kernel, activation=relu)
      self.upsample_image = layers.Conv2DTranspose('conv2d_transpose_1', width, canvas,
                                                      2, 2)
      self.eta_g = layers.Conv2D('eta_g', canvas, config.IMG_CHANNELS,
                                    config.ETA_EXTERNAL_KERNEL_SIZE)

  def __call__(self, z, representation, pose_map):
    """Renders the image mean.

    Args:
      z: [B, h, w, Z] latent.
      representation: [B, h, w, C] r.
      pose_map: [B, h, w, 7] the query camera v^q tiled over the grid.

    Returns:
      [B, 4h, 4w, IMG_CHANNELS] image mean, in the dtype of the inputs.
    """
    net = self.input(tf.concat([z, representation, pose_map], axis=-1))  # h x w x D
    net = self.grid_residual(net) + net
    net = tf.nn.relu(self.upsample(net))  # 2h x 2w x D
    net = self.half_residual(net) + net
    net = tf.nn.relu(self.upsample_image(net))  # 4h x 4w x D_u
    return self.eta_g(net)  # 4h x 4w x 3


def _sample(distribution, dtype):
  """z = mu + sigma * eps, eps ~ N(0, I) (reparameterised); returns (z in dtype, eps)."""
  noise = tf.random.normal(tf.shape(distribution.mu))
  z = distribution.mu + distribution.sigma * noise
  return precision.cast_to(z, dtype), noise


def gqn_vae(query_pose, context_frames, context_poses, config, target_frame=None,
            generate=None, scope='GQN-VAE', compute_dtype=tf.float32):
  """Builds the GQN-VAE.

  Args:
    query_pose: [B, 7] the query camera v^q.
    context_frames: [B, K, H, W, 3] the context images, in [0, 1].
    context_poses: [B, K, 7] their cameras.
    config: a GQNConfig (see the module docstring for the fields read).
    target_frame: [B, H, W, 3] the target image x^q. When given, the posterior q and
      the rendering from z ~ q are built, as in training.
    generate: whether to build the rendering from z ~ pi. Defaults to
      `target_frame is None`. Both renderings share every variable.
    scope: the outer variable scope, 'GQN-VAE' as in tf-gqn.
    compute_dtype: tf.float32, or tf.float16 / tf.bfloat16 for mixed precision: the
      network computes in it while the variables stay float32. Images and latent
      distributions come back in float32.

  Returns:
    VAEOutputs. The prior is always built (the KL term needs it).
  """
  if generate is None:
    generate = target_frame is None
  cast = lambda tensor: precision.cast_to(tensor, compute_dtype)
  to_float32 = lambda tensor: precision.cast_to(tensor, tf.float32)
  with tf.variable_scope(scope, reuse=tf.AUTO_REUSE):
    representation = gqn_encoder.encode_scene(
        cast(context_frames), cast(context_poses), 'tower', config.ENC_CHANNELS)  # h x w x C
    height, width = representation.shape.as_list()[1:3]
    pose_map = layers.broadcast_pose(cast(query_pose), height, width)  # h x w x 7
    conditioning = tf.concat([representation, pose_map], axis=-1)  # h x w x (C + 7)
    condition_channels = config.ENC_CHANNELS + config.POSE_CHANNELS
    hidden, latent = config.LSTM_OUTPUT_CHANNELS, config.Z_CHANNELS
    kernel = config.ETA_INTERNAL_KERNEL_SIZE

    prior = LatentHead('Sample_eta_pi', condition_channels, hidden, latent, kernel)(
        conditioning)
    decoder = TowerDecoder(config)

    def render(distribution):
      z, noise = _sample(distribution, compute_dtype)
      return VAEView(to_float32(decoder(z, representation, pose_map)), to_float32(z), noise)

    posterior = posterior_view = None
    if target_frame is not None:
      # x^q enters at the grid's resolution: each 4 x 4 block of pixels becomes one
      # position's 48 channels, so nothing of the target is lost before eta_q.
      target_blocks = tf.space_to_depth(cast(target_frame), _GRID_SCALE)  # h x w x 48
      target_channels = config.IMG_CHANNELS * _GRID_SCALE ** 2
      posterior = LatentHead(
          'Sample_eta_q', condition_channels + target_channels, hidden, latent, kernel)(
              tf.concat([conditioning, target_blocks], axis=-1))
      posterior_view = render(posterior)
    generation = render(prior) if generate else None
  return VAEOutputs(representation, prior, posterior, posterior_view, generation)


def gqn_vae_model_fn(features, labels, mode, params, config=None):
  """Estimator model_fn of the GQN-VAE: arguments and results of gqn_model.gqn_draw_model_fn.

  Its own: params' 'implementation' (a DRAW option) has no effect, the KL has one term,
  PREDICT's 'predicted_mean' is the rendering of z ~ pi, and the `--debug` summaries
  have no canvas sequence.
  """
  outputs = gqn_vae(
      features.query_camera, features.context.frames, features.context.cameras,
      params['gqn_params'], target_frame=None if mode == ModeKeys.PREDICT else labels,
      generate=mode != ModeKeys.TRAIN,
      compute_dtype=precision.compute_dtype(params.get('mixed_precision')))
  renderings = gqn_model.Renderings()
  if outputs.posterior is not None:
    # The DRAW objective with a single step is the VAE's -ELBO.
    renderings = renderings._replace(posterior_mean=outputs.posterior_view.mu_target,
                                     posteriors=[outputs.posterior], priors=[outputs.prior])
  if outputs.generation is not None:
    renderings = renderings._replace(generated_mean=outputs.generation.mu_target)
  return gqn_model.estimator_spec(mode, features, labels, params, config, renderings)
