"""The fast implementation computes what the reference one does.

See docs/model.md#two-implementations.

Both implementations build the same variables; loaded with the deterministic reference
weights and with the sampling noise zeroed, their losses, gradients, images and metrics
agree to float rounding, for both encoders and both prior timings.
"""

import collections
import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import train_gqn_draw
from bench import bench_gqn
from bench import flops as flops_lib
from bench import op_profile
from data_provider.gqn_tfr_provider import Context, Query
from gqn import fast_unroll
from gqn import gqn_draw
from gqn import gqn_graph
from gqn import gqn_model
from gqn import gqn_objective
from gqn import gqn_params
from gqn import precision as precision_lib
from tests import fake_data
from tests.data import reference_weights

MODES = tf.estimator.ModeKeys
IMPLEMENTATIONS = ('reference', 'fast')
# (ENC_TYPE, PRIOR_BEFORE_UPDATE)
CASES = [('pool', False), ('pool', True), ('tower', False), ('tower', True)]


def _config(enc_type='pool', prior_before_update=False, **fields):
  fields.update(ENC_TYPE=enc_type, PRIOR_BEFORE_UPDATE=prior_before_update)
  return gqn_params.create_gqn_config(fields, base=gqn_params.tiny_config())


def _constant_inputs(config, batch=2):
  frames, poses, query, target = reference_weights.fixed_inputs(
      batch=batch, ctx=config.CONTEXT_SIZE, size=config.IMG_HEIGHT)
  features = Query(Context(tf.constant(frames), tf.constant(poses)), tf.constant(query))
  return features, tf.constant(target)


def _run_with_reference_weights(graph, fetches):
  """Runs `fetches` with the reference weights in every variable and zero noise."""
  with graph.as_default(), tf.Session() as sess:
    sess.run(tf.local_variables_initializer())
    for v in tf.global_variables():
      v.load(reference_weights.value_for(v.op.name, v.shape.as_list(),
                                         v.dtype.base_dtype.as_numpy_dtype), sess)
    feed, _ = reference_weights.zero_noise_feed(sess, graph, {})
    return sess.run(fetches, feed)


def _assert_close(got, want, name):
  """~1e-5 relative to the tensor's scale (sums are taken in another order)."""
  want = np.asarray(want, np.float64)
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max() + 1e-12,
                             err_msg=name)


def _graph_results(config, implementation):
  """Both paths of gqn_draw, the ELBO and the gradient of every variable."""
  graph = tf.Graph()
  with graph.as_default():
    features, target = _constant_inputs(config)
    outputs = gqn_graph.gqn_draw(features.query_camera, features.context.frames,
                                 features.context.cameras, config, target_frame=target,
                                 generate=True, implementation=implementation)
    posterior = outputs.posterior
    elbo = gqn_objective.gqn_draw_elbo(target, posterior.mu_target, 0.9,
                                       posterior.steps.posteriors, posterior.steps.priors)
    variables = tf.trainable_variables()
    fetches = {
        'loss': elbo.elbo, 'kl_per_step': elbo.kl_per_step,
        'gradients': dict(zip([v.op.name for v in variables],
                              tf.gradients(elbo.elbo, variables))),
        'posterior_mean': posterior.mu_target,
        'posterior_images': posterior.canvas_images,
        'generated_mean': outputs.generation.mu_target,
        'generated_images': outputs.generation.canvas_images,
        'last_canvas': outputs.generation.steps.canvases[-1],
        'prior_mu': [p.mu for p in posterior.steps.priors],
    }
  return _run_with_reference_weights(graph, fetches)


