"""The two parallel steps of an ingest, as plain functions Dask runs anywhere.

``stage_part`` (one task per part): read a part block by block, validate and
normalize each block, and write its valid rows under ``STAGE/blocks/date=D/`` (one
file per block and date) and its rejected rows under ``STAGE/rejected/``. Only
counts travel back to the client, so memory stays at a few blocks per worker.

``cross_date_duplicates`` (client, between the two): the keys a date must drop because
the same (platform, id) is kept on another date, in this ingest or in the lake.

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
from rallypoint.ingest.validate import RecordRules, canonicalize
from rallypoint.lake import PAGE_CHECKSUMS
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


def stage_part(part: Part, stage: Path, task: int, rules: RecordRules | None = None) -> dict[str, Any]:
    """Read, validate (by ``rules``) and stage one part; return its counts and staged files by date."""
    t0 = time.perf_counter()
    read = valid_rows = 0
    reasons: Counter = Counter()
    dates: dict[str, list[str]] = {}
    rejected_files: list[str] = []
    source = part.source
    for number, block in enumerate(reader(part.fmt).read_blocks(part)):
        name = f"{task:06d}-{number:06d}"
        valid, bad = canonicalize(block.table, block.lines, source, rules)
        read += block.table.num_rows + len(block.rejected)
        rejected = pa.concat_tables([block.rejected.table(source), bad]) if len(block.rejected) else bad
        if rejected.num_rows:
            path = stage / "rejected" / f"{name}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(rejected.cast(REJECTED_SCHEMA), path, compression="zstd", **PAGE_CHECKSUMS)
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
        pq.write_table(table, f, compression="zstd", **PAGE_CHECKSUMS)


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


def cross_date_duplicates(by_date: dict[str, list[str]], lake_root: Path) -> dict[str, dict[str, list[str]]]:
    """Keys each date must drop because the same (platform, id) is kept on another date.

    A record's key is unique in the whole lake, whatever its date: a copy with another
    timestamp (a zone-less time read twice, a platform that edits times) is a duplicate too.
    Returns ``{day: {"lake": keys the lake holds on another date, "batch": keys this ingest
    keeps on another date}}``; a key's first copy in input order (staged block, then date) is kept.

    Complexity: one 64-bit hash per staged and per lake key (``keys_of``, polars' hash), a
    group-by on the hashes; exact keys are compared only for the rare hashes seen on two dates.
    Memory: about 16 bytes per staged and per lake record.
    """
    import polars as pl

    order = sorted((Path(f).name, day, f) for day, files in by_date.items() for f in files)
    days = sorted(by_date)
    day_index = {d: i for i, d in enumerate(days)}
    staged = pl.concat([
        pl.DataFrame({"h": pl.Series(keys_of(_read_ipc(f).select(["platform", "id"]))).hash()}).with_columns(
            day=pl.lit(day_index[day], pl.UInt32), rank=pl.lit(rank, pl.UInt32))
        for rank, (_, day, f) in enumerate(order)
    ], how="vertical") if order else pl.DataFrame(schema={"h": pl.UInt64, "day": pl.UInt32, "rank": pl.UInt32})
    lake_files = sorted(Path(lake_root).glob("interactions/date=*/*.parquet"))
    lake_files = [f for f in lake_files if not f.name.startswith(".")]
    lake = pl.concat([
        pl.DataFrame({"h": pl.Series(keys_of(pq.read_table(f, columns=["platform", "id"]))).hash()}).with_columns(
            lake_day=pl.lit(f.parent.name[5:], pl.String))
        for f in lake_files
    ], how="vertical") if lake_files else pl.DataFrame(schema={"h": pl.UInt64, "lake_day": pl.String})
    on_days = staged.group_by("h").agg(pl.col("day").n_unique().alias("n"))
    candidates = set(on_days.filter(pl.col("n") > 1)["h"].to_list())
    if lake.height:
        staged_days = staged.select("h", pl.col("day").replace_strict(
            list(range(len(days))), days, return_dtype=pl.String).alias("lake_day")).unique()
        elsewhere = lake.join(staged_days.rename({"lake_day": "day"}), on="h").filter(pl.col("lake_day") != pl.col("day"))
        candidates |= set(elsewhere["h"].to_list())
    if not candidates:
        return {}
    wanted = pl.Series(list(candidates), dtype=pl.UInt64)
    rows = []
    for rank, (_, day, f) in enumerate(order):
        keys = keys_of(_read_ipc(f).select(["platform", "id"])).combine_chunks()
        hit = pl.Series(keys).hash().is_in(wanted.implode())
        if hit.any():
            rows.append(pl.DataFrame({"key": pl.Series(keys).filter(hit)}).with_row_index("row").with_columns(
                day=pl.lit(day, pl.String), rank=pl.lit(rank, pl.UInt32)))
    exact = pl.concat(rows) if rows else pl.DataFrame(schema={"key": pl.String, "day": pl.String})
    held: dict[str, set[str]] = {}  # key -> dates the lake holds it on
    for f in lake_files:
        keys = keys_of(pq.read_table(f, columns=["platform", "id"])).combine_chunks()
        hit = pl.Series(keys).hash().is_in(wanted.implode())
        for key in pl.Series(keys).filter(hit).to_list():
            held.setdefault(key, set()).add(f.parent.name[5:])
    drops: dict[str, dict[str, list[str]]] = {}
    first_day = exact.sort("rank", "row").group_by("key", maintain_order=True).agg(pl.col("day").first())
    for key, day in zip(first_day["key"].to_list(), first_day["day"].to_list(), strict=True):
        for other in set(exact.filter(pl.col("key") == key)["day"].to_list()) | {day}:
            if held.get(key, set()) - {other}:
                drops.setdefault(other, {"lake": [], "batch": []})["lake"].append(key)
            elif other != day:
                drops.setdefault(other, {"lake": [], "batch": []})["batch"].append(key)
    return drops


def merge_date(day: str, files: list[str], lake_root: Path, out: Path,
               drop: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """De-duplicate one date's staged rows against themselves and the lake; write them.

    ``drop`` (from ``cross_date_duplicates``) names keys kept on another date: ``lake`` ones
    count as duplicates in the lake, ``batch`` ones as duplicates within this ingest.
    """
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
    drop = drop or {}
    elsewhere_lake = pl.Series(pc.is_in(key_array, value_set=pa.array(drop.get("lake", []), pa.string())))
    elsewhere_batch = pl.Series(pc.is_in(key_array, value_set=pa.array(drop.get("batch", []), pa.string())))
    in_lake = in_lake | elsewhere_lake
    keep = (first & ~in_lake & ~elsewhere_batch).to_numpy()
    n_batch_dups = int((~first).sum() + (first & ~in_lake & elsewhere_batch).sum())
    n_lake_dups = int((first & in_lake).sum())
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    if keep.any():
        offset = 0
        pending: list[pa.Table] = []  # kept rows not yet written, at most one row group
        with pq.ParquetWriter(out, LAKE_SCHEMA, compression="zstd", use_dictionary=DICTIONARY_COLUMNS,
                              **PAGE_CHECKSUMS) as writer:
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



def drop_recorded_rejections(files: list[str], lake_root: Path) -> tuple[list[str], int]:
    """Remove from staged rejected files the rows an earlier ingest already recorded (same
    source, line, reason and raw text: re-ingesting a file rejects the same rows again).
    Returns the files still holding rows and how many rows were dropped.

    Complexity: one hash per rejected row of the lake and of this ingest.
    """
    import polars as pl

    recorded = sorted(Path(lake_root).glob("rejected/*/*.parquet"))
    if not files or not recorded:
        return files, 0

    def row_hashes(table: pa.Table) -> pl.Series:
        frame = pl.from_arrow(table.select(["source", "line", "reason", "raw"]))
        return frame.hash_rows()

    held = pl.concat([row_hashes(pq.read_table(f)) for f in recorded if not f.name.startswith(".")])
    kept_files, dropped = [], 0
    for f in files:
        table = pq.read_table(f, schema=REJECTED_SCHEMA)
        new = ~row_hashes(table).is_in(held.implode())
        dropped += int((~new).sum())
        if new.all():
            kept_files.append(f)
        elif new.any():
            pq.write_table(table.filter(pa.array(new.to_numpy())), f, compression="zstd", **PAGE_CHECKSUMS)
            kept_files.append(f)
        else:
            Path(f).unlink()
    return kept_files, dropped
