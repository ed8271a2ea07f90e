"""Tests of the representation analyses (gqn/analysis*.py, analyze_gqn.py)."""

import inspect
import json
import math
import os

import numpy as np
import pytest

import analyze_gqn
from data_provider import gqn_tfr_provider
from data_provider.scenes import render
from gqn import analysis
from gqn import analysis_algebra
from gqn import analysis_embedding
from gqn import analysis_model
from gqn import analysis_probes
from gqn import analysis_scenes
from gqn import analysis_views
from gqn import gqn_params
from gqn import training
from tests import fake_data

DATASET = 'synth_rooms_ring_camera'


def test_ridge_probe_recovers_a_linear_map():
  rng = np.random.default_rng(0)
  features = rng.normal(size=(80, 5))
  weights = rng.normal(size=(5, 2))
  targets = features @ weights + 3.0
  probe = analysis_probes.fit_regression(features, targets)
  new = rng.normal(size=(10, 5))
  np.testing.assert_allclose(probe.predict(new), new @ weights + 3.0, atol=0.05)
  assert probe.alpha_ <= 1.0  # no noise: leave-one-out picks a small penalty


def test_ridge_probe_does_not_interpolate_noise():
  # More features than examples and targets unrelated to them: leave-one-out must
  # choose a large penalty, so the probe predicts about the mean instead of fitting noise.
  rng = np.random.default_rng(5)
  features, targets = rng.normal(size=(60, 500)), rng.normal(size=(60, 1))
  new, new_targets = rng.normal(size=(200, 500)), rng.normal(size=(200, 1))
  probe = analysis_probes.fit_regression(features, targets)
  predicted = probe.predict(new).reshape(new_targets.shape)  # RidgeCV drops a 1-column axis
  r2 = 1.0 - np.sum(np.square(new_targets - predicted)) / np.sum(
      np.square(new_targets - new_targets.mean()))
  assert r2 > -0.1


def test_logistic_probe_chooses_its_penalty_and_survives_rare_and_single_classes():
  rng = np.random.default_rng(6)
  labels = np.array([0] * 40 + [1] * 17 + [2] * 3)  # class 2 rarer than the 5 folds
  features = np.eye(3)[labels] * 3.0 + rng.normal(size=(60, 3))
  features = np.concatenate([features, rng.normal(size=(60, 30))], axis=1)
  probe = analysis_probes.fit_classifier(features, labels)
  assert probe.best_params_['C'] in analysis_probes._INVERSE_PENALTIES
  assert np.mean(probe.predict(features) == labels) > 0.9
  single = analysis_probes.fit_classifier(features, np.full(60, 4))
  assert set(single.predict(rng.normal(size=(5, 33)))) == {4}


def test_probe_scores_separate_signal_from_noise():
  rng = np.random.default_rng(1)
  labels = rng.integers(3, size=120)
  position = rng.normal(size=(120, 2))
  # Features carry the label and the position, plus noise dimensions.
  features = np.concatenate([np.eye(3)[labels] * 2.0, position,
                             rng.normal(size=(120, 20))], axis=1)
  targets = {'label': ('class', labels), 'position': ('real', position)}
  train = {name: (kind, values[:80]) for name, (kind, values) in targets.items()}
  test = {name: (kind, values[80:]) for name, (kind, values) in targets.items()}
  scores = analysis_probes.probe_scores(features[:80], train, features[80:], test)
  assert scores['label']['metric'] == 'accuracy'
  assert scores['label']['score'] > 0.9 > scores['label']['chance']
  assert scores['position']['metric'] == 'r2'
  assert scores['position']['score'] > 0.9
  assert abs(scores['position']['chance']) < 0.2  # the train mean explains nothing


def test_grouping_scores_and_pca():
  rng = np.random.default_rng(2)
  groups = np.repeat(np.arange(4), 10)
  clustered = rng.normal(size=(4, 6))[groups] * 5.0 + rng.normal(size=(40, 6)) * 0.1
  scattered = rng.normal(size=(40, 6))
  tight = analysis_embedding.grouping_scores(clustered, groups)
  loose = analysis_embedding.grouping_scores(scattered, groups)
  assert tight['nearest_neighbour_accuracy'] == 1.0
  assert loose['nearest_neighbour_accuracy'] < 0.6
  assert tight['within_to_between_variance'] < 0.01 < loose['within_to_between_variance']
  points = analysis_embedding.pca(clustered)
  assert points.shape == (40, 2)
  np.testing.assert_allclose(points.mean(axis=0), 0.0, atol=1e-9)


