"""Ground truth of the synthetic scenes: factors sidecar files and one-factor variants.

The renderer writes, beside each record file `<i>-of-<n>.tfrecord`, a sidecar
`<i>-of-<n>.scenes.json` holding the factors of each scene of that file, in record
order. The records themselves stay exactly DeepMind's format; readers that know nothing
of the sidecar are unaffected. The sidecar is one JSON object:

    {"format": "gqn-scene-factors",   # FORMAT
     "version": 1,                    # VERSION; readers refuse other versions
     "dataset": "synth_rooms_ring_camera",
     "records": "01-of-20.tfrecord",  # the record file it describes (same directory)
     "split": "train", "seed": 0,     # what the scenes were drawn from
     "first_scene": 0,                # index in the split of the file's first scene
     "scenes": [{...}, ...]}          # one factors dict per record, in record order

A rooms scene is `rooms.sample_factors`'s dict:

    {"wall_colour": {"index": 2, "name": "light blue", "rgb": [r, g, b]},
     "floor_colour": {"index": 1, "name": "wood", "rgb": [r, g, b]},
     "num_objects": 2,
     "objects": [{"shape": "sphere",           # one of raycast.SHAPE_KINDS
                  "colour": {"rgb": [3], "hsv": [3]},
                  "position": [x, y, 0.0],      # footprint centre on the floor
                  "yaw": 0.3, "radius": 0.4, "height": 0.8}, ...]}

A Shepard-Metzler scene is `shepard_metzler.sample_factors`'s dict:

    {"parts": 7,
     "cubes": [{"offset": [0, 0, 0],           # integer grid cell, in walk order
                "colour": {"rgb": [3], "hsv": [3]}}, ...]}

Colours are stored at the renderer's float32 precision, so factors read back render
exactly the frames of their record (before JPEG coding).

For scene algebra, `one_factor_variants` draws quadruples (A, B, C, D) where B and C
differ in exactly one factor, A has B's value of it and D is A with C's value; and
`render_views` renders any factors from any cameras.
"""

import collections
import functools
import glob
import json
import os

import numpy as np

from data_provider import records
from data_provider.scenes import rooms
from data_provider.scenes import shepard_metzler

FORMAT = 'gqn-scene-factors'
VERSION = 1
SIDECAR_SUFFIX = '.scenes.json'
_RECORD_SUFFIX = '.tfrecord'

# How each dataset's scenes are drawn, rendered and varied. `sample` and `render` are
# the scene module's `sample_factors` and `render_factors`; `algebra_sample` draws the
# scenes of `one_factor_variants` (rooms with a single object, so that "the object" is
# unambiguous between A, B, C and D).
_SceneKind = collections.namedtuple(
    '_SceneKind', ['module', 'sample', 'algebra_sample', 'sample_cameras'])

_SCENE_KINDS = {
    'synth_rooms_ring_camera': _SceneKind(
        rooms, rooms.sample_factors,
        functools.partial(rooms.sample_factors, num_objects=1),
        rooms.sample_ring_cameras),
    'synth_shepard_metzler_5_parts': _SceneKind(
        shepard_metzler, functools.partial(shepard_metzler.sample_factors, parts=5),
        functools.partial(shepard_metzler.sample_factors, parts=5),
        shepard_metzler.sample_sphere_cameras),
    'synth_shepard_metzler_7_parts': _SceneKind(
        shepard_metzler, functools.partial(shepard_metzler.sample_factors, parts=7),
        functools.partial(shepard_metzler.sample_factors, parts=7),
        shepard_metzler.sample_sphere_cameras),
}

_VARIANT_TRIES = 100


def _kind(dataset):
  if dataset not in _SCENE_KINDS:
    raise ValueError('No scene factors for dataset %r; the renderer makes: %s.'
                     % (dataset, ', '.join(sorted(_SCENE_KINDS))))
  return _SCENE_KINDS[dataset]


def sample_factors(dataset, rng):
  """Draws one scene's factors as the dataset's renderer does (same random stream).

  Args:
    dataset: a synthetic dataset name, e.g. 'synth_rooms_ring_camera'.
    rng: `np.random.Generator`. Scene i of a rendered split has the factors
      `sample_factors(dataset, render.scene_rng(seed, dataset, split, i))`.

  Returns:
    The factors dict (see the module docstring).
  """
  return _kind(dataset).sample(rng)


