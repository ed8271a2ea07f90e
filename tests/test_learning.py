"""Training recipes: the two prior timings, a random number of context views, learning curves."""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import eval_gqn
import train_gqn_draw
from gqn import curves
from gqn import estimator
from gqn import evaluation
from gqn import gqn_params
from gqn import model_dir as model_dir_lib
from gqn import train_clock
from gqn import training
from tests.snapshot import DATASET

MODES = tf.estimator.ModeKeys


def _train(config, data_dir, model_dir, steps):
  train_gqn_draw.train(config, data_dir, DATASET, model_dir,
                       train_gqn_draw.TrainOptions(batch_size=4, max_steps=steps,
                                                   chkpt_steps=steps // 2, log_steps=steps // 10,
                                                   keep_checkpoints=0, seed=2))


def _losses(model_dir):
  events = tf.io.gfile.glob(os.path.join(model_dir, 'events.out.tfevents.*'))
  return [(event.step, value.simple_value) for path in events
          for event in tf.train.summary_iterator(path)
          for value in event.summary.value if value.tag == 'loss']


@pytest.mark.slow
def test_both_prior_timings_train_and_every_checkpoint_makes_the_curve(fake_data_dir,
                                                                       tmp_path):
  paper = gqn_params.tiny_config()
  assert paper.PRIOR_BEFORE_UPDATE
  tf_gqn = paper._replace(PRIOR_BEFORE_UPDATE=False)
  runs = {}
  for name, config in (('paper', paper), ('tf-gqn', tf_gqn)):
    model_dir = str(tmp_path / name)
    _train(config, fake_data_dir, model_dir, steps=200)
    runs[name] = model_dir
    losses = sorted(_losses(model_dir))
    assert len(losses) >= 2 and losses[-1][1] < losses[0][1], (name, losses)
  # The two runs differ in their prior timing only.
  recorded = [json.load(open(model_dir_lib.config_path(runs[name])))
              for name in ('paper', 'tf-gqn')]
  differing = [key for key in recorded[0] if recorded[0][key] != recorded[1][key]]
  assert differing == ['PRIOR_BEFORE_UPDATE']

  out = str(tmp_path / 'curve')
  code = eval_gqn.main(['--model_dir', runs['paper'], '--data_dir', fake_data_dir,
                        '--dataset', DATASET, '--all_checkpoints', '--output_dir', out,
                        '--max_examples', '4', '--batch_size', '4', '--num_samples', '2'])
  assert code == 0
  rows = curves.read_curves(os.path.join(out, 'curves.csv'))
  assert [row['global_step'] for row in rows] == [0, 100, 200]
  seconds = [row['training_seconds'] for row in rows]
  assert seconds == sorted(seconds) and seconds[-1] > 0
  assert sorted(train_clock.read_training_times(runs['paper'])) == [0, 100, 200]
  for row in rows:
    assert np.isfinite([row['psnr_db'], row['kl_nats'], row['elbo_nats'],
                        row['context_mean_psnr_db']]).all()
  assert os.path.getsize(os.path.join(out, 'curves.png')) > 0
  assert os.path.isfile(os.path.join(out, 'model.ckpt-200', 'metrics.json'))


def test_a_checkpoint_without_config_keeps_tf_gqns_prior_timing(reference_snapshot, tmp_path):
  # tf-gqn's snapshot: evaluated and trained on with the timing it was trained with.
  resolved = model_dir_lib.resolve_config(reference_snapshot, None, None)
  assert resolved.config.PRIOR_BEFORE_UPDATE is False
  assert resolved.config == gqn_params.tf_gqn_config()
  forced = model_dir_lib.resolve_config(reference_snapshot, None,
                                        {'PRIOR_BEFORE_UPDATE': True})
  assert forced.config.PRIOR_BEFORE_UPDATE is True
  # A new model directory trains with the paper's timing, whatever the preset.
  for preset in gqn_params.PRESETS:
    fresh = model_dir_lib.resolve_config(str(tmp_path / preset), preset, None)
    assert fresh.config.PRIOR_BEFORE_UPDATE is True, preset


def _context_sizes(config, data_dir, num_batches, model_fn=None, seed=1, mode=MODES.TRAIN):
  """K of each of the first batches of `config`'s input_fn (TRAIN), and the losses.

  With a `model_fn`, each batch also trains it one step: (sizes, losses).
  """
  options = train_gqn_draw.TrainOptions(batch_size=2, queue_threads=1, queue_buffer=8,
                                        seed=seed)
  with tf.Graph().as_default():
    tf.set_random_seed(0)
    features, labels = training.input_fn(config, data_dir, DATASET, mode, options, None,
                                         None)()
    context = features.context
    fetches = {'views': tf.shape(context.frames)[1], 'cameras': tf.shape(context.cameras)}
    if model_fn is not None:
      spec = model_fn(features, labels, MODES.TRAIN, {'gqn_params': config})
      fetches.update(loss=spec.loss, train_op=spec.train_op)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      results = [sess.run(fetches) for _ in range(num_batches)]
  for result in results:
    assert list(result['cameras']) == [2, result['views'], 7]
  return ([int(r['views']) for r in results],
          [float(r['loss']) for r in results if 'loss' in r])


@pytest.mark.parametrize('model', gqn_params.MODELS)
def test_both_models_train_on_a_random_number_of_context_views(fake_data_dir, model):
  # The shared training input draws K per batch, so the GQN-VAE gets it as the GQN does.
  config = gqn_params.tiny_config()._replace(MODEL=model)
  assert config.RANDOM_CONTEXT_SIZE and config.CONTEXT_SIZE == 5
  sizes, losses = _context_sizes(config, fake_data_dir, 12, estimator.MODEL_FNS[model])
  assert set(sizes) <= {1, 2, 3, 4, 5} and len(set(sizes)) >= 3, sizes
  assert np.all(np.isfinite(losses))
  # Seeded: the same draws again.
  assert _context_sizes(config, fake_data_dir, 12)[0] == sizes


def test_without_random_context_size_and_in_evaluation_every_batch_has_k_views(
    fake_data_dir):
  config = gqn_params.tiny_config()
  fixed = config._replace(RANDOM_CONTEXT_SIZE=False)
  assert _context_sizes(fixed, fake_data_dir, 6)[0] == [config.CONTEXT_SIZE] * 6
  assert _context_sizes(config, fake_data_dir, 6, mode=MODES.EVAL)[0] == [5] * 6


def test_the_curve_reuses_checkpoints_measured_on_the_same_examples(tiny_model,
                                                                    fake_data_dir, tmp_path,
                                                                    monkeypatch):
  out = str(tmp_path / 'curve')
  options = dict(max_examples=4, batch_size=2, num_samples=1, seed=0, flight=0)
  first = evaluation.evaluate_all(tiny_model, fake_data_dir, DATASET, output_dir=out,
                                  **options)
  evaluated = []
  measure = evaluation.evaluate

  def counting(*args, **kwargs):
    evaluated.append(kwargs['checkpoint'])
    return measure(*args, **kwargs)

  monkeypatch.setattr(evaluation, 'evaluate', counting)
  again = evaluation.evaluate_all(tiny_model, fake_data_dir, DATASET, output_dir=out,
                                  **options)
  assert evaluated == [] and again == first
  # Other examples (another seed) or another number of samples: measured anew.
  for change in ({'seed': 1}, {'num_samples': 2}):
    evaluation.evaluate_all(tiny_model, fake_data_dir, DATASET, output_dir=out,
                            **dict(options, **change))
  assert len(evaluated) == 2 * len(first)