def test_probe_targets_of_room_factors():
  factors = [
      {'wall_colour': {'index': 2}, 'floor_colour': {'index': 0}, 'num_objects': 1,
       'objects': [{'shape': 'box', 'colour': {'rgb': [1.0, 0.0, 0.0]},
                    'position': [0.5, -0.5, 0.0], 'radius': 0.4}]},
      {'wall_colour': {'index': 4}, 'floor_colour': {'index': 1}, 'num_objects': 2,
       'objects': [{'shape': 'sphere', 'colour': {'rgb': [0.0, 1.0, 0.0]},
                    'position': [1.0, 0.0, 0.0], 'radius': 0.3}, {}]}]
  targets = analysis_probes.probe_targets(factors)
  assert targets['wall_colour'][0] == 'class'
  assert targets['wall_colour'][1].tolist() == [2, 4]
  assert targets['num_objects'][1].tolist() == [1, 2]
  assert targets['object_position'][0] == 'real'
  assert targets['object_position'][1].tolist() == [[0.5, -0.5], [1.0, 0.0]]


def test_probe_targets_of_shepard_metzler_factors():
  def cube(offset, rgb):
    return {'offset': offset, 'colour': {'rgb': rgb}}
  factors = [{'cubes': [cube([0, 0, 0], [1.0, 0.0, 0.0]), cube([0, 0, 1], [0.0, 1.0, 0.0])]},
             {'cubes': [cube([0, 0, 0], [0.0, 0.0, 1.0]), cube([-1, 0, 0], [0.0, 0.0, 0.0])]}]
  targets = analysis_probes.probe_targets(factors)
  # +z is the 5th of the 6 directions (axis 2, forward), -x the 2nd (axis 0, backward).
  assert targets['first_step'][1].tolist() == [4, 1]
  assert targets['cube_colour'][1].tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
  assert targets['colours'][1].shape == (2, 6)
  # The cubes' mean colour is the same whichever end of the chain comes first.
  assert targets['mean_colour'][0] == 'real'
  np.testing.assert_allclose(targets['mean_colour'][1], [[0.5, 0.5, 0.0], [0.0, 0.0, 0.5]])
  reversed_chains = [{'cubes': scene['cubes'][::-1]} for scene in factors]
  np.testing.assert_allclose(analysis_probes.probe_targets(reversed_chains)['mean_colour'][1],
                             targets['mean_colour'][1])


class _SceneCodes(object):
  """Stands in for a GQNModel: r of a view is its scene's code, plus a little noise."""

  def encode(self, frames, cameras):
    del cameras  # r depends on the scene alone
    codes = np.random.default_rng(0).normal(size=(64, 16))
    scene = np.round(frames[:, 0, 0, 0, 0] * 10).astype(int)  # _scenes writes it there
    noise = np.random.default_rng(1).normal(size=(len(frames), 16)) * 0.05
    return (codes[scene] + noise)[:, None, None, :]


def _scenes(num_scenes, num_views, size=8):
  """Scenes of random frames whose first pixel codes the scene index."""
  rng = np.random.default_rng(3)
  frames = rng.uniform(size=(num_scenes, num_views, size, size, 3)).astype(np.float32)
  frames[:, :, 0, 0, 0] = np.arange(num_scenes)[:, None] / 10.0
  raw = rng.normal(size=(num_scenes, num_views, 5)).astype(np.float32)
  return analysis_scenes.Scenes(frames, raw, rng.normal(size=(num_scenes, num_views, 7)))


