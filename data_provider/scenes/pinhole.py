"""Pinhole cameras: the rays through their pixels and the projection of points into them.

Poses are `[x, y, z, yaw, pitch]` (conventions: the package docstring and
`data_provider.camera`); a camera looks along `camera.forward_direction(yaw, pitch)`
with z up. The image plane is spanned by `right = forward x z / |forward x z|` (towards
increasing column) and `up = right x forward` (towards decreasing row), so the camera
never rolls. Pitch must stay inside (-pi/2, pi/2), where `right` is defined.
"""

import numpy as np

from data_provider import camera


def camera_axes(poses):
  """Orthonormal camera frames of `[V, 5]` poses.

  Returns:
    (forward, right, up), each `[V, 3]` float32.
  """
  forward = camera.forward_direction(poses[:, 3], poses[:, 4])
  yaw = np.asarray(poses[:, 3], dtype=np.float32)
  right = np.stack([np.sin(yaw), -np.cos(yaw), np.zeros_like(yaw)], axis=-1)
  up = np.cross(right, forward)
  return forward, right, up


def pixel_rays(poses, fov, frame_size, views, rows, cols):
  """Rays through points of the images of square pinhole cameras.

  Args:
    poses: `[V, 5]` poses `[x, y, z, yaw, pitch]`.
    fov: field of view in radians, horizontal = vertical (square frames).
    frame_size: H = W in pixels.
    views: `[R]` int, the camera of each ray.
    rows, cols: `[R]` continuous pixel coordinates of each ray: row 0 is the top edge
      and column 0 the left edge of the image, so the centre of pixel (i, j) is
      (i + 0.5, j + 0.5) and (H / 2, W / 2) is the image centre.

  Returns:
    (origins, directions), each `[3, R]` float32 (a batch of rays, coordinates first as
    in `raycast`); directions are unit vectors.
  """
  poses = np.asarray(poses, dtype=np.float32)
  forward, right, up = [axis.T for axis in camera_axes(poses)]  # [3, V] each
  half_width = np.float32(np.tan(fov / 2.0))
  u = (2.0 * np.asarray(cols, dtype=np.float32) / frame_size - 1.0) * half_width
  v = (1.0 - 2.0 * np.asarray(rows, dtype=np.float32) / frame_size) * half_width
  # np.take: several times faster than fancy indexing along the last axis.
  directions = (np.take(forward, views, axis=1) + u * np.take(right, views, axis=1)
                + v * np.take(up, views, axis=1))  # [3, R]
  directions /= np.sqrt(np.sum(directions * directions, axis=0))
  origins = np.take(poses[:, :3].T, views, axis=1)
  return origins, directions.astype(np.float32)


def project(points, pose, fov, frame_size):
  """Projects world points into the image of one camera (inverse of `pixel_rays`).

  Args:
    points: `[N, 3]` world points in front of the camera.
    pose: `[5]` pose `[x, y, z, yaw, pitch]`.
    fov: field of view in radians.
    frame_size: H = W in pixels.

  Returns:
    (rows, cols, depths), each `[N]`: continuous pixel coordinates (the centre of pixel
    (i, j) is (i + 0.5, j + 0.5), so the image centre is (H / 2, W / 2)) and the
    distance along the viewing direction.
  """
  pose = np.asarray(pose, dtype=np.float64)[None]
  forward, right, up = [axis[0] for axis in camera_axes(pose)]
  offsets = np.asarray(points, dtype=np.float64) - pose[0, :3]
  depths = offsets @ forward
  half_width = np.tan(fov / 2.0)
  u = offsets @ right / depths / half_width  # -1 (left edge) .. 1 (right edge)
  v = offsets @ up / depths / half_width  # -1 (bottom edge) .. 1 (top edge)
  cols = (u + 1.0) / 2.0 * frame_size
  rows = (1.0 - v) / 2.0 * frame_size
  return rows, cols, depths
