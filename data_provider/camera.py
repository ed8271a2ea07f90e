"""Camera poses: the stored `[x, y, z, yaw, pitch]`, the model's encoding v, and camera paths.

Conventions (DeepMind's rooms data and data_provider/scenes, see the scenes package
docstring): z is up; a pose is the camera centre `(x, y, z)` and the angles of its
viewing direction, in radians,

    forward(yaw, pitch) = (cos pitch cos yaw, cos pitch sin yaw, sin pitch),

yaw about z from +x towards +y (counter-clockwise seen from above), in (-pi, pi]; pitch
the elevation above the floor plane, positive looking up, |pitch| < pi / 2.

The model sees a pose as the viewpoint v of the paper (Eslami et al. 2018),

    v = [x, y, z, sin yaw, cos yaw, sin pitch, cos pitch]    (`encode_pose`),

and `decode_pose` inverts it.
"""

import math

import numpy as np
import tensorflow.compat.v1 as tf

RAW_POSE_SIZE = 5  # [x, y, z, yaw, pitch] as stored in the records.
POSE_SIZE = 7  # [x, y, z, sin yaw, cos yaw, sin pitch, cos pitch], the model's v.

# Datasets whose cameras orbit an object at the origin (the rest look into a room).
_ORBIT_DATASETS = ('shepard_metzler',)


def encode_pose(raw):
  """Encodes stored cameras for the model: the camera viewpoint v of the paper.

  Args:
    raw: `[..., 5]` tensor or array `[x, y, z, yaw, pitch]`, angles in radians.
      Arrays and lists are converted to float32.

  Returns:
    `[..., 7]` tensor `[x, y, z, sin(yaw), cos(yaw), sin(pitch), cos(pitch)]`, same
    leading shape and (float) dtype as a tensor input.

  Raises:
    ValueError: the last dimension is statically known and not 5.
  """
  if not tf.is_tensor(raw):
    raw = np.asarray(raw, dtype=np.float32)
  raw = tf.convert_to_tensor(raw)
  if not raw.dtype.is_floating:
    raw = tf.cast(raw, tf.float32)
  last = raw.shape[-1:].as_list() if raw.shape.ndims else [None]
  if last[0] is not None and last[0] != RAW_POSE_SIZE:
    raise ValueError('encode_pose expects [..., 5] = [x, y, z, yaw, pitch], got '
                     'shape %s.' % (raw.shape,))
  position = raw[..., :3]
  yaw = raw[..., 3:4]
  pitch = raw[..., 4:5]
  return tf.concat(
      [position, tf.sin(yaw), tf.cos(yaw), tf.sin(pitch), tf.cos(pitch)], axis=-1)


def decode_pose(cameras):
  """The inverse of `encode_pose`: [..., 7] encoded cameras -> [..., 5] raw poses.

  Returns:
    [..., 5] float64 `[x, y, z, yaw, pitch]`, angles in (-pi, pi].
  """
  cameras = np.asarray(cameras, np.float64)
  yaw = np.arctan2(cameras[..., 3], cameras[..., 4])
  pitch = np.arctan2(cameras[..., 5], cameras[..., 6])
  return np.concatenate([cameras[..., :3], yaw[..., None], pitch[..., None]], axis=-1)


def _direction(sin_yaw, cos_yaw, sin_pitch, cos_pitch):
  return np.stack([cos_pitch * cos_yaw, cos_pitch * sin_yaw, sin_pitch], axis=-1)


def forward_direction(yaw, pitch):
  """Unit viewing direction of cameras with the given angles.

  Args:
    yaw: `[...]` radians, from +x towards +y (counter-clockwise seen from above).
    pitch: `[...]` radians, positive looks up.

  Returns:
    `[..., 3]` float32 unit vectors.
  """
  yaw = np.asarray(yaw, dtype=np.float32)
  pitch = np.asarray(pitch, dtype=np.float32)
  return _direction(np.sin(yaw), np.cos(yaw), np.sin(pitch), np.cos(pitch))


def viewing_direction(cameras):
  """Unit viewing direction of encoded cameras, read off their sines and cosines.

  Args:
    cameras: `[..., 7]` encoded cameras v.

  Returns:
    `[..., 3]` float64 unit vectors, `forward(yaw, pitch)`.
  """
  cameras = np.asarray(cameras, np.float64)
  return _direction(cameras[..., 3], cameras[..., 4], cameras[..., 5], cameras[..., 6])


def look_at(positions, target):
  """Poses of cameras at `positions` that face `target`.

  Args:
    positions: `[V, 3]` camera centres; none directly above or below `target`.
    target: `[3]` the point every camera looks at.

  Returns:
    `[V, 5]` float32 poses `[x, y, z, yaw, pitch]`, yaw in (-pi, pi].
  """
  positions = np.asarray(positions, dtype=np.float32)
  offset = np.asarray(target, dtype=np.float32) - positions  # [V, 3]
  yaw = np.arctan2(offset[:, 1], offset[:, 0])
  pitch = np.arctan2(offset[:, 2], np.hypot(offset[:, 0], offset[:, 1]))
  return np.concatenate([positions, yaw[:, None], pitch[:, None]],
                        axis=1).astype(np.float32)


