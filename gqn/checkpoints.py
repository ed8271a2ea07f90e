"""GQN checkpoints: finding them, the config that built them, whether one fits.

tf-gqn's published snapshots carry no `gqn_config.json`; most of the config can be read
off the variables' shapes instead (docs/model.md#snapshot-contract fixes their names):

  ENC_TYPE                  'pool' / 'tower'   scope GQN/PoolEncoder or GQN/TowerEncoder
  ENC_CHANNELS              <encoder>/conv2d/kernel         [2, 2, 3, ENC_CHANNELS]
  POSE_CHANNELS             <encoder>/conv2d_4/kernel       [1, 1, ENC + POSE, ENC / 2]
  ENC_CODE_CHANNELS         <encoder>/code/kernel           [1, 1, ENC, CODE]; 0 without
  LSTM_KERNEL_SIZE,         LSTM_gen/GQNCell/h_g_LSTMConv/kernel
    LSTM_OUTPUT_CHANNELS                                    [k, k, C_h, 4 C_h]
  Z_CHANNELS                LSTM_gen/GQNCell/z_LSTMConv/kernel  [k, k, Z, 4 C_h]
  LSTM_CANVAS_CHANNELS,      LSTM_gen/UpsampleGeneratorOutput/kernel [s, s, C_u, C_h]
    CANVAS_SCALE (s)
  CANVAS_UPSAMPLING         'resize' where LSTM_gen/UpsampleGeneratorOutputResize/kernel
                            [3, 3, C_h, C_u] stands in its place, else 'transposed'; its
                            CANVAS_SCALE is then read off LSTM_inf/
                            DownsampleInferenceInputCanvasAndImage/kernel [s, s, 3 + C_u, C_h]
  ETA_INTERNAL_KERNEL_SIZE  Sample_eta_pi/eta/conv2d/kernel [k, k, C_h, 2 Z]
  ETA_EXTERNAL_KERNEL_SIZE, GQN/eta_g/kernel                [k, k, C_u, IMG_CHANNELS]
    IMG_CHANNELS

The rest cannot be: the image size (every layer is convolutional), CONTEXT_SIZE (views
are summed), SEQ_LENGTH (the cores are shared over steps), the schedules and
PRIOR_BEFORE_UPDATE. Those come from `gqn_config.json`, flags or a preset.

The model (MODEL) is told by the outer scope: `GQN/` holds the DRAW GQN, `GQN-VAE/` the
GQN-VAE baseline (gqn/gqn_vae.py), whose fields are read off its own variables:

  ENC_CHANNELS, POSE_CHANNELS  GQN-VAE/TowerEncoder/conv2d, conv2d_4 (as above)
  LSTM_OUTPUT_CHANNELS,        GQN-VAE/VAETowerDecoder/conv2d/kernel [1, 1, Z + C + P, D]
    Z_CHANNELS
  LSTM_KERNEL_SIZE             VAETowerDecoder/conv2d_1/kernel      [k, k, D, D]
  LSTM_CANVAS_CHANNELS         VAETowerDecoder/conv2d_transpose_1/bias  [C_u]
  ETA_INTERNAL_KERNEL_SIZE     GQN-VAE/Sample_eta_pi/hidden/kernel  [k, k, C + P, D]
  ETA_EXTERNAL_KERNEL_SIZE,    VAETowerDecoder/eta_g/kernel         [k, k, C_u, IMG_CHANNELS]
    IMG_CHANNELS

A config of the other model than the checkpoint's is refused first, naming both.

A config that does not fit a checkpoint is refused before anything runs, with the first
variables that differ and the flag that would fix it (`check_compatible`), rather than
failing inside `Saver.restore` with a shape error.

Whether a checkpoint's files are complete, and the model directory's recovery after a
fault, live in gqn/checkpoint_integrity.py.
"""

import collections
import os
import re

import tensorflow.compat.v1 as tf

