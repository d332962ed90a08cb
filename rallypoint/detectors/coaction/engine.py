"""Where co-action's partitions run: in this process, or as tasks on a Dask ``distributed`` cluster.

What it computes
    The two per-partition functions of the pairing, the same wherever they run:
      * ``pair_partition``: one partition of targets (``PartShares``, integer codes) ->
        its per (account pair, type) sums (``reduce.PerType``), its per (target, account)
        share counts, which of its shares are in a pair, and its figures;
      * ``reduce_bucket``: every partition's sums for one range of account pairs -> the
        range's sums added up, filtered by CooRTweet's participation and, with the null
        model, by the lower bound of ``E_ab`` (most pairs met once and cannot pass).
    (``partition.PartShares``: a partition's arrays alone, what a task carries.)
    ``InProcess`` runs them here and keeps the sums in a ``spill.PairSpill`` (on disk when
    they do not fit); ``OnCluster`` submits them to a ``distributed.Client``: the sums stay
    on the workers (spilled by Dask's worker memory manager, which is told their sizes), are
    cut into ranges there and reduced there; only the surviving candidate rows, the share
    counts and the figures come back. A task is a pure function of its inputs, so a worker lost mid-run
    is replaced by Dask re-running its tasks elsewhere.

Cost
    That of ``partition.coact_codes`` per partition and ``reduce.reduce_pieces`` per bucket;
    on a cluster, plus moving each partition's sums once to the bucket's worker.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import numpy as np
import polars as pl
from dask.sizeof import sizeof

from rallypoint.detectors.coaction.partition import PartShares, coact_codes, map_ahead
from rallypoint.detectors.coaction.reduce import (
    Candidates,
    PerType,
    concatenate,
    per_type_sums,
    reduce_pieces,
)
from rallypoint.detectors.coaction.spill import PairSpill, bucket_cuts
from rallypoint.detectors.options import THREADS

T = TypeVar("T")

#: Buckets reduced and finished at once in this process (on a cluster: finished), each on a
#: thread: a bucket's work is mostly one thread's.
BUCKET_WORKERS = THREADS
#: Bucket tasks given to each worker at once (one running, one fetching its pieces).
BUCKETS_IN_FLIGHT_PER_WORKER = 2
#: Pairing tasks not yet finished, per worker thread: a submitted task's shares wait in the scheduler
#: (in the driver's process on a LocalCluster) until a worker runs it, so submitting every
#: partition at once would hold a copy of all the share events there.
PAIRS_IN_FLIGHT_PER_THREAD = 2
#: A pairing task's memory per pair formed or share event in its partition (its chunks, their
#: merge, its sums and codes; benchmarks/RESULTS.md, "A partition's memory").
TASK_BYTES_PER_PAIR = 125
#: The part of a worker's memory limit one pairing task may take: Dask keeps up to 60 % of it
#: for held results before it spills, and the nanny restarts a worker at 95 %.
TASK_SHARE_OF_WORKER = 0.25

__all__ = ["InProcess", "OnCluster", "pair_partition", "partition_budget", "reduce_bucket",
           "runner_for"]


@dataclass
class PartitionResult:
    sums: PerType
    share_counts: pl.DataFrame
    in_pair: np.ndarray
    figures: dict[str, int]


# A worker spills its results by the size Dask reckons for them; a dataclass of arrays would be
# reckoned a few bytes, never spilled, and the nanny would restart the worker at its limit.
@sizeof.register(PartShares)
@sizeof.register(PerType)
@sizeof.register(PartitionResult)
@sizeof.register(Candidates)
def _sizeof_fields(value: Any) -> int:
    return sum(sizeof(getattr(value, f.name)) for f in fields(value))


@sizeof.register(pl.DataFrame)
def _sizeof_frame(frame: pl.DataFrame) -> int:
    return frame.estimated_size()


def pair_partition(part: PartShares, window_us: np.ndarray, max_pairs_per_share: int | None,
                   chance: np.ndarray, ends: np.ndarray,
                   sink: Callable[[PerType], None] | None = None) -> PartitionResult:
    """Pairs of one partition reduced to per (account pair, type) sums; ``chance``: ``q_t``
    of the type's groups; ``ends``: the partition's ``window_ends``. ``sink``: called with
    the sums slice by slice (in key order) as they are reduced, the result's ``sums`` then
    empty: a giant target's sums are handed on before the next slice is merged."""
    coded = coact_codes(part, window_us, max_pairs_per_share, None, ends=ends,
                        sink=None if sink is None else lambda rows: sink(per_type_sums(rows, chance)))
    return PartitionResult(per_type_sums(coded.pairs, chance), coded.share_counts, coded.in_pair, coded.figures)


