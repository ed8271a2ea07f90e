"""GQN model configuration: one namedtuple, its defaults, and named presets.

`GQNConfig` is the single source of truth for every size and schedule of the model.
Its first 24 fields, their order and their defaults are those of tf-gqn's
`GQN_DEFAULT_CONFIG`, so the `gqn_config.json` of a tf-gqn snapshot loads unchanged.
Fields added after them keep tf-gqn's behaviour at their defaults.

Derived sizes are computed by `create_gqn_config`, never kept in sync by hand:
  ENC_HEIGHT, ENC_WIDTH = IMG_HEIGHT // 4, IMG_WIDTH // 4  (two stride-2 convolutions)
  INFERENCE_INPUT_CHANNELS = ENC_CHANNELS + ENC_CODE_CHANNELS + POSE_CHANNELS
                             (r, its code, and the tiled query pose)
  GENERATOR_INPUT_CHANNELS = INFERENCE_INPUT_CHANNELS + Z_CHANNELS
"""

import collections
import json

_FIELDS = (
    'IMG_HEIGHT', 'IMG_WIDTH', 'IMG_CHANNELS', 'POSE_CHANNELS', 'CONTEXT_SIZE',
    'ENC_TYPE', 'ENC_HEIGHT', 'ENC_WIDTH', 'ENC_CHANNELS',
    'LSTM_OUTPUT_CHANNELS', 'LSTM_CANVAS_CHANNELS', 'LSTM_KERNEL_SIZE', 'Z_CHANNELS',
    'GENERATOR_INPUT_CHANNELS', 'INFERENCE_INPUT_CHANNELS', 'SEQ_LENGTH',
    'ETA_INTERNAL_KERNEL_SIZE', 'ETA_EXTERNAL_KERNEL_SIZE', 'ANNEAL_SIGMA_TAU',
    'GENERATOR_SIGMA_ALPHA', 'GENERATOR_SIGMA_BETA', 'ANNEAL_LR_TAU',
    'ADAM_LR_ALPHA', 'ADAM_LR_BETA',
    # Fields below are this project's; their defaults reproduce tf-gqn.
    # PRIOR_BEFORE_UPDATE: take the training prior pi_l from h_g before the generator
    # update of step l, as the paper (and generation) does. tf-gqn took it from the
    # updated h_g, and its snapshots were trained that way, so tf-gqn's config (and a
    # checkpoint without gqn_config.json) has it off; every preset turns it on
    # (docs/experiments.md measures why).
    'PRIOR_BEFORE_UPDATE',
    # MODEL: which network the config builds, 'draw' (the GQN, gqn/gqn_draw.py) or 'vae'
    # (the GQN-VAE baseline, gqn/gqn_vae.py). Recorded in gqn_config.json so that a
    # model directory says what its checkpoints hold; tf-gqn's files lack it: 'draw'.
    'MODEL',
    # RANDOM_CONTEXT_SIZE: in training, draw the number of context views of each batch
    # uniformly from 1..CONTEXT_SIZE, as the paper did, so that one model serves any
    # number of views; tf-gqn always used CONTEXT_SIZE.
    'RANDOM_CONTEXT_SIZE',
    # CANVAS_UPSAMPLING: how h^g_l is written onto the canvas. 'transposed' is tf-gqn's
    # transposed convolution, kernel = stride = 4, whose equal blocks show as a grid;
    # 'resize' a bilinear resize and a 3 x 3 convolution (variables
    # LSTM_gen/UpsampleGeneratorOutputResize/), which has no grid.
    'CANVAS_UPSAMPLING',
    # SIGMA_LATE_STEP, GENERATOR_SIGMA_LATE: from global step SIGMA_LATE_STEP on, the pixel
    # sigma is GENERATOR_SIGMA_LATE instead of GENERATOR_SIGMA_BETA, a second, late stage
    # of its schedule (gqn/schedules.py). SIGMA_LATE_STEP 0, tf-gqn's, has no late stage.
    'SIGMA_LATE_STEP', 'GENERATOR_SIGMA_LATE',
    # CANVAS_SCALE: the canvas (and the image) is CANVAS_SCALE times the resolution of the
    # DRAW cores' LSTM state, which is written onto it in CANVAS_SCALE x CANVAS_SCALE
    # blocks. tf-gqn's 4 puts the cores on the encoder's grid (16 x 16 at 64 x 64); 2 or
    # 1 gives them a finer grid, onto which the tower's r is repeated (`lstm_grid`).
    'CANVAS_SCALE',
    # FIXED_CONTEXT_STEPS: with RANDOM_CONTEXT_SIZE, the first FIXED_CONTEXT_STEPS global
    # steps still train on all CONTEXT_SIZE views, and the number is drawn from then on
    # (gqn/training.py). 0, the default, draws it from the start.
    'FIXED_CONTEXT_STEPS',
    # ENC_POOLED_CHANNELS: with the tower encoder, the last ENC_POOLED_CHANNELS channels
    # of r are averaged over the encoder's grid and repeated at every cell (as the pool
    # encoder's r is), the others keep their place (gqn/gqn_encoder.py). The variables
    # are the tower's; 0, the default, is tf-gqn's tower.
    'ENC_POOLED_CHANNELS',
    # ENC_CODE_CHANNELS: with the tower encoder, r gets this many channels more after its
    # ENC_CHANNELS: a code read off the tower's last features by a 1 x 1 head of its own
    # (variables TowerEncoder/code/), averaged over the grid and repeated at every cell
    # (gqn/gqn_encoder.py). The DRAW cores read r with them. 0, the default, is tf-gqn's
    # tower.
    'ENC_CODE_CHANNELS',
)

