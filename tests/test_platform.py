"""Every .py file of the project runs on Python 3.7 and uses only TensorFlow 1.15 names."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
API_FILE = os.path.join(ROOT, 'tests', 'data', 'tf1_15_api.txt')
# Aliases under which the project imports the two libraries.
TF_MODULES = {'tensorflow.compat.v1': 'tf', 'tensorflow_probability': 'tfp'}
SKIP_DIRS = {'.venv', '.git', '__pycache__', 'runs', 'data', '.pytest_cache'}


def _python_files():
  for dirpath, dirnames, filenames in os.walk(ROOT):
    dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
    for name in filenames:
      if name.endswith('.py'):
        yield os.path.relpath(os.path.join(dirpath, name), ROOT)


PY_FILES = sorted(_python_files())


def _load_api():
  with open(API_FILE) as f:
    names = {line.strip() for line in f if line.strip()}
  prefixes = set()
  for name in names:
    parts = name.split('.')
    prefixes.update('.'.join(parts[:i]) for i in range(1, len(parts)))
  return names, prefixes


API, API_PREFIXES = _load_api()


def _chain(node):
  """'tf.nn.conv2d' for the attribute chain tf.nn.conv2d, else None."""
  parts = []
  while isinstance(node, ast.Attribute):
    parts.append(node.attr)
    node = node.value
  if isinstance(node, ast.Name):
    parts.append(node.id)
    return '.'.join(reversed(parts))
  return None


def unknown_tf_names(source):
  """Dotted tf./tfp. names in `source` that TensorFlow 1.15 / tfp 0.8 do not have.

  A name is known when it is listed, or when its longest listed prefix is a leaf of
  the listing (an attribute of a listed class, such as tf.estimator.ModeKeys.TRAIN).
  """
  tree = ast.parse(source)
  aliases = {}
  bad = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        if alias.name == 'tensorflow' or alias.name.startswith('tensorflow.') and (
            alias.name not in TF_MODULES):
          bad.append('import %s' % alias.name)
        if alias.name in TF_MODULES:
          aliases[alias.asname or alias.name] = TF_MODULES[alias.name]
    elif isinstance(node, ast.ImportFrom) and node.module and (
        node.module == 'tensorflow' or node.module.startswith('tensorflow.')):
      bad.append('from %s import ...' % node.module)
  outermost = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Attribute):
      for child in ast.iter_child_nodes(node):
        outermost.add(id(child))
  for node in ast.walk(tree):
    if not isinstance(node, ast.Attribute) or id(node) in outermost:
      continue
    chain = _chain(node)
    if chain is None:
      continue
    head, _, rest = chain.partition('.')
    if head not in aliases:
      continue
    name = aliases[head] + '.' + rest
    parts = name.split('.')
    known = [i for i in range(len(parts), 1, -1) if '.'.join(parts[:i]) in API]
    if not known:
      bad.append(name)
    elif known[0] < len(parts) and '.'.join(parts[:known[0]]) in API_PREFIXES:
      bad.append(name)
  return bad


def test_the_checker_finds_what_it_should():
  source = ('import tensorflow.compat.v1 as tf\nimport tensorflow_probability as tfp\n'
            'tf.nn.conv2d; tf.estimator.ModeKeys.TRAIN; tfp.distributions.Normal\n'
            'tf.nn.no_such_op; tf.keras_nonexistent.x\n')
  assert unknown_tf_names(source) == ['tf.nn.no_such_op', 'tf.keras_nonexistent.x']
  assert unknown_tf_names('import tensorflow as tf\n') == ['import tensorflow']


def test_there_are_files_to_check():
  assert 'train_gqn_draw.py' in PY_FILES
  assert os.path.join('gqn', 'gqn_model.py') in PY_FILES


@pytest.mark.parametrize('path', PY_FILES)
def test_python37_syntax_and_tf115_names(path):
  with open(os.path.join(ROOT, path)) as f:
    source = f.read()
  # feature_version rejects syntax newer than 3.7 (walrus, positional-only, match ...).
  ast.parse(source, filename=path, feature_version=(3, 7))
  assert unknown_tf_names(source) == [], path
