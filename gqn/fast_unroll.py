"""The fast DRAW unroll: the reference unroll's numbers through exact identities.

The fast unroll (the default implementation) computes the numbers of gqn_draw.py's
reference unroll, to float rounding, with far less arithmetic (~280 instead of ~440
GFLOP per training example at the default config), through exact identities only; it
follows the same step order (gqn_draw.unroll_steps):
  * r and v^q are the same at every step, so their gate convolutions (and every bias)
    are computed once, and their gradients flow back once. With the pool encoder r and
    v^q are also the same at every position, so their convolutions are one product per
    kernel tap (`conv2d_of_constant_maps`).
  * The inputs convolved at a step are concatenated and convolved with the
    concatenated kernels: one convolution per core and step instead of one per input.
  * A kernel's gradient is a sum over the steps; it is taken once, over the steps'
    inputs and output gradients stacked along the batch, instead of once per step
    (`_StepConvolutions`): the same sums in larger, faster matrix products.
  * Step 1 starts from zero states: a convolution of a zero state is its bias (already
    in the step-invariant part), and eta_pi(h^g_0) is the bias of eta_pi.
  * The canvas is linear in the generator's outputs: with s_l = h^g_1 + ... + h^g_l,
      u_l = Upsample(s_l) + l * b_up    (Upsample without its bias b_up).
    Upsample (kernel = stride = CANVAS_SCALE, 4 in tf-gqn) and Downsample (the same,
    VALID) align block for block, so Downsample's canvas part of Upsample(s) is a 1 x 1
    convolution of s with P[c, d] = sum_{i, j, u} K_up[i, j, u, c] K_down[i, j, 3 + u, d],
    and its bias part is (l - 1) * b_up K_down. Downsample's target part is the same at every step.
    The canvas itself is then never formed, unless it is fetched (`DrawSteps.canvases`);
    the image head eta_g reads s_l the same way (`images_from_hidden_sums`).
    With CANVAS_UPSAMPLING='resize' the canvas is still linear in s_l, but the blocks
    do not align: the canvas is formed from s_l once per step and read as it is.
"""

import collections

import numpy as np
import tensorflow.compat.v1 as tf

from gqn import gqn_draw as draw
from gqn.precision import cast_to


def _taps_inside(height, width, kernel_height, kernel_width):
  """Which taps of a stride-1 'SAME' kernel fall inside an height x width map.

  Returns:
    [height * width, kernel_height * kernel_width] float64 array of 0 / 1: entry
    ((y, x), (i, j)) is 1 when tap (i, j) of the kernel centred on (y, x) reads a pixel
    of the map rather than padding.
  """
  def inside_1d(size, taps):
    # 'SAME' pads (taps - 1) // 2 before; tap i at position y reads y + i - pad.
    pad = (taps - 1) // 2
    reads = np.arange(size)[:, np.newaxis] + np.arange(taps)[np.newaxis, :] - pad
    return ((reads >= 0) & (reads < size)).astype(np.float64)
  rows = inside_1d(height, kernel_height)  # [h, kh]
  cols = inside_1d(width, kernel_width)  # [w, kw]
  return np.einsum('yi,xj->yxij', rows, cols).reshape(
      height * width, kernel_height * kernel_width)


