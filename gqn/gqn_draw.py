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

Two implementations compute these equations (`draw_unroll(..., implementation=...)`):

'reference' is the plain computation: every convolution of every input at every step,
and the canvas u_l at image resolution ([B, H, W, 256], 64 x 64 by default).

'fast' (the default) computes the same numbers, to float rounding, with far less
arithmetic (~280 instead of ~440 GFLOP per training example at the default config),
through exact identities only:
  * r and v^q are the same at every step, so their gate convolutions (and every bias)
    are computed once, and their gradients flow back once. With the pool encoder r and
    v^q are also the same at every position, so their convolutions are one product per
    kernel tap (gqn_utils.conv2d_of_constant_maps).
  * The inputs convolved at a step are concatenated and convolved with the
    concatenated kernels: one convolution per core and step instead of one per input.
  * A kernel's gradient is a sum over the steps; it is taken once, over the steps'
    inputs and output gradients stacked along the batch, instead of once per step
    (`_StepConvolutions`): the same sums in larger, faster matrix products.
  * Step 1 starts from zero states: a convolution of a zero state is its bias (already
    in the step-invariant part), and eta_pi(h^g_0) is the bias of eta_pi.
  * The canvas is linear in the generator's outputs: with s_l = h^g_1 + ... + h^g_l,
      u_l = Upsample(s_l) + l * b_up    (Upsample without its bias b_up).
    Upsample (kernel 4, stride 4) and Downsample (kernel 4, stride 4, VALID) align block
    for block, so Downsample's canvas part of Upsample(s) is a 1 x 1 convolution of s
    with P[c, d] = sum_{i, j, u} K_up[i, j, u, c] K_down[i, j, 3 + u, d], and its bias
    part is (l - 1) * b_up K_down. Downsample's target part is the same at every step.
    The canvas itself is then never formed, unless it is fetched (`DrawSteps.canvases`);
    the image head eta_g reads s_l the same way (gqn_graph.py).
"""

import collections

import tensorflow.compat.v1 as tf

from gqn import gqn_utils

LSTMState = collections.namedtuple('LSTMState', ['c', 'h'])
# Generator state: its LSTM state and the canvas u, [B, H, W, LSTM_CANVAS_CHANNELS].
GeneratorState = collections.namedtuple('GeneratorState', ['lstm', 'canvas'])
# Per-step results of an unroll, each a list of length L. `posteriors` is empty on the
# prior path; `latents` holds the z_l used; `canvases` the canvases u_l [B, H, W, C_u];
# `hidden_sums` the sums s_l = h^g_1 + ... + h^g_l [B, h, w, C], which with l determine
# u_l = Upsample(s_l) + l * b_up. With the fast implementation the canvases are computed
# only when fetched.
DrawSteps = collections.namedtuple(
    'DrawSteps', ['canvases', 'posteriors', 'priors', 'latents', 'hidden_sums'])

# The canvas is written at 4x the resolution of the LSTM state (16 -> 64 by default).
CANVAS_SCALE = 4

IMPLEMENTATIONS = ('fast', 'reference')
DEFAULT_IMPLEMENTATION = 'fast'


def check_implementation(implementation):
  """Raises ValueError unless `implementation` is one of IMPLEMENTATIONS."""
  if implementation not in IMPLEMENTATIONS:
    raise ValueError('Unknown implementation %r; use one of %s (both compute the same '
                     'numbers; \'reference\' is the plain, slower computation).'
                     % (implementation, ', '.join(repr(i) for i in IMPLEMENTATIONS)))


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
    return lstm_update(gates, cell)

  def conv(self, name):
    """The Conv2D module of input `name`."""
    return self._convs[name]

  def bias_sum(self, dtype):
    """[4C] the sum of every input convolution's bias, in `dtype`."""
    return gqn_utils.cast_to(tf.add_n([conv.bias for conv in self._convs.values()]), dtype)


def _zeros(batch, height, width, channels, dtype):
  return tf.zeros(tf.stack([batch, height, width, channels]), dtype)


