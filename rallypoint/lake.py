"""The lake: rallypoint's embedded store, a folder of Parquet files.

Layout (SPEC.md)::

    LAKE/interactions/date=YYYY-MM-DD/*.parquet   canonical records (LAKE_SCHEMA)
    LAKE/rejected/INGEST_ID/*.parquet              records that failed validation
    LAKE/ingests/INGEST_ID.json                    one summary per finished ingest
    LAKE/runs/RUN_ID/run.json                      a detection run's parameters and counts
    LAKE/runs/RUN_ID/{edges,clusters,members,evidence}.parquet
    LAKE/triage.sqlite                             dashboard accounts and the hash-chained triage log
    LAKE/neo4j.json                                which interaction files each Neo4j holds
    LAKE/index/touches/v1/date=YYYY-MM-DD/*.parquet derived: the touch index (rallypoint.touch_index)

Every file becomes visible by an atomic rename of a finished temporary file, so a
reader never sees half a file, and a killed writer leaves only ``_tmp`` debris that
the next writer removes.

A detection run reads one *snapshot* (``Lake.snapshot``): the interaction files of the
ingests committed when it starts (an ingest's log is written after its last rename), so
an ingest that commits while the run reads changes nothing in it. A run being written
holds ``RUNNING.json`` (process id and host) until its ``run.json`` commits it; cleaning
unfinished runs never touches a run whose process is alive. Run ids are names, never paths.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rallypoint.errors import LakeError
from rallypoint.schema import LAKE_SCHEMA, RUN_TABLES, utc_datetime

LATEST = "latest"
#: A run id is a name: letters, digits, '.', '_' and '-', starting with a letter or digit.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: Marks a run folder whose detect is still writing it (removed when run.json commits it).
RUNNING = "RUNNING.json"


def check_run_id(run_id: str) -> str:
    """``run_id`` if it is a plain name; a path (``/abs``, ``../x``, ``a/b``) is refused."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id) or ".." in run_id:
        raise LakeError(f"{run_id!r} is not a run name: use letters, digits, '.', '_' and '-' "
                        "(a run id names a folder of the lake's runs/, never a path).")
    return run_id


@dataclass(frozen=True)
class Snapshot:
    """The lake as a run reads it: the committed ingests and their interaction files."""

    ingests: tuple[str, ...]
    files: tuple[Path, ...]

    def as_json(self, root: Path) -> dict[str, Any]:
        return {"ingests": list(self.ingests),
                "files": [str(f.relative_to(root)) if f.is_relative_to(root) else str(f) for f in self.files]}


