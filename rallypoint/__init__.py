"""rallypoint: find coordinated networks that organize offline mobilization, with reasons."""

__version__ = "0.1.0"
