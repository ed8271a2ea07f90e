"""A model directory's record of its config (`gqn_config.json`) and how flags meet it.

A run writes its GQNConfig into its model directory; a later run in the same directory
(resuming, evaluating) trains on with it. A flag that contradicts the recorded config is
refused rather than silently building a different graph than the checkpoint holds.
"""

import os

import tensorflow.compat.v1 as tf

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


def pinned_fields(preset_name, overrides):
  """The GQNConfig fields the user set: every field with a preset, else the overrides."""
  return GQN_FIELDS if preset_name else tuple(overrides or {})


def resolve_config(model_dir, preset_name=None, overrides=None):
  """The config a run in `model_dir` uses, given a preset and explicit flag values.

  Args:
    model_dir: the model directory (may not exist yet).
    preset_name: the preset the user asked for, or None (not given: 'default', or the
      recorded config).
    overrides: dict of GQNConfig field -> value, only for flags the user gave.

  Returns:
    (config, recorded): the GQNConfig, and whether it came from `gqn_config.json`.

  Raises:
    ValueError: a given flag contradicts the recorded config; the message names the
      field, both values and what to do.
  """
  overrides = dict(overrides or {})
  requested = gqn_params.create_gqn_config(
      overrides, base=gqn_params.preset(preset_name or 'default'))
  recorded = read_config(model_dir)
  if recorded is None:
    return requested, False
  conflicts = [name for name in pinned_fields(preset_name, overrides)
               if getattr(requested, name) != getattr(recorded, name)]
  if conflicts:
    details = ', '.join('%s is %r there but %r here' % (
        name, getattr(recorded, name), getattr(requested, name)) for name in conflicts)
    raise ValueError(
        '%s records the config this model was trained with, and the flags disagree (%s). '
        'Drop those flags to train on with the recorded config, or use a new --model_dir.'
        % (config_path(model_dir), details))
  return recorded, True


GQN_FIELDS = gqn_params.GQNConfig._fields

# Command-line flags of train_gqn_draw.py and eval_gqn.py that set GQNConfig fields.
_FLAG_FIELDS = (
    ('enc_type', ('ENC_TYPE',)),
    ('seq_length', ('SEQ_LENGTH',)),
    ('context_size', ('CONTEXT_SIZE',)),
    ('img_size', ('IMG_HEIGHT', 'IMG_WIDTH')),
    ('adam_lr_alpha', ('ADAM_LR_ALPHA',)),
    ('adam_lr_beta', ('ADAM_LR_BETA',)),
    ('anneal_lr_tau', ('ANNEAL_LR_TAU',)),
)


def config_overrides(args):
  """GQNConfig fields set by the flags the user gave, from parsed argparse `args`.

  A flag left unset (None) or that the tool does not have sets nothing, so the preset or
  the recorded gqn_config.json decides.
  """
  overrides = {}
  for flag, fields in _FLAG_FIELDS:
    value = getattr(args, flag, None)
    if value is not None:
      overrides.update((field, value) for field in fields)
  return overrides