class GeneratorCore(object):
  """The generator C_g with its canvas: variables under `LSTM_gen/`."""

  def __init__(self, config):
    hidden = config.LSTM_OUTPUT_CHANNELS
    self._config = config
    self.grid = (config.ENC_HEIGHT, config.ENC_WIDTH)
    with tf.variable_scope('LSTM_gen'):
      with tf.variable_scope('GQNCell'):
        self.cell = ConvLSTMCell(
            [('representation', config.ENC_CHANNELS), ('query_pose', config.POSE_CHANNELS),
             ('z', config.Z_CHANNELS), ('h_g', hidden)],
            hidden, config.LSTM_KERNEL_SIZE)
      self.upsample = gqn_utils.Conv2DTranspose(
          'UpsampleGeneratorOutput', hidden, config.LSTM_CANVAS_CHANNELS,
          CANVAS_SCALE, CANVAS_SCALE)

  def zero_state(self, batch, dtype=tf.float32):
    config = self._config
    lstm = _zeros(batch, config.ENC_HEIGHT, config.ENC_WIDTH, config.LSTM_OUTPUT_CHANNELS,
                  dtype)
    canvas = _zeros(batch, config.IMG_HEIGHT, config.IMG_WIDTH, config.LSTM_CANVAS_CHANNELS,
                    dtype)
    return GeneratorState(LSTMState(lstm, lstm), canvas)

  def __call__(self, representation, pose_map, z, state):
    """(r, v^q, z_l, state_{l-1}) -> state_l; u_l = u_{l-1} + Upsample(h^g_l)."""
    lstm = self.cell([representation, pose_map, z, state.lstm.h], state.lstm.c)
    return GeneratorState(lstm, state.canvas + self.upsample(lstm.h))

  def canvas(self, hidden_sum, num_steps):
    """u_l = Upsample(s_l) + l * b_up from s_l = h^g_1 + ... + h^g_l: [B, H, W, C_u]."""
    dtype = hidden_sum.dtype
    return (gqn_utils.block_conv2d_transpose(
        hidden_sum, gqn_utils.cast_to(self.upsample.kernel, dtype))
            + float(num_steps) * gqn_utils.cast_to(self.upsample.bias, dtype))


class InferenceCore(object):
  """The inference core C_e: variables under `LSTM_inf/`."""

  def __init__(self, config):
    hidden = config.LSTM_OUTPUT_CHANNELS
    self._config = config
    with tf.variable_scope('LSTM_inf'):
      # Reads the target image and the canvas back at the LSTM's resolution.
      self.downsample = gqn_utils.Conv2D(
          'DownsampleInferenceInputCanvasAndImage',
          config.IMG_CHANNELS + config.LSTM_CANVAS_CHANNELS, hidden,
          CANVAS_SCALE, CANVAS_SCALE, 'VALID', use_bias=False)
      with tf.variable_scope('GQNCell'):
        self.cell = ConvLSTMCell(
            [('representation', config.ENC_CHANNELS), ('query_pose', config.POSE_CHANNELS),
             ('h_g', hidden), ('h_e', hidden)],
            hidden, config.LSTM_KERNEL_SIZE)

  def zero_state(self, batch, dtype=tf.float32):
    config = self._config
    zeros = _zeros(batch, config.ENC_HEIGHT, config.ENC_WIDTH, config.LSTM_OUTPUT_CHANNELS,
                   dtype)
    return LSTMState(zeros, zeros)

  def __call__(self, representation, pose_map, hidden_g, target_frame, canvas, state):
    """(r, v^q, h^g_{l-1}, x^q, u_{l-1}, state_{l-1}) -> state_l."""
    hidden_e = state.h + self.downsample(tf.concat([target_frame, canvas], axis=-1))
    return self.cell([representation, pose_map, hidden_g, hidden_e], state.c)


def _gaussian(parameters):
  """[B, h, w, 2Z] -> float32 Gaussian; sigma = softplus(s + 0.5) + 1e-8 starts near 1."""
  mu, pre_sigma = tf.split(gqn_utils.cast_to(parameters, tf.float32), 2, axis=-1)
  return gqn_utils.Gaussian(mu, tf.nn.softplus(pre_sigma + 0.5) + 1e-8)


class LatentDistribution(object):
  """eta_q or eta_pi: h -> N(mu, sigma) over z, variables `<scope>/eta/conv2d/`."""

  def __init__(self, scope, in_channels, z_channels, kernel_size):
    with tf.variable_scope(scope):
      with tf.variable_scope('eta'):
        self.conv = gqn_utils.Conv2D('conv2d', in_channels, 2 * z_channels, kernel_size)

  def __call__(self, hidden):
    """[B, h, w, C] -> Gaussian with mu, sigma each [B, h, w, Z] (float32).

    sigma = softplus(s + 0.5) + 1e-8 keeps it positive and starts it near 1.
    """
    return _gaussian(self.conv(hidden))


def sample(distribution):
  """z = mu + sigma * eps, eps ~ N(0, I) (reparameterised)."""
  eps = tf.random.normal(tf.shape(distribution.mu))
  return distribution.mu + distribution.sigma * eps


