"""Trains a GQN with the DRAW renderer on a gqn-datasets dataset.

  python3 train_gqn_draw.py --data_dir /data/gqn-dataset --dataset rooms_ring_camera \
      --model_dir /models/gqn_rooms

The model directory records the config (`gqn_config.json`) and checkpoints; running the
same command again continues from the last checkpoint with the recorded config.

Several GPUs of one machine: add `--distribution mirrored` (`--batch_size` is per GPU).
Several machines: `--distribution multi_worker` (synchronous) or `parameter_server`
(asynchronous), the same command in every process with TF_CONFIG set to its role and a
shared --model_dir; see gqn/distribute.py.

The training itself is gqn/training.py's `train`; this script maps flags to it.
"""

import argparse
import sys

from data_provider import flag_types
from data_provider import logs
# TensorFlow's C++ start-up lines would hide the tool's own output; it reads the level
# once, at import.
logs.quiet_tensorflow_startup()

from gqn import distribute as distribute_lib
from gqn import flags
from gqn import interrupts
from gqn import model_dir as model_dir_lib
from gqn import training
# The library's entry points, importable from the script as before.
from gqn.estimator import make_estimator  # pylint: disable=unused-import
from gqn.training import TrainOptions  # pylint: disable=unused-import
from gqn.training import train  # pylint: disable=unused-import


def _parser():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   allow_abbrev=False)
  # Data.
  parser.add_argument('--data_dir', default='/tmp/data/gqn-dataset',
                      help='Root of the gqn-datasets directories.')
  parser.add_argument('--dataset', default='shepard_metzler_5_parts',
                      help='Dataset name, e.g. rooms_ring_camera.')
  parser.add_argument('--queue_threads', type=flag_types.positive_int, default=4,
                      help='Parallel threads reading and decoding records.')
  parser.add_argument('--queue_buffer', type=flag_types.positive_int, default=64,
                      help='Shuffle buffer size, in examples.')
  parser.add_argument('--skip_corrupt_records', action='store_true',
                      help='Skip bad records (damaged files, frames that are not JPEG '
                      'images of the dataset\'s size, non-finite cameras), reporting '
                      'their number and files at the end, instead of stopping at the '
                      'first one.')
  # Model. Unset config flags take the preset's value, or the model directory's
  # gqn_config.json; the learning-rate flags are among them.
  parser.add_argument('--model_dir', default='/tmp/models/gqn',
                      help='Checkpoints, summaries and gqn_config.json.')
  flags.define_config_flags(parser, schedule=True)
  # Optimisation.
  parser.add_argument('--batch_size', type=flag_types.positive_int, default=36)
  parser.add_argument('--train_epochs', type=flag_types.positive_int, default=None,
                      help='Passes over the training data (default: no limit).')
  parser.add_argument('--max_steps', type=flag_types.positive_int, default=None,
                      help='Stop at this global step.')
  parser.add_argument('--max_minutes', type=float, default=None,
                      help='Stop once this run has trained this long (a checkpoint of the '
                      'step reached is saved).')
  parser.add_argument('--seed', type=int, default=None)
  parser.add_argument('--init_from', default=None, metavar='SNAPSHOT_DIR',
                      help='Start a new --model_dir from a published snapshot (e.g. '
                      'models/synth_rooms_ring_camera): its config, variables and global '
                      'step, with fresh optimizer slots.')
  # Runtime and logging.
  parser.add_argument('--chkpt_steps', type=flag_types.positive_int, default=10000,
                      help='Checkpoint interval.')
  parser.add_argument('--keep_checkpoints', type=flag_types.non_negative_int, default=5,
                      help='Newest checkpoints kept (0: all of them, for eval_gqn.py '
                      '--all_checkpoints to draw the learning curve of every one).')
  parser.add_argument('--log_steps', type=flag_types.positive_int, default=100,
                      help='Log and summary interval, in steps.')
  logs.add_verbose_flag(parser)
  parser.add_argument('--memcap', type=float, default=1.0,
                      help='Fraction of GPU memory to use.')
  parser.add_argument('--debug', action='store_true',
                      help='Write image and scalar summaries for TensorBoard.')
  parser.add_argument('--initial_eval', action='store_true',
                      help='Evaluate on the test split before training.')
  parser.add_argument('--xla', action='store_true',
                      help='Compile the graphs with XLA (global JIT; on CPU it also sets '
                      'TF_XLA_FLAGS=--tf_xla_cpu_global_jit).')
  parser.add_argument('--mixed_precision', choices=('float16', 'bfloat16', 'auto'),
                      default=None,
                      help='Compute in this dtype (GPUs: float16; CPUs with bfloat16 '
                      'support: bfloat16; auto: bfloat16 on a CPU with AMX or AVX512_BF16, '
                      'else float32); variables and checkpoints stay float32.')
  # Distribution. --batch_size is per replica; steps count global updates.
  parser.add_argument('--distribution', choices=distribute_lib.MODES,
                      default=distribute_lib.NONE,
                      help='none: one device. mirrored: synchronous over the GPUs of this '
                      'machine. multi_worker: synchronous over the machines in TF_CONFIG. '
                      'parameter_server: asynchronous, variables on the TF_CONFIG "ps" '
                      'tasks.')
  parser.add_argument('--num_gpus', type=flag_types.positive_int, default=None,
                      help='mirrored: use the first N GPUs (default: all; the CPU if '
                      'there is none).')
  parser.add_argument('--devices', default=None,
                      help='mirrored: comma-separated devices, e.g. /gpu:0,/gpu:2.')
  parser.add_argument('--eval_steps', type=flag_types.positive_int, default=10,
                      help='multi_worker / parameter_server: test batches per '
                      'evaluation of the evaluator task.')
  parser.add_argument('--eval_throttle_secs', type=int, default=600,
                      help='multi_worker / parameter_server: least seconds between two '
                      'evaluations.')
  return parser


def _train(args):
  """Trains as the flags say; raises ValueError / IOError on bad input."""
  # A new run from a snapshot takes the snapshot's recorded config.
  config_dir = args.model_dir
  if args.init_from and model_dir_lib.read_config(args.model_dir) is None:
    config_dir = args.init_from
  resolved = model_dir_lib.resolve_config(config_dir, args.preset,
                                          flags.config_overrides(args))
  if args.sigma_late is not None and not resolved.config.SIGMA_LATE_STEP:
    raise ValueError('--sigma_late %g has no step to start from; give --sigma_late_step '
                     '(e.g. 100000 for a 130000-step run).' % args.sigma_late)
  if resolved.recorded:
    logs.logger.info('Training on with the config recorded in %s.', resolved.source)
  distribution = distribute_lib.make_distribution(
      args.distribution, num_gpus=args.num_gpus,
      devices=(None if args.devices is None else
               [name.strip() for name in args.devices.split(',') if name.strip()]))
  options = training.TrainOptions(**dict(
      {name: getattr(args, name) for name in training.TrainOptions._fields
       if hasattr(args, name)}, distribution=distribution))
  training.train(resolved.config, args.data_dir, args.dataset, args.model_dir, options)


def main(argv=None):
  args = _parser().parse_args(argv)
  logs.setup(args.verbose)
  unused_result, code = interrupts.run_command(
      'train_gqn_draw.py', lambda: _train(args),
      'it trains on from the last checkpoint in --model_dir.')
  return code


if __name__ == '__main__':
  sys.exit(main())
