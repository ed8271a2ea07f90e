"""Learning curves (gqn/curves.py) and the training time behind them (gqn/train_clock.py)."""

import math
import os

import pytest

from gqn import curves
from gqn import figures
from gqn import train_clock


def _fake_checkpoints(model_dir, steps):
  os.makedirs(model_dir)
  for step in steps:
    prefix = os.path.join(model_dir, 'model.ckpt-%d' % step)
    for suffix in ('.index', '.data-00000-of-00001'):
      open(prefix + suffix, 'w').close()
  # A save cut short (no data file) is not a checkpoint.
  open(os.path.join(model_dir, 'model.ckpt-999.index'), 'w').close()


def test_every_checkpoint_becomes_a_row_of_the_csv_and_png(tmp_path):
  model_dir = str(tmp_path / 'model')
  _fake_checkpoints(model_dir, [100, 0, 20])
  train_clock._write_training_times(model_dir, {0: 0.0, 20: 12.5, 100: 61.0})
  seen = []

  def evaluate(prefix):
    seen.append(prefix)
    step = int(prefix.rsplit('-', 1)[1])
    mse = 0.02 / (1 + step / 10.0)
    return {'global_step': step, 'mean_render_mse': mse, 'psnr_db': -10 * math.log10(mse),
            'ssim': 0.5, 'kl_nats': step / 50.0, 'elbo_nats': 3000.0 - step,
            'baselines': {'context_mean_mse': 0.0137, 'nearest_context_mse': 0.0136}}

  rows, written = curves.evaluate_checkpoints(model_dir, evaluate, str(tmp_path / 'out'),
                                              progress=lambda line: None)
  assert [os.path.basename(p) for p in seen] == ['model.ckpt-0', 'model.ckpt-20',
                                                 'model.ckpt-100']
  assert [os.path.basename(p) for p in written] == ['curves.csv', 'curves.png']
  assert all(os.path.getsize(p) > 0 for p in written)
  with open(written[1], 'rb') as f:
    png = f.read()
  # One matplotlib figure: its Software text chunk names matplotlib.
  assert png.startswith(b'\x89PNG\r\n\x1a\n') and b'matplotlib' in png
  assert sorted(os.listdir(str(tmp_path / 'out'))) == ['curves.csv', 'curves.png']
  back = curves.read_curves(written[0])
  assert [row['global_step'] for row in back] == [0, 20, 100]
  assert [row['training_seconds'] for row in back] == [0.0, 12.5, 61.0]
  assert back[-1]['psnr_db'] == pytest.approx(rows[-1]['psnr_db'], rel=1e-5)
  assert back[0]['context_mean_psnr_db'] == pytest.approx(-10 * math.log10(0.0137), rel=1e-5)
  assert math.isnan(back[0]['best_of_n_mse'])  # not in this evaluation's metrics


def test_close_values_get_tick_labels_that_read_apart():
  # -ELBO of a trained model moves by tenths of a nat around 1760: labels like
  # '1.76e+03' three times over, or an offset in the corner, would hide it.
  figure, (axes,) = figures.panels(1)
  figures.lines(axes, [1000, 2000, 3000], [('-ELBO', [1760.1, 1759.8, 1759.9])], '-ELBO',
                'global step', '-ELBO (nats)')
  figure.canvas.draw()
  labels = [tick.get_text() for tick in axes.get_yticklabels() if tick.get_text()]
  assert len(labels) >= 3 and len(set(labels)) == len(labels)
  assert all('e' not in text.lower() for text in labels)
  assert any(text.startswith('1760') for text in labels)
  assert axes.yaxis.get_offset_text().get_text() == ''


def test_a_directory_without_checkpoints_is_refused(tmp_path):
  with pytest.raises(ValueError, match='holds no checkpoint'):
    curves.evaluate_checkpoints(str(tmp_path), lambda prefix: {}, str(tmp_path))


def test_training_clock_adds_up_over_resumed_runs(tmp_path):
  model_dir = str(tmp_path)
  clock = train_clock.TrainingClock(model_dir)
  clock.begin()
  clock.after_save(None, 0)
  clock.after_save(None, 10)
  first = train_clock.read_training_times(model_dir)
  assert sorted(first) == [0, 10] and first[0] <= first[10]
  resumed = train_clock.TrainingClock(model_dir)
  resumed.begin()
  resumed.after_save(None, 10)  # the restored step, saved again at start
  resumed.after_save(None, 20)
  times = train_clock.read_training_times(model_dir)
  assert sorted(times) == [0, 10, 20]
  assert times[20] >= times[10] >= first[10]