def test_embedding_has_pca_and_tsne_of_every_feature_set():
  result = analysis_embedding.analyze_embedding(_SceneCodes(), _scenes(4, 10))
  assert result['feature_sets'] == ['r', 'pixels']
  assert 1.0 <= result['tsne_perplexity'] < 40  # below the number of points
  for method in analysis_embedding.EMBEDDINGS:
    for name in result['feature_sets']:
      entry = result[method][name]
      assert np.asarray(entry['points']).shape == (40, 2)
      assert set(entry['scores']) == {'nearest_neighbour_accuracy',
                                      'within_to_between_variance'}
  # r carries the scene and nothing else: both embeddings keep each scene's views together;
  # the random pixels do not group by scene.
  assert result['tsne']['r']['scores']['nearest_neighbour_accuracy'] == 1.0
  assert result['pca']['r']['scores']['nearest_neighbour_accuracy'] == 1.0
  assert result['pixels']['scores']['nearest_neighbour_accuracy'] < 0.6
  assert 'points' not in result['r']  # the 2-D points are kept once, per embedding
  again = analysis_embedding.analyze_embedding(_SceneCodes(), _scenes(4, 10))
  assert again['tsne']['r']['points'] == result['tsne']['r']['points']  # fixed seed
  table = analysis_embedding.embedding_table(result)
  assert len(table) == 3 and table[1].split()[0] == 'r'


def _is_matplotlib_png(path):
  with open(path, 'rb') as f:
    data = f.read()
  # matplotlib writes its name and version into the PNG's Software text chunk.
  return data.startswith(b'\x89PNG\r\n\x1a\n') and b'matplotlib' in data


def test_charts_are_matplotlib_pngs(tmp_path):
  views = {'K': [0, 1, 2], 'num_scenes': 2, 'num_samples': 2}
  for name in ('bits_per_dim', 'kl_nats', 'mean_render_psnr', 'best_of_n_mse',
               'sample_spread'):
    views[name] = [1.0, 0.5, float('nan')]
  probes = {'num_train_scenes': 8, 'num_test_scenes': 4, 'features': {
      name: {'wall_colour': {'metric': 'accuracy', 'score': score, 'chance': 0.3},
             'object_size': {'metric': 'r2', 'score': -score, 'chance': 0.0}}
      for name, score in (('r_trained', 0.8), ('pixels', 0.2))}}
  embedding = analysis_embedding.analyze_embedding(_SceneCodes(), _scenes(2, 3))
  written = []
  for plot, result in ((analysis_views.plot_views, views),
                       (analysis_probes.plot_probes, probes),
                       (analysis_embedding.plot_embedding, embedding)):
    written.append(str(tmp_path / ('%s.png' % plot.__name__)))
    plot(written[-1], result)
  assert all(_is_matplotlib_png(path) for path in written)


def test_scenes_are_read_with_the_pixels_of_the_input_pipeline(tmp_path):
  # The fake rooms frames are stored at 64 px; both paths shrink them to 32 px.
  tf = pytest.importorskip('tensorflow.compat.v1')
  root, dataset, size = str(tmp_path), 'rooms_ring_camera', 32
  fake_data.write_fake_dataset(root, dataset, 'test', num_files=2, scenes_per_file=2)
  scenes = analysis_scenes.read_scenes(root, dataset, 'test', 3, size)
  views = gqn_tfr_provider.dataset_info(dataset).sequence_size
  assert scenes.frames.shape == (3, views, size, size, 3)
  assert scenes.frames.dtype == np.float32
  assert scenes.cameras.shape == (3, views, 7)
  with tf.Graph().as_default():
    data = gqn_tfr_provider.gqn_dataset(dataset, views - 1, root, 'test', batch_size=4,
                                        custom_frame_size=size)
    features, _ = tf.data.make_one_shot_iterator(data).get_next()
    with tf.Session() as session:
      batch = session.run(features.context.frames)
  compared = 0
  for frames in batch:
    for frame in frames:
      scene, view = fake_data.decode_fake_frame(frame)
      if scene < len(scenes.frames):  # read_scenes read the first 3 scenes
        np.testing.assert_array_equal(frame, scenes.frames[scene, view])
        compared += 1
  assert compared == 3 * (views - 1)


def test_the_command_measures_what_make_results_publishes():
  # Both fit the probes on 2000 train scenes and render 30 algebra quadruples per factor
  # unless told otherwise: with fewer the shape figures are noise (sections 14 and 20).
  args = analyze_gqn._parser().parse_args(  # pylint: disable=protected-access
      ['--model_dir', 'unused', '--data_dir', 'unused', '--dataset', DATASET])
  defaults = inspect.signature(analysis.analyze).parameters
  assert args.probe_scenes == defaults['probe_scenes'].default == 2000
  assert args.quadruples == defaults['quadruples_per_factor'].default == 30


def test_unknown_analysis_is_refused(capsys):
  code = analyze_gqn.main(['--model_dir', 'unused', '--data_dir', 'unused',
                           '--dataset', DATASET, '--analyses', 'views,colour'])
  assert code == 2
  assert "'colour'" in capsys.readouterr().err


