"""The reduction of coded co-share pairs to the per-type rows of candidate edges, in integer codes.

What it computes (the in-process counterpart of ``build._per_type``'s Dask joins)
    From ``partition.coact_codes``'s rows per (account pair, type, target), sorted:
      * ``per_type_sums``: per (account pair, type) the ``weight`` (co-share pairs),
        ``n_shared`` (targets), ``first`` and ``last``;
      * ``combine``: the sums of several partitions of targets, added up per key;
      * ``participating``: CooRTweet's step 2 — a row is kept when at least one of its
        accounts has ``min_participation`` shares of that type in a co-share pair;
      * ``may_pass``: the rows of account pairs that met at least twice over all types
        (a pair that met once has the null model's p-value 1: it can never pass);
      * ``met_on_two_targets``: the pairs that met on two different targets within one
        type, the rule every loose pair meets (:mod:`rallypoint.detectors.loose`);
      * ``expected_weights``: the null model's ``E_ab = sum_t n_at * n_bt * q_t`` over
        the targets of that type both accounts shared (``null_model``).

How
    Every key is an int64 built from dense codes, and the rows come sorted by
    (account pair, type, target), so every sum is a ``reduceat`` over contiguous runs
    and every filter an array gather; no hash table, no string. ``E_ab`` intersects, per
    row, the two accounts' blocks of share counts of the type (a CSR layout of the share
    counts by (account, type), each block sorted by target) in a compiled kernel (numba):
    rows grouped by their larger block, that block is written once into a per-thread map
    (target -> entry) and each target of the smaller block looked up there, so that a row
    costs its smaller block's length.

Cost
    ``O(R)`` for sums and filters over ``R`` rows; ``O(L + D)`` for ``E_ab`` with
    ``L = sum over tested pairs of min(targets of a, targets of b)`` and ``D`` the entries of
    the distinct larger blocks (at most ``L`` again, per chunk of rows), plus a map of the
    targets per thread.
"""

from __future__ import annotations

import queue
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np
import polars as pl

from rallypoint.arrays import stable_argsort
from rallypoint.detectors import null_model as nm

#: ``may_pass`` keeps a little more than ``significance`` allows (float rounding).
SLACK = 1 + 1e-9
#: Entries of the smaller blocks walked per task of ``expected_weights``.
DEFAULT_LOOKUP_CHUNK = 4_000_000
#: Threads filling ``expected_weights``' chunks (the machine rallypoint targets has two cores).
LOOKUP_WORKERS = 2


@dataclass
class PerType:
    """Per (account pair, type) rows, sorted by ``pair_kind = (a * n + b) * kinds + kind``."""

    pair_kind: np.ndarray
    weight: np.ndarray
    n_shared: np.ndarray
    first: np.ndarray
    last: np.ndarray
    #: sum of ``q_t`` over the targets the pair co-shared: a lower bound of ``E_ab`` (both
    #: accounts shared each such target at least once, so ``n_at * n_bt >= 1`` there)
    met_chance: np.ndarray

    def take(self, rows: np.ndarray) -> PerType:
        """The rows ``rows`` (a boolean mask or sorted positions), still sorted."""
        columns = (self.pair_kind, self.weight, self.n_shared, self.first, self.last, self.met_chance)
        return PerType(*(column[rows] for column in columns))

    def __len__(self) -> int:
        return len(self.pair_kind)


def per_type_sums(pairs: pl.DataFrame, chance: np.ndarray) -> PerType:
    """Sum ``coact_codes``'s (pair_kind, group) rows over targets: one row per pair_kind. ``O(R)``.

    ``chance``: ``q_t`` by group code (for ``met_chance``).
    """
    pair_kind = pairs["pair_kind"].to_numpy()
    if pair_kind.size == 0:
        empty = np.zeros(0, np.int64)
        return PerType(empty, empty, empty, empty, empty, np.zeros(0))
    starts = np.flatnonzero(np.r_[True, pair_kind[1:] != pair_kind[:-1]])
    return PerType(
        pair_kind=pair_kind[starts],
        weight=np.add.reduceat(pairs["pairs"].to_numpy(), starts),
        n_shared=np.diff(np.r_[starts, pair_kind.size]),
        first=np.minimum.reduceat(pairs["first"].to_numpy(), starts),
        last=np.maximum.reduceat(pairs["last"].to_numpy(), starts),
        # without a null model every chance is NaN and nothing reads met_chance
        met_chance=(np.add.reduceat(chance[pairs["group"].to_numpy()], starts) if not np.isnan(chance).all()
                    else np.full(starts.size, np.nan)),
    )


