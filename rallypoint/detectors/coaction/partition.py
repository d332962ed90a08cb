"""The work done on one partition of share events (every share of a target in one partition).

``Coded`` holds a type's share events sorted by (target, time) in integer codes;
``partition_bounds`` cuts them into partitions of whole targets (``pair_slices``: into
how many tasks one partition heavier than the budget is paired, each keeping a disjoint
part of the account pairs), and ``coact_codes`` turns one partition (``PartShares``) into
  * ``pairs``: per (target, account pair, type) the number of co-share pairs and
    their first/last times, sorted;
  * ``share_counts``: per (target, account) the shares ``n`` and the shares that are
    part of a co-share pair ``n_in_pair`` (CooRTweet's participation) — what the null
    model's ``E_ab`` and the participation rule need;
  * figures: pairs in window, formed, capped, targets capped.

``coded_pair_actions`` re-pairs a type's shares and keeps those that form a pair of a
kept edge (the evidence behind edges). All are pure functions of their inputs:
``engine.py`` runs them in this process or as tasks on a cluster.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numba
import numpy as np
import polars as pl

from rallypoint.arrays import sorted_codes, sorted_unique, stable_argsort
from rallypoint.detectors.coaction.pairs import iter_pair_runs, target_chances, window_ends
from rallypoint.detectors.options import THREADS

#: Share events as partitions carry them: type code, target, account, record id, time (µs).
SHARE_COLUMNS = {"kind": pl.Int32, "target": pl.String, "account_id": pl.String, "id": pl.String, "time": pl.Int64}
#: ``CodedPairs.pairs``: ``pair_kind = (a * n + b) * kinds + kind`` for account codes ``a < b``
#: (``Coded.split_pair_kind``), the target group, pairs and first/last times; sorted by
#: (pair_kind, group), so one account pair's rows, and within it one type's, are contiguous.
CODED_PAIR_SCHEMA = {
    "pair_kind": pl.Int64, "group": pl.Int64, "pairs": pl.Int64, "first": pl.Int64, "last": pl.Int64,
}
FIGURES = ("pairs_in_window", "pairs_formed", "pairs_capped", "targets_capped", "partitions")
#: Threads reducing pair chunks at once.
CHUNK_WORKERS = THREADS
#: About this many reduced rows per slice when a partition's chunks are merged: a slice is
#: merged with about three copies of its rows alive, so a giant target (tens of millions of
#: pairs in one partition) is merged, and with a ``sink`` handed on, a slice at a time.
MERGE_SLICE_ROWS = 4_000_000

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class PartShares:
    """One partition of a type's shares as ``coact_codes`` reads them: sorted by (group, time),
    codes global to the run (``group`` of the type, ``account`` of every type), nothing else,
    so that a task carries only these arrays.

    ``pair_slice`` of ``pair_slices``: only the pairs of accounts ``a, b`` with ``(a + b) %
    pair_slices == pair_slice`` are kept (``pair_slices`` tasks of one partition keep disjoint
    account pairs, so every per-pair sum is still made in one place)."""

    group: np.ndarray
    account: np.ndarray
    time: np.ndarray
    kind: np.ndarray
    n_accounts: int
    n_kinds: int
    n_groups: int
    pair_slice: int = 0
    pair_slices: int = 1

    def __len__(self) -> int:
        return self.group.size



class Coded:
    """Share events sorted by (type, target, time) with integer codes: what pairing works on.

    ``group``: a dense code of (type, target), ordered by type first, so a type's groups
    are one contiguous range; ``account``: a dense code of ``account_id`` in string
    order, so ``min``/``max`` of two codes give ``account_a < account_b`` as strings do.
    The strings are kept once each (``group_target``, ``accounts``, indexed by code) and
    joined back only on small results; of the shares only the record ids are kept, and
    ``rows`` rebuilds the share rows (the evidence rows) by sorted position.
    ``shares``' ``account_id`` may already be codes into ``accounts`` and ``id`` codes into
    ``ids`` (distinct record ids): the local plan codes them once for every type. With
    ``targets`` (sorted distinct strings; ``accounts`` given too), ``target`` holds codes
    into them: ``co_engage``'s posts, coded once for this and for the attachment.

    ``accounts``: sorted distinct account ids to code against (every share's account must
    be among them), so that several ``Coded`` (one per type) share one account code space;
    by default the shares' own accounts. ``n_kinds``: the number of type codes in the
    ``pair_kind`` keys (default: the largest type code here + 1). Cost: one sort of the
    unique strings and one of the shares, ``O(n log n)``.
    """

    def __init__(
        self,
        shares: pl.DataFrame,
        accounts: pl.Series | None = None,
        n_kinds: int | None = None,
        ids: pl.Series | None = None,
        targets: pl.Series | None = None,
    ) -> None:
        # codes are positions in the sorted unique strings (a binary search each); the two
        # columns are coded on two threads (polars releases the GIL)
        if accounts is None:
            with ThreadPoolExecutor(2) as pool:
                (accounts, account), (targets, target) = pool.map(sorted_codes, (shares["account_id"], shares["target"]))
        else:
            targets, target = (_present_codes(shares["target"].to_numpy(), targets) if targets is not None
                               else sorted_codes(shares["target"]))
            account = (shares["account_id"] if shares["account_id"].dtype.is_integer()
                       else accounts.search_sorted(shares["account_id"])).cast(pl.Int64).to_numpy()
        kind = shares["kind"].to_numpy().astype(np.int64)
        one_kind = bool(kind.size) and kind.min() == kind.max()
        if one_kind:
            # one type: the target codes are already dense group codes in the same order
            group_keys, group = kind[0] * len(targets) + np.arange(len(targets), dtype=np.int64), target
        else:
            group_keys, group = np.unique(kind * len(targets) + target, return_inverse=True)
        group = group.astype(np.int64)
        order = (
            pl.DataFrame({"group": group, "time": shares["time"], "account": account})
            .with_row_index("row")
            .sort("group", "time", "account", "row")["row"]
            .to_numpy()
        )
        # of the share rows only the ids are kept (in sorted order): ``rows`` rebuilds the
        # rest from the codes, so the target and account strings are held once each
        self._id = shares["id"].gather(order)
        #: the strings ``_id`` codes index, or ``None`` when ``_id`` holds the ids themselves
        self.ids = ids
        self.group = group[order]
        self.account = account[order]
        self.time = shares["time"].to_numpy()[order]
        # one type: one read-only value for every share instead of a column of copies
        self.kind = np.broadcast_to(kind[:1], kind.shape) if one_kind else kind[order]
        del group, account, kind, order
        self.n_groups = len(group_keys)
        self.group_kind = group_keys // max(len(targets), 1)
        self.group_target = targets.gather(group_keys % max(len(targets), 1))
        self.accounts = accounts
        self.n_accounts = len(accounts)
        self.n_kinds = n_kinds or (int(self.group_kind.max()) + 1 if self.n_groups else 1)

    #: a whole type is paired as one slice (``PartShares``)
    pair_slice = 0
    pair_slices = 1

    def __len__(self) -> int:
        return self.group.size

    def part(self, start: int, stop: int, pair_slice: int = 0, pair_slices: int = 1) -> PartShares:
        """The arrays of the shares at sorted positions ``start:stop`` (views, no copy), with the
        same codes: one partition of the targets when the cuts fall on target boundaries
        (``pair_slice`` of ``pair_slices``: see ``PartShares``)."""
        return PartShares(self.group[start:stop], self.account[start:stop], self.time[start:stop],
                          self.kind[start:stop], self.n_accounts, self.n_kinds, self.n_groups, pair_slice,
                          pair_slices)

    def rows(self, positions: np.ndarray) -> pl.DataFrame:
        """The share rows (``SHARE_COLUMNS``) at ``positions`` of the sorted order."""
        return pl.DataFrame(
            {
                "kind": self.kind[positions],
                "target": self.group_target.gather(self.group[positions]),
                "account_id": self.accounts.gather(self.account[positions]),
                "id": self._id.gather(positions) if self.ids is None else self.ids.gather(self._id.gather(positions)),
                "time": self.time[positions],
            }
        ).cast(SHARE_COLUMNS)

    def split_pair_kind(self, pair_kind: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(a, b, kind)`` of ``pair_kind = (a * n_accounts + b) * n_kinds + kind`` keys."""
        pair, kind = np.divmod(pair_kind, self.n_kinds)
        a, b = np.divmod(pair, self.n_accounts)
        return a, b, kind

    def subset(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(group, account, time, kind) of some rows (still sorted when ``rows`` is)."""
        return self.group[rows], self.account[rows], self.time[rows], self.kind[rows]


def _present_codes(codes: np.ndarray, strings: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """``sorted_codes`` of ``strings.gather(codes)`` (``strings`` sorted and distinct), from the
    codes: the strings present, in order, and each code renumbered among them. ``O(n + d)``."""
    present = np.zeros(len(strings), dtype=bool)
    present[codes] = True
    return strings.filter(pl.Series(present)), (np.cumsum(present, dtype=np.int64) - 1)[codes]


@dataclass
class CodedPairs:
    """``coact_codes``'s result, all in integer codes of a ``Coded``.

    ``pairs``: one row per (group, account_a, account_b) with ``a < b`` codes: ``group``,
    ``a``, ``b``, ``pairs`` (co-share pairs), ``first``, ``last`` (µs);
    ``share_counts``: one row per (group, account): ``group``, ``account``, ``n`` (shares),
    ``n_in_pair`` (shares in at least one co-share pair: CooRTweet's participation);
    ``None`` for one slice of a partition paired in several (``PartShares``): the caller
    counts them once the slices' ``in_pair`` are joined (``count_shares``);
    ``chance``: the null model's ``q_t`` per group code (NaN without a null model);
    ``figures``: ``FIGURES``; ``in_pair``: per share row of the ``Coded`` (its order),
    whether it is in at least one co-share pair formed (of the slice's pairs).
    """

    pairs: pl.DataFrame
    share_counts: pl.DataFrame | None
    chance: np.ndarray
    figures: dict[str, int]
    in_pair: np.ndarray


def coact_codes(
    s: Coded,
    window_us: np.ndarray,
    max_pairs_per_share: int | None,
    jitter: float | None,
    ends: np.ndarray | None = None,
    sink: Callable[[pl.DataFrame], None] | None = None,
) -> CodedPairs:
    """Co-share pairs aggregated per (target, account pair), share counts and ``q_t``, in codes.

    Pairs are formed in chunks (``pairs.iter_pair_runs``, ``_pair_rows``); each chunk is sorted on one int64
    key (account pair, type, target) and reduced to one row per key before the next is
    formed, so memory grows with the distinct (target, account pair) rows, not with the
    pairs formed, and the result comes sorted for ``reduce.py``. ``O(n log m + P log P)``.
    ``s`` may be one partition of a type's shares (``Coded.part``); ``jitter=None`` leaves
    ``chance`` NaN (the caller then has the type's, ``pairs.target_chances``). ``ends``:
    the shares' ``window_ends`` when the caller has them. ``sink``: called with the
    reduced rows slice by slice (consecutive ranges of the key, in order, about
    ``MERGE_SLICE_ROWS`` each) instead of returning them whole (``pairs`` is then empty),
    so a giant target's rows are never all merged at once.
    """
    windows = window_us[s.kind]
    if ends is None:
        ends = window_ends(s.group, s.time, windows)
    partners = ends - np.arange(1, len(ends) + 1, dtype=np.int64)
    in_pair = np.zeros(len(ends), dtype=bool)
    n_acc, n_kinds = s.n_accounts, s.n_kinds
    pair_slice, pair_slices = s.pair_slice, s.pair_slices

    def reduce_chunk(run: tuple[np.ndarray, np.ndarray]) -> tuple[int, tuple[np.ndarray, ...]]:
        pair_kind, group, first, last = _pair_rows(*run, s.account, s.kind, s.group, s.time, n_acc, n_kinds,
                                                   in_pair, pair_slice, pair_slices)
        return pair_kind.size, _reduce_chunk(pair_kind, group, first, last, s.n_groups)

    # Chunks are reduced by CHUNK_WORKERS threads: the sorts and numpy passes release the
    # GIL, so two cores work at once; at most CHUNK_WORKERS + 1 chunks are alive at a time.
    parts = []
    formed = 0
    for n_formed, part in map_ahead(reduce_chunk, iter_pair_runs(ends, max_pairs_per_share), CHUNK_WORKERS):
        formed += n_formed
        parts.append(part)
    slices = []
    for merged in _merge_parts(parts, s.n_groups, CHUNK_WORKERS):
        rows = pl.DataFrame(dict(zip(CODED_PAIR_SCHEMA, merged, strict=True)))
        del merged
        if sink is None:
            slices.append(rows)
        else:
            sink(rows.cast(CODED_PAIR_SCHEMA))
        del rows
    pairs = pl.concat(slices) if slices else pl.DataFrame(schema=CODED_PAIR_SCHEMA)
    del slices

    if jitter is None:
        chance = np.full(s.n_groups, np.nan)
    else:
        chance = target_chances(s.group, s.time, np.round(windows * jitter).astype(np.int64), s.n_groups, jitter)
    del ends
    # one slice of several knows only its own pairs: the caller counts the shares over the slices
    share_counts = count_shares(s, in_pair) if pair_slices == 1 else None
    capped = (np.maximum(partners - max_pairs_per_share, 0) if max_pairs_per_share is not None
              else np.zeros(len(partners), np.int64))
    # the partition's own figures are counted by its first slice alone
    whole = pair_slice == 0
    figures = {
        "pairs_in_window": int(partners.sum()) if whole else 0,
        "pairs_formed": int(formed),
        "pairs_capped": int(capped.sum()) if whole else 0,
        "targets_capped": int(sorted_unique(s.group[capped > 0]).size) if whole else 0,
        "partitions": int(whole),
    }
    return CodedPairs(pairs.cast(CODED_PAIR_SCHEMA), share_counts, chance, figures, in_pair)


@numba.njit(nogil=True, cache=True)
def _pair_rows(shares: np.ndarray, partners: np.ndarray, account: np.ndarray, kind: np.ndarray, group: np.ndarray,
               time: np.ndarray, n_accounts: int, n_kinds: int, in_pair: np.ndarray, pair_slice: int = 0,
               pair_slices: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One chunk's co-share pairs (``pairs.iter_pair_runs``: share ``shares[k]`` with its next
    ``partners[k]`` shares) of two different accounts, formed in one pass: per pair its
    ``pair_kind = (min * n + max) * kinds + kind`` of the two account codes, the target
    group and the two times; marks both shares in ``in_pair`` (two threads may mark the same
    share: both write True). Each pair is written once, in the order of the runs. Only the
    pairs with ``(a + b) % pair_slices == pair_slice`` are kept (``PartShares``).
    """
    total = 0
    for k in range(partners.size):
        total += partners[k]
    pair_kind = np.empty(total, np.int64)
    groups = np.empty(total, np.int64)
    first = np.empty(total, np.int64)
    last = np.empty(total, np.int64)
    n = 0
    for k in range(shares.size):
        i = shares[k]
        a = np.int64(account[i])
        for j in range(i + 1, i + 1 + partners[k]):
            b = np.int64(account[j])
            # different accounts only: an account reposting a post twice is no co-action
            if a == b or (a + b) % pair_slices != pair_slice:
                continue
            in_pair[i] = True
            in_pair[j] = True
            pair_kind[n] = (min(a, b) * n_accounts + max(a, b)) * n_kinds + kind[i]
            groups[n] = group[i]
            first[n] = time[i]
            last[n] = time[j]
            n += 1
    return pair_kind[:n], groups[:n], first[:n], last[:n]


def count_shares(s: Coded, in_pair: np.ndarray) -> pl.DataFrame:
    """Per (group, account), sorted: ``n`` shares and ``n_in_pair`` of them in a pair.

    One sort of an int64 key and ``bincount``s: a polars group_by of the same rows holds
    its whole hash table at once, gigabytes at scale.
    """
    key = s.group * np.int64(s.n_accounts) + s.account
    if key.size == 0:
        return pl.DataFrame(schema={"group": pl.Int64, "account": pl.Int64, "n": pl.Int64, "n_in_pair": pl.Int64})
    # polars' sort on every core, faster than np.unique's single-threaded one
    order = stable_argsort(key)
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    group, account = np.divmod(key[starts], np.int64(max(s.n_accounts, 1)))
    return pl.DataFrame({
        "group": group, "account": account,
        "n": np.diff(np.r_[starts, key.size]).astype(np.int64),
        "n_in_pair": np.add.reduceat(in_pair[order].astype(np.int64), starts),
    })


def partition_bounds(group: np.ndarray, wanted: np.ndarray, pair_budget: int | None) -> np.ndarray:
    """Positions cutting shares sorted by (group, time) into partitions of whole targets of at
    most ``pair_budget`` pairs and shares each: ``[0, ..., n]``.

    ``wanted[i]``: the pairs share ``i`` forms (its in-window partners under the cap). A share
    counts as one more: pairing holds about as much per share event (its codes, window end,
    counts) as per pair formed, so a run of targets with one sharer each, which forms no pair,
    still has a bounded partition. Targets are taken in order while they fit the budget, so a
    target is never split across partitions (its share counts and chance are made in one
    place) and a target heavier than the budget is a partition of its own, paired in slices
    (``pair_slices``). ``pair_budget=None``: one partition. ``O(n)``.
    """
    n = len(group)
    if pair_budget is None or n == 0:
        return np.array([0, n], dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    target_cost = np.add.reduceat(_costs(wanted), starts)
    return np.r_[starts[_fitting_cuts(target_cost, pair_budget)], n].astype(np.int64)


def _costs(wanted: np.ndarray) -> np.ndarray:
    """What each share weighs in a partition: the pairs it forms and itself."""
    return wanted + 1


@numba.njit(cache=True)
def _fitting_cuts(cost: np.ndarray, budget: int) -> np.ndarray:
    """Indices of the items starting each run of consecutive items whose costs add up to at most
    ``budget`` (an item over it alone), taken greedily in order; the first is 0."""
    cuts = np.empty(cost.size, np.int64)
    n_cuts, total = 0, 0
    for i in range(cost.size):
        if i == 0 or (total > 0 and total + cost[i] > budget):
            cuts[n_cuts] = i
            n_cuts += 1
            total = 0
        total += cost[i]
    return cuts[:n_cuts]


def pair_slices(wanted: np.ndarray, pair_budget: int | None) -> int:
    """Into how many tasks one partition's pairing is cut (``PartShares.pair_slice``) so each
    keeps about ``pair_budget`` pairs: 1 unless the partition, with its shares (``wanted``:
    the pairs each forms), is heavier than the budget, as a target with hundreds of
    thousands of sharers is. Each task forms every pair again and keeps its part, so the
    pairing's memory is bounded at the cost of forming a giant target's pairs more than once.
    """
    if pair_budget is None:
        return 1
    cost = int(_costs(wanted).sum())
    return max(1, -(-cost // pair_budget))


def map_ahead(function: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``map(function, items)`` on ``workers`` threads, in order, with at most ``workers``
    items taken from ``items`` ahead of the consumer (``Executor.map`` would take them all)."""
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            if len(pending) == workers:
                yield pending.popleft().result()
            pending.append(pool.submit(function, item))
        while pending:
            yield pending.popleft().result()


def _merge_parts(parts: list[tuple[np.ndarray, ...]], n_groups: int, workers: int) -> Iterator[tuple[np.ndarray, ...]]:
    """Merge reduced chunks (each sorted by (pair_kind, group)) into one reduced result, yielded
    as slices: consecutive ranges of the key, in order, each reduced and sorted. Empties
    ``parts`` (the caller's list) once every slice is merged, so they are not held beside
    what the caller keeps.

    A target that straddles chunks leaves rows of one key in two of them, so the chunks are
    merged and summed once more. The key range is cut at quantiles of ``pair_kind`` into at
    least ``workers`` slices of about ``MERGE_SLICE_ROWS`` rows; a key lies wholly in one
    slice, so each slice is merged on its own (``_reduce_runs``: a stable sort finds the
    chunks' sorted runs), ``workers`` at a time on threads, and the slices, in order, are
    the sorted whole.
    """
    if not parts:
        return
    largest = max(parts, key=lambda part: part[0].size)[0]
    if largest.size == 0:
        yield tuple(np.concatenate(column) for column in zip(*parts, strict=True))
        parts.clear()
        return
    n_slices = max(workers, -(-sum(part[0].size for part in parts) // MERGE_SLICE_ROWS))
    cuts = np.unique(np.quantile(largest, np.arange(1, n_slices) / n_slices, method="lower").astype(np.int64))
    bounds = [np.searchsorted(part[0], cuts) for part in parts]

    def merge_slice(k: int) -> tuple[np.ndarray, ...]:
        pieces = []
        for part, bound in zip(parts, bounds, strict=True):
            lo = bound[k - 1] if k else 0
            hi = bound[k] if k < len(bound) else part[0].size
            pieces.append([column[lo:hi] for column in part])
        merged = [np.concatenate(column) for column in zip(*pieces, strict=True)]
        del pieces
        return _reduce_runs(*merged, n_groups)

    yield from map_ahead(merge_slice, range(cuts.size + 1), workers)
    parts.clear()


def _reduce_chunk(
    pair_kind: np.ndarray, group: np.ndarray, first: np.ndarray, last: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One chunk's pairs (one co-share pair per row) -> ``_reduce_runs``' rows: one per
    (pair_kind, group), sorted, with their pair counts and first/last.

    A polars sort, which uses every core (numpy's argsort uses one and took about twice as
    long on 8.7M keys), then one compiled pass over the sorted keys (``_key_runs``). Equal
    keys may come in any order, so a key's ``first`` is the minimum of its rows. Falls back
    to ``_reduce_runs`` when the int64 key would overflow.
    """
    if pair_kind.size == 0 or int(pair_kind.max()) >= (2**63 - 1) // max(n_groups, 1):
        return _reduce_runs(pair_kind, group, np.ones(pair_kind.size, np.int64), first, last, n_groups)
    rows = pl.DataFrame({"key": pair_kind * n_groups + group, "first": first, "last": last}).sort("key")
    key = rows["key"].to_numpy()
    first, last = rows["first"].to_numpy(), rows["last"].to_numpy()
    del rows
    out = tuple(np.empty(key.size, np.int64) for _ in range(5))
    n = _key_runs(key, n_groups, first, last, *out)
    return tuple(column[:n] for column in out)


@numba.njit(nogil=True, cache=True)
def _key_runs(key, n_groups, first, last, out_pair_kind, out_group, out_count, out_first, out_last):
    """``_reduce_chunk``'s pass over sorted ``key = pair_kind * n_groups + group``: one row per
    run of equal keys, its length and its rows' min ``first`` and max ``last``. Returns the rows."""
    n = 0
    i = 0
    while i < key.size:
        k, f, la, start = key[i], first[i], last[i], i
        i += 1
        while i < key.size and key[i] == k:
            f = min(f, first[i])
            la = max(la, last[i])
            i += 1
        out_pair_kind[n], out_group[n] = k // n_groups, k % n_groups
        out_count[n], out_first[n], out_last[n] = i - start, f, la
        n += 1
    return n


def _reduce_runs(
    pair_kind: np.ndarray, group: np.ndarray, count: np.ndarray, first: np.ndarray, last: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by (pair_kind, group), one per distinct key, with summed counts and first/last.

    A stable sort on one int64 key ``pair_kind * n_groups + group`` when it fits, else on
    the two keys; it merges the already sorted chunks (``_merge_parts``) by finding their
    runs, and is ``_reduce_chunk``'s fallback when the key would overflow int64. Then one
    compiled pass (``_ordered_runs``) reads the rows in that order and sums each run.
    """
    if pair_kind.size == 0:
        return pair_kind, group, count, first, last
    if int(pair_kind.max()) < (2**63 - 1) // max(n_groups, 1):
        order = stable_argsort(pair_kind * n_groups + group)
    else:
        order = np.lexsort((group, pair_kind))
    out = tuple(np.empty(order.size, np.int64) for _ in range(5))
    n = _ordered_runs(order, pair_kind, group, count, first, last, *out)
    return tuple(column[:n] for column in out)


@numba.njit(nogil=True, cache=True)
def _ordered_runs(order, pair_kind, group, count, first, last,
                  out_pair_kind, out_group, out_count, out_first, out_last):
    """``_reduce_runs``' pass: the rows taken in ``order``, one row per run of equal
    (pair_kind, group) with its counts summed and min ``first``, max ``last``. Returns the rows."""
    n = 0
    i = 0
    while i < order.size:
        at = order[i]
        p, g, c, f, la = pair_kind[at], group[at], count[at], first[at], last[at]
        i += 1
        while i < order.size:
            at = order[i]
            if pair_kind[at] != p or group[at] != g:
                break
            c += count[at]
            f = min(f, first[at])
            la = max(la, last[at])
            i += 1
        out_pair_kind[n], out_group[n], out_count[n], out_first[n], out_last[n] = p, g, c, f, la
        n += 1
    return n


def coded_pair_actions(
    s: Coded,
    kept: pl.DataFrame,
    window_us: np.ndarray,
    max_pairs_per_share: int | None,
) -> pl.DataFrame:
    """The shares of a kept (type, account pair) that form a co-share pair of it (the evidence
    behind edges), with ``kept`` in the shares' account codes
    (``kind``, ``account_a``, ``account_b``, ``a < b``): the shares of accounts in a kept
    pair of their type are re-paired (the cap counts among them only) and those in a kept
    pair returned.

    The kept pairs become, per (type, account), the sorted list of its kept partners (a CSR
    layout, each pair in both accounts' lists); a compiled kernel (``_kept_pair_hits``, on
    ``CHUNK_WORKERS`` threads) walks every in-window pair of the re-paired shares once and
    looks the later share's account up in the earlier share's account's list by binary
    search: no pair is written out, sorted or hashed.
    ``O(n log n + K log K + P log k)`` for ``P`` pairs walked, ``K`` kept pairs and lists of
    at most ``k`` partners.
    """
    n_acc = s.n_accounts
    if kept.height == 0 or s.group.size == 0:
        return pl.DataFrame(schema=SHARE_COLUMNS)
    kind = kept["kind"].to_numpy().astype(np.int64)
    a, b = kept["account_a"].to_numpy().astype(np.int64), kept["account_b"].to_numpy().astype(np.int64)
    n_blocks = (int(max(kind.max(), s.kind.max())) + 1) * n_acc
    # both directions: a share's own account's list is searched for every partner it meets,
    # so one list stays in cache through a share's whole window
    keys = pl.Series(np.r_[(kind * n_acc + a) * n_acc + b, (kind * n_acc + b) * n_acc + a]).sort().to_numpy()
    del kind, a, b
    block, partners = np.divmod(keys, n_acc)
    del keys
    counts = np.bincount(block, minlength=n_blocks)
    del block
    block_start = np.r_[0, np.cumsum(counts)]
    rows = np.flatnonzero(counts[s.kind * n_acc + s.account] > 0)
    del counts
    if rows.size == 0:
        return pl.DataFrame(schema=SHARE_COLUMNS)
    group, account, time, share_kind = s.subset(rows)
    ends = window_ends(group, time, window_us[share_kind])
    if max_pairs_per_share is not None:
        np.minimum(ends, np.arange(1, ends.size + 1) + max_pairs_per_share, out=ends)
    share_kind = share_kind.astype(np.int64)
    hit = np.zeros(rows.size, dtype=bool)
    # ranges of shares with about as many pairs each; two may mark a share: both write True
    walked = np.cumsum(ends - np.arange(1, ends.size + 1))
    cuts = np.r_[0, np.searchsorted(walked, walked[-1] * np.arange(1, CHUNK_WORKERS) / CHUNK_WORKERS), ends.size]
    with ThreadPoolExecutor(CHUNK_WORKERS) as pool:
        list(pool.map(lambda lo, hi: _kept_pair_hits(lo, hi, ends, account, share_kind, block_start, partners,
                                                     n_acc, hit), cuts[:-1], cuts[1:]))
    return s.rows(rows[hit])


@numba.njit(nogil=True, cache=True)
def _kept_pair_hits(first: int, last: int, ends: np.ndarray, account: np.ndarray, kind: np.ndarray,
                    block_start: np.ndarray, partners: np.ndarray, n_accounts: int, hit: np.ndarray) -> None:
    """Marks in ``hit`` both shares of every pair ``(i, j)``, ``first <= i < last``,
    ``i < j < ends[i]``, whose accounts differ and are kept partners: ``account[j]`` is in the
    sorted ``partners`` of block ``kind[i] * n_accounts + account[i]`` (from ``block_start``)."""
    for i in range(first, last):
        a = account[i]
        block = kind[i] * n_accounts + a
        lo_i, hi_i = block_start[block], block_start[block + 1]
        for j in range(i + 1, ends[i]):
            b = account[j]
            # both already marked: the search could change nothing
            if a == b or (hit[i] and hit[j]):
                continue
            left, right = lo_i, hi_i
            while left < right:
                mid = (left + right) >> 1
                if partners[mid] < b:
                    left = mid + 1
                else:
                    right = mid
            if left < hi_i and partners[left] == b:
                hit[i] = True
                hit[j] = True


def merge_figures(figures: list[dict[str, Any]]) -> dict[str, int]:
    """Sum the partitions' (or the types') figures."""
    return {k: int(sum(f[k] for f in figures)) for k in FIGURES}
