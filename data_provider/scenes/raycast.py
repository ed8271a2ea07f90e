"""Vectorised ray / primitive intersection, Lambertian shading and frame rendering.

Every function works on batches of R rays stored coordinates first: `origins` and
`directions` are `[3, R]` float32 arrays (row 0 holds the x of every ray), directions of
unit length. Coordinates first keeps each coordinate contiguous, so the per-ray
arithmetic runs over long rows instead of triples. A distance `t` along a ray means the
point `origin + t * direction`; a miss is `t = inf`. No function loops over pixels; the
only Python loops run over the few primitives of a scene.

Primitives (`Shape`) stand on their base: `position` is the centre of the base, the
shape extends `height` upwards (+z) and is turned by `yaw` about the vertical axis
through `position`. In the shape's own frame (base centre at the origin):

    sphere    radius r, centre (0, 0, r)           (height must be 2 r)
    box       |x| <= r, |y| <= r, 0 <= z <= height  (square footprint, half-width r)
    cylinder  x^2 + y^2 <= r^2, 0 <= z <= height
    cone      x^2 + y^2 <= (r (height - z) / height)^2, 0 <= z <= height (apex on top)
    capsule   points within r of the segment (0, 0, r) - (0, 0, height - r)
"""

import collections
import colorsys

import numpy as np

from data_provider.scenes import pinhole

Shape = collections.namedtuple(
    'Shape', ['kind', 'position', 'yaw', 'radius', 'height', 'colour'])

SHAPE_KINDS = ('sphere', 'box', 'cylinder', 'cone', 'capsule')

# Hits closer than this are the surface a ray starts from (shadow rays), not a new hit.
EPSILON = 1e-4
# A pixel whose colour differs from a neighbour's by more than this (in some channel, on
# the 0-1 scale) lies on an edge and is supersampled 2 x 2.
EDGE_THRESHOLD = 0.08
# Positions of the 2 x 2 samples inside an edge pixel, in pixels from its top-left corner.
_SUBPIXEL_OFFSETS = (0.25, 0.75)


def footprint_radius(shape):
  """Radius of the smallest vertical cylinder about `position` holding the shape."""
  return shape.radius * np.sqrt(2.0) if shape.kind == 'box' else shape.radius


def bounding_sphere(shape):
  """(centre `[3]`, radius) of a sphere holding the shape."""
  centre = np.float32(shape.position) + np.float32([0.0, 0.0, shape.height / 2.0])
  return centre, float(np.hypot(footprint_radius(shape), shape.height / 2.0))


def random_colour(rng, hue=None):
  """A saturated, bright RGB colour `[3]` float32; random hue unless given."""
  if hue is None:
    hue = rng.uniform()
  return np.float32(colorsys.hsv_to_rgb(hue, rng.uniform(0.55, 0.95),
                                        rng.uniform(0.7, 1.0)))


def colour_factor(rgb):
  """A colour as a scene factor: `{'rgb': [3], 'hsv': [3]}` of Python floats.

  `rgb` is kept at float32 precision, the precision the renderer uses, so a factor read
  back from JSON renders exactly the same colour; `hsv` is derived from it, for
  analyses that want the hue.
  """
  rgb = [float(value) for value in np.float32(rgb)]
  return {'rgb': rgb, 'hsv': [float(value) for value in colorsys.rgb_to_hsv(*rgb)]}


def _dot(a, b):
  """Per-ray dot products of `[3, N]` vectors, `[N]`."""
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _column(vector):
  """A `[3]` vector as a `[3, 1]` float32 column, to broadcast against `[3, N]`."""
  return np.float32(vector).reshape(3, 1)


def _roots(a, half_b, c):
  """Roots of a t^2 + 2 half_b t + c = 0 as (smaller, larger); nan where none."""
  sqrt_discriminant = np.sqrt(half_b * half_b - a * c)  # nan where negative
  first = (-half_b - sqrt_discriminant) / a
  second = (-half_b + sqrt_discriminant) / a
  return np.fmin(first, second), np.fmax(first, second)


