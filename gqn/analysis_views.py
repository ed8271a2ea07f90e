"""Uncertainty against the number of context views K = 0 (prior only) ... the maximum.

On the same query of the same test scenes: bits/dim, KL, PSNR of the mean render,
best-of-N MSE and the spread of prior samples; the paper's claim is that uncertainty
falls as views are added.
"""

import collections
import math

import numpy as np

from gqn import figures
from gqn import view_metrics


def analyze_views(model, scenes, max_views, num_samples=8, progress=None):
  """Uncertainty against the number of context views K = 0 ... `max_views`.

  Every scene is queried from its last view; the context is its first K views, so K
  grows by adding views and the query stays the same. K = 0 renders from r = 0.

  Args:
    model: a GQNModel.
    scenes: Scenes with at least max_views + 1 views.
    max_views: the largest K (the dataset's views per scene minus the query).
    num_samples: N, prior samples per scene for best-of-N MSE and the spread.
    progress: optional function(str) told each K's line.

  Returns:
    dict: `K` (list), one list per metric over K (`bits_per_dim`, `kl_nats`,
    `mean_render_psnr`, `mean_render_mse`, `best_of_n_mse`, `sample_spread`), the
    counts (`num_scenes`, `num_samples`) and `falls_with_views`, per metric whether it is
    lower at the largest K than at K = 0 (PSNR: higher).
  """
  frames, cameras = scenes.frames, scenes.cameras
  query, target = cameras[:, max_views], frames[:, max_views]
  num_scenes = len(frames)
  pixels = float(np.prod(target.shape[1:]))
  metrics = collections.OrderedDict((name, []) for name in (
      'bits_per_dim', 'kl_nats', 'mean_render_psnr', 'mean_render_mse', 'best_of_n_mse',
      'sample_spread'))
  for views in range(max_views + 1):
    if views == 0:
      r = model.zero_representation(num_scenes)
    else:
      r = model.encode(frames[:, :views], cameras[:, :views])
    elbo, kl = model.elbo(r, query, target)
    mean_mse = np.mean(np.square(np.clip(model.render(r, query), 0.0, 1.0) - target),
                       axis=(1, 2, 3))
    # N samples of every scene in one batch: scene i's samples at i, i + S, i + 2S, ...
    samples = np.clip(model.render(np.concatenate([r] * num_samples),
                                   np.concatenate([query] * num_samples), mean=False),
                      0.0, 1.0).reshape((num_samples,) + target.shape)
    sample_mse = np.mean(np.square(samples - target), axis=(2, 3, 4))  # [N, S]
    values = dict(
        bits_per_dim=(elbo + pixels * math.log(256.0)) / (pixels * math.log(2.0)),
        kl_nats=kl,
        mean_render_psnr=np.mean([view_metrics.psnr_from_mse(m) for m in mean_mse]),
        mean_render_mse=np.mean(mean_mse), best_of_n_mse=np.mean(sample_mse.min(axis=0)),
        sample_spread=np.mean(samples.std(axis=0)))
    for name in metrics:
      metrics[name].append(float(values[name]))
    if progress:
      progress('  K=%d: %.4f bits/dim, KL %.2f nats, PSNR %.2f dB, best-of-%d MSE %.5f, '
               'spread %.4f' % (views, values['bits_per_dim'], kl,
                                values['mean_render_psnr'], num_samples,
                                values['best_of_n_mse'], values['sample_spread']))
  result = collections.OrderedDict([('K', list(range(max_views + 1)))])
  result.update(metrics)
  result['num_scenes'] = num_scenes
  result['num_samples'] = num_samples
  result['falls_with_views'] = collections.OrderedDict(
      (name, bool(values[-1] > values[0]) if name == 'mean_render_psnr'
       else bool(values[-1] < values[0])) for name, values in metrics.items())
  return result


def plot_views(path, result):
  """Writes views.png: each metric against the number of context views K."""
  metrics = (('bits_per_dim', 'bits/dim', 'bits per dimension'),
             ('kl_nats', 'KL', 'KL (nats)'),
             ('mean_render_psnr', 'PSNR of the mean render', 'PSNR (dB)'),
             ('best_of_n_mse', 'best-of-%d MSE' % result['num_samples'], 'MSE'),
             ('sample_spread', 'spread of the samples', 'pixel std (0-1 scale)'))
  figure, axes = figures.panels(len(metrics), title='Against the number of context views '
                                '(%d test scenes)' % result['num_scenes'])
  for chart, (name, title, unit) in zip(axes, metrics):
    figures.lines(chart, result['K'], [(title, result[name])], title, 'context views K',
                  unit, integer_x=True)
  figures.save(figure, path)


def views_table(result):
  """The views result as lines of text, for analyze_gqn.py's table."""
  lines = ['  %3s %9s %9s %9s %11s %9s' % ('K', 'bits/dim', 'KL nats', 'PSNR dB',
                                           'best-of-%d' % result['num_samples'], 'spread')]
  for i, views in enumerate(result['K']):
    lines.append('  %3d %9.4f %9.2f %9.2f %11.5f %9.4f' % (
        views, result['bits_per_dim'][i], result['kl_nats'][i],
        result['mean_render_psnr'][i], result['best_of_n_mse'][i],
        result['sample_spread'][i]))
  return lines
