"""Golden values of the view-synthesis metrics (gqn/view_metrics.py)."""

import math

import numpy as np
import pytest

from gqn import view_metrics


def test_psnr_and_ssim_against_closed_forms():
  rng = np.random.RandomState(0)
  targets = rng.uniform(0.2, 0.8, size=(3, 16, 16, 3)).astype(np.float32)
  images = targets.copy()
  images[1] += 0.1  # MSE 0.01 -> 20 dB
  images[2] = 0.5
  quality = view_metrics.ImageQuality(16, 16)
  psnr, ssim = quality.scores(images, targets)
  quality.close()
  assert math.isinf(psnr[0]) and ssim[0] == pytest.approx(1.0, abs=1e-6)
  assert psnr[1] == pytest.approx(20.0, abs=1e-3)
  expected = view_metrics.psnr_from_mse(view_metrics.mse(images[2:], targets[2:])[0])
  assert psnr[2] == pytest.approx(expected, abs=1e-3)
  assert ssim[2] < 0.1 < ssim[1] < 1.0


def test_images_smaller_than_the_ssim_window_have_no_ssim():
  images = np.full((2, 8, 8, 3), 0.5, np.float32)
  quality = view_metrics.ImageQuality(8, 8)
  psnr, ssim = quality.scores(images, images + 0.1)
  quality.close()
  np.testing.assert_allclose(psnr, 20.0, atol=1e-3)
  assert np.isnan(ssim).all()


def test_sample_scores():
  rng = np.random.RandomState(1)
  targets = rng.uniform(size=(2, 8, 8, 3))
  mean = targets + 0.1
  # Sample 0 is far off, sample 1 is exact: best-of-N takes the exact one.
  samples = np.stack([targets + 0.3, targets])
  scores = view_metrics.sample_scores(samples, mean, targets)
  np.testing.assert_allclose(scores['best_of_n_mse'], [0.0, 0.0], atol=1e-12)
  np.testing.assert_allclose(scores['sample_spread'], [0.15, 0.15], atol=1e-9)
  # Identical samples spread nothing, and the correlation is undefined.
  same = view_metrics.sample_scores(np.stack([mean, mean]), mean, targets)
  np.testing.assert_allclose(same['sample_spread'], 0.0, atol=1e-12)
  assert np.isnan(same['spread_error_correlation']).all()


def test_spread_error_correlation_is_one_where_spread_follows_error():
  rng = np.random.RandomState(2)
  targets = rng.uniform(size=(1, 8, 8, 3))
  error = rng.uniform(0.0, 0.2, size=(1, 8, 8, 1))
  mean = targets + error  # the mean render is wrong by `error`
  samples = np.stack([mean - error, mean + error])  # and the samples spread by `error`
  scores = view_metrics.sample_scores(samples, mean, targets)
  assert scores['spread_error_correlation'][0] == pytest.approx(1.0, abs=1e-9)
  flipped = view_metrics.sample_scores(np.stack([mean - (0.2 - error), mean + (0.2 - error)]),
                                       mean, targets)
  assert flipped['spread_error_correlation'][0] == pytest.approx(-1.0, abs=1e-9)


def test_the_squared_error_splits_into_grey_and_colour():
  rng = np.random.default_rng(0)
  images, targets = rng.random((2, 3, 8, 8, 3))
  grey = lambda x: np.repeat(x.mean(axis=-1, keepdims=True), 3, axis=-1)
  colour = view_metrics.colour_mse(images, targets)
  # The greys' error and the colours' error add up to the whole, example by example.
  np.testing.assert_allclose(view_metrics.mse(grey(images), grey(targets)) + colour,
                             view_metrics.mse(images, targets), rtol=1e-12)
  # A grey render of a coloured target leaves all of the target's colour as error ...
  np.testing.assert_allclose(view_metrics.colour_mse(grey(targets), targets),
                             view_metrics.mse(grey(targets), targets), rtol=1e-12)
  # ... and a render off by a grey shift has the right colours: no colour error.
  np.testing.assert_allclose(view_metrics.colour_mse(targets + 0.1, targets), 0, atol=1e-15)
  # A known case: target pure red (1, 0, 0), render grey (1/3, 1/3, 1/3). The greys match,
  # so the whole error, (4/9 + 1/9 + 1/9) / 3 = 2/9, is colour.
  red = np.zeros((1, 2, 2, 3))
  red[..., 0] = 1.0
  assert view_metrics.colour_mse(np.full_like(red, 1.0 / 3), red)[0] == pytest.approx(2.0 / 9)
