"""Tests of the synthetic scene renderer and of the gqn-datasets files it writes."""

import io
import os
import struct

import numpy as np
from PIL import Image
import pytest
import tensorflow.compat.v1 as tf

from data_provider import camera
from data_provider import records
from data_provider.scenes import pinhole
from data_provider.scenes import raycast
from data_provider.scenes import render
from data_provider.scenes import rooms
from data_provider.scenes import shepard_metzler

ROOMS = 'synth_rooms_ring_camera'
SM5 = 'synth_shepard_metzler_5_parts'
SM7 = 'synth_shepard_metzler_7_parts'
# Small frames keep the tests fast; nothing below depends on the size.
SIZE = 16


# A TFRecord reader written from the format's description, independent of TensorFlow:
# uint64 length, uint32 masked crc32c of the length, data, uint32 masked crc32c of data.

def _crc32c_table():
  table = []
  for byte in range(256):
    crc = byte
    for _ in range(8):
      crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # Castagnoli, reflected.
    table.append(crc)
  return table


_CRC32C_TABLE = _crc32c_table()


def _crc32c(data):
  crc = 0xFFFFFFFF
  for byte in data:
    crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
  return crc ^ 0xFFFFFFFF


def _masked_crc(data):
  crc = _crc32c(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records_by_hand(path):
  """All records of a TFRecord file, every crc checked."""
  records = []
  with open(path, 'rb') as f:
    while True:
      header = f.read(12)
      if not header:
        return records
      length, length_crc = struct.unpack('<QI', header)
      assert length_crc == _masked_crc(header[:8])
      data = f.read(length)
      (data_crc,) = struct.unpack('<I', f.read(4))
      assert len(data) == length and data_crc == _masked_crc(data)
      records.append(data)


def parse_scene(record):
  """(frames [V, H, W, 3] uint8, cameras [V, 5]) of one serialized scene Example."""
  features = tf.train.Example.FromString(record).features.feature
  frames = np.stack([np.asarray(Image.open(io.BytesIO(jpeg)).convert('RGB'))
                     for jpeg in features['frames'].bytes_list.value])
  cameras = np.asarray(features['cameras'].float_list.value, dtype=np.float32)
  assert cameras.size == 5 * len(frames)
  return frames, cameras.reshape(-1, 5)


def test_crc32c_of_the_hand_reader_matches_the_standard_check_value():
  assert _crc32c(b'123456789') == 0xE3069283


# Cameras.

def test_look_at_angles_follow_the_documented_convention():
  poses = camera.look_at([[-2.0, 0.0, 0.0], [0.0, -2.0, 0.0], [0.0, 3.0, 3.0]],
                         [0.0, 0.0, 0.0])
  np.testing.assert_allclose(poses[:, 3], [0.0, np.pi / 2, -np.pi / 2], atol=1e-6)
  np.testing.assert_allclose(poses[:, 4], [0.0, 0.0, -np.pi / 4], atol=1e-6)
  # The viewing direction points from the camera to the target.
  forward = camera.forward_direction(poses[:, 3], poses[:, 4])
  np.testing.assert_allclose(forward[2], [0.0, -1.0, -1.0] / np.sqrt(2.0), atol=1e-6)


def test_image_axes_up_is_top_row_and_right_is_last_column():
  pose = camera.look_at([[-5.0, 0.0, 0.0]], [0.0, 0.0, 0.0])[0]  # looks along +x
  # Seen along +x with z up, +z is at the top and -y on the right.
  rows, cols, _ = pinhole.project([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0]], pose, 1.0, 64)
  assert rows[0] < 32 and cols[0] == pytest.approx(32)
  assert cols[1] > 32 and rows[1] == pytest.approx(32)


def test_ray_through_the_image_centre_is_the_viewing_direction():
  poses = rooms.sample_ring_cameras(np.random.default_rng(0), 4)
  _, directions = pinhole.pixel_rays(poses, rooms.FOV, SIZE, np.arange(4),
                                    np.full(4, SIZE / 2.0), np.full(4, SIZE / 2.0))
  np.testing.assert_allclose(directions.T,  # rays are stored [3, R]
                             camera.forward_direction(poses[:, 3], poses[:, 4]),
                             atol=1e-6)


