"""Reading a lake for the dashboard, cached per run and file version.

Every loader takes the lake root, the run id and a *version* (the newest mtime of
the files read), so Streamlit's caches serve repeated page views from memory and a
rewritten run or a new triage decision is picked up at once. Tables come back as
polars DataFrames, read straight from Arrow (no row-wise conversion). A run's tables are
held once for every session (``st.cache_resource``: never copied, and never mutated —
polars operations return new frames), so a page does not unpickle a copy of the run's
edges on every rerun; the server's warm-up (:mod:`rallypoint.dashboard.warm`) fills the
same caches before the first page.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pyarrow.compute as pc
import pyarrow.dataset as ds
import streamlit as st

from rallypoint.dashboard.carryover import cluster_statuses, with_status
from rallypoint.dashboard.env import LAKE_ENV, NEO4J_ENV
from rallypoint.dashboard.triage import ChainState, TriageStore
from rallypoint.lake import Lake
from rallypoint.schema import LAKE_SCHEMA


def lake_from_env() -> Lake:
    """The lake the server was started on (``rallypoint dashboard --lake``)."""
    return Lake(os.environ.get(LAKE_ENV, "lake"))


def neo4j_uri_from_env() -> str | None:
    return os.environ.get(NEO4J_ENV) or None


def run_version(lake: Lake, run_id: str) -> float:
    """Newest mtime of a run's files: the cache key part that changes when it is rewritten."""
    folder = lake.run_dir(run_id)
    return max((p.stat().st_mtime for p in folder.iterdir()), default=0.0)


@st.cache_resource(max_entries=32, show_spinner=False)
def run_frame(root: str, run_id: str, name: str, version: float) -> pl.DataFrame:
    """One run table (clusters, members, edges, evidence) as a DataFrame."""
    del version  # part of the cache key only
    return pl.from_arrow(Lake(root).read_run_table(run_id, name))


def run_table(lake: Lake, run_id: str, name: str) -> pl.DataFrame:
    return run_frame(str(lake.root), run_id, name, run_version(lake, run_id))


@st.cache_data(max_entries=16, show_spinner=False)
def decisions_frame(root: str, version: tuple[int, ...]) -> pl.DataFrame:
    del version
    return TriageStore(Lake(root).triage_path).decisions()


def decisions(lake: Lake) -> pl.DataFrame:
    """Every triage decision in the lake (all runs), oldest first."""
    store = TriageStore(lake.triage_path)
    return decisions_frame(str(lake.root), store.version())


@st.cache_data(max_entries=4, show_spinner=False)
def tracks_frame(root: str, version: float) -> pl.DataFrame:
    del version
    from rallypoint.watch.tracks import read_tracks

    return read_tracks(Lake(root), columns=["run_id", "cluster_id", "track_id"])


def tracks(lake: Lake) -> pl.DataFrame:
    """Which track each watched run's cluster is on (empty without ``rallypoint watch``)."""
    return tracks_frame(str(lake.root), _tracks_version(lake))


def _tracks_version(lake: Lake) -> float:
    from rallypoint.watch.tracks import TRACKS_FILE

    path = Path(lake.root) / TRACKS_FILE
    return path.stat().st_mtime if path.exists() else 0.0


def clusters_with_status(lake: Lake, run_id: str) -> pl.DataFrame:
    """The run's clusters with their triage status (own, carried over by overlap or along a track)
    and current assignee, computed once per version of the run, the triage log and the tracks."""
    return statuses_frame(str(lake.root), run_id, run_version(lake, run_id), TriageStore(lake.triage_path).version(),
                          _tracks_version(lake))


# a resource, not data: the frame is shared, never copied (every page of the run reads it, the queue on
# each rerun) and never mutated; any new triage event or track changes the key
@st.cache_resource(max_entries=8, show_spinner=False)
def statuses_frame(root: str, run_id: str, run_version: float, triage_version: tuple[int, ...],
                   tracks_version: float) -> pl.DataFrame:
    """:func:`clusters_with_status`, cached (the versions are part of the key only)."""
    del run_version, triage_version, tracks_version
    lake = Lake(root)
    clusters = run_table(lake, run_id, "clusters")
    members = run_table(lake, run_id, "members")
    assigned = assignments(lake).filter(pl.col("run_id") == run_id).drop("run_id")
    return with_status(clusters, cluster_statuses(decisions(lake), run_id, members, tracks=tracks(lake))).join(
        assigned, on="cluster_id", how="left")


@st.cache_data(max_entries=16, show_spinner=False)
def events_frame(root: str, kinds: tuple[str, ...], version: tuple[int, ...]) -> pl.DataFrame:
    del version
    return TriageStore(Lake(root).triage_path).events(kinds)


def events(lake: Lake, *kinds: str) -> pl.DataFrame:
    """The triage log's events of these kinds (all runs), oldest first."""
    store = TriageStore(lake.triage_path)
    return events_frame(str(lake.root), kinds, store.version())


