"""Evaluates a GQN checkpoint on a dataset's test split and renders it from new viewpoints.

  python3 eval_gqn.py --model_dir /models/gqn_rooms --data_dir /data/gqn-dataset \
      --dataset rooms_ring_camera --max_examples 256 --flight 60

Works on this project's model directories and on tf-gqn's published snapshots (which
have no gqn_config.json: the config is read off the checkpoint, see gqn/checkpoints.py;
a flag that contradicts the checkpoint is refused before anything runs).

Writes to --output_dir (default <model_dir>/eval):
  metrics.json         the metrics below, the config and the checkpoint evaluated
  scenes.png           one row per scene: context views | target | mean render | samples
  canvas_sequence.png  the DRAW canvas eta_g(u_l), l = 1..L, of the first scene's mean
                       render, then the target
  flight.gif           (--flight K) K views along the camera ring of the first scene
and with --export_dir a SavedModel of the mean render (see gqn/gqn_predictor.py).

Metrics, averaged over the evaluated examples (images in [0, 1]):
  generation_mse   generated mean (prior path, z_l ~ pi_l; the model's output, not
                   clipped) vs target: the Estimator's `l2`
  mean_render_mse  mean render (prior path, z_l = mu_l) vs target
  elbo_nats        negative ELBO per image, posterior path, with the pixel sigma of the
                   checkpoint's global step = target_llh_nats + kl_nats
  bits_per_dim     (elbo_nats + D ln 256) / (D ln 2), D = H * W * 3: the ELBO of the
                   8-bit images, per sub-pixel
  kl_per_step      KL(q_l || pi_l) per DRAW step, nats per image
  baselines        context_mean_mse: the mean of the context views as the prediction;
                   nearest_context_mse: the context view whose camera is nearest the
                   query camera (`nearest_context_view`)
"""

import argparse
import collections
import json
import math
import os
import sys
import time

import numpy as np
from PIL import Image
# TensorFlow's C++ start-up chatter (I/W lines) hides the tool's own output.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top

from data_provider import gqn_tfr_provider
from data_provider import record_check
from gqn import checkpoints
from gqn import gqn_graph
from gqn import gqn_objective
from gqn import gqn_params
from gqn import gqn_predictor
from gqn import gqn_utils
from gqn import model_dir as model_dir_lib
from gqn import run_safety

# Datasets whose cameras sit on a sphere around an object at the origin, facing it.
_ORBIT_DATASETS = ('shepard_metzler',)
# Pictures: tiles are scaled up (nearest neighbour) to at least this many pixels.
_MIN_TILE = 64
_GAP = 2  # pixels between tiles
_FLIGHT_FRAME_MS = 100

# The config of one evaluation and where it came from.
ResolvedConfig = collections.namedtuple('ResolvedConfig', ['config', 'source', 'inferred'])
# The model's inputs: context frames [B, K, H, W, 3], context cameras [B, K, 7], query
# camera [B, 7] and target frame [B, H, W, 3]; placeholders in the graph, arrays in a batch.
Inputs = collections.namedtuple('Inputs', ['frames', 'cameras', 'query', 'target'])
# The evaluation graph: the data pipeline, both paths of the model and a pose encoder.
_EvalGraph = collections.namedtuple('_EvalGraph', [
    'graph', 'next_batch', 'inputs', 'elbo', 'sigma', 'generation', 'noise', 'raw_poses',
    'encoded_poses', 'saver'])
# The first scenes of the first batch, for the pictures: Inputs of arrays, the mean
# renders [S, H, W, 3], samples (list of [S, H, W, 3]) and the first scene's canvas
# images (list of L [H, W, 3]).
_Pictures = collections.namedtuple('_Pictures', ['scenes', 'mean_render', 'samples',
                                                 'canvases'])