from gqn import flags
from gqn import gqn_draw
from gqn import gqn_graph
from gqn import gqn_params
from gqn import gqn_vae

# How many differing variables an error message lists.
_LISTED_MISMATCHES = 3
_ENCODER_SCOPES = collections.OrderedDict([('pool', 'GQN/PoolEncoder/'),
                                           ('tower', 'GQN/TowerEncoder/')])
_GEN = 'GQN/GQN_RNN/LSTM_gen/'
_DOWNSAMPLE = 'GQN/GQN_RNN/LSTM_inf/DownsampleInferenceInputCanvasAndImage/kernel'
RESIZE_UPSAMPLE = gqn_draw.RESIZE_UPSAMPLE_SCOPE
# The outer scope of each model's variables, and its name in messages.
_MODEL_SCOPES = collections.OrderedDict([('draw', 'GQN/'), ('vae', 'GQN-VAE/')])
_MODEL_NAMES = {'draw': 'the DRAW GQN', 'vae': 'the GQN-VAE baseline'}
_VAE_DECODER = 'GQN-VAE/VAETowerDecoder/'
_CHECKPOINT_INDEX = re.compile(r'^(.*\.ckpt-(\d+))\.index$')


class CheckpointMismatchError(ValueError):
  """A checkpoint does not hold the variables a config's graph needs (or no GQN at all)."""


def find_checkpoint(path):
  """Resolves a model directory or a checkpoint prefix to a checkpoint prefix.

  Args:
    path: a model directory (its latest checkpoint is taken: the one its `checkpoint`
      file names or, without that file, the `*.ckpt-<step>.index` of the highest step)
      or a checkpoint prefix such as `<dir>/model.ckpt-220000`.

  Returns:
    The checkpoint prefix.

  Raises:
    ValueError: no checkpoint there; the message says what to pass instead.
  """
  if tf.io.gfile.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if latest is not None:
      return latest
    on_disk = checkpoints_on_disk(path)
    if on_disk:
      return on_disk[0]
    raise ValueError('No checkpoint in %s (neither a "checkpoint" file nor '
                     '*.ckpt-<step>.index files): train a model there first, or pass the '
                     'checkpoint itself, e.g. --checkpoint %s'
                     % (path, os.path.join(path, 'model.ckpt-220000')))
  if tf.io.gfile.exists(path + '.index'):
    return path
  raise ValueError('No checkpoint at %s: pass a model directory or a checkpoint prefix '
                   '(for the files model.ckpt-220000.index and model.ckpt-220000.data-*, '
                   'pass .../model.ckpt-220000).' % path)


def checkpoints_on_disk(model_dir):
  """Prefixes of every `*.ckpt-<step>.index` in `model_dir`, newest step first."""
  found = []
  for name in tf.io.gfile.listdir(model_dir):
    match = _CHECKPOINT_INDEX.match(name)
    if match:
      found.append((int(match.group(2)), os.path.join(model_dir, match.group(1))))
  return [prefix for _, prefix in sorted(found, reverse=True)]


def read_variables(checkpoint_path):
  """Returns an OrderedDict of variable name -> shape (list of ints), sorted by name."""
  return collections.OrderedDict(
      (name, list(shape)) for name, shape in tf.train.list_variables(checkpoint_path))


def global_step(checkpoint_path):
  """The `global_step` stored in the checkpoint, or None when it has none."""
  if 'global_step' not in read_variables(checkpoint_path):
    return None
  return int(tf.train.load_variable(checkpoint_path, 'global_step'))


def _shape(shapes, name, checkpoint_path):
  if name not in shapes:
    raise CheckpointMismatchError(
        '%s is not a GQN checkpoint this project can read: it has no variable %s (it '
        'holds %d variables, e.g. %s).' % (checkpoint_path, name, len(shapes),
                                           ', '.join(list(shapes)[:3]) or 'none'))
  return shapes[name]


