"""Measures what a trained GQN's representation knows: views, probes, embedding, algebra.

  python3 analyze_gqn.py --model_dir /models/gqn_rooms --data_dir /data \\
      --dataset synth_rooms_ring_camera [--analyses views,probes,embedding,algebra] \\
      [--output_dir DIR] [--vae_model_dir /models/vae_rooms]

Writes to --output_dir (default <model_dir>/analysis) analysis.json, with one key per
analysis (and `run`: the checkpoint and data), and one PNG per analysis:

  views.png      bits/dim, KL, PSNR of the mean render, best-of-N MSE and the spread of
                 prior samples against the number of context views K = 0 ... the
                 dataset's maximum, on the same query of the same test scenes
  probes.png     linear-probe scores of each scene factor from r, from r at
                 initialisation and from one view's pixels; dashed: chance
  embedding.png  2-D PCA and t-SNE of single-view r of a few scenes, coloured by scene,
                 beside the pixels (or the GQN-VAE's r with --vae_model_dir)
  algebra.png    quadruples A, B, C, D, the render of r_A - r_B + r_C from D's camera,
                 and the renders of r_A, r_C and D's own r_D alone, for each
                 factor's quadruples and then (rooms) those with the object in place

probes and algebra need the scene factors this project's renderer writes beside its
records (python -m data_provider.scenes.render); views and embedding run on any dataset.
The analyses themselves are in gqn/analysis.py and its gqn/analysis_*.py modules.
"""

import argparse
import os
import sys
import time

from data_provider import flag_types
from data_provider import logs
# TensorFlow's C++ start-up lines would hide the tool's own output; it reads the level
# once, at import.
logs.quiet_tensorflow_startup()

import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top

from data_provider import gqn_tfr_provider
from gqn import analysis
from gqn import flags


def _parser():
  parser = argparse.ArgumentParser(
      description=__doc__.split('\n\n')[0],
      formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
  # What to analyse.
  parser.add_argument('--model_dir', required=True,
                      help='Model directory (its gqn_config.json and latest checkpoint).')
  parser.add_argument('--checkpoint', default=None,
                      help='A checkpoint prefix instead of the latest in --model_dir.')
  parser.add_argument('--data_dir', required=True, help='Root of the datasets.')
  parser.add_argument('--dataset', required=True, choices=gqn_tfr_provider.dataset_names(),
                      help='Dataset name.')
  parser.add_argument('--analyses', default=','.join(analysis.ANALYSES),
                      help='Comma-separated, from: %s.' % ','.join(analysis.ANALYSES))
  parser.add_argument('--output_dir', default=None,
                      help='Where analysis.json and the PNGs go '
                      '(default: <model_dir>/analysis).')
  parser.add_argument('--vae_model_dir', default=None,
                      help='A GQN-VAE model directory: the embedding compares with its r '
                      'instead of the pixels.')
  # How much of it: counts, each at least 1.
  for name, default, text in (
      ('num_scenes', 32, 'Test scenes of the views analysis.'),
      ('num_samples', 8, 'Prior samples per scene (best-of-N MSE, spread).'),
      ('probe_scenes', analysis.PROBE_SCENES, 'Train scenes the probes are fitted on, '
       'and test scenes they are scored on (at most). Fewer starve the shape probe '
       '(docs/experiments.md, section 20); at %d the pixels\' probe takes most of the '
       'analysis\' time, about 8 minutes on 2 cores.' % analysis.PROBE_SCENES),
      ('embedding_scenes', 8, 'Scenes of the embedding, every view of each.'),
      ('quadruples', analysis.ALGEBRA_QUADRUPLES, 'Scene-algebra quadruples per factor.')):
    parser.add_argument('--' + name, type=flag_types.positive_int, default=default,
                        help=text)
  parser.add_argument('--seed', type=int, default=0,
                      help='Seed of the untrained network (probes), of t-SNE '
                      '(embedding) and of the algebra scenes.')
  # The config of a model directory without gqn_config.json (tf-gqn's snapshots).
  flags.define_config_flags(parser, encoder=True)
  logs.add_verbose_flag(parser)
  return parser


def main(argv=None):
  args = _parser().parse_args(argv)
  logs.setup(args.verbose)
  names = [name.strip() for name in args.analyses.split(',') if name.strip()]
  start = time.time()
  progress = lambda line: print('[%5.0fs] %s' % (time.time() - start, line), flush=True)
  try:
    analysis.check_analyses(names)
    results = analysis.analyze(
        args.model_dir, args.data_dir, args.dataset, names, args.output_dir,
        args.checkpoint, args.vae_model_dir, args.num_scenes, args.num_samples,
        args.probe_scenes, args.embedding_scenes, args.quadruples, args.seed,
        args.preset, flags.config_overrides(args), progress)
  except (ValueError, FileNotFoundError, tf.errors.OpError) as error:
    print('analyze_gqn.py: %s' % error, file=sys.stderr)
    return 2
  print(analysis.result_table(results))
  print('Wrote %s' % os.path.join(args.output_dir or os.path.join(args.model_dir, 'analysis'),
                                 'analysis.json'))
  return 0


if __name__ == '__main__':
  sys.exit(main())
