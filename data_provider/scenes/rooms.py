"""Rooms with a ring camera, after DeepMind's `rooms_ring_camera`.

A square room (floor |x|, |y| <= 3.5, walls `WALL_HEIGHT` high, no ceiling) with one wall
colour out of 5 and one floor colour out of 3 holds 1-3 objects (sphere, box, cylinder,
cone, capsule) of random colour, size and yaw standing on the floor without touching each
other. A point light near the top of the room lights it (Lambertian, hard shadows from
shadow rays, some ambient light). The camera sits on a fixed ring (radius
`CAMERA_RING_RADIUS`, height `CAMERA_HEIGHT`) at a random angle per view and looks at
`LOOK_AT`, above the centre of the floor.

A room is drawn as its factors, a JSON-ready dict (see `sample_factors`), and built from
them (`scene_from_factors`), so the renderer can write each scene's ground truth beside
its records and an analysis can render rooms that differ in exactly one factor
(`vary`, `set_factor`, `differing_factors`; `data_provider.scenes.factors`).
"""

import collections
import copy
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
WALL_COLOUR_NAMES = ('off-white', 'terracotta', 'light blue', 'sage green', 'lavender')
FLOOR_COLOUR_NAMES = ('grey', 'wood', 'slate blue')

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


# The factors `vary` changes; `object_*` name the first object.
FACTOR_NAMES = ('wall_colour', 'floor_colour', 'object_shape', 'object_colour',
                'object_position', 'object_size')
# The factors that place the first object. A scene-algebra quadruple "in place" gives A
# B's values of them, so that A's object stands where B's and C's does; the factors
# below can be changed so.
PLACEMENT_FACTOR_NAMES = ('object_position', 'object_size')
IN_PLACE_FACTOR_NAMES = ('object_shape', 'object_colour', 'object_size')
# Everything `differing_factors` compares.
ALL_FACTOR_NAMES = ('wall_colour', 'floor_colour', 'num_objects', 'object_shape',
                    'object_colour', 'object_position', 'object_size', 'object_yaw')


def _palette_factor(palette, names, index):
  return {'index': int(index), 'name': names[index],
          'rgb': [float(value) for value in palette[index]]}


def _object_factor(shape):
  return {'shape': shape.kind, 'colour': raycast.colour_factor(shape.colour),
          'position': [float(value) for value in shape.position],
          'yaw': float(shape.yaw), 'radius': float(shape.radius),
          'height': float(shape.height)}


def _shape_from_factor(factor):
  return raycast.Shape(kind=factor['shape'], position=tuple(factor['position']),
                       yaw=factor['yaw'], radius=factor['radius'],
                       height=factor['height'],
                       colour=np.float32(factor['colour']['rgb']))


def sample_factors(rng, num_objects=None):
  """Draws the factors of a room.

  Args:
    rng: `np.random.Generator`.
    num_objects: None draws 1-3 objects as the datasets do; a number gives exactly
      that many (the draw then skips the count, so it is not the datasets' stream).

  Returns:
    A JSON-ready dict:
      wall_colour: {'index': into `WALL_COLOURS`, 'name', 'rgb': [3] floats},
      floor_colour: {'index': into `FLOOR_COLOURS`, 'name', 'rgb': [3] floats},
      num_objects: K, the length of `objects`,
      objects: K dicts in draw order, each {'shape': one of `raycast.SHAPE_KINDS`,
        'colour': {'rgb': [3], 'hsv': [3]} (continuous, no palette),
        'position': [x, y, z] of the footprint centre (z = 0, on the floor),
        'yaw': radians, 'radius': footprint radius before rotation, 'height'}.
  """
  wall = rng.integers(len(WALL_COLOURS))
  floor = rng.integers(len(FLOOR_COLOURS))
  if num_objects is None:
    num_objects = rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1)
  objects = []
  for _ in range(num_objects):
    shape = _place(rng, _sample_object(rng), objects)
    # With no free spot left (never at these sizes) the room gets fewer objects.
    if shape is not None:
      objects.append(shape)
  return {'wall_colour': _palette_factor(WALL_COLOURS, WALL_COLOUR_NAMES, wall),
          'floor_colour': _palette_factor(FLOOR_COLOURS, FLOOR_COLOUR_NAMES, floor),
          'num_objects': len(objects),
          'objects': [_object_factor(shape) for shape in objects]}


