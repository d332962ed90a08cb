"""Calls run in a process of their own (rallypoint.apart): results back, failures as one sentence."""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest

from rallypoint.apart import ApartError, ApartExecutor, call_apart
from rallypoint.detectors.communities import find_communities, start_communities


def test_a_call_runs_in_another_process_and_its_result_comes_back():
    assert call_apart(os.getpid) != os.getpid()
    assert call_apart(math.fsum, [0.1] * 10) == 1.0


def test_what_the_child_prints_does_not_spoil_its_result():
    assert call_apart(print, "stray output") is None


def test_an_exception_in_the_child_is_one_sentence():
    with pytest.raises(ApartError, match=r"^int failed in its process: ValueError: invalid literal"):
        call_apart(int, "not a number")


def test_a_child_killed_by_a_signal_is_one_sentence():
    with pytest.raises(ApartError, match="ended by signal 9"):
        call_apart(signal.raise_signal, signal.SIGKILL)


def test_leiden_in_a_process_of_its_own_finds_the_same_communities():
    import pyarrow as pa

    rng = np.random.default_rng(4)
    # four planted groups of 30 accounts, dense inside, sparse between
    a, b = rng.integers(0, 120, 3000), rng.integers(0, 120, 3000)
    keep = (a < b) & ((a // 30 == b // 30) | (rng.random(3000) < 0.05))
    pairs = sorted(set(zip(a[keep].tolist(), b[keep].tolist(), strict=True)))
    edges = pa.table({"account_a": [f"u{x}" for x, _ in pairs], "account_b": [f"u{y}" for _, y in pairs],
                      "weight": pa.array(rng.integers(1, 9, len(pairs)), pa.int64()),
                      "strength": pa.array(rng.random(len(pairs)) * 20)})
    here = find_communities(edges, seed=3)
    with ApartExecutor() as apart:
        pending = start_communities(edges, seed=3, executor=apart)
        there = pending.result()
    assert pending.found.peak_mib > 0 and here.n_communities >= 4
    assert np.array_equal(there.membership, here.membership)
    assert there.quality == here.quality
    assert there.graph.accounts.equals(here.graph.accounts)
