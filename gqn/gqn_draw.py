"""The DRAW renderer of GQN: convolutional LSTM cores and their unroll.

Notation of Eslami et al. (2018), supplementary section 1: r is the scene
representation, v^q the query camera, x^q the target image, z_l the latent of step l,
(c^g_l, h^g_l) and (c^e_l, h^e_l) the generator's and inference core's LSTM states, u_l
the canvas. Generator and inference cores do not share weights.

Per step l = 1..L (posterior path, used in training):
  h^e input = h^e_{l-1} + Downsample([x^q, u_{l-1}])
  (c^e_l, h^e_l) = C_e(r, v^q, h^g_{l-1}, h^e input; c^e_{l-1})
  q_l = eta_q(h^e_l),  z_l ~ q_l
  (c^g_l, h^g_l) = C_g(r, v^q, z_l, h^g_{l-1}; c^g_{l-1})
  u_l = u_{l-1} + Upsample(h^g_l)
  pi_l = eta_pi(h^g_l)    (tf-gqn's timing; eta_pi(h^g_{l-1}) with PRIOR_BEFORE_UPDATE)
Generation (prior path) draws z_l ~ eta_pi(h^g_{l-1}) instead and has no inference core.
"""

import collections

import tensorflow.compat.v1 as tf

from gqn import gqn_utils

LSTMState = collections.namedtuple('LSTMState', ['c', 'h'])
# Generator state: its LSTM state and the canvas u, [B, H, W, LSTM_CANVAS_CHANNELS].
GeneratorState = collections.namedtuple('GeneratorState', ['lstm', 'canvas'])
# Per-step results of an unroll, each a list of length L. `posteriors` is empty on the
# prior path; `latents` holds the z_l used.
DrawSteps = collections.namedtuple('DrawSteps', ['canvases', 'posteriors', 'priors', 'latents'])

# The canvas is written at 4x the resolution of the LSTM state (16 -> 64 by default).
CANVAS_SCALE = 4


class ConvLSTMCell(object):
  """A convolutional LSTM cell whose every input has its own convolution.

  For each named input k, a SAME convolution with bias, `<k>_LSTMConv`, maps it to
  4 * C channels; the sum is split into the gates (i, g, f, o), in that order:
    c' = sigmoid(f + 1) * c + sigmoid(i) * tanh(g)
    h' = tanh(c') * sigmoid(o)
  The hidden state is passed as one of the inputs (tf-gqn's layout).
  """

  def __init__(self, input_channels, output_channels, kernel_size):
    """Creates the input convolutions in the current variable scope.

    Args:
      input_channels: list of (name, channels), in the order of the cell's inputs.
      output_channels: C, channels of c and h.
      kernel_size: side of each input convolution's kernel.
    """
    self.output_channels = output_channels
    self._convs = collections.OrderedDict(
        (name, gqn_utils.Conv2D('%s_LSTMConv' % name, channels, 4 * output_channels,
                                kernel_size))
        for name, channels in input_channels)

  def __call__(self, inputs, cell):
    """One step.

    Args:
      inputs: list of [B, h, w, channels] tensors, in the constructor's order.
      cell: [B, h, w, C] the previous cell state c.

    Returns:
      LSTMState(c', h'), each [B, h, w, C].
    """
    gates = tf.add_n([conv(x) for conv, x in zip(self._convs.values(), inputs)])
    input_gate, candidate, forget_gate, output_gate = tf.split(gates, 4, axis=-1)
    cell = (tf.sigmoid(forget_gate + 1.0) * cell
            + tf.sigmoid(input_gate) * tf.tanh(candidate))
    hidden = tf.tanh(cell) * tf.sigmoid(output_gate)
    return LSTMState(cell, hidden)


def _zeros(batch, height, width, channels):
  return tf.zeros(tf.stack([batch, height, width, channels]))


class GeneratorCore(object):
  """The generator C_g with its canvas: variables under `LSTM_gen/`."""

  def __init__(self, config):
    hidden = config.LSTM_OUTPUT_CHANNELS
    self._config = config
    with tf.variable_scope('LSTM_gen'):
      with tf.variable_scope('GQNCell'):
        self._cell = ConvLSTMCell(
            [('representation', config.ENC_CHANNELS), ('query_pose', config.POSE_CHANNELS),
             ('z', config.Z_CHANNELS), ('h_g', hidden)],
            hidden, config.LSTM_KERNEL_SIZE)
      self._upsample = gqn_utils.Conv2DTranspose(
          'UpsampleGeneratorOutput', hidden, config.LSTM_CANVAS_CHANNELS,
          CANVAS_SCALE, CANVAS_SCALE)

  def zero_state(self, batch):
    config = self._config
    lstm = _zeros(batch, config.ENC_HEIGHT, config.ENC_WIDTH, config.LSTM_OUTPUT_CHANNELS)
    canvas = _zeros(batch, config.IMG_HEIGHT, config.IMG_WIDTH, config.LSTM_CANVAS_CHANNELS)
    return GeneratorState(LSTMState(lstm, lstm), canvas)

  def __call__(self, representation, pose_map, z, state):
    """(r, v^q, z_l, state_{l-1}) -> state_l; u_l = u_{l-1} + Upsample(h^g_l)."""
    lstm = self._cell([representation, pose_map, z, state.lstm.h], state.lstm.c)
    return GeneratorState(lstm, state.canvas + self._upsample(lstm.h))


