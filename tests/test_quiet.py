"""The commands show what a person reads: no TensorFlow notices or INFO lines unless --verbose.

Each command runs as a user runs it, in a subprocess with TensorFlow's C++ log level
unset, on a tiny rendered rooms set and the tiny preset.
"""

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # Every test here starts TensorFlow in a new process.

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASET = 'synth_rooms_ring_camera'
# What TensorFlow prints that nobody came for: deprecation notices, INFO and WARNING lines
# of its logger, the C++ start-up lines (CUDA plugin registration, CPU features, TF-TRT).
NOISE = re.compile(r'deprecat|Instructions for updating|INFO:tensorflow|WARNING:tensorflow|'
                   r'cuda_dnn|cuda_fft|cuda_blas|cpu_feature_guard|TF-TRT', re.IGNORECASE)


def _run(*args):
  """(stdout, stderr) of `python args...` run from the repository root; asserts success."""
  env = dict(os.environ, PYTHONUNBUFFERED='1')
  env.pop('TF_CPP_MIN_LOG_LEVEL', None)  # as in a user's shell
  done = subprocess.run([sys.executable] + list(args), cwd=ROOT, env=env,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        universal_newlines=True, timeout=900)
  assert done.returncode == 0, done.stderr[-3000:]
  return done.stdout, done.stderr


def _assert_quiet(out, err):
  noise = [line for line in (out + err).splitlines() if NOISE.search(line)]
  assert not noise, '\n'.join(noise[:10])


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
  """(data_dir, the renderer's stdout, stderr): 12 train and 4 test scenes."""
  root = str(tmp_path_factory.mktemp('data'))
  out, err = _run('-m', 'data_provider.scenes.render', '--root', root, '--dataset', DATASET,
                  '--train_scenes', '12', '--test_scenes', '4', '--workers', '1')
  return root, out, err


@pytest.fixture(scope='module')
def trained(rendered, tmp_path_factory):
  """(model_dir, the training's stdout, stderr): the tiny preset, 3 steps."""
  model_dir = str(tmp_path_factory.mktemp('model'))
  out, err = _run('train_gqn_draw.py', '--preset', 'tiny', '--data_dir', rendered[0],
                  '--dataset', DATASET, '--model_dir', model_dir, '--batch_size', '2',
                  '--max_steps', '3', '--log_steps', '1', '--chkpt_steps', '3')
  return model_dir, out, err


def _eval_args(rendered, trained, output_dir):
  return ['eval_gqn.py', '--model_dir', trained[0], '--data_dir', rendered[0], '--dataset',
          DATASET, '--max_examples', '2', '--batch_size', '2', '--num_samples', '1',
          '--output_dir', output_dir]


def test_renderer_prints_its_progress_and_result_only(rendered):
  _, out, err = rendered
  _assert_quiet(out, err)
  assert '16 scenes rendered' in out


def test_training_prints_the_config_and_one_line_per_interval(trained):
  _, out, err = trained
  _assert_quiet(out, err)
  assert 'Training a GQN' in err and 'GQNConfig(' in err
  progress = [line for line in err.splitlines() if line.startswith('step ')]
  assert len(progress) == 3, err
  assert re.match(r'step \d+/3: loss [\d.]+, l2 [\d.]+$', progress[0]), progress[0]
  assert re.match(r'step \d+/3: loss [\d.]+, l2 [\d.]+, [\d.]+ steps/s, ETA \d+s$',
                  progress[-1]), progress[-1]


def test_evaluation_prints_the_table_only(rendered, trained, tmp_path):
  out, err = _run(*_eval_args(rendered, trained, str(tmp_path / 'eval')))
  _assert_quiet(out, err)
  assert 'generation_mse' in out and 'nearest_context_mse' in out


def test_verbose_brings_tensorflow_logs_back(rendered, trained, tmp_path):
  _, err = _run(*_eval_args(rendered, trained, str(tmp_path / 'eval')) + ['--verbose'])
  assert 'INFO:tensorflow' in err


def test_analysis_prints_progress_and_its_table(rendered, trained, tmp_path):
  out, err = _run('analyze_gqn.py', '--model_dir', trained[0], '--data_dir', rendered[0],
                  '--dataset', DATASET, '--analyses', 'views', '--num_scenes', '2',
                  '--num_samples', '1', '--output_dir', str(tmp_path / 'analysis'))
  _assert_quiet(out, err)
  assert 'analysis.json' in out


def test_demo_is_short_and_ends_with_the_result(tmp_path):
  out, err = _run('demo.py', '--data_dir', str(tmp_path / 'data'), '--run_dir',
                  str(tmp_path / 'run'), '--train_scenes', '8', '--test_scenes', '4',
                  '--steps', '2', '--batch_size', '2', '--eval_examples', '2',
                  '--workers', '1')
  _assert_quiet(out, err)
  # Progress bars drawn off a terminal take two lines each instead of one.
  assert len((out + err).splitlines()) <= 25, out + err
  assert 'GQN (tiny, 2 steps)' in out
  assert out.rstrip().splitlines()[-1].startswith('Pictures:')


def test_benchmark_prints_its_report_only(tmp_path):
  out, err = _run('bench/bench_gqn.py', '--preset', 'tiny', '--batch_sizes', '1', '--modes',
                  'train', '--pipeline', 'off', '--repeats', '1', '--warmup', '0',
                  '--json', str(tmp_path / 'report.json'))
  _assert_quiet(out, err)
  assert 'GQN benchmark: preset=tiny' in out and '| fast | train | 1 |' in out
