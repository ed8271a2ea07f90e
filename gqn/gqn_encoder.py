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
    ([N, H / 4, W / 4, C] per-view representations, [N, H / 4, W / 4, C] the features
    their last 1 x 1 layer reads, for the code head).
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
  features = layers.Conv2D('conv2d_6', half, channels, 3, activation=relu)(net)
  return layers.Conv2D('conv2d_7', channels, channels, 1, activation=relu)(features), features


def encode_scene(context_frames, context_cameras, enc_type, channels, pooled_channels=0,
                 code_channels=0):
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
    code_channels: with the tower, P channels more after the C of r (ENC_CODE_CHANNELS):
      a 1 x 1 head beside the last layer (variables `code/`) reads the same features,
      its output is averaged over the grid, summed over the views and repeated at every
      cell. Unlike pooled channels, it leaves all C channels to the map. 0 is tf-gqn's
      tower.

  Returns:
    r: [B, 1, 1, C] for 'pool', [B, H/4, W/4, C + P] for 'tower'.
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
    net, features = _tower(frames, cameras, channels)
    if enc_type == 'pool':
      net = tf.reduce_mean(net, axis=[1, 2], keepdims=True)  # 1 x 1 x C
    if code_channels:
      code = layers.Conv2D('code', channels, code_channels, 1, activation=tf.nn.relu)(
          features)
      code = tf.reduce_mean(code, axis=[1, 2], keepdims=True)  # 1 x 1 x P
  out_height, out_width = net.shape.as_list()[1:3]

  def sum_over_views(views, rows, columns, depth):
    views = tf.reshape(views, tf.stack([batch, num_views, rows, columns, depth]))
    return tf.reduce_sum(views, axis=1)

  net = sum_over_views(net, out_height, out_width, channels)
  grid = [1, out_height, out_width, 1]
  if pooled_channels:
    placed = net[..., :channels - pooled_channels]
    pooled = tf.reduce_mean(net[..., channels - pooled_channels:], axis=[1, 2], keepdims=True)
    net = tf.concat([placed, tf.tile(pooled, grid)], axis=-1)
  if code_channels:
    code = sum_over_views(code, 1, 1, code_channels)
    net = tf.concat([net, tf.tile(code, grid)], axis=-1)
  return net
