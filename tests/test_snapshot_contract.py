"""The snapshot contract (docs/model.md#snapshot-contract): tf-gqn's checkpoints load here.

The manifests, reference weights and reference outputs in tests/data
(docs/model.md#reference-outputs) are what tf-gqn's graph holds and computed.
"""

import os

import numpy as np
import tensorflow.compat.v1 as tf

from data_provider.gqn_tfr_provider import Context, Query
from gqn import gqn_model
from gqn import gqn_params
from tests.data import reference_weights

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
MODES = tf.estimator.ModeKeys


def _manifest(name):
  with open(os.path.join(DATA, name)) as f:
    return [line.strip() for line in f if line.strip()]


def _variable_lines(variables):
  return ['%s %s %s' % (v.op.name, v.shape.as_list(), v.dtype.base_dtype.name)
          for v in variables]


def _build(mode, batch=2):
  """A default-config graph of `mode` on the fixed reference inputs."""
  frames, poses, query, target = reference_weights.fixed_inputs(batch=batch)
  graph = tf.Graph()
  with graph.as_default():
    features = Query(Context(tf.constant(frames), tf.constant(poses)), tf.constant(query))
    labels = None if mode == MODES.PREDICT else tf.constant(target)
    spec = gqn_model.gqn_draw_model_fn(features, labels, mode,
                                       {'gqn_params': gqn_params.tf_gqn_config()})
  return graph, spec


def _load_reference_weights(sess, variables):
  for v in variables:
    v.load(reference_weights.value_for(v.op.name, v.shape.as_list(),
                                       v.dtype.base_dtype.as_numpy_dtype), sess)


def _run_with_zero_noise(graph, fetch):
  with graph.as_default(), tf.Session() as sess:
    _load_reference_weights(sess, tf.global_variables())
    feed, num_noise_ops = reference_weights.zero_noise_feed(sess, graph, {})
    assert num_noise_ops == gqn_params.default_config().SEQ_LENGTH
    return sess.run(fetch, feed)


def test_train_graph_variables_equal_the_snapshot_manifest():
  graph, _ = _build(MODES.TRAIN)
  with graph.as_default():
    got = _variable_lines(tf.global_variables())
  want = _manifest('snapshot_variables_pool.txt')
  assert len(got) == len(want) == 126
  assert sorted(got) == sorted(want)


def test_predict_graph_variables_are_the_predict_manifest_and_a_subset():
  graph, _ = _build(MODES.PREDICT)
  with graph.as_default():
    got = _variable_lines(tf.global_variables())
  assert sorted(got) == sorted(_manifest('snapshot_variables_pool_predict.txt'))
  assert set(got) <= set(_manifest('snapshot_variables_pool.txt'))


def test_train_loss_matches_reference():
  reference = np.load(os.path.join(DATA, 'reference_outputs_pool.npz'))['train_loss']
  graph, spec = _build(MODES.TRAIN)
  loss = _run_with_zero_noise(graph, spec.loss)
  assert loss.dtype == np.float32 and loss.shape == ()
  np.testing.assert_allclose(loss, reference, rtol=1e-5)


def test_predicted_mean_matches_reference():
  reference = np.load(os.path.join(DATA, 'reference_outputs_pool.npz'))['predicted_mean']
  graph, spec = _build(MODES.PREDICT)
  mean = _run_with_zero_noise(graph, spec.predictions['predicted_mean'])
  assert mean.shape == (2, 64, 64, 3)
  np.testing.assert_allclose(mean, reference, rtol=1e-5, atol=1e-5 * np.abs(reference).max())


def test_train_checkpoint_restores_into_predict_graph(tmp_path):
  checkpoint = str(tmp_path / 'model.ckpt')
  graph, _ = _build(MODES.TRAIN)
  with graph.as_default(), tf.Session() as sess:
    _load_reference_weights(sess, tf.global_variables())
    tf.train.Saver().save(sess, checkpoint)
  graph, spec = _build(MODES.PREDICT)
  reference = np.load(os.path.join(DATA, 'reference_outputs_pool.npz'))['predicted_mean']
  with graph.as_default(), tf.Session() as sess:
    # Restoring every PREDICT variable by name from the TRAIN checkpoint must succeed.
    tf.train.Saver().restore(sess, checkpoint)
    feed, _ = reference_weights.zero_noise_feed(sess, graph, {})
    mean = sess.run(spec.predictions['predicted_mean'], feed)
  np.testing.assert_allclose(mean, reference, rtol=1e-5, atol=1e-5 * np.abs(reference).max())
