"""Shepard-Metzler objects: unit cubes joined face to face, seen from a sphere of cameras.

An object of `parts` unit cubes grows by a self-avoiding random walk on the integer grid:
each new cube shares a face with the previous one and no two cubes share a cell. Every
cube gets its own colour (hues spread around the colour wheel). The object is centred on
the origin (the centre of its bounding box) and floats on black. Cameras sit at
`CAMERA_DISTANCE` from the origin, at a random yaw and a pitch in
[-MAX_CAMERA_PITCH, MAX_CAMERA_PITCH], and face the origin. Two directional lights fixed
in the world shade the faces (Lambertian, some ambient light, no shadows).
"""

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


def sample_object(rng, parts):
  """An object of `parts` unit cubes (`raycast.Shape` boxes) centred on the origin."""
  cells = sample_cube_cells(rng, parts).astype(np.float32)
  centres = cells - (cells.min(axis=0) + cells.max(axis=0)) / 2.0
  hues = (rng.uniform() + np.arange(parts) / parts) % 1.0
  rng.shuffle(hues)
  # A unit cube is a box of half-width 0.5 standing on its bottom face.
  return [raycast.Shape(kind='box', position=tuple(centre - [0.0, 0.0, 0.5]), yaw=0.0,
                        radius=0.5, height=1.0,
                        colour=raycast.random_colour(rng, hue))
          for centre, hue in zip(centres, hues)]


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


def render_scene(rng, views, frame_size, parts):
  """Draws an object of `parts` cubes and `views` cameras, and renders them.

  Args:
    rng: `np.random.Generator`, the scene's own.
    views: number of views.
    frame_size: H = W in pixels.
    parts: number of cubes.

  Returns:
    (frames `[views, H, W, 3]` float32 in [0, 1], poses `[views, 5]` float32).
  """
  cubes = sample_object(rng, parts)
  poses = sample_sphere_cameras(rng, views)
  return render_object(cubes, poses, frame_size), poses
