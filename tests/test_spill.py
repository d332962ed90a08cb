"""The pair spill: pieces written to bucket files come back whole, in key order, directly or not."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from rallypoint.detectors.coaction import spill as spill_module
from rallypoint.detectors.coaction.reduce import PerType
from rallypoint.detectors.coaction.spill import PairSpill


def _part(rng: np.random.Generator, rows: int, key_range: int) -> PerType:
    keys = np.sort(rng.choice(key_range, rows, replace=False)).astype(np.int64)
    return PerType(keys, *(rng.integers(0, 2**40, rows) for _ in range(4)), rng.random(rows))


@pytest.mark.parametrize("direct", [True, False])
def test_every_piece_comes_back_in_its_bucket_in_key_order(direct, tmp_path, monkeypatch):
    """Pieces of odd sizes (none a multiple of the alignment), several per bucket, read back
    equal to what was written, each bucket's keys below the next's, and no file left."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # a bucket read in several calls, as the largest are
    monkeypatch.setattr(spill_module, "_READ_CHUNK", 2 * spill_module.ALIGNMENT)
    if not direct:
        monkeypatch.delattr(os, "O_DIRECT", raising=False)
    rng = np.random.default_rng(7)
    n_accounts, n_kinds = 1_000, 3
    parts = [_part(rng, rows, n_accounts * n_accounts * n_kinds) for rows in (1, 513, 4_097, 20_011)]
    spill = PairSpill(6, n_accounts, n_kinds)
    for part in parts:
        spill.add(part)
    assert spill.rows_written == sum(len(p) for p in parts)
    assert len(list(tmp_path.iterdir())) == 1
    buckets = list(spill.bucket_pieces())
    spill.close()
    assert list(tmp_path.iterdir()) == []
    read = [np.concatenate([c[k] for pieces in buckets for c in (p.columns() for p in pieces)]) for k in range(6)]
    order = np.argsort(read[0], kind="stable")
    for k, column in enumerate(read):
        assert np.array_equal(column[order], np.concatenate([p.columns()[k] for p in parts])[
            np.argsort(np.concatenate([p.pair_kind for p in parts]), kind="stable")])
    highest = [max(p.pair_kind.max() for p in pieces) for pieces in buckets]
    lowest = [min(p.pair_kind.min() for p in pieces) for pieces in buckets]
    assert all(high < low for high, low in zip(highest[:-1], lowest[1:], strict=True))
    assert all(p.met_chance.dtype == np.float64 and p.weight.dtype == np.int64 for b in buckets for p in b)


def test_a_file_system_without_direct_io_is_written_through_the_page_cache(tmp_path, monkeypatch):
    """Where opening with O_DIRECT fails (tmpfs), the spill opens the file without it."""
    opened = []
    real_open = os.open

    def refusing(path, flags, mode=0o777):
        opened.append(flags)
        if flags & getattr(os, "O_DIRECT", 0):
            raise OSError(22, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(spill_module.os, "open", refusing)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    rng = np.random.default_rng(1)
    part = _part(rng, 777, 10**6)
    spill = PairSpill(2, 1_000, 1)
    spill.add(part)
    pieces = [piece for bucket in spill.bucket_pieces() for piece in bucket]
    spill.close()
    assert opened and not opened[-1] & getattr(os, "O_DIRECT", 0)
    for k, column in enumerate(part.columns()):
        assert np.array_equal(np.concatenate([p.columns()[k] for p in pieces]), column)