@pytest.mark.slow
@pytest.mark.parametrize('enc_type,prior_before_update', CASES)
def test_loss_gradients_and_images_match_the_reference(enc_type, prior_before_update):
  config = _config(enc_type, prior_before_update)
  reference, fast = [_graph_results(config, i) for i in IMPLEMENTATIONS]
  assert sorted(fast['gradients']) == sorted(reference['gradients'])
  _assert_close(fast['loss'], reference['loss'], 'loss')
  _assert_close(fast['kl_per_step'], reference['kl_per_step'], 'kl_per_step')
  for name, gradient in reference['gradients'].items():
    assert np.abs(gradient).max() > 0, name  # every variable is reached
    _assert_close(fast['gradients'][name], gradient, 'gradient of ' + name)
  for key in ('posterior_mean', 'generated_mean', 'last_canvas', 'prior_mu'):
    _assert_close(fast[key], reference[key], key)
  for key in ('posterior_images', 'generated_images'):
    assert len(fast[key]) == config.SEQ_LENGTH
    for step, (got, want) in enumerate(zip(fast[key], reference[key])):
      _assert_close(got, want, '%s step %d' % (key, step + 1))


def _model_fn_results(config, mode, implementation):
  graph = tf.Graph()
  with graph.as_default():
    features, target = _constant_inputs(config)
    spec = gqn_model.gqn_draw_model_fn(
        features, None if mode == MODES.PREDICT else target, mode,
        {'gqn_params': config, 'implementation': implementation})
    if mode == MODES.PREDICT:
      fetches = spec.predictions['predicted_mean']
    elif mode == MODES.TRAIN:
      fetches = spec.loss
    else:
      # One batch: the metrics' update ops return the batch values.
      fetches = {name: update for name, (_, update) in spec.eval_metric_ops.items()}
      fetches['loss'] = spec.loss
  return _run_with_reference_weights(graph, fetches)


@pytest.mark.slow
@pytest.mark.parametrize('enc_type', ['pool', 'tower'])
def test_model_fn_modes_match_the_reference(enc_type):
  config = _config(enc_type)
  for mode in (MODES.TRAIN, MODES.PREDICT, MODES.EVAL):
    reference, fast = [_model_fn_results(config, mode, i) for i in IMPLEMENTATIONS]
    if mode == MODES.EVAL:
      assert sorted(fast) == sorted(reference) == sorted(
          ['elbo', 'target_llh', 'kl', 'l2', 'l2_posterior', 'loss'])
      for name in reference:
        _assert_close(fast[name], reference[name], 'eval ' + name)
    else:
      _assert_close(fast, reference, mode)


def test_wide_image_head_and_small_grid_match_the_reference():
  # A 3x3 eta_g reads across canvas blocks (the canvas is formed for it), and a 5x5
  # LSTM kernel on a 3x3 grid has taps outside the map everywhere.
  config = _config(IMG_HEIGHT=12, IMG_WIDTH=12, ETA_EXTERNAL_KERNEL_SIZE=3,
                   LSTM_KERNEL_SIZE=5, ETA_INTERNAL_KERNEL_SIZE=5)
  reference, fast = [_graph_results(config, i) for i in IMPLEMENTATIONS]
  _assert_close(fast['loss'], reference['loss'], 'loss')
  for name, gradient in reference['gradients'].items():
    _assert_close(fast['gradients'][name], gradient, 'gradient of ' + name)
  for key in ('posterior_images', 'generated_images'):
    for got, want in zip(fast[key], reference[key]):
      _assert_close(got, want, key)


def _assert_fast_matches_reference(config):
  reference, fast = [_graph_results(config, i) for i in IMPLEMENTATIONS]
  assert sorted(fast['gradients']) == sorted(reference['gradients'])
  _assert_close(fast['loss'], reference['loss'], 'loss')
  for name, gradient in reference['gradients'].items():
    assert np.abs(gradient).max() > 0, name
    _assert_close(fast['gradients'][name], gradient, 'gradient of ' + name)
  for key in ('posterior_mean', 'generated_mean', 'last_canvas', 'prior_mu'):
    _assert_close(fast[key], reference[key], key)
  return reference


@pytest.mark.parametrize('prior_before_update', [False, True])
def test_resize_upsampling_matches_the_reference(prior_before_update):
  # CANVAS_UPSAMPLING='resize': the canvas blocks no longer align with the inference
  # core's Downsample, so the fast path forms the canvas; the numbers must not change.
  config = _config('tower', prior_before_update, CANVAS_UPSAMPLING='resize')
  reference = _assert_fast_matches_reference(config)
  assert any('UpsampleGeneratorOutputResize' in name for name in reference['gradients'])
  assert not any(name.endswith('UpsampleGeneratorOutput/kernel')
                 for name in reference['gradients'])


