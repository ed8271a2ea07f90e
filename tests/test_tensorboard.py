"""Evaluation writes its metrics where TensorBoard shows them: MODEL_DIR/eval, at the step."""

import glob
import os
import shutil

import pytest
import tensorflow.compat.v1 as tf

from gqn import curves
from gqn import evaluation
from tests import snapshot


def _event_scalars(directory):
  """{step: {tag: value}} of every scalar in the event files of `directory`."""
  scalars = {}
  for path in glob.glob(os.path.join(directory, 'events.out.tfevents.*')):
    for event in tf.train.summary_iterator(path):
      for value in event.summary.value:
        scalars.setdefault(event.step, {})[value.tag] = value.simple_value
  return scalars


def test_summary_scalars_flatten_the_metrics():
  metrics = {'generation_mse': 0.5, 'kl_per_step': [1.0, 2.0],
             'baselines': {'context_mean_mse': 0.25}, 'num_examples': 8, 'global_step': 4,
             'seed': 0, 'checkpoint': '/m/model.ckpt-4', 'config': {'SEQ_LENGTH': 2},
             'inferred_fields': {}}
  assert curves.summary_scalars(metrics) == {
      'eval/generation_mse': 0.5, 'eval/kl_per_step/1': 1.0, 'eval/kl_per_step/2': 2.0,
      'eval/baselines/context_mean_mse': 0.25}


@pytest.mark.slow
def test_evaluation_writes_its_metrics_as_summaries_at_the_checkpoint_step(
    tiny_model, fake_data_dir, tmp_path):
  model_dir = str(tmp_path / 'model')
  shutil.copytree(tiny_model, model_dir)
  # Other tests evaluate the shared model too: start without their summaries.
  shutil.rmtree(os.path.join(model_dir, 'eval'), ignore_errors=True)
  # Elsewhere than the summaries, which go to MODEL_DIR/eval whatever --output_dir is.
  output_dir = str(tmp_path / 'pictures')
  metrics = evaluation.evaluate(
      model_dir, fake_data_dir, snapshot.DATASET,
      checkpoint=os.path.join(model_dir, 'model.ckpt-4'), max_examples=2, batch_size=2,
      num_samples=1, output_dir=output_dir, progress=False, report=False)
  scalars = _event_scalars(os.path.join(model_dir, 'eval'))
  assert list(scalars) == [4]  # the checkpoint's global step
  tags = scalars[4]
  expected = curves.summary_scalars(metrics)
  for key in ('generation_mse', 'mean_render_mse', 'elbo_nats', 'bits_per_dim',
              'pixel_sigma', 'baselines/context_mean_mse', 'baselines/nearest_context_mse',
              'kl_per_step/1'):
    assert 'eval/' + key in tags, key
  assert set(tags) == set(expected)
  for tag, value in expected.items():
    assert tags[tag] == pytest.approx(value, rel=1e-6, nan_ok=True), tag
  assert tags['eval/generation_mse'] == pytest.approx(metrics['generation_mse'], rel=1e-6)
  assert not glob.glob(os.path.join(output_dir, 'events.out.tfevents.*'))