def conv2d_of_constant_maps(vectors, kernel, height, width):
  """The stride-1 'SAME' convolution of maps that are constant over space.

  A map equal to v at every position convolves, at (y, x), to the sum over the kernel
  taps (i, j) that fall inside the map of v W[i, j]: the map is never formed, each tap
  is applied once to v, and a 0/1 matrix adds the taps that are inside at each
  position (all of them in the interior, fewer at the borders). With the pool
  encoder, r and the query camera are such maps at every DRAW step.

  Args:
    vectors: [B, C_in], the value of each map.
    kernel: [kh, kw, C_in, C_out] the convolution kernel W.
    height, width: size of the maps.

  Returns:
    [B, height, width, C_out], equal (to float rounding) to
    tf.nn.conv2d(v tiled to [B, height, width, C_in], kernel, 1, 'SAME'), no bias.
  """
  kernel_height, kernel_width, in_channels, out_channels = kernel.shape.as_list()
  taps = kernel_height * kernel_width
  # [taps, B, C_out]: every tap applied to every vector.
  per_tap = tf.matmul(tf.tile(vectors[tf.newaxis], [taps, 1, 1]),
                      tf.reshape(kernel, [taps, in_channels, out_channels]))
  inside = tf.constant(_taps_inside(height, width, kernel_height, kernel_width),
                       vectors.dtype)  # [h * w, taps]
  maps = tf.matmul(inside, tf.reshape(per_tap, [taps, -1]))  # [h * w, B * C_out]
  maps = tf.reshape(maps, [height, width, -1, out_channels])
  return tf.transpose(maps, [2, 0, 1, 3])


def block_conv2d_transpose(inputs, kernel):
  """A transposed convolution whose stride equals its kernel size, without bias.

  Each input position then writes its own s x s output block, so the op is one matrix
  product per position followed by depth_to_space: the same sums as
  tf.nn.conv2d_transpose, without its scatter.

  Args:
    inputs: [B, h, w, C_in].
    kernel: [s, s, C_out, C_in] (transposed-convolution layout), applied with stride s.

  Returns:
    [B, s * h, s * w, C_out].
  """
  size, _, out_channels, in_channels = kernel.shape.as_list()
  # matrix[c, (i, j, o)] = kernel[i, j, o, c]: depth_to_space reads depth as (i, j, o).
  matrix = tf.reshape(tf.transpose(kernel, [3, 0, 1, 2]),
                      [1, 1, in_channels, size * size * out_channels])
  blocks = tf.nn.conv2d(inputs, matrix, [1, 1, 1, 1], 'VALID')  # h x w x s*s*C_out
  return tf.nn.depth_to_space(blocks, size)


def canvas_from_hidden_sum(generator, hidden_sum, num_steps):
  """u_l = Upsample(s_l) + l * b_up from s_l = h^g_1 + ... + h^g_l: [B, H, W, C_u]."""
  dtype = hidden_sum.dtype
  if generator.upsampling == 'transposed':
    canvas = block_conv2d_transpose(hidden_sum, cast_to(generator.upsample.kernel, dtype))
  else:
    canvas = generator.upsample.linear(hidden_sum)
  return canvas + float(num_steps) * cast_to(generator.upsample.bias, dtype)


def images_from_hidden_sums(generator, eta_g, steps):
  """eta_g(u_l) for every step, through one small transposed convolution of s_l.

  With a 1 x 1 eta_g (kernel W_g, bias b_g) after u_l = Upsample(s_l) + l b_up,
    eta_g(u_l) = ConvTranspose(s_l; K_up W_g) + l b_up W_g + b_g,
  a transposed convolution of stride CANVAS_SCALE to 3 channels: the 256-channel canvas
  is not formed.
  A wider eta_g mixes neighbouring blocks, and the resize upsampling mixes neighbouring
  positions, so their images are taken from the canvases.

  Returns:
    List of L images [B, H, W, 3], in the dtype of the hidden sums.
  """
  if eta_g.kernel_size != 1 or generator.upsampling != 'transposed':
    return [eta_g(canvas) for canvas in steps.canvases]
  dtype = steps.hidden_sums[0].dtype
  pixel_matrix = cast_to(eta_g.kernel[0, 0], dtype)  # [C_u, 3]
  image_kernel = tf.einsum('ijuc,uo->ijoc',
                           cast_to(generator.upsample.kernel, dtype),
                           pixel_matrix)  # [4, 4, 3, C]
  bias_per_step = tf.matmul(cast_to(generator.upsample.bias, dtype)[tf.newaxis],
                            pixel_matrix)[0]  # [3]
  image_bias = cast_to(eta_g.bias, dtype)
  return [block_conv2d_transpose(hidden_sum, image_kernel)
          + (float(step + 1) * bias_per_step + image_bias)
          for step, hidden_sum in enumerate(steps.hidden_sums)]


