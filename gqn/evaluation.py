"""Evaluating a GQN checkpoint on a test split: the metrics, the pictures, the fly-through.

`evaluate` is what eval_gqn.py runs. It resolves the config (model_dir.resolve_config),
builds one graph (the data pipeline, the posterior and the generation path of one
gqn_draw, so the encoder is built once), runs the metrics loop over the test split
(`run_metrics`), writes metrics.json and the pictures (gqn/pictures.py) and, with
`export_dir`, a SavedModel (gqn/gqn_predictor.py).

Metrics, averaged over the evaluated examples (images in [0, 1]):
  generation_mse   generated mean (prior path, z_l ~ pi_l; the model's output, not
                   clipped) vs target: the Estimator's `l2`
  mean_render_mse  mean render (prior path, z_l = mu_l) vs target
  mean_render_colour_mse
                   the part of mean_render_mse that is colour: the error left once each
                   pixel's grey (its channels' mean) is taken out of both images; the
                   rest is the greys' error (view_metrics.colour_mse)
  psnr_db, ssim    PSNR and SSIM of the mean render (gqn/view_metrics.py), per-image
                   values averaged
  best_of_n_mse    the smallest MSE of `num_samples` generated renders, per example
  sample_spread    per-pixel standard deviation across those renders, image mean
  spread_error_correlation
                   correlation over the pixels of the samples' spread and the mean
                   render's absolute error (> 0: uncertain where it is wrong); the mean
                   over examples where it is defined
  elbo_nats        negative ELBO per image, posterior path, with the pixel sigma of the
                   checkpoint's global step = target_llh_nats + kl_nats
  bits_per_dim     (elbo_nats + D ln 256) / (D ln 2), D = H * W * 3: the ELBO of the
                   8-bit images, per sub-pixel
  kl_per_step      KL(q_l || pi_l) per DRAW step, nats per image (the GQN-VAE: one)
  baselines        context_mean_mse: the mean of the context views as the prediction;
                   nearest_context_mse: the context view whose camera is nearest the
                   query camera (data_provider.camera.nearest_context_view)
  per_example      mean_render_mse and context_mean_mse of every example, in the test
                   split's order: a check on a few examples (a published snapshot's
                   test) compares against the same examples' values

A new metric is a sum in `_accumulate` (per batch, weighted by examples) and a key in
`metrics_dict`; `format_table` prints it.
"""

import collections
import inspect
import json
import math
import os

import numpy as np
import tensorflow.compat.v1 as tf

from data_provider import camera
from data_provider import gqn_tfr_provider
from data_provider import logs
from data_provider import progress as progress_lib
from data_provider import record_check
from gqn import checkpoint_integrity
from gqn import checkpoints
from gqn import curves
from gqn import gqn_graph
from gqn import gqn_objective
from gqn import gqn_predictor
from gqn import gqn_vae
from gqn import model_dir as model_dir_lib
from gqn import pictures as pictures_lib
from gqn import schedules
from gqn import view_metrics

# The model's inputs: context frames [B, K, H, W, 3], context cameras [B, K, 7], query
# camera [B, 7] and target frame [B, H, W, 3]; placeholders in the graph, arrays in a batch.
Inputs = collections.namedtuple('Inputs', ['frames', 'cameras', 'query', 'target'])
# The evaluation graph: the data pipeline, both paths of the model (`generation` is its
# RenderedView, `noise` the eps_l of its latents; for the GQN-VAE a RenderedView without
# canvases and its one eps) and a pose encoder.
EvalGraph = collections.namedtuple('EvalGraph', [
    'graph', 'next_batch', 'inputs', 'elbo', 'sigma', 'generation', 'noise', 'raw_poses',
    'encoded_poses', 'saver'])
# What the metrics loop gathered: `sums` of per-example values by metric name,
# `kl_per_step` [L] summed over examples, `num_examples`, the pixel `sigma` used and the
# `pictures` (pictures.Pictures of the first batch; None without examples), and the
# per-example values `per_example` (metric name -> list, in the examples' order).
Totals = collections.namedtuple('Totals', ['sums', 'kl_per_step', 'num_examples', 'sigma',
                                           'pictures', 'num_samples', 'per_example'])
