"""The reduction of coded co-share pairs to the per-type rows of candidate edges, in integer codes.

What it computes (the in-process counterpart of ``build._per_type``'s Dask joins)
    From ``partition.coact_codes``'s rows per (account pair, type, target), sorted:
      * ``per_type_sums``: per (account pair, type) the ``weight`` (co-share pairs),
        ``n_shared`` (targets), ``first`` and ``last``;
      * ``reduce_pieces``: the sums of several partitions of targets, added up per key and
        filtered by CooRTweet's step 2 (a row is kept when at least one of its accounts
        has ``min_participation`` shares of that type in a co-share pair, ``participation``)
        and by ``may_pass``'s rule on the lower bound of ``E_ab``, in one compiled pass;
      * ``may_pass``: the rows of account pairs that met at least twice over all types
        (a pair that met once has the null model's p-value 1: it can never pass);
      * ``met_on_two_targets``: the pairs that met on two different targets within one
        type, the rule every loose pair meets (:mod:`rallypoint.detectors.loose`);
      * ``expected_weights``: the null model's ``E_ab = sum_t n_at * n_bt * q_t`` over
        the targets of that type both accounts shared (``null_model``).

How
    Every key is an int64 built from dense codes, and the rows come sorted by
    (account pair, type, target), so every sum is over contiguous runs (a ``reduceat``, or
    one compiled pass where several sums and filters follow each other) and every filter an
    array gather; no hash table, no string. A p-value filter compares each pair's expected
    weight with the largest one its weight passes at (``null_model.critical_expected``).
    ``E_ab`` intersects, per row, the two accounts' blocks of share counts of the type (a
    CSR layout of the share counts by (account, type), each block sorted by target) in a
    compiled kernel (numba): rows grouped by their larger block, that block is written once
    into a per-thread bitmap and map (target -> entry) and each target of the smaller block
    tested there, so that a row costs its smaller block's length; a row whose sum already
    rules its pair out stops early.

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
from rallypoint.detectors.options import THREADS

#: ``may_pass`` keeps a little more than ``significance`` allows (float rounding).
SLACK = 1 + 1e-9
#: Entries of the smaller blocks walked per task of ``expected_weights``.
DEFAULT_LOOKUP_CHUNK = 4_000_000
#: Threads filling ``expected_weights``' chunks.
LOOKUP_WORKERS = THREADS


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

    def columns(self) -> tuple[np.ndarray, ...]:
        """The arrays in field order (the order ``PerType(*columns)`` takes them back)."""
        return self.pair_kind, self.weight, self.n_shared, self.first, self.last, self.met_chance

    def take(self, rows: np.ndarray) -> PerType:
        """The rows ``rows`` (a boolean mask or sorted positions), still sorted."""
        return PerType(*(column[rows] for column in self.columns()))

    def __len__(self) -> int:
        return len(self.pair_kind)


def per_type_sums(pairs: pl.DataFrame, chance: np.ndarray) -> PerType:
    """Sum ``coact_codes``'s (pair_kind, group) rows over targets: one row per pair_kind, in
    one compiled pass (``_target_sums``). ``O(R)``.

    ``chance``: ``q_t`` by group code (for ``met_chance``; NaN throughout without a null model).
    """
    pair_kind = pairs["pair_kind"].to_numpy()
    out = PerType(*(np.empty(pair_kind.size, np.int64) for _ in range(5)), np.empty(pair_kind.size))
    n = _target_sums(pair_kind, pairs["group"].to_numpy(), pairs["pairs"].to_numpy(), pairs["first"].to_numpy(),
                     pairs["last"].to_numpy(), chance, out.pair_kind, out.weight, out.n_shared, out.first, out.last,
                     out.met_chance)
    return PerType(*(column[:n] for column in (out.pair_kind, out.weight, out.n_shared, out.first, out.last,
                                                out.met_chance)))


@numba.njit(nogil=True, cache=True)
def _target_sums(pair_kind, group, count, first, last, chance,
                 out_pair_kind, out_weight, out_n_shared, out_first, out_last, out_met_chance):
    """``per_type_sums``' pass over rows sorted by pair_kind: per run, the counts summed, the
    rows (targets) counted, min ``first``, max ``last`` and the targets' ``q_t`` added in
    order. Returns the rows written."""
    n = 0
    i = 0
    while i < pair_kind.size:
        p, start = pair_kind[i], i
        w, f, la, mc = count[i], first[i], last[i], 0.0 + chance[group[i]]
        i += 1
        while i < pair_kind.size and pair_kind[i] == p:
            w += count[i]
            f = min(f, first[i])
            la = max(la, last[i])
            mc += chance[group[i]]
            i += 1
        out_pair_kind[n], out_weight[n], out_n_shared[n] = p, w, i - start
        out_first[n], out_last[n], out_met_chance[n] = f, la, mc
        n += 1
    return n


def concatenate(parts: list[PerType]) -> PerType:
    """Sums of consecutive, disjoint key ranges (a partition's slices, in order) as one
    ``PerType``. Empties ``parts`` (the caller's list), so they are not held beside it."""
    if len(parts) == 1:
        return parts.pop()
    if not parts:
        return _empty()
    merged = PerType(*(np.concatenate(columns) for columns in zip(*(p.columns() for p in parts), strict=True)))
    parts.clear()
    return merged


def _empty() -> PerType:
    empty = np.zeros(0, np.int64)
    return PerType(empty, empty, empty, empty, empty, np.zeros(0))


@dataclass
class Candidates:
    """``reduce_pieces``' result: the rows that may pass, and what was counted on the way."""

    rows: PerType
    #: (pair, type) rows per type code before CooRTweet's step 2
    formed: np.ndarray
    #: account pairs, and (pair, type) rows per type code, after it
    candidates: int
    per_kind: np.ndarray


def reduce_pieces(parts: list[PerType], enough: np.ndarray | None, n_accounts: int, n_kinds: int,
                  significance: float | None, loose: float | None = None) -> Candidates:
    """Partial sums of the same keys (several partitions' pieces of one range of account
    pairs, each sorted) added up per (account pair, type), filtered by CooRTweet's
    participation (``enough``: ``participation``'s mask, ``None`` keeps every row) and, with
    ``significance``, by the lower bound of ``E_ab`` (``may_pass`` on ``met_chance``).

    One stable sort of the keys (skipped when the pieces are consecutive key ranges), then
    one compiled pass (``_sum_runs``) that adds up each key's rows, applies the
    participation rule and adds up each account pair's weight and ``met_chance``, instead of
    a numpy pass and a gather per step. Empties ``parts``. ``O(R log R)`` for ``R`` rows.
    """
    merged = concatenate(parts)
    key = merged.pair_kind
    # already sorted (one piece, or consecutive key ranges): the kernel reads the rows in place
    in_order = key.size == 0 or bool((key[1:] >= key[:-1]).all())
    order = np.zeros(0, np.int64) if in_order else stable_argsort(key)
    use_enough = enough is not None
    enough = enough if use_enough else np.zeros(0, bool)
    out = PerType(*(np.empty(key.size, np.int64) for _ in range(5)), np.empty(key.size))
    row_pair = np.empty(key.size, np.int64)
    pair_weight = np.empty(key.size, np.int64)
    pair_chance = np.empty(key.size)
    pair_twice = np.empty(key.size, np.bool_)
    formed = np.zeros(n_kinds, np.int64)
    per_kind = np.zeros(n_kinds, np.int64)
    n_rows, n_pairs = _sum_runs(order, merged.pair_kind, merged.weight, merged.n_shared, merged.first, merged.last,
                                merged.met_chance, enough, use_enough, n_accounts, n_kinds,
                                out.pair_kind, out.weight, out.n_shared, out.first, out.last, out.met_chance,
                                row_pair, pair_weight, pair_chance, pair_twice, formed, per_kind)
    del merged, key, order
    if significance is None:
        rows = out.take(np.arange(n_rows))
    else:
        keep = _pairs_passing(pair_weight[:n_pairs], pair_chance[:n_pairs], pair_twice[:n_pairs], significance,
                              loose)
        rows = out.take(np.flatnonzero(keep[row_pair[:n_rows]]))
    return Candidates(rows, formed, n_pairs, per_kind)


@numba.njit(nogil=True, cache=True)
def _sum_runs(order, pair_kind, weight, n_shared, first, last, met_chance, enough, use_enough, n_accounts, n_kinds,
              out_pair_kind, out_weight, out_n_shared, out_first, out_last, out_met_chance,
              row_pair, pair_weight, pair_chance, pair_twice, formed, per_kind):
    """``reduce_pieces``' pass: rows taken in ``order`` (or in place when it is empty), each run
    of equal keys summed into one row (weights, targets and chances added, first/last the
    min/max) in the order the rows come; a row is written out when ``a`` or ``b`` participates
    enough in its type; each written account pair's weight, ``met_chance`` and whether it met
    on two targets in a type are added up. Returns (rows written, account pairs written)."""
    n = pair_kind.size
    in_place = order.size == 0
    n_rows, n_pairs = 0, 0
    held_pair = -1
    i = 0
    while i < n:
        at = i if in_place else order[i]
        key = pair_kind[at]
        w, ns, f, la, mc = weight[at], n_shared[at], first[at], last[at], 0.0 + met_chance[at]
        i += 1
        while i < n:
            at = i if in_place else order[i]
            if pair_kind[at] != key:
                break
            w += weight[at]
            ns += n_shared[at]
            f = min(f, first[at])
            la = max(la, last[at])
            mc += met_chance[at]
            i += 1
        kind = key % n_kinds
        formed[kind] += 1
        pair = key // n_kinds
        if use_enough:
            a, b = pair // n_accounts, pair % n_accounts
            if not (enough[a * n_kinds + kind] or enough[b * n_kinds + kind]):
                continue
        per_kind[kind] += 1
        out_pair_kind[n_rows], out_weight[n_rows], out_n_shared[n_rows] = key, w, ns
        out_first[n_rows], out_last[n_rows], out_met_chance[n_rows] = f, la, mc
        if pair != held_pair:
            held_pair = pair
            pair_weight[n_pairs], pair_chance[n_pairs], pair_twice[n_pairs] = 0, 0.0, False
            n_pairs += 1
        pair_weight[n_pairs - 1] += w
        pair_chance[n_pairs - 1] += mc
        pair_twice[n_pairs - 1] |= ns >= 2
        row_pair[n_rows] = n_pairs - 1
        n_rows += 1
    return n_rows, n_pairs


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
    twice = None if loose is None else met_on_two_targets(per_type.n_shared, starts)
    return _pairs_passing(np.add.reduceat(per_type.weight, starts), np.add.reduceat(expected, starts), twice,
                          significance, loose)[run]


def _pairs_passing(weight: np.ndarray, expected: np.ndarray, twice: np.ndarray | None, significance: float,
                   loose: float | None) -> np.ndarray:
    """``may_pass``'s rule per account pair, from its weight, expected weight and (with
    ``loose``) whether it met on two targets in a type."""
    # a pair that met once has p = 1 (up to rounding): below 0.5 only pairs that met twice are tested
    tested = weight >= 2 if significance < 0.5 else np.ones(weight.size, bool)
    # p <= level exactly when E <= E*(w): a comparison per pair, not a Poisson tail
    keep = tested & (expected <= nm.critical_expected(weight, significance * SLACK))
    if loose is not None:
        keep |= tested & twice & (expected <= nm.critical_expected(weight, loose * SLACK))
    return keep


def expected_limits(per_type: PerType, n_kinds: int, significance: float, loose: float | None = None) -> np.ndarray:
    """Per row: the largest ``E_ab`` its account pair can have and still pass ``may_pass``
    (``null_model.critical_expected`` at the looser level); ``-1`` where no ``E_ab`` passes."""
    if len(per_type) == 0:
        return np.zeros(0)
    starts, run = pair_runs(per_type, n_kinds)
    weight = np.add.reduceat(per_type.weight, starts)
    level = significance if loose is None else max(significance, loose)
    return nm.critical_expected(weight, level * SLACK)[run]


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
    #: ``LOOKUP_WORKERS`` pairs of a group -> entry map and a bitmap of the groups it holds
    #: (``_mapped_sums``; the bitmap all 0 between uses, the map read only where a bit is set):
    #: made on the first bucket and reused by every later one instead of fresh zeroed pages each time
    slots: queue.SimpleQueue | None = field(default=None, init=False, repr=False)

    def slot_maps(self) -> queue.SimpleQueue:
        """The maps, made once."""
        if self.slots is None:
            self.slots = queue.SimpleQueue()
            for _ in range(LOOKUP_WORKERS):
                self.slots.put((np.zeros(self.n_groups, np.int32 if self.groups.size < 2**31 else np.int64),
                                np.zeros(self.n_groups // 64 + 1, np.uint64)))
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
                 groups: np.ndarray, counts: np.ndarray, chance: np.ndarray, slot: np.ndarray, held: np.ndarray,
                 limit: np.ndarray, out: np.ndarray) -> None:
    """``out[r] = sum over groups g in both blocks of row r: (n_small,g * n_large,g) * q_g``, the
    terms added in ascending ``g`` from 0.0 (the order and rounding of a ``bincount``).

    Rows come grouped by their large block: each large block is written once into ``slot``
    (group code -> its entry) and ``held`` (a bit per group code, all 0 on entry and on
    return), and each row walks its small block (sorted by group, hence the order of the
    terms) testing every group's bit, reading ``slot`` on a hit only: most groups miss, and
    the bitmap stays in cache where the map would not. ``O(s)`` per row for a small block of
    ``s`` entries, plus each distinct large block once. A row stops adding once its sum
    passes ``limit[r]`` (terms are never negative, so it can only grow): ``out[r]`` is then a
    partial sum above the limit.
    """
    one = np.uint64(1)
    held_start, held_len = 0, 0
    for r in range(small_start.size):
        if large_start[r] != held_start or large_len[r] != held_len:
            for j in range(held_start, held_start + held_len):
                held[groups[j] >> 6] = 0
            held_start, held_len = large_start[r], large_len[r]
            for j in range(held_start, held_start + held_len):
                g = groups[j]
                slot[g] = j
                held[g >> 6] |= one << np.uint64(g & 63)
        total = 0.0
        for i in range(small_start[r], small_start[r] + small_len[r]):
            g = groups[i]
            if held[g >> 6] & (one << np.uint64(g & 63)):
                total += counts[i] * counts[slot[g]] * chance[g]
                if total > limit[r]:
                    break
        out[r] = total
    for j in range(held_start, held_start + held_len):
        held[groups[j] >> 6] = 0


def expected_weights(
    per_type: PerType,
    shares: ShareLookup,
    chance: np.ndarray,
    n_accounts: int,
    n_kinds: int,
    chunk: int = DEFAULT_LOOKUP_CHUNK,
    limit: np.ndarray | None = None,
    workers: int = LOOKUP_WORKERS,
) -> np.ndarray:
    """``E_ab = sum_t n_at * n_bt * q_t`` for every row of ``per_type``, over the type's targets.

    ``shares``: the share counts (``ShareLookup``); ``chance``: ``q_t`` by group code.
    ``limit``: per row, a value past which its exact sum is not needed (its pair fails
    whatever its other rows add, ``expected_limits``): the row stops there and holds a
    partial sum above it. Returns float64 aligned with ``per_type``. The rows are cut into
    runs of about ``chunk`` entries of their smaller blocks, filled by a compiled kernel
    (``_mapped_sums``) on ``workers`` threads (at most ``LOOKUP_WORKERS``), each with its own
    bitmap and map; with one, in the calling thread, so that ``LOOKUP_WORKERS`` calls can
    run at once.
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
    limit = np.full(len(per_type), np.inf) if limit is None else limit[by_large]
    small_len, large_len = degree[small_block], degree[large_block]
    small_start, large_start = block_start[small_block], block_start[large_block]
    del small_block, large_block
    ends = np.cumsum(small_len)
    cuts = np.unique(np.r_[0, np.searchsorted(ends, np.arange(chunk, int(ends[-1]), chunk)), len(ends)])
    sums = np.empty(len(per_type))
    slots = shares.slot_maps()

    def fill(start: int, stop: int) -> None:
        slot, held = slots.get()
        _mapped_sums(small_start[start:stop], small_len[start:stop], large_start[start:stop], large_len[start:stop],
                     shares.groups, shares.counts, chance, slot, held, limit[start:stop], sums[start:stop])
        slots.put((slot, held))

    if workers == 1:
        for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
            fill(start, stop)
    else:
        # the kernel releases the GIL, and runs write disjoint rows
        with ThreadPoolExecutor(min(workers, LOOKUP_WORKERS)) as pool:
            list(pool.map(fill, cuts[:-1], cuts[1:]))
    out[by_large] = sums
    return out
