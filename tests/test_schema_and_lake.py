"""The schema is the one contract; the lake commits files atomically and resolves runs."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rallypoint.errors import LakeError
from rallypoint.graph.lake import Lake
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