# The metrics whose per-example values metrics.json keeps.
PER_EXAMPLE = ('mean_render_mse', 'context_mean_mse')


def build_eval_graph(config, checkpoint, step, data_dir, dataset, batch_size, seed,
                     bad_records=None):
  """Builds the evaluation graph; refuses a config that does not fit the checkpoint.

  Args:
    config: the GQNConfig.
    checkpoint: the checkpoint prefix the graph will restore.
    step: its global step (for the pixel sigma sigma_t of the ELBO).
    data_dir, dataset: the test split read.
    batch_size: examples per batch.
    seed: graph and input-pipeline seed.
    bad_records: a record_check.BadRecords, or None.

  Returns:
    EvalGraph, its graph finalized.

  Raises:
    checkpoints.CheckpointMismatchError: `config` does not fit the checkpoint.
  """
  graph = tf.Graph()
  with graph.as_default():
    tf.set_random_seed(seed)
    data = gqn_tfr_provider.gqn_dataset(
        dataset, config.CONTEXT_SIZE, data_dir, 'test', batch_size=batch_size,
        custom_frame_size=(config.IMG_HEIGHT, config.IMG_WIDTH), seed=seed,
        bad_records=bad_records)
    next_batch = tf.data.make_one_shot_iterator(data).get_next()
    # Any number of context views: the fly-through may look at fewer than CONTEXT_SIZE.
    inputs = Inputs(*gqn_graph.model_placeholders(config, None))
    # Refused before the graph is built: the other model's graph would only list every
    # variable as missing.
    checkpoints.check_model(checkpoint, config)
    sigma = schedules.pixel_sigma(step, config)
    if config.MODEL == 'vae':
      outputs = gqn_vae.gqn_vae(inputs.query, inputs.frames, inputs.cameras, config,
                                target_frame=inputs.target, generate=True)
      # One latent, one step: its ELBO is the DRAW objective with L = 1.
      elbo = gqn_objective.gqn_draw_elbo(inputs.target, outputs.posterior_view.mu_target,
                                         sigma, [outputs.posterior], [outputs.prior])
      # The VAE renders in one pass: no canvas sequence to picture.
      generation = gqn_graph.RenderedView(outputs.generation.mu_target, [], None)
      noise = [outputs.generation.noise]
    else:
      outputs = gqn_graph.gqn_draw(inputs.query, inputs.frames, inputs.cameras, config,
                                   target_frame=inputs.target, generate=True)
      posterior, generation = outputs.posterior, outputs.generation
      elbo = gqn_objective.gqn_draw_elbo(inputs.target, posterior.mu_target, sigma,
                                         posterior.steps.posteriors, posterior.steps.priors)
      noise = generation.steps.noise
    checkpoints.check_compatible(checkpoint, config, tf.global_variables())
    raw_poses = tf.placeholder(tf.float32, [None, camera.RAW_POSE_SIZE], 'raw_poses')
    encoded_poses = camera.encode_pose(raw_poses)
    saver = tf.train.Saver(tf.global_variables())
    graph.finalize()
  return EvalGraph(graph, next_batch, inputs, elbo, sigma, generation, noise, raw_poses,
                   encoded_poses, saver)


def batches(sess, next_batch, max_examples):
  """Yields Inputs of arrays from the test split, `max_examples` in all (None: all)."""
  done = 0
  while max_examples is None or done < max_examples:
    try:
      (context, query), target = sess.run(next_batch)
    except tf.errors.OutOfRangeError:
      return
    size = len(target) if max_examples is None else min(len(target), max_examples - done)
    done += size
    yield Inputs(context.frames[:size], context.cameras[:size], query[:size], target[:size])


