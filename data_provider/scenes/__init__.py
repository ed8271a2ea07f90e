"""Synthetic GQN scenes, ray cast in numpy and written in DeepMind's gqn-datasets format.

DeepMind's datasets cannot be downloaded everywhere; these small look-alikes feed the
demo, the tests and the benchmarks:

    synth_rooms_ring_camera         rooms.py            10 views per scene
    synth_shepard_metzler_5_parts   shepard_metzler.py  15 views per scene
    synth_shepard_metzler_7_parts   shepard_metzler.py  15 views per scene

Render one with `python -m data_provider.scenes.render` or
`data_provider.scenes.render.render_dataset(...)`; read it with
`data_provider.gqn_tfr_provider`, like DeepMind's.

Camera conventions (all modules, all stored poses):

* World axes: right-handed, z is up; x and y span the floor (the rooms' floor is z = 0,
  the room is centred on the origin; Shepard-Metzler objects are centred on the origin).
* A stored pose is `[x, y, z, yaw, pitch]`: the camera centre, then the angles of the
  camera's viewing direction, in radians. The camera looks along
      forward = (cos(pitch) cos(yaw), cos(pitch) sin(yaw), sin(pitch)).
* yaw: angle of the viewing direction about the up (z) axis, measured from +x towards
  +y (counter-clockwise seen from above), in (-pi, pi]. A camera at (-d, 0, 0) facing
  the origin has yaw 0; one at (0, -d, 0) has yaw pi / 2.
* pitch: elevation of the viewing direction above the horizontal plane, positive when
  looking up; a camera above its target has negative pitch. |pitch| < pi / 2.
* No roll: image columns run along forward x z (to the right), image rows down along
  -(right x forward). Row 0 is the top of the image.
* Pinhole, square frames, the same field of view horizontally and vertically, measured
  edge to edge of the image: 60 degrees for rooms (`rooms.FOV`), 40 degrees for
  Shepard-Metzler (`shepard_metzler.FOV`). The ray of the viewing direction hits the
  exact image centre (H / 2, W / 2) in continuous pixel coordinates, where pixel (i, j)
  spans [i, i + 1) x [j, j + 1).
* Every camera faces its scene's centre: `rooms.LOOK_AT` (above the middle of the floor)
  from a ring of radius `rooms.CAMERA_RING_RADIUS` at height `rooms.CAMERA_HEIGHT`;
  the origin from a sphere of radius `shepard_metzler.CAMERA_DISTANCE`.
"""