def _finite(value):
  """Every number in a JSON-like structure is finite."""
  if isinstance(value, dict):
    return all(_finite(v) for v in value.values())
  if isinstance(value, list):
    return all(_finite(v) for v in value)
  if isinstance(value, float):
    return math.isfinite(value)
  return True


@pytest.mark.slow
def test_analyses_end_to_end_on_a_trained_tiny_model(tmp_path, capsys):
  """Renders a small dataset, trains the tiny GQN briefly and runs all four analyses."""
  data_dir, model_dir = str(tmp_path / 'data'), str(tmp_path / 'model')
  output_dir = str(tmp_path / 'analysis')
  render.render_dataset(data_dir, DATASET, train_scenes=60, test_scenes=20, seed=0,
                        workers=2, progress=False)
  training.train(gqn_params.tiny_config(), data_dir, DATASET, model_dir,
                 training.TrainOptions(batch_size=8, max_steps=80, chkpt_steps=80,
                                       log_steps=80, seed=0, queue_threads=2,
                                       queue_buffer=16))
  code = analyze_gqn.main([
      '--model_dir', model_dir, '--data_dir', data_dir, '--dataset', DATASET,
      '--output_dir', output_dir, '--num_scenes', '8', '--num_samples', '2',
      '--probe_scenes', '60', '--embedding_scenes', '4', '--quadruples', '1'])
  assert code == 0
  printed = capsys.readouterr().out
  for name in analysis.ANALYSES:
    assert '%s:' % name in printed  # the result table
    assert os.path.getsize(os.path.join(output_dir, '%s.png' % name)) > 0
    # Charts are matplotlib's; the algebra's grid of renders is composed by Pillow.
    assert _is_matplotlib_png(os.path.join(output_dir, '%s.png' % name)) == (
        name != 'algebra')
  with open(os.path.join(output_dir, 'analysis.json')) as f:
    results = json.load(f)
  assert set(analysis.ANALYSES) <= set(results)
  assert _finite(results)

  views = results['views']
  assert views['K'] == list(range(10))  # K = 0 (prior only) ... 9
  for name in ('bits_per_dim', 'kl_nats', 'mean_render_psnr', 'best_of_n_mse',
               'sample_spread'):
    assert len(views[name]) == 10

  probes = results['probes']['features']
  assert set(probes) == {'r_trained', 'r_initial', 'pixels'}
  wall = probes['r_trained']['wall_colour']
  assert wall['metric'] == 'accuracy' and wall['score'] > wall['chance']

  embedding = results['embedding']
  assert len(embedding['pca']['r']['points']) == len(embedding['scene']) == 4 * 10
  assert 0.0 <= embedding['pixels']['scores']['nearest_neighbour_accuracy'] <= 1.0
  for name in ('r', 'pixels'):
    tsne = embedding['tsne'][name]
    assert np.asarray(tsne['points']).shape == (4 * 10, 2)
    assert 0.0 <= tsne['scores']['nearest_neighbour_accuracy'] <= 1.0
    assert tsne['scores']['within_to_between_variance'] >= 0.0
    assert np.asarray(embedding['pca'][name]['points']).shape == (4 * 10, 2)

  algebra = results['algebra']
  assert algebra['num_quadruples'] == 9  # one per room factor, then 3 in place
  assert set(algebra['overall']) == {'algebra', 'render_r_a', 'render_r_c', 'render_r_d'}
  assert list(algebra['per_factor']) == [
      'wall_colour', 'floor_colour', 'object_shape', 'object_colour', 'object_position',
      'object_size', 'object_shape_in_place', 'object_colour_in_place',
      'object_size_in_place']


def test_vae_representation_restores_the_gqn_vae_encoder(tmp_path):
  gqn_vae = pytest.importorskip('gqn.gqn_vae')
  tf = pytest.importorskip('tensorflow.compat.v1')
  config = gqn_params.tiny_config()
  rng = np.random.default_rng(3)
  frames = rng.uniform(size=(2, 3, config.IMG_HEIGHT, config.IMG_WIDTH, 3)).astype(np.float32)
  cameras = rng.normal(size=(2, 3, config.POSE_CHANNELS)).astype(np.float32)
  prefix = str(tmp_path / 'model.ckpt-0')
  with tf.Graph().as_default():
    outputs = gqn_vae.gqn_vae(tf.constant(cameras[:, 0]), tf.constant(frames),
                              tf.constant(cameras), config, generate=True)
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      expected = session.run(outputs.representation)
      tf.train.Saver().save(session, prefix)
  encode = analysis_model.vae_representation(config, prefix)
  np.testing.assert_allclose(encode(frames, cameras), expected, rtol=1e-5, atol=1e-5)