def _accumulate(sums, per_example, batch, samples, mean_render, quality):
  """Adds a batch's per-example errors to `sums` (metric name -> sum over examples).

  Args:
    sums: metric name -> sum over the examples so far.
    per_example: metric name -> list of the examples' values so far (PER_EXAMPLE).
    batch: the Inputs of the batch.
    samples: [N, B, H, W, 3] generated renders, N >= 1; the first is `generation_mse`'s.
    mean_render: [B, H, W, 3] the render with every latent at its prior mean.
    quality: a view_metrics.ImageQuality of the image size.
  """
  size = len(batch.target)
  errors = {'mean_render_mse': view_metrics.mse(mean_render, batch.target),
            'context_mean_mse': view_metrics.mse(batch.frames.mean(axis=1), batch.target)}
  for name in PER_EXAMPLE:
    per_example[name].extend(float(value) for value in errors[name])
  sums['generation_mse'] += view_metrics.mse(samples[0], batch.target).sum()
  sums['mean_render_mse'] += errors['mean_render_mse'].sum()
  sums['mean_render_colour_mse'] += view_metrics.colour_mse(mean_render, batch.target).sum()
  psnr, ssim = quality.scores(mean_render, batch.target)
  sums['psnr_db'] += float(np.sum(psnr))
  sums['ssim'] += float(np.sum(ssim))
  scores = view_metrics.sample_scores(samples, mean_render, batch.target)
  sums['best_of_n_mse'] += scores['best_of_n_mse'].sum()
  sums['sample_spread'] += scores['sample_spread'].sum()
  defined = ~np.isnan(scores['spread_error_correlation'])
  sums['spread_error_correlation'] += scores['spread_error_correlation'][defined].sum()
  sums['spread_error_correlation_examples'] += defined.sum()
  sums['context_mean_mse'] += errors['context_mean_mse'].sum()
  nearest = batch.frames[np.arange(size),
                         camera.nearest_context_view(batch.cameras, batch.query)]
  sums['nearest_context_mse'] += view_metrics.mse(nearest, batch.target).sum()


def run_metrics(sess, model, config, max_examples, num_scenes, num_samples, progress):
  """The metrics loop: runs the model on the test split and sums what the metrics need.

  Args:
    sess: a session of `model.graph` with the checkpoint restored.
    model: the EvalGraph.
    config: the GQNConfig.
    max_examples: examples to evaluate (None: the whole split).
    num_scenes: scenes of the first batch kept for the pictures.
    num_samples: N, renders drawn from the prior per example for best-of-N and the
      spread (at least 1), and per scene in the pictures.
    progress: a progress bar with `update(done)` and `close()`.

  Returns:
    Totals.
  """
  sums = collections.defaultdict(float)
  per_example = collections.defaultdict(list)
  kl_per_step = np.zeros(len(model.elbo.kl_per_step))  # L steps; the VAE's one
  num_examples = 0
  pictures = None
  sigma = None
  generation = model.generation
  draws = max(num_samples, 1)
  quality = view_metrics.ImageQuality(config.IMG_HEIGHT, config.IMG_WIDTH)
  for batch in batches(sess, model.next_batch, max_examples):
    size = len(batch.target)
    feed = dict(zip(model.inputs, batch))
    terms, sampled, sigma = sess.run([model.elbo, generation.mu_target, model.sigma], feed)
    mean_feed = dict(feed)
    mean_feed.update(gqn_predictor.zero_noise_feed(model.noise, size, config))
    fetch = {'mean_render': generation.mu_target}
    if pictures is None:
      fetch['canvases'] = generation.canvas_images
    mean = sess.run(fetch, mean_feed)
    samples = [sampled] + [sess.run(generation.mu_target, feed) for _ in range(draws - 1)]
    if pictures is None:
      pictures = pictures_lib.Pictures(
          Inputs(*(array[:num_scenes] for array in batch)),
          mean['mean_render'][:num_scenes],
          [sample[:num_scenes] for sample in samples[:num_samples]],
          [canvas[0] for canvas in mean['canvases']])
    for key, value in (('elbo_nats', terms.elbo), ('target_llh_nats', terms.target_llh),
                       ('kl_nats', terms.kl)):
      sums[key] += float(value) * size  # the objective averages over the batch
    kl_per_step += np.asarray(terms.kl_per_step, np.float64) * size
    _accumulate(sums, per_example, batch, np.stack(samples), mean['mean_render'], quality)
    num_examples += size
    progress.update(num_examples)
  progress.close()
  quality.close()
  return Totals(sums, kl_per_step, num_examples, sigma, pictures, draws, per_example)


