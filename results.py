"""The project's published learning result: render, train, evaluate and analyse, per dataset.

  python3 results.py                  (or `make results`, which also sets up the environment)
  python3 results.py --datasets synth_rooms_ring_camera

For each dataset of the recipe (RECIPES) it
1. renders the training and test scenes into --data_dir (data/results; skipped when
   already there);
2. trains the recipe's preset with its batch size and steps, its learning rate
   annealed over those steps and, where the recipe says, a late pixel sigma, into
   --run_dir/<dataset>/model, keeping every checkpoint (a second run trains on, and does
   nothing once the steps are reached);
3. evaluates every checkpoint on the same test examples: curves.csv and curves.png in
   --run_dir/<dataset> (PSNR, KL, ELBO and the baselines against step and training time);
4. evaluates the last checkpoint with pictures (scenes.png, canvas_sequence.png and
   flight.gif, the fly-through generated from a single context image);
5. runs the analyses of the representation (analyze_gqn.py) into --run_dir/<dataset>/analysis;
6. publishes the last checkpoint as the snapshot --models_dir/<dataset> (gqn/snapshots.py:
   gqn_config.json, the checkpoint without optimizer slots, metrics.json);
and prints one row per dataset of the README's results table. The same recipe as flags:
  python3 train_gqn_draw.py --preset PRESET --batch_size BATCH --max_steps STEPS \\
      --anneal_lr_tau STEPS --sigma_late SIGMA --sigma_late_step LATE \\
      --mixed_precision auto --chkpt_steps 2500 --keep_checkpoints 0 --seed 0 \\
      --dataset NAME ...
"""

import argparse
import collections
import json
import os
import sys
import time

from data_provider import logs
# TensorFlow's C++ start-up lines would hide the tool's own output; it reads the level
# once, at import.
logs.quiet_tensorflow_startup()

from data_provider.scenes import render  # pylint: disable=g-import-not-at-top
from gqn import analysis
from gqn import evaluation
from gqn import gqn_params
from gqn import interrupts
from gqn import precision
from gqn import snapshots
from gqn import train_clock
from gqn import training

# The measured recipe per dataset (docs/experiments.md, sections 9 to 13 and 18): a
# preset, scenes rendered and steps of batch 16, the learning rate annealed over the
# recipe's steps, in bfloat16 where the CPU computes it natively; the snapshots in
# models/ are these runs' last checkpoints. Each renders 10000 training scenes: over an
# hour, 3000 rooms are overfitted (section 11); the 200 test scenes are the same either
# way. From sigma_late_step on, the pixel sigma is sigma_late instead of 0.7: over the
# last 30000 steps of the hour the latent then carries more of what the views leave
# open, for the same mean render (sections 12, 13 and 18). The steps are the hour's
# compute: at the tiny step's benchmarked 0.027 s in bfloat16 on 2 quiet cores of an AMX
# CPU, 130000 steps are 58 minutes, and the small preset's step costs 1.028x tiny's, so
# its hour is 126000 steps (section 18). An AMD EPYC with AVX512_BF16 but no AMX
# (section 16) steps 2.1x as long, and the AMD EPYC of section 6, without AVX-512, 4.4x.
# Shepard-Metzler's hour with small renders 1.4% better than tiny's, KL 2.05 against 1.73
# (section 21).
Recipe = collections.namedtuple('Recipe', ['train_scenes', 'test_scenes', 'steps',
                                           'sigma_late_step', 'sigma_late', 'preset'],
                                # sigma_late_step 0: no late stage of the pixel sigma
                                defaults=(0, None, 'tiny'))
# One hour's recipe serves both datasets.
HOUR = Recipe(10000, 200, 126000, 97000, 0.45, 'small')
RECIPES = collections.OrderedDict([
    ('synth_rooms_ring_camera', HOUR),
    ('synth_shepard_metzler_7_parts', HOUR),
])
BATCH_SIZE = 16
CHECKPOINT_STEPS = 2500
EVAL_EXAMPLES = 200
NUM_SAMPLES = 3


def recipe_config(recipe):
  """The GQNConfig a recipe trains: its preset, annealed over its steps, its late sigma."""
  # The learning rate anneals over the run's own steps, so it reaches its floor as the
  # run ends (docs/experiments.md, sections 8 and 9).
  fields = {'ANNEAL_LR_TAU': recipe.steps}
  if recipe.sigma_late_step:
    fields['SIGMA_LATE_STEP'] = recipe.sigma_late_step
  if recipe.sigma_late is not None:  # None: the preset's own
    fields['GENERATOR_SIGMA_LATE'] = recipe.sigma_late
  return gqn_params.create_gqn_config(fields, base=gqn_params.preset(recipe.preset))


