"""Rooms with a ring camera, after DeepMind's `rooms_ring_camera`.

A square room (floor |x|, |y| <= 3.5, walls `WALL_HEIGHT` high, no ceiling) with one wall
colour out of 5 and one floor colour out of 3 holds 1-3 objects (sphere, box, cylinder,
cone, capsule) of random colour, size and yaw standing on the floor without touching each
other. A point light near the top of the room lights it (Lambertian, hard shadows from
shadow rays, some ambient light). The camera sits on a fixed ring (radius
`CAMERA_RING_RADIUS`, height `CAMERA_HEIGHT`) at a random angle per view and looks at
`LOOK_AT`, above the centre of the floor.
"""

import collections
import functools

import numpy as np

from data_provider import camera
from data_provider.scenes import raycast

ROOM_HALF_SIZE = 3.5
WALL_HEIGHT = 3.0
FOV = np.radians(60.0)
CAMERA_RING_RADIUS = 3.0
CAMERA_HEIGHT = 1.5
LOOK_AT = (0.0, 0.0, 0.4)
LIGHT_POSITION = (0.8, -0.6, 2.3)
AMBIENT = 0.35
# Rays leaving over the walls see this.
SKY_COLOUR = (0.05, 0.05, 0.08)

WALL_COLOURS = np.float32([
    [0.80, 0.78, 0.72],  # off-white
    [0.85, 0.55, 0.45],  # terracotta
    [0.50, 0.68, 0.85],  # light blue
    [0.60, 0.78, 0.52],  # sage green
    [0.78, 0.68, 0.88],  # lavender
])
FLOOR_COLOURS = np.float32([
    [0.55, 0.55, 0.55],  # grey
    [0.60, 0.42, 0.28],  # wood
    [0.30, 0.36, 0.48],  # slate blue
])

# Objects stand inside this disc about the centre (footprints included), well inside the
# camera ring, so no camera is ever inside or against an object.
OBJECT_AREA_RADIUS = 1.9
MIN_OBJECTS, MAX_OBJECTS = 1, 3
OBJECT_RADIUS_RANGE = (0.3, 0.55)
# height / radius per kind.
HEIGHT_RATIO_RANGES = {
    'sphere': (2.0, 2.0),
    'box': (1.2, 2.6),
    'cylinder': (1.2, 3.0),
    'cone': (1.6, 3.2),
    'capsule': (2.6, 4.0),
}
# Gap kept between object footprints.
OBJECT_GAP = 0.1
_PLACEMENT_TRIES = 100
# Shadow rays start this far off the surface, along its normal, so as not to hit it.
_SHADOW_RAY_OFFSET = 1e-3

RoomScene = collections.namedtuple(
    'RoomScene', ['wall_colour', 'floor_colour', 'objects'])


def _sample_object(rng):
  """A random `raycast.Shape` of any kind, not yet placed (position None)."""
  kind = raycast.SHAPE_KINDS[rng.integers(len(raycast.SHAPE_KINDS))]
  radius = rng.uniform(*OBJECT_RADIUS_RANGE)
  height = radius * rng.uniform(*HEIGHT_RATIO_RANGES[kind])
  return raycast.Shape(kind=kind, position=None, yaw=rng.uniform(-np.pi, np.pi),
                       radius=radius, height=height,
                       colour=raycast.random_colour(rng))


def _place(rng, shape, placed):
  """`shape` moved to a random free spot on the floor, or None if none was found."""
  reach = OBJECT_AREA_RADIUS - raycast.footprint_radius(shape)
  for _ in range(_PLACEMENT_TRIES):
    x, y = rng.uniform(-reach, reach, size=2)
    if np.hypot(x, y) > reach:
      continue
    if all(np.hypot(x - other.position[0], y - other.position[1])
           >= raycast.footprint_radius(shape) + raycast.footprint_radius(other)
           + OBJECT_GAP for other in placed):
      return shape._replace(position=(x, y, 0.0))
  return None


def sample_room(rng):
  """Draws a `RoomScene(wall_colour [3], floor_colour [3], objects [Shape])`."""
  wall_colour = WALL_COLOURS[rng.integers(len(WALL_COLOURS))]
  floor_colour = FLOOR_COLOURS[rng.integers(len(FLOOR_COLOURS))]
  objects = []
  for _ in range(rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1)):
    shape = _place(rng, _sample_object(rng), objects)
    # With no free spot left (never at these sizes) the room gets fewer objects.
    if shape is not None:
      objects.append(shape)
  return RoomScene(wall_colour, floor_colour, objects)


def sample_ring_cameras(rng, views):
  """`[views, 5]` poses on the camera ring at random angles, all facing `LOOK_AT`."""
  angles = rng.uniform(-np.pi, np.pi, size=views)
  positions = np.stack([CAMERA_RING_RADIUS * np.cos(angles),
                        CAMERA_RING_RADIUS * np.sin(angles),
                        np.full(views, CAMERA_HEIGHT)], axis=1)
  return camera.look_at(positions, LOOK_AT)


def trace_room(scene, origins, directions):
  """Colours `[3, R]` seen along `[3, R]` rays (see `raycast`) in the room `scene`."""
  t_room, room_normals, surface = raycast.intersect_room(
      origins, directions, ROOM_HALF_SIZE, WALL_HEIGHT)
  t, object_normals, index = raycast.intersect_shapes(
      scene.objects, origins, directions, t_room)
  on_object = index >= 0
  normals = np.where(on_object, object_normals, room_normals)

  # Colour table: the 3 room surfaces (floor, wall, sky), then the objects.
  palette = np.float32([scene.floor_colour, scene.wall_colour, SKY_COLOUR]
                       + [shape.colour for shape in scene.objects]).T  # [3, 3 + K]
  albedo = np.take(palette, np.where(on_object, 3 + index, surface), axis=1)  # [3, R]

  # Shadow rays from every visible surface point that faces the light. The room is
  # convex and the light inside it, so only objects can block the light.
  seen = np.isfinite(t)
  points = origins + np.where(seen, t, 0.0) * directions
  to_light = np.float32(LIGHT_POSITION).reshape(3, 1) - points
  light_distance = np.sqrt(np.sum(to_light * to_light, axis=0))
  to_light /= light_distance
  facing = np.flatnonzero(seen & (np.sum(normals * to_light, axis=0) > 0.0))
  _, _, blocker = raycast.intersect_shapes(
      scene.objects, points[:, facing] + _SHADOW_RAY_OFFSET * normals[:, facing],
      to_light[:, facing], light_distance[facing])
  to_light[:, facing[blocker >= 0]] = 0.0

  intensity = raycast.lambert(normals, to_light, AMBIENT)
  colours = np.where(seen, albedo * intensity, albedo)
  return np.clip(colours, 0.0, 1.0)


def render_room(scene, poses, frame_size):
  """Ray casts a room from each pose.

  Args:
    scene: a `RoomScene`.
    poses: `[V, 5]` camera poses.
    frame_size: H = W in pixels.

  Returns:
    `[V, H, W, 3]` float32 RGB in [0, 1].
  """
  return raycast.render_views(functools.partial(trace_room, scene), poses, FOV,
                              frame_size)


def render_scene(rng, views, frame_size):
  """Draws a room and `views` ring cameras, and renders them.

  Args:
    rng: `np.random.Generator`, the scene's own.
    views: number of views.
    frame_size: H = W in pixels.

  Returns:
    (frames `[views, H, W, 3]` float32 in [0, 1], poses `[views, 5]` float32).
  """
  scene = sample_room(rng)
  poses = sample_ring_cameras(rng, views)
  return render_room(scene, poses, frame_size), poses
