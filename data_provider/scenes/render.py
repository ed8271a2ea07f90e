"""Renders the project's synthetic GQN datasets to TFRecords, in parallel.

    python -m data_provider.scenes.render --root DIR \\
        --dataset synth_rooms_ring_camera --train_scenes 2000 --test_scenes 200 \\
        --seed 0 --workers 2 [--frame_size 64] [--overwrite]

writes `DIR/<dataset>/{train,test}/<i>-of-<n>.tfrecord`, named and sized as the reader's
table (`data_provider.gqn_tfr_provider`) declares, and beside each the ground truth of
its scenes, `<i>-of-<n>.scenes.json` (`data_provider.scenes.factors`). Scene i of a
split is drawn from its own random generator, seeded from (seed, dataset, split, i), so
the files do not depend on the number of workers. Worker processes render and
JPEG-encode; the parent process writes the records, one file after another, each under
a temporary name until complete.
"""

import argparse
import collections
import functools
import multiprocessing
import os
import sys
import time
import zlib

import numpy as np

from data_provider import flag_types
from data_provider import logs
if __name__ == '__main__':
  # The command: TensorFlow's C++ start-up lines, read at its import, would hide its output.
  logs.quiet_tensorflow_startup()

from data_provider import gqn_tfr_provider  # pylint: disable=g-import-not-at-top
from data_provider import progress as progress_lib
from data_provider import records
from data_provider.scenes import factors
from data_provider.scenes import rooms
from data_provider.scenes import shepard_metzler

# How to draw and render one scene of each dataset this renderer makes:
# function (rng, views, frame_size) -> (frames [V, H, W, 3] in [0, 1], poses [V, 5]).
SCENE_RENDERERS = {
    'synth_rooms_ring_camera': rooms.render_scene,
    'synth_shepard_metzler_5_parts': functools.partial(shepard_metzler.render_scene,
                                                       parts=5),
    'synth_shepard_metzler_7_parts': functools.partial(shepard_metzler.render_scene,
                                                       parts=7),
}

SPLITS = ('train', 'test')

RenderSummary = collections.namedtuple(
    'RenderSummary', ['path', 'scenes_rendered', 'seconds'])


def scene_rng(seed, dataset, split, index):
  """The random generator of scene `index` of a split, from (seed, dataset, split, i)."""
  return np.random.default_rng(
      [seed, zlib.crc32(dataset.encode('utf-8')), SPLITS.index(split), index])


def render_scene_record(dataset, seed, split, index, frame_size):
  """Renders one scene and returns its JPEG frames and cameras.

  Returns:
    (jpegs: list of V JPEG byte strings, cameras: `[V, 5]` float32 poses).
  """
  views = gqn_tfr_provider.dataset_info(dataset).sequence_size
  frames, poses = SCENE_RENDERERS[dataset](
      scene_rng(seed, dataset, split, index), views, frame_size)
  return [records.encode_jpeg(frame) for frame in frames], poses


def _render_task(task):
  """`render_scene_record` on one tuple, for `Pool.imap`."""
  return render_scene_record(*task)