@pytest.mark.parametrize('enc_type,upsampling', [('tower', 'transposed'), ('pool', 'resize')])
def test_finer_canvas_grid_matches_the_reference(enc_type, upsampling):
  # CANVAS_SCALE=2: the cores work on a 16 x 16 grid and write 2 x 2 blocks; the tower's
  # r is repeated onto that grid, the pool's is constant over it.
  config = _config(enc_type, True, CANVAS_SCALE=2, CANVAS_UPSAMPLING=upsampling)
  reference = _assert_fast_matches_reference(config)
  assert np.shape(reference['prior_mu'][0]) == (2, 16, 16, config.Z_CHANNELS)


def _canvas_sized_ops(config, implementation, mode):
  """Ops the TRAIN loss or the PREDICT mean depends on that output a full canvas."""
  canvas_shape = [2, config.IMG_HEIGHT, config.IMG_WIDTH, config.LSTM_CANVAS_CHANNELS]
  with tf.Graph().as_default():
    features, target = _constant_inputs(config)
    spec = gqn_model.gqn_draw_model_fn(
        features, None if mode == MODES.PREDICT else target, mode,
        {'gqn_params': config, 'implementation': implementation})
    fetch = spec.train_op if mode == MODES.TRAIN else spec.predictions['predicted_mean']
    ops, stack = set(), [fetch.op if hasattr(fetch, 'op') else fetch]
    while stack:
      op = stack.pop()
      if op not in ops:
        ops.add(op)
        stack.extend([t.op for t in op.inputs] + list(op.control_inputs))
    return [op.name for op in ops
            if any(t.shape.as_list() == canvas_shape for t in op.outputs
                   if t.shape.dims is not None)]


def test_fast_path_never_forms_the_canvas():
  config = _config()
  for mode in (MODES.TRAIN, MODES.PREDICT):
    assert _canvas_sized_ops(config, 'fast', mode) == [], mode
    assert _canvas_sized_ops(config, 'reference', mode), mode  # the test can see them


@pytest.mark.slow
def test_fast_path_counts_fewer_flops_and_has_one_noise_op_per_step():
  config = gqn_params.default_config()
  flops, noise_ops = {}, {}
  for implementation in IMPLEMENTATIONS:
    with tf.Graph().as_default() as graph:
      features, target = _constant_inputs(config, batch=1)
      spec = gqn_model.gqn_draw_model_fn(
          features, target, MODES.TRAIN,
          {'gqn_params': config, 'implementation': implementation})
      flops[implementation], unknown = flops_lib.graph_flops([spec.train_op])
      assert unknown == 0
      noise_ops[implementation] = len([op for op in graph.get_operations()
                                        if op.type in reference_weights.RANDOM_OP_TYPES])
  assert noise_ops == {'reference': config.SEQ_LENGTH, 'fast': config.SEQ_LENGTH}
  # The reference: ~490 GFLOP counted, ~433 after merging identical nodes.
  assert 420e9 < flops['reference'] < 450e9
  assert flops['fast'] < 0.7 * flops['reference']


# The exact rewrites, one at a time.

