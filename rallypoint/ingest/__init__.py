"""Ingest: readers for every input format, normalization, validation, and the Dask
pipeline that writes the lake (``rallypoint ingest``).

``read_file(path, fmt="auto")`` reads one input into canonical rows in memory (for
tests, notebooks and small files); ``rallypoint.ingest.pipeline.ingest_sources`` is
the bounded-memory, parallel, atomic ingest into a lake.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa


def read_file(path: str | Path, fmt: str = "auto", rules=None) -> tuple[pa.Table, pa.Table]:
    """(valid rows as LAKE_SCHEMA, rejected rows as REJECTED_SCHEMA) of one input file.

    Rows are as the lake would store them, before de-duplication; ``rules``
    (``rallypoint.ingest.validate.RecordRules``) bound the times and name the zone of zone-less ones.
    """
    from rallypoint.ingest.formats import resolve_format
    from rallypoint.ingest.readers import Part, reader
    from rallypoint.ingest.validate import canonicalize
    from rallypoint.schema import LAKE_SCHEMA, REJECTED_SCHEMA

    path = Path(path)
    fmt = resolve_format(path, fmt)
    good, bad = [LAKE_SCHEMA.empty_table()], [REJECTED_SCHEMA.empty_table()]
    for block in reader(fmt).read_blocks(Part(path, fmt)):
        valid, rejected = canonicalize(block.table, block.lines, str(path), rules)
        good.append(valid)
        bad.extend([block.rejected.table(str(path)), rejected])
    return pa.concat_tables(good), pa.concat_tables(bad)