def draw_unroll(representation, query_pose, seq_length, generator, prior,
                inference=None, posterior=None, target_frame=None,
                prior_before_update=False, implementation=DEFAULT_IMPLEMENTATION):
  """Unrolls the DRAW renderer for `seq_length` steps.

  With `target_frame` (and `inference`, `posterior`) this is the posterior path of
  training: z_l ~ q_l and the prior pi_l is evaluated for the KL. Without it, it is the
  generation path: z_l ~ pi_l(h^g_{l-1}).

  Args:
    representation: the scene representation r, [B, h, w, C_r] on the LSTM grid, or
      [B, 1, 1, C_r] (pool encoder) for an r that is the same at every position.
    query_pose: [B, 7] the query camera v^q.
    seq_length: L, the number of DRAW steps.
    generator: a GeneratorCore.
    prior: the LatentDistribution eta_pi.
    inference: an InferenceCore (posterior path only).
    posterior: the LatentDistribution eta_q (posterior path only).
    target_frame: [B, H, W, 3] the target x^q (posterior path only).
    prior_before_update: take pi_l from h^g_{l-1} instead of h^g_l (posterior path).
    implementation: 'fast' or 'reference' (see the module docstring); the same
      numbers, to float rounding.

  Returns:
    (final GeneratorState, DrawSteps). Latent distributions are float32; states and
    canvases have the dtype of `representation` (float16 / bfloat16 under mixed
    precision).

  Raises:
    ValueError: unknown `implementation`.
  """
  check_implementation(implementation)
  unroll = _fast_unroll if implementation == 'fast' else _reference_unroll
  return unroll(representation, query_pose, seq_length, generator, prior, inference,
                posterior, target_frame, prior_before_update)


def _reference_unroll(representation, query_pose, seq_length, generator, prior, inference,
                      posterior, target_frame, prior_before_update):
  """Every convolution at every step, and the canvas at image resolution."""
  dtype = representation.dtype
  height, width = generator.grid
  if representation.shape.as_list()[1:3] == [1, 1]:
    representation = tf.tile(representation, [1, height, width, 1])
  pose_map = gqn_utils.broadcast_pose(gqn_utils.cast_to(query_pose, dtype), height, width)
  batch = tf.shape(representation)[0]
  state = generator.zero_state(batch, dtype)
  inference_state = inference.zero_state(batch, dtype) if target_frame is not None else None
  steps = DrawSteps([], [], [], [], [])
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
    state = generator(representation, pose_map, gqn_utils.cast_to(z, dtype), state)
    if target_frame is not None and not prior_before_update:
      prior_l = prior(state.lstm.h)
    steps.priors.append(prior_l)
    steps.latents.append(z)
    steps.canvases.append(state.canvas)
    steps.hidden_sums.append(
        state.lstm.h if not steps.hidden_sums else steps.hidden_sums[-1] + state.lstm.h)
  return state, steps


def _step_invariant_gates(cell, representation, query_pose, height, width):
  """The gate pre-activations of r and v^q plus every bias: the same at every step.

  Args:
    cell: a ConvLSTMCell with inputs 'representation' and 'query_pose'.
    representation: [B, h, w, C_r], or [B, 1, 1, C_r] for an r constant over the grid.
    query_pose: [B, 7].
    height, width: the LSTM grid.

  Returns:
    [B, height, width, 4C].
  """
  dtype = representation.dtype
  r_kernel = gqn_utils.cast_to(cell.conv('representation').kernel, dtype)
  pose_kernel = gqn_utils.cast_to(cell.conv('query_pose').kernel, dtype)
  if representation.shape.as_list()[1:3] == [1, 1]:
    r_gates = gqn_utils.conv2d_of_constant_maps(representation[:, 0, 0, :], r_kernel,
                                                height, width)
  else:
    r_gates = tf.nn.conv2d(representation, r_kernel, [1, 1, 1, 1], 'SAME')
  pose_gates = gqn_utils.conv2d_of_constant_maps(query_pose, pose_kernel, height, width)
  return r_gates + pose_gates + cell.bias_sum(dtype)