def scene_from_factors(factors):
  """The `RoomScene` of a factors dict from `sample_factors` (or read back from JSON)."""
  return RoomScene(WALL_COLOURS[factors['wall_colour']['index']],
                   FLOOR_COLOURS[factors['floor_colour']['index']],
                   [_shape_from_factor(factor) for factor in factors['objects']])


def sample_room(rng):
  """Draws a `RoomScene(wall_colour [3], floor_colour [3], objects [Shape])`."""
  return scene_from_factors(sample_factors(rng))


def _fits(objects):
  """Whether every object stands inside the object area, apart from the others."""
  shapes = [_shape_from_factor(factor) for factor in objects]
  for i, shape in enumerate(shapes):
    x, y = shape.position[:2]
    if np.hypot(x, y) > OBJECT_AREA_RADIUS - raycast.footprint_radius(shape) + 1e-9:
      return False
    for other in shapes[:i]:
      if (np.hypot(x - other.position[0], y - other.position[1])
          < raycast.footprint_radius(shape) + raycast.footprint_radius(other)
          + OBJECT_GAP - 1e-9):
        return False
  return True


def get_factor(factors, name):
  """The value of one of `FACTOR_NAMES` (JSON-ready), as `set_factor` takes it.

  wall_colour, floor_colour: the palette index. object_shape: {'shape': kind,
  'height_ratio': height / radius} (a shape is its kind and its proportions).
  object_colour: {'rgb', 'hsv'}. object_position: [x, y]. object_size: the radius
  (the height scales with it).
  """
  if name in ('wall_colour', 'floor_colour'):
    return factors[name]['index']
  first = factors['objects'][0]
  if name == 'object_shape':
    return {'shape': first['shape'], 'height_ratio': first['height'] / first['radius']}
  if name == 'object_colour':
    return copy.deepcopy(first['colour'])
  if name == 'object_position':
    return list(first['position'][:2])
  if name == 'object_size':
    return first['radius']
  raise ValueError('Unknown room factor %r; rooms have: %s.'
                   % (name, ', '.join(FACTOR_NAMES)))


def set_factor(factors, name, value):
  """A copy of `factors` with one of `FACTOR_NAMES` set to `value` (see `get_factor`).

  Raises:
    ValueError: unknown factor, or the objects would then overlap or leave the area.
  """
  factors = copy.deepcopy(factors)
  if name in ('wall_colour', 'floor_colour'):
    palette, names = ((WALL_COLOURS, WALL_COLOUR_NAMES) if name == 'wall_colour'
                      else (FLOOR_COLOURS, FLOOR_COLOUR_NAMES))
    factors[name] = _palette_factor(palette, names, value)
    return factors
  get_factor(factors, name)  # Rejects unknown names.
  first = factors['objects'][0]
  if name == 'object_shape':
    first['shape'] = value['shape']
    first['height'] = first['radius'] * value['height_ratio']
  elif name == 'object_colour':
    first['colour'] = copy.deepcopy(value)
  elif name == 'object_position':
    first['position'] = [float(value[0]), float(value[1]), 0.0]
  elif name == 'object_size':
    first['height'] *= value / first['radius']
    first['radius'] = float(value)
  if not _fits(factors['objects']):
    raise ValueError('Setting %s to %r makes the objects overlap or leave the floor '
                     'area.' % (name, value))
  return factors


