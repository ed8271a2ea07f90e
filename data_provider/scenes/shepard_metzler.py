"""Shepard-Metzler objects: unit cubes joined face to face, seen from a sphere of cameras.

An object of `parts` unit cubes grows by a self-avoiding random walk on the integer grid:
each new cube shares a face with the previous one and no two cubes share a cell. Every
cube gets its own colour (hues spread around the colour wheel). The object is centred on
the origin (the centre of its bounding box) and floats on black. Cameras sit at
`CAMERA_DISTANCE` from the origin, at a random yaw and a pitch in
[-MAX_CAMERA_PITCH, MAX_CAMERA_PITCH], and face the origin. Two directional lights fixed
in the world shade the faces (Lambertian, some ambient light, no shadows).

An object is drawn as its factors, a JSON-ready dict (see `sample_factors`), and built
from them (`object_from_factors`), so the renderer can write each scene's ground truth
beside its records and an analysis can render objects that differ in exactly one factor
(`vary`, `set_factor`, `differing_factors`; `data_provider.scenes.factors`).
"""

import copy
import functools

import numpy as np

from data_provider import camera
from data_provider.scenes import raycast

FOV = np.radians(40.0)
# Frames the largest 7-cube objects; 5-cube objects come out a little smaller.
CAMERA_DISTANCE = 8.0
MAX_CAMERA_PITCH = np.pi / 4
BACKGROUND_COLOUR = (0.0, 0.0, 0.0)
AMBIENT = 0.3
# Unit directions towards the key and the fill light. The key light gives 1 - AMBIENT
# at normal incidence, the fill light _FILL_STRENGTH.
_KEY_LIGHT = np.float32([0.4, 0.6, 1.0]) / np.linalg.norm([0.4, 0.6, 1.0])
_FILL_LIGHT = np.float32([-0.7, -0.3, -0.4]) / np.linalg.norm([-0.7, -0.3, -0.4])
_FILL_STRENGTH = 0.35

# The 6 face neighbours of a grid cell.
_STEPS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])


def sample_cube_cells(rng, parts):
  """Grid cells of a self-avoiding random walk of `parts` face-adjacent cubes.

  Args:
    rng: `np.random.Generator`.
    parts: number of cubes, >= 1.

  Returns:
    `[parts, 3]` int cells; consecutive cells differ by one unit step, all are distinct.
  """
  while True:  # Starts again if trapped (only walks far longer than 7 cubes can be).
    cells = [(0, 0, 0)]
    while len(cells) < parts:
      free = [tuple(step) for step in np.add(cells[-1], _STEPS)
              if tuple(step) not in cells]
      if not free:
        break
      cells.append(free[rng.integers(len(free))])
    if len(cells) == parts:
      return np.array(cells)


# The factors `vary` changes:
#   colours: the whole colour set, cube by cube, on the same cubes (recolour the object);
#   shape: the cube offsets, each cube keeping its colour (the same paint, another form);
#   cube_colour: the colour of the first cube only.
FACTOR_NAMES = ('colours', 'shape', 'cube_colour')
# One object at the centre of every scene: nothing to put in place (see rooms).
PLACEMENT_FACTOR_NAMES = ()
IN_PLACE_FACTOR_NAMES = ()
# Everything `differing_factors` compares.
ALL_FACTOR_NAMES = ('parts', 'shape', 'colours', 'cube_colour')


def _sample_colours(rng, parts):
  """`parts` colours with hues spread evenly round the wheel, in random order."""
  hues = (rng.uniform() + np.arange(parts) / parts) % 1.0
  rng.shuffle(hues)
  return [raycast.colour_factor(raycast.random_colour(rng, hue)) for hue in hues]


