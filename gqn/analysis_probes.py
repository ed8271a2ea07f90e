"""Linear probes from r to each scene factor, beside the same probes on baselines.

Fitted on train scenes and scored on test scenes: r (averaged over space) of the trained
network, r of the same network at initialisation, and the pixels of one context view.
The targets are the ground-truth factors this project's renderer writes. The probes are
scikit-learn's: logistic regression for classes, ridge regression for real values, each
with its penalty chosen on the train scenes alone.
"""

import collections
import warnings

import numpy as np
from sklearn import dummy
from sklearn import exceptions
from sklearn import linear_model
from sklearn import metrics
from sklearn import model_selection

from data_provider.scenes import raycast
from gqn import analysis_features
from gqn import figures

# Ridge penalties, in units of trace(X X^T) / N (see `fit_regression`).
_PENALTIES = np.logspace(-4, 3, 15)
# Logistic regression's C, the inverse penalty, for standardised features.
_INVERSE_PENALTIES = np.logspace(-4, 1, 6)
_FOLDS = 5
_MAX_ITERATIONS = 1000


def probe_targets(factors):
  """The probes' targets from scene factors (rooms or Shepard-Metzler).

  Rooms: wall_colour, floor_colour (palette index), num_objects, object_shape (the
  first object's kind) as classes; object_position ([x, y]), object_colour (RGB),
  object_size (radius) of the first object as real values. Shepard-Metzler:
  first_step (the direction from the first cube to the second, one of 6) as a class;
  cube_colour (the first cube's RGB), colours (every cube's RGB), mean_colour (the
  cubes' mean RGB) and shape (every cube's offset) as real values. Only mean_colour
  names no cube by its place in the chain, which r, a sum over views of what they show,
  need not know (docs/experiments.md, section 20).

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
    rgb = np.array([[c['colour']['rgb'] for c in s['cubes']] for s in factors])
    targets['colours'] = ('real', rgb.reshape(len(factors), -1))
    targets['mean_colour'] = ('real', rgb.mean(axis=1))
    targets['shape'] = ('real', offsets.reshape(len(factors), -1).astype(np.float64))
  return targets


def fit_regression(features, targets):
  """Ridge regression with its penalty chosen by leave-one-out error (RidgeCV).

  Args:
    features: [N, D], best standardised (the penalty is the same on every feature).
    targets: [N, T].

  Returns:
    The fitted sklearn.linear_model.RidgeCV; its `alpha_` is the chosen penalty.
  """
  # Penalties in units of the mean squared norm of a centred example, trace(X X^T) / N,
  # so that one grid fits 64 pooled channels and 3072 pixels alike.
  centred = features - features.mean(axis=0)
  scale = max(float(np.mean(np.sum(np.square(centred), axis=1))), 1e-12)
  return linear_model.RidgeCV(alphas=_PENALTIES * scale).fit(features, targets)


def fit_classifier(features, labels):
  """Logistic regression (multinomial) with its C chosen by cross-validated accuracy.

  Args:
    features: [N, D], best standardised.
    labels: [N] ints.

  Returns:
    A fitted classifier with `predict`; the majority answer when the labels hold one
    class only (a factor that does not vary over the train scenes).
  """
  if len(np.unique(labels)) < 2:
    return dummy.DummyClassifier(strategy='most_frequent').fit(features, labels)
  # Shuffled folds, not stratified ones: a rare class (five objects in a room) may have
  # fewer examples than folds.
  folds = model_selection.KFold(min(_FOLDS, len(labels)), shuffle=True, random_state=0)
  search = model_selection.GridSearchCV(
      linear_model.LogisticRegression(max_iter=_MAX_ITERATIONS), {'C': _INVERSE_PENALTIES},
      cv=folds)
  with warnings.catch_warnings():
    # A weak penalty on separable data stops at the iteration cap; its cross-validated
    # accuracy still says whether to choose it.
    warnings.simplefilter('ignore', exceptions.ConvergenceWarning)
    return search.fit(features, labels)


def probe_scores(train_features, train_targets, test_features, test_targets):
  """Fits a linear probe per factor on train features, scores it on test features.

  Discrete factors (integer labels) get logistic regression (`fit_classifier`) scored
  by accuracy; continuous ones ridge regression (`fit_regression`) scored by R^2 (of
  every target dimension together, weighted by its variance).

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
      classes, counts = np.unique(train_y, return_counts=True)
      predicted = fit_classifier(train_x, train_y).predict(test_x)
      scores[name] = collections.OrderedDict([
          ('metric', 'accuracy'),
          ('score', float(metrics.accuracy_score(test_y, predicted))),
          ('chance', float(np.mean(test_y == classes[np.argmax(counts)])))])
    else:
      train_y = np.asarray(train_y, np.float64).reshape(len(train_y), -1)
      test_y = np.asarray(test_y, np.float64).reshape(len(test_y), -1)
      # RidgeCV predicts [M] for a single target column: back to [M, T].
      predicted = fit_regression(train_x, train_y).predict(test_x).reshape(test_y.shape)
      r2 = lambda prediction: float(metrics.r2_score(test_y, prediction,
                                                     multioutput='variance_weighted'))
      scores[name] = collections.OrderedDict([
          ('metric', 'r2'), ('score', r2(predicted)),
          ('chance', r2(np.broadcast_to(train_y.mean(axis=0), test_y.shape)))])
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
      ('method', 'classes: logistic regression, C by %d-fold cross-validated accuracy; '
                 'real values: ridge regression (RidgeCV), penalty by leave-one-out '
                 'error; features standardised on the train scenes' % _FOLDS)])


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