def sample_cameras(dataset, rng, views):
  """`[views, 5]` float32 poses drawn as the dataset's cameras are (ring or sphere)."""
  return _kind(dataset).sample_cameras(rng, views)


def factor_names(dataset):
  """The factors `one_factor_variants` can change for `dataset`."""
  return _kind(dataset).module.FACTOR_NAMES


# The name of a factor's quadruples "in place" (see `one_factor_variants`).
IN_PLACE_SUFFIX = '_in_place'


def algebra_cases(dataset):
  """The kinds of scene-algebra quadruple for `dataset`: (name, factor, in_place).

  One per factor of `factor_names`, named after it, then one per factor that can also be
  changed in place (rooms: the object's shape, colour and size), named
  factor + IN_PLACE_SUFFIX.
  """
  module = _kind(dataset).module
  return ([(name, name, False) for name in module.FACTOR_NAMES]
          + [(name + IN_PLACE_SUFFIX, name, True) for name in module.IN_PLACE_FACTOR_NAMES])


def render_views(dataset, factors, cameras, frame_size=64):
  """Renders the scene of `factors` from `cameras`.

  Args:
    dataset: a synthetic dataset name.
    factors: a factors dict (drawn, varied or read from a sidecar).
    cameras: `[V, 5]` poses [x, y, z, yaw, pitch].
    frame_size: H = W in pixels.

  Returns:
    (frames `[V, H, W, 3]` float32 RGB in [0, 1], cameras `[V, 5]` float32).
  """
  cameras = np.asarray(cameras, dtype=np.float32).reshape(-1, 5)
  return _kind(dataset).module.render_factors(factors, cameras, frame_size), cameras


def differing_factors(dataset, a, b):
  """Names of the factors whose values differ between two scenes of `dataset`."""
  return _kind(dataset).module.differing_factors(a, b)


def one_factor_variants(dataset, factor, rng, in_place=False):
  """Draws factors (A, B, C, D) for scene algebra: D ~ A - B + C.

  B and C differ in `factor` alone; A has B's value of `factor` (and is otherwise an
  independent scene); D is A with `factor` set to C's value. For example with
  factor='object_shape' on rooms: A a red sphere, B a blue sphere, C the blue sphere
  made a cube (same colour and place), D the red sphere made that cube. With
  `in_place`, A also takes B's values of the factors that place the object (rooms: its
  position and size, but for `factor` itself), so that the object of all four stands in
  one place; the room and the object's other factors stay A's own.

  Args:
    dataset: a synthetic dataset name.
    factor: one of `factor_names(dataset)`. Rooms: wall_colour, floor_colour,
      object_shape, object_colour, object_position, object_size (rooms here hold one
      object). Shepard-Metzler: colours (recolour the whole object), shape (same
      paint on another form), cube_colour (the first cube's colour).
    rng: `np.random.Generator`.
    in_place: put A's object where B's stands (`factor` must be one of the dataset's
      IN_PLACE_FACTOR_NAMES). It draws nothing more from `rng` itself; a quadruple
      that then does not fit its room is drawn again.

  Returns:
    (A, B, C, D) factors dicts.

  Raises:
    ValueError: unknown dataset or factor, a factor that cannot be changed in place, or
      no quadruple fitted in 100 tries.
  """
  kind = _kind(dataset)
  module = kind.module
  if factor not in module.FACTOR_NAMES:
    raise ValueError('Unknown factor %r for %s; it has: %s.'
                     % (factor, dataset, ', '.join(module.FACTOR_NAMES)))
  if in_place and factor not in module.IN_PLACE_FACTOR_NAMES:
    raise ValueError('%s cannot change %r in place; it can: %s.'
                     % (dataset, factor, ', '.join(module.IN_PLACE_FACTOR_NAMES) or 'none'))
  placement = ([name for name in module.PLACEMENT_FACTOR_NAMES if name != factor]
               if in_place else [])
  for _ in range(_VARIANT_TRIES):
    b = kind.algebra_sample(rng)
    try:
      c = module.vary(b, factor, rng)
      a = module.set_factor(kind.algebra_sample(rng), factor,
                            module.get_factor(b, factor))
      for name in placement:
        a = module.set_factor(a, name, module.get_factor(b, name))
      d = module.set_factor(a, factor, module.get_factor(c, factor))
    except ValueError:  # A changed object that does not fit its room: draw again.
      continue
    return a, b, c, d
  raise ValueError('No %s quadruple for %s fitted after %d tries.'
                   % (factor, dataset, _VARIANT_TRIES))