def run_dataset(dataset, recipe, data_dir, run_dir, models_dir, seed=0, analyses=True):
  """Renders, trains, evaluates, analyses and publishes one dataset; returns its row."""
  out = os.path.join(run_dir, dataset)
  model_dir = os.path.join(out, 'model')
  print('%s: rendering %d + %d scenes' % (dataset, recipe.train_scenes, recipe.test_scenes),
        flush=True)
  render.render_dataset(data_dir, dataset, recipe.train_scenes, recipe.test_scenes,
                        seed=seed)
  print('%s: training the %s GQN for %d steps of batch %d'
        % (dataset, recipe.preset, recipe.steps, BATCH_SIZE), flush=True)
  config = recipe_config(recipe)
  training.train(config, data_dir, dataset, model_dir,
                 training.TrainOptions(batch_size=BATCH_SIZE, max_steps=recipe.steps,
                                       chkpt_steps=CHECKPOINT_STEPS, keep_checkpoints=0,
                                       log_steps=500, seed=seed,
                                       mixed_precision=precision.AUTO))
  print('%s: evaluating every checkpoint on %d test examples' % (dataset, EVAL_EXAMPLES),
        flush=True)
  options = dict(max_examples=EVAL_EXAMPLES, batch_size=50, seed=seed,
                 num_samples=NUM_SAMPLES)
  evaluation.evaluate_all(model_dir, data_dir, dataset, output_dir=out, **options)
  metrics = evaluation.evaluate(model_dir, data_dir, dataset, output_dir=out, flight=36,
                                flight_context=1, report=False, progress=False, **options)
  if analyses:
    print('%s: analysing the representation' % dataset, flush=True)
    analysis.analyze(model_dir, data_dir, dataset, output_dir=os.path.join(out, 'analysis'),
                     num_scenes=24, seed=seed,
                     progress=lambda line: print('  ' + line, flush=True))
  published = os.path.join(models_dir, dataset)
  snapshots.publish(model_dir, published, metrics)
  print('%s: snapshot of step %d published in %s' % (dataset, metrics['global_step'],
                                                     published), flush=True)
  times = train_clock.read_training_times(model_dir)
  row = collections.OrderedDict([
      ('dataset', dataset), ('steps', metrics['global_step']),
      ('training_minutes', times.get(metrics['global_step'], float('nan')) / 60.0),
      ('psnr_db', metrics['psnr_db']), ('ssim', metrics['ssim']),
      ('mean_render_mse', metrics['mean_render_mse']), ('kl_nats', metrics['kl_nats']),
      ('best_of_n_mse', metrics['best_of_n_mse']),
      ('context_mean_mse', metrics['baselines']['context_mean_mse']),
      ('nearest_context_mse', metrics['baselines']['nearest_context_mse'])])
  with open(os.path.join(out, 'results.json'), 'w') as f:
    json.dump(row, f, indent=2)
  return row


def table(rows):
  """The results as the README's Markdown table.

  The training minutes are wall time: the compute only where nothing else shared the
  machine (resumed runs count the time of every part).
  """
  lines = ['| dataset | steps | training wall time (min) | PSNR (dB) | SSIM | MSE | '
           'KL (nats) | best of %d MSE | context mean MSE | nearest view MSE |' % NUM_SAMPLES,
           '|---|---|---|---|---|---|---|---|---|---|']
  for row in rows:
    lines.append('| %s | %d | %.0f | %.2f | %.3f | %.5f | %.2f | %.5f | %.5f | %.5f |' % (
        row['dataset'], row['steps'], row['training_minutes'], row['psnr_db'], row['ssim'],
        row['mean_render_mse'], row['kl_nats'], row['best_of_n_mse'],
        row['context_mean_mse'], row['nearest_context_mse']))
  return '\n'.join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   allow_abbrev=False)
  parser.add_argument('--datasets', default=','.join(RECIPES),
                      help='Comma-separated datasets of the recipe: %s.' % ', '.join(RECIPES))
  # Not data/, where `make demo` renders its 3000 rooms scenes: the recipe renders 10000,
  # and one directory for both would re-render the training split at every switch.
  parser.add_argument('--data_dir', default=os.path.join('data', 'results'),
                      help='Where the datasets are rendered (default: data/results).')
  parser.add_argument('--run_dir', default=os.path.join('runs', 'results'),
                      help='Models, curves, pictures and analyses.')
  parser.add_argument('--models_dir', default='models',
                      help='Where the snapshots are published, one directory per dataset.')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--no_analyses', action='store_true',
                      help='Skip the analyses of the representation.')
  logs.add_verbose_flag(parser)
  args = parser.parse_args(argv)
  logs.setup(args.verbose)
  names = [name.strip() for name in args.datasets.split(',') if name.strip()]
  unknown = [name for name in names if name not in RECIPES]
  if unknown or not names:
    print('results.py: error: --datasets %r: choose from %s.'
          % (args.datasets, ', '.join(RECIPES)), file=sys.stderr)
    return 2
  start = time.time()
  rows, code = interrupts.run_command('results.py', lambda: [
      run_dataset(name, RECIPES[name], args.data_dir, args.run_dir, args.models_dir,
                  args.seed, analyses=not args.no_analyses) for name in names],
      'it trains on from the last checkpoint and evaluates only the checkpoints not yet '
      'evaluated.')
  if code:
    return code
  print()
  print(table(rows))
  print('(%.0f minutes in all; curves, pictures and analyses in %s)'
        % ((time.time() - start) / 60.0, args.run_dir))
  return 0


if __name__ == '__main__':
  sys.exit(main())
