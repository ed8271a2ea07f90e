"""Learning curves: every checkpoint of a model directory evaluated, as curves.csv and curves.png.

The curve answers "is it learning, and how long until it renders the scene": PSNR of the
mean render, KL and ELBO against the global step and against the training time recorded
at each checkpoint (gqn/train_clock.py), beside the two baselines computed on the same
examples (the mean of the context views, the nearest context view). Each evaluation is
also written as TensorBoard scalars beside the training run's event files
(`write_summaries`), a point of the curves of the `eval` run.
"""

import collections
import csv
import glob
import json
import math
import os
import re

import tensorflow.compat.v1 as tf

from gqn import figures
from gqn import train_clock

# Columns of curves.csv, in order.
COLUMNS = ('global_step', 'training_seconds', 'psnr_db', 'ssim', 'mean_render_mse',
           'generation_mse', 'best_of_n_mse', 'sample_spread', 'kl_nats', 'elbo_nats',
           'bits_per_dim', 'context_mean_psnr_db', 'nearest_context_psnr_db')


def checkpoint_steps(model_dir):
  """Returns [(global step, checkpoint prefix)] of every complete checkpoint, by step."""
  found = []
  for index in glob.glob(os.path.join(model_dir, 'model.ckpt-*.index')):
    prefix = index[:-len('.index')]
    match = re.search(r'model\.ckpt-(\d+)$', prefix)
    if match and glob.glob(prefix + '.data-*'):
      found.append((int(match.group(1)), prefix))
  return sorted(found)


def _psnr(mse):
  return float('nan') if mse is None else (float('inf') if mse <= 0 else -10 * math.log10(mse))


def curve_row(metrics, training_seconds):
  """One row of curves.csv from an evaluation's metrics dict."""
  baselines = metrics.get('baselines', {})
  row = {name: metrics.get(name, float('nan')) for name in COLUMNS}
  row['training_seconds'] = float('nan') if training_seconds is None else training_seconds
  row['context_mean_psnr_db'] = _psnr(baselines.get('context_mean_mse'))
  row['nearest_context_psnr_db'] = _psnr(baselines.get('nearest_context_mse'))
  return row


def metrics_measured_before(out, prefix, dataset, seed, num_examples, num_samples):
  """The metrics.json in `out` if it measured checkpoint `prefix` on these examples.

  It must be newer than the checkpoint and name the same checkpoint, dataset, seed,
  number of examples and of samples; else None, and the checkpoint is evaluated again.
  """
  path = os.path.join(out, 'metrics.json')
  try:
    if os.path.getmtime(path) < os.path.getmtime(prefix + '.index'):
      return None
    with open(path) as f:
      metrics = json.load(f)
  except (IOError, OSError, ValueError):
    return None
  wanted = {'dataset': dataset, 'seed': seed, 'num_examples': num_examples,
            'num_samples': num_samples}
  if (os.path.basename(str(metrics.get('checkpoint'))) != os.path.basename(prefix)
      or any(metrics.get(key) != value for key, value in wanted.items())):
    return None
  return metrics


