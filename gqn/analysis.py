"""What a trained GQN's representation knows: views, probes, embedding and scene algebra.

Four analyses of a checkpoint on a rendered dataset, after the claims of Eslami et al.
(2018), each returning a JSON-ready dict and writing one PNG:

  views      uncertainty against the number of context views K = 0 (prior only) ... the
             dataset's maximum: bits/dim, KL, PSNR of the mean render, best-of-N MSE and
             the spread of prior samples, on the same query of the same test scenes.
  probes     linear probes from r (averaged over space) to each scene factor, fitted on
             train scenes and scored on test scenes, beside the same probes on the pixels
             of one context view and on r of the same network at initialisation.
  embedding  a 2-D PCA of r for every single view of a few scenes, coloured by scene,
             beside the same for the pixels (or the GQN-VAE's r), with scores of how well
             views group by scene.
  algebra    r_A - r_B + r_C rendered from D's cameras, for quadruples of scenes where D
             is A with the factor that differs between B and C changed; scored against
             D's true views and against rendering r_A or r_C alone.

The model is the one of gqn_graph.gqn_draw, built once; an arbitrary r (a sum of
representations, or 0 for K = 0) is rendered by feeding it in place of the encoder's
output, so no part of the network is rebuilt here. Everything else is numpy.
"""

import collections
import json
import math
import os

import numpy as np
import tensorflow.compat.v1 as tf

from data_provider import camera
from data_provider import gqn_tfr_provider
from data_provider import records
from data_provider.scenes import factors as scene_factors
from data_provider.scenes import raycast
from gqn import charts
from gqn import checkpoints
from gqn import gqn_encoder
from gqn import gqn_graph
from gqn import gqn_objective
from gqn import model_dir as model_dir_lib
from gqn import pictures
from gqn import schedules

ANALYSES = ('views', 'probes', 'embedding', 'algebra')
# Examples per session run: small, since the machines running this are often shared.
_BATCH = 16

# Every view of some scenes of a split, in record order: frames [S, V, H, W, 3] float32
# in [0, 1] at the model's size, raw_cameras [S, V, 5] ([x, y, z, yaw, pitch]) and
# cameras [S, V, 7] (the model's encoding).
Scenes = collections.namedtuple('Scenes', ['frames', 'raw_cameras', 'cameras'])


def decode_scenes(dataset, jpegs, image_size):
  """Decodes the JPEG frames of scenes by the input pipeline's own decode and resize.

  Args:
    dataset: the dataset name (its stored frame size).
    jpegs: S lists of V encoded frames (bytes) each.
    image_size: the model's frame side.

  Returns:
    [S, V, image_size, image_size, 3] float32 in [0, 1], the pixels a batch of
    data_provider.gqn_tfr_provider.gqn_dataset holds.
  """
  frame_size = gqn_tfr_provider.dataset_info(dataset).frame_size
  num_views = len(jpegs[0])
  with tf.Graph().as_default(), tf.Session() as session:
    encoded = tf.placeholder(tf.string, [num_views], 'jpegs')
    frames = gqn_tfr_provider.decode_frames(encoded, num_views, frame_size,
                                            (image_size, image_size))
    return np.stack([session.run(frames, {encoded: scene}) for scene in jpegs])


def read_scenes(data_dir, dataset, split, max_scenes, image_size):
  """Reads the first `max_scenes` scenes of a split, every view, in record order.

  Record order is the order of the split's files and of the records in each, the order
  of the factors the renderer writes beside them.

  Args:
    data_dir: root of the datasets (holds `<dataset>/<split>/*.tfrecord`).
    dataset: a dataset name of data_provider.gqn_tfr_provider.
    split: 'train' or 'test'.
    max_scenes: how many scenes to read (fewer when the split holds fewer).
    image_size: the model's frame side; stored frames are decoded and resized to it as
      the input pipeline does (`decode_scenes`).

  Returns:
    Scenes.

  Raises:
    FileNotFoundError: the split has no scenes there.
  """
  jpegs, raw = [], []
  for path in gqn_tfr_provider.dataset_files(dataset, data_dir, split):
    if len(jpegs) >= max_scenes:
      break
    if not tf.io.gfile.exists(path):
      continue
    for serialized in tf.io.tf_record_iterator(path):
      scene_jpegs, cameras = records.parse_scene(serialized)
      jpegs.append(scene_jpegs)
      raw.append(cameras)
      if len(jpegs) >= max_scenes:
        break
  if not jpegs:
    raise FileNotFoundError(
        'No %s scenes of %s under %s; render or download the dataset there first '
        '(layout <data_dir>/<dataset>/<train|test>/<i>-of-<n>.tfrecord).'
        % (split, dataset, data_dir))
  raw = np.stack(raw).astype(np.float32)
  return Scenes(decode_scenes(dataset, jpegs, image_size), raw, encode_poses(raw))


