"""The GQN demo: render a small rooms dataset, train the tiny GQN on it, evaluate it.

  python3 demo.py            (or `make demo`, which also sets up the environment)

1. Renders `synth_rooms_ring_camera` (this project's look-alike of DeepMind's
   rooms_ring_camera) into --data_dir, unless it is already there.
2. Trains the `tiny` preset for --steps steps into --run_dir/model (a second run trains on
   from the checkpoint, and does nothing once --steps is reached), in bfloat16 on a CPU
   that computes it natively (`--mixed_precision auto`).
3. Evaluates it on the test split with eval_gqn.py, writing metrics and pictures into
   --run_dir, and prints the error of the model's mean render next to two baselines
   computed on the same examples: the mean of the context views, and the context view
   nearest the query camera; then how much its samples differ, and where.
   The fly-through (flight.gif) is generated from a single context image.
4. Renders the fly-through of the published rooms snapshot (models/synth_rooms_ring_camera,
   trained by `make results`) from the same single image, and writes both side by side
   (flight_beside_snapshot.gif: the demo's model left, the snapshot right).
Training stops after --steps or --train_minutes (9), whichever comes first, so that the
demo ends within about 15 minutes on 2 CPU cores, setting up included.
"""

import argparse
import math
import os
import sys

from data_provider import flag_types
from data_provider import logs
# TensorFlow's C++ start-up lines would hide the tool's own output; it reads the level
# once, at import.
logs.quiet_tensorflow_startup()

from data_provider.scenes import render  # pylint: disable=g-import-not-at-top
from gqn import evaluation
from gqn import gqn_params
from gqn import interrupts
from gqn import pictures
from gqn import precision
from gqn import training

DATASET = 'synth_rooms_ring_camera'
# The published snapshot of the same dataset (results.py writes it).
SNAPSHOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'models', DATASET)
PRESET = 'tiny'
FLIGHT_VIEWS = 36
# Training stops here at the latest: with setting up, rendering and evaluating, the demo
# then ends within 15 minutes on 2 cores whatever the CPU.
TRAIN_MINUTES = 9.0


