"""Canonical JSON Lines: one canonical record per line, plain, gzip or zstd.

The fast path hands a whole block of lines (tens of MB) to Arrow's JSON parser,
which infers the column types and parses in C++ on all cores; the block is first
checked to be valid UTF-8 with one Arrow cast (the JSON parser does not check).
Only when the block fails (a broken line, a field whose type changes between
lines, bad bytes) is it parsed line by line in Python, so that one bad line
rejects that line alone (``not valid JSON``, ``not valid UTF-8``,
``not a JSON object``, ``wrong type for <field>``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from rallypoint.ingest.formats import open_input
from rallypoint.ingest.readers import Block, Part
from rallypoint.ingest.readers.records import RecordBuffer

#: Decompressed bytes per block when streaming a compressed file.
STREAM_BLOCK_BYTES = 32 * 1024 * 1024


def read_blocks(part: Part) -> Iterator[Block]:
    # a byte range is one of several parts of a file that run side by side, which
    # already keeps every core busy: Arrow's own threads on top only add switching
    # and cost parsing CPU; a whole file is parsed on all cores
    for data, first_line, newlines in iter_line_blocks(part):
        yield from parse_block(data, first_line, newlines, use_threads=part.start is None)


def iter_line_blocks(part: Part, block_bytes: int = STREAM_BLOCK_BYTES) -> Iterator[tuple[bytes, int, int | None]]:
    """(bytes ending at a line end, 1-based line number of its first line, newlines if known)."""
    if part.start is not None:
        with open(part.path, "rb") as fh:
            fh.seek(part.start)
            yield fh.read(part.end - part.start), part.first_line, part.newlines
        return
    line = 1
    rest = b""
    with open_input(part.path) as fh:
        while True:
            chunk = fh.read(block_bytes)
            if not chunk:
                break
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            newlines = data.count(b"\n", 0, cut)
            yield data[:cut], line, newlines
            line += newlines
            rest = data[cut:]
    if rest.strip():
        yield rest, line, None


def parse_block(data: bytes, first_line: int, newlines: int | None = None,
                use_threads: bool = True) -> Iterator[Block]:
    """Parse one block of lines; fall back to line by line if Arrow cannot."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a BOM holds no newline: ``newlines`` stays right
    try:
        _check_utf8(data)
        table = pj.read_json(
            io.BytesIO(data), read_options=pj.ReadOptions(use_threads=use_threads,
                                                       block_size=max(1 << 20, min(len(data) + 1, 1 << 24)))
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        yield from parse_lines(data, first_line)
        return
    yield Block(table, LineNumbers(data, first_line, table.num_rows, newlines))


def parse_lines(data: bytes, first_line: int) -> Iterator[Block]:
    """The slow, forgiving path: one ``json.loads`` per line."""
    buffer = RecordBuffer()

    def rows():
        for offset, raw in enumerate(data.split(b"\n")):
            if not raw.strip():
                continue
            line = first_line + offset
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                buffer.reject(line, "not valid UTF-8", raw)
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                buffer.reject(line, "not valid JSON", text)
                continue
            if not isinstance(obj, dict):
                buffer.reject(line, "not a JSON object", text)
                continue
            yield buffer.add(line, obj, text)

    yield from buffer.drain(rows())


def _check_utf8(data: bytes) -> None:
    """Raise ArrowInvalid if ``data`` is not UTF-8 (one vectorized check, no copy)."""
    buf = pa.py_buffer(data)
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
    pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, buf]).cast(pa.large_string())


class LineNumbers:
    """Each parsed row's line, counted only when asked for.

    Only rejected rows need their line, and most blocks reject none: counting the
    newlines of every block would be a pass over every input byte for nothing.
    Behaves as an int64 array (``np.asarray(lines)``) of one entry per row.
    """

    def __init__(self, data: bytes, first_line: int, rows: int, newlines: int | None) -> None:
        self._args = (data, first_line, rows, newlines)
        self._rows = rows

    def __len__(self) -> int:
        return self._rows

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        lines = _line_numbers(*self._args)
        return lines if dtype is None else lines.astype(dtype, copy=False)


def _line_numbers(data: bytes, first_line: int, rows: int, newlines: int | None = None) -> np.ndarray:
    """Line of each parsed row; Arrow skips blank lines, so count them when present."""
    if newlines is None:
        newlines = data.count(b"\n")
    total = newlines + (0 if data.endswith(b"\n") else 1)
    if total == rows:
        return np.arange(first_line, first_line + rows, dtype=np.int64)
    nonblank = [i for i, raw in enumerate(data.split(b"\n")) if raw.strip()]
    return first_line + np.asarray(nonblank[:rows], dtype=np.int64)
