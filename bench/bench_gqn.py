"""Benchmarks the GQN graph and its input pipeline on this machine.

  python -m bench.bench_gqn                              # default config, batch 1, 4, 8
  python -m bench.bench_gqn --reference --batch_sizes 2  # fast vs reference, A B A B ...
  python -m bench.bench_gqn --batch_sizes 4 --modes generate --repeats 5 --json out.json

For each batch size it times one training step (forward, backward and the Adam update
of the TRAIN model_fn), one generation (PREDICT) and one evaluation batch (EVAL: both
paths and the metrics), and reports seconds, examples/s, FLOPs per example, the GFLOP/s
achieved and memory. With `--reference` the reference implementation is timed in the
same process, alternating with the fast one run by run (A B A B ...), and the table shows
medians side by side with the speed-up. Inputs are random arrays fed to placeholders of
static shape, so the model's speed is measured without the input pipeline; the input
pipeline is timed on its own (examples/s and memory of `gqn_dataset` on rendered 64 px
rooms, 5 context views + target, batch 36).

FLOPs are counted over the graph (`bench.flops.graph_flops`): the multiply-adds of the
convolutions (forward and both backward ops), transposed convolutions and matrix
products that the fetched op depends on, 2 FLOPs each, after merging identical nodes as
TensorFlow's graph optimiser does; element-wise ops are not counted.

Machine speed: a shared machine's speed can change 2x within an hour, so between the
rounds of model runs a 2048x2048 matrix product in the compute dtype is timed too, and its
GFLOP/s is reported beside the step times (`reference_matmul`). Step times taken at
different moments compare through it: a step that reads 2x slower while the product does
too is the same step on a slower machine.

Memory: `peak RSS` is the process's peak resident memory while that graph ran (all
graphs of the run stay loaded, so it includes the others' weights); `step memory` is
how far one run raises the resident memory above what it was just before (freed heap
memory is handed back first), i.e. the activations and workspace of one step.
"""

import argparse
import collections
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
  sys.path.insert(0, _ROOT)

from bench import flops  # pylint: disable=g-import-not-at-top
from bench import op_profile  # pylint: disable=g-import-not-at-top
from data_provider import flag_types  # pylint: disable=g-import-not-at-top
from data_provider import logs  # pylint: disable=g-import-not-at-top

MODES = ('train', 'generate', 'eval')
# The pipeline's case: 64 px rooms, 5 context views + the target, batch 36.
PIPELINE_DATASET = 'synth_rooms_ring_camera'


def _parser():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   allow_abbrev=False)
  # What to measure.
  parser.add_argument('--preset', default='default', help='Model config preset.')
  parser.add_argument('--config', default=None, metavar='GQN_CONFIG_JSON',
                      help='Time the config of this gqn_config.json instead of a preset '
                      '(e.g. a candidate of a recipe search, or a model directory\'s).')
  parser.add_argument('--enc_type', choices=('pool', 'tower'), default=None,
                      help='Encoder (default: the preset\'s).')
  parser.add_argument('--batch_sizes', default='1,4,8',
                      help='Comma-separated batch sizes.')
  parser.add_argument('--modes', default=','.join(MODES),
                      help='Comma-separated subset of %s.' % ', '.join(MODES))
  parser.add_argument('--implementation', choices=('fast', 'reference'), default='fast',
                      help='The implementation timed (without --reference).')
  parser.add_argument('--reference', action='store_true',
                      help='Also time the reference implementation, alternating with the '
                           'fast one, and report the speed-up.')
  # Repeats.
  parser.add_argument('--repeats', type=flag_types.positive_int, default=3,
                      help='Timed runs per implementation, mode and batch size.')
  parser.add_argument('--warmup', type=flag_types.non_negative_int, default=1,
                      help='Untimed runs first (graph optimisation, allocations).')
  parser.add_argument('--max_seconds', type=float, default=None,
                      help='Stop repeating a measurement once this much time went into it '
                           '(at least one timed run each).')
  # Runtime options.
  parser.add_argument('--xla', action='store_true',
                      help='Compile the graphs with XLA (global JIT).')
  parser.add_argument('--mixed_precision', choices=('float16', 'bfloat16', 'auto'),
                      default=None,
                      help='Compute in this dtype with float32 variables (auto: bfloat16 on a CPU '
                      'with native bfloat16, else float32).')
  parser.add_argument('--onednn', choices=('0', '1'), default=None,
                      help='Set TF_ENABLE_ONEDNN_OPTS (default: TensorFlow\'s default).')
  parser.add_argument('--intra_op_threads', type=flag_types.non_negative_int, default=0,
                      help='Threads one op may use (0: TensorFlow\'s default, the cores).')
  parser.add_argument('--inter_op_threads', type=flag_types.non_negative_int, default=0,
                      help='Ops run at once (0: TensorFlow\'s default).')
  # Input pipeline.
  parser.add_argument('--pipeline', choices=('on', 'off', 'only'), default='on',
                      help='Time the input pipeline too (on), not (off) or alone (only).')
  parser.add_argument('--pipeline_data', default=None,
                      help='Root holding %s/train (rendered when absent; default: a '
                           'temporary directory).' % PIPELINE_DATASET)
  parser.add_argument('--pipeline_scenes', type=flag_types.positive_int, default=400,
                      help='Scenes to render when the pipeline data is absent.')
  parser.add_argument('--pipeline_batches', type=flag_types.positive_int, default=60,
                      help='Batches of 36 timed.')
  parser.add_argument('--pipeline_threads', type=flag_types.positive_int, default=4,
                      help='num_threads of gqn_dataset.')
  parser.add_argument('--profile', action='store_true',
                      help='After timing, trace 3 steps of each run and print where the '
                      'time goes by op type (bench/op_profile.py); the traced steps are '
                      'not timed.')
  # Output.
  parser.add_argument('--json', default=None, help='Write the results to this file.')
  logs.add_verbose_flag(parser)
  return parser


