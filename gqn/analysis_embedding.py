"""A 2-D embedding of single-view r for every view of a few scenes, coloured by scene.

Beside the same for a baseline (the pixels, or the GQN-VAE's r), with scores of how
well views group by scene in the full feature space.
"""

import collections

import numpy as np

from gqn import analysis_features
from gqn import figures


def pca(features, dimensions=2):
  """[N, D] -> [N, dimensions], the projection on the top principal components."""
  centred = features - features.mean(axis=0)
  _, _, rows = np.linalg.svd(centred, full_matrices=False)
  return centred @ rows[:dimensions].T


def grouping_scores(features, groups):
  """How well points group by `groups`, in the full feature space.

  Returns:
    OrderedDict: `nearest_neighbour_accuracy`, the fraction of points whose nearest
    other point (Euclidean, features standardised) is in the same group (chance is
    about 1 / number of groups); `within_to_between_variance`, the variance of points
    about their group's mean over the variance of the group means (lower: tighter
    groups).
  """
  features, _ = analysis_features.standardise(np.asarray(features, np.float64), features[:1])
  squares = np.sum(np.square(features), axis=1)
  distances = squares[:, None] + squares[None] - 2.0 * features @ features.T
  np.fill_diagonal(distances, np.inf)
  nearest = groups[np.argmin(distances, axis=1)]
  means = {g: features[groups == g].mean(axis=0) for g in np.unique(groups)}
  within = np.mean([np.sum(np.square(f - means[g])) for f, g in zip(features, groups)])
  overall = features.mean(axis=0)
  between = np.mean([np.sum(np.square(means[g] - overall)) for g in groups])
  return collections.OrderedDict([
      ('nearest_neighbour_accuracy', float(np.mean(nearest == groups))),
      ('within_to_between_variance', float(within / max(between, 1e-12)))])


def analyze_embedding(model, scenes, baseline=None, baseline_name='pixels'):
  """r of every single view of each scene, embedded in 2-D, against a baseline.

  Args:
    model: a GQNModel.
    scenes: Scenes, S scenes of V views: S * V points.
    baseline: None (the views' pixels), or a function (frames [N, 1, H, W, 3],
      cameras [N, 1, 7]) -> features [N, ...] (e.g. the GQN-VAE's r).
    baseline_name: the baseline's name in the result.

  Returns:
    dict: per feature set ('r' and the baseline's name) its `scores`
    (`grouping_scores`) and `points` ([S * V, 2] PCA coordinates), plus `scene`, the
    scene index of each point, and the counts.
  """
  num_scenes, num_views = scenes.frames.shape[:2]
  frames = scenes.frames.reshape((-1, 1) + scenes.frames.shape[2:])
  cameras = scenes.cameras.reshape(-1, 1, scenes.cameras.shape[-1])
  groups = np.repeat(np.arange(num_scenes), num_views)
  features = collections.OrderedDict([('r', model.encode(frames, cameras))])
  features[baseline_name] = frames if baseline is None else baseline(frames, cameras)
  result = collections.OrderedDict()
  for name, values in features.items():
    flat = np.asarray(values, np.float64).reshape(len(groups), -1)
    result[name] = collections.OrderedDict([
        ('scores', grouping_scores(flat, groups)),
        ('points', pca(flat).round(5).tolist())])
  result['scene'] = groups.tolist()
  result['num_scenes'] = int(num_scenes)
  result['views_per_scene'] = int(num_views)
  return result


def plot_embedding(path, result):
  """Writes embedding.png: the 2-D embeddings side by side, points coloured by scene."""
  names = [name for name, value in result.items() if isinstance(value, dict)]
  figure, axes = figures.panels(len(names), columns=len(names), title=(
      'PCA of single views: %d scenes x %d views' % (result['num_scenes'],
                                                     result['views_per_scene'])))
  groups = np.asarray(result['scene'])
  for chart, name in zip(axes, names):
    points = np.asarray(result[name]['points'])
    for group in np.unique(groups):
      colour, marker = figures.group_style(int(group))
      chart.scatter(points[groups == group, 0], points[groups == group, 1], s=14,
                    color=colour, marker=marker, label='scene %d' % group)
    figures.label(chart, '%s: 1-NN scene acc. %.2f' % (
        name, result[name]['scores']['nearest_neighbour_accuracy']), 'PC 1', 'PC 2')
  axes[-1].legend(loc='center left', bbox_to_anchor=(1.02, 0.5), fontsize='small')
  figures.save(figure, path)


def embedding_table(result):
  """The embedding result as lines of text, for analyze_gqn.py's table."""
  lines = ['  %-10s %14s %22s' % ('features', '1-NN scene acc', 'within/between var.')]
  for name, value in result.items():
    if isinstance(value, dict):
      scores = value['scores']
      lines.append('  %-10s %14.3f %22.3f' % (name, scores['nearest_neighbour_accuracy'],
                                             scores['within_to_between_variance']))
  return lines
