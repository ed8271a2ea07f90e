"""Every command takes its flags exactly as spelt, and its counts only when at least 1.

argparse would otherwise take any unambiguous prefix (`--data_di` for --data_dir,
`--verb` for --verbose); every command's parser is built with allow_abbrev=False, so a
prefix is argparse's error, exit status 2, before anything is read or written.
"""

import argparse
import os

import pytest

import analyze_gqn
import demo
import eval_gqn
import results
import train_gqn_draw
from bench import bench_gqn
from bench import bench_renderer
from data_provider import download
from data_provider import flag_types
from data_provider import logs
from data_provider.scenes import render

DATASET = 'rooms_ring_camera'


def _abbreviated(out):
  """Command -> (its main, arguments with one flag abbreviated, the abbreviation).

  Every other path named lies under `out`, so that what a command wrote would show.
  """
  data, model, run = [os.path.join(out, name) for name in ('data', 'model', 'run')]
  report = os.path.join(out, 'report.json')
  return {
      'train': (train_gqn_draw.main, ['--data_di', data, '--model_dir', model], '--data_di'),
      'train_verbose': (train_gqn_draw.main,
                        ['--data_dir', data, '--model_dir', model, '--verb'], '--verb'),
      'eval': (eval_gqn.main, ['--model_dir', model, '--dataset', DATASET, '--output_di',
                               os.path.join(out, 'eval')], '--output_di'),
      'analyze': (analyze_gqn.main, ['--model_dir', model, '--data_dir', data, '--dataset',
                                     DATASET, '--num_scene', '2'], '--num_scene'),
      'demo': (demo.main, ['--data_dir', data, '--run_di', run], '--run_di'),
      'results': (results.main, ['--data_dir', data, '--run_di', run], '--run_di'),
      'bench': (bench_gqn.main, ['--preset', 'tiny', '--batch_size', '1', '--json', report],
                '--batch_size'),
      'bench_renderer': (bench_renderer.main, ['--scene', '1', '--json', report], '--scene'),
      'download': (download.main, ['--dataset', DATASET, '--data_dir', data,
                                   '--train_file', '1'], '--train_file'),
      'render': (render.main, ['--root', data, '--dataset', 'synth_rooms_ring_camera',
                               '--train_scenes', '1', '--test_scenes', '1', '--overwr'],
                 '--overwr'),
  }


@pytest.mark.parametrize('command', sorted(_abbreviated('out')))
def test_an_abbreviated_flag_is_refused_and_nothing_is_written(command, tmp_path, capsys):
  main, argv, abbreviation = _abbreviated(str(tmp_path))[command]
  with pytest.raises(SystemExit) as exit_:
    main(argv)
  assert exit_.value.code == 2
  err = capsys.readouterr().err
  assert 'error: unrecognized arguments: %s' % abbreviation in err, err
  assert os.listdir(str(tmp_path)) == []


def test_only_the_exact_verbose_flag_lets_tensorflow_start_up_loudly(monkeypatch):
  for argv, level in ((['--verbose'], None), (['--verb'], '3'), ([], '3')):
    monkeypatch.delenv('TF_CPP_MIN_LOG_LEVEL', raising=False)
    logs.quiet_tensorflow_startup(argv)
    assert os.environ.get('TF_CPP_MIN_LOG_LEVEL') == level, argv


@pytest.mark.parametrize('flag_type, good, bad, expected, flag', [
    # Counts of steps, scenes, threads, ...
    (flag_types.positive_int, ('1', '36'), ('0', '-2', '1.5', 'x', ''),
     'a positive integer', '--batch_size'),
    # Where 0 means none, all or the default (--keep_checkpoints 0 keeps all).
    (flag_types.non_negative_int, ('0', '7'), ('-1', '1.5', 'x', ''),
     'an integer of 0 or more', '--keep_checkpoints'),
])
def test_integer_flags_refuse_values_below_their_minimum(flag_type, good, bad, expected,
                                                         flag, tmp_path, capsys):
  assert [flag_type(text) for text in good] == [int(text) for text in good]
  for text in bad:
    with pytest.raises(argparse.ArgumentTypeError, match=expected):
      flag_type(text)
  with pytest.raises(SystemExit) as exit_:
    train_gqn_draw.main(['--data_dir', str(tmp_path), '--model_dir',
                         str(tmp_path / 'model'), flag, bad[0]])
  assert exit_.value.code == 2
  assert ("error: argument %s: expected %s, got %r" % (flag, expected, bad[0])
          in capsys.readouterr().err)
  assert os.listdir(str(tmp_path)) == []
