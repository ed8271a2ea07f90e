"""Layers with tf-gqn's variable names: 2-D convolutions, their transpose, pose tiling."""

import tensorflow.compat.v1 as tf

from gqn.precision import cast_to


def _kernel_and_bias(name, kernel_shape, use_bias, bias_size=None):
  """`<name>/kernel` (Glorot uniform) and `<name>/bias` (zeros, or None), float32.

  The bias has `bias_size` entries, by default the kernel's last dimension.
  """
  with tf.variable_scope(name):
    kernel = tf.get_variable('kernel', kernel_shape, tf.float32,
                             initializer=tf.glorot_uniform_initializer())
    bias = tf.get_variable(
        'bias', [bias_size or kernel_shape[-1]], tf.float32,
        initializer=tf.zeros_initializer()) if use_bias else None
  return kernel, bias


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
    self.kernel, self.bias = _kernel_and_bias(
        name, [kernel_size, kernel_size, in_channels, out_channels], use_bias)

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
    # The transposed layout: [k, k, out_channels, in_channels].
    self.kernel, self.bias = _kernel_and_bias(
        name, [kernel_size, kernel_size, out_channels, in_channels], use_bias,
        bias_size=out_channels)

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


class ResizeConv2D(object):
  """Upsampling without checkerboards: a bilinear resize by `scale`, then a convolution.

  A transposed convolution whose kernel equals its stride writes every output block with
  the same learnt pattern, which shows as a grid over the image until training has made
  the blocks agree; resizing first and convolving after spreads each input over its
  neighbours' blocks (Odena, Dumoulin and Olah, "Deconvolution and checkerboard
  artifacts", Distill 2016). Both steps are linear, so `linear` (without the bias) of a
  sum is the sum of the parts. Variables `<name>/kernel` [k, k, in, out], `<name>/bias`.
  """

  def __init__(self, name, in_channels, out_channels, kernel_size, scale):
    self.scale = scale
    self.out_channels = out_channels
    self.conv = Conv2D(name, in_channels, out_channels, kernel_size, use_bias=True)
    self.kernel, self.bias = self.conv.kernel, self.conv.bias

  def linear(self, inputs):
    """The upsampling without its bias: [B, h, w, in] -> [B, h * scale, w * scale, out]."""
    static = inputs.shape.as_list()
    size = [static[1] * self.scale, static[2] * self.scale]
    # The resize computes in float32 whatever its input; back to the inputs' dtype.
    resized = tf.cast(tf.image.resize_bilinear(inputs, size, align_corners=False,
                                               half_pixel_centers=True), inputs.dtype)
    return tf.nn.conv2d(resized, cast_to(self.kernel, inputs.dtype), [1, 1, 1, 1], 'SAME')

  def __call__(self, inputs):
    return tf.nn.bias_add(self.linear(inputs), cast_to(self.bias, inputs.dtype))


def broadcast_pose(pose, height, width):
  """Tiles camera poses over a spatial map: [B, 7] -> [B, height, width, 7]."""
  pose = pose[:, tf.newaxis, tf.newaxis, :]
  return tf.tile(pose, [1, height, width, 1])
