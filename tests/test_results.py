"""results.py, the published learning result, end to end on a few scenes and steps."""

import json
import os

import pytest

import results
from gqn import curves
from gqn import gqn_params


def test_unknown_dataset_is_one_line_and_exit_2(capsys):
  assert results.main(['--datasets', 'rooms']) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and 'synth_rooms_ring_camera' in err[0]


def test_each_recipe_builds_its_presets_config_for_its_hour():
  for dataset, recipe in results.RECIPES.items():
    config = results.recipe_config(recipe)
    base = gqn_params.preset(recipe.preset)
    assert config.ANNEAL_LR_TAU == recipe.steps, dataset
    assert config.SIGMA_LATE_STEP == recipe.sigma_late_step, dataset
    assert config.GENERATOR_SIGMA_LATE == recipe.sigma_late, dataset
    assert config._replace(ANNEAL_LR_TAU=base.ANNEAL_LR_TAU, SIGMA_LATE_STEP=0,
                           GENERATOR_SIGMA_LATE=base.GENERATOR_SIGMA_LATE) == base, dataset
  # Both hours train the small preset: its code, the late sigma of 0.45.
  for recipe in results.RECIPES.values():
    config = results.recipe_config(recipe)
    assert config.ENC_CODE_CHANNELS == 48 and config.GENERATOR_SIGMA_LATE == 0.45
  # Without a late stage the pixel sigma keeps its annealed value to the end.
  plain = results.recipe_config(results.Recipe(12, 4, 20))
  assert plain.SIGMA_LATE_STEP == 0 and plain == gqn_params.create_gqn_config(
      {'ANNEAL_LR_TAU': 20}, base=gqn_params.tiny_config())


@pytest.mark.slow
def test_results_render_train_curve_and_table(tmp_path, monkeypatch, capsys):
  monkeypatch.setattr(results, 'RECIPES', {
      'synth_rooms_ring_camera': results.Recipe(train_scenes=12, test_scenes=4, steps=20,
                                                preset='small')})
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
  # The recipe's preset, its learning rate annealed over the recipe's 20 steps.
  published_config = json.load(open(os.path.join(published, 'gqn_config.json')))
  assert published_config['ANNEAL_LR_TAU'] == 20
  assert published_config['ENC_CODE_CHANNELS'] == 48
  assert json.load(open(os.path.join(published, 'metrics.json'))) == json.load(
      open(os.path.join(out, 'metrics.json')))
  row = json.load(open(os.path.join(out, 'results.json')))
  assert row['steps'] == 20 and row['training_minutes'] > 0
  printed = capsys.readouterr().out
  assert '| synth_rooms_ring_camera | 20 |' in printed