def _step_invariant_gates(cell, representation, query_camera, height, width):
  """The gate pre-activations of r and v^q plus every bias: the same at every step.

  Args:
    cell: a ConvLSTMCell with inputs 'representation' and 'query_pose'.
    representation: [B, h, w, C_r], or [B, 1, 1, C_r] for an r constant over the grid.
    query_camera: [B, 7].
    height, width: the LSTM grid.

  Returns:
    [B, height, width, 4C].
  """
  dtype = representation.dtype
  r_kernel = cast_to(cell.conv('representation').kernel, dtype)
  pose_kernel = cast_to(cell.conv('query_pose').kernel, dtype)
  if representation.shape.as_list()[1:3] == [1, 1]:
    r_gates = conv2d_of_constant_maps(representation[:, 0, 0, :], r_kernel,
                                                height, width)
  else:
    r_gates = tf.nn.conv2d(representation, r_kernel, [1, 1, 1, 1], 'SAME')
  pose_gates = conv2d_of_constant_maps(query_camera, pose_kernel, height, width)
  return r_gates + pose_gates + cell.bias_sum(dtype)


class _CanvasReader(object):
  """Downsample([x^q, u_{l-1}]) of the inference core, from s_{l-1} instead of u_{l-1}.

  With u_{l-1} = Upsample(s_{l-1}) + (l - 1) b_up and blocks that align:
    Downsample([x^q, u_{l-1}]) = D_x(x^q) + s_{l-1} P + (l - 1) b_up K_down,u
  (see the module docstring); D_x(x^q) is computed once.
  """

  def __init__(self, inference, generator, target_frame):
    dtype = target_frame.dtype
    self._generator = generator
    kernel = cast_to(inference.downsample.kernel, dtype)  # [4, 4, 3 + C_u, C]
    image_channels = target_frame.shape.as_list()[-1]
    hidden = kernel.shape.as_list()[-1]
    image_kernel = kernel[:, :, :image_channels]
    canvas_kernel = kernel[:, :, image_channels:]
    self._stride = [1, generator.scale, generator.scale, 1]
    self._target_part = tf.nn.conv2d(target_frame, image_kernel, self._stride, 'VALID')
    self._canvas_kernel = canvas_kernel
    if generator.upsampling != 'transposed':
      return  # The blocks do not align: the canvas is formed and read (__call__).
    up_kernel = cast_to(generator.upsample.kernel, dtype)  # [4, 4, C_u, C]
    # P[c, d] = sum_{i, j, u} K_up[i, j, u, c] K_down[i, j, 3 + u, d].
    self._canvas_matrix = tf.matmul(tf.reshape(up_kernel, [-1, hidden]),
                                    tf.reshape(canvas_kernel, [-1, hidden]),
                                    transpose_a=True)[tf.newaxis, tf.newaxis]  # 1x1 conv
    up_bias = cast_to(generator.upsample.bias, dtype)
    self._bias_per_step = tf.matmul(up_bias[tf.newaxis],
                                    tf.reduce_sum(canvas_kernel, axis=[0, 1]))[0]  # [C]

  def __call__(self, hidden_sum, num_steps):
    """Downsample([x^q, u_l]) for u_l given by s_l (None when l = 0): [B, h, w, C]."""
    if hidden_sum is None:
      return self._target_part
    if self._generator.upsampling != 'transposed':
      canvas = canvas_from_hidden_sum(self._generator, hidden_sum, num_steps)
      return self._target_part + tf.nn.conv2d(
          canvas, self._canvas_kernel, self._stride, 'VALID')
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
  kernels = [cast_to(cell.conv(name).kernel, dtype) for name in names]
  return _StepConvolutions(kernels, invariant, num_steps)