class InferenceCore(object):
  """The inference core C_e: variables under `LSTM_inf/`."""

  def __init__(self, config):
    hidden = config.LSTM_OUTPUT_CHANNELS
    self._config = config
    with tf.variable_scope('LSTM_inf'):
      # Reads the target image and the canvas back at the LSTM's resolution.
      self._downsample = gqn_utils.Conv2D(
          'DownsampleInferenceInputCanvasAndImage',
          config.IMG_CHANNELS + config.LSTM_CANVAS_CHANNELS, hidden,
          CANVAS_SCALE, CANVAS_SCALE, 'VALID', use_bias=False)
      with tf.variable_scope('GQNCell'):
        self._cell = ConvLSTMCell(
            [('representation', config.ENC_CHANNELS), ('query_pose', config.POSE_CHANNELS),
             ('h_g', hidden), ('h_e', hidden)],
            hidden, config.LSTM_KERNEL_SIZE)

  def zero_state(self, batch):
    config = self._config
    zeros = _zeros(batch, config.ENC_HEIGHT, config.ENC_WIDTH, config.LSTM_OUTPUT_CHANNELS)
    return LSTMState(zeros, zeros)

  def __call__(self, representation, pose_map, hidden_g, target_frame, canvas, state):
    """(r, v^q, h^g_{l-1}, x^q, u_{l-1}, state_{l-1}) -> state_l."""
    hidden_e = state.h + self._downsample(tf.concat([target_frame, canvas], axis=-1))
    return self._cell([representation, pose_map, hidden_g, hidden_e], state.c)


class LatentDistribution(object):
  """eta_q or eta_pi: h -> N(mu, sigma) over z, variables `<scope>/eta/conv2d/`."""

  def __init__(self, scope, in_channels, z_channels, kernel_size):
    with tf.variable_scope(scope):
      with tf.variable_scope('eta'):
        self._conv = gqn_utils.Conv2D('conv2d', in_channels, 2 * z_channels, kernel_size)

  def __call__(self, hidden):
    """[B, h, w, C] -> Gaussian with mu, sigma each [B, h, w, Z].

    sigma = softplus(s + 0.5) + 1e-8 keeps it positive and starts it near 1.
    """
    mu, pre_sigma = tf.split(self._conv(hidden), 2, axis=-1)
    return gqn_utils.Gaussian(mu, tf.nn.softplus(pre_sigma + 0.5) + 1e-8)


def sample(distribution):
  """z = mu + sigma * eps, eps ~ N(0, I) (reparameterised)."""
  eps = tf.random.normal(tf.shape(distribution.mu))
  return distribution.mu + distribution.sigma * eps


def draw_unroll(representation, pose_map, seq_length, generator, prior,
                inference=None, posterior=None, target_frame=None,
                prior_before_update=False):
  """Unrolls the DRAW renderer for `seq_length` steps.

  With `target_frame` (and `inference`, `posterior`) this is the posterior path of
  training: z_l ~ q_l and the prior pi_l is evaluated for the KL. Without it, it is the
  generation path: z_l ~ pi_l(h^g_{l-1}).

  Args:
    representation: [B, h, w, C_r] the scene representation r, tiled to the LSTM grid.
    pose_map: [B, h, w, 7] the query camera v^q tiled to the LSTM grid.
    seq_length: L, the number of DRAW steps.
    generator: a GeneratorCore.
    prior: the LatentDistribution eta_pi.
    inference: an InferenceCore (posterior path only).
    posterior: the LatentDistribution eta_q (posterior path only).
    target_frame: [B, H, W, 3] the target x^q (posterior path only).
    prior_before_update: take pi_l from h^g_{l-1} instead of h^g_l (posterior path).

  Returns:
    (final GeneratorState, DrawSteps).
  """
  batch = tf.shape(representation)[0]
  state = generator.zero_state(batch)
  inference_state = inference.zero_state(batch) if target_frame is not None else None
  steps = DrawSteps([], [], [], [])
  for _ in range(seq_length):
    if target_frame is None:
      prior_l = prior(state.lstm.h)
      z = sample(prior_l)
    else:
      inference_state = inference(representation, pose_map, state.lstm.h, target_frame,
                                  state.canvas, inference_state)
      posterior_l = posterior(inference_state.h)
      steps.posteriors.append(posterior_l)
      z = sample(posterior_l)
      if prior_before_update:
        prior_l = prior(state.lstm.h)
    state = generator(representation, pose_map, z, state)
    if target_frame is not None and not prior_before_update:
      prior_l = prior(state.lstm.h)
    steps.priors.append(prior_l)
    steps.latents.append(z)
    steps.canvases.append(state.canvas)
  return state, steps
