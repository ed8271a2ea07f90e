"""The GQN objective: the negative evidence lower bound of Eslami et al. (2018).

  loss = target_llh + kl, with
  target_llh = -sum_{h,w,c} mean_batch log N(x^q | mu_target, sigma_t)
  kl = sum_{h,w,c} mean_batch sum_l KL(q_l || pi_l)
Both are in nats per image.
"""

import collections

import tensorflow.compat.v1 as tf
import tensorflow_probability as tfp

# elbo: the loss, -ELBO in nats (target_llh + kl); target_llh: the reconstruction term
# (a negative log-likelihood); kl: the KL term; kl_per_step: list of L scalars.
Elbo = collections.namedtuple('Elbo', ['elbo', 'target_llh', 'kl', 'kl_per_step'])


def gqn_draw_elbo(target_frame, mu_target, sigma_target, posteriors, priors):
  """The negative ELBO of one batch.

  Args:
    target_frame: [B, H, W, 3] the target x^q.
    mu_target: [B, H, W, 3] the rendered image mean.
    sigma_target: scalar pixel standard deviation sigma_t.
    posteriors: list of L Gaussians q_l, each with mu, sigma [B, h, w, Z].
    priors: list of L Gaussians pi_l, same shapes.

  Returns:
    Elbo of float32 scalars.
  """
  with tf.name_scope('GQN_ELBO'):
    likelihood = tfp.distributions.Normal(loc=mu_target, scale=sigma_target)
    target_llh = -tf.reduce_sum(tf.reduce_mean(likelihood.log_prob(target_frame), axis=0))
    kl_maps = [
        tfp.distributions.kl_divergence(
            tfp.distributions.Normal(loc=q.mu, scale=q.sigma),
            tfp.distributions.Normal(loc=pi.mu, scale=pi.sigma))
        for q, pi in zip(posteriors, priors)]
    kl_per_step = [tf.reduce_sum(tf.reduce_mean(kl, axis=0)) for kl in kl_maps]
    kl = tf.reduce_sum(tf.reduce_mean(tf.add_n(kl_maps), axis=0))
    return Elbo(target_llh + kl, target_llh, kl, kl_per_step)
