"""A model directory's config (`gqn_config.json`) and the one config resolution.

A run writes its GQNConfig into its model directory; a later run in the same directory
(resuming, evaluating) trains on with it. A flag that contradicts the recorded config is
refused rather than silently building a different graph than the checkpoint holds.
`resolve_config` decides the config of every run: training, evaluation, the predictor.
"""

import collections
import os

import tensorflow.compat.v1 as tf

from gqn import checkpoints
from gqn import gqn_params

CONFIG_FILE = 'gqn_config.json'


def config_path(model_dir):
  return os.path.join(model_dir, CONFIG_FILE)


def read_config(model_dir):
  """Returns the GQNConfig recorded in `model_dir`, or None when there is none.

  Raises:
    ValueError: the file exists but is not a valid config (names the bad key).
  """
  path = config_path(model_dir)
  if not tf.gfile.Exists(path):
    return None
  with tf.gfile.GFile(path, 'r') as f:
    return gqn_params.config_from_json(f.read(), source=path)


def write_config(model_dir, config):
  """Writes `config` as `model_dir/gqn_config.json`, atomically (no half-written file)."""
  tf.gfile.MakeDirs(model_dir)
  path = config_path(model_dir)
  temp = path + '.tmp'
  with tf.gfile.GFile(temp, 'w') as f:
    f.write(gqn_params.config_to_json(config) + '\n')
  tf.gfile.Rename(temp, path, overwrite=True)


GQN_FIELDS = gqn_params.GQNConfig._fields

# The config of a run and where it came from: `source`, a phrase for logs and
# metrics.json (the path of gqn_config.json when it came from there); `inferred`, the
# fields read off the checkpoint (field -> value; empty unless a checkpoint was given and
# there is no gqn_config.json); `recorded`, whether it came from gqn_config.json.
ResolvedConfig = collections.namedtuple('ResolvedConfig',
                                        ['config', 'source', 'inferred', 'recorded'])


# A preset fixes sizes and schedules, not which network they build: that is --model's
# alone, so `--preset tiny` evaluates a tiny GQN-VAE directory without `--model vae`.
_PRESET_FIELDS = tuple(name for name in GQN_FIELDS if name != 'MODEL')


def pinned_fields(preset_name, overrides):
  """The GQNConfig fields the user set: a preset's (all but MODEL) and the overrides."""
  overrides = tuple(overrides or {})
  if not preset_name:
    return overrides
  return _PRESET_FIELDS + tuple(name for name in overrides if name not in _PRESET_FIELDS)


def resolve_config(model_dir, preset, overrides, checkpoint=None):
  """The config a run in `model_dir` uses: training, evaluation and the predictor.

  In order:
    1. `model_dir/gqn_config.json`, when there is one; a given flag (or preset) that
       contradicts it is an error.
    2. Else the preset (None: 'default') with the overrides; with a `checkpoint`
       (tf-gqn's snapshots have no gqn_config.json), every field the checkpoint
       determines is read off it, except those the user set (see
       pinned_fields): a contradiction of those surfaces in checkpoints.check_compatible,
       naming the flag. Such a checkpoint (given, or the latest in `model_dir` when
       training on) was trained with tf-gqn's prior timing, so it keeps that timing
       (PRIOR_BEFORE_UPDATE false) unless the --prior_timing flag says otherwise.

  Args:
    model_dir: the model directory (may not exist yet).
    preset: the preset the user asked for, or None.
    overrides: dict of GQNConfig field -> value, only for flags the user gave (see
      gqn/flags.py, `config_overrides`); None for none.
    checkpoint: a checkpoint prefix to read unset fields off, or None (training).

  Returns:
    ResolvedConfig(config, source, inferred, recorded).

  Raises:
    ValueError: a given flag contradicts the recorded config (the message names the
      field, both values and what to do), or a bad config value.
    checkpoints.CheckpointMismatchError: the checkpoint holds no GQN.
  """
  overrides = dict(overrides or {})
  requested = gqn_params.create_gqn_config(
      overrides, base=gqn_params.preset(preset or 'default'))
  recorded = read_config(model_dir)
  if recorded is not None:
    conflicts = [name for name in pinned_fields(preset, overrides)
                 if getattr(requested, name) != getattr(recorded, name)]
    if conflicts:
      details = ', '.join('%s is %r there but %r here' % (
          name, getattr(recorded, name), getattr(requested, name)) for name in conflicts)
      raise ValueError(
          '%s records the config this model was trained with, and the flags disagree '
          '(%s). Drop those flags to train on with the recorded config, or use a new '
          '--model_dir.' % (config_path(model_dir), details))
    return ResolvedConfig(recorded, config_path(model_dir), {}, True)
  source = 'preset %r and flags' % (preset or 'default')
  snapshot = checkpoint or tf.train.latest_checkpoint(model_dir)
  if snapshot and 'PRIOR_BEFORE_UPDATE' not in overrides:
    requested = requested._replace(PRIOR_BEFORE_UPDATE=False)
    source += ', tf-gqn\'s prior timing (a checkpoint without %s)' % CONFIG_FILE
  if checkpoint is None:
    return ResolvedConfig(requested, source, {}, False)
  config, inferred = checkpoints.infer_config(
      checkpoint, requested, pinned_fields(preset, overrides))
  if inferred:
    source += '; %d fields read off the checkpoint (inferred_fields)' % len(inferred)
  return ResolvedConfig(config, source, inferred, False)
