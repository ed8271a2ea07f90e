"""Metrics of view synthesis: PSNR, SSIM, best-of-N error and the spread of samples.

What view-synthesis papers report for a rendered view, computed per example on images in
[0, 1]:
  psnr_db        PSNR of the mean render, 10 log10(1 / MSE) (TensorFlow's tf.image.psnr).
  ssim           structural similarity of the mean render (tf.image.ssim, its default
                 11 x 11 Gaussian window; NaN for images smaller than the window).
  best_of_n_mse  the smallest MSE among N renders drawn from the prior: a model that knows
                 what the context did not show should have one sample close to the truth.
  sample_spread  the per-pixel standard deviation across the N samples, averaged over the
                 image: how much the samples differ.
  spread_error_correlation
                 the Pearson correlation, over the pixels of one example, between the
                 samples' per-pixel spread and the mean render's per-pixel absolute error.
                 Positive when the model is uncertain where it is wrong.
"""

import numpy as np
import tensorflow.compat.v1 as tf

SSIM_WINDOW = 11  # tf.image.ssim's default filter_size


class ImageQuality(object):
  """PSNR and SSIM of images against targets, by TensorFlow's own ops, in a graph of its own.

  Its own graph and session keep it apart from the model's graph, so evaluation code calls
  it on numpy arrays wherever it has them.
  """

  def __init__(self, height, width, channels=3):
    self._graph = tf.Graph()
    with self._graph.as_default():
      shape = [None, height, width, channels]
      self._images = tf.placeholder(tf.float32, shape, name='images')
      self._targets = tf.placeholder(tf.float32, shape, name='targets')
      self._psnr = tf.image.psnr(self._images, self._targets, max_val=1.0)
      # tf.image.ssim cannot take images smaller than its window: no SSIM for those.
      self._ssim = (tf.image.ssim(self._images, self._targets, max_val=1.0)
                    if min(height, width) >= SSIM_WINDOW
                    else tf.fill(tf.shape(self._psnr), float('nan')))
    self._session = tf.Session(graph=self._graph)

  def scores(self, images, targets):
    """Returns (psnr_db [B], ssim [B]) of `images` [B, H, W, C] against `targets`."""
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    return self._session.run([self._psnr, self._ssim],
                             {self._images: images, self._targets: targets})

  def close(self):
    self._session.close()


def mse(images, targets):
  """Per-example mean squared error: [B, H, W, C] x 2 -> [B]."""
  difference = np.asarray(images, np.float64) - np.asarray(targets, np.float64)
  return np.mean(np.square(difference), axis=(1, 2, 3))


def colour_mse(images, targets):
  """Per-example colour part of the squared error: [B, H, W, C] x 2 -> [B].

  Each pixel is its grey (the mean of its channels) plus its colour (the rest, summing
  to zero over the channels). The squared error of the images is exactly the error of
  their greys plus the error of their colours, since the cross term sums to zero over the
  channels; this is the second part. A grey render of a coloured target scores the
  target's whole colour here (docs/experiments.md, section 22).
  """
  difference = np.asarray(images, np.float64) - np.asarray(targets, np.float64)
  colour = difference - difference.mean(axis=-1, keepdims=True)
  return np.mean(np.square(colour), axis=(1, 2, 3))


def psnr_from_mse(value):
  """PSNR in dB of images in [0, 1] with mean squared error `value`."""
  return float('inf') if value <= 0 else -10.0 * np.log10(value)


def sample_scores(samples, mean_render, targets):
  """Per-example statistics of N prior samples.

  Args:
    samples: [N, B, H, W, C] renders drawn from the prior, N >= 1.
    mean_render: [B, H, W, C] the render with every latent at its prior mean.
    targets: [B, H, W, C] the true views.

  Returns:
    dict of [B] arrays: best_of_n_mse, sample_spread and spread_error_correlation (NaN for
    an example whose spread or error is the same at every pixel, e.g. N = 1).
  """
  samples = np.asarray(samples, np.float64)
  targets = np.asarray(targets, np.float64)
  errors = np.stack([mse(sample, targets) for sample in samples])  # [N, B]
  spread = samples.std(axis=0).mean(axis=-1)  # [B, H, W], across samples, channel mean
  error = np.abs(np.asarray(mean_render, np.float64) - targets).mean(axis=-1)  # [B, H, W]
  batch = targets.shape[0]
  spread, error = spread.reshape(batch, -1), error.reshape(batch, -1)
  spread_c = spread - spread.mean(axis=1, keepdims=True)
  error_c = error - error.mean(axis=1, keepdims=True)
  norms = np.sqrt((spread_c ** 2).sum(axis=1) * (error_c ** 2).sum(axis=1))
  with np.errstate(invalid='ignore', divide='ignore'):
    correlation = np.where(norms > 0, (spread_c * error_c).sum(axis=1) / norms, np.nan)
  return {'best_of_n_mse': errors.min(axis=0),
          'sample_spread': spread.mean(axis=1),
          'spread_error_correlation': correlation}