def file_scene_ranges(num_scenes, num_files):
  """Contiguous [start, stop) scene ranges of each file; sizes differ by at most one."""
  bounds = [i * num_scenes // num_files for i in range(num_files + 1)]
  return list(zip(bounds[:-1], bounds[1:]))


def _split_is_complete(paths, num_scenes):
  """Whether every file and its sidecar exist and the files hold `num_scenes` records."""
  if not all(os.path.exists(path) and os.path.exists(factors.sidecar_path(path))
             for path in paths):
    return False
  try:
    return sum(records.count_records(path) for path in paths) == num_scenes
  except ValueError:  # A truncated file.
    return False


def _write_split(paths, scenes, num_scenes, bar):
  """Writes `num_scenes` scenes from the iterator `scenes` to `paths`, in order."""

  def scene_records(count):
    for _ in range(count):
      jpegs, cameras = next(scenes)
      bar.advance()
      yield records.serialize_scene(jpegs, cameras)

  for path, (first, stop) in zip(paths, file_scene_ranges(num_scenes, len(paths))):
    records.write_records(path, scene_records(stop - first))


def _write_scene_factors(paths, dataset, seed, split, num_scenes):
  """Writes each file's sidecar: its scenes' factors, drawn again from their seeds.

  The scene modules draw a scene's factors first from its generator, so drawing them
  alone gives the rendered scenes' factors without sending them back from the workers.
  """
  for path, (first, stop) in zip(paths, file_scene_ranges(num_scenes, len(paths))):
    factors.write_scene_factors(
        path, dataset, [factors.sample_factors(dataset,
                                               scene_rng(seed, dataset, split, index))
                        for index in range(first, stop)],
        split=split, seed=seed, first_scene=first)


def _validate(dataset, train_scenes, test_scenes, seed, workers, frame_size):
  if dataset not in SCENE_RENDERERS:
    raise ValueError('Cannot render dataset %r; the renderer makes: %s.'
                     % (dataset, ', '.join(sorted(SCENE_RENDERERS))))
  for name, value in [('train_scenes', train_scenes), ('test_scenes', test_scenes),
                      ('seed', seed)]:
    if int(value) != value or value < 0:
      raise ValueError('%s must be a non-negative integer, got %r.' % (name, value))
  if workers is not None and (int(workers) != workers or workers < 1):
    raise ValueError('workers must be a positive integer (or None for one per CPU), '
                     'got %r.' % (workers,))
  if int(frame_size) != frame_size or frame_size < 4:
    raise ValueError('frame_size must be an integer of at least 4 pixels, got %r.'
                     % (frame_size,))


def render_dataset(root, dataset, train_scenes, test_scenes, seed=0, workers=None,
                   frame_size=64, overwrite=False, progress=True):
  """Renders the train and test splits of a synthetic dataset to TFRecord files.

  Each split is spread over the number of files the reader's table declares (every file
  is written, empty ones included), in contiguous runs of scenes. A split whose files
  all exist and hold the requested number of scenes is skipped unless `overwrite`;
  render with `overwrite=True` after changing the seed or the frame size.

  Args:
    root: directory that gets `<dataset>/{train,test}/<i>-of-<n>.tfrecord`.
    dataset: one of `SCENE_RENDERERS`, e.g. 'synth_rooms_ring_camera'.
    train_scenes, test_scenes: number of scenes per split.
    seed: non-negative int; with the scene counts it fixes the files' contents.
    workers: rendering processes; None: one per CPU; 1 renders in this process.
    frame_size: H = W of the frames in pixels (the reader expects the table's size).
    overwrite: re-render splits that are already complete.
    progress: draw a progress line per split on stderr.

  Returns:
    RenderSummary(path: the dataset directory, scenes_rendered: scenes rendered by this
    call (0 when every split was skipped), seconds: wall time).

  Raises:
    ValueError: unknown dataset or bad argument.
  """
  _validate(dataset, train_scenes, test_scenes, seed, workers, frame_size)
  info = gqn_tfr_provider.dataset_info(dataset)
  workers = workers or os.cpu_count() or 1
  start = time.time()
  todo = []
  for split, num_scenes in zip(SPLITS, (train_scenes, test_scenes)):
    paths = gqn_tfr_provider.dataset_files(dataset, root, split)
    if overwrite or not _split_is_complete(paths, num_scenes):
      todo.append((split, num_scenes, paths))
    elif progress:
      logs.logger.info('%s/%s: complete with %d scenes, skipped (use overwrite to render '
                       'it again).', dataset, split, num_scenes)

  pool = multiprocessing.Pool(workers) if workers > 1 and todo else None
  try:
    for split, num_scenes, paths in todo:
      os.makedirs(os.path.dirname(paths[0]), exist_ok=True)
      tasks = [(dataset, seed, split, index, frame_size) for index in range(num_scenes)]
      if pool is None:
        scenes = map(_render_task, tasks)
      else:
        # Small chunks keep the workers busy to the end and the parent writing steadily.
        chunk = max(1, min(8, num_scenes // (4 * workers)))
        scenes = pool.imap(_render_task, tasks, chunksize=chunk)
      bar = progress_lib.ProgressBar('%s/%s' % (dataset, split), num_scenes, 'scenes',
                                     enabled=progress)
      # No sidecar may outlive its records if this write is cut short.
      factors.remove_scene_factors(paths)
      _write_split(paths, scenes, num_scenes, bar)
      _write_scene_factors(paths, dataset, seed, split, num_scenes)
      bar.close()
  finally:
    if pool is not None:
      pool.terminate()
  return RenderSummary(path=os.path.join(root, info.basepath),
                       scenes_rendered=sum(num_scenes for _, num_scenes, _ in todo),
                       seconds=time.time() - start)


def _parse_args(argv):
  parser = argparse.ArgumentParser(
      description='Render a synthetic GQN dataset (gqn-datasets TFRecord format).',
      allow_abbrev=False)
  # Where and what.
  parser.add_argument('--root', required=True,
                      help='Directory that gets <dataset>/{train,test}/*.tfrecord.')
  parser.add_argument('--dataset', required=True, choices=sorted(SCENE_RENDERERS))
  parser.add_argument('--train_scenes', type=int, required=True)
  parser.add_argument('--test_scenes', type=int, required=True)
  parser.add_argument('--frame_size', type=int, default=64,
                      help='Frame side in pixels (the reader expects 64).')
  # Randomness and parallelism.
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--workers', type=flag_types.positive_int, default=None,
                      help='Rendering processes (default: one per CPU).')
  # Existing output.
  parser.add_argument('--overwrite', action='store_true',
                      help='Render splits again even if they are complete.')
  logs.add_verbose_flag(parser)
  return parser.parse_args(argv)


def main(argv=None):
  args = _parse_args(argv)
  logs.setup(args.verbose)
  try:
    summary = render_dataset(
        args.root, args.dataset, args.train_scenes, args.test_scenes, seed=args.seed,
        workers=args.workers, frame_size=args.frame_size, overwrite=args.overwrite)
  except ValueError as error:
    sys.exit('error: %s' % error)
  views = gqn_tfr_provider.dataset_info(args.dataset).sequence_size
  rate = summary.scenes_rendered / max(summary.seconds, 1e-9)
  print('%s: %d scenes rendered in %.1f s (%.1f scenes/s, %.0f frames/s)'
        % (summary.path, summary.scenes_rendered, summary.seconds, rate, rate * views))


if __name__ == '__main__':
  main()
