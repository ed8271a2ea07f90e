"""Tests of the scene factors: the sidecars beside the records, one-factor variants."""

import hashlib
import io
import json
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow.compat.v1 as tf

from data_provider import gqn_tfr_provider
from data_provider import records
from data_provider.scenes import factors
from data_provider.scenes import render
from data_provider.scenes import rooms
from data_provider.scenes import shepard_metzler

ROOMS = 'synth_rooms_ring_camera'
SM5 = 'synth_shepard_metzler_5_parts'
SM7 = 'synth_shepard_metzler_7_parts'
SIZE = 16
SEED = 3
SCENES = {'train': 5, 'test': 3}


def _decode(jpeg):
  return np.asarray(Image.open(io.BytesIO(jpeg)).convert('RGB'))


def _split_records(root, dataset, split):
  """Every (jpegs, cameras) of a split, files in order, records in order."""
  return [records.parse_scene(record)
          for path in gqn_tfr_provider.dataset_files(dataset, root, split)
          for record in tf.io.tf_record_iterator(path)]


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
  """A small rendered rooms and SM7 dataset under one root."""
  root = str(tmp_path_factory.mktemp('factors'))
  for dataset in (ROOMS, SM7):
    render.render_dataset(root, dataset, SCENES['train'], SCENES['test'], seed=SEED,
                          workers=1, frame_size=SIZE, progress=False)
  return root


# The random stream: the factors refactor must draw exactly what the samplers drew.

def test_factors_draw_the_same_scenes_as_before():
  # Scene 0 of train, seed 0, as the samplers drew it before factors existed.
  room = factors.sample_factors(ROOMS, render.scene_rng(0, ROOMS, 'train', 0))
  assert room['wall_colour']['name'] == 'lavender'
  assert room['floor_colour']['name'] == 'wood'
  assert [o['shape'] for o in room['objects']] == ['sphere', 'cone']
  np.testing.assert_allclose(room['objects'][0]['position'],
                             [0.7955954845993682, -0.7502227613446273, 0.0], rtol=1e-12)
  np.testing.assert_allclose(
      room['objects'][1]['colour']['rgb'],
      [0.45464304089546204, 0.13812242448329926, 0.8315004706382751])
  assert room['objects'][1]['yaw'] == pytest.approx(-0.9473259584056182, rel=1e-12)
  cubes = factors.sample_factors(SM7, render.scene_rng(0, SM7, 'train', 0))
  centres = [shape.position for shape in shepard_metzler.object_from_factors(cubes)]
  np.testing.assert_array_equal(centres[:3], [[-0.5, 1.0, 0.5], [-0.5, 0.0, 0.5],
                                              [-0.5, 0.0, -0.5]])
  np.testing.assert_allclose(cubes['cubes'][6]['colour']['rgb'],
                             [0.066251240670681, 0.770665168762207, 0.19341923296451569])


def test_scene_built_from_factors_is_the_sampled_scene():
  scene = rooms.sample_room(np.random.default_rng(11))
  again = rooms.scene_from_factors(rooms.sample_factors(np.random.default_rng(11)))
  np.testing.assert_array_equal(scene.wall_colour, again.wall_colour)
  assert [s.kind for s in scene.objects] == [s.kind for s in again.objects]
  for shape, other in zip(scene.objects, again.objects):
    assert shape.position == other.position and shape.height == other.height
    np.testing.assert_array_equal(shape.colour, other.colour)


# The sidecar.

def test_every_record_file_has_a_sidecar_with_the_documented_schema(roots):
  for dataset in (ROOMS, SM7):
    for split in ('train', 'test'):
      for path in gqn_tfr_provider.dataset_files(dataset, roots, split):
        sidecar = path[:-len('.tfrecord')] + '.scenes.json'
        assert factors.sidecar_path(path) == sidecar
        with open(sidecar) as f:
          document = json.load(f)
        assert document['format'] == factors.FORMAT and document['version'] == 1
        assert document['dataset'] == dataset and document['split'] == split
        assert document['records'] == os.path.basename(path)
        assert document['seed'] == SEED
        assert len(document['scenes']) == records.count_records(path)


