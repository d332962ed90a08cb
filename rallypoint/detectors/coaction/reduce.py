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
      * ``expected_weights``: the null model's ``E_ab = sum_t n_at * n_bt * q_t`` over
        the targets of that type both accounts shared (``null_model``).

How
    Every key is an int64 built from dense codes, and the rows come sorted by
    (account pair, type, target), so every sum is a ``reduceat`` over contiguous runs
    and every filter an array gather; no hash table, no string. ``E_ab`` walks the
    targets of the pair's less active account (a CSR layout of the share counts by
    (account, type)) and finds the other account's count by binary search on sorted
    ``account * n_groups + group`` keys, in chunks of at most ``chunk`` looked-up
    entries so memory stays bounded.

Cost
    ``O(R)`` for sums and filters over ``R`` rows; ``O(L log S)`` for ``E_ab`` with
    ``L = sum over tested pairs of min(targets of a, targets of b)`` and ``S``
    share-count rows.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from rallypoint.arrays import stable_argsort
from rallypoint.detectors import null_model as nm

#: ``may_pass`` keeps a little more than ``significance`` allows (float rounding).
SLACK = 1 + 1e-9
#: Entries looked up per chunk by ``expected_weights`` (about ten int64/float64 arrays of this length).
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


def may_pass(per_type: PerType, expected: np.ndarray, n_kinds: int, significance: float) -> np.ndarray:
    """Rows of account pairs whose p-value, with their ``expected`` summed over types, is ``<= significance``.

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
    keep[tested] = nm.poisson_p_values(weight[tested], expected_sum) <= significance * SLACK
    return keep[run]


@dataclass
class ShareLookup:
    """Share counts sorted by (account, group), what ``expected_weights`` searches: built once,
    used for every batch of rows. Groups are ordered by type, so each (account, type) is one
    contiguous block of ``lookup`` — a CSR layout (``degree``, ``block_start``)."""

    lookup: np.ndarray
    counts: np.ndarray
    groups: np.ndarray
    degree: np.ndarray
    block_start: np.ndarray
    n_groups: int

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
        lookup = share_counts["account"].to_numpy() * n_groups + share_counts["group"].to_numpy()
        order = stable_argsort(lookup)
        lookup = lookup[order]
        counts = share_counts["n"].to_numpy()[order].astype(np.float64)
        groups = lookup % n_groups
        degree = np.bincount(lookup // n_groups * n_kinds + group_kind[groups], minlength=n_accounts * n_kinds)
        return cls(lookup, counts, groups, degree, np.cumsum(degree) - degree, n_groups)


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
    Returns float64 aligned with ``per_type``.
    """
    out = np.zeros(len(per_type))
    if len(per_type) == 0 or shares.lookup.size == 0:
        return out
    lookup, counts, groups, degree, block_start = (shares.lookup, shares.counts, shares.groups, shares.degree,
                                                   shares.block_start)
    n_groups = shares.n_groups

    pair, kind = np.divmod(per_type.pair_kind, n_kinds)
    a, b = np.divmod(pair, n_accounts)
    block_a, block_b = a * n_kinds + kind, b * n_kinds + kind
    a_smaller = degree[block_a] <= degree[block_b]
    small_block = np.where(a_smaller, block_a, block_b)
    large = np.where(a_smaller, b, a)
    del pair, kind, a, b, block_a, block_b, a_smaller
    # rows taken in order of the account looked up: its entries of the lookup stay in cache
    # from one row to the next (random rows cost a cache miss a search step)
    by_large = stable_argsort(large)
    small_block, large = small_block[by_large], large[by_large]
    walk = degree[small_block]
    ends = np.cumsum(walk)
    # rows cut into chunks of about ``chunk`` walked entries, each filled on its own
    cuts = [0]
    while cuts[-1] < len(walk):
        base = ends[cuts[-1] - 1] if cuts[-1] else 0
        cuts.append(max(int(np.searchsorted(ends, base + chunk, side="right")), cuts[-1] + 1))

    def fill(start: int, stop: int) -> None:
        steps = walk[start:stop]
        row = np.repeat(np.arange(stop - start), steps)
        # entry = block start of the smaller account + offset 0..steps-1 within it
        offset = np.arange(row.size) - np.repeat(np.cumsum(steps) - steps, steps)
        entry = block_start[small_block[start:stop]][row] + offset
        target = groups[entry]
        wanted = large[start:stop][row] * n_groups + target
        # the chunk's rows are sorted by the account looked up, so its keys lie in one slice of
        # the lookup: the searches run there, on a slice that stays in cache
        lo = int(np.searchsorted(lookup, large[start] * n_groups))
        hi = int(np.searchsorted(lookup, (large[stop - 1] + 1) * n_groups))
        found = np.minimum(lo + np.searchsorted(lookup[lo:hi], wanted), lookup.size - 1)
        # the terms of the targets both accounts share only (a small share of the entries
        # walked): gathering every entry's counts and chance would dominate the step
        hit = np.flatnonzero(lookup[found] == wanted)
        terms = counts[entry[hit]] * counts[found[hit]] * chance[target[hit]]
        out[by_large[start:stop]] = np.bincount(row[hit], weights=terms, minlength=stop - start)

    # two threads: the searches and gathers release the GIL, and chunks write disjoint rows
    with ThreadPoolExecutor(LOOKUP_WORKERS) as pool:
        list(pool.map(fill, cuts[:-1], cuts[1:]))
    return out
