"""Readers: one small module per input format, each turning its input into raw blocks.

A reader is a module with ``read_blocks(part: Part) -> Iterator[Block]``. A ``Part``
is one unit of parallel work (a whole file, or a byte range of a plain JSON Lines
file); a ``Block`` is a bounded number of rows in reader columns named like the
canonical record (``rallypoint.schema.RECORD_SCHEMA``) plus whatever else the input
carried, with each row's 1-based line (or row) number and the rows the reader itself
had to reject (bad JSON, bad UTF-8, wrong types). ``rallypoint.ingest.validate``
turns blocks into lake rows; readers never hold a whole input in memory.

Formats (``--format``): ``jsonl``, ``csv``, ``parquet`` (canonical records),
``x-v2``, ``x-v1``, ``telegram``, ``crowdtangle`` (CrowdTangle and Meta Content
Library CSV exports) and ``coortweet`` (CooRTweet's input table).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow as pa

from rallypoint.ingest.validate import Rejections

FORMAT_MODULES: dict[str, str] = {
    "jsonl": "rallypoint.ingest.readers.jsonl",
    "csv": "rallypoint.ingest.readers.csv",
    "parquet": "rallypoint.ingest.readers.parquet",
    "coortweet": "rallypoint.ingest.readers.coortweet",
    "crowdtangle": "rallypoint.ingest.readers.crowdtangle",
    "x-v2": "rallypoint.ingest.readers.x_v2",
    "x-v1": "rallypoint.ingest.readers.x_v1",
    "telegram": "rallypoint.ingest.readers.telegram",
}
FORMATS: tuple[str, ...] = tuple(FORMAT_MODULES)

#: Rows per block for readers that build records item by item.
ITEMS_PER_BLOCK = 50_000


@dataclass(frozen=True)
class Part:
    """One unit of work: a file, or the byte range [start, end) of a plain file.

    ``first_line`` is the 1-based line number at ``start``; the planner leaves it at 1
    for byte ranges (lines counted from the range's start) and the pipeline shifts the
    lines of the rejected rows afterwards (``formats.newlines_before``).
    """

    path: Path
    fmt: str
    index: int = 0
    start: int | None = None
    end: int | None = None
    first_line: int = 1
    #: newlines in [start, end), when the planner counted them (saves a recount)
    newlines: int | None = None

    @property
    def source(self) -> str:
        return str(self.path)


@dataclass
class Block:
    """Rows read from a part, not yet validated."""

    table: pa.Table
    #: each row's line: an int64 array, or anything ``np.asarray`` makes one of
    #: (JSON Lines counts them only when a rejection asks)
    lines: np.ndarray
    rejected: Rejections = field(default_factory=Rejections)


def reader(fmt: str) -> ModuleType:
    """The reader module for a format name."""
    return importlib.import_module(FORMAT_MODULES[fmt])