def combine(parts: list[PerType]) -> PerType:
    """Partial sums of the same keys (from several partitions of targets, or several types)
    as one ``PerType``, sorted, one row per ``pair_kind``: weights, targets and ``met_chance``
    add up (a target lies in one partition), ``first``/``last`` take the min/max.

    Each part is sorted: a stable sort finds the runs. Empties ``parts`` (the caller's
    list), so they are not held beside the result. ``O(R log R)``.
    """
    if len(parts) == 1:
        return parts.pop()
    if not parts:
        empty = np.zeros(0, np.int64)
        return PerType(empty, empty, empty, empty, empty, np.zeros(0))
    merged = PerType(*(np.concatenate(columns) for columns in zip(
        *((p.pair_kind, p.weight, p.n_shared, p.first, p.last, p.met_chance) for p in parts), strict=True)))
    parts.clear()
    # one partition's slices (``engine.pair_partition``'s sink) come as consecutive key ranges
    if merged.pair_kind.size and not (merged.pair_kind[1:] >= merged.pair_kind[:-1]).all():
        merged = merged.take(stable_argsort(merged.pair_kind))
    key = merged.pair_kind
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else np.zeros(0, np.int64)
    if starts.size == key.size:
        return merged
    return PerType(
        pair_kind=key[starts],
        weight=np.add.reduceat(merged.weight, starts),
        n_shared=np.add.reduceat(merged.n_shared, starts),
        first=np.minimum.reduceat(merged.first, starts),
        last=np.maximum.reduceat(merged.last, starts),
        met_chance=np.add.reduceat(merged.met_chance, starts),
    )


def participation(
    share_counts: pl.DataFrame,
    group_kind: np.ndarray,
    n_accounts: int,
    n_kinds: int,
    min_participation: int,
) -> np.ndarray:
    """Per ``account * n_kinds + kind``: whether the account participates ``min_participation``
    times in the type (CooRTweet's step 2).

    An account participates in a type with the number of its shares of that type that
    are in at least one co-share pair (``share_counts.n_in_pair`` summed over the type's
    targets). ``O(S)``.
    """
    kind = group_kind[share_counts["group"].to_numpy()]
    counts = np.bincount(
        share_counts["account"].to_numpy() * n_kinds + kind,
        weights=share_counts["n_in_pair"].to_numpy(),
        minlength=n_accounts * n_kinds,
    )
    return counts >= min_participation


def participating(per_type: PerType, enough: np.ndarray | None, n_accounts: int, n_kinds: int) -> PerType:
    """The rows where account ``a`` or ``b`` participates enough in the type (``enough``:
    ``participation``'s mask; ``None`` keeps every row). The rule depends on (pair, type)
    only, so filtering summed rows equals filtering (target, pair) rows first. ``O(R)``.
    """
    if enough is None or len(per_type) == 0:
        return per_type
    pair, kind = np.divmod(per_type.pair_kind, n_kinds)
    a, b = np.divmod(pair, n_accounts)
    return per_type.take(enough[a * n_kinds + kind] | enough[b * n_kinds + kind])


def pair_runs(per_type: PerType, n_kinds: int) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, pair_of_row)``: where each account pair's run of type rows starts, and the
    run number of every row."""
    pair = per_type.pair_kind // n_kinds
    new = np.r_[True, pair[1:] != pair[:-1]] if pair.size else np.zeros(0, bool)
    return np.flatnonzero(new), np.cumsum(new) - 1


def met_on_two_targets(n_shared: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per account pair: whether it met on two different targets within one co-action type, the
    rule a loose pair must meet (:mod:`rallypoint.detectors.loose`). ``O(R)``.

    ``n_shared``: per (account pair, type) row, sorted by pair; ``starts``: where each pair's
    run of rows starts (``pair_runs``), not empty. The pair test adds meetings over types, so
    one act seen by two types (a repost is a ``co_repost`` and a ``co_engage`` meeting) weighs
    2 and can reach p 0.02 alone (docs/watch.md, "Quiet calls, pledges and loose groups").
    """
    return np.maximum.reduceat(n_shared, starts) >= 2


