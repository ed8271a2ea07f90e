"""Scene algebra: r_A - r_B + r_C rendered from D's cameras.

For quadruples of rendered scenes (A, B, C, D) where B and C differ in one factor and D
is A with C's value of it; scored against D's true views and against rendering r_A or
r_C alone, and beside rendering r_D, D's own representation: the error this renderer
makes when it has seen D itself, the floor that a perfect sum would reach.
"""

import collections

import numpy as np

from data_provider import gqn_tfr_provider
from data_provider import records
from data_provider.scenes import factors as scene_factors
from gqn import analysis_scenes
from gqn import pictures
from gqn import view_metrics


# The algebra picture shows at most this many quadruples of each case (a factor, or a
# factor in place); the numbers average over all of them.
PICTURED_PER_FACTOR = 3


def analyze_algebra(model, quadruples, context_views):
  """Scene algebra: render r_A - r_B + r_C from D's cameras and compare with D.

  Args:
    model: a GQNModel.
    quadruples: list of (case name: the changed factor's, + IN_PLACE_SUFFIX for the
      in-place ones; Scenes of the 4 scenes A, B, C, D, each seen from the same V
      cameras).
    context_views: K, the views of each scene that form its r; the remaining views of D
      are the queries.

  Returns:
    (dict, grid rows): the dict holds, per prediction (`algebra`, `render_r_a`,
    `render_r_c`, and the floor `render_r_d`), its MSE and PSNR against D's true query
    views averaged over every quadruple and query, per case and overall (the cases that
    are not in place), plus the counts and `algebra_beats_both` (overall below both r_A
    and r_C); the grid rows are, for the first PICTURED_PER_FACTOR quadruples of each
    case, A, B, C, D true, algebra, r_A, r_C, r_D at D's first query view.
  """
  per_factor = collections.OrderedDict()
  rows = []
  pictured = collections.Counter()
  for factor, scenes in quadruples:
    r = model.encode(scenes.frames[:, :context_views], scenes.cameras[:, :context_views])
    r_a, r_b, r_c, r_d = r[0:1], r[1:2], r[2:3], r[3:4]
    queries = scenes.cameras[3, context_views:]
    truth = scenes.frames[3, context_views:]
    count = len(queries)
    renders = collections.OrderedDict()
    for name, representation in (('algebra', r_a - r_b + r_c), ('render_r_a', r_a),
                                 ('render_r_c', r_c), ('render_r_d', r_d)):
      renders[name] = np.clip(model.render(np.repeat(representation, count, axis=0),
                                           queries), 0.0, 1.0)
    errors = per_factor.setdefault(factor, collections.OrderedDict(
        (name, []) for name in renders))
    for name, images in renders.items():
      errors[name].extend(np.mean(np.square(images - truth), axis=(1, 2, 3)).tolist())
    pictured[factor] += 1
    if pictured[factor] <= PICTURED_PER_FACTOR:
      rows.append([scenes.frames[0, context_views], scenes.frames[1, context_views],
                   scenes.frames[2, context_views], truth[0]]
                  + [images[0] for images in renders.values()])

  def summary(errors):
    return collections.OrderedDict(
        (name, collections.OrderedDict([
            ('mse', float(np.mean(values))),
            ('psnr', float(np.mean([view_metrics.psnr_from_mse(v) for v in values])))]))
        for name, values in errors.items())

  overall = collections.OrderedDict()
  for case, errors in per_factor.items():
    if case.endswith(scene_factors.IN_PLACE_SUFFIX):
      continue  # `overall` is the factors' own quadruples.
    for name, values in errors.items():
      overall.setdefault(name, []).extend(values)
  result = collections.OrderedDict([('overall', summary(overall))])
  result['per_factor'] = collections.OrderedDict(
      (factor, summary(errors)) for factor, errors in per_factor.items())
  mse = {name: value['mse'] for name, value in result['overall'].items()}
  result['algebra_beats_both'] = bool(
      mse['algebra'] < mse['render_r_a'] and mse['algebra'] < mse['render_r_c'])
  result['num_quadruples'] = len(quadruples)
  result['context_views'] = context_views
  result['grid_columns'] = ['A', 'B', 'C', 'D true', 'rA-rB+rC', 'r_A', 'r_C', 'r_D']
  return result, rows


def plot_algebra(path, rows, columns, config):
  """Writes the algebra grid: one row per quadruple, titled columns."""
  pictures.titled_grid(rows, columns, pictures.tile_scale(config)).save(path)


def render_quadruples(dataset, per_factor, image_size, seed=0):
  """Renders scene-algebra quadruples (A, B, C, D) for every case of `algebra_cases`.

  The four scenes of a quadruple are seen from the same cameras, drawn as the dataset's
  are; frames go through the dataset's JPEG coding and resizing, as the model saw them
  in training.

  Args:
    dataset: a synthetic dataset name.
    per_factor: quadruples per case.
    image_size: the model's frame side.
    seed: fixes the scenes and cameras.

  Returns:
    List of (case name, Scenes of [4, V, ...]): the factors' own quadruples first, so
    that the in-place ones drawn after them leave their random stream alone.
  """
  info = gqn_tfr_provider.dataset_info(dataset)
  rng = np.random.default_rng(seed)
  quadruples = []
  for name, factor, in_place in scene_factors.algebra_cases(dataset):
    for _ in range(per_factor):
      four = scene_factors.one_factor_variants(dataset, factor, rng, in_place)
      raw = scene_factors.sample_cameras(dataset, rng, info.sequence_size)
      jpegs = [[records.encode_jpeg(frame)
                for frame in scene_factors.render_views(dataset, scene, raw,
                                                        info.frame_size)[0]]
               for scene in four]
      raw = np.repeat(np.asarray(raw, np.float32)[None], 4, axis=0)
      quadruples.append((name, analysis_scenes.Scenes(
          analysis_scenes.decode_scenes(dataset, jpegs, image_size), raw,
          analysis_scenes.encode_poses(raw))))
  return quadruples


def algebra_table(result):
  """The algebra result as lines of text, for analyze_gqn.py's table."""
  rows = list(result['per_factor'].items()) + [('overall', result['overall'])]
  width = max(len(name) for name, _ in rows)
  lines = ['  %-*s' % (width, 'factor') + ''.join(' %16s' % n for n in result['overall'])]
  for factor, values in rows:
    lines.append('  %-*s' % (width, factor) + ''.join(
        ' %8.5f/%5.2fdB' % (v['mse'], v['psnr']) for v in values.values()))
  return lines