def resolve_config(model_dir, checkpoint, preset_name=None, overrides=None):
  """The config to evaluate `checkpoint` with.

  With a gqn_config.json in `model_dir`, that config (a flag contradicting it is an
  error). Without one (tf-gqn's snapshots): the preset (default 'default') and flags,
  with every field the checkpoint determines read off it, except those the user set
  (every field with --preset): `evaluate` then checks those against the checkpoint.

  Returns:
    ResolvedConfig(config, source: a phrase for the log, inferred: dict of the fields
    read off the checkpoint).

  Raises:
    ValueError: a flag contradicts gqn_config.json, or a bad config value.
    CheckpointMismatchError: the checkpoint holds no GQN.
  """
  overrides = dict(overrides or {})
  config, recorded = model_dir_lib.resolve_config(model_dir, preset_name, overrides)
  if recorded:
    return ResolvedConfig(config, model_dir_lib.config_path(model_dir), {})
  pinned = model_dir_lib.pinned_fields(preset_name, overrides)
  config, inferred = checkpoints.infer_config(checkpoint, config, pinned)
  source = 'preset %r and flags' % (preset_name or 'default')
  if inferred:
    source += '; %d fields read off the checkpoint (inferred_fields)' % len(inferred)
  return ResolvedConfig(config, source, inferred)


def nearest_context_view(context_cameras, query_cameras):
  """For each scene, the context view whose camera is nearest the query camera.

  distance = |p_q - p_k| + |d_q - d_k|: the distance between the camera positions plus
  the chord between the unit viewing directions d = (cos pitch cos yaw, cos pitch sin yaw,
  sin pitch). A chord of 1 (a turn of 60 degrees) weighs like a step of one scene unit:
  among cameras at (nearly) the same place the one looking the same way wins, and a
  camera looking the opposite way counts as 2 units further away. On a ring of cameras
  facing its centre, position and direction agree.

  Args:
    context_cameras: [B, K, 7] encoded cameras.
    query_cameras: [B, 7].

  Returns:
    [B] int indices into K.
  """
  def direction(cameras):
    sin_yaw, cos_yaw = cameras[..., 3], cameras[..., 4]
    sin_pitch, cos_pitch = cameras[..., 5], cameras[..., 6]
    return np.stack([cos_pitch * cos_yaw, cos_pitch * sin_yaw, sin_pitch], axis=-1)
  query = np.asarray(query_cameras, np.float64)[:, np.newaxis]  # [B, 1, 7]
  context = np.asarray(context_cameras, np.float64)
  distance = (np.linalg.norm(context[..., :3] - query[..., :3], axis=-1)
              + np.linalg.norm(direction(context) - direction(query), axis=-1))
  return np.argmin(distance, axis=1)


def _ring_centre(raw_poses):
  """The point (x, y) nearest, in least squares, to the context cameras' viewing lines.

  Cameras on a ring facing the scene centre all look through it. When the views are
  (nearly) parallel there is no such point and the origin is taken.
  """
  yaw = raw_poses[:, 3]
  normals = np.stack([-np.sin(yaw), np.cos(yaw)], axis=-1)  # [K, 2], normal of each line
  projections = normals[:, :, np.newaxis] * normals[:, np.newaxis, :]  # [K, 2, 2]
  matrix = projections.sum(axis=0)
  if np.linalg.cond(matrix) > 1e3:
    return np.zeros(2)
  return np.linalg.solve(matrix, np.einsum('kij,kj->i', projections, raw_poses[:, :2]))


def flight_cameras(context_cameras, num_views, dataset):
  """Cameras of a fly-through of one scene: a ring like the dataset's camera ring.

  Shepard-Metzler datasets (DeepMind's and synth_): the cameras orbit the object at the
  origin; the ring is around the origin at the context cameras' mean horizontal radius
  and height, facing the origin (pitch included). Other datasets (rooms): the ring is
  around the scene centre (where the context cameras' viewing lines meet, the middle of
  the room for a ring camera), at their mean radius and height and mean pitch, facing
  the centre. The first camera sits at the angle of the first context camera.

  Args:
    context_cameras: [K, 7] the scene's encoded context cameras.
    num_views: N, cameras on the ring.
    dataset: the dataset name.

  Returns:
    [N, 5] raw poses [x, y, z, yaw, pitch].
  """
  raw = gqn_predictor.decode_pose(context_cameras)
  orbit = any(name in dataset for name in _ORBIT_DATASETS)
  centre = np.zeros(2) if orbit else _ring_centre(raw)
  offsets = raw[:, :2] - centre
  radius = float(np.mean(np.linalg.norm(offsets, axis=-1)))
  height = float(np.mean(raw[:, 2]))
  if orbit:
    pitch = math.atan2(-height, radius)
  else:
    pitch = float(np.mean(raw[:, 4]))
  start = math.atan2(offsets[0, 1], offsets[0, 0])
  return gqn_predictor.camera_ring(num_views, radius, height, pitch, centre, start)


