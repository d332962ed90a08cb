"""Parquet: canonical records in any Parquet file (row groups streamed in batches).

A time column typed as a timestamp without a zone holds local wall-clock times whose zone
the file does not say: it is handed on as ISO text, so it follows ``--timezone`` like any
zone-less time (and is rejected without it), never taken for UTC silently.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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
        table = _zone_less_times_as_text(pa.Table.from_batches([batch]))
        yield Block(table, np.arange(done + 1, done + 1 + table.num_rows, dtype=np.int64))
        done += table.num_rows


def _zone_less_times_as_text(table: pa.Table) -> pa.Table:
    for name in ("timestamp", "account_created_at"):
        if name in table.column_names:
            typ = table.schema.field(name).type
            if pa.types.is_timestamp(typ) and typ.tz is None:
                i = table.column_names.index(name)
                text = pc.strftime(table.column(i), format="%Y-%m-%dT%H:%M:%S")
                table = table.set_column(i, name, text)
    return table
