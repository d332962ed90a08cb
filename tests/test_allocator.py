"""The C allocator during a detection run: numpy's large temporaries reuse the pages freed before them."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import numpy as np
import pytest

from rallypoint import allocator

glibc_only = pytest.mark.skipif(allocator._LIBC is None, reason="glibc's allocator, not tuned by the user")
MIB = 2**20


def faults_of_a_fresh_array(size: int = 256 * MIB) -> int:
    """Minor page faults of filling an array of ``size`` bytes just after one of that size was freed."""
    np.ones(size, dtype=np.uint8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(size, dtype=np.uint8)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@glibc_only
def test_inside_a_run_a_large_array_reuses_the_pages_of_the_one_freed_before_it():
    outside = faults_of_a_fresh_array()
    with allocator.keeping_freed_memory():
        inside = faults_of_a_fresh_array()
    after = faults_of_a_fresh_array()
    # outside a run each array is mapped afresh: a fault per page (or per huge page)
    assert outside >= 100
    assert inside <= outside // 10
    # glibc's own behaviour is back once the run ends
    assert after >= 100


def test_a_user_who_tunes_glibc_malloc_keeps_their_settings():
    for name, value in (("MALLOC_ARENA_MAX", "4"), ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0")):
        env = {**os.environ, name: value}
        shown = subprocess.run([sys.executable, "-c", "from rallypoint import allocator; print(allocator._LIBC)"],
                               env=env, capture_output=True, text=True, check=True).stdout.strip()
        assert shown == "None"


def test_importing_the_library_leaves_the_allocator_alone_and_detect_limits_it():
    probe = ("import rallypoint, numpy; from rallypoint import allocator; print(allocator.arenas_limited()); "
             "from rallypoint.cli import main; main(['detect', '--help'], standalone_mode=False); "
             "print(allocator.arenas_limited() or allocator._LIBC is None)")
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert shown[0] == "False"
    assert shown[-1] == "True"


def test_evaluate_leaves_the_allocator_alone_unless_it_replays_a_world():
    from rallypoint.cli import DETECTING_COMMANDS

    assert "evaluate" not in DETECTING_COMMANDS  # only `evaluate --lead-time` detects, and limits the arenas itself
    probe = ("from rallypoint import allocator; from rallypoint.cli import main; "
             "main(['evaluate', '--help'], standalone_mode=False); print(allocator.arenas_limited())")
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert shown[-1] == "False"
