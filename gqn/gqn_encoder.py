"""GQN scene encoders: the 'tower' and 'pool' networks of Eslami et al. (2018), Fig. S1.

Each context view (x^k, v^k) is encoded to r^k; the scene representation is their sum,
r = sum_k r^k. Layer names follow tf-gqn (`conv2d`, `conv2d_1`, ... in creation order),
so its snapshots restore unchanged.
"""

import tensorflow.compat.v1 as tf

from gqn import layers


def _tower(frames, cameras, channels):
  """The tower network applied to a batch of views.

  Args:
    frames: [N, H, W, 3] images in [0, 1].
    cameras: [N, 7] their cameras v.
    channels: output channels C (256 in the paper); residual branches have C // 2.

  Returns:
    [N, H / 4, W / 4, C] per-view representations.
  """
  relu = tf.nn.relu
  half = channels // 2
  frame_channels = frames.shape.as_list()[-1]
  pose_channels = cameras.shape.as_list()[-1]
  net = layers.Conv2D('conv2d', frame_channels, channels, 2, 2, 'VALID', activation=relu)(
      frames)  # H/2 x W/2 x C
  skip = layers.Conv2D('conv2d_1', channels, half, 1)(net)
  net = layers.Conv2D('conv2d_2', channels, half, 3, activation=relu)(net) + skip
  net = layers.Conv2D('conv2d_3', half, channels, 2, 2, 'VALID', activation=relu)(
      net)  # H/4 x W/4 x C
  height, width = net.shape.as_list()[1:3]
  net = tf.concat([net, layers.broadcast_pose(cameras, height, width)], axis=-1)  # C + 7
  skip = layers.Conv2D('conv2d_4', channels + pose_channels, half, 1)(net)
  net = layers.Conv2D('conv2d_5', channels + pose_channels, half, 3, activation=relu)(
      net) + skip
  net = layers.Conv2D('conv2d_6', half, channels, 3, activation=relu)(net)
  return layers.Conv2D('conv2d_7', channels, channels, 1, activation=relu)(net)


def encode_scene(context_frames, context_cameras, enc_type, channels, pooled_channels=0):
  """Encodes K context views of each scene into one representation r.

  Args:
    context_frames: [B, K, H, W, 3] context images x^k in [0, 1].
    context_cameras: [B, K, 7] context cameras v^k.
    enc_type: 'pool' (r is 1 x 1 x C, averaged over space) or 'tower' (r is
      H/4 x W/4 x C).
    channels: C, the representation's channels (ENC_CHANNELS).
    pooled_channels: with the tower, the last this many channels of r are averaged over
      its grid and repeated at every cell (ENC_POOLED_CHANNELS): a code without a place
      beside the map. 0 is tf-gqn's tower.

  Returns:
    r: [B, 1, 1, C] for 'pool', [B, H/4, W/4, C] for 'tower'.
  """
  _, num_views, height, width, frame_channels = context_frames.shape.as_list()
  pose_channels = context_cameras.shape.as_list()[-1]
  batch = tf.shape(context_frames)[0]
  if num_views is None:
    # A view-count-agnostic graph (e.g. a predictor taking any number of views): r is a
    # sum over views, so only this reshape needs K.
    num_views = tf.shape(context_frames)[1]
  # The K views are one batch of B * K for the network.
  frames = tf.reshape(context_frames, [-1, height, width, frame_channels])
  cameras = tf.reshape(context_cameras, [-1, pose_channels])
  scope = {'pool': 'PoolEncoder', 'tower': 'TowerEncoder'}[enc_type]
  with tf.variable_scope(scope):
    net = _tower(frames, cameras, channels)
    if enc_type == 'pool':
      net = tf.reduce_mean(net, axis=[1, 2], keepdims=True)  # 1 x 1 x C
  out_height, out_width = net.shape.as_list()[1:3]
  net = tf.reshape(net, tf.stack([batch, num_views, out_height, out_width, channels]))
  net = tf.reduce_sum(net, axis=1)
  if pooled_channels:
    placed = net[..., :channels - pooled_channels]
    pooled = tf.reduce_mean(net[..., channels - pooled_channels:], axis=[1, 2], keepdims=True)
    net = tf.concat([placed, tf.tile(pooled, [1, out_height, out_width, 1])], axis=-1)
  return net
