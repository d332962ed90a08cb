"""Near-in-time co-share pairs: the one place where pairs of shares are formed.

What it computes
    Given share events sorted by (group, time) — a *group* is one target of one
    co-action type (one original post, one URL, one image hash, ...) — every pair of
    shares ``(i, j)``, ``i < j``, of the same group whose times differ by at most the
    window ``w`` (inclusive: ``t_j - t_i <= w``), as index arrays into the sorted
    shares. This is the co-share pair of CooRTweet (Righetti & Balluff) and of the QUT
    coordination-network-toolkit's co-retweet/co-link definitions, and the "coordinated
    link sharing" unit of CooRnet (Giglietto et al. 2020).

How (no quadratic blow-up)
    Shares of a group are sorted by time, so the partners of share ``i`` inside the
    window are the contiguous run ``i+1 .. end_i - 1``. ``window_ends`` finds every
    ``end_i`` in one pass (``O(n)``; ``O(n log n)``, one binary search of all shares at
    once, when the windows differ from share to share), which
    also gives the exact number of in-window pairs of every group without forming them
    (the null model needs it). ``iter_pair_runs`` then
    cuts the pairs into bounded chunks of runs, formed by the caller's compiled kernel:
    share ``i`` is paired with at most its next ``max_pairs_per_share`` sharers (the cap). Work and memory are
    ``O(n log n + P)`` with ``P <= n * max_pairs_per_share`` the pairs formed, instead
    of ``O(sum over groups of size^2)``.

The cap
    It only bites when more than ``max_pairs_per_share`` *other* shares of the same
    target fall inside one window after a share — a post reposted by thousands of
    accounts within a minute. Then only the pairs with the next ``k`` sharers are
    formed; ``stats`` reports how many pairs and targets were capped. The counts used
    by the null model are always exact.
"""

from __future__ import annotations

from collections.abc import Iterator

import numba
import numpy as np

from rallypoint.detectors import null_model as nm

#: Pairs materialised per chunk: bounds memory (five int64 arrays of this length). Two
#: chunks are reduced at once (``partition.CHUNK_WORKERS``); smaller chunks balance the two
#: threads better than larger ones (benchmarks/RESULTS.md, vs_peers).
DEFAULT_CHUNK_PAIRS = 2_000_000


def window_ends(groups: np.ndarray, times: np.ndarray, window: int | np.ndarray) -> np.ndarray:
    """For each share ``i``, one past the last share of its group within ``window`` after it.

    ``groups`` and ``times`` must be sorted by (group, time); ``window`` is one width or
    one per share. Returns ``end`` with ``end[i] - i - 1`` = the number of later shares
    of the same group at most ``window`` time units after share ``i`` (inclusive).

    One ``searchsorted`` of the shares on a single increasing key: the time, with every
    gap between neighbours wider than the widest window shrunk to that width + 1, and a
    gap of that width + 1 between groups. A shrunk gap is still wider than any window, so
    no window reaches across it, and within reach the distances are the true ones; the
    key grows by at most ``widest + 1`` per share, so it stays small. ``O(n log n)``
    (``_bisected_window_ends`` when the key could overflow int64).
    """
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    widths = np.broadcast_to(np.asarray(window, dtype=np.int64), (n,))
    if widths[0] == widths.min() == widths.max():
        # one width (every type's own pairing): the ends only move forward, one compiled pass
        return _one_width_window_ends(groups, times, int(widths[0]))
    reach = int(widths.max()) + 1
    if reach * (n + 1) >= 2**62:
        return _bisected_window_ends(groups, times, widths)
    key = np.empty(n, dtype=np.int64)
    key[0] = 0
    np.subtract(times[1:], times[:-1], out=key[1:])
    np.minimum(key[1:], reach, out=key[1:])
    key[1:][groups[1:] != groups[:-1]] = reach
    np.cumsum(key, out=key)
    return np.searchsorted(key, key + widths, side="right").astype(np.int64)


@numba.njit(nogil=True, cache=True)
def _one_width_window_ends(groups: np.ndarray, times: np.ndarray, width: int) -> np.ndarray:
    """``window_ends`` for one ``width``: as ``i`` moves on, its end never moves back, so the
    ends are found by one pointer walking the shares once. ``O(n)``."""
    n = groups.size
    ends = np.empty(n, np.int64)
    end = 0
    for i in range(n):
        end = max(end, i + 1)
        while end < n and groups[end] == groups[i] and times[end] - times[i] <= width:
            end += 1
        ends[i] = end
    return ends


def _bisected_window_ends(groups: np.ndarray, times: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """``window_ends`` by a vectorised bisection inside each share's group: ``O(n log m)``
    with ``m`` the largest group, for windows so wide that its key could overflow."""
    n = len(groups)
    # the end of each share's group: groups are sorted, so a searchsorted finds it
    lo = np.arange(1, n + 1, dtype=np.int64)
    hi = np.searchsorted(groups, groups, side="right").astype(np.int64)
    limit = times + widths
    active = np.flatnonzero(lo < hi)
    while active.size:
        a_lo, a_hi = lo[active], hi[active]
        mid = (a_lo + a_hi) // 2
        beyond = times[mid] > limit[active]
        hi[active] = np.where(beyond, mid, a_hi)
        lo[active] = np.where(beyond, a_lo, mid + 1)
        active = active[lo[active] < hi[active]]
    return lo


def iter_pair_runs(
    ends: np.ndarray,
    max_pairs_per_share: int | None,
    chunk_pairs: int = DEFAULT_CHUNK_PAIRS,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every in-window pair ``(i, j)``, ``i < j < ends[i]``, at most ``max_pairs_per_share`` per
    ``i``, not formed: ``(shares, partners)`` per chunk, share ``shares[k]`` paired with the
    next ``partners[k]`` shares (for a kernel that forms and uses the pairs in one pass).
    Chunks of about ``chunk_pairs`` pairs, so memory stays bounded whatever the data; a
    single share never splits across chunks.
    """
    n = len(ends)
    partners = ends - np.arange(1, n + 1, dtype=np.int64)
    if max_pairs_per_share is not None:
        partners = np.minimum(partners, max_pairs_per_share)
    with_partners = np.flatnonzero(partners > 0)
    if with_partners.size == 0:
        return
    counts = partners[with_partners]
    cumulative = np.cumsum(counts)
    start = 0
    while start < with_partners.size:
        base = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, base + chunk_pairs, side="right"))
        stop = max(stop, start + 1)
        yield with_partners[start:stop], counts[start:stop]
        start = stop


def group_pair_counts(groups: np.ndarray, ends: np.ndarray, n_groups: int) -> np.ndarray:
    """Exact number of in-window share pairs of every group (uncapped), by group code."""
    partners = ends - np.arange(1, len(ends) + 1, dtype=np.int64)
    return np.bincount(groups, weights=partners, minlength=n_groups).astype(np.int64)


def target_chances(groups: np.ndarray, times: np.ndarray, width: int | np.ndarray, n_groups: int,
                   jitter: float) -> np.ndarray:
    """The null model's ``q_t`` of every group code (``null_model.target_chance``), from shares
    sorted by (group, time): each group's shares, and its pairs at most ``width`` apart (the
    jitter window, one width or one per share)."""
    sizes = np.bincount(groups, minlength=n_groups)
    pairs = group_pair_counts(groups, window_ends(groups, times, width), n_groups)
    return nm.target_chance(sizes, pairs, jitter)
