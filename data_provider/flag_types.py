"""argparse types that the commands' flags share.

    parser.add_argument('--batch_size', type=flag_types.positive_int, default=36)

A value of the wrong kind is argparse's error, naming the flag, with exit status 2,
before anything runs.
"""

import argparse


def positive_int(text):
  """argparse type: an integer of at least 1 (a count of steps, scenes, threads, ...).

  Raises:
    argparse.ArgumentTypeError: `text` is not an integer, or is below 1.
  """
  try:
    value = int(text)
  except ValueError:
    value = 0
  if value < 1:
    raise argparse.ArgumentTypeError('expected a positive integer, got %r' % text)
  return value