def metrics_dict(totals, config, resolved, checkpoint, step, dataset, seed):
  """The metrics of metrics.json (see the module docstring), in their order.

  Args:
    totals: Totals of `run_metrics`, with examples.
    config: the GQNConfig evaluated.
    resolved: its model_dir.ResolvedConfig (source, inferred fields).
    checkpoint, step, dataset, seed: what was evaluated, recorded with the metrics.
  """
  sums, num_examples = totals.sums, totals.num_examples
  pixels = config.IMG_HEIGHT * config.IMG_WIDTH * config.IMG_CHANNELS
  elbo_nats = sums['elbo_nats'] / num_examples
  return collections.OrderedDict([
      ('generation_mse', sums['generation_mse'] / num_examples),
      ('mean_render_mse', sums['mean_render_mse'] / num_examples),
      ('mean_render_colour_mse', sums['mean_render_colour_mse'] / num_examples),
      ('psnr_db', sums['psnr_db'] / num_examples),
      ('ssim', sums['ssim'] / num_examples),
      ('best_of_n_mse', sums['best_of_n_mse'] / num_examples),
      ('num_samples', totals.num_samples),
      ('sample_spread', sums['sample_spread'] / num_examples),
      ('spread_error_correlation',
       sums['spread_error_correlation'] / sums['spread_error_correlation_examples']
       if sums['spread_error_correlation_examples'] else float('nan')),
      ('elbo_nats', elbo_nats),
      ('target_llh_nats', sums['target_llh_nats'] / num_examples),
      ('kl_nats', sums['kl_nats'] / num_examples),
      ('bits_per_dim', (elbo_nats + pixels * math.log(256.0)) / (pixels * math.log(2.0))),
      ('kl_per_step', (totals.kl_per_step / num_examples).tolist()),
      ('pixel_sigma', float(totals.sigma)),
      ('baselines', collections.OrderedDict([
          ('context_mean_mse', sums['context_mean_mse'] / num_examples),
          ('nearest_context_mse', sums['nearest_context_mse'] / num_examples)])),
      ('per_example', collections.OrderedDict(
          (name, totals.per_example[name]) for name in PER_EXAMPLE)),
      ('num_examples', num_examples),
      ('global_step', step),
      ('checkpoint', checkpoint),
      ('dataset', dataset),
      ('seed', seed),
      ('config_source', resolved.source),
      ('inferred_fields', resolved.inferred),
      ('config', config._asdict()),
  ])


def format_table(metrics):
  """The metrics as aligned lines for the terminal."""
  lines = []
  for key in ('generation_mse', 'mean_render_mse', 'mean_render_colour_mse', 'psnr_db',
              'ssim', 'best_of_n_mse', 'sample_spread', 'spread_error_correlation',
              'elbo_nats', 'target_llh_nats', 'kl_nats', 'bits_per_dim', 'pixel_sigma'):
    lines.append('  %-28s %.6g' % (key, metrics[key]))
  lines.append('  %-28s %s' % ('kl_per_step', ' '.join('%.4g' % v
                                                         for v in metrics['kl_per_step'])))
  for key, value in metrics['baselines'].items():
    lines.append('  %-28s %.6g' % ('baseline ' + key, value))
  return '\n'.join(lines)


def render_flight(sess, model, config, scene, num_views, dataset, batch_size,
                  context_views=None):
  """Mean renders of the first scene of `scene` (Inputs) along its camera ring.

  `context_views`: how many of the scene's context views the renders look at (the first
  ones; None: all). With 1, the flight is a scene generated from a single image.
  """
  poses = camera.flight_cameras(scene.cameras[0], num_views, dataset)
  frames, cameras_seen = scene.frames[:1, :context_views], scene.cameras[:1, :context_views]
  cameras = sess.run(model.encoded_poses, {model.raw_poses: poses})
  images = []
  for start in range(0, num_views, batch_size):
    query = cameras[start:start + batch_size]
    size = len(query)
    feed = {model.inputs.frames: np.repeat(frames, size, axis=0),
            model.inputs.cameras: np.repeat(cameras_seen, size, axis=0),
            model.inputs.query: query}
    feed.update(gqn_predictor.zero_noise_feed(model.noise, size, config))
    images.append(sess.run(model.generation.mu_target, feed))
  return np.concatenate(images)