GQNConfig = collections.namedtuple('GQNConfig', _FIELDS)

_DERIVED = ('ENC_HEIGHT', 'ENC_WIDTH', 'GENERATOR_INPUT_CHANNELS', 'INFERENCE_INPUT_CHANNELS')
ENCODER_TYPES = ('pool', 'tower')
MODELS = ('draw', 'vae')
CANVAS_UPSAMPLINGS = ('transposed', 'resize')
# The encoder's grid is a quarter of the image; the cores' grid must hold it a whole
# number of times.
CANVAS_SCALES = (1, 2, 4)


def representation_channels(config):
  """Channels of the r the DRAW cores read: the encoder's map and its code."""
  return config.ENC_CHANNELS + config.ENC_CODE_CHANNELS


def _derive(config):
  """Returns `config` with the derived sizes computed from the free ones."""
  inference_channels = representation_channels(config) + config.POSE_CHANNELS
  return config._replace(
      ENC_HEIGHT=config.IMG_HEIGHT // 4,
      ENC_WIDTH=config.IMG_WIDTH // 4,
      INFERENCE_INPUT_CHANNELS=inference_channels,
      GENERATOR_INPUT_CHANNELS=inference_channels + config.Z_CHANNELS)


_DEFAULT_CONFIG = _derive(GQNConfig(
    IMG_HEIGHT=64, IMG_WIDTH=64, IMG_CHANNELS=3, POSE_CHANNELS=7, CONTEXT_SIZE=5,
    ENC_TYPE='pool', ENC_HEIGHT=None, ENC_WIDTH=None, ENC_CHANNELS=256,
    LSTM_OUTPUT_CHANNELS=256, LSTM_CANVAS_CHANNELS=256, LSTM_KERNEL_SIZE=5, Z_CHANNELS=64,
    GENERATOR_INPUT_CHANNELS=None, INFERENCE_INPUT_CHANNELS=None, SEQ_LENGTH=8,
    ETA_INTERNAL_KERNEL_SIZE=5, ETA_EXTERNAL_KERNEL_SIZE=1, ANNEAL_SIGMA_TAU=200000,
    GENERATOR_SIGMA_ALPHA=2.0, GENERATOR_SIGMA_BETA=0.7, ANNEAL_LR_TAU=1600000,
    ADAM_LR_ALPHA=5e-4, ADAM_LR_BETA=5e-5,
    PRIOR_BEFORE_UPDATE=False, MODEL='draw', RANDOM_CONTEXT_SIZE=False,
    CANVAS_UPSAMPLING='transposed', SIGMA_LATE_STEP=0, GENERATOR_SIGMA_LATE=0.7,
    CANVAS_SCALE=4, FIXED_CONTEXT_STEPS=0, ENC_POOLED_CHANNELS=0,
    ENC_CODE_CHANNELS=0))
