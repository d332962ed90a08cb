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


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB.

    Linux's ``VmHWM``, not ``ru_maxrss``: a process started by ``subprocess`` from a large one
    keeps the parent's ``ru_maxrss`` across its ``exec`` (``rallypoint.apart``'s children would
    report the detecting process's peak as theirs), while ``VmHWM`` is its own memory's.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 2**10, 1)
    except OSError:
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)