def reduce_bucket(pieces: list[PerType], enough: np.ndarray | None, n_accounts: int, n_kinds: int,
                  significance: float | None, loose: float | None = None) -> Candidates:
    """One bucket's pieces added up and filtered (see the module docstring)."""
    return reduce_pieces(list(pieces), enough, n_accounts, n_kinds, significance, loose)


def _pair_sums(part: PartShares, window_us: np.ndarray, max_pairs_per_share: int | None, chance: np.ndarray,
               ends: np.ndarray) -> PartitionResult:
    """``pair_partition`` on a worker: its sums taken slice by slice and put together once
    (the slices are consecutive key ranges), not merged whole as frames and then summed."""
    slices: list[PerType] = []
    result = pair_partition(part, window_us, max_pairs_per_share, chance, ends, sink=slices.append)
    result.sums = concatenate(slices)
    return result


def _value(value: Any) -> Any:
    return value


def _small(result: PartitionResult) -> tuple[pl.DataFrame, np.ndarray, dict[str, int]]:
    return result.share_counts, result.in_pair, result.figures


def _piece(result: PartitionResult, cuts: np.ndarray, bucket: int) -> PerType:
    bounds = np.r_[0, np.searchsorted(result.sums.pair_kind, cuts), len(result.sums)]
    rows = np.arange(int(bounds[bucket]), int(bounds[bucket + 1]))
    # positions, not a slice: a copy, so a piece held by the worker does not keep the whole sums alive
    return result.sums.take(rows)


class InProcess:
    """Partitions paired here, one at a time; their sums in a ``PairSpill``."""

    def __init__(self, n_buckets: int, n_accounts: int, n_kinds: int) -> None:
        self.spill = PairSpill(n_buckets, n_accounts, n_kinds)
        self.n_accounts, self.n_kinds = n_accounts, n_kinds

    def pair(self, part, window_us, max_pairs_per_share, chance, ends) -> tuple[pl.DataFrame, np.ndarray, dict]:
        return _small(pair_partition(part, window_us, max_pairs_per_share, chance, ends, sink=self.spill.add))

    def gather(self, handles: list) -> list:
        return handles

    @property
    def spilled_rows(self) -> int:
        return self.spill.rows_written

    def buckets(self, enough: np.ndarray | None, significance: float | None, loose: float | None = None,
                finish: Callable[[Candidates], T] = _value) -> Iterator[T]:
        """The buckets' results passed through ``finish`` (the caller's ``E_ab`` and p-values),
        in order. A bucket is reduced and finished on one thread, ``BUCKET_WORKERS`` buckets at
        once, the next read meanwhile: a bucket's work is mostly one thread's, so both cores
        stay busy, and at most ``BUCKET_WORKERS + 1`` buckets are alive."""
        def reduce_and_finish(pieces: list[PerType]) -> T:
            # ``reduce_pieces`` empties the list: the bucket's pieces go before its ``finish``
            return finish(reduce_pieces(pieces, enough, self.n_accounts, self.n_kinds, significance, loose))

        yield from map_ahead(reduce_and_finish, self.spill.bucket_pieces(), BUCKET_WORKERS)

    def close(self) -> None:
        self.spill.close()


