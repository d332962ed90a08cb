"""The two parallel steps of an ingest, as plain functions Dask runs anywhere.

``stage_part`` (one task per part): read a part block by block, validate and
normalize each block, and write its valid rows under ``STAGE/blocks/date=D/`` (one
file per block and date) and its rejected rows under ``STAGE/rejected/``. Only
counts travel back to the client, so memory stays at a few blocks per worker.

``merge_date`` (one task per date): the filesystem shuffle's reduce side. It reads
only the keys (``platform``, ``id``) of the date's staged files (Arrow IPC, memory-mapped), keeps the first
occurrence of each key that the lake's same date partition does not already hold
(a record's date comes from its own timestamp, so a re-ingested record meets its
earlier copy there), and streams the kept rows into one zstd Parquet file for the
date, in row groups of up to ``ROW_GROUP_ROWS`` rows. Memory: the date's keys plus
one row group of staged rows (memory-mapped).

Both need the staging folder on a file system every worker sees (for a remote
``--scheduler``, a shared mount of the lake).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rallypoint.ingest.readers import Part, reader
from rallypoint.ingest.validate import canonicalize
from rallypoint.schema import LAKE_SCHEMA, REJECTED_SCHEMA

KEY_SEPARATOR = "\x1f"
#: Staged blocks are read back once, right away: Arrow IPC files, written and
#: memory-mapped back at memory speed (Parquet encoding would cost as much as parsing).
STAGED_SUFFIX = ".arrow"
#: Rows per Parquet row group in the lake: a date's staged blocks (a few thousand
#: rows each) are gathered into groups this large before they are written.
ROW_GROUP_ROWS = 256 * 1024
#: Columns whose values repeat across rows (an account posts many times, a link or tag
#: is shared many times), so a Parquet dictionary makes them smaller and cheaper to
#: scan. Ids, times, free text and ``extra`` are nearly all distinct: trying a
#: dictionary there only costs hashing before Arrow falls back to plain encoding
#: (the write is cheaper, and the file is smaller).
DICTIONARY_COLUMNS = [
    "platform", "account_id", "action", "target_account_id", "channel_id", "lang", "account_name",
    "account_created_at", "followers", "urls.list.element", "urls_original.list.element",
    "hashtags.list.element", "mentions.list.element",
]


def stage_part(part: Part, stage: Path, task: int) -> dict[str, Any]:
    """Read, validate and stage one part; return its counts and staged files by date."""
    t0 = time.perf_counter()
    read = valid_rows = 0
    reasons: Counter = Counter()
    dates: dict[str, list[str]] = {}
    rejected_files: list[str] = []
    source = part.source
    for number, block in enumerate(reader(part.fmt).read_blocks(part)):
        name = f"{task:06d}-{number:06d}"
        valid, bad = canonicalize(block.table, block.lines, source)
        read += block.table.num_rows + len(block.rejected)
        rejected = pa.concat_tables([block.rejected.table(source), bad]) if len(block.rejected) else bad
        if rejected.num_rows:
            path = stage / "rejected" / f"{name}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(rejected.cast(REJECTED_SCHEMA), path, compression="zstd")
            rejected_files.append(str(path))
            for row in pc.value_counts(rejected["reason"]).to_pylist():
                reasons[row["values"]] += row["counts"]
        if valid.num_rows:
            valid_rows += valid.num_rows
            for day, rows in _split_by_date(valid):
                path = stage / "blocks" / f"date={day}" / f"{name}{STAGED_SUFFIX}"
                path.parent.mkdir(parents=True, exist_ok=True)
                _write_ipc(rows, path)
                dates.setdefault(day, []).append(str(path))
    return {
        "source": source,
        "format": part.fmt,
        "read": read,
        "valid": valid_rows,
        "rejected_by_reason": dict(reasons),
        "dates": dates,
        "rejected_files": rejected_files,
        "seconds": time.perf_counter() - t0,
    }


def shift_rejected_lines(files: list[str], offset: int) -> None:
    """Add ``offset`` to the ``line`` of staged rejected files (a byte-range part's rows
    are numbered from its own start; rejections are few, so rewriting them is cheap)."""
    for f in files:
        table = pq.read_table(f, schema=REJECTED_SCHEMA)
        table = table.set_column(table.schema.get_field_index("line"), REJECTED_SCHEMA.field("line"),
                                 pc.add(table["line"], offset))
        pq.write_table(table, f, compression="zstd")


def _split_by_date(table: pa.Table):
    """(YYYY-MM-DD, rows of that UTC date), in date order, row order kept within."""
    micros = pc.cast(table["timestamp"], pa.int64()).to_numpy()
    day_number = micros // 86_400_000_000  # days since 1970-01-01, UTC
    runs = np.flatnonzero(np.diff(day_number)) + 1
    if len(runs) + 1 != len(np.unique(day_number)):
        # days interleave: one gather puts each day's rows together (stable: order kept)
        order = np.argsort(day_number, kind="stable")
        table, day_number = table.take(pa.array(order)), day_number[order]
        runs = np.flatnonzero(np.diff(day_number)) + 1
    # each day is now one contiguous run: zero-copy slices
    bounds = [0, *runs.tolist(), len(day_number)]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        day = np.datetime64(int(day_number[lo]), "D").astype(str)
        yield day, table.slice(lo, hi - lo)


def _write_ipc(table: pa.Table, path: Path) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read_ipc(path: str | Path) -> pa.Table:
    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all()


def keys_of(table: pa.Table) -> pa.ChunkedArray:
    """One string per row that is equal exactly when (platform, id) is."""
    return pc.binary_join_element_wise(table["platform"], table["id"], KEY_SEPARATOR)


def merge_date(day: str, files: list[str], lake_root: Path, out: Path) -> dict[str, Any]:
    """De-duplicate one date's staged rows against themselves and the lake; write them."""
    import polars as pl

    t0 = time.perf_counter()
    files = sorted(files)  # task-block order = input order, so "first" is the first read
    staged_keys = pa.concat_tables(
        [_read_ipc(f).select(["platform", "id"]) for f in files]
    )
    key_array = keys_of(staged_keys).combine_chunks()
    first = pl.Series("k", key_array).is_first_distinct()
    held = _lake_keys(lake_root, day)
    in_lake = pl.Series("in_lake", pc.is_in(key_array, value_set=held) if held is not None
                        else pa.nulls(len(key_array), pa.bool_()).fill_null(False))
    keep = (first & ~in_lake).to_numpy()
    n_batch_dups = int((~first).sum())
    n_lake_dups = int((first & in_lake).sum())
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    if keep.any():
        offset = 0
        pending: list[pa.Table] = []  # kept rows not yet written, at most one row group
        with pq.ParquetWriter(out, LAKE_SCHEMA, compression="zstd", use_dictionary=DICTIONARY_COLUMNS) as writer:
            for f in files:
                table = _read_ipc(f)
                mask = keep[offset: offset + table.num_rows]
                offset += table.num_rows
                if mask.all():  # the usual case: nothing to drop, no copy
                    kept = table
                elif mask.any():
                    kept = table.filter(pa.array(mask))
                else:
                    continue
                pending.append(kept if kept.schema == LAKE_SCHEMA else kept.cast(LAKE_SCHEMA))
                written += kept.num_rows
                if sum(t.num_rows for t in pending) >= ROW_GROUP_ROWS:
                    _write_row_groups(writer, pending)
            _write_row_groups(writer, pending)
    return {
        "date": day,
        "out": str(out) if written else None,
        "written": written,
        "duplicates_in_batch": n_batch_dups,
        "duplicates_in_lake": n_lake_dups,
        "seconds": time.perf_counter() - t0,
    }


def _write_row_groups(writer: pq.ParquetWriter, pending: list[pa.Table]) -> None:
    """Write the pending staged tables as whole row groups (not one small group per
    staged block: each row group costs its own pages, dictionaries and statistics)."""
    if pending:
        writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
        pending.clear()


def _lake_keys(lake_root: Path, day: str) -> pa.Array | None:
    folder = Path(lake_root) / "interactions" / f"date={day}"
    files = sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(".")) if folder.exists() else []
    if not files:
        return None
    table = pa.concat_tables([pq.read_table(f, columns=["platform", "id"]) for f in files])
    return keys_of(table).combine_chunks()

