"""CSV: canonical records (list fields ``|``-separated), plain, gzip or zstd.

Streams the file through Arrow's CSV reader in blocks with every column read as
text (types are decided by ``validate``, the same way for every format). A row with
the wrong number of columns is rejected (``wrong number of columns``) and the
reading goes on. A rejected row's ``line`` is its first physical line, counting the
newlines inside quoted values. If Arrow stops on the content (bytes that are not UTF-8), the rest
of the file is read again by Python's ``csv`` module row by row, skipping the rows
already read, so that one bad row rejects that row alone.

``read_csv_blocks(part, mapper)`` is shared by the CSV exports of other tools
(CooRTweet, CrowdTangle): ``mapper`` renames their columns to canonical ones.
"""

from __future__ import annotations

import csv as pycsv
import io
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from rallypoint.errors import InputError
from rallypoint.ingest.formats import open_input
from rallypoint.ingest.readers import Block, Part
from rallypoint.ingest.validate import Rejections

BLOCK_BYTES = 16 * 1024 * 1024
Mapper = Callable[[pa.Table], pa.Table]


def read_blocks(part: Part) -> Iterator[Block]:
    yield from read_csv_blocks(part, None)


def header(part: Part) -> list[str]:
    with open_input(part.path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline="")
        names = next(pycsv.reader(text), None)
    if not names:
        raise InputError(f"{part.path} is empty.")
    return names


def read_csv_blocks(part: Part, mapper: Mapper | None) -> Iterator[Block]:
    """Blocks of a CSV file; rows are numbered from 2 (line 1 is the header)."""
    names = header(part)
    done = 0  # data rows already yielded
    bad_rows = Rejections()

    def on_invalid(row) -> str:
        bad_rows.add(row.number if row.number is not None else -1, "wrong number of columns", row.text)
        return "skip"

    try:
        with open_input(part.path) as fh:
            reader = pcsv.open_csv(
                fh,
                read_options=pcsv.ReadOptions(block_size=BLOCK_BYTES, use_threads=False),
                parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
                convert_options=pcsv.ConvertOptions(
                    column_types={n: pa.string() for n in names}, strings_can_be_null=True
                ),
            )
            line = 2  # the physical line of the next row: the header is line 1
            for batch in reader:
                table = pa.Table.from_batches([batch])
                lines, line = _physical_lines(table, line)
                yield _block_at(table, lines, mapper, bad_rows)
                bad_rows = Rejections()
                done += table.num_rows
    except (pa.ArrowInvalid, UnicodeDecodeError):
        yield from _python_rows(part, names, done, mapper)
        return
    if len(bad_rows):
        yield Block(_empty(names, mapper), np.empty(0, np.int64), bad_rows)


def _physical_lines(table: pa.Table, first: int) -> tuple[np.ndarray, int]:
    """Each row's first physical line (values may hold newlines), and the line after the last row."""
    n = table.num_rows
    extra = np.zeros(n, dtype=np.int64)
    for column in table.columns:
        if column.null_count < n:
            extra += np.asarray(pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy(), dtype=np.int64)
    spans = 1 + extra
    starts = first + np.concatenate(([0], np.cumsum(spans)[:-1])) if n else np.empty(0, np.int64)
    return starts.astype(np.int64), first + int(spans.sum())


def _empty(names: list[str], mapper: Mapper | None) -> pa.Table:
    table = pa.schema([pa.field(n, pa.string()) for n in names]).empty_table()
    return mapper(table) if mapper is not None else table


def _python_rows(part: Part, names: list[str], skip: int, mapper: Mapper | None) -> Iterator[Block]:
    """The forgiving path: Python's csv module, one row at a time, from row ``skip``."""
    rows: list[list[str]] = []
    lines: list[int] = []
    rejected = Rejections()
    width = len(names)

    def flush() -> Block:
        cols = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
        table = pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, cols, strict=True)})
        return _block_at(table, lines, mapper, rejected)

    line_after = 1  # the header's line
    with open_input(part.path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", errors="surrogateescape", newline="")
        reader = pycsv.reader(text)
        next(reader, None)
        for index, row in enumerate(reader):
            number = line_after + 1  # the row's first physical line (values may hold newlines)
            line_after = reader.line_num
            if index < skip:
                continue
            raw = ",".join(row)
            if any(_has_bad_bytes(v) for v in row):
                rejected.add(number, "not valid UTF-8", raw.encode("utf-8", "surrogateescape"))
            elif len(row) != width:
                rejected.add(number, "wrong number of columns", raw)
            else:
                rows.append(row)
                lines.append(number)
            if len(rows) + len(rejected) >= 50_000:
                yield flush()
                rows, lines, rejected = [], [], Rejections()
    yield flush()


def _block_at(table: pa.Table, lines: list[int], mapper: Mapper | None, rejected: Rejections) -> Block:
    if mapper is not None:
        table = mapper(table)
    return Block(table, np.asarray(lines, dtype=np.int64), rejected)


def _has_bad_bytes(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