def _valid(t, condition):
  """`t` where it lies in front of the ray and `condition` holds, inf elsewhere."""
  return np.where((t > EPSILON) & condition, t, np.inf).astype(np.float32)


def _closest(candidates):
  """Picks, per ray, the nearest of several (t `[N]`, normals `[3, N]` or `[3, 1]`)."""
  t, normals = candidates[0]
  for other_t, other_normals in candidates[1:]:
    closer = other_t < t
    t = np.where(closer, other_t, t)
    normals = np.where(closer, other_normals, normals)
  return t, normals


def _sphere(o, d, radius, centre_z):
  """Sphere of `radius` centred on (0, 0, centre_z)."""
  oc = o - _column([0.0, 0.0, centre_z])
  near, _ = _roots(1.0, _dot(oc, d), _dot(oc, oc) - radius * radius)
  # Rays start outside every solid, so the entry point is the near root.
  t = _valid(near, True)
  return t, (oc + t * d) / radius


def _disc(o, d, z, radius, normal_z):
  """Horizontal disc of `radius` about (0, 0, z), facing `normal_z` = +-1."""
  t = (z - o[2]) / d[2]
  x = o[0] + t * d[0]
  y = o[1] + t * d[1]
  return _valid(t, x * x + y * y <= radius * radius), _column([0.0, 0.0, normal_z])


def _cylinder_side(o, d, radius, z_low, z_high):
  """Side of the vertical cylinder x^2 + y^2 = r^2 between z_low and z_high."""
  a = d[0] * d[0] + d[1] * d[1]
  half_b = o[0] * d[0] + o[1] * d[1]
  c = o[0] * o[0] + o[1] * o[1] - radius * radius
  near, _ = _roots(a, half_b, c)
  z = o[2] + near * d[2]
  t = _valid(near, (z >= z_low) & (z <= z_high))
  x = o[0] + t * d[0]
  y = o[1] + t * d[1]
  return t, np.stack([x, y, np.zeros_like(t)]) / radius


def _intersect_sphere(o, d, radius, height):
  del height  # 2 * radius
  return _sphere(o, d, radius, radius)


def _intersect_box(o, d, radius, height):
  low = _column([-radius, -radius, 0.0])
  high = _column([radius, radius, height])
  t_low = (low - o) / d
  t_high = (high - o) / d
  t_enter = np.minimum(t_low, t_high)  # [3, N]: where the ray enters each slab
  t_exit = np.maximum(t_low, t_high)
  t_near = t_enter.max(axis=0)
  t = _valid(t_near, t_near <= t_exit.min(axis=0))
  # The face hit is that of the slab entered last; it faces against the ray.
  faces = t_enter == t_near
  return t, np.where(faces, -np.sign(d), 0.0).astype(np.float32)


def _intersect_cylinder(o, d, radius, height):
  return _closest([_cylinder_side(o, d, radius, 0.0, height),
                   _disc(o, d, height, radius, 1.0),
                   _disc(o, d, 0.0, radius, -1.0)])


def _intersect_cone(o, d, radius, height):
  # x^2 + y^2 = k^2 (height - z)^2 is a double cone; only 0 <= z <= height is ours,
  # and a ray from above may meet the mirrored half first, so both roots count.
  k2 = (radius / height) ** 2
  w = height - o[2]
  a = d[0] * d[0] + d[1] * d[1] - k2 * d[2] * d[2]
  half_b = o[0] * d[0] + o[1] * d[1] + k2 * w * d[2]
  c = o[0] * o[0] + o[1] * o[1] - k2 * w * w
  candidates = [_disc(o, d, 0.0, radius, -1.0)]
  for root in _roots(a, half_b, c):
    z = o[2] + root * d[2]
    t = _valid(root, (z >= 0.0) & (z <= height))
    points = o + t * d
    # Gradient of x^2 + y^2 - k^2 (height - z)^2, halved: points outwards and up.
    normals = np.stack([points[0], points[1], k2 * (height - points[2])])
    candidates.append((t, normals / np.sqrt(_dot(normals, normals))))
  return _closest(candidates)