@pytest.mark.parametrize('height,width,kernel_size', [(16, 16, 5), (3, 4, 5), (6, 5, 2)])
def test_conv2d_of_constant_maps_is_the_convolution_of_the_tiled_map(height, width,
                                                                     kernel_size):
  rng = np.random.RandomState(0)
  vectors = rng.normal(size=(3, 6)).astype(np.float32)
  kernel = rng.normal(size=(kernel_size, kernel_size, 6, 8)).astype(np.float32)
  with tf.Graph().as_default(), tf.Session() as sess:
    maps = tf.tile(tf.constant(vectors)[:, tf.newaxis, tf.newaxis], [1, height, width, 1])
    want = tf.nn.conv2d(maps, tf.constant(kernel), [1, 1, 1, 1], 'SAME')
    got = fast_unroll.conv2d_of_constant_maps(tf.constant(vectors), tf.constant(kernel),
                                              height, width)
    got, want = sess.run([got, want])
  assert got.shape == (3, height, width, 8)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_block_conv2d_transpose_is_the_transposed_convolution():
  rng = np.random.RandomState(1)
  inputs = rng.normal(size=(2, 3, 5, 6)).astype(np.float32)
  kernel = rng.normal(size=(4, 4, 7, 6)).astype(np.float32)
  with tf.Graph().as_default(), tf.Session() as sess:
    want = tf.nn.conv2d_transpose(tf.constant(inputs), tf.constant(kernel), [2, 12, 20, 7],
                                  [1, 4, 4, 1], 'SAME')
    got = fast_unroll.block_conv2d_transpose(tf.constant(inputs), tf.constant(kernel))
    got, want = sess.run([got, want])
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_graph_flops_counts_convolutions_and_matrix_products():
  with tf.Graph().as_default():
    x = tf.zeros([2, 8, 8, 3])
    kernel = tf.get_variable('k', [5, 5, 3, 4])
    y = tf.nn.conv2d(x, kernel, [1, 1, 1, 1], 'SAME')
    # The same convolution written twice is merged, as the graph optimiser does.
    total = y + tf.nn.conv2d(x, kernel, [1, 1, 1, 1], 'SAME')
    product = tf.matmul(tf.zeros([3, 5]), tf.zeros([5, 7]))
    conv_flops = 2 * 2 * 8 * 8 * 4 * 5 * 5 * 3
    assert flops_lib.graph_flops([total]) == (conv_flops, 0)
    assert flops_lib.graph_flops([product]) == (2 * 3 * 5 * 7, 0)
    # The gradients of a sum need no forward pass: one input and one kernel gradient.
    gradient = tf.gradients(tf.reduce_sum(y), [x, kernel])
    assert flops_lib.graph_flops(gradient) == (2 * conv_flops, 0)


# Options.

def test_unknown_implementation_and_precision_are_refused():
  config = _config()
  with tf.Graph().as_default():
    features, target = _constant_inputs(config)
    with pytest.raises(ValueError, match='implementation'):
      gqn_model.gqn_draw_model_fn(features, target, MODES.TRAIN,
                                  {'gqn_params': config, 'implementation': 'quick'})
    with pytest.raises(ValueError, match='mixed_precision'):
      gqn_model.gqn_draw_model_fn(features, target, MODES.TRAIN,
                                  {'gqn_params': config, 'mixed_precision': 'float8'})


def _variable_lines(variables):
  return sorted('%s %s %s' % (v.op.name, v.shape.as_list(), v.dtype.base_dtype.name)
                for v in variables)


@pytest.mark.slow
@pytest.mark.parametrize('precision', ['bfloat16', 'float16'])
def test_mixed_precision_trains_a_step_with_float32_variables(precision):
  config = _config()
  with tf.Graph().as_default():
    features, target = _constant_inputs(config)
    gqn_model.gqn_draw_model_fn(features, target, MODES.TRAIN, {'gqn_params': config})
    float32_variables = _variable_lines(tf.global_variables())
  with tf.Graph().as_default() as graph:
    features, target = _constant_inputs(config)
    spec = gqn_model.gqn_draw_model_fn(features, target, MODES.TRAIN,
                                       {'gqn_params': config, 'mixed_precision': precision})
    assert _variable_lines(tf.global_variables()) == float32_variables
    convolutions = [op for op in graph.get_operations() if op.type == 'Conv2D']
    assert convolutions and all(op.get_attr('T') == precision_lib.compute_dtype(precision)
                                for op in convolutions)
    assert spec.loss.dtype == tf.float32
    variables = tf.trainable_variables()
    loss_scale = [v for v in tf.local_variables() if v.op.name == 'loss_scale/scale']
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
      before = sess.run(variables)
      loss, _ = sess.run([spec.loss, spec.train_op])
      after = sess.run(variables)
      step, loss_scale = sess.run([tf.train.get_global_step(), loss_scale])
  assert np.isfinite(loss) and step == 1
  assert all(a.dtype == np.float32 for a in after)
  moved = [np.any(a != b) for a, b in zip(after, before)]
  if precision == 'bfloat16':
    assert all(moved) and loss_scale == []  # float32's exponent range: no scaling
  else:
    # Scaled by 2^15 the gradients may overflow float16: then the step is skipped and
    # the scale halves; otherwise every variable moves.
    assert all(moved) and loss_scale == [2.0 ** 15] or (
        not any(moved) and loss_scale == [2.0 ** 14])


