"""argparse types that the commands' flags share.

    parser.add_argument('--batch_size', type=flag_types.positive_int, default=36)

A value of the wrong kind is argparse's error, naming the flag, with exit status 2,
before anything runs.
"""

import argparse


def _int_of_at_least(text, minimum, kind):
  try:
    value = int(text)
  except ValueError:
    value = minimum - 1
  if value < minimum:
    raise argparse.ArgumentTypeError('expected %s, got %r' % (kind, text))
  return value


def positive_int(text):
  """argparse type: an integer of at least 1 (a count of steps, scenes, threads, ...).

  Raises:
    argparse.ArgumentTypeError: `text` is not an integer, or is below 1.
  """
  return _int_of_at_least(text, 1, 'a positive integer')


def non_negative_int(text):
  """argparse type: an integer of at least 0, where 0 means none, all or the default
  (--keep_checkpoints 0 keeps every checkpoint, --sigma_late_step 0 has no late stage).

  Raises:
    argparse.ArgumentTypeError: `text` is not an integer, or is below 0.
  """
  return _int_of_at_least(text, 0, 'an integer of 0 or more')