def _to_uint8(images):
  return (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _grid(rows, scale):
  """[R][C] of [H, W, 3] images in [0, 1] -> one uint8 image, white gaps between tiles."""
  height, width = rows[0][0].shape[:2]
  num_cols = max(len(row) for row in rows)
  tile_h, tile_w = height * scale, width * scale
  canvas = np.full([len(rows) * (tile_h + _GAP) - _GAP, num_cols * (tile_w + _GAP) - _GAP, 3],
                   255, np.uint8)
  for r, row in enumerate(rows):
    for c, image in enumerate(row):
      tile = np.repeat(np.repeat(_to_uint8(image), scale, axis=0), scale, axis=1)
      top, left = r * (tile_h + _GAP), c * (tile_w + _GAP)
      canvas[top:top + tile_h, left:left + tile_w] = tile
  return canvas


def _scale(config):
  return max(1, int(math.ceil(_MIN_TILE / float(min(config.IMG_HEIGHT, config.IMG_WIDTH)))))


class _Progress(object):
  """A one-line progress bar on stderr."""

  def __init__(self, total, enabled):
    self._total, self._enabled, self._start = total, enabled, time.time()

  def update(self, done):
    if not self._enabled:
      return
    rate = done / max(time.time() - self._start, 1e-9)
    total = '/%d' % self._total if self._total else ''
    filled = int(30 * done / self._total) if self._total else 0
    sys.stderr.write('\revaluating [%-30s] %d%s examples, %.1f/s' % (
        '#' * filled, done, total, rate))
    sys.stderr.flush()

  def close(self):
    if self._enabled:
      sys.stderr.write('\n')


def _format_table(metrics):
  lines = []
  for key in ('generation_mse', 'mean_render_mse', 'elbo_nats', 'target_llh_nats', 'kl_nats',
              'bits_per_dim', 'pixel_sigma'):
    lines.append('  %-28s %.6g' % (key, metrics[key]))
  lines.append('  %-28s %s' % ('kl_per_step', ' '.join('%.4g' % v
                                                         for v in metrics['kl_per_step'])))
  for key, value in metrics['baselines'].items():
    lines.append('  %-28s %.6g' % ('baseline ' + key, value))
  return '\n'.join(lines)


def _build_graph(config, checkpoint, step, data_dir, dataset, batch_size, seed,
                 bad_records=None):
  """Builds the evaluation graph; refuses a config that does not fit the checkpoint."""
  graph = tf.Graph()
  with graph.as_default():
    tf.set_random_seed(seed)
    data = gqn_tfr_provider.gqn_dataset(
        dataset, config.CONTEXT_SIZE, data_dir, 'test', batch_size=batch_size,
        custom_frame_size=config.IMG_HEIGHT, seed=seed, bad_records=bad_records)
    next_batch = tf.data.make_one_shot_iterator(data).get_next()
    inputs = Inputs(*checkpoints.model_placeholders(config, config.CONTEXT_SIZE))
    posterior = gqn_graph.gqn_draw(inputs.query, inputs.frames, inputs.cameras, config,
                                   target_frame=inputs.target, generate=False).posterior
    generation, noise = gqn_predictor.build_generation(inputs.query, inputs.frames,
                                                       inputs.cameras, config)
    checkpoints.check_compatible(checkpoint, config, tf.global_variables())
    sigma = gqn_utils.pixel_sigma(step, config)
    elbo = gqn_objective.gqn_draw_elbo(inputs.target, posterior.mu_target, sigma,
                                       posterior.steps.posteriors, posterior.steps.priors)
    raw_poses = tf.placeholder(tf.float32, [None, gqn_predictor.RAW_POSE_SIZE], 'raw_poses')
    encoded_poses = gqn_tfr_provider.encode_pose(raw_poses)
    saver = tf.train.Saver(tf.global_variables())
    graph.finalize()
  return _EvalGraph(graph, next_batch, inputs, elbo, sigma, generation, noise, raw_poses,
                    encoded_poses, saver)


def _batches(sess, next_batch, max_examples):
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


def _mse(images, targets):
  """Per-example mean squared error, [B]."""
  return np.mean(np.square(np.asarray(images, np.float64) - targets), axis=(1, 2, 3))


def _render_flight(sess, model, config, scene, num_views, dataset, batch_size):
  """Mean renders of the first scene of `scene` (Inputs) along its camera ring."""
  poses = flight_cameras(scene.cameras[0], num_views, dataset)
  cameras = sess.run(model.encoded_poses, {model.raw_poses: poses})
  images = []
  for start in range(0, num_views, batch_size):
    query = cameras[start:start + batch_size]
    size = len(query)
    feed = {model.inputs.frames: np.repeat(scene.frames[:1], size, axis=0),
            model.inputs.cameras: np.repeat(scene.cameras[:1], size, axis=0),
            model.inputs.query: query}
    feed.update(gqn_predictor.zero_noise_feed(model.noise, size, config))
    images.append(sess.run(model.generation.mu_target, feed))
  return np.concatenate(images)


def _write_json(path, values):
  with tf.io.gfile.GFile(path, 'w') as f:
    f.write(json.dumps(values, indent=2) + '\n')
  return path


def _write_pictures(output_dir, pictures, config):
  """scenes.png and canvas_sequence.png; returns their paths."""
  scale = _scale(config)
  scenes = pictures.scenes
  rows = []
  for i in range(len(scenes.target)):
    rows.append(list(scenes.frames[i]) + [scenes.target[i], pictures.mean_render[i]]
                + [sample[i] for sample in pictures.samples])
  scenes_path = os.path.join(output_dir, 'scenes.png')
  Image.fromarray(_grid(rows, scale)).save(scenes_path)
  canvas_path = os.path.join(output_dir, 'canvas_sequence.png')
  Image.fromarray(_grid([list(pictures.canvases) + [scenes.target[0]]], scale)).save(
      canvas_path)
  return [scenes_path, canvas_path]


def _write_gif(path, images, config):
  scale = _scale(config)
  frames = [Image.fromarray(_grid([[image]], scale)) for image in images]
  frames[0].save(path, save_all=True, append_images=frames[1:], duration=_FLIGHT_FRAME_MS,
                 loop=0)
  return path


def evaluate(model_dir, data_dir, dataset, checkpoint=None, preset=None,
             config_overrides=None, max_examples=256, batch_size=16, output_dir=None,
             seed=0, flight=0, export_dir=None, num_scenes=4, num_samples=3, progress=True,
             skip_corrupt_records=False):
  """Evaluates a checkpoint, writes metrics.json and pictures; returns the metrics.

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
    export_dir: when given, a new directory for a SavedModel of the mean render.
    num_scenes: scenes (rows) in scenes.png, at most batch_size.
    num_samples: sampled renders per scene in scenes.png.
    progress: show a progress bar on stderr.
    skip_corrupt_records: skip bad records of the test split (damaged files, frames
      that are not JPEG images of the dataset's size, non-finite cameras) and report
      them, instead of stopping with the error naming the first.

  Returns:
    The metrics dict written to metrics.json (see the module docstring).

  Raises:
    ValueError: unknown dataset, no checkpoint, a config that contradicts
      gqn_config.json or the checkpoint (CheckpointMismatchError), a checkpoint with
      missing or cut short files (run_safety.CheckpointStateError), a bad record
      (record_check.CorruptRecordError), an existing export_dir, or a bad number.
    FileNotFoundError: the dataset's test split is not in data_dir.
  """
  # Every check of the input comes before anything runs.
  gqn_tfr_provider.dataset_info(dataset)
  for name, value, least in (('batch_size', batch_size, 1), ('flight', flight, 0),
                             ('num_scenes', num_scenes, 1), ('num_samples', num_samples, 0),
                             ('max_examples', max_examples or 0, 0)):
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
      raise ValueError('%s is %r; it must be an integer >= %d.' % (name, value, least))
  max_examples = max_examples or None
  if export_dir and tf.io.gfile.exists(export_dir):
    raise ValueError('The export directory %s exists already; pass a new one.' % export_dir)
  checkpoint = checkpoints.find_checkpoint(checkpoint or model_dir)
  run_safety.check_restorable(checkpoint)
  resolved = resolve_config(model_dir, checkpoint, preset, config_overrides)
  config = resolved.config
  step = checkpoints.global_step(checkpoint) or 0
  bad_records = record_check.BadRecords(skip=skip_corrupt_records)
  model = _build_graph(config, checkpoint, step, data_dir, dataset, batch_size, seed,
                       bad_records)
  output_dir = output_dir or os.path.join(model_dir, 'eval')
  tf.logging.info('Evaluating %s on %s; config: %s.', checkpoint, dataset, resolved.source)

  sums = collections.defaultdict(float)
  kl_per_step = np.zeros(config.SEQ_LENGTH)
  num_examples = 0
  pictures = flight_images = None
  generation = model.generation
  bar = _Progress(max_examples, progress)
  with tf.Session(graph=model.graph) as sess:
    model.saver.restore(sess, checkpoint)
    for batch in _batches(sess, model.next_batch, max_examples):
      size = len(batch.target)
      feed = dict(zip(model.inputs, batch))
      terms, sampled, sigma = sess.run([model.elbo, generation.mu_target, model.sigma], feed)
      mean_feed = dict(feed)
      mean_feed.update(gqn_predictor.zero_noise_feed(model.noise, size, config))
      fetch = {'mean_render': generation.mu_target}
      if pictures is None:
        fetch['canvases'] = generation.canvas_images
      mean = sess.run(fetch, mean_feed)
      if pictures is None:
        samples = [sampled] + [sess.run(generation.mu_target, feed)
                               for _ in range(num_samples - 1)]
        pictures = _Pictures(Inputs(*(array[:num_scenes] for array in batch)),
                             mean['mean_render'][:num_scenes],
                             [sample[:num_scenes] for sample in samples[:num_samples]],
                             [canvas[0] for canvas in mean['canvases']])
      mean_render = mean['mean_render']

      for key, value in (('elbo_nats', terms.elbo), ('target_llh_nats', terms.target_llh),
                         ('kl_nats', terms.kl)):
        sums[key] += float(value) * size  # the objective averages over the batch
      kl_per_step += np.asarray(terms.kl_per_step, np.float64) * size
      sums['generation_mse'] += _mse(sampled, batch.target).sum()
      sums['mean_render_mse'] += _mse(mean_render, batch.target).sum()
      sums['context_mean_mse'] += _mse(batch.frames.mean(axis=1), batch.target).sum()
      nearest = batch.frames[np.arange(size), nearest_context_view(batch.cameras, batch.query)]
      sums['nearest_context_mse'] += _mse(nearest, batch.target).sum()
      num_examples += size
      bar.update(num_examples)
    bar.close()
    if num_examples and flight:
      flight_images = _render_flight(sess, model, config, pictures.scenes, flight, dataset,
                                     batch_size)
  # Metrics of a split cut short by a bad record would look valid: refuse them.
  if bad_records.count:
    tf.logging.warning(bad_records.summary())
  bad_records.raise_if_stopped()
  if not num_examples:
    raise ValueError('The test split of %s in %s holds no examples.' % (dataset, data_dir))

  pixels = config.IMG_HEIGHT * config.IMG_WIDTH * config.IMG_CHANNELS
  elbo_nats = sums['elbo_nats'] / num_examples
  metrics = collections.OrderedDict([
      ('generation_mse', sums['generation_mse'] / num_examples),
      ('mean_render_mse', sums['mean_render_mse'] / num_examples),
      ('elbo_nats', elbo_nats),
      ('target_llh_nats', sums['target_llh_nats'] / num_examples),
      ('kl_nats', sums['kl_nats'] / num_examples),
      ('bits_per_dim', (elbo_nats + pixels * math.log(256.0)) / (pixels * math.log(2.0))),
      ('kl_per_step', (kl_per_step / num_examples).tolist()),
      ('pixel_sigma', float(sigma)),
      ('baselines', collections.OrderedDict([
          ('context_mean_mse', sums['context_mean_mse'] / num_examples),
          ('nearest_context_mse', sums['nearest_context_mse'] / num_examples)])),
      ('num_examples', num_examples),
      ('global_step', step),
      ('checkpoint', checkpoint),
      ('dataset', dataset),
      ('seed', seed),
      ('config_source', resolved.source),
      ('inferred_fields', resolved.inferred),
      ('config', config._asdict()),
  ])
  tf.io.gfile.makedirs(output_dir)
  written = [_write_json(os.path.join(output_dir, 'metrics.json'), metrics)]
  written += _write_pictures(output_dir, pictures, config)
  if flight_images is not None:
    written.append(_write_gif(os.path.join(output_dir, 'flight.gif'), flight_images, config))
  if export_dir:
    written.append(gqn_predictor.export_saved_model(export_dir, checkpoint, config))

  print('%s, %d examples of %s, global step %d:' % (checkpoint, num_examples, dataset, step))
  print(_format_table(metrics))
  print('Wrote: %s' % '\n       '.join(written))
  return metrics


def _parser():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  # Model.
  parser.add_argument('--model_dir', required=True,
                      help='Model directory: checkpoints and, if trained here, gqn_config.json.')
  parser.add_argument('--checkpoint', default=None,
                      help='A checkpoint prefix, e.g. <model_dir>/model.ckpt-220000 '
                      '(default: the latest in --model_dir).')
  # Config, for models without gqn_config.json (tf-gqn's snapshots). Fields the
  # checkpoint determines (encoder, channels, kernel sizes) are read off it.
  parser.add_argument('--preset', choices=list(gqn_params.PRESETS), default=None,
                      help='Named config the model was trained with (default: "default").')
  parser.add_argument('--enc_type', choices=gqn_params.ENCODER_TYPES, default=None,
                      help='Scene encoder (default: read off the checkpoint).')
  parser.add_argument('--seq_length', type=int, default=None, help='DRAW steps L.')
  parser.add_argument('--context_size', type=int, default=None, help='Context views K.')
  parser.add_argument('--img_size', type=int, default=None,
                      help='Frame size the model works at; frames are resized to it.')
  # Data.
  parser.add_argument('--data_dir', default='/tmp/data/gqn-dataset',
                      help='Root of the gqn-datasets directories.')
  parser.add_argument('--dataset', required=True,
                      help='Dataset name, e.g. rooms_ring_camera: its test split is used.')
  parser.add_argument('--max_examples', type=int, default=256,
                      help='Test examples to evaluate (0: the whole test split).')
  parser.add_argument('--batch_size', type=int, default=16)
  parser.add_argument('--seed', type=int, default=0,
                      help='Seeds the views of each example and the latent draws.')
  parser.add_argument('--skip_corrupt_records', action='store_true',
                      help='Skip bad records (damaged files, frames that are not JPEG '
                      'images of the dataset\'s size, non-finite cameras), reporting '
                      'their number and files, instead of stopping at the first one.')
  # Outputs.
  parser.add_argument('--output_dir', default=None,
                      help='Metrics and pictures (default: <model_dir>/eval).')
  parser.add_argument('--flight', type=int, default=0,
                      help='Render a fly-through of K frames along the camera ring of the '
                      'first scene to flight.gif.')
  parser.add_argument('--num_scenes', type=int, default=4, help='Scenes in scenes.png.')
  parser.add_argument('--num_samples', type=int, default=3,
                      help='Sampled renders per scene in scenes.png.')
  parser.add_argument('--export_dir', default=None,
                      help='Also export a SavedModel of the mean render to this new '
                      'directory.')
  return parser


def main(argv=None):
  args = _parser().parse_args(argv)
  tf.logging.set_verbosity(tf.logging.INFO)
  try:
    evaluate(args.model_dir, args.data_dir, args.dataset, checkpoint=args.checkpoint,
             preset=args.preset, config_overrides=model_dir_lib.config_overrides(args),
             max_examples=args.max_examples, batch_size=args.batch_size,
             output_dir=args.output_dir, seed=args.seed, flight=args.flight,
             export_dir=args.export_dir, num_scenes=args.num_scenes,
             num_samples=args.num_samples, skip_corrupt_records=args.skip_corrupt_records)
  except (ValueError, IOError) as error:
    print('eval_gqn.py: error: %s' % error, file=sys.stderr)
    return 2
  return 0


if __name__ == '__main__':
  sys.exit(main())
