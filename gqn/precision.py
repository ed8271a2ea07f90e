"""Mixed precision: the dtype the network computes in, casts to it, and loss scaling.

The network computes in float16 or bfloat16 while the variables (and so the
checkpoints) stay float32: a variable is cast where a computation uses it, and its
gradient comes back in float32 through the cast.
"""

import collections

import tensorflow.compat.v1 as tf


def cast_to(tensor, dtype):
  """`tensor` in `dtype`; no op is added when it already has it.

  Variables are float32 always (checkpoints hold float32); under mixed precision they
  are cast where a float16 / bfloat16 computation uses them, so their gradients come
  back in float32 through the cast.
  """
  if tensor.dtype.base_dtype == dtype:
    return tensor
  return tf.cast(tensor, dtype)


# The compute dtypes of mixed precision, by the name `--mixed_precision` takes.
MIXED_PRECISION_DTYPES = collections.OrderedDict([
    ('float16', tf.float16), ('bfloat16', tf.bfloat16)])


# `--mixed_precision auto`: bfloat16 on a CPU with native bfloat16 arithmetic, else float32.
AUTO = 'auto'
# /proc/cpuinfo flags of x86 CPUs that compute in bfloat16 natively: AMX tiles (Sapphire
# Rapids and later) and AVX512_BF16 (Cooper Lake, Zen 4). Without them oneDNN emulates
# bfloat16 and the step gets slower, not faster.
BFLOAT16_CPU_FLAGS = ('amx_bf16', 'avx512_bf16')


def cpu_has_bfloat16(cpuinfo='/proc/cpuinfo'):
  """Whether this machine's CPU computes in bfloat16 natively (False where unknown)."""
  try:
    with open(cpuinfo) as f:
      text = f.read()
  except (IOError, OSError):
    return False
  flags = set()
  for line in text.splitlines():
    if line.startswith('flags'):
      flags.update(line.partition(':')[2].split())
  return any(flag in flags for flag in BFLOAT16_CPU_FLAGS)


def resolve(mixed_precision, has_gpu=None, cpuinfo='/proc/cpuinfo'):
  """The compute precision a run uses: `mixed_precision`, with 'auto' decided here.

  'auto' is bfloat16 when the model runs on a CPU with native bfloat16 (AMX or
  AVX512_BF16) and float32 otherwise (a GPU, or a CPU without it, where bfloat16 would be
  emulated). On an AMX CPU the tiny step trains 1.33x faster in bfloat16 (64-channel
  cores 1.37x) and learns as much per step (docs/experiments.md, section 9).

  Args:
    mixed_precision: None (float32), 'float16', 'bfloat16' or 'auto'.
    has_gpu: whether a GPU is visible; None asks TensorFlow.
    cpuinfo: where the CPU's flags are read (Linux).

  Returns:
    None (float32), 'float16' or 'bfloat16'.
  """
  if mixed_precision != AUTO:
    compute_dtype(mixed_precision)  # Refuses an unknown name.
    return mixed_precision
  if has_gpu is None:
    has_gpu = bool(tf.config.experimental.list_physical_devices('GPU'))
  if not has_gpu and cpu_has_bfloat16(cpuinfo):
    return 'bfloat16'
  return None


def compute_dtype(mixed_precision):
  """The dtype the network computes in.

  Args:
    mixed_precision: None (float32), 'float16' or 'bfloat16'.

  Returns:
    tf.float32, tf.float16 or tf.bfloat16.

  Raises:
    ValueError: another value.
  """
  if mixed_precision is None:
    return tf.float32
  if mixed_precision not in MIXED_PRECISION_DTYPES:
    raise ValueError('mixed_precision is %r; use None (float32) or one of %s.'
                     % (mixed_precision, ', '.join(MIXED_PRECISION_DTYPES)))
  return MIXED_PRECISION_DTYPES[mixed_precision]


def minimize(optimizer, loss, global_step, dtype=tf.float32, initial_loss_scale=2.0 ** 15,
             growth_interval=2000):
  """`optimizer.minimize(loss)`, with dynamic loss scaling when computing in float16.

  float16 has a narrow exponent range, so the loss is multiplied by a scale S before
  differentiation (small gradients would otherwise flush to zero) and the float32
  gradients are divided by S. A step with a non-finite gradient is skipped (the global
  step still counts it) and halves S; `growth_interval` finite steps in a row double it.
  S and the count are local variables: a checkpoint holds the same variables as in
  float32 training, and S starts again from `initial_loss_scale` when a run restarts.
  float32 and bfloat16 (float32's exponent range) need no scaling.

  Args:
    optimizer: a tf.train.Optimizer.
    loss: float32 scalar.
    global_step: the global step variable; incremented by the returned op.
    dtype: the compute dtype (see `compute_dtype`).
    initial_loss_scale: S at the first step.
    growth_interval: finite steps after which S doubles.

  Returns:
    The training op.
  """
  if dtype != tf.float16:
    return optimizer.minimize(loss, global_step=global_step)
  local = [tf.GraphKeys.LOCAL_VARIABLES]
  with tf.variable_scope('loss_scale'):
    scale = tf.get_variable('scale', [], tf.float32, trainable=False, collections=local,
                            initializer=tf.constant_initializer(initial_loss_scale))
    finite_steps = tf.get_variable('finite_steps', [], tf.int64, trainable=False,
                                   collections=local, initializer=tf.zeros_initializer())
  grads_and_vars = optimizer.compute_gradients(loss * scale)
  grads_and_vars = [(g / scale, v) for g, v in grads_and_vars if g is not None]
  finite = tf.reduce_all([tf.reduce_all(tf.is_finite(g)) for g, _ in grads_and_vars])

  def apply_step():
    grow = finite_steps + 1 >= growth_interval
    with tf.control_dependencies([optimizer.apply_gradients(grads_and_vars, global_step)]):
      return tf.group(tf.assign(scale, tf.where(grow, scale * 2.0, scale)),
                      tf.assign(finite_steps, tf.where(grow, tf.zeros_like(finite_steps),
                                                       finite_steps + 1)))

  def skip_step():
    return tf.group(tf.assign_add(global_step, 1),
                    tf.assign(scale, tf.maximum(scale / 2.0, 1.0)),
                    tf.assign(finite_steps, tf.zeros_like(finite_steps)))

  return tf.cond(finite, apply_step, skip_step)
