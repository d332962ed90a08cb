"""The C allocator's settings for detection runs (glibc only; elsewhere every function does nothing).

Why
    numpy takes every large array from the C allocator, and glibc serves a block above its mmap
    threshold (at most 32 MiB) with a mapping of its own, unmapped again on free: the kernel
    zeroes each page of the next such block on first touch. A detection run makes and drops
    such temporaries thousands of times (pair chunks, MinHash blocks, the attachment's batches,
    ``E_ab``'s chunks), and at scale a large share of the machine's time went to that zeroing.
    Served from a heap that keeps what is freed, the next temporary reuses the same pages.

What it sets
    1. ``limit_arenas``: one malloc arena for every thread. A worker thread's own arena grows by
       at most 64 MiB at a time, so a large array asked for there is always mapped afresh. glibc
       fixes the number of arenas when a second thread first allocates, and numpy's OpenBLAS
       starts its threads on import: so it must come before numpy is imported. The commands
       that run detection call it first (``rallypoint.cli``); a program that calls
       ``detect_run`` itself calls it before importing numpy. ``import rallypoint`` alone
       changes nothing, so a process that merely uses the library (the dashboard's server)
       keeps glibc's defaults.
    2. ``keeping_freed_memory`` (around a detection run): large blocks come from the heap
       (``M_MMAP_MAX`` 0) and freed memory stays there (``M_TRIM_THRESHOLD`` 2 GiB) until
       ``release_freed_memory`` gives it back, at the end of each stage, so a stage's peak is not
       carried into the next. On exit both settings get glibc's default values back (glibc
       no longer moves its mmap threshold by itself once they were set) and the heap is trimmed.

A user who sets glibc's malloc settings (``MALLOC_ARENA_MAX`` and the other ``MALLOC_*``
variables, or ``GLIBC_TUNABLES``) keeps them: nothing here changes then.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from contextlib import contextmanager

# mallopt's parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
#: glibc's defaults for the two settings a run changes
_DEFAULT_TRIM_THRESHOLD = 128 * 1024
_DEFAULT_MMAP_MAX = 65536
#: freed memory a run keeps for reuse between trims (mallopt takes an int: at most 2 GiB)
_KEPT_WHILE_RUNNING = 2**31 - 1


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc and the user has not tuned its allocator, else ``None``."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
    except (AttributeError, ValueError, OSError):
        return None
    if "GLIBC_TUNABLES" in os.environ or any(name.startswith("MALLOC_") for name in os.environ):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_LIBC = _glibc()


_arenas_limited = False


def limit_arenas() -> None:
    """One malloc arena for every thread (see the module docstring); before any thread allocates."""
    global _arenas_limited
    if _LIBC is not None:
        _LIBC.mallopt(_M_ARENA_MAX, 1)
        _arenas_limited = True


def arenas_limited() -> bool:
    """Whether ``limit_arenas`` has changed this process's allocator."""
    return _arenas_limited


@contextmanager
def keeping_freed_memory() -> Iterator[None]:
    """Large blocks from the heap and freed memory kept for reuse, until the block ends."""
    if _LIBC is None:
        yield
        return
    _LIBC.mallopt(_M_MMAP_MAX, 0)
    _LIBC.mallopt(_M_TRIM_THRESHOLD, _KEPT_WHILE_RUNNING)
    try:
        yield
    finally:
        _LIBC.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
        release_freed_memory()


def release_freed_memory() -> None:
    """Give the memory the C heap keeps after frees back to the system (``malloc_trim``)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