def assignments(lake: Lake) -> pl.DataFrame:
    """Each cluster's current assignee (the newest assignment; an empty one unassigns), by run."""
    latest = events(lake, "assign").group_by("run_id", "subject").last()
    return latest.select(
        "run_id", pl.col("subject").alias("cluster_id"),
        pl.col("payload").str.json_decode(pl.Struct({"assignee": pl.String})).struct.field("assignee"),
        pl.col("actor").alias("assigned_by"), pl.col("at").alias("assigned_at"),
    ).filter(pl.col("assignee") != "")


@st.cache_data(max_entries=4, show_spinner=False)
def chain_state_of(root: str, version: tuple[int, ...]) -> ChainState:
    del version
    return TriageStore(Lake(root).triage_path).verify()


def chain_state(lake: Lake) -> ChainState:
    """The triage log's hash chain checked (once per change of the log)."""
    store = TriageStore(lake.triage_path)
    return chain_state_of(str(lake.root), store.version())


# no spinner of its own: the warm-up calls it outside any page (a spinner there only logs warnings);
# the timeline tab shows one around it
@st.cache_data(max_entries=32, show_spinner=False)
def interactions_of(root: str, accounts: tuple[str, ...], version: float, limit: int | None = None) -> pl.DataFrame:
    """The lake's records of ``accounts`` (pushed down to Parquet as a filter)."""
    del version
    lake = Lake(root)
    files = lake.interaction_files()
    columns = ["id", "platform", "account_id", "timestamp", "action", "target_id", "text", "urls", "hashtags", "lang"]
    if not files:
        return pl.from_arrow(LAKE_SCHEMA.empty_table().select(columns))
    dataset = ds.dataset([str(f) for f in files], schema=LAKE_SCHEMA, format="parquet")
    table = dataset.to_table(columns=columns, filter=pc.field("account_id").isin(list(accounts)))
    frame = pl.from_arrow(table).sort("timestamp", descending=True)
    return frame.head(limit) if limit else frame


@st.cache_data(max_entries=32, show_spinner=False)
def records_by_id(root: str, ids: tuple[str, ...], version: float) -> pl.DataFrame:
    """The lake's records with these ``ids`` (a filter pushed down to Parquet): who posted what, when."""
    del version
    files = Lake(root).interaction_files()
    columns = ["id", "platform", "account_id", "account_name", "timestamp", "text"]
    if not files or not ids:
        return pl.from_arrow(LAKE_SCHEMA.empty_table().select(columns))
    dataset = ds.dataset([str(f) for f in files], schema=LAKE_SCHEMA, format="parquet")
    table = dataset.to_table(columns=columns, filter=pc.field("id").isin(list(ids)))
    return pl.from_arrow(table).unique("id", keep="first").sort("id")


@st.cache_data(max_entries=32, show_spinner=False)
def account_names(root: str, accounts: tuple[str, ...], version: float) -> dict[str, str]:
    """The handle the lake's records give each of ``accounts`` (a filter pushed down to Parquet);
    accounts without a named record are left out."""
    del version
    files = Lake(root).interaction_files()
    if not files or not accounts:
        return {}
    dataset = ds.dataset([str(f) for f in files], schema=LAKE_SCHEMA, format="parquet")
    table = dataset.to_table(columns=["account_id", "account_name"],
                             filter=pc.field("account_id").isin(list(accounts)) & pc.field("account_name").is_valid())
    named = pl.from_arrow(table).filter(pl.col("account_name") != "").unique("account_id", keep="first")
    return dict(named.iter_rows())


def interactions_version(lake: Lake) -> float:
    files = lake.interaction_files()
    return max((f.stat().st_mtime for f in files), default=0.0) + len(files)


def ingest_logs(lake: Lake) -> list[dict]:
    """The ingest summaries (``LAKE/ingests/*.json``), oldest first; unreadable ones say so."""
    logs = []
    for path in sorted(lake.ingests_dir.glob("*.json")) if lake.ingests_dir.exists() else []:
        try:
            logs.append(json.loads(path.read_text()) | {"_file": path.name})
        except (OSError, ValueError) as exc:
            logs.append({"_file": path.name, "_error": f"unreadable: {exc}"})
    return logs


def rejected_by_reason(lake: Lake) -> pl.DataFrame:
    """Rejected records counted by ingest, source and reason."""
    files = sorted(Path(lake.rejected_dir).glob("**/*.parquet")) if lake.rejected_dir.exists() else []
    files = [f for f in files if not f.name.startswith(".")]
    if not files:
        return pl.DataFrame(schema={"ingest": pl.String, "source": pl.String, "reason": pl.String, "records": pl.UInt32})
    frames = [
        pl.read_parquet(f, columns=["source", "reason"]).with_columns(
            pl.lit(f.relative_to(lake.rejected_dir).parts[0]).alias("ingest")
        )
        for f in files
    ]
    return (
        pl.concat(frames)
        .group_by("ingest", "source", "reason")
        .agg(pl.len().alias("records"))
        .sort(["ingest", "records"], descending=[False, True])
    )


def runs_overview(lake: Lake) -> list[dict]:
    """Every finished run's run.json, newest first."""
    out = []
    for run_id in reversed(lake.run_ids()):
        try:
            out.append({"run_id": run_id} | lake.read_run_json(run_id))
        except (OSError, ValueError) as exc:
            out.append({"run_id": run_id, "_error": f"run.json unreadable: {exc}"})
    return out