def test_model_renders_a_fed_representation():
  # The pool encoder's r is read before it is tiled; the tower's is covered end to end.
  config = gqn_params.create_gqn_config({'ENC_TYPE': 'pool'}, base=gqn_params.tiny_config())
  rng = np.random.default_rng(4)
  frames = rng.uniform(size=(3, 2, config.IMG_HEIGHT, config.IMG_WIDTH, 3)).astype(np.float32)
  cameras = rng.normal(size=(3, 2, config.POSE_CHANNELS)).astype(np.float32)
  model = analysis_model.GQNModel(config, seed=0)
  try:
    r = model.encode(frames, cameras)
    assert r.shape == (3, 1, 1, config.ENC_CHANNELS)
    assert model.zero_representation(3).shape == r.shape
    mean = model.render(r, cameras[:, 0])
    assert mean.shape == (3, config.IMG_HEIGHT, config.IMG_WIDTH, 3)
    np.testing.assert_allclose(model.render(r, cameras[:, 0]), mean)  # zero noise
    assert not np.allclose(model.render(model.zero_representation(3), cameras[:, 0]), mean)
    assert not np.allclose(model.render(r, cameras[:, 0], mean=False), mean)
    elbo, kl = model.elbo(r, cameras[:, 0], frames[:, 0])
    assert np.isfinite(elbo) and kl >= 0.0
  finally:
    model.close()


class _ColourModel(object):
  """A stand-in GQN: r is the context's mean colour, rendered as a flat image."""

  def encode(self, frames, cameras):
    return frames.mean(axis=(1, 2, 3))[:, None, None, :]

  def render(self, representation, queries):
    return np.broadcast_to(representation, (len(queries), 4, 4, 3)).copy()


def test_algebra_scores_every_quadruple_and_pictures_a_few_of_each_factor():
  rng = np.random.default_rng(0)
  quadruples = []
  for factor in ('wall_colour', 'object_shape'):
    for _ in range(analysis_algebra.PICTURED_PER_FACTOR + 2):
      # B and C differ by a colour shift; D is A with C's: the algebra is exact here.
      a, shift = rng.uniform(0.2, 0.6, (1, 3)), rng.uniform(0.0, 0.3, (1, 3))
      colours = np.concatenate([a, np.zeros((1, 3)), shift, a + shift])
      frames = np.broadcast_to(colours[:, None, None, None, :], (4, 3, 4, 4, 3)).copy()
      quadruples.append((factor, analysis_scenes.Scenes(frames, None, np.zeros((4, 3, 7)))))
  result, rows = analysis_algebra.analyze_algebra(_ColourModel(), quadruples, 2)
  assert result['num_quadruples'] == len(quadruples) == 10
  assert len(rows) == 2 * analysis_algebra.PICTURED_PER_FACTOR
  assert result['overall']['algebra']['mse'] < 1e-12 < result['overall']['render_r_a']['mse']
  assert result['algebra_beats_both']
  # D's own r renders D exactly here: the floor that the algebra reaches.
  assert result['overall']['render_r_d']['mse'] < 1e-12
  assert len(rows[0]) == len(result['grid_columns']) == 8


def test_algebra_overall_leaves_out_the_in_place_cases():
  frames = np.zeros((4, 3, 4, 4, 3))
  frames[3] = 0.5  # D differs from A, B and C: rendering r_A is wrong by 0.25.
  scenes = analysis_scenes.Scenes(frames, None, np.zeros((4, 3, 7)))
  shifted = analysis_scenes.Scenes(frames + 0.1, None, np.zeros((4, 3, 7)))
  result, _ = analysis_algebra.analyze_algebra(
      _ColourModel(), [('object_shape', scenes), ('object_shape_in_place', shifted)], 2)
  assert list(result['per_factor']) == ['object_shape', 'object_shape_in_place']
  assert result['overall'] == result['per_factor']['object_shape']
  assert result['num_quadruples'] == 2
