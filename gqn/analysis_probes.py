"""Linear probes from r to each scene factor, beside the same probes on baselines.

Fitted on train scenes and scored on test scenes: r (averaged over space) of the trained
network, r of the same network at initialisation, and the pixels of one context view.
The targets are the ground-truth factors this project's renderer writes.
"""

import collections

import numpy as np

from data_provider.scenes import raycast
from gqn import analysis_features
from gqn import figures


def probe_targets(factors):
  """The probes' targets from scene factors (rooms or Shepard-Metzler).

  Rooms: wall_colour, floor_colour (palette index), num_objects, object_shape (the
  first object's kind) as classes; object_position ([x, y]), object_colour (RGB),
  object_size (radius) of the first object as real values. Shepard-Metzler:
  first_step (the direction from the first cube to the second, one of 6) as a class;
  cube_colour (the first cube's RGB), colours (every cube's RGB) and shape (every
  cube's offset) as real values.

  Args:
    factors: list of N factors dicts of one dataset (data_provider.scenes.factors).

  Returns:
    OrderedDict name -> (kind 'class' or 'real', values [N] ints or [N, T] floats).
  """
  targets = collections.OrderedDict()
  if 'wall_colour' in factors[0]:
    first = [scene['objects'][0] for scene in factors]
    targets['wall_colour'] = ('class', np.array([s['wall_colour']['index'] for s in factors]))
    targets['floor_colour'] = ('class',
                               np.array([s['floor_colour']['index'] for s in factors]))
    targets['num_objects'] = ('class', np.array([s['num_objects'] for s in factors]))
    targets['object_shape'] = ('class', np.array(
        [raycast.SHAPE_KINDS.index(o['shape']) for o in first]))
    targets['object_position'] = ('real', np.array([o['position'][:2] for o in first]))
    targets['object_colour'] = ('real', np.array([o['colour']['rgb'] for o in first]))
    targets['object_size'] = ('real', np.array([[o['radius']] for o in first]))
  else:
    offsets = np.array([[cube['offset'] for cube in s['cubes']] for s in factors])
    step = offsets[:, 1] - offsets[:, 0]  # [N, 3], a unit step along one axis
    targets['first_step'] = ('class', np.argmax(np.abs(step), axis=1) * 2
                             + (step.sum(axis=1) < 0))
    targets['cube_colour'] = ('real', np.array([s['cubes'][0]['colour']['rgb']
                                                for s in factors]))
    targets['colours'] = ('real', np.array([[c['colour']['rgb'] for c in s['cubes']]
                                            for s in factors]).reshape(len(factors), -1))
    targets['shape'] = ('real', offsets.reshape(len(factors), -1).astype(np.float64))
  return targets


def ridge_fit(features, targets, penalties=(1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)):
  """Ridge regression with its penalty chosen by leave-one-out error, in closed form.

  Solved in the dual (N x N kernel), which is cheap when features outnumber examples
  (pixels). The leave-one-out residual of example i is e_i / (1 - H_ii), H the hat
  matrix, so every penalty is scored without refitting.

  Args:
    features: [N, D], best standardised (the penalty is the same on every feature).
    targets: [N, T].
    penalties: the candidate penalties, in units of the kernel's mean eigenvalue
      trace(X X^T) / N, so that one grid fits 64 pooled channels and 3072 pixels alike.

  Returns:
    (predict: function [M, D] -> [M, T], the chosen penalty lambda).
  """
  # Centring both sides gives the unpenalised intercept.
  feature_mean, mean = features.mean(axis=0), targets.mean(axis=0)
  features = features - feature_mean
  centred = targets - mean
  kernel = features @ features.T
  values, vectors = np.linalg.eigh(kernel)
  values = np.maximum(values, 0.0)
  projected = vectors.T @ centred
  scale = max(np.mean(values), 1e-12)
  best = None
  for penalty in np.asarray(penalties) * scale:
    # Residuals and 1 - H_ii from the eigenvalues' complement p / (lambda + p), not as
    # differences: with more features than examples both are tiny, and differences
    # would leave only rounding error. The intercept adds 1 / N to H_ii.
    keep = penalty / (values + penalty)
    residuals = vectors @ (keep[:, None] * projected)
    one_minus_hat = np.einsum('ij,j,ij->i', vectors, keep, vectors) - 1.0 / len(features)
    loo = residuals / np.maximum(one_minus_hat, 1e-12)[:, None]
    error = np.mean(np.square(loo))
    if best is None or error < best[0]:
      best = (error, penalty)
  penalty = best[1]
  dual = vectors @ (projected / (values + penalty)[:, None])  # [N, T]
  weights = features.T @ dual  # [D, T]
  return (lambda new: (new - feature_mean) @ weights + mean), penalty


