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
All states start at zero.

The unroll's step order (`unroll_steps`) is written once; two implementations compute
its steps (`gqn_graph.draw_unroll(..., implementation=...)`): 'reference', here, is the
plain computation, every convolution of every input at every step and the canvas u_l at
image resolution; 'fast' (gqn/fast_unroll.py) computes the same numbers, to float
rounding, through exact identities with far less arithmetic.
"""

import collections

import tensorflow.compat.v1 as tf

from gqn import gqn_params
from gqn import layers
from gqn.precision import cast_to

LSTMState = collections.namedtuple('LSTMState', ['c', 'h'])
GeneratorState = collections.namedtuple('GeneratorState', ['lstm', 'canvas'])
# Gaussian parameters of a latent or pixel distribution, each [B, h, w, C].
Gaussian = collections.namedtuple('Gaussian', ['mu', 'sigma'])
# Per-step results of an unroll, each a list of length L. `posteriors` is empty on the
# prior path; `latents` holds the z_l used; `noise` the standard normal eps_l of
# z_l = mu_l + sigma_l * eps_l [B, h, w, Z] (fed zeros, z_l is the mean: a mean render);
# `canvases` the canvases u_l [B, H, W, C_u]; `hidden_sums` the sums
# s_l = h^g_1 + ... + h^g_l [B, h, w, C], which with l determine
# u_l = Upsample(s_l) + l * b_up. With the fast implementation the canvases are computed
# only when fetched.
DrawSteps = collections.namedtuple(
    'DrawSteps', ['canvases', 'posteriors', 'priors', 'latents', 'hidden_sums', 'noise'])

# CANVAS_UPSAMPLING='resize': the canvas update is a bilinear resize of h^g_l and a
# 3 x 3 convolution, variables LSTM_gen/UpsampleGeneratorOutputResize/{kernel,bias}.
RESIZE_UPSAMPLE_SCOPE = 'UpsampleGeneratorOutputResize'
RESIZE_UPSAMPLE_KERNEL = 3


def lstm_update(gates, cell):
  """The conv-LSTM state update from the summed gate pre-activations.

  c' = sigmoid(f + 1) * c + sigmoid(i) * tanh(g),  h' = tanh(c') * sigmoid(o).

  Args:
    gates: [B, h, w, 4C], split along channels into (i, g, f, o) in that order.
    cell: [B, h, w, C] the previous cell state c, or None for a zero state.

  Returns:
    LSTMState(c', h'), each [B, h, w, C].
  """
  input_gate, candidate, forget_gate, output_gate = tf.split(gates, 4, axis=-1)
  new_cell = tf.sigmoid(input_gate) * tf.tanh(candidate)
  if cell is not None:
    new_cell = tf.sigmoid(forget_gate + 1.0) * cell + new_cell
  return LSTMState(new_cell, tf.tanh(new_cell) * tf.sigmoid(output_gate))


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
        (name, layers.Conv2D('%s_LSTMConv' % name, channels, 4 * output_channels,
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
    return lstm_update(gates, cell)

  def conv(self, name):
    """The Conv2D module of input `name`."""
    return self._convs[name]

  def bias_sum(self, dtype):
    """[4C] the sum of every input convolution's bias, in `dtype`."""
    return cast_to(tf.add_n([conv.bias for conv in self._convs.values()]), dtype)


def _zeros(batch, height, width, channels, dtype):
  return tf.zeros(tf.stack([batch, height, width, channels]), dtype)


class GeneratorCore(object):
  """The generator C_g with its canvas: variables under `LSTM_gen/`."""

  def __init__(self, config):
    hidden = config.LSTM_OUTPUT_CHANNELS
    self._config = config
    self.grid = gqn_params.lstm_grid(config)
    # The canvas is written at CANVAS_SCALE x the LSTM state's resolution (tf-gqn: 4,
    # 16 -> 64 by default).
    self.scale = config.CANVAS_SCALE
    with tf.variable_scope('LSTM_gen'):
      with tf.variable_scope('GQNCell'):
        # The input names make the variable names (`query_pose_LSTMConv/`, tf-gqn's).
        self.cell = ConvLSTMCell(
            [('representation', gqn_params.representation_channels(config)),
             ('query_pose', config.POSE_CHANNELS),
             ('z', config.Z_CHANNELS), ('h_g', hidden)],
            hidden, config.LSTM_KERNEL_SIZE)
      self.upsampling = config.CANVAS_UPSAMPLING
      if self.upsampling == 'transposed':  # tf-gqn's
        self.upsample = layers.Conv2DTranspose(
            'UpsampleGeneratorOutput', hidden, config.LSTM_CANVAS_CHANNELS,
            self.scale, self.scale)
      else:
        self.upsample = layers.ResizeConv2D(
            RESIZE_UPSAMPLE_SCOPE, hidden, config.LSTM_CANVAS_CHANNELS,
            RESIZE_UPSAMPLE_KERNEL, self.scale)

  def zero_state(self, batch, dtype=tf.float32):
    config = self._config
    lstm = _zeros(batch, self.grid[0], self.grid[1], config.LSTM_OUTPUT_CHANNELS, dtype)
    canvas = _zeros(batch, config.IMG_HEIGHT, config.IMG_WIDTH, config.LSTM_CANVAS_CHANNELS,
                    dtype)
    return GeneratorState(LSTMState(lstm, lstm), canvas)

  def __call__(self, representation, query_map, z, state):
    """(r, v^q, z_l, state_{l-1}) -> state_l; u_l = u_{l-1} + Upsample(h^g_l)."""
    lstm = self.cell([representation, query_map, z, state.lstm.h], state.lstm.c)
    return GeneratorState(lstm, state.canvas + self.upsample(lstm.h))


class InferenceCore(object):
  """The inference core C_e: variables under `LSTM_inf/`."""

  def __init__(self, config):
    hidden = config.LSTM_OUTPUT_CHANNELS
    self._config = config
    with tf.variable_scope('LSTM_inf'):
      # Reads the target image and the canvas back at the LSTM's resolution.
      self.downsample = layers.Conv2D(
          'DownsampleInferenceInputCanvasAndImage',
          config.IMG_CHANNELS + config.LSTM_CANVAS_CHANNELS, hidden,
          config.CANVAS_SCALE, config.CANVAS_SCALE, 'VALID', use_bias=False)
      with tf.variable_scope('GQNCell'):
        self.cell = ConvLSTMCell(
            [('representation', gqn_params.representation_channels(config)),
             ('query_pose', config.POSE_CHANNELS),
             ('h_g', hidden), ('h_e', hidden)],
            hidden, config.LSTM_KERNEL_SIZE)

  def zero_state(self, batch, dtype=tf.float32):
    config = self._config
    height, width = gqn_params.lstm_grid(config)
    zeros = _zeros(batch, height, width, config.LSTM_OUTPUT_CHANNELS, dtype)
    return LSTMState(zeros, zeros)

  def __call__(self, representation, query_map, hidden_g, target_frame, canvas, state):
    """(r, v^q, h^g_{l-1}, x^q, u_{l-1}, state_{l-1}) -> state_l."""
    hidden_e = state.h + self.downsample(tf.concat([target_frame, canvas], axis=-1))
    return self.cell([representation, query_map, hidden_g, hidden_e], state.c)


def gaussian(parameters):
  """[B, h, w, 2Z] -> float32 Gaussian; sigma = softplus(s + 0.5) + 1e-8 starts near 1."""
  mu, pre_sigma = tf.split(cast_to(parameters, tf.float32), 2, axis=-1)
  return Gaussian(mu, tf.nn.softplus(pre_sigma + 0.5) + 1e-8)


class LatentDistribution(object):
  """eta_q or eta_pi: h -> N(mu, sigma) over z, variables `<scope>/eta/conv2d/`."""

  def __init__(self, scope, in_channels, z_channels, kernel_size):
    with tf.variable_scope(scope):
      with tf.variable_scope('eta'):
        self.conv = layers.Conv2D('conv2d', in_channels, 2 * z_channels, kernel_size)

  def __call__(self, hidden):
    """[B, h, w, C] -> Gaussian with mu, sigma each [B, h, w, Z] (float32), see `gaussian`."""
    return gaussian(self.conv(hidden))


def sample(distribution):
  """z = mu + sigma * eps, eps ~ N(0, I) (reparameterised).

  Returns:
    (z, eps), each [B, h, w, Z]; feeding zeros to eps makes z the mean mu.
  """
  eps = tf.random.normal(tf.shape(distribution.mu))
  return distribution.mu + distribution.sigma * eps, eps


def unroll_steps(steps_of, seq_length, posterior_path, prior_before_update):
  """The order of the L DRAW steps, shared by both implementations.

  Per step l: on the posterior path, q_l from the inference core and z_l ~ q_l; on the
  prior path, z_l ~ pi_l = eta_pi(h^g_{l-1}). Then the generator update to h^g_l. The
  training prior pi_l is eta_pi(h^g_l) after the update (tf-gqn's timing), or
  eta_pi(h^g_{l-1}) before it with `prior_before_update` (the paper's).

  The ops are created in this order on purpose: with a graph seed, each random op's seed
  depends on how many ops precede it, so the same order gives the same draws.

  Args:
    steps_of: the implementation, with methods `initial_state()`, `prior(step, state)`
      (pi_l from the h^g of `state`), `posterior(step, state)` -> (state, q_l) (runs
      the inference core), `update(step, state, z)` -> state (the generator; also
      forms s_l) and `outputs(step, state)` -> (u_l, s_l).
    seq_length: L.
    posterior_path: whether a target frame is given (training's posterior path).
    prior_before_update: see above (posterior path only).

  Returns:
    (final state of `steps_of`, DrawSteps).
  """
  state = steps_of.initial_state()
  steps = DrawSteps([], [], [], [], [], [])
  for step in range(seq_length):
    if posterior_path:
      state, posterior_l = steps_of.posterior(step, state)
      steps.posteriors.append(posterior_l)
      z, eps = sample(posterior_l)
      if prior_before_update:
        prior_l = steps_of.prior(step, state)
    else:
      prior_l = steps_of.prior(step, state)
      z, eps = sample(prior_l)
    state = steps_of.update(step, state, z)
    if posterior_path and not prior_before_update:
      prior_l = steps_of.prior(step, state)
    steps.priors.append(prior_l)
    steps.latents.append(z)
    steps.noise.append(eps)
    canvas, hidden_sum = steps_of.outputs(step, state)
    steps.canvases.append(canvas)
    steps.hidden_sums.append(hidden_sum)
  return state, steps


# The state of the reference unroll: the generator's (LSTM and canvas), the inference
# core's (None on the prior path) and s_l.
_ReferenceState = collections.namedtuple('_ReferenceState',
                                         ['generator', 'inference', 'hidden_sum'])


class _ReferenceSteps(object):
  """Every convolution at every step, and the canvas at image resolution."""

  def __init__(self, representation, query_camera, generator, prior, inference, posterior,
               target_frame):
    dtype = representation.dtype
    height, width = generator.grid
    if representation.shape.as_list()[1:3] == [1, 1]:
      representation = tf.tile(representation, [1, height, width, 1])
    self._representation = representation
    self._query_map = layers.broadcast_pose(cast_to(query_camera, dtype), height, width)
    self._generator, self._prior = generator, prior
    self._inference, self._posterior = inference, posterior
    self._target_frame = target_frame

  def initial_state(self):
    dtype = self._representation.dtype
    batch = tf.shape(self._representation)[0]
    generator = self._generator.zero_state(batch, dtype)
    inference = (self._inference.zero_state(batch, dtype)
                 if self._target_frame is not None else None)
    return _ReferenceState(generator, inference, None)

  def prior(self, step, state):
    return self._prior(state.generator.lstm.h)

  def posterior(self, step, state):
    inference = self._inference(self._representation, self._query_map,
                                state.generator.lstm.h, self._target_frame,
                                state.generator.canvas, state.inference)
    return state._replace(inference=inference), self._posterior(inference.h)

  def update(self, step, state, z):
    generator = self._generator(self._representation, self._query_map,
                                cast_to(z, self._representation.dtype), state.generator)
    hidden = generator.lstm.h
    hidden_sum = hidden if state.hidden_sum is None else state.hidden_sum + hidden
    return _ReferenceState(generator, state.inference, hidden_sum)

  def outputs(self, step, state):
    return state.generator.canvas, state.hidden_sum


def reference_unroll(representation, query_camera, seq_length, generator, prior,
                     inference=None, posterior=None, target_frame=None,
                     prior_before_update=False):
  """Unrolls the DRAW renderer for `seq_length` steps, the plain way.

  With `target_frame` (and `inference`, `posterior`) this is the posterior path of
  training: z_l ~ q_l and the prior pi_l is evaluated for the KL. Without it, it is the
  generation path: z_l ~ pi_l(h^g_{l-1}).

  Args:
    representation: the scene representation r, [B, h, w, C_r] on the LSTM grid, or
      [B, 1, 1, C_r] (pool encoder) for an r that is the same at every position.
    query_camera: [B, 7] the query camera v^q.
    seq_length: L, the number of DRAW steps.
    generator: a GeneratorCore.
    prior: the LatentDistribution eta_pi.
    inference: an InferenceCore (posterior path only).
    posterior: the LatentDistribution eta_q (posterior path only).
    target_frame: [B, H, W, 3] the target x^q (posterior path only).
    prior_before_update: take pi_l from h^g_{l-1} instead of h^g_l (posterior path).

  Returns:
    (final GeneratorState, DrawSteps). Latent distributions are float32; states and
    canvases have the dtype of `representation` (float16 / bfloat16 under mixed
    precision).
  """
  steps_of = _ReferenceSteps(representation, query_camera, generator, prior, inference,
                             posterior, target_frame)
  state, steps = unroll_steps(steps_of, seq_length, target_frame is not None,
                              prior_before_update)
  return state.generator, steps