# tf-gqn's name for the default config.
GQN_DEFAULT_CONFIG = _DEFAULT_CONFIG


def lstm_grid(config):
  """(height, width) of the DRAW cores' LSTM state, the image over CANVAS_SCALE."""
  return config.IMG_HEIGHT // config.CANVAS_SCALE, config.IMG_WIDTH // config.CANVAS_SCALE


def _is_whole(value, minimum):
  """Whether `value` is an int (not a bool) of at least `minimum`."""
  return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _validate(config):
  """Raises ValueError naming the first field whose value cannot build a GQN."""
  if config.MODEL not in MODELS:
    raise ValueError('MODEL is %r; it must be one of %s (flag --model).'
                     % (config.MODEL, MODELS))
  if config.CANVAS_UPSAMPLING not in CANVAS_UPSAMPLINGS:
    raise ValueError('CANVAS_UPSAMPLING is %r; it must be one of %s.'
                     % (config.CANVAS_UPSAMPLING, CANVAS_UPSAMPLINGS))
  if config.CANVAS_SCALE not in CANVAS_SCALES or isinstance(config.CANVAS_SCALE, bool):
    raise ValueError('CANVAS_SCALE is %r; it must be one of %s (flag --canvas_scale).'
                     % (config.CANVAS_SCALE, CANVAS_SCALES))
  if config.MODEL == 'vae' and config.CANVAS_SCALE != 4:
    raise ValueError('CANVAS_SCALE is %r, but the GQN-VAE (MODEL \'vae\') has no DRAW '
                     'canvas; leave it at 4.' % (config.CANVAS_SCALE,))
  if config.ENC_TYPE not in ENCODER_TYPES:
    raise ValueError('ENC_TYPE is %r; it must be one of %s.' % (config.ENC_TYPE, ENCODER_TYPES))
  for name in ('IMG_HEIGHT', 'IMG_WIDTH'):
    size = getattr(config, name)
    if not isinstance(size, int) or size < 4 or size % 4:
      raise ValueError('%s is %r; it must be a positive multiple of 4 (the encoder and the '
                       'canvas work at a quarter of the image size).' % (name, size))
  for name in ('IMG_CHANNELS', 'POSE_CHANNELS', 'CONTEXT_SIZE', 'ENC_CHANNELS',
               'LSTM_OUTPUT_CHANNELS', 'LSTM_CANVAS_CHANNELS', 'LSTM_KERNEL_SIZE',
               'Z_CHANNELS', 'SEQ_LENGTH', 'ETA_INTERNAL_KERNEL_SIZE',
               'ETA_EXTERNAL_KERNEL_SIZE', 'ANNEAL_SIGMA_TAU', 'ANNEAL_LR_TAU'):
    value = getattr(config, name)
    if not _is_whole(value, 1):
      raise ValueError('%s is %r; it must be a positive integer.' % (name, value))
  if config.ENC_CHANNELS % 2:
    raise ValueError('ENC_CHANNELS is %d; it must be even (the encoder\'s residual '
                     'branches have ENC_CHANNELS // 2 channels).' % config.ENC_CHANNELS)
  if not _is_whole(config.SIGMA_LATE_STEP, 0):
    raise ValueError('SIGMA_LATE_STEP is %r; it must be 0 (no late stage of the pixel sigma) '
                     'or the global step where GENERATOR_SIGMA_LATE takes over (flag '
                     '--sigma_late_step).' % (config.SIGMA_LATE_STEP,))
  if 0 < config.SIGMA_LATE_STEP < config.ANNEAL_SIGMA_TAU:
    raise ValueError('SIGMA_LATE_STEP is %d, inside the pixel sigma\'s anneal (ANNEAL_SIGMA_TAU '
                     '%d); the late stage starts after the anneal ends: give a step >= %d.'
                     % (config.SIGMA_LATE_STEP, config.ANNEAL_SIGMA_TAU,
                        config.ANNEAL_SIGMA_TAU))
  if not _is_whole(config.FIXED_CONTEXT_STEPS, 0):
    raise ValueError('FIXED_CONTEXT_STEPS is %r; it must be 0 (a random number of context '
                     'views from the start) or the global step until which training uses '
                     'all CONTEXT_SIZE views (flag --fixed_context_steps).'
                     % (config.FIXED_CONTEXT_STEPS,))
  if config.FIXED_CONTEXT_STEPS and config.RANDOM_CONTEXT_SIZE is False:
    raise ValueError('FIXED_CONTEXT_STEPS is %d, but RANDOM_CONTEXT_SIZE is off: training '
                     'uses all CONTEXT_SIZE views at every step already; set it to 0, or '
                     'train with RANDOM_CONTEXT_SIZE on (the tiny preset).'
                     % config.FIXED_CONTEXT_STEPS)
  if not _is_whole(config.ENC_POOLED_CHANNELS, 0) or (
      config.ENC_POOLED_CHANNELS > config.ENC_CHANNELS):
    raise ValueError('ENC_POOLED_CHANNELS is %r; it must be a whole number from 0 to '
                     'ENC_CHANNELS (%d): the channels of r averaged over the grid.'
                     % (config.ENC_POOLED_CHANNELS, config.ENC_CHANNELS))
  if config.ENC_POOLED_CHANNELS and config.ENC_TYPE != 'tower':
    raise ValueError('ENC_POOLED_CHANNELS is %d, but ENC_TYPE is %r: the pool encoder '
                     'averages all of r already; set it to 0, or use the tower encoder.'
                     % (config.ENC_POOLED_CHANNELS, config.ENC_TYPE))
  if not _is_whole(config.ENC_CODE_CHANNELS, 0):
    raise ValueError('ENC_CODE_CHANNELS is %r; it must be a whole number: the channels of '
                     'the code r carries after its map, 0 for none (flag '
                     '--enc_code_channels).' % (config.ENC_CODE_CHANNELS,))
  if config.ENC_CODE_CHANNELS and config.ENC_TYPE != 'tower':
    raise ValueError('ENC_CODE_CHANNELS is %d, but ENC_TYPE is %r: the pool encoder\'s r '
                     'is a code already; set it to 0, or use the tower encoder.'
                     % (config.ENC_CODE_CHANNELS, config.ENC_TYPE))
  for name in ('GENERATOR_SIGMA_ALPHA', 'GENERATOR_SIGMA_BETA', 'GENERATOR_SIGMA_LATE',
               'ADAM_LR_ALPHA', 'ADAM_LR_BETA'):
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
      raise ValueError('%s is %r; it must be a positive number.' % (name, value))
  for name in ('PRIOR_BEFORE_UPDATE', 'RANDOM_CONTEXT_SIZE'):
    if not isinstance(getattr(config, name), bool):
      raise ValueError('%s is %r; it must be true or false.' % (name, getattr(config, name)))
  return config