def _process_alive(marker: dict[str, Any]) -> bool:
    """Whether the process a RUNNING.json names still runs (another host's: assumed alive)."""
    if marker.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(marker.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True
    return True


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
    pq.write_table(table, tmp, **_parquet_options(kwargs))
    os.replace(tmp, path)


@contextmanager
def parquet_writer_atomic(path: Path, schema: pa.Schema, **kwargs: Any) -> Iterator[pq.ParquetWriter]:
    """``write_parquet_atomic`` a table at a time: a ``ParquetWriter`` on a temporary name whose
    tables become row groups, renamed into place when the block ends; removed if it fails, so
    no half-written file is ever at ``path``. Holds one table at a time, not the file's rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with pq.ParquetWriter(tmp, schema, **_parquet_options(kwargs)) as writer:
            yield writer
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _parquet_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The lake's Parquet settings (zstd, page checksums) under the caller's."""
    return {"compression": "zstd", **PAGE_CHECKSUMS, **kwargs}


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

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

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

    # --- what Neo4j holds ---------------------------------------------------------
    @property
    def graph_state_path(self) -> Path:
        return self.root / "neo4j.json"

    def graph_loaded(self, uri: str) -> set[str]:
        """Interaction files (paths inside the lake) already loaded into the Neo4j at ``uri``."""
        try:
            state = json.loads(self.graph_state_path.read_text())
        except (OSError, ValueError):
            return set()
        return set((state.get(uri) or {}).get("files") or [])

    def mark_graph_loaded(self, uri: str, files: list[Path]) -> None:
        """Record ``files`` as loaded into the Neo4j at ``uri`` (after their load committed)."""
        try:
            state = json.loads(self.graph_state_path.read_text())
        except (OSError, ValueError):
            state = {}
        done = set((state.get(uri) or {}).get("files") or [])
        done |= {str(Path(f).relative_to(self.root)) if Path(f).is_relative_to(self.root) else str(f) for f in files}
        state[uri] = {"files": sorted(done), "updated": datetime.now(UTC).isoformat()}
        write_json_atomic(self.graph_state_path, state)

    def graph_missing(self, uri: str) -> list[Path]:
        """The committed interaction files the Neo4j at ``uri`` does not hold yet."""
        loaded = self.graph_loaded(uri)
        return [f for f in self.snapshot().files if str(f.relative_to(self.root)) not in loaded]

    def committed_ingests(self) -> list[str]:
        """Ids of the ingests whose log exists: every file of theirs is in place."""
        if not self.ingests_dir.exists():
            return []
        return sorted(p.stem for p in self.ingests_dir.glob("*.json") if not p.name.startswith("."))

    def snapshot(self) -> Snapshot:
        """The committed ingests and their interaction files, now (see the module doc).

        Files of an ingest still renaming its files into place (its staging folder is there
        and its log, written last, is not) are left out; every other file is in (files of
        other tools, or copied without their log).
        """
        ingests = self.committed_ingests()
        committed = set(ingests)
        files = tuple(f for f in self.interaction_files()
                      if f.stem in committed or not (self.staging_dir / f.stem).exists())
        return Snapshot(tuple(ingests), files)

    def read_interactions(
        self,
        columns: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        files: list[Path] | tuple[Path, ...] | None = None,
    ):
        """The lake's interactions as a Dask DataFrame (lazy; one partition per file).

        ``since``/``until`` prune whole date partitions before reading and then filter rows;
        ``files`` (a snapshot's) limit the read to them.
        """
        import dask.dataframe as dd

        files = self._files_in_range(since, until, files)
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
        files: list[Path] | tuple[Path, ...] | None = None,
    ) -> pa.Table:
        """``read_interactions`` for one process: the rows in range as one Arrow table, read
        by pyarrow's threaded scanner straight into Arrow memory (no pandas copy on the way).
        Page checksums are verified; a damaged file is named (``damaged_file_error``)."""
        import pyarrow.dataset as ds

        files = self._files_in_range(since, until, files)
        schema = lake_columns(columns)
        condition = None
        if since is not None:
            condition = ds.field("timestamp") >= pa.scalar(_as_utc(since), LAKE_SCHEMA.field("timestamp").type)
        if until is not None:
            before = ds.field("timestamp") < pa.scalar(_as_utc(until), LAKE_SCHEMA.field("timestamp").type)
            condition = before if condition is None else condition & before
        dataset = ds.dataset([str(f) for f in files], schema=LAKE_SCHEMA, format=checked_parquet())
        try:
            return dataset.to_table(columns=schema.names, filter=condition).cast(schema)
        except (pa.ArrowException, OSError) as exc:
            raise self.damaged_file_error(files, exc) from None

    def damaged_file_error(self, files, exc: BaseException) -> LakeError:
        """A reading failure as one sentence naming the damaged file and how to set it aside."""
        if isinstance(exc, OSError) and getattr(exc, "errno", None) is not None:
            return LakeError(f"Reading the lake at {self.root} failed: {exc.strerror or exc}.")
        for f in files:
            problem = check_parquet_file(Path(f))
            if problem:
                return LakeError(
                    f"The lake file {f} is damaged ({problem}); set it aside with "
                    f"`rallypoint lake quarantine --lake {self.root} {f}` and re-ingest its source.")
        return LakeError(f"Reading the lake at {self.root} failed ({str(exc).splitlines()[0][:200]}); "
                         f"`rallypoint lake check --lake {self.root}` looks at every file.")

    def _files_in_range(self, since: datetime | None, until: datetime | None,
                        files: list[Path] | tuple[Path, ...] | None = None) -> list[Path]:
        """The committed interaction files (or ``files``) whose date partition may hold rows in range."""
        files = self.interaction_files() if files is None else list(files)
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

        dataset = ds.dataset([str(f) for f in files], schema=LAKE_SCHEMA, format=checked_parquet())
        try:
            return dataset.to_table(columns=columns, filter=filters)
        except (pa.ArrowException, OSError) as exc:
            raise self.damaged_file_error(files, exc) from None

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
        check_run_id(run_id)
        if not (self.runs_dir / run_id / "run.json").exists():
            raise LakeError(f"The lake at {self.root} has no run named {run_id!r}.")
        return run_id

    def read_run_json(self, run_id: str) -> dict[str, Any]:
        return json.loads((self.run_dir(run_id) / "run.json").read_text())

    def read_run_table(self, run_id: str, name: str) -> pa.Table:
        """One of a run's tables (edges, clusters, members, evidence, terms)."""
        schema = RUN_TABLES[name]
        path = self.run_dir(run_id) / f"{name}.parquet"
        if not path.exists():
            return schema.empty_table()
        try:
            return pq.read_table(path, schema=schema, page_checksum_verification=True)
        except (pa.ArrowException, OSError) as exc:
            # no server path in the sentence: the dashboard shows it too
            detail = _first_line(exc).replace(str(path.resolve()), path.name).replace(str(path), path.name)
            raise LakeError(f"The {name} table of run {path.parent.name} is damaged or unreadable "
                            f"({detail}); run `rallypoint detect` again for a new run.") from None

    def write_run_table(self, run_id: str, name: str, table: pa.Table) -> Path:
        """Write a run table, cast to its schema, atomically. run.json is written last."""
        path = self.runs_dir / check_run_id(run_id) / f"{name}.parquet"
        write_parquet_atomic(path, table.select(RUN_TABLES[name].names).cast(RUN_TABLES[name]))
        return path

    @contextmanager
    def run_table_writer(self, run_id: str, name: str) -> Iterator[Callable[[pa.Table], None]]:
        """``write_run_table`` a part at a time: each call of the function it gives writes a table,
        cast to the schema, as the file's next row groups; the file is renamed into place when
        the block ends and never appears if it fails."""
        schema = RUN_TABLES[name]
        path = self.runs_dir / check_run_id(run_id) / f"{name}.parquet"
        with parquet_writer_atomic(path, schema) as writer:
            yield lambda table: writer.write_table(table.select(schema.names).cast(schema))

    def write_run_json(self, run_id: str, payload: dict[str, Any]) -> Path:
        """Commit a run: until run.json exists, the run is not listed."""
        path = self.runs_dir / check_run_id(run_id) / "run.json"
        write_json_atomic(path, payload)
        (path.parent / RUNNING).unlink(missing_ok=True)
        return path

    def begin_run(self, run_id: str) -> Path:
        """Create a run's folder marked as being written by this process (``RUNNING.json``)."""
        folder = self.runs_dir / check_run_id(run_id)
        marker = folder / RUNNING
        if marker.exists() and _process_alive(_read_marker(marker)):
            raise LakeError(f"Another detect is writing the run {run_id!r} in the lake at {self.root}.")
        write_json_atomic(marker, {"pid": os.getpid(), "host": socket.gethostname(),
                                   "started": datetime.now(UTC).isoformat()})
        return folder

    def discard_unfinished_runs(self) -> list[str]:
        """Remove run folders without run.json whose detect is gone (killed or failed).

        A folder marked ``RUNNING.json`` by a live process (this host) or by another host is
        another detect at work and is left alone. Returns the run ids removed.
        """
        removed: list[str] = []
        if not self.runs_dir.exists():
            return removed
        for d in self.runs_dir.iterdir():
            if not d.is_dir() or (d / "run.json").exists():
                continue
            marker = d / RUNNING
            if marker.exists() and _process_alive(_read_marker(marker)):
                continue
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
        return removed


