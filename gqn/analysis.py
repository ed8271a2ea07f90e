"""What a trained GQN's representation knows: views, probes, embedding and scene algebra.

Four analyses of a checkpoint on a rendered dataset, after the claims of Eslami et al.
(2018), each returning a JSON-ready dict and writing one PNG, each in a module of its
own:

  views      (analysis_views.py) uncertainty against the number of context views K = 0
             (prior only) ... the dataset's maximum: bits/dim, KL, PSNR of the mean
             render, best-of-N MSE and the spread of prior samples, on the same query of
             the same test scenes.
  probes     (analysis_probes.py) linear probes (logistic regression for classes,
             ridge regression for real values) from r (averaged over space) to each
             scene factor, fitted on train scenes and scored on test scenes, beside the
             same probes on the pixels of one context view and on r of the same network
             at initialisation.
  embedding  (analysis_embedding.py) 2-D PCA and t-SNE of r for every single view of
             a few scenes, coloured by scene, beside the same for the pixels (or the
             GQN-VAE's r), with scores of how well views group by scene.
  algebra    (analysis_algebra.py) r_A - r_B + r_C rendered from D's cameras, for
             quadruples of scenes where D is A with the factor that differs between B and
             C changed; scored against D's true views and against rendering r_A or r_C
             alone, beside rendering r_D (D's own r: the floor); for rooms also with
             the object in place (A's object where B's stands).

They share the networks in their sessions (analysis_model.py), the scenes and factors
they read (analysis_scenes.py) and the feature sets of probes and embedding
(analysis_features.py). This module runs them: `analyze`.
"""

import collections
import json
import os

import tensorflow.compat.v1 as tf

from data_provider import gqn_tfr_provider
from data_provider.scenes import factors as scene_factors
from gqn import analysis_algebra
from gqn import analysis_embedding
from gqn import analysis_model
from gqn import analysis_probes
from gqn import analysis_scenes
from gqn import analysis_views
from gqn import checkpoints
from gqn import model_dir as model_dir_lib

ANALYSES = ('views', 'probes', 'embedding', 'algebra')
# Train scenes the probes are fitted on by default. With 300 the rooms snapshot's shape
# probe was starved of examples: 0.365, then 0.430, 0.465, 0.480 and 0.450 with 1000,
# 2000, 3000 and 5000 (docs/experiments.md, section 20).
PROBE_SCENES = 2000
# Scene-algebra quadruples per factor by default: with 3 the object-shape row moved by
# more than its gap to "render r_A" from one checkpoint to the next (docs/experiments.md,
# section 14).
ALGEBRA_QUADRUPLES = 30

TABLES = {'views': analysis_views.views_table, 'probes': analysis_probes.probes_table,
          'embedding': analysis_embedding.embedding_table,
          'algebra': analysis_algebra.algebra_table}


def result_table(results):
  """The results as text, one table per analysis (MSE/PSNR in the algebra's)."""
  lines = []
  for name in ANALYSES:
    if name in results:
      lines.append('%s:' % name)
      lines.extend(TABLES[name](results[name]))
  return '\n'.join(lines)


def check_analyses(names):
  """Raises ValueError unless every name is one of ANALYSES."""
  unknown = [name for name in names if name not in ANALYSES]
  if unknown or not names:
    raise ValueError('Unknown analyses %s; choose from %s (comma-separated).'
                     % (', '.join(repr(n) for n in unknown) or 'none given',
                        ','.join(ANALYSES)))