@pytest.mark.parametrize('dataset', [ROOMS, SM7])
def test_sidecar_round_trips_the_rendered_factors(roots, dataset):
  for split, num_scenes in SCENES.items():
    read = factors.read_scene_factors(os.path.join(roots, dataset, split))
    drawn = [factors.sample_factors(dataset, render.scene_rng(SEED, dataset, split, i))
             for i in range(num_scenes)]
    assert read == drawn
  scene = factors.read_scene_factors(os.path.join(roots, dataset, 'train'))[0]
  if dataset == ROOMS:
    assert set(scene) == {'wall_colour', 'floor_colour', 'num_objects', 'objects'}
    assert scene['num_objects'] == len(scene['objects'])
    assert set(scene['objects'][0]) == {'shape', 'colour', 'position', 'yaw', 'radius',
                                        'height'}
  else:
    assert scene['parts'] == 7 and len(scene['cubes']) == 7
    assert all(isinstance(v, int) for cube in scene['cubes'] for v in cube['offset'])


@pytest.mark.parametrize('dataset', [ROOMS, SM7])
def test_record_i_is_scene_i_of_the_sidecar(roots, dataset):
  for split in ('train', 'test'):
    scenes = factors.read_scene_factors(os.path.join(roots, dataset, split))
    stored = _split_records(roots, dataset, split)
    assert len(stored) == len(scenes) == SCENES[split]
    for scene, (jpegs, cameras) in zip(scenes, stored):
      frames, _ = factors.render_views(dataset, scene, cameras, SIZE)
      # The same pixels give the same JPEG bytes; decoded, they are the same frames.
      assert [records.encode_jpeg(frame) for frame in frames] == jpegs
      decoded = np.stack([_decode(jpeg) for jpeg in jpegs]) / 255.0
      assert np.abs(decoded - frames).mean() < 0.02
    # And another scene's factors do not give these frames.
    other, _ = factors.render_views(dataset, scenes[1], stored[0][1], SIZE)
    assert [records.encode_jpeg(frame) for frame in other] != stored[0][0]


def test_a_file_and_its_split_directory_read_the_same_scenes(roots):
  paths = gqn_tfr_provider.dataset_files(ROOMS, roots, 'train')
  by_file = [scene for path in paths for scene in factors.read_scene_factors(path)]
  assert by_file == factors.read_scene_factors(os.path.join(roots, ROOMS, 'train'))


def test_a_missing_sidecar_names_the_file_and_says_to_render_again(tmp_path):
  render.render_dataset(str(tmp_path), SM5, 2, 1, seed=0, workers=1, frame_size=SIZE,
                        progress=False)
  path = gqn_tfr_provider.dataset_files(SM5, str(tmp_path), 'test')[1]
  os.remove(factors.sidecar_path(path))
  with pytest.raises(FileNotFoundError) as error:
    factors.read_scene_factors(path)
  assert factors.sidecar_path(path) in str(error.value)
  assert 'data_provider.scenes.render' in str(error.value)
  with pytest.raises(FileNotFoundError):
    factors.read_scene_factors(os.path.dirname(path))


def test_a_sidecar_that_does_not_match_its_records_is_refused(tmp_path):
  render.render_dataset(str(tmp_path), SM5, 2, 1, seed=0, workers=1, frame_size=SIZE,
                        progress=False)
  # The one file of the test split that holds the scene.
  path = gqn_tfr_provider.dataset_files(SM5, str(tmp_path), 'test')[-1]
  scenes = factors.read_scene_factors(path)
  assert len(scenes) == 1
  factors.write_scene_factors(path, SM5, scenes + scenes)
  with pytest.raises(ValueError, match='lists 2 scenes but .* holds 1 records'):
    factors.read_scene_factors(path)
  with open(factors.sidecar_path(path), 'w') as f:
    json.dump({'format': factors.FORMAT, 'version': 99, 'scenes': scenes}, f)
  with pytest.raises(ValueError, match='version'):
    factors.read_scene_factors(path)


