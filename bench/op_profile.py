"""Where a step's time goes: the op times of traced steps, summed per op type.

`python -m bench.bench_gqn --profile` prints this table after the timings. It answers
why a faster arithmetic (bfloat16 on AMX) speeds the whole step up by less than its
matrix products: how much of the step the convolutions and matrix products are, how much
the element-wise ops, the casts and the ops that oneDNN does not run (TensorFlow's
oneDNN kernels carry the prefix `_Mkl` in a trace; the others are Eigen's).
"""

import collections

# Op types that oneDNN runs appear under these names in a trace.
ONEDNN_PREFIX = '_Mkl'


def op_type(node_stats):
  """The executed op type of one NodeExecStats: 'Conv2D', '_MklNativeConv2D', ..."""
  label = node_stats.timeline_label
  if ' = ' in label:
    return label.split(' = ', 1)[1].split('(', 1)[0].strip() or node_stats.node_name
  return node_stats.node_name.split(':')[0]


def trace(tf, session, fetch, feed, steps=3):
  """Seconds per step of each op type, averaged over `steps` traced runs.

  The op times are summed, so where ops run in parallel they add up to more than the
  step's wall time; the shares say where the work is, not the critical path.

  Returns:
    collections.Counter op type -> seconds per step.
  """
  totals = collections.Counter()
  for _ in range(steps):
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    metadata = tf.RunMetadata()
    session.run(fetch, feed, options=options, run_metadata=metadata)
    for device in metadata.step_stats.dev_stats:
      for node in device.node_stats:
        totals[op_type(node)] += node.all_end_rel_micros * 1e-6 / steps
  return totals


def summary(totals):
  """The shares of a `trace`: (convolution and matmul share, cast share, oneDNN share)."""
  total = sum(totals.values()) or 1.0
  def share(pick):
    return sum(s for name, s in totals.items() if pick(name)) / total
  # Every convolution (forward, both backward, fused) and matrix product, oneDNN's or not.
  return (share(lambda name: 'Conv2D' in name or 'MatMul' in name),
          share(lambda name: name.endswith('Cast')),
          share(lambda name: name.startswith(ONEDNN_PREFIX)))


def table(totals, top=12):
  """A Markdown table of the `top` op types by time, and the rest in one row."""
  total = sum(totals.values()) or 1.0
  lines = ['| op type | ms per step | share | oneDNN |', '|---|---|---|---|']
  ranked = totals.most_common()
  for name, seconds in ranked[:top]:
    lines.append('| %s | %.2f | %.0f%% | %s |' % (
        name, seconds * 1e3, 100.0 * seconds / total,
        'yes' if name.startswith(ONEDNN_PREFIX) else 'no'))
  rest = sum(seconds for _, seconds in ranked[top:])
  if rest:
    lines.append('| %d other types | %.2f | %.0f%% | |' % (
        len(ranked) - top, rest * 1e3, 100.0 * rest / total))
  dense, casts, onednn = summary(totals)
  lines.append('')
  lines.append('Convolutions and matrix products %.0f%% of the op time, casts %.0f%%, '
               'ops run by oneDNN %.0f%%.' % (100 * dense, 100 * casts, 100 * onednn))
  return '\n'.join(lines)
