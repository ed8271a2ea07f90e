"""Tests of data_provider/camera.py: pose encoding, look-at, rings and nearest views."""

import math

import numpy as np
import tensorflow.compat.v1 as tf

from data_provider import camera


def _encoded(x, y, z, yaw, pitch=0.0):
  return [x, y, z, math.sin(yaw), math.cos(yaw), math.sin(pitch), math.cos(pitch)]


def test_decode_pose_inverts_encode_pose():
  poses = camera.camera_ring(8, radius=2.0, height=0.5, pitch=-0.3, centre=(1.0, -1.0),
                              start_angle=0.25)
  assert poses.shape == (8, camera.RAW_POSE_SIZE)
  with tf.Graph().as_default(), tf.Session() as sess:
    encoded = sess.run(camera.encode_pose(poses))
  assert encoded.shape == (8, camera.POSE_SIZE)
  np.testing.assert_allclose(camera.decode_pose(encoded), poses, atol=1e-5)


def test_directions_agree_between_angles_encodings_and_look_at():
  # A camera at (-d, 0) facing the origin has yaw 0, one at (0, -d) has yaw pi / 2.
  np.testing.assert_allclose(camera.facing_yaw([[-2.0, 0.0], [0.0, -2.0]]),
                             [0.0, np.pi / 2], atol=1e-12)
  positions = np.array([[-2.0, 0.5, 1.0], [1.0, 3.0, -1.0]])
  poses = camera.look_at(positions, [0.0, 0.0, 0.0])
  forward = camera.forward_direction(poses[:, 3], poses[:, 4])
  np.testing.assert_allclose(
      forward, -positions / np.linalg.norm(positions, axis=1, keepdims=True), atol=1e-6)
  encoded = [_encoded(*pose) for pose in poses]
  np.testing.assert_allclose(camera.viewing_direction(encoded), forward, atol=1e-6)


def test_nearest_context_view_and_flight_ring():
  context = np.array([[_encoded(3, 0, 0, math.pi), _encoded(0, 3, 0, 0.0),
                       _encoded(0, 3, 0, -math.pi / 2)]])
  assert camera.nearest_context_view(context, np.array([_encoded(2.5, 0.5, 0, 0.0)])) == [0]
  assert camera.nearest_context_view(context, np.array([_encoded(0, 3, 0, -1.4)])) == [2]
  # Context cameras on a ring around (0.5, -0.5), facing it: the flight keeps the ring.
  poses = camera.camera_ring(3, radius=3.0, height=1.0, pitch=-0.2, centre=(0.5, -0.5))
  ring = camera.flight_cameras([_encoded(*pose) for pose in poses], 6, 'rooms_ring_camera')
  assert ring.shape == (6, camera.RAW_POSE_SIZE)
  np.testing.assert_allclose(np.linalg.norm(ring[:, :2] - [0.5, -0.5], axis=1), 3.0,
                             rtol=1e-5)