def run_demo(data_dir, run_dir, train_scenes, test_scenes, steps, batch_size, eval_examples,
             seed=0, workers=None, snapshot_dir=SNAPSHOT, train_minutes=None):
  """Renders, trains and evaluates; returns the metrics dict of evaluation.evaluate."""
  print('[1/4] Rendering %d training and %d test scenes of %s into %s'
        % (train_scenes, test_scenes, DATASET, data_dir), flush=True)
  render.render_dataset(data_dir, DATASET, train_scenes, test_scenes, seed=seed,
                        workers=workers)

  model_dir = os.path.join(run_dir, 'model')
  # The recipe's schedule as it is, not annealed over the demo's shorter run: at 10000
  # steps that rendered worse (docs/experiments.md, section 9).
  config = gqn_params.preset(PRESET)
  print('[2/4] Training the %s GQN for %d steps (batch %d)%s in %s'
        % (PRESET, steps, batch_size,
           ' or %g minutes, whichever comes first' % train_minutes if train_minutes else '',
           model_dir), flush=True)
  training.train(config, data_dir, DATASET, model_dir, training.TrainOptions(
      batch_size=batch_size, max_steps=steps, chkpt_steps=max(steps // 4, 1),
      log_steps=max(steps // 5, 1), seed=seed, max_minutes=train_minutes,
      mixed_precision=precision.AUTO))

  print('[3/4] Evaluating on %d test examples; pictures go to %s' % (eval_examples, run_dir),
        flush=True)
  metrics = evaluation.evaluate(model_dir, data_dir, DATASET, max_examples=eval_examples,
                                batch_size=50, output_dir=run_dir, seed=seed,
                                flight=FLIGHT_VIEWS, flight_context=1,
                                report=False)  # The demo prints its own verdict.
  if snapshot_dir and os.path.isdir(snapshot_dir):
    print('[4/4] The published snapshot %s renders the same scene from the same image'
          % snapshot_dir, flush=True)
    out = os.path.join(run_dir, 'snapshot')
    # Few examples: only its fly-through is wanted; nothing is written into the snapshot.
    evaluation.evaluate(snapshot_dir, data_dir, DATASET, max_examples=4, batch_size=4,
                        output_dir=out, seed=seed, flight=FLIGHT_VIEWS, flight_context=1,
                        num_samples=1, report=False, progress=False, summaries=False)
    pictures.write_gifs_side_by_side(
        os.path.join(run_dir, 'flight_beside_snapshot.gif'),
        [os.path.join(run_dir, 'flight.gif'), os.path.join(out, 'flight.gif')])
  else:
    print('[4/4] No published snapshot in %s: skipped its fly-through.' % snapshot_dir,
          flush=True)
  return metrics


def _psnr(mse):
  return -10.0 * math.log10(mse)


def summary_lines(metrics):
  """The demo's verdict: the mean render against the two baselines, and the samples."""
  model = metrics['mean_render_mse']
  baselines = metrics['baselines']
  lines = ['Mean render on %d test examples (images in [0, 1]):' % metrics['num_examples'],
           '  %-30s %-9s %s' % ('', 'MSE', 'PSNR'),
           '  %-30s %.5f   %.1f dB' % ('GQN (%s, %d steps)' % (PRESET, metrics['global_step']),
                                        model, _psnr(model))]
  for name, label in (('context_mean_mse', 'mean of the context views'),
                      ('nearest_context_mse', 'nearest context view')):
    value = baselines[name]
    lines.append('  %-30s %.5f   %.1f dB  (GQN is %.0f%% lower in MSE)'
                 % (label, value, _psnr(value), 100.0 * (value - model) / value))
  lines.append('Samples: KL %.2f nats; %d samples differ by %.3f per pixel (std); '
               'spread-error correlation %.2f (> 0: unsure where wrong)'
               % (metrics['kl_nats'], metrics['num_samples'], metrics['sample_spread'],
                  metrics['spread_error_correlation']))
  return lines


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   allow_abbrev=False)
  parser.add_argument('--data_dir', default='data', help='Where the dataset is rendered.')
  parser.add_argument('--run_dir', default=os.path.join('runs', 'demo'),
                      help='Model, metrics and pictures.')
  parser.add_argument('--train_scenes', type=flag_types.positive_int, default=3000)
  parser.add_argument('--test_scenes', type=flag_types.positive_int, default=200)
  parser.add_argument('--steps', type=flag_types.positive_int, default=10000,
                      help='Training steps.')
  parser.add_argument('--train_minutes', type=float, default=TRAIN_MINUTES,
                      help='Stop training after this many minutes even before --steps, so '
                      'that the demo ends in about a quarter of an hour on a slower CPU '
                      '(0: no limit).')
  parser.add_argument('--batch_size', type=flag_types.positive_int, default=16)
  parser.add_argument('--eval_examples', type=flag_types.positive_int, default=200)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--workers', type=flag_types.positive_int, default=None,
                      help='Rendering processes (default: one per CPU).')
  logs.add_verbose_flag(parser)
  args = parser.parse_args(argv)
  logs.setup(args.verbose)
  metrics, code = interrupts.run_command('demo.py', lambda: run_demo(
      args.data_dir, args.run_dir, args.train_scenes, args.test_scenes, args.steps,
      args.batch_size, args.eval_examples, args.seed, args.workers,
      train_minutes=args.train_minutes or None), 'it trains on from the last checkpoint.')
  if code:
    return code
  print()
  print('\n'.join(summary_lines(metrics)))
  beside = os.path.join(args.run_dir, 'flight_beside_snapshot.gif')
  print('Pictures: %s (context | target | mean render | samples), %s, %s (from one image)%s'
        % (tuple(os.path.join(args.run_dir, name)
                 for name in ('scenes.png', 'canvas_sequence.png', 'flight.gif'))
           + (', %s (beside the published snapshot\'s)' % beside
              if os.path.exists(beside) else '',)))
  return 0


if __name__ == '__main__':
  sys.exit(main())