def sample_factors(rng, parts):
  """Draws the factors of an object of `parts` cubes.

  Returns:
    A JSON-ready dict:
      parts: the number of cubes,
      cubes: `parts` dicts in the order of the walk, each
        {'offset': [i, j, k] ints, the cube's cell on the integer grid (the first cube
           at [0, 0, 0]; the rendered object is centred on the middle of the cells'
           bounding box),
         'colour': {'rgb': [3], 'hsv': [3]}}.
  """
  cells = sample_cube_cells(rng, parts)
  colours = _sample_colours(rng, parts)
  return {'parts': int(parts),
          'cubes': [{'offset': [int(value) for value in cell], 'colour': colour}
                    for cell, colour in zip(cells, colours)]}


def object_from_factors(factors):
  """The unit cubes (`raycast.Shape` boxes), centred on the origin, of `factors`."""
  cells = np.float32([cube['offset'] for cube in factors['cubes']])
  centres = cells - (cells.min(axis=0) + cells.max(axis=0)) / 2.0
  # A unit cube is a box of half-width 0.5 standing on its bottom face.
  return [raycast.Shape(kind='box', position=tuple(centre - [0.0, 0.0, 0.5]), yaw=0.0,
                        radius=0.5, height=1.0, colour=np.float32(cube['colour']['rgb']))
          for centre, cube in zip(centres, factors['cubes'])]


def sample_object(rng, parts):
  """An object of `parts` unit cubes (`raycast.Shape` boxes) centred on the origin."""
  return object_from_factors(sample_factors(rng, parts))


def get_factor(factors, name):
  """The value of one of `FACTOR_NAMES` (JSON-ready), as `set_factor` takes it.

  colours: the list of `parts` colours {'rgb', 'hsv'}, in walk order. shape: the list of
  `parts` offsets [i, j, k]. cube_colour: the first cube's colour.
  """
  if name == 'colours':
    return [copy.deepcopy(cube['colour']) for cube in factors['cubes']]
  if name == 'shape':
    return [list(cube['offset']) for cube in factors['cubes']]
  if name == 'cube_colour':
    return copy.deepcopy(factors['cubes'][0]['colour'])
  raise ValueError('Unknown Shepard-Metzler factor %r; objects have: %s.'
                   % (name, ', '.join(FACTOR_NAMES)))


def set_factor(factors, name, value):
  """A copy of `factors` with one of `FACTOR_NAMES` set to `value` (see `get_factor`).

  Raises:
    ValueError: unknown factor, or a colour set or shape for another number of cubes.
  """
  get_factor(factors, name)  # Rejects unknown names.
  factors = copy.deepcopy(factors)
  if name == 'cube_colour':
    factors['cubes'][0]['colour'] = copy.deepcopy(value)
    return factors
  if len(value) != factors['parts']:
    raise ValueError('%s needs %d values (one per cube), got %d.'
                     % (name, factors['parts'], len(value)))
  key = 'colour' if name == 'colours' else 'offset'
  for cube, item in zip(factors['cubes'], value):
    cube[key] = copy.deepcopy(item)
  return factors


def vary(factors, name, rng):
  """A copy of `factors` with factor `name` changed to a random other value.

  Every other factor keeps its value.

  Args:
    factors: an object's factors (`sample_factors`).
    name: one of `FACTOR_NAMES`.
    rng: `np.random.Generator`.

  Returns:
    The changed factors.

  Raises:
    ValueError: unknown factor, or `shape` of a 1-cube object.
  """
  current = get_factor(factors, name)
  parts = factors['parts']
  if name == 'colours':
    # Another draw of the same kind of colour set; its hues start elsewhere on the wheel.
    value = _sample_colours(rng, parts)
  elif name == 'shape':
    if parts == 1:
      raise ValueError('A 1-cube object has no other shape.')
    value = current
    while value == current:
      value = [[int(x) for x in cell] for cell in sample_cube_cells(rng, parts)]
  else:
    # A hue a third to two thirds of the way round the wheel: clearly another colour.
    hue = (current['hsv'][0] + rng.uniform(1.0 / 3.0, 2.0 / 3.0)) % 1.0
    value = raycast.colour_factor(raycast.random_colour(rng, hue))
  return set_factor(factors, name, value)


