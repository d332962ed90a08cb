"""Allocator housekeeping for long detection runs."""

from __future__ import annotations

import pyarrow as pa

from rallypoint.allocator import release_freed_memory


def release_unused_memory() -> None:
    """Return the memory Arrow's allocator and the C heap keep after frees to the system.

    Arrow keeps freed buffers resident for reuse; between detection steps that build and drop
    large tables nothing reuses them: building one type's share events (Arrow group-bys and
    filters) left about a gigabyte resident at scale, and the next type's strings came on top.
    During a run the C heap keeps what numpy frees too (``rallypoint.allocator``).
    """
    pa.default_memory_pool().release_unused()
    release_freed_memory()
