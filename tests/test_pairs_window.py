"""``window_ends``: how many later shares of the same target fall inside a share's window.

Every co-share pair, the cap, the pair budget and the null model's ``n_t`` rest on it,
so it is checked against its definition, counted pair by pair.
"""

from __future__ import annotations

import numpy as np
import pytest

from rallypoint.detectors.coaction import pairs
from rallypoint.detectors.coaction.pairs import window_ends


def partners_by_definition(groups: np.ndarray, times: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """For each share, the later shares of its group at most its window after it (inclusive)."""
    n = len(groups)
    later = np.arange(n)[None, :] > np.arange(n)[:, None]
    same = groups[None, :] == groups[:, None]
    near = (times[None, :] - times[:, None]) <= widths[:, None]
    return (later & same & near).sum(axis=1)


def sorted_shares(rng: np.random.Generator, n: int, n_groups: int, span: int) -> tuple[np.ndarray, np.ndarray]:
    groups = rng.integers(0, n_groups, n)
    # few distinct times: many shares at the same instant, and gaps both inside and beyond windows
    times = rng.integers(0, span, n) * 7
    order = np.lexsort((times, groups))
    return groups[order], times[order]


@pytest.mark.parametrize("seed", range(5))
def test_ends_count_exactly_the_later_shares_inside_the_window(seed):
    rng = np.random.default_rng(seed)
    groups, times = sorted_shares(rng, 600, 25, 300)
    for width in (0, 7, 60, 10_000):
        widths = np.full(len(groups), width)
        partners = window_ends(groups, times, width) - np.arange(1, len(groups) + 1)
        assert np.array_equal(partners, partners_by_definition(groups, times, widths))


def test_each_share_may_have_its_own_window():
    rng = np.random.default_rng(11)
    groups, times = sorted_shares(rng, 800, 30, 400)
    # per target (as co-action types have) and per share (as nothing requires otherwise)
    for widths in (rng.choice([0, 14, 700], 30)[groups], rng.choice([0, 14, 700], len(groups))):
        partners = window_ends(groups, times, widths) - np.arange(1, len(groups) + 1)
        assert np.array_equal(partners, partners_by_definition(groups, times, widths))


def test_windows_too_wide_for_the_key_fall_back_to_bisection_with_the_same_ends():
    rng = np.random.default_rng(3)
    groups, times = sorted_shares(rng, 500, 20, 200)
    huge = 2**61  # reach * n overflows the int64 key
    widths = np.full(len(groups), huge)
    ends = window_ends(groups, times, huge)
    assert np.array_equal(ends - np.arange(1, len(groups) + 1), partners_by_definition(groups, times, widths))
    # and for ordinary windows both ways agree
    for width in (0, 7, 300):
        widths = np.full(len(groups), width)
        assert np.array_equal(window_ends(groups, times, width),
                              pairs._bisected_window_ends(groups, times, widths))


def test_no_shares_no_ends():
    assert window_ends(np.zeros(0, np.int64), np.zeros(0, np.int64), 60).size == 0
