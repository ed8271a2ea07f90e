"""The command-line flags that set GQNConfig fields, defined once for every entry point.

train_gqn_draw.py and eval_gqn.py call `define_config_flags`; `config_overrides` reads
the fields the user set back from the parsed flags, and `flag_of` names the flag of a
field in error messages. A flag left unset (None) sets nothing, so the preset or the
model directory's gqn_config.json decides.
"""

import collections

from data_provider import flag_types
from gqn import gqn_params

# --prior_timing's values -> PRIOR_BEFORE_UPDATE.
PRIOR_TIMINGS = {'paper': True, 'tf-gqn': False}

# Flag -> the GQNConfig fields it sets, for every flag of any entry point.
FLAG_FIELDS = collections.OrderedDict([
    ('model', ('MODEL',)),
    ('prior_timing', ('PRIOR_BEFORE_UPDATE',)),
    ('enc_type', ('ENC_TYPE',)),
    ('seq_length', ('SEQ_LENGTH',)),
    ('context_size', ('CONTEXT_SIZE',)),
    ('img_size', ('IMG_HEIGHT', 'IMG_WIDTH')),
    ('canvas_scale', ('CANVAS_SCALE',)),
    ('enc_pooled_channels', ('ENC_POOLED_CHANNELS',)),
    ('enc_code_channels', ('ENC_CODE_CHANNELS',)),
    ('adam_lr_alpha', ('ADAM_LR_ALPHA',)),
    ('adam_lr_beta', ('ADAM_LR_BETA',)),
    ('anneal_lr_tau', ('ANNEAL_LR_TAU',)),
    ('sigma_late', ('GENERATOR_SIGMA_LATE',)),
    ('sigma_late_step', ('SIGMA_LATE_STEP',)),
    ('fixed_context_steps', ('FIXED_CONTEXT_STEPS',)),
])


def define_config_flags(parser, encoder=False, schedule=False):
  """Adds --preset and the config flags to an argparse parser.

  Args:
    parser: an argparse.ArgumentParser (or argument group).
    encoder: add --enc_type (evaluation: tf-gqn's snapshots need it; training takes the
      encoder from the preset).
    schedule: add the learning-rate schedule's flags (training).
  """
  parser.add_argument('--preset', choices=list(gqn_params.PRESETS), default=None,
                      help='Named config (default: "default", the tf-gqn model; for '
                      'evaluation, the one the model was trained with).')
  parser.add_argument('--model', choices=gqn_params.MODELS, default=None,
                      help='draw: the GQN with the DRAW renderer; vae: the GQN-VAE '
                      'baseline (gqn/gqn_vae.py). Default: draw for a new model, else the '
                      'one its directory records.')
  parser.add_argument('--prior_timing', choices=sorted(PRIOR_TIMINGS), default=None,
                      help='Which generator state the training prior reads: "paper" (before '
                      'the step\'s update, as generation does; every preset) or "tf-gqn" '
                      '(after it; tf-gqn\'s snapshots were trained so). Default: the '
                      'preset\'s, or the one the model directory records.')
  if encoder:
    parser.add_argument('--enc_type', choices=gqn_params.ENCODER_TYPES, default=None,
                        help='Scene encoder (default: read off the checkpoint).')
  parser.add_argument('--seq_length', type=flag_types.positive_int, default=None,
                      help='DRAW steps L.')
  parser.add_argument('--context_size', type=flag_types.positive_int, default=None,
                      help='Context views K.')
  parser.add_argument('--img_size', type=flag_types.positive_int, default=None,
                      help='Frame size the model works at; frames are resized to it.')
  parser.add_argument('--canvas_scale', type=int, choices=gqn_params.CANVAS_SCALES,
                      default=None,
                      help='The image over the DRAW cores\' grid (tf-gqn: 4, 4x4 blocks); 2 '
                      'halves the blocks, for about 1.9x the step of the tiny preset.')
  parser.add_argument('--enc_pooled_channels', type=flag_types.non_negative_int, default=None,
                      help='With the tower encoder, average the last this many channels of '
                      'r over its grid (a code without a place beside the map); 0 (the '
                      'default) is tf-gqn\'s tower.')
  parser.add_argument('--enc_code_channels', type=flag_types.non_negative_int, default=None,
                      help='With the tower encoder, add a code of this many channels to r '
                      '(its own 1 x 1 head, averaged over the grid), leaving all of the '
                      'map\'s channels in place; 0 (the default) is tf-gqn\'s tower.')
  if schedule:
    parser.add_argument('--adam_lr_alpha', type=float, default=None,
                        help='Initial learning rate (tf-gqn: 5e-4).')
    parser.add_argument('--adam_lr_beta', type=float, default=None,
                        help='Final learning rate (tf-gqn: 5e-5).')
    parser.add_argument('--anneal_lr_tau', type=flag_types.positive_int, default=None,
                        help='Steps over which the learning rate anneals.')
    parser.add_argument('--sigma_late', type=float, default=None,
                        help='Pixel sigma from --sigma_late_step on (the late stage of its '
                        'schedule; the recipe: 0.5 from step 100000 of 130000).')
    parser.add_argument('--sigma_late_step', type=flag_types.non_negative_int, default=None,
                        help='Global step where --sigma_late takes over; 0 (the default) '
                        'keeps the annealed sigma to the end.')
    parser.add_argument('--fixed_context_steps',
                        type=flag_types.non_negative_int, default=None,
                        help='With a random number of context views (the tiny preset), '
                        'train on all of them until this global step; 0 (the default) '
                        'draws the number from the start.')


def config_overrides(args):
  """GQNConfig fields set by the flags the user gave, from parsed argparse `args`.

  A flag left unset (None) or that the tool does not have sets nothing.
  """
  overrides = {}
  for flag, fields in FLAG_FIELDS.items():
    value = getattr(args, flag, None)
    if flag == 'prior_timing' and value is not None:
      value = PRIOR_TIMINGS[value]
    if value is not None:
      overrides.update((field, value) for field in fields)
  return overrides


def flag_of(field):
  """The flag that sets GQNConfig field `field`, e.g. '--enc_type'; None if none does."""
  for flag, fields in FLAG_FIELDS.items():
    if field in fields:
      return '--' + flag
  return None