def may_pass(per_type: PerType, expected: np.ndarray, n_kinds: int, significance: float,
             loose: float | None = None) -> np.ndarray:
    """Rows of account pairs whose p-value, with their ``expected`` summed over types, is ``<= significance``
    (or ``<= loose`` for a pair that ``met_on_two_targets``: what the loose groups can use,
    :mod:`rallypoint.detectors.loose`).

    The p-value grows with the expected weight, so given a lower bound of ``E_ab``
    (``met_chance``) this keeps every pair that may pass and drops pairs that cannot.
    A pair that met once has ``p = 1`` (up to rounding): below ``significance = 0.5``
    only pairs with weight >= 2 are tested. ``significance`` is widened by
    ``SLACK`` so rounding never drops a pair that ``build._edges`` (which decides) keeps.
    """
    if len(per_type) == 0:
        return np.zeros(0, bool)
    starts, run = pair_runs(per_type, n_kinds)
    weight = np.add.reduceat(per_type.weight, starts)
    tested = weight >= 2 if significance < 0.5 else np.ones(weight.size, bool)
    keep = np.zeros(weight.size, bool)
    expected_sum = np.add.reduceat(expected, starts)[tested]
    p_value = nm.poisson_p_values(weight[tested], expected_sum)
    keep[tested] = p_value <= significance * SLACK
    if loose is not None:
        twice = met_on_two_targets(per_type.n_shared, starts)[tested]
        keep[tested] |= twice & (p_value <= loose * SLACK)
    return keep[run]


@dataclass
class ShareLookup:
    """Share counts sorted by (account, group), what ``expected_weights`` walks: built once,
    used for every batch of rows. Groups are ordered by type, so each (account, type) is one
    contiguous block of ``groups`` (sorted within it) — a CSR layout (``degree``,
    ``block_start``); ``n_groups``: the group codes' range."""

    groups: np.ndarray
    counts: np.ndarray
    degree: np.ndarray
    block_start: np.ndarray
    n_groups: int
    #: ``LOOKUP_WORKERS`` group -> entry maps (``_mapped_sums``), all -1 between uses: made on
    #: the first bucket and reused by every later one instead of fresh zeroed pages each time
    slots: queue.SimpleQueue | None = field(default=None, init=False, repr=False)

    def slot_maps(self) -> queue.SimpleQueue:
        """The maps, made once."""
        if self.slots is None:
            self.slots = queue.SimpleQueue()
            for _ in range(LOOKUP_WORKERS):
                self.slots.put(np.full(self.n_groups, -1, np.int32 if self.groups.size < 2**31 else np.int64))
        return self.slots

    @classmethod
    def build(cls, share_counts: pl.DataFrame, group_kind: np.ndarray, n_accounts: int, n_kinds: int,
              chance: np.ndarray | None = None) -> ShareLookup:
        """From ``share_counts`` (``group``, ``account``, ``n``); ``group_kind``: the type of
        each group code. With ``chance`` (``q_t`` by group code) the targets of ``q_t = 0`` are
        left out: their terms of ``E_ab`` are zero, and most of them (a target one account
        shared) would only lengthen every walk. ``O(S log S)``."""
        n_groups = len(group_kind)
        if chance is not None:
            share_counts = share_counts.filter(pl.Series(chance[share_counts["group"].to_numpy()] > 0))
        key = share_counts["account"].to_numpy() * n_groups + share_counts["group"].to_numpy()
        order = stable_argsort(key)
        key = key[order]
        counts = share_counts["n"].to_numpy()[order].astype(np.float64)
        account, groups = np.divmod(key, n_groups)
        del key
        degree = np.bincount(account * n_kinds + group_kind[groups], minlength=n_accounts * n_kinds)
        return cls(groups, counts, degree, np.cumsum(degree) - degree, n_groups)


