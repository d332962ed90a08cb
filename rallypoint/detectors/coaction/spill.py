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
    With one bucket, in memory (small inputs: nothing is written). With more, each is a file
    in a temporary directory the spill creates (under ``TMPDIR``) and deletes on ``close()``;
    only one bucket is read back at a time, so memory is bounded by the largest bucket, not
    by the pairs. A piece is its six columns one after the other, each padded to
    ``ALIGNMENT`` bytes, at an offset the spill keeps; its rows and dtypes are the spill's.

Why direct I/O
    The files are written and read with ``O_DIRECT`` where the file system takes it (else
    through the page cache, the same layout): written once and read once, they gain nothing
    from the page cache, and on a virtual machine whose host takes back the guest's free
    memory every page of cache is a page the host must supply again, which cost more system
    time than the writes themselves (benchmarks/RESULTS.md). A bucket is read into one
    array of the process's heap, which the next bucket's reuses.

Cost
    ``O(R)`` written and read for ``R`` partial rows, ``O((R/B) log(R/B))`` per bucket.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rallypoint.detectors.coaction.reduce import PerType

__all__ = ["ALIGNMENT", "BUCKETS_PER_BUDGET", "PairSpill", "bucket_cuts"]

#: Buckets per budget's worth of pairs: a bucket is added up with about three copies of its
#: rows alive (the pieces, their concatenation, the sorted copy), so a bucket of a quarter of
#: a partition's pairs stays under a partition's own peak.
BUCKETS_PER_BUDGET = 4

#: Offsets, lengths and buffer addresses of direct I/O are multiples of this (a page, and a
#: multiple of every block device's logical block size).
ALIGNMENT = 4096
#: Parts given to ``PairSpill.add`` and not yet written, at most (each is held until written).
WRITES_AHEAD = 1
#: The dtypes of a spilled ``PerType`` piece's columns, in ``PerType``'s order.
_DTYPES = (np.int64, np.int64, np.int64, np.int64, np.int64, np.float64)
#: Bytes per value of every column.
_ITEM = 8
#: Bytes read per system call (Linux moves at most about 2 GiB per call).
_READ_CHUNK = 1 << 30


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
        self.files: dict[int, _BucketFile] = {}
        self._rows_written = 0
        self.writer: ThreadPoolExecutor | None = None
        self.writing: deque[Future] = deque()
        if self.memory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="rallypoint-pairs-"))
            self.writer = ThreadPoolExecutor(1, thread_name_prefix="spill")

    @property
    def rows_written(self) -> int:
        """The rows of every part given so far, once written."""
        self._written()
        return self._rows_written

    @property
    def n_buckets(self) -> int:
        return self.cuts.size + 1

    def add(self, part: PerType) -> None:
        """Append one partition's sums (sorted by ``pair_kind``) to their buckets: written by a
        thread of the spill's own, in the order given, while the caller goes on pairing (a
        write is a copy and the disk's time, both without the GIL); at most
        ``WRITES_AHEAD`` parts wait to be written."""
        if len(part) == 0:
            return
        if self.memory is not None:
            self.memory[0].append(part)
            return
        while len(self.writing) >= WRITES_AHEAD:
            self.writing.popleft().result()
        self.writing.append(self.writer.submit(self._write, part))

    def _write(self, part: PerType) -> None:
        bounds = np.r_[0, np.searchsorted(part.pair_kind, self.cuts), len(part)]
        columns = part.columns()
        for bucket, (lo, hi) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)):
            if hi > lo:
                if bucket not in self.files:
                    self.files[bucket] = _BucketFile(_open_direct(self._path(bucket)))
                self.files[bucket].append([column[lo:hi] for column in columns])
                self._rows_written += hi - lo

    def _path(self, bucket: int) -> Path:
        assert self.directory is not None
        return self.directory / f"bucket-{bucket:05d}.pairs"

    def bucket_pieces(self) -> Iterator[list[PerType]]:
        """Each bucket's pieces (each sorted by key; ``reduce.reduce_pieces`` adds them up), bucket
        after bucket in key order; a bucket's file is deleted once read."""
        if self.memory is not None:
            parts, self.memory = self.memory[0], None
            yield parts
            return
        self._written()
        for bucket in sorted(self.files):
            file = self.files.pop(bucket)
            try:
                data = file.read(self._path(bucket))
            finally:
                os.close(file.fd)
            self._path(bucket).unlink()
            # views of ``data``: it lives until the bucket's pieces are added up
            yield [PerType(*(np.frombuffer(data, dtype, rows, offset + k * _padded(rows * _ITEM))
                             for k, dtype in enumerate(_DTYPES)))
                   for offset, rows in file.pieces]

    def _written(self) -> None:
        """Wait for every part given to be written (a failed write is raised here)."""
        while self.writing:
            self.writing.popleft().result()

    def close(self) -> None:
        """Delete the spill's files (idempotent; also after an error)."""
        if self.writer is not None:
            for future in self.writing:
                future.cancel()
            self.writer.shutdown(wait=True)
            self.writer = None
            self.writing.clear()
        for file in self.files.values():
            os.close(file.fd)
        self.files = {}
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


@dataclass
class _BucketFile:
    """One bucket's file: its descriptor, its length and its pieces' (offset, rows)."""

    fd: int
    length: int = 0
    pieces: list[tuple[int, int]] = field(default_factory=list)

    def append(self, columns: list[np.ndarray]) -> None:
        """A piece's columns, each padded to ``ALIGNMENT``, written at the file's end."""
        rows = columns[0].size
        block = _padded(rows * _ITEM)
        staged = _aligned(block * len(columns))
        for k, column in enumerate(columns):
            staged[k * block:k * block + rows * _ITEM] = column.view(np.uint8)
        written = 0
        while written < staged.size:
            written += os.pwrite(self.fd, staged[written:], self.length + written)
        self.pieces.append((self.length, rows))
        self.length += staged.size

    def read(self, path: Path) -> np.ndarray:
        """The whole file, in one aligned array."""
        data = _aligned(self.length)
        os.lseek(self.fd, 0, os.SEEK_SET)
        read = 0
        while read < self.length:
            read += os.readv(self.fd, [data[read:read + _READ_CHUNK]]) or _short_read(path)
        return data


def _padded(n_bytes: int) -> int:
    return -(-n_bytes // ALIGNMENT) * ALIGNMENT


def _aligned(n_bytes: int) -> np.ndarray:
    """``n_bytes`` (a multiple of ``ALIGNMENT``) of the heap at an address direct I/O takes."""
    raw = np.empty(n_bytes + ALIGNMENT, np.uint8)
    skip = -raw.ctypes.data % ALIGNMENT
    return raw[skip:skip + n_bytes]


def _open_direct(path: Path) -> int:
    """A new file for reading and writing, with ``O_DIRECT`` where the system and the file
    system take it (tmpfs does not, nor macOS): else through the page cache."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
    direct = getattr(os, "O_DIRECT", 0)
    if direct:
        try:
            return os.open(path, flags | direct, 0o600)
        except OSError:
            path.unlink(missing_ok=True)
    return os.open(path, flags, 0o600)


def _short_read(path: Path) -> int:
    raise OSError(f"The spill file {path} ended early: was it truncated or deleted while the run read it?")