def checkpoint_model(checkpoint_path):
  """The model a checkpoint holds, 'draw' or 'vae' (gqn_params.MODELS), by its scopes.

  Raises:
    CheckpointMismatchError: it holds neither model's variables, or both.
  """
  names = list(read_variables(checkpoint_path))
  found = [model for model, scope in _MODEL_SCOPES.items()
           if any(name.startswith(scope) for name in names)]
  if len(found) != 1:
    raise CheckpointMismatchError(
        '%s is not a GQN checkpoint this project can read: it holds %s (looked for '
        'variables under %s; it holds %d variables, e.g. %s).'
        % (checkpoint_path, 'no model' if not found else 'more than one model',
           ' and '.join(_MODEL_SCOPES.values()), len(names), ', '.join(names[:3]) or 'none'))
  return found[0]


def check_model(checkpoint_path, config):
  """Raises unless `config` builds the model the checkpoint holds (its MODEL field).

  Raises:
    CheckpointMismatchError: the other model; names both and the flag that fits.
  """
  model = checkpoint_model(checkpoint_path)
  if config.MODEL != model:
    raise CheckpointMismatchError(
        'Checkpoint %s holds %s (model %r, variables under %s), but the config builds %s '
        '(model %r). Pass --model %s, or leave --model unset so that it is taken from the '
        'model directory or the checkpoint.'
        % (checkpoint_path, _MODEL_NAMES[model], model, _MODEL_SCOPES[model],
           _MODEL_NAMES[config.MODEL], config.MODEL, model))


def _vae_config_fields(shapes, checkpoint_path):
  """read_config_fields of a GQN-VAE checkpoint (variable shapes `shapes`)."""
  encoder = 'GQN-VAE/TowerEncoder/'
  enc_channels = _shape(shapes, encoder + 'conv2d/kernel', checkpoint_path)[3]
  pose_channels = _shape(shapes, encoder + 'conv2d_4/kernel', checkpoint_path)[2] - enc_channels
  _, _, decoder_in, width = _shape(shapes, _VAE_DECODER + 'conv2d/kernel', checkpoint_path)
  kernel = _shape(shapes, _VAE_DECODER + 'conv2d_1/kernel', checkpoint_path)[0]
  canvas = _shape(shapes, _VAE_DECODER + 'conv2d_transpose_1/bias', checkpoint_path)[0]
  eta_internal = _shape(shapes, 'GQN-VAE/Sample_eta_pi/hidden/kernel', checkpoint_path)[0]
  eta_external, _, _, img_channels = _shape(shapes, _VAE_DECODER + 'eta_g/kernel',
                                            checkpoint_path)
  # The VAE's encoder is the tower whatever ENC_TYPE says; recording it says so.
  return collections.OrderedDict([
      ('MODEL', 'vae'), ('ENC_TYPE', 'tower'), ('ENC_CHANNELS', enc_channels),
      ('POSE_CHANNELS', pose_channels), ('LSTM_KERNEL_SIZE', kernel),
      ('LSTM_OUTPUT_CHANNELS', width),
      ('Z_CHANNELS', decoder_in - enc_channels - pose_channels),
      ('LSTM_CANVAS_CHANNELS', canvas), ('ETA_INTERNAL_KERNEL_SIZE', eta_internal),
      ('ETA_EXTERNAL_KERNEL_SIZE', eta_external), ('IMG_CHANNELS', img_channels)])