class _CanvasReader(object):
  """Downsample([x^q, u_{l-1}]) of the inference core, from s_{l-1} instead of u_{l-1}.

  With u_{l-1} = Upsample(s_{l-1}) + (l - 1) b_up and blocks that align:
    Downsample([x^q, u_{l-1}]) = D_x(x^q) + s_{l-1} P + (l - 1) b_up K_down,u
  (see the module docstring); D_x(x^q) is computed once.
  """

  def __init__(self, inference, generator, target_frame):
    dtype = target_frame.dtype
    kernel = gqn_utils.cast_to(inference.downsample.kernel, dtype)  # [4, 4, 3 + C_u, C]
    image_channels = target_frame.shape.as_list()[-1]
    hidden = kernel.shape.as_list()[-1]
    image_kernel = kernel[:, :, :image_channels]
    canvas_kernel = kernel[:, :, image_channels:]
    self._target_part = tf.nn.conv2d(target_frame, image_kernel,
                                     [1, CANVAS_SCALE, CANVAS_SCALE, 1], 'VALID')
    up_kernel = gqn_utils.cast_to(generator.upsample.kernel, dtype)  # [4, 4, C_u, C]
    # P[c, d] = sum_{i, j, u} K_up[i, j, u, c] K_down[i, j, 3 + u, d].
    self._canvas_matrix = tf.matmul(tf.reshape(up_kernel, [-1, hidden]),
                                    tf.reshape(canvas_kernel, [-1, hidden]),
                                    transpose_a=True)[tf.newaxis, tf.newaxis]  # 1x1 conv
    up_bias = gqn_utils.cast_to(generator.upsample.bias, dtype)
    self._bias_per_step = tf.matmul(up_bias[tf.newaxis],
                                    tf.reduce_sum(canvas_kernel, axis=[0, 1]))[0]  # [C]

  def __call__(self, hidden_sum, num_steps):
    """Downsample([x^q, u_l]) for u_l given by s_l (None when l = 0): [B, h, w, C]."""
    if hidden_sum is None:
      return self._target_part
    canvas_part = tf.nn.conv2d(hidden_sum, self._canvas_matrix, [1, 1, 1, 1], 'VALID')
    return self._target_part + canvas_part + float(num_steps) * self._bias_per_step


@tf.custom_gradient
def _conv_without_kernel_gradient(inputs, kernel):
  """A stride-1 'SAME' convolution differentiated for its inputs only.

  `_StepConvolutions` takes the kernel's gradient for all steps at once. A kernel behind
  tf.stop_gradient would not do: tf.gradients still builds the per-step kernel gradient,
  and Optimizer.compute_gradients (gate_gradients=GATE_OP) makes it run.
  """
  outputs = tf.nn.conv2d(inputs, kernel, [1, 1, 1, 1], 'SAME')

  def gradient(output_gradient):
    return [tf.nn.conv2d_backprop_input(tf.shape(inputs), kernel, output_gradient,
                                        [1, 1, 1, 1], 'SAME'), None]
  return outputs, gradient


class _StepConvolutions(object):
  """Stride-1 'SAME' convolutions applied at every step, kernel gradients taken once.

  At step l the output is offset + sum_i conv(x_{l,i}, K_i) over the inputs i given at
  that step, computed as one convolution of the concatenated inputs with the
  concatenated kernels. The gradient of K_i is sum_l corr(x_{l,i}, dy_l): tf.gradients
  would take it step by step (one filter-gradient op of batch B per step); here it is
  one op over the inputs and output gradients of all steps stacked along the batch
  (L * B), the same sums in larger matrix products. The steps' convolutions are
  differentiated for their inputs only; each step's output gradient dy_l is received by
  its own copy of `offset`, handed out by a custom-gradient identity that then returns
  the kernel gradients.
  """

  def __init__(self, kernels, offset, num_steps):
    """Prepares the convolutions of `num_steps` steps.

    Args:
      kernels: list of [k, k, C_i, C_out] tensors K_i, one per input.
      offset: [B, h, w, C_out] added at every step (step-invariant terms, biases); its
        gradient is the sum of the steps'.
      num_steps: L.
    """
    self._kernels = list(kernels)
    self._inputs = [None] * num_steps  # Per step, the list of inputs (None: absent).
    self._stacked_kernels = {}

    @tf.custom_gradient
    def hand_out(offset, *kernels):
      del kernels  # Only their gradients are produced here.
      def gradients(*step_gradients):
        return [tf.add_n(list(step_gradients))] + self._kernel_gradients(step_gradients)
      return [tf.identity(offset) for _ in range(num_steps)], gradients

    self._offsets = hand_out(offset, *self._kernels)

  def _kernel_gradients(self, step_gradients):
    gradients = []
    for index, kernel in enumerate(self._kernels):
      steps = [step for step, inputs in enumerate(self._inputs)
               if inputs is not None and inputs[index] is not None]
      if not steps:
        gradients.append(tf.zeros_like(kernel))
        continue
      inputs = tf.concat([self._inputs[step][index] for step in steps], axis=0)
      outputs = tf.concat([step_gradients[step] for step in steps], axis=0)
      gradients.append(tf.nn.conv2d_backprop_filter(
          inputs, tf.shape(kernel), outputs, [1, 1, 1, 1], 'SAME'))
    return gradients

  def __call__(self, step, inputs):
    """The output of step `step` (0-based): [B, h, w, C_out].

    Args:
      step: the step index.
      inputs: list aligned with the kernels of [B, h, w, C_i] tensors, None for an input
        that is zero at this step (a zero state).
    """
    self._inputs[step] = list(inputs)
    present = tuple(i for i, x in enumerate(inputs) if x is not None)
    if not present:
      return self._offsets[step]
    if present not in self._stacked_kernels:
      kernels = [self._kernels[i] for i in present]
      self._stacked_kernels[present] = (
          kernels[0] if len(kernels) == 1 else tf.concat(kernels, axis=2))
    net = [inputs[i] for i in present]
    net = net[0] if len(net) == 1 else tf.concat(net, axis=-1)
    return self._offsets[step] + _conv_without_kernel_gradient(
        net, self._stacked_kernels[present])


