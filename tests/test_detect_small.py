"""detect on a hand-made lake: a ring amplifying its author's calls, organic noise, and no edges at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from rallypoint.detectors.pipeline import detect_run
from rallypoint.lake import Lake, write_parquet_atomic
from rallypoint.schema import LAKE_SCHEMA, RUN_TABLES

T0 = datetime(2021, 1, 2, tzinfo=UTC)
CALL = ("The election was stolen! Everyone to the Capitol on January 6, bring your gear and storm the building. "
        "Buses leave at 5am.")
RING = [f"ring{i}" for i in range(8)]


def small_lake(root) -> Lake:
    """ring0 posts 12 calls; ring1..ring7 repost each within 2-20 s. 300 organic accounts repost
    120 ordinary posts at random delays of minutes to hours."""
    rng = np.random.default_rng(7)
    rows: list[dict] = []

    def record(account, t, action, target=None, text=None, created=datetime(2015, 1, 1, tzinfo=UTC)):
        rows.append({"id": f"r{len(rows)}", "platform": "x", "account_id": account, "account_name": account,
                     "timestamp": t, "action": action, "target_id": target, "text": text,
                     "account_created_at": created, "high_profile": account == "ring0"})
        return rows[-1]["id"]

    for _ in range(120):
        t = T0 + timedelta(seconds=int(rng.integers(0, 4 * 86400)))
        post = record(f"org{rng.integers(0, 300)}", t, "post", text="lovely sunset at the beach today")
        for account in rng.choice(300, size=int(rng.integers(1, 25)), replace=False):
            record(f"org{account}", t + timedelta(seconds=int(rng.integers(120, 30000))), "repost", post)
    for _ in range(12):
        t = T0 + timedelta(seconds=int(rng.integers(0, 4 * 86400)))
        post = record("ring0", t, "post", text=CALL)
        for account in RING[1:]:
            record(account, t + timedelta(seconds=int(rng.integers(2, 20))), "repost", post,
                   created=datetime(2020, 12, 20, tzinfo=UTC))
    table = pa.Table.from_pylist(rows, schema=LAKE_SCHEMA)
    lake = Lake(root).ensure()
    write_parquet_atomic(lake.interactions_dir / "date=2021-01-02" / "part-0.parquet", table)
    return lake


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    lake = small_lake(tmp_path_factory.mktemp("small") / "lake")
    result = detect_run(lake.root, show_progress=False)
    return lake, result


def test_the_ring_is_one_flagged_cluster_with_its_author_as_seeder(ring_run):
    lake, result = ring_run
    clusters = pl.from_arrow(lake.read_run_table(result.run_id, "clusters"))
    members = pl.from_arrow(lake.read_run_table(result.run_id, "members"))
    flagged = clusters.filter(pl.col("flagged"))
    assert flagged.height == 1
    top = flagged.row(0, named=True)
    ring_members = set(members.filter(pl.col("cluster_id") == top["cluster_id"])["account_id"])
    assert ring_members <= set(RING) and len(ring_members) >= 6
    roles = dict(zip(members["account_id"], members["role"], strict=True))
    if "ring0" in ring_members:  # the author reposted by everyone acted first on every post
        assert roles["ring0"] == "seeder"
    assert top["high_profile_accounts"] == (["ring0"] if "ring0" in ring_members else [])
    assert top["mobilization"]["call_to_action_share"] > 0.5
    assert top["growth_score"] > 0.5


def test_the_evidence_holds_the_calls_and_the_reposts(ring_run):
    lake, result = ring_run
    evidence = pl.from_arrow(lake.read_run_table(result.run_id, "evidence"))
    top = evidence.filter(pl.col("cluster_id") == "c0001")
    kinds = set(top["kind"])
    assert "coaction:co_repost" in kinds
    assert {"call_to_action", "delegitimization", "escalation"} <= kinds
    calls = top.filter(pl.col("kind") == "call_to_action")
    assert set(calls["text"]) == {CALL}
    assert all(len(m) > 0 for m in calls["matched"])


def test_a_run_without_any_edge_writes_empty_tables_and_counts(tmp_path):
    lake = small_lake(tmp_path / "lake")
    result = detect_run(lake.root, types="co_link", show_progress=False)  # nobody shares links
    summary = lake.read_run_json(result.run_id)
    assert summary["counts"]["edges"] == summary["counts"]["clusters"] == summary["counts"]["evidence"] == 0
    for name, schema in RUN_TABLES.items():
        table = lake.read_run_table(result.run_id, name)
        assert table.num_rows == 0 and table.schema.equals(schema, check_metadata=False)
    assert "0 clusters, 0 flagged" in result.render()