def _intersect_capsule(o, d, radius, height):
  return _closest([_cylinder_side(o, d, radius, radius, height - radius),
                   _sphere(o, d, radius, radius),
                   _sphere(o, d, radius, height - radius)])


_INTERSECTORS = {
    'sphere': _intersect_sphere,
    'box': _intersect_box,
    'cylinder': _intersect_cylinder,
    'cone': _intersect_cone,
    'capsule': _intersect_capsule,
}


def _rotate_z(vectors, angle):
  """Rotates `[3, N]` vectors by `angle` radians about +z (counter-clockwise)."""
  cos, sin = np.float32(np.cos(angle)), np.float32(np.sin(angle))
  return np.stack([cos * vectors[0] - sin * vectors[1],
                   sin * vectors[0] + cos * vectors[1],
                   vectors[2]])


def _rays_near(shape, origins, directions, t_max):
  """Indices of the rays that meet the shape's bounding sphere before `t_max`."""
  centre, radius = bounding_sphere(shape)
  oc = origins - _column(centre)
  half_b = _dot(oc, directions)
  discriminant = half_b * half_b - (_dot(oc, oc) - radius * radius)
  root = np.sqrt(np.maximum(discriminant, 0.0))
  return np.flatnonzero((discriminant >= 0.0) & (-half_b + root > 0.0)
                        & (-half_b - root < t_max))


def intersect_shapes(shapes, origins, directions, t_max):
  """Nearest hit of each ray with any of `shapes`, if closer than `t_max`.

  Args:
    shapes: sequence of `Shape`.
    origins, directions: `[3, R]` float32 rays.
    t_max: `[R]` float32; hits at or beyond it are ignored (e.g. a wall already hit).

  Returns:
    (t, normals, index): `[R]` distance (`t_max` where nothing closer was hit),
    `[3, R]` outward unit normals at the hits, `[R]` int index into `shapes` (-1: none).
  """
  t = np.array(t_max, dtype=np.float32)
  normals = np.zeros_like(origins)
  index = np.full(t.shape, -1, dtype=np.int64)
  with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
    for i, shape in enumerate(shapes):
      rays = _rays_near(shape, origins, directions, t)
      if not rays.size:
        continue
      # Into the shape's frame: base centre at the origin, unturned. Rigid, so the
      # distances t are the same in both frames.
      local_origins = _rotate_z(origins[:, rays] - _column(shape.position), -shape.yaw)
      local_directions = _rotate_z(directions[:, rays], -shape.yaw)
      t_hit, local_normals = _INTERSECTORS[shape.kind](
          local_origins, local_directions, shape.radius, shape.height)
      closer = t_hit < t[rays]
      rays = rays[closer]
      t[rays] = t_hit[closer]
      normals[:, rays] = _rotate_z(local_normals[:, closer], shape.yaw)
      index[rays] = i
  return t, normals, index


def intersect_room(origins, directions, half_size, wall_height):
  """Where rays from inside an open-topped square room meet its floor or walls.

  The room is |x| <= half_size, |y| <= half_size, floor z = 0, walls up to
  `wall_height`, no ceiling. Rays must start inside it.

  Args:
    origins, directions: `[3, R]` float32 rays.
    half_size: half the side of the floor.
    wall_height: height of the walls.

  Returns:
    (t, normals, surface): `[R]` distance (inf for rays leaving over the walls),
    `[3, R]` inward unit normals, `[R]` int8 surface code: 0 floor, 1 wall, 2 none.
  """
  with np.errstate(divide='ignore', invalid='ignore'):
    # Each ray leaves the x and y slabs through the wall it heads for.
    t_x = (np.copysign(half_size, directions[0]) - origins[0]) / directions[0]
    t_y = (np.copysign(half_size, directions[1]) - origins[1]) / directions[1]
    t_floor = -origins[2] / directions[2]
  t_x = np.where(directions[0] == 0.0, np.inf, t_x)  # parallel to the x walls
  t_y = np.where(directions[1] == 0.0, np.inf, t_y)
  t_floor = np.where(directions[2] < 0.0, t_floor, np.inf)
  on_x_wall = t_x <= t_y
  t_wall = np.minimum(t_x, t_y)
  on_floor = t_floor <= t_wall
  t = np.where(on_floor, t_floor, t_wall).astype(np.float32)
  over_walls = ~on_floor & (origins[2] + t * directions[2] > wall_height)
  t[over_walls] = np.inf

  on_wall = ~on_floor
  normals = np.stack([np.where(on_wall & on_x_wall, -np.sign(directions[0]), 0.0),
                      np.where(on_wall & ~on_x_wall, -np.sign(directions[1]), 0.0),
                      np.where(on_floor, 1.0, 0.0)]).astype(np.float32)
  surface = np.where(on_floor, 0, np.where(over_walls, 2, 1)).astype(np.int8)
  return t, normals, surface


