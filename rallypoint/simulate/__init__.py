"""``rallypoint simulate``: synthetic worlds with planted campaigns and their ground truth.

:func:`simulate_world` writes canonical records (gzip JSON Lines shards),
``labels.csv`` and ``world.json``; :class:`World` gives the same records as a
stream of bounded polars frames for tests and benchmarks.
"""

from rallypoint.simulate.world import World, simulate_world

__all__ = ["World", "simulate_world"]