def facing_yaw(positions, centre=(0.0, 0.0)):
  """The yaw of cameras at `positions` looking (horizontally) at `centre`.

  The viewing direction is (cos yaw, sin yaw) in the floor plane, so a camera at p
  facing c has yaw = atan2(c_y - p_y, c_x - p_x); for the origin, atan2(-p_y, -p_x).

  Args:
    positions: [..., 2 or 3] camera positions (only x and y are used).
    centre: [2] the point (x, y) the cameras face.

  Returns:
    [...] yaw in radians, in (-pi, pi].
  """
  positions = np.asarray(positions, np.float64)
  return np.arctan2(centre[1] - positions[..., 1], centre[0] - positions[..., 0])


def camera_ring(num_views, radius, height, pitch, centre=(0.0, 0.0), start_angle=0.0):
  """Cameras evenly spaced on a horizontal circle, all facing its centre.

  Args:
    num_views: N, the number of cameras.
    radius: distance of the cameras from the vertical axis through `centre`.
    height: their z.
    pitch: their pitch (radians; negative looks down).
    centre: [2] the (x, y) of the circle's centre.
    start_angle: the angle (about z, from +x) of the first camera's position.

  Returns:
    [N, 5] float32 raw poses `[x, y, z, yaw, pitch]`; camera n sits at angle
    start_angle + 2 pi n / N (counter-clockwise seen from above).
  """
  angles = start_angle + 2.0 * np.pi * np.arange(num_views) / num_views
  x = centre[0] + radius * np.cos(angles)
  y = centre[1] + radius * np.sin(angles)
  positions = np.stack([x, y, np.full_like(x, height)], axis=-1)
  yaw = facing_yaw(positions, centre)
  return np.concatenate([positions, yaw[:, None], np.full_like(yaw, pitch)[:, None]],
                        axis=-1).astype(np.float32)


def nearest_context_view(context_cameras, query_cameras):
  """For each scene, the context view whose camera is nearest the query camera.

  distance = |p_q - p_k| + |d_q - d_k|: the distance between the camera positions plus
  the chord between the unit viewing directions d (`viewing_direction`). A chord of 1
  (a turn of 60 degrees) weighs like a step of one scene unit: among cameras at
  (nearly) the same place the one looking the same way wins, and a camera looking the
  opposite way counts as 2 units further away. On a ring of cameras facing its centre,
  position and direction agree.

  Args:
    context_cameras: [B, K, 7] encoded cameras.
    query_cameras: [B, 7].

  Returns:
    [B] int indices into K.
  """
  query = np.asarray(query_cameras, np.float64)[:, np.newaxis]  # [B, 1, 7]
  context = np.asarray(context_cameras, np.float64)
  distance = (np.linalg.norm(context[..., :3] - query[..., :3], axis=-1)
              + np.linalg.norm(viewing_direction(context) - viewing_direction(query),
                               axis=-1))
  return np.argmin(distance, axis=1)


def ring_centre(raw_poses):
  """The point (x, y) nearest, in least squares, to the cameras' viewing lines.

  Cameras on a ring facing the scene centre all look through it. When the views are
  (nearly) parallel there is no such point and the origin is taken.

  Args:
    raw_poses: [K, 5] raw poses.

  Returns:
    [2] float64 (x, y).
  """
  yaw = raw_poses[:, 3]
  normals = np.stack([-np.sin(yaw), np.cos(yaw)], axis=-1)  # [K, 2], normal of each line
  projections = normals[:, :, np.newaxis] * normals[:, np.newaxis, :]  # [K, 2, 2]
  matrix = projections.sum(axis=0)
  if np.linalg.cond(matrix) > 1e3:
    return np.zeros(2)
  return np.linalg.solve(matrix, np.einsum('kij,kj->i', projections, raw_poses[:, :2]))


def flight_cameras(context_cameras, num_views, dataset):
  """Cameras of a fly-through of one scene: a ring like the dataset's camera ring.

  Shepard-Metzler datasets (DeepMind's and synth_): the cameras orbit the object at the
  origin; the ring is around the origin at the context cameras' mean horizontal radius
  and height, facing the origin (pitch included). Other datasets (rooms): the ring is
  around the scene centre (where the context cameras' viewing lines meet, the middle of
  the room for a ring camera), at their mean radius and height and mean pitch, facing
  the centre. The first camera sits at the angle of the first context camera.

  Args:
    context_cameras: [K, 7] the scene's encoded context cameras.
    num_views: N, cameras on the ring.
    dataset: the dataset name.

  Returns:
    [N, 5] raw poses [x, y, z, yaw, pitch].
  """
  raw = decode_pose(context_cameras)
  orbit = any(name in dataset for name in _ORBIT_DATASETS)
  centre = np.zeros(2) if orbit else ring_centre(raw)
  offsets = raw[:, :2] - centre
  radius = float(np.mean(np.linalg.norm(offsets, axis=-1)))
  height = float(np.mean(raw[:, 2]))
  if orbit:
    pitch = math.atan2(-height, radius)
  else:
    pitch = float(np.mean(raw[:, 4]))
  start = math.atan2(offsets[0, 1], offsets[0, 0])
  return camera_ring(num_views, radius, height, pitch, centre, start)