def probe_scores(train_features, train_targets, test_features, test_targets):
  """Fits a linear probe per factor on train features, scores it on test features.

  Discrete factors (integer labels) get a ridge classifier (ridge regression to one-hot
  labels, argmax) scored by accuracy; continuous ones ridge regression scored by R^2.

  Args:
    train_features, test_features: [N, D] and [M, D].
    train_targets, test_targets: dict factor -> (kind 'class' or 'real', values [N] int
      or [N, T] float).

  Returns:
    OrderedDict factor -> {'metric', 'score', 'chance'}: chance is the accuracy of always
    answering the most common train class, or the R^2 of the train mean (about 0).
  """
  train_x, test_x = analysis_features.standardise(np.asarray(train_features, np.float64),
                                 np.asarray(test_features, np.float64))
  scores = collections.OrderedDict()
  for name, (kind, train_y) in train_targets.items():
    test_y = test_targets[name][1]
    if kind == 'class':
      classes = np.unique(train_y)
      one_hot = (np.asarray(train_y)[:, None] == classes[None]).astype(np.float64)
      predict, _ = ridge_fit(train_x, one_hot)
      predicted = classes[np.argmax(predict(test_x), axis=1)]
      majority = classes[np.argmax(one_hot.sum(axis=0))]
      scores[name] = collections.OrderedDict([
          ('metric', 'accuracy'), ('score', float(np.mean(predicted == test_y))),
          ('chance', float(np.mean(test_y == majority)))])
    else:
      train_y = np.asarray(train_y, np.float64).reshape(len(train_y), -1)
      test_y = np.asarray(test_y, np.float64).reshape(len(test_y), -1)
      predict, _ = ridge_fit(train_x, train_y)
      total = np.sum(np.square(test_y - test_y.mean(axis=0)))
      r2 = lambda prediction: 1.0 - np.sum(np.square(test_y - prediction)) / max(total, 1e-12)
      scores[name] = collections.OrderedDict([
          ('metric', 'r2'), ('score', float(r2(predict(test_x)))),
          ('chance', float(r2(np.broadcast_to(train_y.mean(axis=0), test_y.shape))))])
  return scores


def analyze_probes(model, initial_model, train_scenes, test_scenes, train_targets,
                   test_targets, context_views, progress=None):
  """Linear probes from r to each scene factor, against two baselines.

  Features: `r_trained`, r of the first `context_views` views from the trained model,
  averaged over space; `r_initial`, the same from the same network at initialisation;
  `pixels`, the first view's pixels.

  Args:
    model, initial_model: GQNModels (trained; fresh variables with the same seed).
    train_scenes, test_scenes: Scenes; probes are fitted on the first, scored on the
      second.
    train_targets, test_targets: dict factor -> (kind, values), see `probe_scores`.
    context_views: K, the views r is computed from.
    progress: optional function(str).

  Returns:
    dict: `features` -> factor -> {'metric', 'score', 'chance'}, plus `context_views`,
    `num_train_scenes`, `num_test_scenes` and `method`.
  """
  def features(scenes):
    frames, cameras = scenes.frames[:, :context_views], scenes.cameras[:, :context_views]
    return collections.OrderedDict([
        ('r_trained', analysis_features.pooled(model.encode(frames, cameras))),
        ('r_initial', analysis_features.pooled(initial_model.encode(frames, cameras))),
        ('pixels', scenes.frames[:, 0].reshape(len(scenes.frames), -1))])

  train_features, test_features = features(train_scenes), features(test_scenes)
  result = collections.OrderedDict()
  for name in train_features:
    result[name] = probe_scores(train_features[name], train_targets,
                                test_features[name], test_targets)
    if progress:
      progress('  %-9s %s' % (name, ', '.join(
          '%s %.3f' % (factor, s['score']) for factor, s in result[name].items())))
  return collections.OrderedDict([
      ('features', result), ('context_views', context_views),
      ('num_train_scenes', len(train_scenes.frames)),
      ('num_test_scenes', len(test_scenes.frames)),
      ('method', 'ridge regression (classes: to one-hot, argmax), penalty by '
                 'leave-one-out error; features standardised on the train scenes')])


def plot_probes(path, result):
  """Writes probes.png: per factor, the test score of each feature set; dashed: chance."""
  features = result['features']
  names = list(features)
  factors = list(features[names[0]].items())
  figure, axes = figures.panels(len(factors), columns=4, title=(
      'Linear probes: %d train, %d test scenes' % (result['num_train_scenes'],
                                                    result['num_test_scenes'])),
                                panel_inches=(3.6, 3.2))
  for chart, (factor, first) in zip(axes, factors):
    positions = list(range(len(names)))
    chart.bar(positions, [features[name][factor]['score'] for name in names],
              color=[figures.group_style(i)[0] for i in positions])
    chart.axhline(0.0, color='grey', linewidth=0.8)
    chart.axhline(first['chance'], color='black', linestyle='--', label='chance')
    figures.label(chart, factor, '', 'accuracy' if first['metric'] == 'accuracy'
                  else 'R$^2$ (1 = perfect)')
    chart.set_xticks(positions)
    chart.set_xticklabels(names, fontsize='small')
    chart.legend(loc='best', fontsize='small')
  figures.save(figure, path)


def probes_table(result):
  """The probes result as lines of text, for analyze_gqn.py's table."""
  names = list(result['features'])
  factors = result['features'][names[0]]
  lines = ['  %-16s %-8s' % ('factor', 'metric') + ''.join(' %10s' % n for n in names)
           + ' %10s' % 'chance']
  for factor, first in factors.items():
    lines.append('  %-16s %-8s' % (factor, first['metric'])
                 + ''.join(' %10.3f' % result['features'][n][factor]['score'] for n in names)
                 + ' %10.3f' % first['chance'])
  return lines