def create_gqn_config(custom_params=None, base=None):
  """Builds a GQNConfig from the defaults (or `base`) and the keys of `custom_params`.

  Args:
    custom_params: dict of field name -> value. Keys that are not fields are ignored
      (as tf-gqn did). Derived sizes are recomputed; a given derived size that
      disagrees with the computed one is an error.
    base: GQNConfig to start from instead of the default (e.g. a preset).

  Returns:
    A validated GQNConfig.

  Raises:
    ValueError: a value cannot build a GQN; the message names the field.
  """
  config = base if base is not None else _DEFAULT_CONFIG
  custom_params = dict(custom_params or {})
  known = {k: v for k, v in custom_params.items() if k in GQNConfig._fields}
  config = _derive(config._replace(**known))
  for name in _DERIVED:
    if name in known and known[name] != getattr(config, name):
      raise ValueError(
          '%s is %r, but the other sizes make it %r; it is derived, leave it out.'
          % (name, known[name], getattr(config, name)))
  return _validate(config)


def tf_gqn_config():
  """tf-gqn's config exactly, its prior timing included: what its snapshots were trained
  with, and what a checkpoint without gqn_config.json is read as."""
  return _DEFAULT_CONFIG


def default_config():
  """The tf-gqn model (docs/model.md#configuration): 64x64 images, pool encoder, 8 DRAW
  steps; trained with the paper's prior timing (PRIOR_BEFORE_UPDATE), which generates
  better than tf-gqn's with the same variables (docs/experiments.md)."""
  return _DEFAULT_CONFIG._replace(PRIOR_BEFORE_UPDATE=True)


