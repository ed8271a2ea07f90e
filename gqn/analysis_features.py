"""The feature sets of the probes and the embedding: r pooled over space, standardised."""

import numpy as np


def pooled(representation):
  """[N, h, w, C] r -> [N, C], its mean over space (the probes' features)."""
  return representation.mean(axis=(1, 2))


def standardise(train, test):
  """Both sets centred and scaled by the train set's per-feature mean and deviation.

  Deviations are floored at 1% of their mean: a feature nearly constant on the train
  set (a pixel of sky, a dead ReLU channel) would otherwise be blown up to dominate the
  test set.
  """
  mean, std = train.mean(axis=0), train.std(axis=0)
  std = np.maximum(std, 1e-2 * np.mean(std) + 1e-12)
  return (train - mean) / std, (test - mean) / std
