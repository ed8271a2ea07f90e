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
  curves.csv, curves.png  (--all_checkpoints) every checkpoint evaluated on the same
                       examples: PSNR, SSIM, KL, ELBO and the baselines against the step
                       and the training time (gqn/curves.py)
and with --export_dir a SavedModel of the mean render (see gqn/gqn_predictor.py).

The metrics (generation_mse, mean_render_mse and its colour part, psnr_db, ssim,
best_of_n_mse, sample_spread, spread_error_correlation, elbo_nats, bits_per_dim,
kl_per_step and two baselines) are defined in gqn/evaluation.py, which does the work.
"""

import argparse
import sys

from data_provider import flag_types
from data_provider import logs
# TensorFlow's C++ start-up lines would hide the tool's own output; it reads the level
# once, at import.
logs.quiet_tensorflow_startup()

from gqn import evaluation
from gqn import flags
from gqn import interrupts
# The library's entry points, importable from the script as before.
from data_provider.camera import flight_cameras  # pylint: disable=unused-import
from data_provider.camera import nearest_context_view  # pylint: disable=unused-import
from gqn.evaluation import evaluate  # pylint: disable=unused-import


def _parser():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   allow_abbrev=False)
  # Model.
  parser.add_argument('--model_dir', required=True,
                      help='Model directory: checkpoints and, if trained here, gqn_config.json.')
  parser.add_argument('--checkpoint', default=None,
                      help='A checkpoint prefix, e.g. <model_dir>/model.ckpt-220000 '
                      '(default: the latest in --model_dir).')
  parser.add_argument('--all_checkpoints', action='store_true',
                      help='Evaluate every checkpoint of --model_dir on the same examples '
                      'and draw the learning curve: curves.csv and curves.png in '
                      '--output_dir, each checkpoint\'s metrics and pictures in '
                      'model.ckpt-STEP/ beside them.')
  # Config, for models without gqn_config.json (tf-gqn's snapshots). Fields the
  # checkpoint determines (encoder, channels, kernel sizes) are read off it.
  flags.define_config_flags(parser, encoder=True)
  # Data.
  parser.add_argument('--data_dir', default='/tmp/data/gqn-dataset',
                      help='Root of the gqn-datasets directories.')
  parser.add_argument('--dataset', required=True,
                      help='Dataset name, e.g. rooms_ring_camera: its test split is used.')
  parser.add_argument('--max_examples', type=int, default=256,
                      help='Test examples to evaluate (0: the whole test split).')
  parser.add_argument('--batch_size', type=flag_types.positive_int, default=16)
  parser.add_argument('--seed', type=int, default=0,
                      help='Seeds the views of each example and the latent draws.')
  parser.add_argument('--skip_corrupt_records', action='store_true',
                      help='Skip bad records (damaged files, frames that are not JPEG '
                      'images of the dataset\'s size, non-finite cameras), reporting '
                      'their number and files, instead of stopping at the first one.')
  # Outputs.
  parser.add_argument('--output_dir', default=None,
                      help='Metrics and pictures (default: <model_dir>/eval).')
  parser.add_argument('--flight', type=flag_types.non_negative_int, default=0,
                      help='Render a fly-through of K frames along the camera ring of the '
                      'first scene to flight.gif.')
  parser.add_argument('--flight_context', type=flag_types.positive_int, default=None,
                      help='Context views the fly-through looks at (default: all); 1 '
                      'generates the scene from a single image.')
  parser.add_argument('--num_scenes', type=flag_types.positive_int, default=4,
                      help='Scenes in scenes.png.')
  parser.add_argument('--num_samples', type=int, default=3,
                      help='N, renders drawn from the prior per example: best_of_n_mse and '
                      'sample_spread in metrics.json, and samples per scene in scenes.png.')
  parser.add_argument('--export_dir', default=None,
                      help='Also export a SavedModel of the mean render to this new '
                      'directory.')
  logs.add_verbose_flag(parser)
  return parser


def main(argv=None):
  args = _parser().parse_args(argv)
  logs.setup(args.verbose)
  try:
    options = dict(
        preset=args.preset, config_overrides=flags.config_overrides(args),
        max_examples=args.max_examples, batch_size=args.batch_size, seed=args.seed,
        flight=args.flight, flight_context=args.flight_context,
        num_scenes=args.num_scenes, num_samples=args.num_samples,
        skip_corrupt_records=args.skip_corrupt_records)
    if args.all_checkpoints:
      if args.checkpoint or args.export_dir:
        raise ValueError('--all_checkpoints evaluates every checkpoint; leave out '
                         '--checkpoint and --export_dir.')
      evaluation.evaluate_all(args.model_dir, args.data_dir, args.dataset,
                              output_dir=args.output_dir, **options)
    else:
      evaluation.evaluate(args.model_dir, args.data_dir, args.dataset,
                          checkpoint=args.checkpoint, output_dir=args.output_dir,
                          export_dir=args.export_dir, **options)
  except (ValueError, IOError) as error:
    print('eval_gqn.py: error: %s' % error, file=sys.stderr)
    return interrupts.EXIT_BAD_INPUT
  return 0


if __name__ == '__main__':
  sys.exit(main())