def _write_json(path, values):
  with tf.io.gfile.GFile(path, 'w') as f:
    f.write(json.dumps(values, indent=2) + '\n')
  return path


def evaluate(model_dir, data_dir, dataset, checkpoint=None, preset=None,
             config_overrides=None, max_examples=256, batch_size=16, output_dir=None,
             seed=0, flight=0, export_dir=None, num_scenes=4, num_samples=3, progress=True,
             skip_corrupt_records=False, report=True, flight_context=None, summaries=None):
  """Evaluates a checkpoint, writes metrics.json, summaries and pictures; returns metrics.

  The metrics also go to TensorBoard, as scalars at the checkpoint's global step under
  `model_dir/eval` whatever `output_dir` is (`curves.write_summaries`).

  Args:
    model_dir: the model directory (its gqn_config.json if any, its latest checkpoint).
    data_dir: root of the gqn-datasets directories.
    dataset: dataset name (see gqn_tfr_provider.dataset_names()).
    checkpoint: a checkpoint prefix; None takes model_dir's latest.
    preset: preset name for models without gqn_config.json (None: 'default').
    config_overrides: dict of GQNConfig fields set by flags.
    max_examples: examples of the test split to evaluate (in file order); 0 or None
      evaluates all of it.
    batch_size: examples per batch.
    output_dir: where metrics and pictures go; None is <model_dir>/eval.
    seed: seeds the views that make up each example and the latent draws: a rerun
      evaluates the same examples and pictures the same samples.
    flight: frames of flight.gif (0: none).
    flight_context: context views the fly-through looks at (the first scene's first
      ones; None: all CONTEXT_SIZE). 1 renders the scene from a single image.
    export_dir: when given, a new directory for a SavedModel of the mean render.
    num_scenes: scenes (rows) in scenes.png, at most batch_size.
    num_samples: N, renders drawn from the prior per example (best_of_n_mse and
      sample_spread; at least 1 is drawn) and per scene in scenes.png.
    progress: show a progress bar on stderr.
    skip_corrupt_records: skip bad records of the test split (damaged files, frames
      that are not JPEG images of the dataset's size, non-finite cameras) and report
      them, instead of stopping with the error naming the first.
    report: print the metrics table and the files written to stdout.
    summaries: write the metrics to TensorBoard under `model_dir/eval`; None: when
      `model_dir` is a training run's (it holds TensorBoard event files), not for a
      published snapshot (gqn/snapshots.py), which is left as it is.

  Returns:
    The metrics dict written to metrics.json (see the module docstring).

  Raises:
    ValueError: unknown dataset, no checkpoint, a config that contradicts
      gqn_config.json or the checkpoint (CheckpointMismatchError), a checkpoint with
      missing or cut short files (checkpoint_integrity.CheckpointStateError), a bad record
      (record_check.CorruptRecordError), an existing export_dir, or a bad number.
    FileNotFoundError: the dataset's test split is not in data_dir.
  """
  # Every check of the input comes before anything runs.
  gqn_tfr_provider.dataset_info(dataset)
  for name, value, least in (('batch_size', batch_size, 1), ('flight', flight, 0),
                             ('num_scenes', num_scenes, 1), ('num_samples', num_samples, 0),
                             ('max_examples', max_examples or 0, 0),
                             ('flight_context', 1 if flight_context is None else flight_context,
                              1)):
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
      raise ValueError('%s is %r; it must be an integer >= %d.' % (name, value, least))
  max_examples = max_examples or None
  if export_dir and tf.io.gfile.exists(export_dir):
    raise ValueError('The export directory %s exists already; pass a new one.' % export_dir)
  checkpoint = checkpoints.find_checkpoint(checkpoint or model_dir)
  checkpoint_integrity.check_restorable(checkpoint)
  resolved = model_dir_lib.resolve_config(model_dir, preset, config_overrides, checkpoint)
  config = resolved.config
  step = checkpoints.global_step(checkpoint) or 0
  bad_records = record_check.BadRecords(skip=skip_corrupt_records)
  model = build_eval_graph(config, checkpoint, step, data_dir, dataset, batch_size, seed,
                           bad_records)
  output_dir = output_dir or os.path.join(model_dir, 'eval')
  logs.logger.info('Evaluating %s on %s; config: %s.', checkpoint, dataset, resolved.source)

  flight_images = None
  with tf.Session(graph=model.graph) as sess:
    model.saver.restore(sess, checkpoint)
    bar = progress_lib.ProgressBar('evaluating', max_examples, 'examples', enabled=progress)
    totals = run_metrics(sess, model, config, max_examples, num_scenes, num_samples, bar)
    if totals.num_examples and flight:
      flight_images = render_flight(sess, model, config, totals.pictures.scenes, flight,
                                    dataset, batch_size, context_views=flight_context)
  # Metrics of a split cut short by a bad record would look valid: refuse them.
  if bad_records.count:
    logs.logger.warning(bad_records.summary())
  bad_records.raise_if_stopped()
  if not totals.num_examples:
    raise ValueError('The test split of %s in %s holds no examples.' % (dataset, data_dir))

  metrics = metrics_dict(totals, config, resolved, checkpoint, step, dataset, seed)
  tf.io.gfile.makedirs(output_dir)
  written = [_write_json(os.path.join(output_dir, 'metrics.json'), metrics)]
  if summaries is None:
    summaries = bool(tf.io.gfile.glob(os.path.join(model_dir, 'events.out.tfevents.*')))
  if summaries:
    curves.write_summaries(model_dir, metrics, step)
  written += pictures_lib.write_pictures(output_dir, totals.pictures, config)
  if flight_images is not None:
    written.append(pictures_lib.write_gif(os.path.join(output_dir, 'flight.gif'),
                                          flight_images, config))
  if export_dir:
    written.append(gqn_predictor.export_saved_model(export_dir, checkpoint, config))

  if report:
    print('%s, %d examples of %s, global step %d:' % (checkpoint, totals.num_examples,
                                                      dataset, step))
    print(format_table(metrics))
    print('Wrote: %s' % '\n       '.join(written))
  return metrics


