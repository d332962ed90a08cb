"""Streaming writer of canonical records as gzip-compressed JSON Lines, in shards.

Frames are serialized by polars (``write_ndjson``, in Rust), null fields are then
removed from each line with one bytes regex (absent optional fields are omitted
rather than written as null), and the bytes go through gzip. A shard
``interactions-NNNN.jsonl.gz`` holds exactly ``records_per_file`` records (the
last one fewer) before the next is opened. Each shard is written under a temporary name and renamed when
complete, so an interrupted run never leaves a truncated shard under a final name.
Memory is bounded by one frame; gzip headers carry no time stamp, so a seed
reproduces the files byte for byte.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from pathlib import Path

import polars as pl

_NULL_FIELD = re.compile(rb',"[a-z_]+":null')
SHARD_PATTERN = "interactions-*.jsonl.gz"


class ShardedJsonlWriter:
    """Write record frames into ``out/interactions-NNNN.jsonl.gz`` shards."""

    def __init__(self, out: Path, records_per_file: int = 1_000_000, compresslevel: int = 3) -> None:
        self.out = Path(out)
        self.records_per_file = records_per_file
        self.compresslevel = compresslevel
        self.files: list[Path] = []
        self.records = 0
        self._raw = None
        self._gz = None
        self._in_file = 0
        self._tmp: Path | None = None

    def _open(self) -> None:
        final = self.out / f"interactions-{len(self.files):04d}.jsonl.gz"
        self._tmp = final.with_name(f".{final.name}.tmp")
        self._raw = open(self._tmp, "wb")  # noqa: SIM115 -- closed in _close
        self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, compresslevel=self.compresslevel, mtime=0)
        self.files.append(final)
        self._in_file = 0

    def _close(self) -> None:
        if self._gz is None:
            return
        self._gz.close()
        self._raw.close()
        os.replace(self._tmp, self.files[-1])
        self._gz = self._raw = self._tmp = None

    def write(self, frame: pl.DataFrame) -> None:
        """Append ``frame`` (canonical columns, JSON-ready), starting new shards as they fill."""
        while frame.height:
            if self._gz is None or self._in_file >= self.records_per_file:
                self._close()
                self._open()
            part = frame.head(self.records_per_file - self._in_file)
            frame = frame.slice(part.height)
            buffer = io.BytesIO()
            part.write_ndjson(buffer)
            self._gz.write(_NULL_FIELD.sub(b"", buffer.getvalue()))
            self._in_file += part.height
            self.records += part.height

    def close(self) -> list[Path]:
        """Finish the last shard; returns every shard written."""
        self._close()
        return self.files

    def abort(self) -> None:
        """Drop the shard being written (used when generation fails)."""
        if self._gz is not None:
            self._gz.close()
            self._raw.close()
            self._tmp.unlink(missing_ok=True)
            self.files.pop()
            self._gz = self._raw = self._tmp = None
