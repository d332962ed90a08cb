"""Per-pair partial sums spread over partitions of targets, gathered pair by pair.

What it computes
    Each partition of targets gives, per (account pair, type), its partial sums
    (``reduce.PerType``: weight, targets, first/last, ``met_chance``); one pair's sums are
    spread over every partition where it met. ``PairSpill`` cuts each partial result
    into ``n_buckets`` ranges of the pair's first account and appends every piece to its
    bucket; ``bucket_pieces()`` then yields, bucket after bucket, the bucket's pieces, to
    be added up per (account pair, type) (``reduce.reduce_pieces``, ``engine.reduce_bucket``). A pair lies wholly in one bucket and the
    buckets follow the key order, so their results, one after the other, are the whole
    result, sorted. This is the second hash partitioning of a distributed group-by (by
    the pair, after the one by target), with ranges for hashes so that no sort is needed
    across buckets.

Where the buckets live
    With one bucket, in memory (small inputs: nothing is written). With more, each is an
    Arrow IPC file in a temporary directory the spill creates (under ``TMPDIR``) and
    deletes on ``close()``; only one bucket is read back at a time, so memory is bounded
    by the largest bucket, not by the pairs.

Cost
    ``O(R)`` written and read for ``R`` partial rows, ``O((R/B) log(R/B))`` per bucket.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from rallypoint.detectors.coaction.reduce import PerType

__all__ = ["BUCKETS_PER_BUDGET", "PairSpill", "bucket_cuts"]

#: Buckets per budget's worth of pairs: a bucket is added up with about three copies of its
#: rows alive (the pieces, their concatenation, the sorted copy), so a bucket of a quarter of
#: a partition's pairs stays under a partition's own peak.
BUCKETS_PER_BUDGET = 4

#: The columns of a spilled ``PerType`` piece.
_SCHEMA = pa.schema([("pair_kind", pa.int64()), ("weight", pa.int64()), ("n_shared", pa.int64()),
                     ("first", pa.int64()), ("last", pa.int64()), ("met_chance", pa.float64())])


def bucket_cuts(n_buckets: int, n_accounts: int, n_kinds: int) -> np.ndarray:
    """``pair_kind`` keys where buckets 1..n_buckets-1 begin: cuts on the first account ``a``.

    Account ``a`` is the smaller code of its pairs, so about ``n - a`` pairs start at ``a``:
    cuts at ``a_k = n (1 - sqrt(1 - k / B))`` give buckets of about equal pairs when pairs
    fall evenly. ``(a * n + b) * kinds + kind`` grows with ``a``, so a cut on ``a`` is a cut
    on the key.
    """
    k = np.arange(1, n_buckets, dtype=np.float64)
    first = np.unique(np.floor(n_accounts * (1.0 - np.sqrt(1.0 - k / n_buckets))).astype(np.int64))
    return first * np.int64(n_accounts) * np.int64(n_kinds)


class PairSpill:
    """Buckets of partial per-pair sums, by ranges of the first account; see the module docstring."""

    def __init__(self, n_buckets: int, n_accounts: int, n_kinds: int) -> None:
        self.cuts = bucket_cuts(max(n_buckets, 1), max(n_accounts, 1), n_kinds)
        self.memory: list[list[PerType]] | None = [[]] if self.cuts.size == 0 else None
        self.directory: Path | None = None
        self.writers: dict[int, tuple[pa.NativeFile, pa.ipc.RecordBatchFileWriter]] = {}
        self.rows_written = 0
        if self.memory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="rallypoint-pairs-"))

    @property
    def n_buckets(self) -> int:
        return self.cuts.size + 1

    def add(self, part: PerType) -> None:
        """Append one partition's sums (sorted by ``pair_kind``) to their buckets."""
        if len(part) == 0:
            return
        if self.memory is not None:
            self.memory[0].append(part)
            return
        bounds = np.r_[0, np.searchsorted(part.pair_kind, self.cuts), len(part)]
        for bucket, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            if hi > lo:
                self._writer(bucket).write_batch(pa.record_batch(
                    [part.pair_kind[lo:hi], part.weight[lo:hi], part.n_shared[lo:hi], part.first[lo:hi],
                     part.last[lo:hi], part.met_chance[lo:hi]], schema=_SCHEMA))
                self.rows_written += int(hi - lo)

    def _writer(self, bucket: int) -> pa.ipc.RecordBatchFileWriter:
        if bucket not in self.writers:
            sink = pa.OSFile(str(self._path(bucket)), "wb")
            self.writers[bucket] = (sink, pa.ipc.new_file(sink, _SCHEMA))
        return self.writers[bucket][1]

    def _path(self, bucket: int) -> Path:
        assert self.directory is not None
        return self.directory / f"bucket-{bucket:05d}.arrow"

    def bucket_pieces(self) -> Iterator[list[PerType]]:
        """Each bucket's pieces (each sorted by key; ``reduce.reduce_pieces`` adds them up), bucket
        after bucket in key order; a bucket's file is deleted once read."""
        if self.memory is not None:
            parts, self.memory = self.memory[0], None
            yield parts
            return
        written = sorted(self.writers)
        self._close_writers()
        for bucket in written:
            path = self._path(bucket)
            # mapped, not read: a read copies every page out of the page cache, which cost here
            # several times what mapping it does (benchmarks/RESULTS.md); the pieces' arrays keep
            # the mapping alive after the file is closed and deleted, until they are added up
            with pa.memory_map(str(path), "r") as source:
                reader = pa.ipc.open_file(source)
                # one piece per batch (each sorted)
                pieces = [PerType(*(batch.column(k).to_numpy() for k in range(len(_SCHEMA))))
                          for batch in (reader.get_batch(i) for i in range(reader.num_record_batches))]
            path.unlink()
            yield pieces

    def _close_writers(self) -> None:
        for sink, writer in self.writers.values():
            with contextlib.suppress(OSError, pa.ArrowInvalid):
                writer.close()
            sink.close()
        self.writers = {}

    def close(self) -> None:
        """Delete the spill's files (idempotent; also after an error)."""
        self._close_writers()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