def encode_poses(raw_cameras):
  """[..., 5] raw cameras -> [..., 7] model cameras, through data_provider.camera."""
  with tf.Graph().as_default(), tf.Session() as session:
    return session.run(camera.encode_pose(raw_cameras))


class GQNModel(object):
  """One GQN graph in its own session, from a checkpoint or freshly initialised.

  r is read off the encoder and may be fed back in: the renderer and the posterior then
  take the fed r, whatever the context (r = 0 is the prior with no context, K = 0).
  """

  def __init__(self, config, checkpoint=None, seed=0):
    """Builds the graph and restores `checkpoint` (None: initialise with `seed`).

    Raises:
      checkpoints.CheckpointMismatchError: the checkpoint does not fit the config.
    """
    self.config = config
    image = [config.IMG_HEIGHT, config.IMG_WIDTH, config.IMG_CHANNELS]
    self.graph = tf.Graph()
    with self.graph.as_default():
      tf.set_random_seed(seed)
      self._frames = tf.placeholder(tf.float32, [None, None] + image, 'context_frames')
      self._cameras = tf.placeholder(tf.float32, [None, None, config.POSE_CHANNELS],
                                     'context_cameras')
      self._query = tf.placeholder(tf.float32, [None, config.POSE_CHANNELS], 'query_camera')
      self._target = tf.placeholder(tf.float32, [None] + image, 'target_frame')
      outputs = gqn_graph.gqn_draw(self._query, self._frames, self._cameras, config,
                                   target_frame=self._target, generate=True)
      # The r the DRAW unroll reads: the encoder's sum before the pool encoder's 1 x 1 r
      # is tiled for GQNOutputs.
      self._representation = outputs.representation
      if config.ENC_TYPE == 'pool':
        self._representation = outputs.representation.op.inputs[0]
      self._generation = outputs.generation
      step = checkpoints.global_step(checkpoint) if checkpoint else 0
      sigma = schedules.pixel_sigma(step, config)
      posterior = outputs.posterior
      self._elbo = gqn_objective.gqn_draw_elbo(self._target, posterior.mu_target, sigma,
                                               posterior.steps.posteriors,
                                               posterior.steps.priors)
      variables = tf.global_variables()
      initialise = tf.variables_initializer(variables)
      saver = tf.train.Saver(variables) if checkpoint else None
      self.graph.finalize()
    self.session = tf.Session(graph=self.graph, config=tf.ConfigProto(
        intra_op_parallelism_threads=2, inter_op_parallelism_threads=2))
    # Inside the graph: outside it TensorFlow 2 runs eagerly and Saver refuses.
    with self.graph.as_default():
      if checkpoint:
        checkpoints.check_compatible(checkpoint, config, variables)
        saver.restore(self.session, checkpoint)
      else:
        self.session.run(initialise)

  def close(self):
    self.session.close()

  def zero_representation(self, batch):
    """r = 0 (no context) for `batch` scenes, [B, h, w, C] as the encoder shapes it."""
    shape = self._representation.shape.as_list()[1:]
    return np.zeros([batch] + shape, np.float32)

  def encode(self, frames, cameras):
    """r = sum_k f(x^k, v^k) of K >= 1 views per scene.

    Args:
      frames: [B, K, H, W, 3] context views in [0, 1].
      cameras: [B, K, 7] their cameras.

    Returns:
      r, [B, h, w, C] ([B, 1, 1, C] for the pool encoder).
    """
    return np.concatenate([
        self.session.run(self._representation, {
            self._frames: frames[start:start + _BATCH],
            self._cameras: cameras[start:start + _BATCH]})
        for start in range(0, len(frames), _BATCH)])

  def render(self, representation, query, mean=True):
    """Renders r from the query cameras.

    Args:
      representation: [B, h, w, C] r (from `encode`, a sum of them, or zeros).
      query: [B, 7] query cameras.
      mean: z_l = mu_l (the mean render) when true; z_l ~ pi_l otherwise (a sample).

    Returns:
      [B, H, W, 3] image means, not clipped.
    """
    images = []
    for start in range(0, len(query), _BATCH):
      feed = {self._representation: representation[start:start + _BATCH],
              self._query: query[start:start + _BATCH]}
      if mean:
        for noise in self._generation.steps.noise:
          shape = [len(feed[self._query])] + noise.shape.as_list()[1:]
          feed[noise] = np.zeros(shape, noise.dtype.as_numpy_dtype)
      images.append(self.session.run(self._generation.mu_target, feed))
    return np.concatenate(images)

  def elbo(self, representation, query, target):
    """(-ELBO, KL) in nats per image, averaged over the examples (posterior path)."""
    totals = np.zeros(2)
    for start in range(0, len(query), _BATCH):
      end = min(start + _BATCH, len(query))
      elbo = self.session.run(self._elbo, {
          self._representation: representation[start:end], self._query: query[start:end],
          self._target: target[start:end]})
      totals += (end - start) * np.array([elbo.elbo, elbo.kl])
    return totals / len(query)