def evaluate_checkpoints(model_dir, evaluate_checkpoint, output_dir, progress=print):
  """Evaluates every checkpoint of `model_dir`; writes curves.csv and curves.png.

  Args:
    model_dir: the model directory.
    evaluate_checkpoint: function(checkpoint prefix) -> the metrics dict of one evaluation
      (the keys of eval_gqn's metrics.json), all on the same examples.
    output_dir: where curves.csv and curves.png go.
    progress: function(str) told of each checkpoint's result.

  Returns:
    (rows, written paths).

  Raises:
    ValueError: `model_dir` holds no checkpoint.
  """
  steps = checkpoint_steps(model_dir)
  if not steps:
    raise ValueError('%s holds no checkpoint (model.ckpt-*.index); train a model there '
                     'first.' % model_dir)
  times = train_clock.read_training_times(model_dir)
  rows = []
  for number, (step, prefix) in enumerate(steps, 1):
    row = curve_row(evaluate_checkpoint(prefix), times.get(step))
    rows.append(row)
    progress('checkpoint %d/%d, step %d: PSNR %.2f dB, KL %.2f nats'
             % (number, len(steps), step, row['psnr_db'], row['kl_nats']))
  os.makedirs(output_dir, exist_ok=True)
  csv_path = os.path.join(output_dir, 'curves.csv')
  with open(csv_path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
      writer.writerow({k: ('%.6g' % v if isinstance(v, float) else v) for k, v in row.items()})
  png_path = os.path.join(output_dir, 'curves.png')
  name = os.path.basename(os.path.normpath(model_dir))
  if name == 'model':  # results.py's and the demo's layout: name the run, not 'model'
    name = os.path.basename(os.path.dirname(os.path.normpath(model_dir)))
  plot_curves(rows, png_path, title=name)
  return rows, [csv_path, png_path]


def read_curves(path):
  """Reads a curves.csv back as a list of {column: float}."""
  with open(path) as f:
    return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def plot_curves(rows, path, title=''):
  """Writes curves.png: PSNR (with the baselines), KL and -ELBO against the step.

  One figure; a second row shows the same against the training time when every row has
  one (model directories trained before the training clock have none).

  The untrained checkpoint (step 0) is left out when there are later ones: its KL and
  ELBO are orders of magnitude above the rest and would flatten every curve.
  """
  rows = [row for row in rows if row['global_step'] > 0] or rows
  psnr = [('GQN mean render', [row['psnr_db'] for row in rows]),
          ('mean of context', [row['context_mean_psnr_db'] for row in rows]),
          ('nearest context view', [row['nearest_context_psnr_db'] for row in rows])]
  panels = [('PSNR of the mean render', 'PSNR (dB)', psnr),
            ('KL', 'KL (nats)', [('KL', [row['kl_nats'] for row in rows])]),
            ('-ELBO, the loss', '-ELBO (nats)',
             [('-ELBO', [row['elbo_nats'] for row in rows])])]
  axes_x = [('global step', [row['global_step'] for row in rows])]
  minutes = [row['training_seconds'] / 60.0 for row in rows]
  if all(math.isfinite(m) for m in minutes):
    axes_x.append(('training time (min)', minutes))
  figure, axes = figures.panels(len(panels) * len(axes_x), columns=len(panels),
                                title=title or None)
  for index, (x_label, x_values) in enumerate(axes_x):
    for column, (name, y_label, series) in enumerate(panels):
      figures.lines(axes[index * len(panels) + column], x_values, series, name, x_label,
                    y_label)
  figures.save(figure, path)


# Keys of metrics.json that say what was evaluated rather than how well.
_NOT_SUMMARIZED = ('num_examples', 'num_samples', 'global_step', 'seed')


def summary_scalars(metrics):
  """The numbers of a metrics dict as TensorBoard tags: 'eval/<key>' -> float.

  A nested dict becomes 'eval/<key>/<name>' (the baselines), a list
  'eval/<key>/<1-based index>' (kl_per_step, per DRAW step); text, the config and the
  bookkeeping keys (_NOT_SUMMARIZED) are left out.
  """
  scalars = collections.OrderedDict()
  for key, value in metrics.items():
    if key in _NOT_SUMMARIZED or key in ('config', 'inferred_fields'):
      continue
    if isinstance(value, dict):
      items = value.items()
    elif isinstance(value, (list, tuple)):
      items = ((str(index + 1), item) for index, item in enumerate(value))
    else:
      items = [(None, value)]
    for name, item in items:
      if isinstance(item, (int, float)) and not isinstance(item, bool):
        tag = 'eval/%s' % key if name is None else 'eval/%s/%s' % (key, name)
        scalars[tag] = float(item)
  return scalars


def write_summaries(model_dir, metrics, step):
  """Writes the metrics as TensorBoard scalars at `step` under `model_dir/eval`.

  There, beside the training run's event files, `tensorboard --logdir MODEL_DIR` shows
  each evaluation as a point of the curves of the `eval` run. Returns the directory.
  """
  directory = os.path.join(model_dir, 'eval')
  summary = tf.Summary(value=[tf.Summary.Value(tag=tag, simple_value=value)
                              for tag, value in summary_scalars(metrics).items()])
  # FileWriter refuses eager mode, which TensorFlow 2 starts in.
  with tf.Graph().as_default():
    writer = tf.summary.FileWriter(directory)
    writer.add_summary(summary, step)
    writer.close()
  return directory