@numba.njit(nogil=True, cache=True)
def _mapped_sums(small_start: np.ndarray, small_len: np.ndarray, large_start: np.ndarray, large_len: np.ndarray,
                 groups: np.ndarray, counts: np.ndarray, chance: np.ndarray, slot: np.ndarray,
                 out: np.ndarray) -> None:
    """``out[r] = sum over groups g in both blocks of row r: (n_small,g * n_large,g) * q_g``, the
    terms added in ascending ``g`` from 0.0 (the order and rounding of a ``bincount``).

    Rows come grouped by their large block: each large block is written once into ``slot``
    (group code -> its entry, ``-1`` elsewhere; all ``-1`` on entry and on return), and each
    row walks its small block (sorted by group, hence the order of the terms) looking every
    group up there: ``O(s)`` per row for a small block of ``s`` entries, plus each distinct
    large block once.
    """
    held_start, held_len = 0, 0
    for r in range(small_start.size):
        if large_start[r] != held_start or large_len[r] != held_len:
            for j in range(held_start, held_start + held_len):
                slot[groups[j]] = -1
            held_start, held_len = large_start[r], large_len[r]
            for j in range(held_start, held_start + held_len):
                slot[groups[j]] = j
        total = 0.0
        for i in range(small_start[r], small_start[r] + small_len[r]):
            g = groups[i]
            j = slot[g]
            if j >= 0:
                total += counts[i] * counts[j] * chance[g]
        out[r] = total
    for j in range(held_start, held_start + held_len):
        slot[groups[j]] = -1


def expected_weights(
    per_type: PerType,
    shares: ShareLookup,
    chance: np.ndarray,
    n_accounts: int,
    n_kinds: int,
    chunk: int = DEFAULT_LOOKUP_CHUNK,
) -> np.ndarray:
    """``E_ab = sum_t n_at * n_bt * q_t`` for every row of ``per_type``, over the type's targets.

    ``shares``: the share counts (``ShareLookup``); ``chance``: ``q_t`` by group code.
    Returns float64 aligned with ``per_type``. The rows are cut into runs of about ``chunk``
    entries of their smaller blocks, filled by a compiled kernel (``_mapped_sums``)
    on ``LOOKUP_WORKERS`` threads, each with its own group -> entry map.
    """
    out = np.zeros(len(per_type))
    if len(per_type) == 0 or shares.groups.size == 0:
        return out
    degree, block_start = shares.degree, shares.block_start
    pair, kind = np.divmod(per_type.pair_kind, n_kinds)
    a, b = np.divmod(pair, n_accounts)
    block_a, block_b = a * n_kinds + kind, b * n_kinds + kind
    del pair, kind, a, b
    a_smaller = degree[block_a] <= degree[block_b]
    small_block = np.where(a_smaller, block_a, block_b)
    large_block = np.where(a_smaller, block_b, block_a)
    del block_a, block_b, a_smaller
    # rows taken in order of the larger block: it stays in cache from one row to the next
    by_large = stable_argsort(large_block)
    small_block, large_block = small_block[by_large], large_block[by_large]
    small_len, large_len = degree[small_block], degree[large_block]
    small_start, large_start = block_start[small_block], block_start[large_block]
    del small_block, large_block
    ends = np.cumsum(small_len)
    cuts = np.unique(np.r_[0, np.searchsorted(ends, np.arange(chunk, int(ends[-1]), chunk)), len(ends)])
    sums = np.empty(len(per_type))
    slots = shares.slot_maps()

    def fill(start: int, stop: int) -> None:
        slot = slots.get()
        _mapped_sums(small_start[start:stop], small_len[start:stop], large_start[start:stop], large_len[start:stop],
                     shares.groups, shares.counts, chance, slot, sums[start:stop])
        slots.put(slot)

    # the kernel releases the GIL, and runs write disjoint rows
    with ThreadPoolExecutor(LOOKUP_WORKERS) as pool:
        list(pool.map(fill, cuts[:-1], cuts[1:]))
    out[by_large] = sums
    return out