def _eval_numbers(config, mixed_precision):
  """The ELBO and the mean render's error of one fixed batch, with the reference weights."""
  graph = tf.Graph()
  with graph.as_default():
    features, target = _constant_inputs(config)
    spec = gqn_model.gqn_draw_model_fn(features, target, MODES.EVAL,
                                       {'gqn_params': config,
                                        'mixed_precision': mixed_precision})
    fetches = {'elbo': spec.loss,
               'l2': spec.eval_metric_ops['l2_posterior'][1]}
  return _run_with_reference_weights(graph, fetches)


@pytest.mark.parametrize('enc_type', ['pool', 'tower'])
def test_bfloat16_evaluates_within_tolerance_of_float32(enc_type):
  # bfloat16 keeps 8 bits of mantissa (relative rounding 2^-9 = 0.2%); through the
  # encoder and four DRAW steps the ELBO and the render's error stay within 1%.
  config = _config(enc_type, prior_before_update=True)
  want = _eval_numbers(config, None)
  got = _eval_numbers(config, 'bfloat16')
  for name in want:
    np.testing.assert_allclose(got[name], want[name], rtol=0.01, err_msg=name)


def test_auto_precision_is_bfloat16_only_on_a_cpu_that_has_it(tmp_path):
  amx = tmp_path / 'amx'
  amx.write_text('processor\t: 0\nflags\t\t: fpu sse avx512f amx_bf16 amx_tile\n')
  cooper = tmp_path / 'cooper'
  cooper.write_text('flags\t\t: fpu avx512f avx512_bf16\n')
  plain = tmp_path / 'plain'
  plain.write_text('flags\t\t: fpu sse avx2 avx512f\n')
  assert precision_lib.resolve('auto', has_gpu=False, cpuinfo=str(amx)) == 'bfloat16'
  assert precision_lib.resolve('auto', has_gpu=False, cpuinfo=str(cooper)) == 'bfloat16'
  assert precision_lib.resolve('auto', has_gpu=False, cpuinfo=str(plain)) is None
  assert precision_lib.resolve('auto', has_gpu=True, cpuinfo=str(amx)) is None
  assert precision_lib.resolve('auto', has_gpu=False,
                               cpuinfo=str(tmp_path / 'missing')) is None
  # A named precision is kept as it is, on any machine; an unknown one is refused.
  assert precision_lib.resolve('float16', has_gpu=False, cpuinfo=str(plain)) == 'float16'
  assert precision_lib.resolve(None) is None
  with pytest.raises(ValueError, match='float8'):
    precision_lib.resolve('float8')


def test_float16_loss_scale_skips_non_finite_steps_and_halves():
  with tf.Graph().as_default():
    weight = tf.get_variable('w', [], initializer=tf.constant_initializer(1.0))
    global_step = tf.train.get_or_create_global_step()
    factor = tf.placeholder(tf.float32, [])
    loss = weight * factor
    train_op = precision_lib.minimize(tf.train.GradientDescentOptimizer(0.1), loss,
                                      global_step, tf.float16, initial_loss_scale=8.0,
                                      growth_interval=2)
    scale = [v for v in tf.local_variables() if v.op.name == 'loss_scale/scale'][0]
    assert 'loss_scale/scale' not in [v.op.name for v in tf.global_variables()]
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
      sess.run(train_op, {factor: np.inf})
      assert sess.run([weight, scale, global_step]) == [1.0, 4.0, 1]
      sess.run(train_op, {factor: 2.0})
      np.testing.assert_allclose(sess.run(weight), 1.0 - 0.1 * 2.0, rtol=1e-6)
      sess.run(train_op, {factor: 2.0})
      assert sess.run([scale, global_step]) == [8.0, 3]


