"""Building blocks shared by the GQN encoder, the DRAW cores and the objective."""

import collections

import numpy as np
import tensorflow.compat.v1 as tf

# Gaussian parameters of a latent or pixel distribution, each [B, h, w, C].
Gaussian = collections.namedtuple('Gaussian', ['mu', 'sigma'])


class Conv2D(object):
  """A 2-D convolution whose variables are `<scope>/kernel` and `<scope>/bias`.

  The names and initialisers are those `tf.layers.conv2d` gives, so checkpoints written by
  tf-gqn's layers restore here. Variables are created once, in the constructor, and the
  module can be applied any number of times (e.g. at every DRAW step).
  """

  def __init__(self, name, in_channels, out_channels, kernel_size, stride=1,
               padding='SAME', use_bias=True, activation=None):
    """Creates the variables under variable scope `name` (relative to the current one).

    Args:
      name: variable scope of the layer, e.g. 'conv2d_3' or 'h_g_LSTMConv'.
      in_channels, out_channels: channel counts of input and output.
      kernel_size: side of the square kernel.
      stride: spatial stride.
      padding: 'SAME' or 'VALID'.
      use_bias: whether a bias is added.
      activation: optional function applied to the output.
    """
    self.kernel_size = kernel_size
    self.stride = stride
    self.padding = padding
    self.activation = activation
    with tf.variable_scope(name):
      self.kernel = tf.get_variable(
          'kernel', [kernel_size, kernel_size, in_channels, out_channels], tf.float32,
          initializer=tf.glorot_uniform_initializer())
      self.bias = tf.get_variable(
          'bias', [out_channels], tf.float32,
          initializer=tf.zeros_initializer()) if use_bias else None

  def __call__(self, inputs):
    """[B, H, W, in_channels] -> [B, H', W', out_channels], in the dtype of `inputs`.

    The variables stay float32; under mixed precision they are cast to the inputs'
    float16 / bfloat16 here.
    """
    net = tf.nn.conv2d(inputs, cast_to(self.kernel, inputs.dtype),
                       [1, self.stride, self.stride, 1], self.padding)
    if self.bias is not None:
      net = tf.nn.bias_add(net, cast_to(self.bias, inputs.dtype))
    return self.activation(net) if self.activation is not None else net


class Conv2DTranspose(object):
  """A transposed convolution named as `tf.layers.conv2d_transpose` names it.

  Its kernel is [k, k, out_channels, in_channels] (transposed layout).
  """

  def __init__(self, name, in_channels, out_channels, kernel_size, stride, use_bias=True):
    self.kernel_size = kernel_size
    self.stride = stride
    self.out_channels = out_channels
    with tf.variable_scope(name):
      self.kernel = tf.get_variable(
          'kernel', [kernel_size, kernel_size, out_channels, in_channels], tf.float32,
          initializer=tf.glorot_uniform_initializer())
      self.bias = tf.get_variable(
          'bias', [out_channels], tf.float32,
          initializer=tf.zeros_initializer()) if use_bias else None

  def __call__(self, inputs):
    """[B, h, w, in_channels] -> [B, h * stride, w * stride, out_channels] ('SAME')."""
    shape = tf.shape(inputs)
    static = inputs.shape.as_list()
    output_shape = tf.stack([shape[0], static[1] * self.stride, static[2] * self.stride,
                             self.out_channels])
    net = tf.nn.conv2d_transpose(inputs, cast_to(self.kernel, inputs.dtype), output_shape,
                                 [1, self.stride, self.stride, 1], 'SAME')
    net.set_shape([static[0], static[1] * self.stride, static[2] * self.stride,
                   self.out_channels])
    if self.bias is not None:
      net = tf.nn.bias_add(net, cast_to(self.bias, inputs.dtype))
    return net


def cast_to(tensor, dtype):
  """`tensor` in `dtype`; no op is added when it already has it.

  Variables are float32 always (checkpoints hold float32); under mixed precision they
  are cast where a float16 / bfloat16 computation uses them, so their gradients come
  back in float32 through the cast.
  """
  if tensor.dtype.base_dtype == dtype:
    return tensor
  return tf.cast(tensor, dtype)


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


def broadcast_pose(pose, height, width):
  """Tiles camera poses over a spatial map: [B, 7] -> [B, height, width, 7]."""
  pose = pose[:, tf.newaxis, tf.newaxis, :]
  return tf.tile(pose, [1, height, width, 1])