def lambert(normals, to_light, ambient):
  """Lambertian intensity `ambient + (1 - ambient) max(0, n . l)`, `[R]`.

  Args:
    normals: `[3, R]` unit surface normals n.
    to_light: `[3, R]` (or `[3, 1]`) unit directions l towards the light; zero for
      points in shadow, which keep the ambient term only.
    ambient: fraction of light reaching every surface.
  """
  return ambient + (1.0 - ambient) * np.maximum(_dot(normals, to_light), 0.0)


def _edge_pixels(frames, threshold):
  """`[V, H, W]` bool: pixels that differ from a 4-neighbour by more than `threshold`.

  Args:
    frames: `[3, V, H, W]` colours, channels first.
    threshold: largest colour step (in any channel) that is not an edge.
  """
  edges = np.zeros(frames.shape[1:], dtype=bool)
  across = np.abs(np.diff(frames, axis=3)).max(axis=0) > threshold  # [V, H, W - 1]
  edges[:, :, 1:] |= across
  edges[:, :, :-1] |= across
  down = np.abs(np.diff(frames, axis=2)).max(axis=0) > threshold  # [V, H - 1, W]
  edges[:, 1:] |= down
  edges[:, :-1] |= down
  return edges


def render_views(trace, poses, fov, frame_size):
  """Renders one frame per camera, supersampling only the pixels on edges.

  One ray through each pixel centre gives a first image; pixels on colour edges
  (`EDGE_THRESHOLD`) are then replaced by the mean of a 2 x 2 grid of rays, which
  smooths silhouettes and shadow borders for a fraction of full supersampling's cost.

  Args:
    trace: function `(origins [3, R], directions [3, R]) -> colours [3, R]` float32
      RGB in [0, 1], the scene.
    poses: `[V, 5]` camera poses `[x, y, z, yaw, pitch]`.
    fov: field of view in radians.
    frame_size: H = W in pixels.

  Returns:
    `[V, H, W, 3]` float32 RGB in [0, 1].
  """
  num_views = len(poses)
  views, rows, cols = [grid.ravel() for grid in np.meshgrid(
      np.arange(num_views), np.arange(frame_size), np.arange(frame_size),
      indexing='ij')]  # [V * H * W] each
  colours = trace(*pinhole.pixel_rays(poses, fov, frame_size, views,
                                     rows + 0.5, cols + 0.5))  # [3, V * H * W]

  edges = np.flatnonzero(
      _edge_pixels(colours.reshape(3, num_views, frame_size, frame_size),
                   EDGE_THRESHOLD))
  if edges.size:
    row_offsets, col_offsets = [offset.reshape(-1, 1) for offset in np.meshgrid(
        _SUBPIXEL_OFFSETS, _SUBPIXEL_OFFSETS, indexing='ij')]  # [S, 1] each
    samples = len(row_offsets)
    sample_colours = trace(*pinhole.pixel_rays(
        poses, fov, frame_size, np.tile(views[edges], samples),
        (rows[edges] + row_offsets).ravel(),
        (cols[edges] + col_offsets).ravel()))  # [3, S * E], sample-major
    colours[:, edges] = sample_colours.reshape(3, samples, -1).mean(axis=1)
  frames = colours.reshape(3, num_views, frame_size, frame_size)
  return np.ascontiguousarray(np.moveaxis(frames, 0, -1))