def test_ring_cameras_face_the_room_centre():
  poses = rooms.sample_ring_cameras(np.random.default_rng(1), 20)
  np.testing.assert_allclose(np.hypot(poses[:, 0], poses[:, 1]),
                             rooms.CAMERA_RING_RADIUS, rtol=1e-5)
  np.testing.assert_allclose(poses[:, 2], rooms.CAMERA_HEIGHT)
  for pose in poses:
    rows, cols, depths = pinhole.project([rooms.LOOK_AT], pose, rooms.FOV, 64)
    assert depths[0] > 0
    np.testing.assert_allclose([rows[0], cols[0]], [32.0, 32.0], atol=1e-3)
  assert np.ptp(poses[:, 3]) > 1.0  # angles differ per view


def test_sphere_cameras_face_the_object_centre():
  poses = shepard_metzler.sample_sphere_cameras(np.random.default_rng(2), 20)
  np.testing.assert_allclose(np.linalg.norm(poses[:, :3], axis=1),
                             shepard_metzler.CAMERA_DISTANCE, rtol=1e-5)
  assert np.all(np.abs(poses[:, 4]) <= shepard_metzler.MAX_CAMERA_PITCH)
  for pose in poses:
    rows, cols, _ = pinhole.project([[0.0, 0.0, 0.0]], pose, shepard_metzler.FOV, 64)
    np.testing.assert_allclose([rows[0], cols[0]], [32.0, 32.0], atol=1e-3)