def _read_marker(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"host": socket.gethostname(), "pid": -1}  # unreadable: its writer is gone


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200].rstrip(".")


#: Parquet files the lake writes carry a CRC per page, and readers verify it: a damaged page is
#: an error naming its file instead of wrong values.
PAGE_CHECKSUMS = {"write_page_checksum": True}


def checked_parquet():
    """The dataset format for reading lake files with page checksums verified."""
    import pyarrow.dataset as ds

    return ds.ParquetFileFormat(default_fragment_scan_options=ds.ParquetFragmentScanOptions(
        page_checksum_verification=True))


def check_parquet_file(path: Path, expected_rows: int | None = None) -> str | None:
    """What is wrong with a lake Parquet file (unreadable, a bad page checksum, wrong row
    count), or None. Reads every page: O(file size)."""
    try:
        pf = pq.ParquetFile(path, page_checksum_verification=True)
        rows = 0
        for i in range(pf.num_row_groups):
            rows += pf.read_row_group(i).num_rows
    except (pa.ArrowException, OSError, ValueError) as exc:
        return _first_line(exc)
    if expected_rows is not None and rows != expected_rows:
        return f"{rows} rows where the ingest log says {expected_rows}"
    return None


def parse_time(value: str | datetime | None, name: str) -> datetime | None:
    """A ``--since``/``--until`` bound: ISO 8601 (``Z`` allowed), UTC when it has no zone."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return utc_datetime(value)
    except ValueError:
        raise LakeError(f"--{name} {value!r} is not an ISO 8601 time such as 2021-01-06T00:00Z.") from None


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
