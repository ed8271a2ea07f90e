"""Building blocks shared by the GQN encoder, the DRAW cores and the objective."""

import collections

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
    """[B, H, W, in_channels] -> [B, H', W', out_channels]."""
    net = tf.nn.conv2d(inputs, self.kernel, [1, self.stride, self.stride, 1], self.padding)
    if self.bias is not None:
      net = tf.nn.bias_add(net, self.bias)
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
    net = tf.nn.conv2d_transpose(inputs, self.kernel, output_shape,
                                 [1, self.stride, self.stride, 1], 'SAME')
    net.set_shape([static[0], static[1] * self.stride, static[2] * self.stride,
                   self.out_channels])
    if self.bias is not None:
      net = tf.nn.bias_add(net, self.bias)
    return net


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
