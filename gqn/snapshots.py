"""Published model snapshots: a model directory's final checkpoint, small enough to commit.

A snapshot directory holds what evaluating and rendering need, as tf-gqn's published
snapshots did, and this project's record of what it measures:

  gqn_config.json              the config (GQNConfig fields)
  checkpoint                   names the one checkpoint
  model.ckpt-N.index, .data-*  the model's variables and global_step: no optimizer slots
                               (Adam's m and v are two thirds of a training checkpoint)
  metrics.json                 eval_gqn.py's metrics of the checkpoint on the test split

`publish` writes one from a training run's model directory. eval_gqn.py, analyze_gqn.py
and GqnViewPredictor read it like any model directory. Training on from it starts a new
model directory (`train_gqn_draw.py --init_from SNAPSHOT`): the variables and the global
step come from the snapshot (`warm_start_settings`), Adam starts with fresh slots.
"""

import json
import os
import re
import shutil

import tensorflow.compat.v1 as tf

from gqn import checkpoints
from gqn import model_dir as model_dir_lib

# Variables that only the optimizer needs: Adam's slots and its beta powers.
_OPTIMIZER_VARIABLE = re.compile(r'(^|/)(Adam(_\d+)?|beta[12]_power)$')


def is_optimizer_variable(name):
  """Whether the checkpoint variable `name` belongs to the optimizer, not the model."""
  return _OPTIMIZER_VARIABLE.search(name) is not None


def model_variable_names(checkpoint_path):
  """The names of the checkpoint's variables that are not the optimizer's, sorted."""
  return sorted(name for name in checkpoints.read_variables(checkpoint_path)
                if not is_optimizer_variable(name))


def publish(model_dir, output_dir, metrics=None):
  """Writes the snapshot of `model_dir`'s latest checkpoint into `output_dir`.

  Args:
    model_dir: a training run's model directory (gqn_config.json and checkpoints).
    output_dir: the snapshot directory; a snapshot already there is replaced.
    metrics: the metrics dict of that checkpoint (evaluation.evaluate), written as
      metrics.json; None writes none.

  Returns:
    The snapshot's checkpoint prefix.
  """
  checkpoint = checkpoints.find_checkpoint(model_dir)
  step = checkpoints.global_step(checkpoint)
  if os.path.isdir(output_dir):
    shutil.rmtree(output_dir)
  os.makedirs(output_dir)
  shutil.copy(model_dir_lib.config_path(model_dir), model_dir_lib.config_path(output_dir))
  prefix = os.path.join(output_dir, 'model.ckpt-%d' % step)
  with tf.Graph().as_default():
    variables = [tf.Variable(tf.train.load_variable(checkpoint, name), name=name)
                 for name in model_variable_names(checkpoint)]
    # The `checkpoint` file names the checkpoint relative to the directory, so the
    # snapshot can be moved and committed.
    saver = tf.train.Saver(variables, sharded=False, save_relative_paths=True)
    with tf.Session() as sess:
      sess.run(tf.variables_initializer(variables))
      saver.save(sess, prefix, write_meta_graph=False)
  if metrics is not None:
    with open(os.path.join(output_dir, 'metrics.json'), 'w') as f:
      f.write(json.dumps(metrics, indent=2) + '\n')
  return prefix


def warm_start_settings(checkpoint):
  """tf.estimator.WarmStartSettings that start a new run from a snapshot's variables.

  Every variable of the checkpoint (a snapshot's: the model's and global_step, so the
  schedules go on where they were) initialises its namesake; the optimizer's slots start
  afresh.

  Args:
    checkpoint: the checkpoint prefix (checkpoints.find_checkpoint of the snapshot).
  """
  names = model_variable_names(checkpoint)
  # A list of patterns selects among all global variables (a single pattern only among
  # the trainable ones, which would leave out global_step).
  return tf.estimator.WarmStartSettings(
      ckpt_to_initialize_from=checkpoint,
      vars_to_warm_start=['^%s(:0)?$' % re.escape(name) for name in names])
