"""The schema is the one contract; the lake commits files atomically and resolves runs."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rallypoint.errors import LakeError
from rallypoint.lake import Lake
from rallypoint.schema import CLUSTERS_SCHEMA, LAKE_SCHEMA, RECORD_SCHEMA, TARGETED_ACTIONS


def test_lake_schema_extends_the_canonical_record():
    assert LAKE_SCHEMA.names[: len(RECORD_SCHEMA)] == RECORD_SCHEMA.names
    assert {"urls_original", "extra"} <= set(LAKE_SCHEMA.names)
    assert "post" not in TARGETED_ACTIONS and "repost" in TARGETED_ACTIONS


def test_a_lake_path_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "lake"
    f.write_text("not a folder")
    with pytest.raises(LakeError, match="is a file"):
        Lake(f).ensure()


def test_latest_is_the_newest_finished_run(tmp_path):
    lake = Lake(tmp_path).ensure()
    with pytest.raises(LakeError, match="no detection runs"):
        lake.resolve_run("latest")
    for run in ("20260101T000000Z-aaaaaa", "20260102T000000Z-bbbbbb"):
        lake.write_run_table(run, "clusters", CLUSTERS_SCHEMA.empty_table())
        lake.write_run_json(run, {"run_id": run})
    # an unfinished run (no run.json) is not listed, and is discarded on request
    lake.write_run_table("20270101T000000Z-cccccc", "clusters", CLUSTERS_SCHEMA.empty_table())
    assert lake.resolve_run("latest") == "20260102T000000Z-bbbbbb"
    lake.discard_unfinished_runs()
    assert not (lake.runs_dir / "20270101T000000Z-cccccc").exists()
    assert lake.read_run_table("latest", "clusters").schema.equals(CLUSTERS_SCHEMA)
    with pytest.raises(LakeError, match="no run named"):
        lake.resolve_run("nope")


def test_run_tables_are_cast_to_their_schema(tmp_path):
    lake = Lake(tmp_path).ensure()
    t = pa.table({name: pa.nulls(0, CLUSTERS_SCHEMA.field(name).type) for name in CLUSTERS_SCHEMA.names})
    lake.write_run_table("r1", "clusters", t)
    assert not list((lake.runs_dir / "r1").glob(".*.tmp"))


def test_the_arrow_reader_and_the_dask_reader_give_the_same_rows_in_range(tmp_path):
    # detect reads through pyarrow in-process and through Dask on a cluster: the same rows
    from datetime import UTC, datetime

    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.ingest.synthetic import write_canonical_jsonl

    source = write_canonical_jsonl(tmp_path / "in.jsonl", 30_000, days=6)  # 2.7 days of records
    ingest_sources([source], tmp_path / "lake")
    lake = Lake(tmp_path / "lake")
    columns = ["id", "platform", "timestamp", "hashtags"]
    since, until = datetime(2021, 1, 1, 20, tzinfo=UTC), datetime(2021, 1, 2, 12, tzinfo=UTC)
    for window in ({}, {"since": since}, {"until": until}, {"since": since, "until": until}):
        arrow = lake.read_interactions_arrow(columns=columns, **window)
        dask_rows = pa.Table.from_pandas(lake.read_interactions(columns=columns, **window).compute(),
                                         preserve_index=False)
        assert arrow.schema.names == columns
        assert sorted(arrow["id"].to_pylist()) == sorted(dask_rows["id"].to_pylist())
        times = arrow["timestamp"].to_pylist()
        assert all(since <= t for t in times) if "since" in window else True
        assert all(t < until for t in times) if "until" in window else True
    assert len(lake.interaction_files()) == 3
    assert 0 < lake.read_interactions_arrow(columns=columns, since=since, until=until).num_rows < 30_000
