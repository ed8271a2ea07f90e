"""tf-gqn's helper module name, kept so that `from gqn.gqn_utils import broadcast_pose` works.

The helpers live in modules named for what they hold: gqn/layers.py (layers, pose
tiling), gqn/schedules.py, gqn/precision.py, gqn/fast_unroll.py.
"""

from gqn.layers import broadcast_pose  # pylint: disable=unused-import