def differing_factors(a, b):
  """The names in `ALL_FACTOR_NAMES` whose values differ between two objects' factors.

  Colours that differ on exactly one cube are `cube_colour` if it is the first cube,
  `colours` otherwise.
  """
  names = []
  if a['parts'] != b['parts']:
    names.append('parts')
  pairs = list(zip(a['cubes'], b['cubes']))
  if any(first['offset'] != second['offset'] for first, second in pairs):
    names.append('shape')
  recoloured = [i for i, (first, second) in enumerate(pairs)
                if first['colour']['rgb'] != second['colour']['rgb']]
  if recoloured == [0]:
    names.append('cube_colour')
  elif recoloured:
    names.append('colours')
  return [name for name in ALL_FACTOR_NAMES if name in names]


def sample_sphere_cameras(rng, views):
  """`[views, 5]` poses at `CAMERA_DISTANCE` from the origin, all facing it."""
  yaw = rng.uniform(-np.pi, np.pi, size=views)
  pitch = rng.uniform(-MAX_CAMERA_PITCH, MAX_CAMERA_PITCH, size=views)
  # The camera looks along forward(yaw, pitch) towards the origin, so it sits behind it.
  positions = -CAMERA_DISTANCE * camera.forward_direction(yaw, pitch)
  return np.concatenate([positions, yaw[:, None], pitch[:, None]],
                        axis=1).astype(np.float32)


def trace_object(cubes, origins, directions):
  """Colours `[3, R]` seen along `[3, R]` rays (see `raycast`)."""
  infinity = np.full(origins.shape[1], np.inf, dtype=np.float32)
  _, normals, index = raycast.intersect_shapes(cubes, origins, directions, infinity)
  palette = np.float32([cube.colour for cube in cubes]).T  # [3, cubes]
  albedo = np.take(palette, np.maximum(index, 0), axis=1)  # [3, R]
  intensity = (raycast.lambert(normals, _KEY_LIGHT.reshape(3, 1), AMBIENT)
               + _FILL_STRENGTH * np.maximum(_FILL_LIGHT @ normals, 0.0))
  colours = np.where(index >= 0, albedo * intensity,
                     np.float32(BACKGROUND_COLOUR).reshape(3, 1))
  return np.clip(colours, 0.0, 1.0)


def render_object(cubes, poses, frame_size):
  """Ray casts the object `cubes` from each pose.

  Args:
    cubes: list of `raycast.Shape` boxes from `sample_object`.
    poses: `[V, 5]` camera poses.
    frame_size: H = W in pixels.

  Returns:
    `[V, H, W, 3]` float32 RGB in [0, 1].
  """
  return raycast.render_views(functools.partial(trace_object, cubes), poses, FOV,
                              frame_size)


def render_factors(factors, poses, frame_size):
  """Ray casts the object of `factors` (see `sample_factors`) from each pose.

  Returns:
    `[V, H, W, 3]` float32 RGB in [0, 1].
  """
  return render_object(object_from_factors(factors), poses, frame_size)


def render_scene(rng, views, frame_size, parts):
  """Draws an object of `parts` cubes and `views` cameras, and renders them.

  The object's factors are drawn first, so `sample_factors(rng, parts)` on a fresh
  generator with the same seed gives them without rendering.

  Args:
    rng: `np.random.Generator`, the scene's own.
    views: number of views.
    frame_size: H = W in pixels.
    parts: number of cubes.

  Returns:
    (frames `[views, H, W, 3]` float32 in [0, 1], poses `[views, 5]` float32).
  """
  factors = sample_factors(rng, parts)
  poses = sample_sphere_cameras(rng, views)
  return render_factors(factors, poses, frame_size), poses
