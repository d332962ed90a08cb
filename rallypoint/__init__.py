"""rallypoint: find coordinated networks that organize offline mobilization, with reasons."""

from rallypoint.allocator import limit_arenas

# first, before numpy's import starts threads (rallypoint.allocator says why)
limit_arenas()

__version__ = "0.1.0"
