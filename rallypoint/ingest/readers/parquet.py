"""Parquet: canonical records in any Parquet file (row groups streamed in batches)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rallypoint.errors import InputError
from rallypoint.ingest.readers import Block, Part

BATCH_ROWS = 131_072


def read_blocks(part: Part) -> Iterator[Block]:
    try:
        pf = pq.ParquetFile(part.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{part.path} is not a readable Parquet file ({exc}).") from exc
    done = 0
    for batch in pf.iter_batches(batch_size=BATCH_ROWS):
        table = pa.Table.from_batches([batch])
        yield Block(table, np.arange(done + 1, done + 1 + table.num_rows, dtype=np.int64))
        done += table.num_rows
