"""2-D embeddings of single-view r for every view of a few scenes, coloured by scene.

PCA and t-SNE (scikit-learn's), beside the same for a baseline (the pixels, or the
GQN-VAE's r), with scores of how well views group by scene, in the full feature space
and in each embedding.
"""

import collections

import numpy as np
from sklearn import decomposition
from sklearn import manifold

from gqn import analysis_features
from gqn import figures

# The 2-D embeddings, by their key in the result and their name in the charts.
EMBEDDINGS = collections.OrderedDict([('pca', 'PCA'), ('tsne', 't-SNE')])
# Up to this many points t-SNE is exact (N^2 memory and time per iteration).
_EXACT_TSNE_POINTS = 2000


def pca(features):
  """[N, D] -> [N, 2], the projection on the top two principal components."""
  return decomposition.PCA(n_components=2, svd_solver='full').fit_transform(features)


def tsne_perplexity(num_points, views_per_scene):
  """t-SNE's perplexity for `num_points` views, `views_per_scene` of each scene.

  About one scene's views form a point's neighbourhood, capped at the usual 30 and kept
  below (N - 1) / 3 (hence below N, as scikit-learn requires) for the few points here.
  """
  return float(max(1.0, min(30.0, views_per_scene, (num_points - 1) / 3.0)))


def tsne(features, perplexity, seed=0):
  """[N, D] -> [N, 2] t-SNE coordinates (initialised by PCA, fixed `seed`).

  Exact gradients for the few hundred points of a usual embedding: numpy alone, where
  the Barnes-Hut approximation runs OpenMP threads that crawl on a busy machine.
  """
  method = 'exact' if len(features) <= _EXACT_TSNE_POINTS else 'barnes_hut'
  return manifold.TSNE(n_components=2, perplexity=perplexity, init='pca',
                       learning_rate='auto', method=method,
                       random_state=seed).fit_transform(features)


def grouping_scores(features, groups):
  """How well points group by `groups`: in the full feature space, or in an embedding.

  Args:
    features: [N, D] features or [N, 2] embedded points.
    groups: [N] ints, each point's group (its scene).

  Returns:
    OrderedDict: `nearest_neighbour_accuracy`, the fraction of points whose nearest
    other point (Euclidean, features standardised) is in the same group (chance is
    about 1 / number of groups); `within_to_between_variance`, the variance of points
    about their group's mean over the variance of the group means (lower: tighter
    groups).
  """
  features, _ = analysis_features.standardise(np.asarray(features, np.float64),
                                              features[:1])
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


def analyze_embedding(model, scenes, baseline=None, baseline_name='pixels', seed=0):
  """r of every single view of each scene, embedded in 2-D, against a baseline.

  Args:
    model: a GQNModel.
    scenes: Scenes, S scenes of V views: S * V points.
    baseline: None (the views' pixels), or a function (frames [N, 1, H, W, 3],
      cameras [N, 1, 7]) -> features [N, ...] (e.g. the GQN-VAE's r).
    baseline_name: the baseline's name in the result.
    seed: t-SNE's random state.

  Returns:
    dict: per feature set ('r' and the baseline's name) its `scores` in the full
    feature space (`grouping_scores`); per embedding in EMBEDDINGS (`pca`, `tsne`), per
    feature set its `points` ([S * V, 2] coordinates) and the `scores` of those points;
    `feature_sets`, the feature sets' names; `scene`, the scene index of each point;
    `tsne_perplexity` and the counts.
  """
  num_scenes, num_views = scenes.frames.shape[:2]
  frames = scenes.frames.reshape((-1, 1) + scenes.frames.shape[2:])
  cameras = scenes.cameras.reshape(-1, 1, scenes.cameras.shape[-1])
  groups = np.repeat(np.arange(num_scenes), num_views)
  perplexity = tsne_perplexity(len(groups), num_views)
  features = collections.OrderedDict([('r', model.encode(frames, cameras))])
  features[baseline_name] = frames if baseline is None else baseline(frames, cameras)
  result = collections.OrderedDict()
  embedded = collections.OrderedDict((method, collections.OrderedDict())
                                     for method in EMBEDDINGS)
  for name, values in features.items():
    flat = np.asarray(values, np.float64).reshape(len(groups), -1)
    points = {'pca': pca(flat), 'tsne': tsne(flat, perplexity, seed)}
    for method in EMBEDDINGS:
      embedded[method][name] = collections.OrderedDict([
          ('points', points[method].round(5).tolist()),
          ('scores', grouping_scores(points[method], groups))])
    result[name] = collections.OrderedDict([('scores', grouping_scores(flat, groups))])
  result.update(embedded)
  result['feature_sets'] = list(features)
  result['scene'] = groups.tolist()
  result['num_scenes'] = int(num_scenes)
  result['views_per_scene'] = int(num_views)
  result['tsne_perplexity'] = perplexity
  return result


def plot_embedding(path, result):
  """Writes embedding.png: a row per feature set, PCA and t-SNE side by side."""
  names = result['feature_sets']
  figure, axes = figures.panels(len(names) * len(EMBEDDINGS), columns=len(EMBEDDINGS),
                                title='Single views of %d scenes x %d views' % (
                                    result['num_scenes'], result['views_per_scene']))
  groups = np.asarray(result['scene'])
  panels = iter(axes)
  for name in names:
    for method, method_name in EMBEDDINGS.items():
      chart = next(panels)
      entry = result[method][name]
      points = np.asarray(entry['points'])
      for group in np.unique(groups):
        colour, marker = figures.group_style(int(group))
        chart.scatter(points[groups == group, 0], points[groups == group, 1], s=14,
                      color=colour, marker=marker, label='scene %d' % group)
      figures.label(chart, '%s, %s: 1-NN scene acc. %.2f' % (
          name, method_name, entry['scores']['nearest_neighbour_accuracy']),
                    '%s 1' % method_name, '%s 2' % method_name)
  axes[len(EMBEDDINGS) - 1].legend(loc='upper left', bbox_to_anchor=(1.02, 1.0),
                                   fontsize='small')
  figures.save(figure, path)


def embedding_table(result):
  """The embedding result as lines of text, for analyze_gqn.py's table."""
  lines = ['  %-10s %16s %20s %16s %16s' % (
      'features', '1-NN scene acc', 'within/between var', '1-NN in 2-D PCA',
      '1-NN in t-SNE')]
  for name in result['feature_sets']:
    scores = result[name]['scores']
    lines.append('  %-10s %16.3f %20.3f %16.3f %16.3f' % (
        name, scores['nearest_neighbour_accuracy'], scores['within_to_between_variance'],
        result['pca'][name]['scores']['nearest_neighbour_accuracy'],
        result['tsne'][name]['scores']['nearest_neighbour_accuracy']))
  return lines
