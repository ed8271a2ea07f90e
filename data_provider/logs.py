"""What the commands print besides their results: the `gqn` logger; TensorFlow kept quiet.

Every command (train_gqn_draw.py, eval_gqn.py, demo.py, analyze_gqn.py, the renderer)
shows by default only what a person reads: its own messages, which go through `logger`
(the `gqn` logger, plain lines on stderr, warnings prefixed `warning:`), its progress
lines and its result. TensorFlow's INFO lines, its deprecation notices (many come from
tf.estimator and tf.data names that TensorFlow 1.15 has no other spelling for) and the
C++ start-up lines (CUDA factory registration, CPU feature guard, TF-TRT) are hidden;
`--verbose` brings them back.

A command calls `quiet_tensorflow_startup()` before it imports TensorFlow (the C++ log
level is read once, at import), adds `--verbose` with `add_verbose_flag`, and calls
`setup(args.verbose)` after parsing its flags. Library code logs with `logger` and never
sets levels: a program that imports it decides.
"""

import logging
import os
import sys
import warnings

VERBOSE_FLAG = '--verbose'

# The project's messages: library modules log here, the commands show them.
logger = logging.getLogger('gqn')


def quiet_tensorflow_startup(argv=None):
  """Hides TensorFlow's C++ log lines unless `--verbose` is in `argv` (default sys.argv).

  Level 3 also holds back the harmless E lines of CUDA plugin registration; a real
  failure still reaches the program as an exception. A TF_CPP_MIN_LOG_LEVEL the user
  set is kept.
  """
  argv = sys.argv[1:] if argv is None else argv
  # The exact flag only: every command's parser refuses abbreviations (allow_abbrev=False).
  if VERBOSE_FLAG not in argv:
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


def add_verbose_flag(parser):
  """Adds --verbose to an argparse parser (or argument group)."""
  parser.add_argument(VERBOSE_FLAG, action='store_true',
                      help='Also show TensorFlow\'s own logs: INFO lines, deprecation '
                      'notices and its C++ start-up messages.')


class _StderrHandler(logging.StreamHandler):
  """Writes to the sys.stderr of the moment, so a replaced stderr (tests) is followed."""

  def __init__(self):
    super(_StderrHandler, self).__init__(sys.stderr)

  @property
  def stream(self):
    return sys.stderr

  @stream.setter
  def stream(self, value):
    pass


class _PlainFormatter(logging.Formatter):
  """The message alone; warnings and errors say so first."""

  def format(self, record):
    message = super(_PlainFormatter, self).format(record)
    if record.levelno >= logging.WARNING:
      return '%s: %s' % (record.levelname.lower(), message)
    return message


def setup(verbose=False):
  """Shows the `gqn` logger's INFO lines on stderr and sets TensorFlow's loudness.

  Args:
    verbose: False hides TensorFlow's INFO lines and deprecation notices (its logger at
      ERROR, Python's "is deprecated" warnings ignored); True shows them.
  """
  if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
    handler = _StderrHandler()
    handler.setFormatter(_PlainFormatter())
    logger.addHandler(handler)
  logger.setLevel(logging.INFO)
  logger.propagate = False  # One line per message, whatever the root logger does.
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  tf.logging.set_verbosity(tf.logging.INFO if verbose else tf.logging.ERROR)
  if not verbose:
    # tf.layers and tf.compat.v1 modules warn through Python's warnings, not the logger;
    # the layers keep the variable names tf-gqn's checkpoints hold, so they stay.
    warnings.filterwarnings('ignore', message=r'.*deprecat')