def _set_environment(args):
  """Settings TensorFlow reads when it starts: must happen before it is imported."""
  if args.onednn is not None:
    os.environ['TF_ENABLE_ONEDNN_OPTS'] = args.onednn
  if args.xla:
    # XLA's auto-clustering leaves CPU graphs alone unless this flag is set.
    flags = os.environ.get('TF_XLA_FLAGS', '')
    if '--tf_xla_cpu_global_jit' not in flags:
      os.environ['TF_XLA_FLAGS'] = (flags + ' --tf_xla_cpu_global_jit').strip()


# Memory, from /proc (Linux).

_LIBC = None


def _rss_mb(field='VmRSS'):
  """The process's resident memory (VmRSS) or its peak since the last reset (VmHWM)."""
  with open('/proc/self/status') as f:
    for line in f:
      if line.startswith(field + ':'):
        return int(line.split()[1]) / 1024.
  return float('nan')


def _reset_peak_rss():
  """Hands freed heap memory back and restarts the VmHWM peak from the current RSS."""
  global _LIBC
  try:
    if _LIBC is None:
      _LIBC = ctypes.CDLL('libc.so.6')
    _LIBC.malloc_trim(0)
  except OSError:
    pass
  try:
    with open('/proc/self/clear_refs', 'w') as f:
      f.write('5')
  except (IOError, OSError):
    pass


# The model runs.

REFERENCE_MATMUL_SIZE = 2048


class _MatmulRun(object):
  """A square matrix product in the compute dtype: the machine's speed at that moment."""

  def __init__(self, tf, mixed_precision, session_config, size=REFERENCE_MATMUL_SIZE):
    self.dtype, self.size = mixed_precision or 'float32', size
    self.graph = tf.Graph()
    with self.graph.as_default():
      a = tf.cast(tf.random.uniform((size, size), seed=0), self.dtype)
      # A sum keeps the product from being fetched whole; the product dominates the time.
      self.fetch = tf.reduce_sum(tf.cast(tf.matmul(a, a), tf.float32))
    self.session = tf.Session(graph=self.graph, config=session_config)
    self.session.run(self.fetch)
    self.seconds = []

  def run(self):
    start = time.perf_counter()
    self.session.run(self.fetch)
    self.seconds.append(time.perf_counter() - start)

  def close(self):
    self.session.close()

  def result(self):
    return collections.OrderedDict([
        ('size', self.size), ('dtype', self.dtype),
        ('gflop_per_second', 2. * self.size ** 3 / float(np.median(self.seconds)) / 1e9),
        ('runs', len(self.seconds))])