# evaluate's keyword defaults, read off its signature rather than written again.
_EVALUATE_DEFAULTS = {name: parameter.default for name, parameter
                      in inspect.signature(evaluate).parameters.items()
                      if parameter.default is not inspect.Parameter.empty}


def evaluate_all(model_dir, data_dir, dataset, output_dir=None, **kwargs):
  """Evaluates every checkpoint of `model_dir` on the same examples: the learning curve.

  Each checkpoint's metrics.json and pictures go to `output_dir/model.ckpt-STEP/`, and
  curves.csv and curves.png (gqn/curves.py) to `output_dir` (default <model_dir>/eval).
  A checkpoint whose metrics.json there already measured it on the same examples (same
  dataset, seed, examples and samples, written after the checkpoint) is not evaluated
  again: a second `make results` only evaluates the checkpoints that are new.

  Args:
    model_dir, data_dir, dataset: as for `evaluate`.
    output_dir: where the curves go.
    **kwargs: the other arguments of `evaluate` (not checkpoint or output_dir), the same
      for every checkpoint, so every point of the curve is measured alike.

  Returns:
    The curve's rows (dicts of curves.COLUMNS), oldest checkpoint first.
  """
  output_dir = output_dir or os.path.join(model_dir, 'eval')
  kwargs.setdefault('progress', False)
  kwargs.setdefault('report', False)

  def evaluate_checkpoint(prefix):
    out = os.path.join(output_dir, os.path.basename(prefix))
    # What `evaluate` will measure with these kwargs (its own defaults for the rest).
    given = dict(_EVALUATE_DEFAULTS, **kwargs)
    earlier = curves.metrics_measured_before(
        out, prefix, dataset, seed=given['seed'], num_examples=given['max_examples'],
        num_samples=max(given['num_samples'], 1))  # at least one sample is drawn
    if earlier is not None:
      return earlier
    return evaluate(model_dir, data_dir, dataset, checkpoint=prefix, output_dir=out,
                    **kwargs)

  rows, written = curves.evaluate_checkpoints(model_dir, evaluate_checkpoint, output_dir,
                                              progress=logs.logger.info)
  print('Learning curve of %d checkpoints: %s' % (len(rows), ', '.join(written)))
  return rows