def _latent_convolutions(distribution, batch, height, width, num_steps, dtype):
  """_StepConvolutions of eta_q or eta_pi; the offset is its bias at every position."""
  conv = distribution.conv
  bias = cast_to(conv.bias, dtype)[tf.newaxis, tf.newaxis, tf.newaxis, :]
  return _StepConvolutions([cast_to(conv.kernel, dtype)],
                           tf.tile(bias, tf.stack([batch, height, width, 1])), num_steps)


# The state of the fast unroll: the generator's and the inference core's LSTM states and
# s_l; None stands for a zero state (before step 1): its convolutions are their biases,
# which are in the step-invariant offsets already.
_FastState = collections.namedtuple('_FastState', ['generator', 'inference', 'hidden_sum'])


class _FastSteps(object):
  """The steps of `unroll_steps` with the step-invariant, zero and linear parts taken out."""

  def __init__(self, representation, query_camera, seq_length, generator, prior, inference,
               posterior, target_frame):
    dtype = representation.dtype
    height, width = generator.grid
    query_camera = cast_to(query_camera, dtype)
    batch = tf.shape(representation)[0]
    self._dtype = dtype
    self._generator = generator
    self._gen_convs = _cell_convolutions(
        generator.cell, ['z', 'h_g'],
        _step_invariant_gates(generator.cell, representation, query_camera, height, width),
        seq_length)
    self._prior_convs = _latent_convolutions(prior, batch, height, width, seq_length, dtype)
    if target_frame is not None:
      self._inf_convs = _cell_convolutions(
          inference.cell, ['h_g', 'h_e'],
          _step_invariant_gates(inference.cell, representation, query_camera, height, width),
          seq_length)
      self._posterior_convs = _latent_convolutions(posterior, batch, height, width,
                                                   seq_length, dtype)
      self._read_canvas = _CanvasReader(inference, generator, target_frame)

  def initial_state(self):
    return _FastState(None, None, None)

  @staticmethod
  def _hidden_g(state):
    return state.generator.h if state.generator is not None else None

  def prior(self, step, state):
    return draw.gaussian(self._prior_convs(step, [self._hidden_g(state)]))

  def posterior(self, step, state):
    hidden_e = self._read_canvas(state.hidden_sum, step)  # Downsample([x^q, u_{l-1}])
    previous = state.inference
    if previous is not None:
      hidden_e = previous.h + hidden_e
    inference = draw.lstm_update(self._inf_convs(step, [self._hidden_g(state), hidden_e]),
                                 previous.c if previous is not None else None)
    posterior_l = draw.gaussian(self._posterior_convs(step, [inference.h]))
    return state._replace(inference=inference), posterior_l

  def update(self, step, state, z):
    previous = state.generator
    generator = draw.lstm_update(
        self._gen_convs(step, [cast_to(z, self._dtype), self._hidden_g(state)]),
        previous.c if previous is not None else None)
    hidden_sum = (generator.h if state.hidden_sum is None
                  else state.hidden_sum + generator.h)
    return _FastState(generator, state.inference, hidden_sum)

  def outputs(self, step, state):
    return canvas_from_hidden_sum(self._generator, state.hidden_sum, step + 1), state.hidden_sum


def fast_unroll(representation, query_camera, seq_length, generator, prior, inference=None,
                posterior=None, target_frame=None, prior_before_update=False):
  """gqn_draw.reference_unroll's results (same arguments), computed as described above.

  Returns:
    (final GeneratorState, DrawSteps); the canvases of DrawSteps and of the state are
    computed only when fetched.
  """
  steps_of = _FastSteps(representation, query_camera, seq_length, generator, prior,
                        inference, posterior, target_frame)
  state, steps = draw.unroll_steps(steps_of, seq_length, target_frame is not None,
                                   prior_before_update)
  return draw.GeneratorState(state.generator, steps.canvases[-1]), steps