class _ModelRun(object):
  """One graph (a mode of the model_fn at one batch size) and a session to run it."""

  def __init__(self, tf, config, mode, batch, implementation, mixed_precision,
               session_config, seed):
    from data_provider.gqn_tfr_provider import Context, Query
    from gqn import gqn_model
    modes = tf.estimator.ModeKeys
    estimator_mode = {'train': modes.TRAIN, 'generate': modes.PREDICT,
                      'eval': modes.EVAL}[mode]
    self.mode, self.batch, self.implementation = mode, batch, implementation
    size, views = config.IMG_HEIGHT, config.CONTEXT_SIZE
    rng = np.random.RandomState(seed)
    arrays = dict(
        frames=rng.uniform(size=(batch, views, size, size, 3)).astype(np.float32),
        cameras=rng.uniform(-1, 1, size=(batch, views, 7)).astype(np.float32),
        query=rng.uniform(-1, 1, size=(batch, 7)).astype(np.float32),
        target=rng.uniform(size=(batch, size, size, 3)).astype(np.float32))
    self.graph = tf.Graph()
    with self.graph.as_default():
      tf.set_random_seed(seed)
      inputs = {name: tf.placeholder(tf.float32, value.shape, name=name)
                for name, value in arrays.items()}
      features = Query(Context(inputs['frames'], inputs['cameras']), inputs['query'])
      labels = None if estimator_mode == modes.PREDICT else inputs['target']
      params = {'gqn_params': config, 'implementation': implementation,
                'mixed_precision': mixed_precision}
      spec = gqn_model.gqn_draw_model_fn(features, labels, estimator_mode, params)
      if mode == 'train':
        self.fetch = [spec.train_op]
      elif mode == 'generate':
        self.fetch = [spec.predictions['predicted_mean']]
      else:
        self.fetch = [update for _, update in spec.eval_metric_ops.values()]
      self.flops, self.unknown_flop_ops = flops.graph_flops(self.fetch)
      init = [tf.global_variables_initializer(), tf.local_variables_initializer()]
    self.feed = {inputs[name]: value for name, value in arrays.items()}
    self.session = tf.Session(graph=self.graph, config=session_config)
    self.session.run(init)
    self.seconds, self.peak_rss, self.step_memory = [], 0., 0.

  def run(self, timed=True):
    _reset_peak_rss()
    before = _rss_mb()
    start = time.perf_counter()
    self.session.run(self.fetch, self.feed)
    seconds = time.perf_counter() - start
    peak = _rss_mb('VmHWM')
    self.peak_rss = max(self.peak_rss, peak)
    self.step_memory = max(self.step_memory, peak - before)
    if timed:
      self.seconds.append(seconds)
    return seconds

  def close(self):
    self.session.close()

  def result(self):
    median = float(np.median(self.seconds))
    return collections.OrderedDict([
        ('implementation', self.implementation), ('mode', self.mode),
        ('batch_size', self.batch), ('seconds_median', median),
        ('seconds_all', [round(s, 4) for s in self.seconds]),
        ('examples_per_second', self.batch / median),
        ('gflop_per_example', self.flops / self.batch / 1e9),
        ('gflop_per_second', self.flops / median / 1e9),
        ('unknown_shape_ops', self.unknown_flop_ops),
        ('peak_rss_mb', round(self.peak_rss, 1)),
        ('step_memory_mb', round(self.step_memory, 1))])


def _time_models(tf, args, config, session_config, matmul):
  """Times every mode and batch size; implementations alternate run by run.

  After each round of runs `matmul` (a _MatmulRun) is timed once, so the machine's speed
  is sampled over the same minutes as the steps.
  """
  implementations = ['fast', 'reference'] if args.reference else [args.implementation]
  results = []
  for batch in [int(b) for b in args.batch_sizes.split(',') if b]:
    for mode in [m for m in args.modes.split(',') if m]:
      runs = [_ModelRun(tf, config, mode, batch, implementation, args.mixed_precision,
                        session_config, seed=batch) for implementation in implementations]
      for run in runs:
        for _ in range(args.warmup):
          run.run(timed=False)
      start = time.time()
      for _ in range(args.repeats):
        for run in runs:  # A B A B ...: both see the same machine load, in turn.
          run.run()
        matmul.run()
        if args.max_seconds and time.time() - start > args.max_seconds:
          break
      for run in runs:
        results.append(run.result())
        if args.profile:
          totals = op_profile.trace(tf, run.session, run.fetch, run.feed)
          results[-1]['op_seconds_per_step'] = collections.OrderedDict(
              totals.most_common())
        run.close()
      print('  %s, batch %d: %s' % (mode, batch, ', '.join(
          '%s %.3f s' % (r['implementation'], r['seconds_median'])
          for r in results[-len(runs):])), flush=True)
  return results