def pooled(representation):
  """[N, h, w, C] r -> [N, C], its mean over space (the probes' features)."""
  return representation.mean(axis=(1, 2))


# ---------------------------------------------------------------------------- views


def _psnr(mse):
  return 10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))


def analyze_views(model, scenes, max_views, num_samples=8, progress=None):
  """Uncertainty against the number of context views K = 0 ... `max_views`.

  Every scene is queried from its last view; the context is its first K views, so K
  grows by adding views and the query stays the same. K = 0 renders from r = 0.

  Args:
    model: a GQNModel.
    scenes: Scenes with at least max_views + 1 views.
    max_views: the largest K (the dataset's views per scene minus the query).
    num_samples: N, prior samples per scene for best-of-N MSE and the spread.
    progress: optional function(str) told each K's line.

  Returns:
    dict: `K` (list), one list per metric over K (`bits_per_dim`, `kl_nats`,
    `mean_render_psnr`, `mean_render_mse`, `best_of_n_mse`, `sample_spread`), the
    counts (`num_scenes`, `num_samples`) and `falls_with_views`, per metric whether it is
    lower at the largest K than at K = 0 (PSNR: higher).
  """
  frames, cameras = scenes.frames, scenes.cameras
  query, target = cameras[:, max_views], frames[:, max_views]
  num_scenes = len(frames)
  pixels = float(np.prod(target.shape[1:]))
  metrics = collections.OrderedDict((name, []) for name in (
      'bits_per_dim', 'kl_nats', 'mean_render_psnr', 'mean_render_mse', 'best_of_n_mse',
      'sample_spread'))
  for views in range(max_views + 1):
    if views == 0:
      r = model.zero_representation(num_scenes)
    else:
      r = model.encode(frames[:, :views], cameras[:, :views])
    elbo, kl = model.elbo(r, query, target)
    mean_mse = np.mean(np.square(np.clip(model.render(r, query), 0.0, 1.0) - target),
                       axis=(1, 2, 3))
    # N samples of every scene in one batch: scene i's samples at i, i + S, i + 2S, ...
    samples = np.clip(model.render(np.concatenate([r] * num_samples),
                                   np.concatenate([query] * num_samples), mean=False),
                      0.0, 1.0).reshape((num_samples,) + target.shape)
    sample_mse = np.mean(np.square(samples - target), axis=(2, 3, 4))  # [N, S]
    values = dict(
        bits_per_dim=(elbo + pixels * math.log(256.0)) / (pixels * math.log(2.0)),
        kl_nats=kl, mean_render_psnr=np.mean(_psnr(mean_mse)),
        mean_render_mse=np.mean(mean_mse), best_of_n_mse=np.mean(sample_mse.min(axis=0)),
        sample_spread=np.mean(samples.std(axis=0)))
    for name in metrics:
      metrics[name].append(float(values[name]))
    if progress:
      progress('  K=%d: %.4f bits/dim, KL %.2f nats, PSNR %.2f dB, best-of-%d MSE %.5f, '
               'spread %.4f' % (views, values['bits_per_dim'], kl,
                                values['mean_render_psnr'], num_samples,
                                values['best_of_n_mse'], values['sample_spread']))
  result = collections.OrderedDict([('K', list(range(max_views + 1)))])
  result.update(metrics)
  result['num_scenes'] = num_scenes
  result['num_samples'] = num_samples
  result['falls_with_views'] = collections.OrderedDict(
      (name, bool(values[-1] > values[0]) if name == 'mean_render_psnr'
       else bool(values[-1] < values[0])) for name, values in metrics.items())
  return result