def _draw_value(factors, name, rng):
  """A random value of factor `name` other than the one in `factors`."""
  current = get_factor(factors, name)
  if name in ('wall_colour', 'floor_colour'):
    size = len(WALL_COLOURS if name == 'wall_colour' else FLOOR_COLOURS)
    return int((current + rng.integers(1, size)) % size)
  if name == 'object_shape':
    kinds = [kind for kind in raycast.SHAPE_KINDS if kind != current['shape']]
    kind = kinds[rng.integers(len(kinds))]
    return {'shape': kind,
            'height_ratio': float(rng.uniform(*HEIGHT_RATIO_RANGES[kind]))}
  if name == 'object_colour':
    # A hue a third to two thirds of the way round the wheel: clearly another colour.
    hue = (current['hsv'][0] + rng.uniform(1.0 / 3.0, 2.0 / 3.0)) % 1.0
    return raycast.colour_factor(raycast.random_colour(rng, hue))
  if name == 'object_position':
    return [float(value) for value in rng.uniform(-OBJECT_AREA_RADIUS,
                                                  OBJECT_AREA_RADIUS, size=2)]
  # object_size: at least a fifth of the range away, so the change shows.
  low, high = OBJECT_RADIUS_RANGE
  while True:
    radius = float(rng.uniform(low, high))
    if abs(radius - current) >= (high - low) / 5.0:
      return radius


def vary(factors, name, rng, tries=100):
  """A copy of `factors` with factor `name` changed to a random other value.

  Every other factor keeps its value; the objects still fit the room.

  Args:
    factors: a room's factors (`sample_factors`).
    name: one of `FACTOR_NAMES`; `object_*` change the first object.
    rng: `np.random.Generator`.
    tries: values drawn before giving up (a crowded room may leave no free spot).

  Returns:
    The changed factors.

  Raises:
    ValueError: unknown factor, or no value that fits was found.
  """
  for _ in range(tries):
    try:
      return set_factor(factors, name, _draw_value(factors, name, rng))
    except ValueError:
      if name not in FACTOR_NAMES:
        raise
  raise ValueError('No value of %s fits this room after %d tries.' % (name, tries))


def _object_differences(a, b):
  names = set()
  if a['shape'] != b['shape'] or not np.isclose(a['height'] / a['radius'],
                                                b['height'] / b['radius'], rtol=1e-9):
    names.add('object_shape')
  if a['colour']['rgb'] != b['colour']['rgb']:
    names.add('object_colour')
  if not np.allclose(a['position'], b['position'], rtol=0.0, atol=1e-12):
    names.add('object_position')
  if not np.isclose(a['radius'], b['radius'], rtol=1e-12):
    names.add('object_size')
  if a['yaw'] != b['yaw']:
    names.add('object_yaw')
  return names


def differing_factors(a, b):
  """The names in `ALL_FACTOR_NAMES` whose values differ between two rooms' factors.

  Objects are compared in order, pairwise; an `object_*` name is listed if it differs
  for any pair.
  """
  names = set()
  for name in ('wall_colour', 'floor_colour'):
    if a[name]['index'] != b[name]['index']:
      names.add(name)
  if a['num_objects'] != b['num_objects']:
    names.add('num_objects')
  for first, second in zip(a['objects'], b['objects']):
    names |= _object_differences(first, second)
  return [name for name in ALL_FACTOR_NAMES if name in names]


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


def render_factors(factors, poses, frame_size):
  """Ray casts the room of `factors` (see `sample_factors`) from each pose.

  Returns:
    `[V, H, W, 3]` float32 RGB in [0, 1].
  """
  return render_room(scene_from_factors(factors), poses, frame_size)


def render_scene(rng, views, frame_size):
  """Draws a room and `views` ring cameras, and renders them.

  The room's factors are drawn first, so `sample_factors(rng)` on a fresh generator
  with the same seed gives them without rendering.

  Args:
    rng: `np.random.Generator`, the scene's own.
    views: number of views.
    frame_size: H = W in pixels.

  Returns:
    (frames `[views, H, W, 3]` float32 in [0, 1], poses `[views, 5]` float32).
  """
  factors = sample_factors(rng)
  poses = sample_ring_cameras(rng, views)
  return render_factors(factors, poses, frame_size), poses
