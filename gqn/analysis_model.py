"""The networks the analyses query, each in a graph and session of its own.

GQNModel is the model of gqn_graph.gqn_draw, built once; an arbitrary r (a sum of
representations, or 0 for K = 0) is rendered by feeding it in place of the encoder's
output, so no part of the network is rebuilt for an analysis. vae_representation reads
r off the GQN-VAE baseline's encoder.
"""

import numpy as np
import tensorflow.compat.v1 as tf

from gqn import checkpoints
from gqn import gqn_encoder
from gqn import gqn_graph
from gqn import gqn_objective
from gqn import schedules

# Examples per session run: small, since the machines running this are often shared.
_BATCH = 16


class GQNModel(object):
  """One GQN graph in its own session, from a checkpoint or freshly initialised.

  r is read off the encoder and may be fed back in: the renderer and the posterior then
  take the fed r, whatever the context (r = 0 is the prior with no context, K = 0).
  """

  def __init__(self, config, checkpoint=None, seed=0):
    """Builds the graph and restores `checkpoint` (None: initialise with `seed`).

    Raises:
      checkpoints.CheckpointMismatchError: the checkpoint does not fit the config.
    """
    self.config = config
    image = [config.IMG_HEIGHT, config.IMG_WIDTH, config.IMG_CHANNELS]
    self.graph = tf.Graph()
    with self.graph.as_default():
      tf.set_random_seed(seed)
      self._frames = tf.placeholder(tf.float32, [None, None] + image, 'context_frames')
      self._cameras = tf.placeholder(tf.float32, [None, None, config.POSE_CHANNELS],
                                     'context_cameras')
      self._query = tf.placeholder(tf.float32, [None, config.POSE_CHANNELS], 'query_camera')
      self._target = tf.placeholder(tf.float32, [None] + image, 'target_frame')
      outputs = gqn_graph.gqn_draw(self._query, self._frames, self._cameras, config,
                                   target_frame=self._target, generate=True)
      # The r the DRAW unroll reads: the encoder's sum before the pool encoder's 1 x 1 r
      # is tiled for GQNOutputs.
      self._representation = outputs.representation
      if config.ENC_TYPE == 'pool':
        self._representation = outputs.representation.op.inputs[0]
      self._generation = outputs.generation
      step = checkpoints.global_step(checkpoint) if checkpoint else 0
      sigma = schedules.pixel_sigma(step, config)
      posterior = outputs.posterior
      self._elbo = gqn_objective.gqn_draw_elbo(self._target, posterior.mu_target, sigma,
                                               posterior.steps.posteriors,
                                               posterior.steps.priors)
      variables = tf.global_variables()
      initialise = tf.variables_initializer(variables)
      saver = tf.train.Saver(variables) if checkpoint else None
      self.graph.finalize()
    self.session = tf.Session(graph=self.graph, config=tf.ConfigProto(
        intra_op_parallelism_threads=2, inter_op_parallelism_threads=2))
    if checkpoint:
      checkpoints.check_compatible(checkpoint, config, variables)
      checkpoints.restore(saver, self.session, checkpoint)
    else:
      self.session.run(initialise)

  def close(self):
    self.session.close()

  def zero_representation(self, batch):
    """r = 0 (no context) for `batch` scenes, [B, h, w, C] as the encoder shapes it."""
    shape = self._representation.shape.as_list()[1:]
    return np.zeros([batch] + shape, np.float32)

  def encode(self, frames, cameras):
    """r = sum_k f(x^k, v^k) of K >= 1 views per scene.

    Args:
      frames: [B, K, H, W, 3] context views in [0, 1].
      cameras: [B, K, 7] their cameras.

    Returns:
      r, [B, h, w, C] ([B, 1, 1, C] for the pool encoder).
    """
    return np.concatenate([
        self.session.run(self._representation, {
            self._frames: frames[start:start + _BATCH],
            self._cameras: cameras[start:start + _BATCH]})
        for start in range(0, len(frames), _BATCH)])

  def render(self, representation, query, mean=True):
    """Renders r from the query cameras.

    Args:
      representation: [B, h, w, C] r (from `encode`, a sum of them, or zeros).
      query: [B, 7] query cameras.
      mean: z_l = mu_l (the mean render) when true; z_l ~ pi_l otherwise (a sample).

    Returns:
      [B, H, W, 3] image means, not clipped.
    """
    images = []
    for start in range(0, len(query), _BATCH):
      feed = {self._representation: representation[start:start + _BATCH],
              self._query: query[start:start + _BATCH]}
      if mean:
        for noise in self._generation.steps.noise:
          shape = [len(feed[self._query])] + noise.shape.as_list()[1:]
          feed[noise] = np.zeros(shape, noise.dtype.as_numpy_dtype)
      images.append(self.session.run(self._generation.mu_target, feed))
    return np.concatenate(images)

  def elbo(self, representation, query, target):
    """(-ELBO, KL) in nats per image, averaged over the examples (posterior path)."""
    totals = np.zeros(2)
    for start in range(0, len(query), _BATCH):
      end = min(start + _BATCH, len(query))
      elbo = self.session.run(self._elbo, {
          self._representation: representation[start:end], self._query: query[start:end],
          self._target: target[start:end]})
      totals += (end - start) * np.array([elbo.elbo, elbo.kl])
    return totals / len(query)


def vae_representation(config, checkpoint):
  """A function (frames, cameras) -> r of the GQN-VAE at `checkpoint`, for embeddings.

  r comes from the GQN-VAE's tower encoder (scope `GQN-VAE`), restored from the
  checkpoint alone.
  """
  graph = tf.Graph()
  image = [config.IMG_HEIGHT, config.IMG_WIDTH, config.IMG_CHANNELS]
  with graph.as_default():
    frames = tf.placeholder(tf.float32, [None, None] + image)
    cameras = tf.placeholder(tf.float32, [None, None, config.POSE_CHANNELS])
    with tf.variable_scope('GQN-VAE', reuse=tf.AUTO_REUSE):
      representation = gqn_encoder.encode_scene(frames, cameras, 'tower',
                                                config.ENC_CHANNELS)
    saver = tf.train.Saver(tf.global_variables())
  session = tf.Session(graph=graph)
  checkpoints.restore(saver, session, checkpoint)

  def encode(view_frames, view_cameras):
    return np.concatenate([
        session.run(representation, {frames: view_frames[start:start + _BATCH],
                                     cameras: view_cameras[start:start + _BATCH]})
        for start in range(0, len(view_frames), _BATCH)])
  return encode