def sidecar_path(tfrecord_path):
  """`<dir>/<i>-of-<n>.scenes.json` beside `<dir>/<i>-of-<n>.tfrecord`."""
  if tfrecord_path.endswith(_RECORD_SUFFIX):
    tfrecord_path = tfrecord_path[:-len(_RECORD_SUFFIX)]
  return tfrecord_path + SIDECAR_SUFFIX


def write_scene_factors(tfrecord_path, dataset, scenes, split=None, seed=None,
                        first_scene=None):
  """Writes the sidecar of `tfrecord_path`, atomically (temporary name, then rename).

  Args:
    tfrecord_path: the record file the scenes are in.
    dataset: the dataset name.
    scenes: list of factors dicts, in record order.
    split, seed, first_scene: where the scenes were drawn from, kept for reference.
  """
  path = sidecar_path(tfrecord_path)
  document = {'format': FORMAT, 'version': VERSION, 'dataset': dataset,
              'records': os.path.basename(tfrecord_path), 'split': split, 'seed': seed,
              'first_scene': first_scene, 'scenes': list(scenes)}
  temporary = records.partial_path(path)
  try:
    with open(temporary, 'w') as f:
      json.dump(document, f, separators=(',', ':'))
    os.replace(temporary, path)
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)


def remove_scene_factors(tfrecord_paths):
  """Deletes the sidecars of these record files, so none outlives its records."""
  for path in tfrecord_paths:
    if os.path.exists(sidecar_path(path)):
      os.remove(sidecar_path(path))


def _read_one(tfrecord_path):
  path = sidecar_path(tfrecord_path)
  if not os.path.exists(path):
    raise FileNotFoundError(
        'No scene factors for %s: %s is missing. Render the dataset again with the '
        "project's renderer (python -m data_provider.scenes.render ...), which writes "
        'one beside every record file.' % (tfrecord_path, path))
  with open(path) as f:
    try:
      document = json.load(f)
    except ValueError as error:
      raise ValueError('%s is not valid JSON (%s); render the dataset again.'
                       % (path, error))
  if document.get('format') != FORMAT or document.get('version') != VERSION:
    raise ValueError('%s is not a %s version %d file (format %r, version %r); render '
                     'the dataset again.' % (path, FORMAT, VERSION,
                                             document.get('format'),
                                             document.get('version')))
  if os.path.exists(tfrecord_path):
    count = records.count_records(tfrecord_path)
    if count != len(document['scenes']):
      raise ValueError('%s lists %d scenes but %s holds %d records; render the dataset '
                       'again.' % (path, len(document['scenes']), tfrecord_path, count))
  return document


def read_scene_factors(path):
  """The factors of every scene of a record file, or of a split directory, in order.

  Args:
    path: a `.tfrecord` file (its sidecar is read), or a directory of them (their
      sidecars are read in file-name order, which is the files' order).

  Returns:
    List of factors dicts (see the module docstring), one per record.

  Raises:
    FileNotFoundError: a sidecar is missing (the message names it), or the directory
      holds no record files.
    ValueError: a sidecar is damaged, of another version, or lists a different number
      of scenes than its file holds.
  """
  if os.path.isdir(path):
    tfrecord_paths = sorted(glob.glob(os.path.join(path, '*' + _RECORD_SUFFIX)))
    if not tfrecord_paths:
      raise FileNotFoundError('No %s files in %s.' % (_RECORD_SUFFIX, path))
  else:
    tfrecord_paths = [path]
  scenes = []
  for tfrecord_path in tfrecord_paths:
    scenes.extend(_read_one(tfrecord_path)['scenes'])
  return scenes
