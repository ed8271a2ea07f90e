"""results.py, the published learning result, end to end on a few scenes and steps."""

import json
import os

import pytest

import results
from gqn import curves


def test_unknown_dataset_is_one_line_and_exit_2(capsys):
  assert results.main(['--datasets', 'rooms']) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and 'synth_rooms_ring_camera' in err[0]


@pytest.mark.slow
def test_results_render_train_curve_and_table(tmp_path, monkeypatch, capsys):
  monkeypatch.setattr(results, 'RECIPES', {
      'synth_rooms_ring_camera': results.Recipe(train_scenes=12, test_scenes=4, steps=20)})
  monkeypatch.setattr(results, 'CHECKPOINT_STEPS', 10)
  monkeypatch.setattr(results, 'EVAL_EXAMPLES', 4)
  run_dir = str(tmp_path / 'results')
  models_dir = str(tmp_path / 'models')
  code = results.main(['--data_dir', str(tmp_path / 'data'), '--run_dir', run_dir,
                       '--models_dir', models_dir, '--no_analyses'])
  assert code == 0
  out = os.path.join(run_dir, 'synth_rooms_ring_camera')
  rows = curves.read_curves(os.path.join(out, 'curves.csv'))
  assert [row['global_step'] for row in rows] == [0, 10, 20]
  for name in ('curves.png', 'scenes.png', 'flight.gif', 'metrics.json'):
    assert os.path.getsize(os.path.join(out, name)) > 0, name
  published = os.path.join(models_dir, 'synth_rooms_ring_camera')
  assert sorted(os.listdir(published)) == [
      'checkpoint', 'gqn_config.json', 'metrics.json',
      'model.ckpt-20.data-00000-of-00001', 'model.ckpt-20.index']
  # The learning rate annealed over the recipe's 20 steps.
  assert json.load(open(os.path.join(published, 'gqn_config.json')))['ANNEAL_LR_TAU'] == 20
  assert json.load(open(os.path.join(published, 'metrics.json'))) == json.load(
      open(os.path.join(out, 'metrics.json')))
  row = json.load(open(os.path.join(out, 'results.json')))
  assert row['steps'] == 20 and row['training_minutes'] > 0
  printed = capsys.readouterr().out
  assert '| synth_rooms_ring_camera | 20 |' in printed