def read_config_fields(checkpoint_path):
  """The GQNConfig fields that the checkpoint's variable shapes determine.

  Returns:
    OrderedDict field -> value (see the module docstring for which and from where).
    MODEL is among them for a GQN-VAE; a DRAW checkpoint (tf-gqn's format, which
    predates the field) leaves it to the config, whose default is 'draw'.

  Raises:
    CheckpointMismatchError: the checkpoint lacks the GQN variables these are read from.
  """
  shapes = read_variables(checkpoint_path)
  if checkpoint_model(checkpoint_path) == 'vae':
    return _vae_config_fields(shapes, checkpoint_path)
  found = [enc for enc, scope in _ENCODER_SCOPES.items()
           if scope + 'conv2d/kernel' in shapes]
  if len(found) != 1:
    raise CheckpointMismatchError(
        '%s is not a GQN checkpoint this project can read: it holds %s encoder '
        '(looked for %s).' % (checkpoint_path, 'no' if not found else 'more than one',
                              ' and '.join(s + 'conv2d/kernel'
                                           for s in _ENCODER_SCOPES.values())))
  enc_type = found[0]
  encoder = _ENCODER_SCOPES[enc_type]
  enc_channels = _shape(shapes, encoder + 'conv2d/kernel', checkpoint_path)[3]
  pose_and_enc = _shape(shapes, encoder + 'conv2d_4/kernel', checkpoint_path)[2]
  code_channels = 0
  if encoder + 'code/kernel' in shapes:
    code_channels = _shape(shapes, encoder + 'code/kernel', checkpoint_path)[3]
  kernel, _, hidden, _ = _shape(shapes, _GEN + 'GQNCell/h_g_LSTMConv/kernel', checkpoint_path)
  z_channels = _shape(shapes, _GEN + 'GQNCell/z_LSTMConv/kernel', checkpoint_path)[2]
  if _GEN + RESIZE_UPSAMPLE + '/kernel' in shapes:
    upsampling = 'resize'
    canvas = _shape(shapes, _GEN + RESIZE_UPSAMPLE + '/kernel', checkpoint_path)[3]
    scale = _shape(shapes, _DOWNSAMPLE, checkpoint_path)[0]
  else:
    upsampling = 'transposed'
    scale, _, canvas, _ = _shape(shapes, _GEN + 'UpsampleGeneratorOutput/kernel',
                                 checkpoint_path)
  eta_internal = _shape(shapes, 'GQN/GQN_RNN/Sample_eta_pi/eta/conv2d/kernel',
                        checkpoint_path)[0]
  eta_external, _, _, img_channels = _shape(shapes, 'GQN/eta_g/kernel', checkpoint_path)
  return collections.OrderedDict([
      ('ENC_TYPE', enc_type), ('ENC_CHANNELS', enc_channels),
      ('POSE_CHANNELS', pose_and_enc - enc_channels),
      ('ENC_CODE_CHANNELS', code_channels), ('LSTM_KERNEL_SIZE', kernel),
      ('LSTM_OUTPUT_CHANNELS', hidden), ('Z_CHANNELS', z_channels),
      ('LSTM_CANVAS_CHANNELS', canvas), ('CANVAS_UPSAMPLING', upsampling),
      ('CANVAS_SCALE', scale),
      ('ETA_INTERNAL_KERNEL_SIZE', eta_internal),
      ('ETA_EXTERNAL_KERNEL_SIZE', eta_external), ('IMG_CHANNELS', img_channels)])


def infer_config(checkpoint_path, base_config, pinned=()):
  """`base_config` with every field the checkpoint determines taken from it.

  Args:
    checkpoint_path: a checkpoint prefix.
    base_config: the GQNConfig supplying what the checkpoint cannot tell (image size,
      CONTEXT_SIZE, SEQ_LENGTH, schedules); e.g. the default config, a preset or flags.
    pinned: fields the user set explicitly; they are kept from `base_config` (a
      contradiction then surfaces in `check_compatible`, naming the flag).

  Returns:
    (config, inferred_fields): the GQNConfig, and an OrderedDict field -> value of the
    fields taken from the checkpoint (whether or not they differ from `base_config`).

  Raises:
    CheckpointMismatchError: not a GQN checkpoint, or MODEL is pinned to the other model.
  """
  if 'MODEL' in pinned:
    check_model(checkpoint_path, base_config)
  inferred = collections.OrderedDict(
      (name, value) for name, value in read_config_fields(checkpoint_path).items()
      if name not in pinned)
  return gqn_params.create_gqn_config(inferred, base=base_config), inferred


