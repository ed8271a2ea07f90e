"""Throughput of the synthetic scene renderer, end to end (render, JPEG, TFRecord).

    python bench/bench_renderer.py [--scenes 200] [--workers 2] [--repeats 3]
                                   [--frame_size 64] [--json PATH]

For every synthetic dataset, renders `--scenes` train scenes (no test scenes) into a
temporary directory `--repeats` times with `render_dataset` and reports the median
frames per second (scenes/s times views per scene). Pool start-up and file writing are
included, as the demo pays for them too.
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np

# Run as a script from anywhere: the project root holds the packages.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data_provider import flag_types
from data_provider import gqn_tfr_provider
from data_provider.scenes import render


def bench_dataset(dataset, scenes, workers, repeats, frame_size):
  """Median frames/s and scenes/s of rendering `scenes` scenes of `dataset`.

  Returns:
    dict with the dataset, its settings, every repeat's seconds and the medians.
  """
  views = gqn_tfr_provider.dataset_info(dataset).sequence_size
  seconds = []
  for _ in range(repeats):
    with tempfile.TemporaryDirectory() as root:
      summary = render.render_dataset(root, dataset, scenes, 0, seed=0, workers=workers,
                                      frame_size=frame_size, overwrite=True,
                                      progress=False)
    seconds.append(summary.seconds)
  median = float(np.median(seconds))
  return dict(dataset=dataset, scenes=scenes, views=views, workers=workers,
              frame_size=frame_size, seconds=seconds,
              scenes_per_second=scenes / median,
              frames_per_second=scenes * views / median)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0], allow_abbrev=False)
  parser.add_argument('--scenes', type=flag_types.positive_int, default=200,
                      help='Scenes rendered per dataset and repeat.')
  parser.add_argument('--workers', type=flag_types.positive_int, default=None,
                      help='Rendering processes (default: one per CPU).')
  parser.add_argument('--repeats', type=flag_types.positive_int, default=3,
                      help='Timed runs per dataset; the median is reported.')
  parser.add_argument('--frame_size', type=int, default=64)
  parser.add_argument('--json', default=None, help='Also write the results here.')
  args = parser.parse_args(argv)
  workers = args.workers or os.cpu_count() or 1

  results = []
  for dataset in sorted(render.SCENE_RENDERERS):
    result = bench_dataset(dataset, args.scenes, workers, args.repeats,
                           args.frame_size)
    results.append(result)
    print('%-32s %7.0f frames/s  %6.1f scenes/s  (%d scenes x %d views, %d px, '
          '%d workers, median of %d)'
          % (dataset, result['frames_per_second'], result['scenes_per_second'],
             args.scenes, result['views'], args.frame_size, workers, args.repeats))
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(results, f, indent=2)


if __name__ == '__main__':
  main()