def _hashes(directory, suffix):
  out = {}
  for dirpath, _, names in os.walk(directory):
    for name in names:
      if name.endswith(suffix):
        with open(os.path.join(dirpath, name), 'rb') as f:
          out[os.path.relpath(os.path.join(dirpath, name), directory)] = (
              hashlib.sha256(f.read()).hexdigest())
  return out


def test_records_are_the_same_bytes_with_and_without_the_sidecar(tmp_path, monkeypatch):
  with_sidecar = str(tmp_path / 'with')
  render.render_dataset(with_sidecar, ROOMS, 4, 2, seed=5, workers=1, frame_size=SIZE,
                        progress=False)
  monkeypatch.setattr(render, '_write_scene_factors', lambda *args: None)
  without = str(tmp_path / 'without')
  render.render_dataset(without, ROOMS, 4, 2, seed=5, workers=1, frame_size=SIZE,
                        progress=False)
  assert not _hashes(without, '.json')
  hashes = _hashes(with_sidecar, '.tfrecord')
  assert len(hashes) == 24 and hashes == _hashes(without, '.tfrecord')
  assert len(_hashes(with_sidecar, '.scenes.json')) == 24


def test_a_split_rendered_without_sidecars_is_rendered_again_with_them(tmp_path):
  root = str(tmp_path)
  render.render_dataset(root, SM5, 3, 1, seed=2, workers=1, frame_size=SIZE,
                        progress=False)
  before = _hashes(root, '.tfrecord')
  for split in ('train', 'test'):
    factors.remove_scene_factors(
        gqn_tfr_provider.dataset_files(SM5, root, split))
  summary = render.render_dataset(root, SM5, 3, 1, seed=2, workers=1,
                                  frame_size=SIZE, progress=False)
  assert summary.scenes_rendered == 4
  assert _hashes(root, '.tfrecord') == before
  assert len(factors.read_scene_factors(os.path.join(root, SM5, 'train'))) == 3


def test_every_rendered_dataset_has_scene_factors():
  for dataset in render.SCENE_RENDERERS:
    assert factors.factor_names(dataset)
  with pytest.raises(ValueError, match='renderer makes'):
    factors.sample_factors('rooms_ring_camera', np.random.default_rng(0))


# One-factor variants.

_FACTORS = ([(ROOMS, name) for name in rooms.FACTOR_NAMES]
            + [(SM7, name) for name in shepard_metzler.FACTOR_NAMES])


def _close(a, b):
  """Equal, but floats only to 1e-12 (a shape's height ratio is recomputed)."""
  if isinstance(a, dict):
    return a.keys() == b.keys() and all(_close(a[key], b[key]) for key in a)
  if isinstance(a, list):
    return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
  if isinstance(a, float):
    return a == pytest.approx(b, rel=1e-12)
  return a == b


@pytest.mark.parametrize('dataset, name', _FACTORS)
def test_quadruples_differ_in_exactly_the_one_factor(dataset, name):
  module = rooms if dataset == ROOMS else shepard_metzler
  rng = np.random.default_rng(21)
  for _ in range(5):
    a, b, c, d = factors.one_factor_variants(dataset, name, rng)
    assert factors.differing_factors(dataset, b, c) == [name]
    assert factors.differing_factors(dataset, a, d) == [name]
    assert _close(module.get_factor(a, name), module.get_factor(b, name))
    assert _close(module.get_factor(d, name), module.get_factor(c, name))
    # A and B are different scenes, not copies.
    assert factors.differing_factors(dataset, a, b)
    # The factors survive JSON, as the sidecar stores them.
    assert json.loads(json.dumps(d)) == d