def expected_variables(config):
  """Name -> shape of every model variable the graph of `config` creates.

  Builds the posterior and the generation path (all model variables, no optimizer
  slots) in a throwaway graph; nothing is run.
  """
  build = gqn_vae.gqn_vae if config.MODEL == 'vae' else gqn_graph.gqn_draw
  with tf.Graph().as_default():
    frames, cameras, query, target = gqn_graph.model_placeholders(config)
    build(query, frames, cameras, config, target_frame=target, generate=True)
    return collections.OrderedDict(
        (v.op.name, v.shape.as_list()) for v in tf.global_variables())


def _fixes(checkpoint_path, config):
  """What would make `config` fit: the checkpoint's fields, their flags, matching presets."""
  try:
    fields = read_config_fields(checkpoint_path)
  except CheckpointMismatchError as error:
    return str(error)
  differing = [name for name, value in fields.items() if getattr(config, name) != value]
  if not differing:
    return 'use the config the checkpoint was trained with'
  settings = []
  for name in differing:
    flag = '; flag %s %s' % (flags.flag_of(name), fields[name]) if flags.flag_of(name) else ''
    settings.append('%s=%r (config: %r%s)' % (name, fields[name], getattr(config, name), flag))
  hint = 'the checkpoint was trained with %s' % ', '.join(settings)
  # A preset does not choose the model (see model_dir.pinned_fields).
  presets = [name for name, make in gqn_params.PRESETS.items()
             if all(getattr(make(), field) == value for field, value in fields.items()
                    if field != 'MODEL')]
  if presets:
    hint += '; preset %s matches it (--preset %s)' % (' / '.join(presets), presets[0])
  return hint + '; or leave these fields unset, so that they are read off the checkpoint'


def restore(saver, session, checkpoint_path):
  """`saver.restore` into `session`, inside the session's graph.

  Outside it TensorFlow 2 runs eagerly and Saver refuses the graph's variables, so a
  caller that did not switch to graph mode (a user's script) could not load a model.
  """
  with session.graph.as_default():
    saver.restore(session, checkpoint_path)


def check_compatible(checkpoint_path, config, variables=None):
  """Raises unless every model variable of `config`'s graph is in the checkpoint, same shape.

  Extra checkpoint variables (Adam slots, `global_step`) are fine.

  Args:
    checkpoint_path: a checkpoint prefix.
    config: the GQNConfig about to be built.
    variables: the tf.Variables of a graph already built for `config` (saves building
      a throwaway one); None builds it.

  Raises:
    CheckpointMismatchError: the message names both models when `config` builds the
      other one; else it lists the first mismatching variables (name, checkpoint shape,
      graph shape) and the fields and flags that would fix them.
  """
  check_model(checkpoint_path, config)
  if variables is None:
    expected = expected_variables(config)
  else:
    expected = collections.OrderedDict((v.op.name, v.shape.as_list()) for v in variables)
  stored = read_variables(checkpoint_path)
  mismatches = [(name, stored.get(name), shape) for name, shape in expected.items()
                if stored.get(name) != shape]
  if not mismatches:
    return
  listed = '; '.join('%s: checkpoint %s, graph %s' % (
      name, 'has none' if have is None else have, want)
                     for name, have, want in mismatches[:_LISTED_MISMATCHES])
  raise CheckpointMismatchError(
      'Checkpoint %s does not fit the config: %d of its graph\'s %d variables differ (%s%s). '
      'To fix: %s.' % (checkpoint_path, len(mismatches), len(expected), listed,
                       '; ...' if len(mismatches) > _LISTED_MISMATCHES else '',
                       _fixes(checkpoint_path, config)))
