"""FLOPs of a TensorFlow graph: the multiply-adds of its convolutions and matrix products.

The count covers the convolutions (forward and both backward ops), transposed
convolutions and matrix products that the fetched ops depend on, 2 FLOPs per
multiply-add, after merging identical nodes as TensorFlow's graph optimiser does;
element-wise ops are not counted. The benchmark reports it, and the tests pin it.
"""

import numpy as np


def _static(shape):
  dims = shape.as_list() if shape.dims is not None else None
  if dims is None or any(d is None for d in dims):
    return None
  return dims


def _op_flops(op):
  """2 * multiply-adds of a convolution or matrix product; 0 for other ops; None if the
  shapes are not static."""
  kind = op.type
  if kind in ('Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'):
    # All three do one multiply-add per (output position, kernel tap, in channel, out
    # channel) of the forward convolution.
    if kind == 'Conv2D':
      out, kernel = _static(op.outputs[0].shape), _static(op.inputs[1].shape)
    elif kind == 'Conv2DBackpropInput':
      out, kernel = _static(op.inputs[2].shape), _static(op.inputs[1].shape)
    else:
      out, kernel = _static(op.inputs[2].shape), _static(op.outputs[0].shape)
    if out is None or kernel is None:
      return None
    return 2 * int(np.prod(out)) * kernel[0] * kernel[1] * kernel[2]
  if kind == 'MatMul':
    a, out = _static(op.inputs[0].shape), _static(op.outputs[0].shape)
    if a is None or out is None:
      return None
    inner = a[0] if op.get_attr('transpose_a') else a[1]
    return 2 * int(np.prod(out)) * inner
  if kind in ('BatchMatMul', 'BatchMatMulV2', 'BatchMatMulV3'):
    a, out = _static(op.inputs[0].shape), _static(op.outputs[0].shape)
    if a is None or out is None:
      return None
    inner = a[-2] if op.get_attr('adj_x') else a[-1]
    return 2 * int(np.prod(out)) * inner
  if kind == 'Einsum':
    equation = op.get_attr('equation').decode()
    sizes = {}
    for spec, tensor in zip(equation.split('->')[0].split(','), op.inputs):
      dims = _static(tensor.shape)
      if dims is None or '.' in spec:
        return None
      sizes.update(zip(spec, dims))
    return 2 * int(np.prod(list(sizes.values())))
  return 0


def graph_flops(fetches):
  """FLOPs of one run of `fetches`: convolutions and matrix products they depend on.

  Identical nodes (same op, inputs and attributes; not stateful) are counted once, as
  the graph optimiser's common-subexpression elimination merges them before running.

  Returns:
    (flops, number of counted ops whose shapes were not static and were left out).
  """
  fetch_ops = [getattr(f, 'op', f) for f in fetches]
  # Reachable ops, then a topological order (inputs first).
  order, seen, stack = [], set(), [(op, False) for op in fetch_ops]
  while stack:
    op, expanded = stack.pop()
    if expanded:
      order.append(op)
      continue
    if op in seen:
      continue
    seen.add(op)
    stack.append((op, True))
    for parent in [t.op for t in op.inputs] + list(op.control_inputs):
      if parent not in seen:
        stack.append((parent, False))
  canonical, signatures = {}, {}
  flops, unknown = 0, 0
  for op in order:
    inputs = tuple('%s:%d' % (canonical.get(t.op.name, t.op.name), t.value_index)
                   for t in op.inputs)
    attrs = tuple(sorted((k, v.SerializeToString()) for k, v in op.node_def.attr.items()))
    controls = tuple(sorted(canonical.get(c.name, c.name) for c in op.control_inputs))
    key = (op.type, inputs, attrs, controls)
    # Reads of one variable that wait for the same ops see the same value.
    mergeable = not op.op_def.is_stateful or op.type == 'ReadVariableOp'
    if mergeable and op.type not in ('Placeholder', 'Const'):
      if key in signatures:
        canonical[op.name] = signatures[key]
        continue
      signatures[key] = op.name
    count = _op_flops(op)
    if count is None:
      unknown += 1
    else:
      flops += count
  return flops, unknown
