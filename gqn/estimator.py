"""The GQN Estimator: its RunConfig (session, checkpoints, distribution, XLA) and params."""

import os

import tensorflow.compat.v1 as tf

from gqn import distribute as distribute_lib
from gqn import gqn_model
from gqn import gqn_vae

# GQNConfig.MODEL -> the model_fn that builds it; both share the DRAW model_fn's contract.
MODEL_FNS = {'draw': gqn_model.gqn_draw_model_fn, 'vae': gqn_vae.gqn_vae_model_fn}


def make_estimator(config, model_dir, debug=False, log_steps=100, chkpt_steps=10000,
                   memcap=1.0, seed=None, distribution=None, xla=False,
                   mixed_precision=None, max_steps=None, keep_checkpoints=5,
                   warm_start_from=None):
  """The GQN Estimator for `model_dir`, of the model `config.MODEL` names (MODEL_FNS).

  `distribution`: a gqn.distribute.Distribution. `xla`: compile the graphs with XLA
  (global JIT). `mixed_precision`: None, 'float16' or 'bfloat16', the compute dtype
  (variables and checkpoints stay float32; see gqn_model.gqn_draw_model_fn).
  `max_steps`: the step the training log line's ETA counts to (None: no ETA).
  `keep_checkpoints`: the newest checkpoints kept; 0 keeps every one.
  `warm_start_from`: tf.estimator.WarmStartSettings for a new model directory (e.g.
  gqn.snapshots.warm_start_settings), or None.
  """
  session_config = tf.ConfigProto(
      gpu_options=tf.GPUOptions(per_process_gpu_memory_fraction=memcap, allow_growth=True))
  train_distribute = None
  if distribution is not None:
    train_distribute = distribution.strategy
    distribute_lib.configure_session(distribution, session_config)
  if xla:
    session_config.graph_options.optimizer_options.global_jit_level = (
        tf.OptimizerOptions.ON_1)
    # Without this flag auto-clustering leaves CPU graphs alone; TensorFlow reads it
    # when the first session starts.
    flags = os.environ.get('TF_XLA_FLAGS', '')
    if '--tf_xla_cpu_global_jit' not in flags:
      os.environ['TF_XLA_FLAGS'] = (flags + ' --tf_xla_cpu_global_jit').strip()
  run_config = tf.estimator.RunConfig(
      model_dir=model_dir, save_checkpoints_steps=chkpt_steps, save_checkpoints_secs=None,
      # log_step_count_steps: global_step/sec in TensorBoard (its log lines are TensorFlow
      # INFO, shown with --verbose; TrainLogHook writes the line a person reads).
      save_summary_steps=log_steps, log_step_count_steps=log_steps, tf_random_seed=seed,
      keep_checkpoint_max=keep_checkpoints or None,
      session_config=session_config, train_distribute=train_distribute)
  return tf.estimator.Estimator(
      model_fn=MODEL_FNS[config.MODEL], model_dir=model_dir, config=run_config,
      warm_start_from=warm_start_from,
      params={'gqn_params': config, 'debug': debug, 'log_steps': log_steps,
              'mixed_precision': mixed_precision, 'max_steps': max_steps})