def annealed_value(step, alpha, beta, tau):
  """Linear anneal from `alpha` at step 0 to `beta` at step `tau`, then constant.

  value_t = max(beta + (alpha - beta) * (1 - t / tau), beta). Used for the pixel sigma
  (GENERATOR_SIGMA_*, ANNEAL_SIGMA_TAU) and the learning rate (ADAM_LR_*, ANNEAL_LR_TAU).

  Args:
    step: the global step, a scalar integer or float tensor (or Python number).
    alpha, beta: start and end values.
    tau: number of steps of the anneal.

  Returns:
    A float32 scalar tensor.
  """
  step = tf.cast(step, tf.float32)
  value = beta + (alpha - beta) * (1.0 - step / float(tau))
  return tf.maximum(value, float(beta))


def pixel_sigma(step, config):
  """The annealed standard deviation sigma_t of the pixel likelihood at `step`."""
  return annealed_value(step, config.GENERATOR_SIGMA_ALPHA, config.GENERATOR_SIGMA_BETA,
                        config.ANNEAL_SIGMA_TAU)


def learning_rate(step, config):
  """The annealed Adam learning rate at `step`."""
  return annealed_value(step, config.ADAM_LR_ALPHA, config.ADAM_LR_BETA, config.ANNEAL_LR_TAU)


# Mixed precision: the network computes in float16 or bfloat16, the variables (and so
# the checkpoints) stay float32.
MIXED_PRECISION_DTYPES = collections.OrderedDict([
    ('float16', tf.float16), ('bfloat16', tf.bfloat16)])


def compute_dtype(mixed_precision):
  """The dtype the network computes in.

  Args:
    mixed_precision: None (float32), 'float16' or 'bfloat16'.

  Returns:
    tf.float32, tf.float16 or tf.bfloat16.

  Raises:
    ValueError: another value.
  """
  if mixed_precision is None:
    return tf.float32
  if mixed_precision not in MIXED_PRECISION_DTYPES:
    raise ValueError('mixed_precision is %r; use None (float32) or one of %s.'
                     % (mixed_precision, ', '.join(MIXED_PRECISION_DTYPES)))
  return MIXED_PRECISION_DTYPES[mixed_precision]


def minimize(optimizer, loss, global_step, dtype=tf.float32, initial_loss_scale=2.0 ** 15,
             growth_interval=2000):
  """`optimizer.minimize(loss)`, with dynamic loss scaling when computing in float16.

  float16 has a narrow exponent range, so the loss is multiplied by a scale S before
  differentiation (small gradients would otherwise flush to zero) and the float32
  gradients are divided by S. A step with a non-finite gradient is skipped (the global
  step still counts it) and halves S; `growth_interval` finite steps in a row double it.
  S and the count are local variables: a checkpoint holds the same variables as in
  float32 training, and S starts again from `initial_loss_scale` when a run restarts.
  float32 and bfloat16 (float32's exponent range) need no scaling.

  Args:
    optimizer: a tf.train.Optimizer.
    loss: float32 scalar.
    global_step: the global step variable; incremented by the returned op.
    dtype: the compute dtype (see `compute_dtype`).
    initial_loss_scale: S at the first step.
    growth_interval: finite steps after which S doubles.

  Returns:
    The training op.
  """
  if dtype != tf.float16:
    return optimizer.minimize(loss, global_step=global_step)
  local = [tf.GraphKeys.LOCAL_VARIABLES]
  with tf.variable_scope('loss_scale'):
    scale = tf.get_variable('scale', [], tf.float32, trainable=False, collections=local,
                            initializer=tf.constant_initializer(initial_loss_scale))
    finite_steps = tf.get_variable('finite_steps', [], tf.int64, trainable=False,
                                   collections=local, initializer=tf.zeros_initializer())
  grads_and_vars = optimizer.compute_gradients(loss * scale)
  grads_and_vars = [(g / scale, v) for g, v in grads_and_vars if g is not None]
  finite = tf.reduce_all([tf.reduce_all(tf.is_finite(g)) for g, _ in grads_and_vars])

  def apply_step():
    grow = finite_steps + 1 >= growth_interval
    with tf.control_dependencies([optimizer.apply_gradients(grads_and_vars, global_step)]):
      return tf.group(tf.assign(scale, tf.where(grow, scale * 2.0, scale)),
                      tf.assign(finite_steps, tf.where(grow, tf.zeros_like(finite_steps),
                                                       finite_steps + 1)))

  def skip_step():
    return tf.group(tf.assign_add(global_step, 1),
                    tf.assign(scale, tf.maximum(scale / 2.0, 1.0)),
                    tf.assign(finite_steps, tf.zeros_like(finite_steps)))

  return tf.cond(finite, apply_step, skip_step)