def tiny_config():
  """A small GQN for tests and the demo: 32x32 images, 4 DRAW steps, few channels.

  Made to learn within minutes on a CPU, so it departs from the paper's model in
  measured ways (synth_rooms_ring_camera, 3000 scenes, batch 16, seed 0; mean-render MSE
  of 200 test examples; docs/experiments.md has every run):
  - the tower encoder: its spatial r learns rooms faster than the pool's 1x1 r
    (generation MSE 0.0090 against 0.0107 at 6000 steps; at the compute of 20000 steps,
    0.00730 against 0.01079, though the pool's r carries an object's shape through the
    scene algebra, which the tower's does only where the object stays in place:
    section 16);
  - the pixel sigma anneals from 2.0 to the paper's 0.7 in 2000 steps, not 200000.
    Annealed over 10000 steps it rendered within 3% of this at every checkpoint to
    40000 steps (0.00612 against 0.00627 there), with the latent unused until the sigma
    reached 0.7 (KL 0.04 nats at 10000 steps against 3.09) and lower after (section 13);
  - a learning rate of 1e-3, annealed to 1e-4 over 60000 steps, so that the rate reaches
    its floor as a 60000-step run ends (docs/experiments.md, section 9). Annealed over
    20000 steps it sat at its floor for the last third of a 30000-step run, and rooms
    gained 0.00030 in MSE there against 0.00157 in the 10000 steps before (section 8).
    A run of another length matches it with --anneal_lr_tau: the hour's 130000 steps,
    annealed over all of them, render rooms at 0.00514 against 0.00583 after 60000
    (section 10);
  - for the hour's last 30000 steps the recipe adds a late stage of the pixel sigma,
    0.5 instead of 0.7 (--sigma_late 0.5 --sigma_late_step 100000; section 12): on
    10000 rooms scenes the KL at 5 views ends at 2.16 nats against 0.86, and the mean
    render at 0.00481 against 0.00481. A late sigma of 0.35 gave KL 5.4 and 0.00498;
    0.35 from the start, KL 19 and a render 55% worse after 10000 steps (section 10).
  It trains as the paper did where that was measured to help or is needed:
  - the paper's prior timing (PRIOR_BEFORE_UPDATE): with tf-gqn's, sigma 0.7 generates
    worse as training goes on (0.0117 after 10000 steps), with the paper's it keeps
    improving (0.0086 after 5000 steps, 0.0071 after 10000);
  - a random number of context views, 1..5 per batch (RANDOM_CONTEXT_SIZE): one model
    then renders from any number of views, a single one included. It costs mean-render
    MSE at 5 views for the same steps (0.0095 against 0.0078 after 7500 steps) and makes
    the latent carry what the views leave open (KL 3.5 against 0.05 nats at 5 views),
    so samples differ where the context did not look. Training on all 5 views for the
    first 5000 steps (FIXED_CONTEXT_STEPS) led by 6% at 20000 steps and ended the hour
    level (0.00482 against 0.00481) with KL 1.93 against 2.16 nats (section 15).
  The equal-compute search (docs/experiments.md, section 6: 300 s of benchmarked compute
  each) kept these sizes: 64-channel cores (0.01237 against 0.01166), 8 DRAW steps,
  batch 32, a learning rate of 5e-4, a final sigma of 0.5 and the resize upsampling
  (0.01807: its step costs 2.2x) did not beat them; always 5 views was 6% lower in MSE
  (0.01092) but leaves the latent unused. On an AMX CPU (section 9) the 64-channel cores
  learn no more per step (0.01138 against 0.01139 at 2500 steps), and the resize
  upsampling, run longer, renders 26% worse per step (0.00918 against 0.00726 at 20000
  steps) for a 1.6x step. The recipe's batch of 16 stays: batch 64, whose step costs 2.8x
  (section 13), renders 2-14% worse at equal compute (0.00737 against 0.00726 after 9
  minutes) and leaves the latent unused (KL 0.00 nats at 5 views). The cores stay on
  the encoder's 8x8 grid (CANVAS_SCALE 4, tf-gqn's): on a 16x16 grid (CANVAS_SCALE 2,
  a 1.9x step) they rendered 18% worse at 10 minutes of equal compute (0.00863 against
  0.00730) with the latent unused, and a 5x5 image head rendered 46% worse at equal
  steps (section 14).
  """
  return create_gqn_config(dict(
      IMG_HEIGHT=32, IMG_WIDTH=32, ENC_TYPE='tower', ENC_CHANNELS=64,
      LSTM_OUTPUT_CHANNELS=32, LSTM_CANVAS_CHANNELS=32, LSTM_KERNEL_SIZE=3, Z_CHANNELS=8,
      SEQ_LENGTH=4, ETA_INTERNAL_KERNEL_SIZE=3, GENERATOR_SIGMA_BETA=0.7,
      ANNEAL_SIGMA_TAU=2000, ANNEAL_LR_TAU=60000, ADAM_LR_ALPHA=1e-3, ADAM_LR_BETA=1e-4,
      PRIOR_BEFORE_UPDATE=True, RANDOM_CONTEXT_SIZE=True))