def test_an_object_at_the_look_at_point_fills_the_image_centre():
  # A ball on the floor whose centre is the point the cameras look at.
  radius = rooms.LOOK_AT[2]
  red_ball = raycast.Shape(kind='sphere', position=(0.0, 0.0, 0.0), yaw=0.0,
                           radius=radius, height=2 * radius, colour=(1.0, 0.0, 0.0))
  scene = rooms.RoomScene(wall_colour=rooms.WALL_COLOURS[2],
                          floor_colour=rooms.FLOOR_COLOURS[0], objects=[red_ball])
  poses = rooms.sample_ring_cameras(np.random.default_rng(3), 6)
  frames = rooms.render_room(scene, poses, SIZE)
  centre = frames[:, SIZE // 2 - 1:SIZE // 2 + 1, SIZE // 2 - 1:SIZE // 2 + 1]
  assert np.all(centre[..., 0] > 0.3) and np.all(centre[..., 1:] == 0.0)
  corners = frames[:, [0, 0, -1, -1], [0, -1, 0, -1]]
  assert np.all(corners[..., 1:] > 0.0)  # walls and floor, not the ball


# Scene contents.

@pytest.mark.parametrize('parts', [5, 7])
def test_shepard_metzler_cubes_are_a_face_connected_self_avoiding_walk(parts):
  for seed in range(50):
    cells = shepard_metzler.sample_cube_cells(np.random.default_rng(seed), parts)
    assert cells.shape == (parts, 3)
    assert np.all(np.abs(np.diff(cells, axis=0)).sum(axis=1) == 1)  # share a face
    assert len({tuple(cell) for cell in cells}) == parts  # self-avoiding


def test_shepard_metzler_object_is_centred_unit_cubes_of_distinct_colours():
  cubes = shepard_metzler.sample_object(np.random.default_rng(4), 7)
  assert len(cubes) == 7
  assert all(c.kind == 'box' and c.radius == 0.5 and c.height == 1.0 for c in cubes)
  centres = np.array([c.position for c in cubes]) + [0.0, 0.0, 0.5]
  np.testing.assert_allclose(centres.min(axis=0) + centres.max(axis=0), 0.0)
  assert len({tuple(np.round(c.colour, 3)) for c in cubes}) == 7


def test_room_objects_stand_inside_the_room_without_overlapping():
  kinds = set()
  for seed in range(100):
    scene = rooms.sample_room(np.random.default_rng(seed))
    assert rooms.MIN_OBJECTS <= len(scene.objects) <= rooms.MAX_OBJECTS
    for i, shape in enumerate(scene.objects):
      kinds.add(shape.kind)
      x, y, z = shape.position
      reach = raycast.footprint_radius(shape)
      assert z == 0.0 and shape.height < rooms.WALL_HEIGHT
      assert max(abs(x), abs(y)) + reach < rooms.ROOM_HALF_SIZE
      assert np.hypot(x, y) + reach < rooms.CAMERA_RING_RADIUS
      for other in scene.objects[:i]:
        gap = np.hypot(x - other.position[0], y - other.position[1])
        assert gap > reach + raycast.footprint_radius(other)
  assert kinds == set(raycast.SHAPE_KINDS)


def test_objects_cast_hard_shadows_from_the_light():
  # A post at the origin; the floor point behind it as seen from the light is in its
  # shadow, the point mirrored through the post is lit.
  post = raycast.Shape(kind='cylinder', position=(0.0, 0.0, 0.0), yaw=0.0, radius=0.3,
                       height=1.5, colour=(1.0, 1.0, 1.0))
  scene = rooms.RoomScene(wall_colour=rooms.WALL_COLOURS[0],
                          floor_colour=np.float32([0.5, 0.5, 0.5]), objects=[post])
  light = np.float32(rooms.LIGHT_POSITION)
  through = np.float32([0.0, 0.0, 1.0])  # a point inside the post
  behind = light + (through - light) * light[2] / (light[2] - through[2])  # on floor
  mirrored = behind * [-1.0, -1.0, 0.0]
  origins = np.float32([behind + [0, 0, 0.1], mirrored + [0, 0, 0.1]]).T  # [3, 2]
  down = np.float32([[0.0, 0.0, -1.0]] * 2).T
  shadowed, lit = rooms.trace_room(scene, origins, down).T
  np.testing.assert_allclose(shadowed, 0.5 * rooms.AMBIENT, rtol=1e-5)
  assert np.all(lit > 0.5 * rooms.AMBIENT + 0.1)


@pytest.mark.parametrize('render_scene, views', [
    (rooms.render_scene, 10),
    (lambda rng, views, size: shepard_metzler.render_scene(rng, views, size, 5), 15),
])
def test_rendered_frames_and_poses_have_the_right_shapes_and_ranges(render_scene, views):
  frames, poses = render_scene(np.random.default_rng(5), views, SIZE)
  assert frames.shape == (views, SIZE, SIZE, 3) and frames.dtype == np.float32
  assert frames.min() >= 0.0 and frames.max() <= 1.0 and frames.std() > 0.05
  assert poses.shape == (views, 5) and poses.dtype == np.float32
  assert np.all(np.abs(poses[:, 3]) <= np.pi) and np.all(np.abs(poses[:, 4]) < 1.0)


def test_only_edge_pixels_are_supersampled(monkeypatch):
  poses = rooms.sample_ring_cameras(np.random.default_rng(6), 2)
  scene = rooms.sample_room(np.random.default_rng(6))
  smooth = rooms.render_room(scene, poses, 32)
  threshold = raycast.EDGE_THRESHOLD
  monkeypatch.setattr(raycast, 'EDGE_THRESHOLD', np.inf)  # one ray per pixel
  aliased = rooms.render_room(scene, poses, 32)
  changed = np.any(aliased != smooth, axis=-1)
  edges = raycast._edge_pixels(np.moveaxis(aliased, -1, 0), threshold)
  assert 0.0 < changed.mean() < 0.5
  assert not np.any(changed & ~edges)


# Determinism.

def test_same_seed_gives_the_same_bytes_and_other_seeds_differ():
  first = render.render_scene_record(ROOMS, 7, 'train', 3, SIZE)
  again = render.render_scene_record(ROOMS, 7, 'train', 3, SIZE)
  assert first[0] == again[0] and np.array_equal(first[1], again[1])
  for other in [render.render_scene_record(ROOMS, 8, 'train', 3, SIZE),
                render.render_scene_record(ROOMS, 7, 'test', 3, SIZE),
                render.render_scene_record(ROOMS, 7, 'train', 4, SIZE),
                render.render_scene_record(SM5, 7, 'train', 3, SIZE)]:
    assert other[0] != first[0] and not np.array_equal(other[1], first[1])


def _file_bytes(directory):
  contents = {}
  for dirpath, _, filenames in os.walk(directory):
    for name in filenames:
      with open(os.path.join(dirpath, name), 'rb') as f:
        contents[os.path.relpath(os.path.join(dirpath, name), directory)] = f.read()
  return contents


def test_files_do_not_depend_on_the_worker_count(tmp_path):
  for workers in (1, 2):
    render.render_dataset(str(tmp_path / str(workers)), SM7, 7, 3, seed=1,
                          workers=workers, frame_size=SIZE, progress=False)
  one, two = _file_bytes(str(tmp_path / '1')), _file_bytes(str(tmp_path / '2'))
  # 24 record files, each with its scene factors sidecar.
  assert len(one) == 48 and one == two


# Files.

@pytest.fixture(scope='module')
def rooms_root(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('scenes'))
  render.render_dataset(root, ROOMS, 23, 3, seed=3, workers=2, frame_size=SIZE,
                        progress=False)
  return root


def test_files_are_named_and_zero_padded_as_deepmind_names_them(rooms_root):
  train = sorted(name for name in os.listdir(os.path.join(rooms_root, ROOMS, 'train'))
                 if name.endswith('.tfrecord'))
  test = sorted(name for name in os.listdir(os.path.join(rooms_root, ROOMS, 'test'))
                if name.endswith('.tfrecord'))
  assert train == ['%02d-of-20.tfrecord' % i for i in range(1, 21)]
  assert test == ['1-of-4.tfrecord', '2-of-4.tfrecord', '3-of-4.tfrecord',
                  '4-of-4.tfrecord']


def test_plain_parser_reads_every_scene_in_order(rooms_root):
  for split, num_scenes, num_files in [('train', 23, 20), ('test', 3, 4)]:
    scenes = []
    for i in range(1, num_files + 1):
      name = '%0*d-of-%d.tfrecord' % (len(str(num_files)), i, num_files)
      records = read_records_by_hand(os.path.join(rooms_root, ROOMS, split, name))
      assert len(records) in (num_scenes // num_files, num_scenes // num_files + 1)
      scenes.extend(parse_scene(record) for record in records)
    assert len(scenes) == num_scenes
    for index, (frames, cameras) in enumerate(scenes):
      assert frames.shape == (10, SIZE, SIZE, 3) and frames.dtype == np.uint8
      assert cameras.shape == (10, 5)
      _, expected = render.render_scene_record(ROOMS, 3, split, index, SIZE)
      np.testing.assert_array_equal(cameras, expected)


def test_jpeg_frames_match_the_rendering(rooms_root):
  path = os.path.join(rooms_root, ROOMS, 'train', '01-of-20.tfrecord')
  frames, _ = parse_scene(read_records_by_hand(path)[0])
  rendered, _ = rooms.render_scene(render.scene_rng(3, ROOMS, 'train', 0), 10, SIZE)
  assert np.abs(frames / 255.0 - rendered).mean() < 0.02


def test_complete_splits_are_skipped_and_incomplete_ones_rendered_again(rooms_root):
  again = render.render_dataset(rooms_root, ROOMS, 23, 3, seed=3, workers=1,
                                frame_size=SIZE, progress=False)
  assert again.scenes_rendered == 0
  test_file = os.path.join(rooms_root, ROOMS, 'test', '2-of-4.tfrecord')
  with open(test_file, 'rb') as f:
    original = f.read()
  os.remove(test_file)
  repaired = render.render_dataset(rooms_root, ROOMS, 23, 3, seed=3, workers=1,
                                   frame_size=SIZE, progress=False)
  assert repaired.scenes_rendered == 3
  with open(test_file, 'rb') as f:
    assert f.read() == original


def test_an_interrupted_write_leaves_no_file(tmp_path):
  path = str(tmp_path / '1-of-1.tfrecord')

  def failing_records():
    yield b'one record'
    raise KeyboardInterrupt

  with pytest.raises(KeyboardInterrupt):
    records.write_records(path, failing_records())
  assert os.listdir(str(tmp_path)) == []


def test_count_records_reads_the_framing_and_rejects_a_truncated_file(tmp_path):
  path = str(tmp_path / 'records.tfrecord')
  records.write_records(path, [b'a', b'bb', b'ccc' * 100])
  assert records.count_records(path) == 3
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:
    f.write(data[:-5])
  with pytest.raises(ValueError, match='truncated'):
    records.count_records(path)


def test_bad_arguments_are_rejected_with_a_message(tmp_path):
  with pytest.raises(ValueError, match='synth_rooms_ring_camera'):
    render.render_dataset(str(tmp_path), 'rooms_ring_camera', 1, 1)
  with pytest.raises(ValueError, match='train_scenes'):
    render.render_dataset(str(tmp_path), ROOMS, -1, 1)
  with pytest.raises(ValueError, match='workers'):
    render.render_dataset(str(tmp_path), ROOMS, 1, 1, workers=0)


def test_command_line_renders_and_reports_path_and_rate(tmp_path, capsys):
  render.main(['--root', str(tmp_path), '--dataset', SM5, '--train_scenes', '2',
               '--test_scenes', '1', '--seed', '4', '--workers', '1',
               '--frame_size', str(SIZE)])
  out, err = capsys.readouterr()
  assert os.path.join(str(tmp_path), SM5) in out and 'scenes/s' in out
  assert '2/2 scenes' in err  # the progress line
  train = os.path.join(str(tmp_path), SM5, 'train')
  records = [record for name in sorted(os.listdir(train)) if name.endswith('.tfrecord')
             for record in read_records_by_hand(os.path.join(train, name))]
  frames, cameras = parse_scene(records[1])
  assert len(records) == 2 and frames.shape == (15, SIZE, SIZE, 3)
  np.testing.assert_array_equal(
      cameras, render.render_scene_record(SM5, 4, 'train', 1, SIZE)[1])