# The input pipeline.

def _pipeline_data(args):
  """A root holding rendered rooms (renders them when absent); (root, dataset, how)."""
  from data_provider import gqn_tfr_provider
  root = args.pipeline_data or tempfile.mkdtemp(prefix='gqn_bench_data_')
  files = gqn_tfr_provider.dataset_files(PIPELINE_DATASET, root, 'train')
  if any(os.path.exists(f) for f in files):
    return root, PIPELINE_DATASET, 'records in %s' % root
  command = [sys.executable, '-m', 'data_provider.scenes.render', '--root', root,
             '--dataset', PIPELINE_DATASET, '--train_scenes', str(args.pipeline_scenes),
             '--test_scenes', '4']
  result = subprocess.run(command, cwd=_ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
  if result.returncode:
    raise RuntimeError('Rendering the pipeline\'s data failed: %s'
                       % result.stderr.decode('utf-8', 'replace')[-500:])
  return root, PIPELINE_DATASET, 'rendered rooms'


def _time_pipeline(tf, args, session_config):
  """Examples/s and memory of gqn_dataset: 64 px, 5 context views + target, batch 36."""
  from data_provider import gqn_tfr_provider
  root, dataset, source = _pipeline_data(args)
  batch = 36
  with tf.Graph().as_default():
    data = gqn_tfr_provider.gqn_dataset(
        dataset, 5, root, 'train', batch_size=batch, num_epochs=None,
        custom_frame_size=64, num_threads=args.pipeline_threads, seed=0)
    next_batch = tf.data.make_one_shot_iterator(data).get_next()
    with tf.Session(config=session_config) as sess:
      for _ in range(5):
        sess.run(next_batch)
      _reset_peak_rss()
      before = _rss_mb()
      start = time.perf_counter()
      for _ in range(args.pipeline_batches):
        sess.run(next_batch)
      seconds = time.perf_counter() - start
      peak = _rss_mb('VmHWM')
  if args.pipeline_data is None:
    shutil.rmtree(root, ignore_errors=True)
  return collections.OrderedDict([
      ('data', source), ('batch_size', batch), ('batches', args.pipeline_batches),
      ('examples_per_second', args.pipeline_batches * batch / seconds),
      ('rss_before_mb', round(before, 1)), ('peak_rss_mb', round(peak, 1)),
      ('memory_growth_mb', round(peak - before, 1)),
      ('threads', args.pipeline_threads)])


# Report.

def _table(results):
  """A markdown table, one row per mode and batch size, implementations side by side."""
  groups = collections.OrderedDict()
  for r in results:
    groups.setdefault((r['mode'], r['batch_size']), {})[r['implementation']] = r
  both = all(len(group) == 2 for group in groups.values())
  if both:
    header = ['mode', 'batch', 'fast s', 'reference s', 'speed-up', 'fast ex/s',
              'reference ex/s', 'fast GFLOP/ex', 'reference GFLOP/ex', 'fast GFLOP/s',
              'reference GFLOP/s', 'fast step MB', 'reference step MB']
  else:
    header = ['implementation', 'mode', 'batch', 's/batch', 'examples/s', 'GFLOP/example',
              'GFLOP/s', 'peak RSS MB', 'step memory MB']
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for (mode, batch), group in groups.items():
    if both:
      f, r = group['fast'], group['reference']
      rows = [[mode, batch, '%.3f' % f['seconds_median'], '%.3f' % r['seconds_median'],
               '%.2fx' % (r['seconds_median'] / f['seconds_median']),
               '%.2f' % f['examples_per_second'], '%.2f' % r['examples_per_second'],
               '%.1f' % f['gflop_per_example'], '%.1f' % r['gflop_per_example'],
               '%.1f' % f['gflop_per_second'], '%.1f' % r['gflop_per_second'],
               '%.0f' % f['step_memory_mb'], '%.0f' % r['step_memory_mb']]]
    else:
      rows = [[r['implementation'], mode, batch, '%.3f' % r['seconds_median'],
               '%.2f' % r['examples_per_second'], '%.1f' % r['gflop_per_example'],
               '%.1f' % r['gflop_per_second'], '%.0f' % r['peak_rss_mb'],
               '%.0f' % r['step_memory_mb']] for r in group.values()]
    lines.extend('| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows)
  return '\n'.join(lines)


def main(argv=None):
  args = _parser().parse_args(argv)
  for mode in [m for m in args.modes.split(',') if m]:
    if mode not in MODES:
      raise SystemExit('bench_gqn.py: error: unknown mode %r in --modes; use %s.'
                       % (mode, ', '.join(MODES)))
  # TensorFlow's C++ start-up lines would hide the report; it reads the level once, at
  # import, below.
  logs.quiet_tensorflow_startup(argv)
  _set_environment(args)
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  from gqn import gqn_params  # pylint: disable=g-import-not-at-top
  from gqn import precision  # pylint: disable=g-import-not-at-top
  tf.disable_eager_execution()
  logs.setup(args.verbose)
  args.mixed_precision = precision.resolve(args.mixed_precision)

  if args.config:
    with open(args.config) as f:
      config = gqn_params.config_from_json(f.read(), source=args.config)
  else:
    config = gqn_params.preset(args.preset)
  if args.enc_type:
    config = gqn_params.create_gqn_config({'ENC_TYPE': args.enc_type}, base=config)
  session_config = tf.ConfigProto(intra_op_parallelism_threads=args.intra_op_threads,
                                  inter_op_parallelism_threads=args.inter_op_threads)
  if args.xla:
    session_config.graph_options.optimizer_options.global_jit_level = (
        tf.OptimizerOptions.ON_1)
  report = collections.OrderedDict([
      ('preset', args.config or args.preset), ('enc_type', config.ENC_TYPE), ('xla', args.xla),
      ('mixed_precision', args.mixed_precision),
      ('intra_op_threads', args.intra_op_threads),
      ('inter_op_threads', args.inter_op_threads),
      ('TF_ENABLE_ONEDNN_OPTS', os.environ.get('TF_ENABLE_ONEDNN_OPTS', '(default)')),
      ('cpus', os.cpu_count()), ('tensorflow', tf.VERSION)])
  print('GQN benchmark: %s' % ', '.join('%s=%s' % kv for kv in report.items()), flush=True)
  if args.pipeline != 'off':
    # First, while the process holds no model: its memory is the pipeline's own.
    report['pipeline'] = _time_pipeline(tf, args, session_config)
  results = []
  if args.pipeline != 'only':
    matmul = _MatmulRun(tf, args.mixed_precision, session_config)
    results = _time_models(tf, args, config, session_config, matmul)
    report['reference_matmul'] = matmul.result()
    matmul.close()
  report['models'] = results
  if results:
    print(_table(results))
    m = report['reference_matmul']
    print('Machine speed over the same minutes: a %dx%d %s matmul at %.0f GFLOP/s (median '
          'of %d).' % (m['size'], m['size'], m['dtype'], m['gflop_per_second'], m['runs']))
  for r in results:
    if 'op_seconds_per_step' in r:
      print('\nWhere the time goes: %s, %s, batch %d (op times summed over a traced step)'
            % (r['implementation'], r['mode'], r['batch_size']))
      print(op_profile.table(collections.Counter(r['op_seconds_per_step'])))
  if 'pipeline' in report:
    p = report['pipeline']
    print('input pipeline (%s, batch %d, 64 px, 5 context + target, %d threads): '
          '%.0f examples/s; RSS %.0f MB, peak %.0f MB while running (+%.0f MB)'
          % (p['data'], p['batch_size'], p['threads'], p['examples_per_second'],
             p['rss_before_mb'], p['peak_rss_mb'], p['memory_growth_mb']))
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(report, f, indent=2)
  return 0


if __name__ == '__main__':
  sys.exit(main())