@pytest.mark.parametrize('name', rooms.IN_PLACE_FACTOR_NAMES)
def test_in_place_quadruples_put_every_object_where_b_stands(name):
  rng = np.random.default_rng(5)
  for _ in range(5):
    a, b, c, d = factors.one_factor_variants(ROOMS, name, rng, in_place=True)
    assert factors.differing_factors(ROOMS, b, c) == [name]
    assert factors.differing_factors(ROOMS, a, d) == [name]
    assert _close(rooms.get_factor(d, name), rooms.get_factor(c, name))
    for placement in rooms.PLACEMENT_FACTOR_NAMES:
      if placement != name:
        for scene in (a, c, d):
          assert _close(rooms.get_factor(scene, placement), rooms.get_factor(b, placement))
    # A is still its own room: it differs from B in more than where the object stands.
    assert set(factors.differing_factors(ROOMS, a, b)) - {'object_yaw'}


def test_in_place_cases_follow_the_factors_and_leave_their_quadruples_alone():
  cases = factors.algebra_cases(ROOMS)
  assert [name for name, _, _ in cases[:len(rooms.FACTOR_NAMES)]] == list(rooms.FACTOR_NAMES)
  assert cases[len(rooms.FACTOR_NAMES):] == [
      (name + factors.IN_PLACE_SUFFIX, name, True) for name in rooms.IN_PLACE_FACTOR_NAMES]
  assert [case for case in factors.algebra_cases(SM7)] == [
      (name, name, False) for name in shepard_metzler.FACTOR_NAMES]
  # Without in_place the random stream is drawn as before the option existed.
  first = factors.one_factor_variants(ROOMS, 'object_shape', np.random.default_rng(3))
  again = factors.one_factor_variants(ROOMS, 'object_shape', np.random.default_rng(3),
                                      in_place=False)
  assert first == again
  with pytest.raises(ValueError, match='cannot change .object_position. in place'):
    factors.one_factor_variants(ROOMS, 'object_position', np.random.default_rng(0),
                                in_place=True)
  with pytest.raises(ValueError, match='in place; it can: none'):
    factors.one_factor_variants(SM7, 'shape', np.random.default_rng(0), in_place=True)


def test_room_shape_change_keeps_colour_place_and_size():
  a, b, c, d = factors.one_factor_variants(ROOMS, 'object_shape',
                                           np.random.default_rng(3))
  for before, after in [(b, c), (a, d)]:
    first, second = before['objects'][0], after['objects'][0]
    assert first['shape'] != second['shape']
    assert first['colour'] == second['colour']
    assert first['position'] == second['position']
    assert first['radius'] == second['radius']
  assert d['objects'][0]['shape'] == c['objects'][0]['shape']
  assert a['num_objects'] == d['num_objects'] == 1


def test_the_changed_factor_changes_the_rendered_views():
  rng = np.random.default_rng(8)
  for dataset, name in [(ROOMS, 'object_colour'), (SM7, 'colours')]:
    a, _, _, d = factors.one_factor_variants(dataset, name, rng)
    cameras = factors.sample_cameras(dataset, rng, 3)
    frames_a, cameras_a = factors.render_views(dataset, a, cameras, SIZE)
    frames_d, _ = factors.render_views(dataset, d, cameras, SIZE)
    assert frames_a.shape == (3, SIZE, SIZE, 3) and frames_a.dtype == np.float32
    np.testing.assert_array_equal(cameras_a, cameras)
    assert np.abs(frames_a - frames_d).max() > 0.1


def test_changed_objects_still_fit_the_room():
  rng = np.random.default_rng(4)
  varied_count = 0
  for _ in range(20):
    scene = rooms.sample_factors(rng)
    for name in ('object_shape', 'object_position', 'object_size'):
      try:
        varied = rooms.vary(scene, name, rng)
      except ValueError as error:
        # A crowded room can leave the object no other size or shape; it must say so.
        assert 'fits this room' in str(error)
        continue
      varied_count += 1
      assert rooms._fits(varied['objects'])
      assert rooms.differing_factors(scene, varied) == [name]
  assert varied_count >= 50


def test_unknown_factors_are_rejected_with_the_known_ones():
  rng = np.random.default_rng(0)
  with pytest.raises(ValueError, match='object_shape'):
    factors.one_factor_variants(ROOMS, 'object_mood', rng)
  with pytest.raises(ValueError, match='colours'):
    shepard_metzler.vary(shepard_metzler.sample_factors(rng, 5), 'size', rng)