class OnCluster:
    """Partitions and buckets as tasks of a ``distributed.Client``; sums stay on the workers."""

    def __init__(self, client: Any, n_buckets: int, n_accounts: int, n_kinds: int) -> None:
        self.client = client
        self.cuts = bucket_cuts(max(n_buckets, 1), max(n_accounts, 1), n_kinds)
        self.n_accounts, self.n_kinds = n_accounts, n_kinds
        #: per partition, its sums' piece for each bucket (futures)
        self.pieces: list[list] = []
        self.spilled_rows = 0
        #: pairing tasks submitted and not known to be finished (their small results' futures)
        self.pairing: list = []

    def pair(self, part, window_us, max_pairs_per_share, chance, ends):
        threads = sum(w.get("nthreads") or 1 for w in self.client.scheduler_info()["workers"].values())
        limit = PAIRS_IN_FLIGHT_PER_THREAD * max(threads, 1)
        self.pairing = [f for f in self.pairing if not f.done()]
        while len(self.pairing) >= limit:
            # waits for the oldest to finish without fetching its result (a failure is raised by gather)
            self.pairing.pop(0).exception()
        # pure=False: two partitions with equal arrays are still two tasks
        future = self.client.submit(_pair_sums, part, window_us, max_pairs_per_share, chance, ends, pure=False)
        # cut into the buckets' pieces as soon as the sums exist, where they are still in memory;
        # the whole sums are then released (no name keeps ``future``): cut later, every spilled
        # partition would be read back once per bucket
        self.pieces.append([self.client.submit(_piece, future, self.cuts, bucket, pure=False)
                            for bucket in range(self.cuts.size + 1)])
        small = self.client.submit(_small, future, pure=False)
        self.pairing.append(small)
        return small

    def gather(self, handles: list) -> list:
        return self.client.gather(handles)

    def buckets(self, enough: np.ndarray | None, significance: float | None, loose: float | None = None,
                finish: Callable[[Candidates], T] = _value) -> Iterator[T]:
        """The buckets reduced on the workers, passed through ``finish`` here (``BUCKET_WORKERS``
        at once, each on a thread), in order."""
        yield from map_ahead(finish, self._reduced(enough, significance, loose), BUCKET_WORKERS)

    def _reduced(self, enough: np.ndarray | None, significance: float | None,
                 loose: float | None) -> Iterator[Candidates]:
        # a task, not scattered data: Dask computes it again when the worker holding it is lost
        enough_task = None if enough is None else self.client.submit(_value, enough, pure=False)
        # a few buckets at a time: a worker given every bucket at once fetches their pieces ahead
        # of running them, past its memory limit, and the nanny restarts it
        limit = BUCKETS_IN_FLIGHT_PER_WORKER * max(len(self.client.scheduler_info()["workers"]), 1)
        waiting, in_flight = deque(range(self.cuts.size + 1)), deque()
        while waiting or in_flight:
            while waiting and len(in_flight) < limit:
                bucket = waiting.popleft()
                in_flight.append(self.client.submit(reduce_bucket, [pieces[bucket] for pieces in self.pieces],
                                                    enough_task, self.n_accounts, self.n_kinds, significance, loose,
                                                    pure=False))
                # the bucket's task holds its pieces now: each goes once the bucket is reduced
                for pieces in self.pieces:
                    pieces[bucket] = None
            task = in_flight.popleft()
            result = task.result()
            task.release()
            yield result
        self.pieces = []

    def close(self) -> None:
        for pieces in self.pieces:
            for future in pieces:
                if future is not None:
                    future.release()
        self.pieces = []


def partition_budget(client: Any | None, pair_budget: int | None) -> int | None:
    """The pairs (and shares) per partition: ``pair_budget`` in this process; on a cluster, at
    most what fits ``TASK_SHARE_OF_WORKER`` of the smallest worker's memory limit per thread
    (a worker runs a task on each), so that its pairing tasks never take a worker past its
    limit whatever the budget asked."""
    if client is None:
        return pair_budget
    per_thread = [(w.get("memory_limit") or 0) / max(w.get("nthreads") or 1, 1)
                  for w in client.scheduler_info()["workers"].values()]
    if not per_thread or min(per_thread) <= 0:
        return pair_budget
    fits = max(int(min(per_thread) * TASK_SHARE_OF_WORKER / TASK_BYTES_PER_PAIR), 1)
    return fits if pair_budget is None else min(pair_budget, fits)


def runner_for(client: Any | None, n_buckets: int, n_accounts: int, n_kinds: int) -> InProcess | OnCluster:
    """``OnCluster`` on ``client`` (a ``distributed.Client``), else ``InProcess``."""
    if client is None:
        return InProcess(n_buckets, n_accounts, n_kinds)
    return OnCluster(client, n_buckets, n_accounts, n_kinds)