def small_config():
  """`tiny` with a 48-channel code of the scene beside r's map: the rooms hour's preset.

  The one departure from `tiny`, ENC_CODE_CHANNELS 48 (docs/experiments.md, section 18,
  10000 rooms scenes, batch 16, seed 0, the hour's compute): a 1x1 head on the tower's
  features, averaged over the grid, summed over the views and appended to every cell of
  r. Its step costs 1.028x `tiny`'s (0.0480 against 0.0467 s, medians of three
  alternating bench rounds), so the hour is 126000 steps against 130000. Over that hour
  it renders rooms at 0.00467 against `tiny`'s 0.00481, ahead at every checkpoint
  (0.00688 against 0.00730 at 20000 steps), and the scene algebra's object-shape row
  falls below "render r_A" (-2.5% over 30 quadruples, -5.9% over 100), which `tiny`'s
  does not (+10%, +3.5%). The code carries what the latent otherwise would: with the
  hour's late sigma of 0.5 its KL ends at 1.63 nats, with 0.45 at 2.32 for the same
  render, so the recipe (results.py) gives it 0.45. Trained again from step 0 by
  results.py, that recipe gave the published rooms snapshot: 0.00470, KL 2.22, the
  shape row -2.6% over 30 quadruples and -8.3% over 100 (section 19).
  """
  return create_gqn_config(dict(ENC_CODE_CHANNELS=48), base=tiny_config())


PRESETS = collections.OrderedDict([('default', default_config), ('tiny', tiny_config),
                                   ('small', small_config)])


def preset(name):
  """Returns the named preset config ('default', 'tiny' or 'small')."""
  if name not in PRESETS:
    raise ValueError('Unknown preset %r; choose one of: %s.' % (name, ', '.join(PRESETS)))
  return PRESETS[name]()


def config_to_json(config):
  """Serialises a config as the `gqn_config.json` of a model directory."""
  return json.dumps(config._asdict(), indent=2, sort_keys=False)


def config_from_json(text, source='gqn_config.json'):
  """Parses a `gqn_config.json`, refusing unknown keys and wrongly typed values.

  Unlike `create_gqn_config` (which ignores unknown keys, as tf-gqn did), a config file
  in a model directory is this project's own record of a run, so a key it does not know
  is a typo or a file from elsewhere and is reported.

  Raises:
    ValueError: the text is not a JSON object, has an unknown key or a wrong type.
  """
  try:
    values = json.loads(text)
  except ValueError as error:
    raise ValueError('%s is not valid JSON (%s).' % (source, error))
  if not isinstance(values, dict):
    raise ValueError('%s must hold a JSON object of GQNConfig fields.' % source)
  for key, value in values.items():
    if key not in GQNConfig._fields:
      raise ValueError('%s has an unknown key %r; valid keys are GQNConfig fields: %s.'
                       % (source, key, ', '.join(GQNConfig._fields)))
    # JSON has no tuples and writes floats like 2.0 as such; ints stay ints, and an int
    # where the field holds a float is taken as that float.
    expected = type(getattr(_DEFAULT_CONFIG, key))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
      values[key] = float(value)
    elif value is not None and not isinstance(value, expected) or (
        expected is int and isinstance(value, bool)):
      raise ValueError('%s: key %r is %r (%s); it must be %s.'
                       % (source, key, value, type(value).__name__, expected.__name__))
  return create_gqn_config(values)