def _cell_convolutions(cell, names, invariant, num_steps):
  """_StepConvolutions of a ConvLSTMCell's per-step inputs `names`."""
  dtype = invariant.dtype
  kernels = [gqn_utils.cast_to(cell.conv(name).kernel, dtype) for name in names]
  return _StepConvolutions(kernels, invariant, num_steps)


def _latent_convolutions(distribution, batch, height, width, num_steps, dtype):
  """_StepConvolutions of eta_q or eta_pi; the offset is its bias at every position."""
  conv = distribution.conv
  bias = gqn_utils.cast_to(conv.bias, dtype)[tf.newaxis, tf.newaxis, tf.newaxis, :]
  return _StepConvolutions([gqn_utils.cast_to(conv.kernel, dtype)],
                           tf.tile(bias, tf.stack([batch, height, width, 1])), num_steps)


def _fast_unroll(representation, query_pose, seq_length, generator, prior, inference,
                 posterior, target_frame, prior_before_update):
  """The same unroll with the step-invariant, zero and linear parts taken out."""
  dtype = representation.dtype
  height, width = generator.grid
  query_pose = gqn_utils.cast_to(query_pose, dtype)
  batch = tf.shape(representation)[0]
  posterior_path = target_frame is not None
  gen_convs = _cell_convolutions(
      generator.cell, ['z', 'h_g'],
      _step_invariant_gates(generator.cell, representation, query_pose, height, width),
      seq_length)
  prior_convs = _latent_convolutions(prior, batch, height, width, seq_length, dtype)
  if posterior_path:
    inf_convs = _cell_convolutions(
        inference.cell, ['h_g', 'h_e'],
        _step_invariant_gates(inference.cell, representation, query_pose, height, width),
        seq_length)
    posterior_convs = _latent_convolutions(posterior, batch, height, width, seq_length,
                                           dtype)
    read_canvas = _CanvasReader(inference, generator, target_frame)

  # None stands for a zero state (step 1): its convolutions are their biases, which are
  # in the offsets already.
  gen_state = inf_state = None
  hidden_sum = None
  steps = DrawSteps([], [], [], [], [])
  for step in range(seq_length):
    hidden_g = gen_state.h if gen_state is not None else None
    if not posterior_path:
      prior_l = _gaussian(prior_convs(step, [hidden_g]))
      z = sample(prior_l)
    else:
      hidden_e = read_canvas(hidden_sum, step)  # Downsample([x^q, u_{l-1}])
      if inf_state is not None:
        hidden_e = inf_state.h + hidden_e
      inf_state = lstm_update(inf_convs(step, [hidden_g, hidden_e]),
                              inf_state.c if inf_state is not None else None)
      posterior_l = _gaussian(posterior_convs(step, [inf_state.h]))
      steps.posteriors.append(posterior_l)
      z = sample(posterior_l)
      if prior_before_update:
        prior_l = _gaussian(prior_convs(step, [hidden_g]))
    gen_state = lstm_update(gen_convs(step, [gqn_utils.cast_to(z, dtype), hidden_g]),
                            gen_state.c if gen_state is not None else None)
    hidden_sum = gen_state.h if hidden_sum is None else hidden_sum + gen_state.h
    if posterior_path and not prior_before_update:
      prior_l = _gaussian(prior_convs(step, [gen_state.h]))
    steps.priors.append(prior_l)
    steps.latents.append(z)
    steps.hidden_sums.append(hidden_sum)
    steps.canvases.append(generator.canvas(hidden_sum, step + 1))
  return GeneratorState(gen_state, steps.canvases[-1]), steps