def analyze(model_dir, data_dir, dataset, analyses=ANALYSES, output_dir=None,
            checkpoint=None, vae_model_dir=None, num_scenes=32, num_samples=8,
            probe_scenes=PROBE_SCENES, embedding_scenes=8,
            quadruples_per_factor=ALGEBRA_QUADRUPLES, seed=0, preset=None, overrides=None,
            progress=None):
  """Runs the analyses of a trained GQN and writes analysis.json and one PNG each.

  Args:
    model_dir: the model directory (its gqn_config.json and latest checkpoint).
    data_dir: root of the datasets.
    dataset: the dataset name; probes and algebra need this project's rendered
      datasets (their factors sidecars and renderer).
    analyses: names from ANALYSES.
    output_dir: where analysis.json and the PNGs go (None: <model_dir>/analysis).
    checkpoint: a checkpoint prefix instead of the model directory's latest.
    vae_model_dir: a GQN-VAE model directory whose r the embedding compares with
      (None: the pixels).
    num_scenes: test scenes of the views analysis.
    num_samples: prior samples per scene (views).
    probe_scenes: at most this many train and this many test scenes for the probes.
    embedding_scenes: scenes of the embedding (every view of each).
    quadruples_per_factor: algebra quadruples per factor.
    seed: the initialisation of the untrained network (probes), t-SNE's random state
      (embedding) and the algebra's scenes.
    preset, overrides: the config of a model directory without gqn_config.json
      (tf-gqn's snapshots), as for evaluation; see model_dir.resolve_config.
    progress: function(str) told a line per analysis (None: silent).

  Returns:
    The dict written to analysis.json: one key per analysis run, and `run`.

  Raises:
    ValueError: unknown analysis, bad config or checkpoint; FileNotFoundError: no data
      or no factors where an analysis needs them.
  """
  check_analyses(analyses)
  say = progress or (lambda line: None)
  output_dir = output_dir or os.path.join(model_dir, 'analysis')
  checkpoint = checkpoints.find_checkpoint(checkpoint or model_dir)
  config = model_dir_lib.resolve_config(model_dir, preset, overrides, checkpoint).config
  info = gqn_tfr_provider.dataset_info(dataset)
  max_views = info.sequence_size - 1
  size = config.IMG_HEIGHT
  tf.io.gfile.makedirs(output_dir)
  model = analysis_model.GQNModel(config, checkpoint, seed)
  results = collections.OrderedDict()
  results['run'] = collections.OrderedDict([
      ('checkpoint', checkpoint), ('global_step', checkpoints.global_step(checkpoint)),
      ('dataset', dataset), ('data_dir', data_dir)])
  test_count = max(num_scenes if 'views' in analyses else 0,
                   embedding_scenes if 'embedding' in analyses else 0,
                   probe_scenes if 'probes' in analyses else 0)
  test = (analysis_scenes.read_scenes(data_dir, dataset, 'test', test_count, size)
          if test_count else None)
  try:
    if 'views' in analyses:
      scenes = analysis_scenes.first(test, num_scenes)
      say('views: K = 0..%d context views, %d test scenes, %d samples each'
          % (max_views, len(scenes.frames), num_samples))
      results['views'] = analysis_views.analyze_views(model, scenes, max_views,
                                                      num_samples, say)
      analysis_views.plot_views(os.path.join(output_dir, 'views.png'), results['views'])
    if 'probes' in analyses:
      train = analysis_scenes.read_scenes(data_dir, dataset, 'train', probe_scenes, size)
      probe_test = analysis_scenes.first(test, probe_scenes)
      say('probes: %d train and %d test scenes, r of %d views'
          % (len(train.frames), len(probe_test.frames), config.CONTEXT_SIZE))
      targets = [analysis_probes.probe_targets(analysis_scenes.read_factors(
          data_dir, dataset, split, len(scenes.frames)))
                 for split, scenes in (('train', train), ('test', probe_test))]
      initial = analysis_model.GQNModel(config, None, seed)
      try:
        results['probes'] = analysis_probes.analyze_probes(
            model, initial, train, probe_test, targets[0], targets[1],
            config.CONTEXT_SIZE, say)
      finally:
        initial.close()
      analysis_probes.plot_probes(os.path.join(output_dir, 'probes.png'), results['probes'])
    if 'embedding' in analyses:
      scenes = analysis_scenes.first(test, embedding_scenes)
      baseline, baseline_name = None, 'pixels'
      if vae_model_dir:
        vae_checkpoint = checkpoints.find_checkpoint(vae_model_dir)
        vae_config = model_dir_lib.resolve_config(vae_model_dir, None, None,
                                                  vae_checkpoint).config
        baseline = analysis_model.vae_representation(vae_config, vae_checkpoint)
        baseline_name = 'gqn_vae_r'
      say('embedding: %d scenes x %d single views, r against %s'
          % (len(scenes.frames), info.sequence_size, baseline_name))
      results['embedding'] = analysis_embedding.analyze_embedding(model, scenes, baseline,
                                                                  baseline_name, seed)
      analysis_embedding.plot_embedding(os.path.join(output_dir, 'embedding.png'),
                                        results['embedding'])
    if 'algebra' in analyses:
      cases = [name for name, _, _ in scene_factors.algebra_cases(dataset)]
      say('algebra: rendering %d quadruples per factor (%s)'
          % (quadruples_per_factor, ', '.join(cases)))
      quadruples = analysis_algebra.render_quadruples(dataset, quadruples_per_factor, size,
                                                      seed)
      results['algebra'], rows = analysis_algebra.analyze_algebra(model, quadruples,
                                                                  config.CONTEXT_SIZE)
      analysis_algebra.plot_algebra(os.path.join(output_dir, 'algebra.png'), rows,
                                    results['algebra']['grid_columns'], config)
  finally:
    model.close()
  with tf.io.gfile.GFile(os.path.join(output_dir, 'analysis.json'), 'w') as f:
    f.write(json.dumps(results, indent=1) + '\n')
  return results