def plot_views(path, result):
  """Writes the views metrics against K, one chart per metric."""
  panels = [(title, [(title, result[name])]) for name, title in (
      ('bits_per_dim', 'bits/dim'), ('kl_nats', 'KL (nats)'),
      ('mean_render_psnr', 'PSNR of mean render (dB)'),
      ('best_of_n_mse', 'best-of-%d MSE' % result['num_samples']),
      ('sample_spread', 'sample spread (pixel std)'))]
  charts.line_panels(path, result['K'], panels, 'context views K')


# --------------------------------------------------------------------------- probes


def _standardise(train, test):
  """Both sets centred and scaled by the train set's per-feature mean and deviation.

  Deviations are floored at 1% of their mean: a feature nearly constant on the train
  set (a pixel of sky, a dead ReLU channel) would otherwise be blown up to dominate the
  test set.
  """
  mean, std = train.mean(axis=0), train.std(axis=0)
  std = np.maximum(std, 1e-2 * np.mean(std) + 1e-12)
  return (train - mean) / std, (test - mean) / std


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
  train_x, test_x = _standardise(np.asarray(train_features, np.float64),
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
        ('r_trained', pooled(model.encode(frames, cameras))),
        ('r_initial', pooled(initial_model.encode(frames, cameras))),
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
  """Writes one bar chart per factor: the score of each feature set; dashed: chance."""
  features = result['features']
  names = list(features)
  charts.bar_panels(path, [
      ('%s (%s)' % (factor, first['metric']),
       [(name, features[name][factor]['score']) for name in names], first['chance'])
      for factor, first in features[names[0]].items()])


# ------------------------------------------------------------------------ embedding


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
  features, _ = _standardise(np.asarray(features, np.float64), features[:1])
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
  """Writes the 2-D embeddings side by side, points coloured by scene."""
  names = [name for name, value in result.items() if isinstance(value, dict)]
  charts.scatter_panels(path, [
      ('%s: 1-NN scene acc. %.2f' % (name, result[name]['scores']['nearest_neighbour_accuracy']),
       result[name]['points'], result['scene']) for name in names])


def vae_representation(config, checkpoint):
  """A function (frames, cameras) -> r of the GQN-VAE at `checkpoint`, for embeddings.

  r comes from the GQN-VAE's tower encoder (scope `GQN-VAE`), restored from the
  checkpoint alone.
  """
  graph = tf.Graph()
  image = [config.IMG_HEIGHT, config.IMG_WIDTH, config.IMG_CHANNELS]
  with graph.as_default():
    frames = tf.placeholder(tf.float32, [None, None] + image)
    cameras = tf.placeholder(tf.float32, [None, None, config.POSE_CHANNELS])
    with tf.variable_scope('GQN-VAE', reuse=tf.AUTO_REUSE):
      representation = gqn_encoder.encode_scene(frames, cameras, 'tower',
                                                config.ENC_CHANNELS)
    saver = tf.train.Saver(tf.global_variables())
  session = tf.Session(graph=graph)
  with graph.as_default():
    saver.restore(session, checkpoint)

  def encode(view_frames, view_cameras):
    return np.concatenate([
        session.run(representation, {frames: view_frames[start:start + _BATCH],
                                     cameras: view_cameras[start:start + _BATCH]})
        for start in range(0, len(view_frames), _BATCH)])
  return encode


# -------------------------------------------------------------------------- algebra


def analyze_algebra(model, quadruples, context_views):
  """Scene algebra: render r_A - r_B + r_C from D's cameras and compare with D.

  Args:
    model: a GQNModel.
    quadruples: list of (changed factor name, Scenes of the 4 scenes A, B, C, D, each
      seen from the same V cameras).
    context_views: K, the views of each scene that form its r; the remaining views of D
      are the queries.

  Returns:
    (dict, grid rows): the dict holds, per prediction (`algebra`, `render_r_a`,
    `render_r_c`), its MSE and PSNR against D's true query views averaged over every
    quadruple and query, per changed factor and overall, plus the counts and
    `algebra_beats_both`; the grid rows are per quadruple A, B, C, D true, algebra,
    r_A, r_C at D's first query view.
  """
  per_factor = collections.OrderedDict()
  rows = []
  for factor, scenes in quadruples:
    r = model.encode(scenes.frames[:, :context_views], scenes.cameras[:, :context_views])
    r_a, r_b, r_c = r[0:1], r[1:2], r[2:3]
    queries = scenes.cameras[3, context_views:]
    truth = scenes.frames[3, context_views:]
    count = len(queries)
    renders = collections.OrderedDict()
    for name, representation in (('algebra', r_a - r_b + r_c), ('render_r_a', r_a),
                                 ('render_r_c', r_c)):
      renders[name] = np.clip(model.render(np.repeat(representation, count, axis=0),
                                           queries), 0.0, 1.0)
    errors = per_factor.setdefault(factor, collections.OrderedDict(
        (name, []) for name in renders))
    for name, images in renders.items():
      errors[name].extend(np.mean(np.square(images - truth), axis=(1, 2, 3)).tolist())
    rows.append([scenes.frames[0, context_views], scenes.frames[1, context_views],
                 scenes.frames[2, context_views], truth[0]]
                + [images[0] for images in renders.values()])

  def summary(errors):
    return collections.OrderedDict(
        (name, collections.OrderedDict([('mse', float(np.mean(values))),
                                        ('psnr', float(np.mean(_psnr(np.array(values)))))]))
        for name, values in errors.items())

  overall = collections.OrderedDict()
  for errors in per_factor.values():
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
  result['grid_columns'] = ['A', 'B', 'C', 'D true', 'rA-rB+rC', 'r_A', 'r_C']
  return result, rows


def plot_algebra(path, rows, columns, config):
  """Writes the algebra grid: one row per quadruple, titled columns."""
  scale = pictures.tile_scale(config)
  grid = pictures.grid(rows, scale)
  charts.column_labels(grid, columns, config.IMG_WIDTH * scale + 2, gap=0).save(path)


# ----------------------------------------------------------------- ground truth


def read_factors(data_dir, dataset, split, num_scenes):
  """The factors of the first `num_scenes` scenes of a split, in record order.

  Raises:
    FileNotFoundError: the split has no factors sidecars (not rendered by this
      project's renderer, or rendered before it wrote them); the message says what to do.
  """
  split_dir = os.path.dirname(gqn_tfr_provider.dataset_files(dataset, data_dir, split)[0])
  return scene_factors.read_scene_factors(split_dir)[:num_scenes]


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


def render_quadruples(dataset, per_factor, image_size, seed=0):
  """Renders scene-algebra quadruples (A, B, C, D) for every factor the dataset varies.

  The four scenes of a quadruple are seen from the same cameras, drawn as the dataset's
  are; frames go through the dataset's JPEG coding and resizing, as the model saw them
  in training.

  Args:
    dataset: a synthetic dataset name.
    per_factor: quadruples per factor.
    image_size: the model's frame side.
    seed: fixes the scenes and cameras.

  Returns:
    List of (factor name, Scenes of [4, V, ...]).
  """
  info = gqn_tfr_provider.dataset_info(dataset)
  rng = np.random.default_rng(seed)
  quadruples = []
  for factor in scene_factors.factor_names(dataset):
    for _ in range(per_factor):
      four = scene_factors.one_factor_variants(dataset, factor, rng)
      raw = scene_factors.sample_cameras(dataset, rng, info.sequence_size)
      jpegs = [[records.encode_jpeg(frame)
                for frame in scene_factors.render_views(dataset, scene, raw,
                                                        info.frame_size)[0]]
               for scene in four]
      raw = np.repeat(np.asarray(raw, np.float32)[None], 4, axis=0)
      quadruples.append((factor, Scenes(decode_scenes(dataset, jpegs, image_size), raw,
                                        encode_poses(raw))))
  return quadruples


# ------------------------------------------------------------------------- runs


def _views_table(result):
  lines = ['  %3s %9s %9s %9s %11s %9s' % ('K', 'bits/dim', 'KL nats', 'PSNR dB',
                                           'best-of-%d' % result['num_samples'], 'spread')]
  for i, views in enumerate(result['K']):
    lines.append('  %3d %9.4f %9.2f %9.2f %11.5f %9.4f' % (
        views, result['bits_per_dim'][i], result['kl_nats'][i],
        result['mean_render_psnr'][i], result['best_of_n_mse'][i],
        result['sample_spread'][i]))
  return lines


def _probes_table(result):
  names = list(result['features'])
  factors = result['features'][names[0]]
  lines = ['  %-16s %-8s' % ('factor', 'metric') + ''.join(' %10s' % n for n in names)
           + ' %10s' % 'chance']
  for factor, first in factors.items():
    lines.append('  %-16s %-8s' % (factor, first['metric'])
                 + ''.join(' %10.3f' % result['features'][n][factor]['score'] for n in names)
                 + ' %10.3f' % first['chance'])
  return lines


def _embedding_table(result):
  lines = ['  %-10s %14s %22s' % ('features', '1-NN scene acc', 'within/between var.')]
  for name, value in result.items():
    if isinstance(value, dict):
      scores = value['scores']
      lines.append('  %-10s %14.3f %22.3f' % (name, scores['nearest_neighbour_accuracy'],
                                             scores['within_to_between_variance']))
  return lines


def _algebra_table(result):
  lines = ['  %-16s' % 'factor' + ''.join(' %16s' % n for n in result['overall'])]
  rows = list(result['per_factor'].items()) + [('overall', result['overall'])]
  for factor, values in rows:
    lines.append('  %-16s' % factor + ''.join(
        ' %8.5f/%5.2fdB' % (v['mse'], v['psnr']) for v in values.values()))
  return lines


TABLES = {'views': _views_table, 'probes': _probes_table, 'embedding': _embedding_table,
          'algebra': _algebra_table}


def result_table(results):
  """The results as text, one table per analysis (MSE/PSNR in the algebra's)."""
  lines = []
  for name in ANALYSES:
    if name in results:
      lines.append('%s:' % name)
      lines.extend(TABLES[name](results[name]))
  return '\n'.join(lines)


def check_analyses(names):
  """Raises ValueError unless every name is one of ANALYSES."""
  unknown = [name for name in names if name not in ANALYSES]
  if unknown or not names:
    raise ValueError('Unknown analyses %s; choose from %s (comma-separated).'
                     % (', '.join(repr(n) for n in unknown) or 'none given',
                        ','.join(ANALYSES)))


def analyze(model_dir, data_dir, dataset, analyses=ANALYSES, output_dir=None,
            checkpoint=None, vae_model_dir=None, num_scenes=32, num_samples=8,
            probe_scenes=400, embedding_scenes=8, quadruples_per_factor=4, seed=0,
            preset=None, overrides=None, progress=None):
  """Runs the analyses of a trained GQN and writes analysis.json and one PNG each.

  Args:
    model_dir: the model directory (its gqn_config.json and latest checkpoint).
    data_dir: root of the datasets.
    dataset: the dataset name; probes and algebra need this project's rendered
      datasets (their factors sidecars and renderer).
    analyses: names from ANALYSES.
    output_dir: where analysis.json and the PNGs go (None: <model_dir>/analysis).
    checkpoint: a checkpoint prefix instead of the model directory's latest.
    vae_model_dir: a GQN-VAE model directory whose r the embedding compares with
      (None: the pixels).
    num_scenes: test scenes of the views analysis.
    num_samples: prior samples per scene (views).
    probe_scenes: at most this many train and this many test scenes for the probes.
    embedding_scenes: scenes of the embedding (every view of each).
    quadruples_per_factor: algebra quadruples per factor.
    seed: the initialisation of the untrained network (probes), and the algebra's
      scenes.
    preset, overrides: the config of a model directory without gqn_config.json
      (tf-gqn's snapshots), as for evaluation; see model_dir.resolve_config.
    progress: function(str) told a line per analysis (None: silent).

  Returns:
    The dict written to analysis.json: one key per analysis run, and `run`.

  Raises:
    ValueError: unknown analysis, bad config or checkpoint; FileNotFoundError: no data
      or no factors where an analysis needs them.
  """
  check_analyses(analyses)
  say = progress or (lambda line: None)
  output_dir = output_dir or os.path.join(model_dir, 'analysis')
  checkpoint = checkpoints.find_checkpoint(checkpoint or model_dir)
  config = model_dir_lib.resolve_config(model_dir, preset, overrides, checkpoint).config
  info = gqn_tfr_provider.dataset_info(dataset)
  max_views = info.sequence_size - 1
  size = config.IMG_HEIGHT
  tf.io.gfile.makedirs(output_dir)
  model = GQNModel(config, checkpoint, seed)
  results = collections.OrderedDict()
  results['run'] = collections.OrderedDict([
      ('checkpoint', checkpoint), ('global_step', checkpoints.global_step(checkpoint)),
      ('dataset', dataset), ('data_dir', data_dir)])
  test_count = max(num_scenes if 'views' in analyses else 0,
                   embedding_scenes if 'embedding' in analyses else 0,
                   probe_scenes if 'probes' in analyses else 0)
  test = read_scenes(data_dir, dataset, 'test', test_count, size) if test_count else None
  try:
    if 'views' in analyses:
      scenes = Scenes(*(values[:num_scenes] for values in test))
      say('views: K = 0..%d context views, %d test scenes, %d samples each'
          % (max_views, len(scenes.frames), num_samples))
      results['views'] = analyze_views(model, scenes, max_views, num_samples, say)
      plot_views(os.path.join(output_dir, 'views.png'), results['views'])
    if 'probes' in analyses:
      train = read_scenes(data_dir, dataset, 'train', probe_scenes, size)
      probe_test = Scenes(*(values[:probe_scenes] for values in test))
      say('probes: %d train and %d test scenes, r of %d views'
          % (len(train.frames), len(probe_test.frames), config.CONTEXT_SIZE))
      train_targets = probe_targets(read_factors(data_dir, dataset, 'train',
                                                 len(train.frames)))
      test_targets = probe_targets(read_factors(data_dir, dataset, 'test',
                                                len(probe_test.frames)))
      initial = GQNModel(config, None, seed)
      try:
        results['probes'] = analyze_probes(model, initial, train, probe_test,
                                           train_targets, test_targets,
                                           config.CONTEXT_SIZE, say)
      finally:
        initial.close()
      plot_probes(os.path.join(output_dir, 'probes.png'), results['probes'])
    if 'embedding' in analyses:
      scenes = Scenes(*(values[:embedding_scenes] for values in test))
      baseline, baseline_name = None, 'pixels'
      if vae_model_dir:
        vae_checkpoint = checkpoints.find_checkpoint(vae_model_dir)
        vae_config = model_dir_lib.resolve_config(vae_model_dir, None, None,
                                                  vae_checkpoint).config
        baseline, baseline_name = vae_representation(vae_config, vae_checkpoint), 'gqn_vae_r'
      say('embedding: %d scenes x %d single views, r against %s'
          % (len(scenes.frames), info.sequence_size, baseline_name))
      results['embedding'] = analyze_embedding(model, scenes, baseline, baseline_name)
      plot_embedding(os.path.join(output_dir, 'embedding.png'), results['embedding'])
    if 'algebra' in analyses:
      say('algebra: rendering %d quadruples per factor (%s)'
          % (quadruples_per_factor, ', '.join(scene_factors.factor_names(dataset))))
      quadruples = render_quadruples(dataset, quadruples_per_factor, size, seed)
      results['algebra'], rows = analyze_algebra(model, quadruples, config.CONTEXT_SIZE)
      plot_algebra(os.path.join(output_dir, 'algebra.png'), rows,
                   results['algebra']['grid_columns'], config)
  finally:
    model.close()
  with tf.io.gfile.GFile(os.path.join(output_dir, 'analysis.json'), 'w') as f:
    f.write(json.dumps(results, indent=1) + '\n')
  return results