def test_train_flags_reach_the_estimator(monkeypatch):
  monkeypatch.delenv('TF_XLA_FLAGS', raising=False)
  args = train_gqn_draw._parser().parse_args(['--xla', '--mixed_precision', 'bfloat16'])
  assert args.xla and args.mixed_precision == 'bfloat16'
  args = train_gqn_draw._parser().parse_args([])
  assert not args.xla and args.mixed_precision is None
  estimator = train_gqn_draw.make_estimator(_config(), None, xla=True,
                                            mixed_precision='float16')
  assert estimator.params['mixed_precision'] == 'float16'
  session_config = estimator.config.session_config
  assert (session_config.graph_options.optimizer_options.global_jit_level
          == tf.OptimizerOptions.ON_1)
  assert '--tf_xla_cpu_global_jit' in os.environ.get('TF_XLA_FLAGS', '')


@pytest.mark.slow
def test_bench_reports_both_implementations_and_the_pipeline(tmp_path):
  data_dir = str(tmp_path / 'data')
  fake_data.write_fake_dataset(data_dir, bench_gqn.PIPELINE_DATASET, 'train', num_files=2,
                               scenes_per_file=4)
  report_path = str(tmp_path / 'bench.json')
  verbosity = tf.logging.get_verbosity()
  try:
    assert bench_gqn.main(['--preset', 'tiny', '--batch_sizes', '1,2', '--modes',
                           'train,generate', '--reference', '--repeats', '2', '--warmup',
                           '0', '--pipeline_data', data_dir, '--pipeline_batches', '2',
                           '--json', report_path]) == 0
  finally:
    tf.logging.set_verbosity(verbosity)
  with open(report_path) as f:
    report = json.load(f)
  runs = {(r['implementation'], r['mode'], r['batch_size']): r for r in report['models']}
  assert len(runs) == 8
  for (implementation, mode, batch), run in runs.items():
    assert len(run['seconds_all']) == 2 and run['seconds_median'] > 0
    assert run['examples_per_second'] == pytest.approx(batch / run['seconds_median'])
    assert run['unknown_shape_ops'] == 0 and run['peak_rss_mb'] > 0
    reference = runs[('reference', mode, batch)]
    assert run['gflop_per_example'] <= reference['gflop_per_example']
  assert runs[('fast', 'train', 1)]['gflop_per_example'] < (
      runs[('reference', 'train', 1)]['gflop_per_example'])
  # The machine's speed, sampled once per round: 2 rounds of each of 4 measurements.
  matmul = report['reference_matmul']
  assert matmul['runs'] == 8 and matmul['dtype'] == 'float32' and matmul['size'] == 2048
  assert matmul['gflop_per_second'] > 0
  pipeline = report['pipeline']
  assert pipeline['data'] == 'records in %s' % data_dir and pipeline['batch_size'] == 36
  assert pipeline['examples_per_second'] > 0


def test_bench_profile_says_where_the_step_time_goes(tmp_path, capsys):
  report_path = str(tmp_path / 'bench.json')
  verbosity = tf.logging.get_verbosity()
  try:
    assert bench_gqn.main(['--preset', 'tiny', '--batch_sizes', '2', '--modes', 'train',
                           '--repeats', '1', '--warmup', '0', '--pipeline', 'off',
                           '--profile', '--json', report_path]) == 0
  finally:
    tf.logging.set_verbosity(verbosity)
  with open(report_path) as f:
    report = json.load(f)
  run, = report['models']
  assert report['reference_matmul']['runs'] == 1
  seconds = run['op_seconds_per_step']
  assert all(s >= 0 for s in seconds.values()) and sum(seconds.values()) > 0
  # A training step runs forward and backward convolutions and the Adam update.
  names = ' '.join(seconds)
  assert 'Conv2DBackpropFilter' in names and 'ApplyAdam' in names
  dense, casts, onednn = op_profile.summary(collections.Counter(seconds))
  assert 0 < dense < 1 and casts < 0.01  # float32: only the step counter is cast
  out = capsys.readouterr().out
  assert 'Where the time goes: fast, train, batch 2' in out
  assert 'Convolutions and matrix products' in out
  assert 'Machine speed over the same minutes: a 2048x2048 float32 matmul at' in out
