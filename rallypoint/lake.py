"""The lake: rallypoint's embedded store, a folder of Parquet files.

Layout (SPEC.md)::

    LAKE/interactions/date=YYYY-MM-DD/*.parquet   canonical records (LAKE_SCHEMA)
    LAKE/rejected/INGEST_ID/*.parquet              records that failed validation
    LAKE/ingests/INGEST_ID.json                    one summary per finished ingest
    LAKE/runs/RUN_ID/run.json                      a detection run's parameters and counts
    LAKE/runs/RUN_ID/{edges,clusters,members,evidence}.parquet
    LAKE/triage.sqlite                             dashboard accounts and the hash-chained triage log

Every file becomes visible by an atomic rename of a finished temporary file, so a
reader never sees half a file, and a killed writer leaves only ``_tmp`` debris that
the next writer removes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rallypoint.errors import LakeError
from rallypoint.schema import LAKE_SCHEMA, RUN_TABLES

LATEST = "latest"


def new_id(prefix: str = "") -> str:
    """A sortable, unique id: UTC time to the second plus random hex."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}{stamp}-{secrets.token_hex(3)}"


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
    os.replace(tmp, path)


def write_parquet_atomic(path: Path, table: pa.Table, **kwargs: Any) -> None:
    """Write a Parquet file (zstd) under a temporary name, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    kwargs.setdefault("compression", "zstd")
    pq.write_table(table, tmp, **kwargs)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Lake:
    """A lake folder. Creating the object touches nothing; ``ensure()`` creates it."""

    root: Path

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", Path(root))

    # --- paths ---------------------------------------------------------------
    @property
    def interactions_dir(self) -> Path:
        return self.root / "interactions"

    @property
    def rejected_dir(self) -> Path:
        return self.root / "rejected"

    @property
    def ingests_dir(self) -> Path:
        return self.root / "ingests"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def staging_dir(self) -> Path:
        return self.root / "_staging"

    @property
    def triage_path(self) -> Path:
        return self.root / "triage.sqlite"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / self.resolve_run(run_id)

    # --- checks --------------------------------------------------------------
    def ensure(self) -> Lake:
        """Create the lake's folders; a lake path that is a file is an error."""
        if self.root.exists() and not self.root.is_dir():
            raise LakeError(f"The lake path {self.root} is a file, not a folder.")
        for d in (self.interactions_dir, self.rejected_dir, self.ingests_dir, self.runs_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self

    def require(self) -> Lake:
        """Check that the lake exists and holds interactions."""
        if not self.root.exists():
            raise LakeError(f"There is no lake at {self.root}; run `rallypoint ingest` first.")
        if not self.root.is_dir():
            raise LakeError(f"The lake path {self.root} is a file, not a folder.")
        return self

    # --- interactions --------------------------------------------------------
    def interaction_files(self) -> list[Path]:
        """Every committed interaction file, in date order."""
        if not self.interactions_dir.exists():
            return []
        return sorted(
            p
            for p in self.interactions_dir.glob("date=*/*.parquet")
            if not p.name.startswith(".")
        )

    def read_interactions(
        self,
        columns: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ):
        """The lake's interactions as a Dask DataFrame (lazy; one partition per file).

        ``since``/``until`` prune whole date partitions before reading and then filter rows.
        """
        import dask.dataframe as dd

        files = self._files_in_range(since, until)
        schema = lake_columns(columns)
        ddf = dd.read_parquet(
            [str(f) for f in files],
            columns=columns,
            engine="pyarrow",
            dtype_backend="pyarrow",
            schema=schema,
        )
        if since is not None:
            ddf = ddf[ddf["timestamp"] >= _as_utc(since)]
        if until is not None:
            ddf = ddf[ddf["timestamp"] < _as_utc(until)]
        return ddf

    def read_interactions_arrow(
        self,
        columns: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> pa.Table:
        """``read_interactions`` for one process: the rows in range as one Arrow table, read
        by pyarrow's threaded scanner straight into Arrow memory (no pandas copy on the way)."""
        import pyarrow.dataset as ds

        files = self._files_in_range(since, until)
        schema = lake_columns(columns)
        condition = None
        if since is not None:
            condition = ds.field("timestamp") >= pa.scalar(_as_utc(since), LAKE_SCHEMA.field("timestamp").type)
        if until is not None:
            before = ds.field("timestamp") < pa.scalar(_as_utc(until), LAKE_SCHEMA.field("timestamp").type)
            condition = before if condition is None else condition & before
        dataset = ds.dataset([str(f) for f in files], schema=LAKE_SCHEMA, format="parquet")
        return dataset.to_table(columns=schema.names, filter=condition).cast(schema)

    def _files_in_range(self, since: datetime | None, until: datetime | None) -> list[Path]:
        """The committed interaction files whose date partition may hold rows in range."""
        files = self.interaction_files()
        if since is not None or until is not None:
            files = [f for f in files if _date_in_range(f.parent.name[5:], since, until)]
        if not files:
            raise LakeError(f"The lake at {self.root} holds no interactions in that range.")
        return files

    def read_interactions_table(self, columns: list[str] | None = None, filters=None) -> pa.Table:
        """Read interactions as one Arrow table. For small lakes, tests and lookups."""
        files = self.interaction_files()
        if not files:
            return lake_columns(columns).empty_table()
        import pyarrow.dataset as ds

        dataset = ds.dataset([str(f) for f in files], schema=LAKE_SCHEMA, format="parquet")
        return dataset.to_table(columns=columns, filter=filters)

    # --- runs ----------------------------------------------------------------
    def run_ids(self) -> list[str]:
        """Finished runs (those with a run.json), oldest first."""
        if not self.runs_dir.exists():
            return []
        return sorted(p.parent.name for p in self.runs_dir.glob("*/run.json"))

    def resolve_run(self, run_id: str) -> str:
        """``latest`` -> the newest finished run; a named run must exist."""
        if run_id == LATEST:
            runs = self.run_ids()
            if not runs:
                raise LakeError(f"The lake at {self.root} has no detection runs yet; run `rallypoint detect` first.")
            return runs[-1]
        if not (self.runs_dir / run_id / "run.json").exists():
            raise LakeError(f"The lake at {self.root} has no run named {run_id!r}.")
        return run_id

    def read_run_json(self, run_id: str) -> dict[str, Any]:
        return json.loads((self.run_dir(run_id) / "run.json").read_text())

    def read_run_table(self, run_id: str, name: str) -> pa.Table:
        """One of a run's tables (edges, clusters, members, evidence)."""
        schema = RUN_TABLES[name]
        path = self.run_dir(run_id) / f"{name}.parquet"
        if not path.exists():
            return schema.empty_table()
        return pq.read_table(path, schema=schema)

    def write_run_table(self, run_id: str, name: str, table: pa.Table) -> Path:
        """Write a run table, cast to its schema, atomically. run.json is written last."""
        path = self.runs_dir / run_id / f"{name}.parquet"
        write_parquet_atomic(path, table.select(RUN_TABLES[name].names).cast(RUN_TABLES[name]))
        return path

    def write_run_json(self, run_id: str, payload: dict[str, Any]) -> Path:
        """Commit a run: until run.json exists, the run is not listed."""
        path = self.runs_dir / run_id / "run.json"
        write_json_atomic(path, payload)
        return path

    def discard_unfinished_runs(self) -> None:
        """Remove run folders without run.json (a detect that was killed)."""
        if not self.runs_dir.exists():
            return
        for d in self.runs_dir.iterdir():
            if d.is_dir() and not (d / "run.json").exists():
                shutil.rmtree(d, ignore_errors=True)


def parse_time(value: str | datetime | None, name: str) -> datetime | None:
    """A ``--since``/``--until`` bound: ISO 8601 (``Z`` allowed), UTC when it has no zone."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise LakeError(f"--{name} {value!r} is not an ISO 8601 time such as 2021-01-06T00:00Z.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def lake_columns(columns: list[str] | None) -> pa.Schema:
    """The lake schema's fields named by ``columns``, in that order (all of it for ``None``)."""
    return LAKE_SCHEMA if columns is None else pa.schema([LAKE_SCHEMA.field(c) for c in columns])


def _as_utc(t: datetime):
    import pandas as pd

    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _date_in_range(day: str, since: datetime | None, until: datetime | None) -> bool:
    d = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    if since is not None and _as_utc(since).floor("D") > d:
        return False
    return not (until is not None and _as_utc(until) <= d)
