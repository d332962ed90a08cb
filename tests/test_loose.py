"""Loose groups (rallypoint.detectors.loose): the accounts left out of every cluster, grouped by
the pairs that just missed the pair test, without touching the clusters found before."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from rallypoint.detectors.coaction import build_coaction_edges
from rallypoint.detectors.communities import find_communities
from rallypoint.detectors.loose import LOOSE_SIGNIFICANCE, group_loose_pairs
from rallypoint.detectors.options import DetectOptions, DetectParameterError
from rallypoint.schema import EDGES_SCHEMA
from rallypoint.watch.watcher import WatchOptions


def edges(rows: list[tuple[str, str, int, float]]) -> pa.Table:
    """EDGES_SCHEMA rows from (a, b, weight, p_value): ``weight`` meetings on as many posts of
    ``co_engage`` (so a loose one met on two posts in one type, as co-action keeps them);
    strength 30 (CPM weight 1)."""
    n = len(rows)
    per_type = [[{"type": "co_engage", "weight": r[2], "n_shared": r[2], "first_ts": None, "last_ts": None}]
                for r in rows]
    return pa.table({
        "account_a": [r[0] for r in rows], "account_b": [r[1] for r in rows],
        "weight": [r[2] for r in rows], "n_shared": [r[2] for r in rows],
        "types": pa.array(per_type, EDGES_SCHEMA.field("types").type),
        "first_ts": pa.nulls(n, EDGES_SCHEMA.field("first_ts").type),
        "last_ts": pa.nulls(n, EDGES_SCHEMA.field("last_ts").type),
        "expected_weight": [0.07] * n, "p_value": [r[3] for r in rows], "strength": [30.0] * n,
    }, schema=EDGES_SCHEMA)


def clusters_of(communities) -> list[set[str]]:
    members = pl.from_arrow(communities.members())
    return sorted((set(g["account_id"]) for _, g in members.group_by("community")), key=min)


def test_left_out_accounts_are_grouped_and_clusters_stay_as_they_were():
    strict = edges([("a", "b", 3, 0.001), ("a", "c", 3, 0.001), ("b", "c", 4, 0.0005), ("p", "q", 3, 0.002)])
    loose = edges([("x", "y", 2, 0.03), ("x", "z", 2, 0.03), ("y", "z", 2, 0.04),
                   ("a", "x", 2, 0.03),  # a is in a cluster: never regrouped
                   ("q", "x", 2, 0.02)])  # q is in no cluster (its pair is too small): it may join
    found = find_communities(strict)
    assert clusters_of(found) == [{"a", "b", "c"}]
    actions = pl.DataFrame({"type": ["co_reply"] * 3, "target": ["t"] * 3, "account_id": ["x", "a", "y"],
                            "id": ["1", "2", "3"], "timestamp": [0, 1, 2]})
    result = group_loose_pairs(found, strict, loose, actions)
    groups = clusters_of(result.communities)
    assert groups[0] == {"a", "b", "c"}
    assert {"x", "y", "z"} <= groups[1] and "a" not in groups[1]
    assert result.grouped == len(groups[1])
    # the run's edges: the significant ones as they were, then loose edges inside the group only
    assert result.edges.slice(0, strict.num_rows).equals(strict)
    added = result.edges.slice(strict.num_rows).to_pylist()
    assert added and all(e["p_value"] > 0.01 and {e["account_a"], e["account_b"]} <= groups[1] for e in added)
    assert set(result.actions["account_id"]) == {"x", "y"}  # a's loose action is not a group's
    # the graph and membership line up with the run's edges, as the roles and facts read them
    graph = result.communities.graph
    assert len(graph.source) == len(graph.target) == result.edges.num_rows
    assert len(graph.accounts) == len(result.communities.membership)
    ids = graph.accounts.to_pylist()
    for row, edge in enumerate(result.edges.to_pylist()):
        assert {ids[graph.source[row]], ids[graph.target[row]]} == {edge["account_a"], edge["account_b"]}


def test_a_pair_met_once_per_type_is_never_grouped():
    """One repost each is a co_repost and a co_engage meeting: weight 2 on one act, p about 0.02
    on real data. Co-action keeps no such loose pair, so it is never grouped; a handful that
    reposted two posts together is."""
    records = _reposts([["x1", "x2", "x3"], ["y1", "y2", "y3"], ["y1", "y2", "y3"]])
    options = {"types": ["co_repost", "co_engage"], "window": "600s", "min_participation": 1}
    # every pair the null model tests passes 1.0: the x pairs are there, met once in each type
    every = {(e["account_a"], e["account_b"]): e for e in
             build_coaction_edges(records, significance=1.0, **options).edges.to_pylist()}
    assert every[("x1", "x2")]["weight"] == 2
    assert [t["n_shared"] for t in every[("x1", "x2")]["types"]] == [1, 1]
    # nothing passes the pair test, everything tested is loose but for the rule
    result = build_coaction_edges(records, significance=1e-12, loose_significance=1.0, **options)
    loose = {(e["account_a"], e["account_b"]) for e in result.loose_edges.to_pylist()}
    assert ("y1", "y2") in loose and not {p for p in loose if p[0].startswith("x") or p[1].startswith("x")}
    found = find_communities(result.edges)
    grouped = group_loose_pairs(found, result.edges, result.loose_edges, result.loose_actions_frame)
    groups = clusters_of(grouped.communities)
    assert any({"y1", "y2", "y3"} <= g for g in groups)
    assert not any(a.startswith("x") for g in groups for a in g)


def test_nothing_loose_changes_nothing():
    strict = edges([("a", "b", 3, 0.001), ("a", "c", 3, 0.001), ("b", "c", 4, 0.0005)])
    found = find_communities(strict)
    result = group_loose_pairs(found, strict, edges([]), pl.DataFrame(
        schema={"type": pl.String, "target": pl.String, "account_id": pl.String, "id": pl.String,
                "timestamp": pl.Int64}))
    assert result.communities is found and result.grouped == 0 and result.edges.equals(strict)


def _reposts(handfuls: list[list[str]]) -> pa.Table:
    """Posts a day apart, the k-th reposted within minutes by the k-th handful of accounts, amid
    ordinary reposts of ordinary posts spread over hours."""
    rng = np.random.default_rng(3)
    rows = []
    start = 1_672_531_200
    for k, handful in enumerate(handfuls):
        post = start + k * 86_400
        rows.append((f"call{k}", "org", post, "post", None))
        rows += [(f"a{k}{m}", m, post + 60 + int(rng.integers(0, 300)), "repost", f"call{k}") for m in handful]
    for j in range(200):
        post = start + int(rng.integers(0, len(handfuls) * 86_400))
        rows.append((f"o{j}", f"u{j}", post, "post", None))
        rows += [(f"o{j}r{i}", f"u{int(rng.integers(0, 200))}", post + int(rng.integers(60, 20_000)), "repost",
                  f"o{j}") for i in range(3)]
    return pa.table({
        "id": [r[0] for r in rows], "account_id": [r[1] for r in rows],
        "timestamp": pa.array([r[2] * 1_000_000 for r in rows], pa.timestamp("us", tz="UTC")),
        "action": [r[3] for r in rows], "target_id": [r[4] for r in rows],
    })


def test_coaction_keeps_loose_pairs_aside_without_changing_its_edges():
    records = _reposts([["m1", "m2", "m3"], ["m1", "m2", "m4"], ["m3", "m4", "m5"]])
    plain = build_coaction_edges(records, types="co_repost", window="600s", min_participation=1)
    both = build_coaction_edges(records, types="co_repost", window="600s", min_participation=1,
                                loose_significance=1.0)
    assert both.edges.equals(plain.edges)
    assert both.actions_frame.equals(plain.actions_frame)
    loose = both.loose_edges.to_pylist()
    assert loose and all(0.01 < e["p_value"] <= 1.0 for e in loose)
    kept = {(e["account_a"], e["account_b"]) for e in plain.edges.to_pylist()}
    assert not kept & {(e["account_a"], e["account_b"]) for e in loose}
    behind = set(both.loose_actions_frame["account_id"])
    assert behind == {e["account_a"] for e in loose} | {e["account_b"] for e in loose}
    with pytest.raises(Exception, match="loose_significance"):
        build_coaction_edges(records, types="co_repost", loose_significance=0.005)


def test_the_option_is_checked_and_recorded():
    assert DetectOptions().loose_groups is False and DetectOptions().significance < LOOSE_SIGNIFICANCE
    # early warning groups them: watch's cycles detect with them unless told otherwise
    assert WatchOptions().detect.loose_groups is True
    assert WatchOptions.from_cli(loose_groups=False).detect.loose_groups is False
    assert DetectOptions(loose_groups=False).parameters()["loose_groups"] is False
    with pytest.raises(DetectParameterError, match="loose_groups"):
        DetectOptions(loose_groups="yes")


@pytest.mark.slow
def test_detect_adds_loose_groups_and_keeps_every_cluster_it_found_without_them(tmp_path):
    from rallypoint.detectors.pipeline import detect_run
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.lake import Lake
    from rallypoint.simulate import simulate_world

    simulate_world(tmp_path / "data", accounts=1500, days=10, seed=12)
    ingest_sources(sorted((tmp_path / "data").glob("interactions-*")), tmp_path / "lake", show_progress=False)
    lake = Lake(tmp_path / "lake")
    runs = {loose: detect_run(lake, DetectOptions(loose_groups=loose), show_progress=False).run_id
            for loose in (False, True)}

    def member_sets(run_id: str) -> set[frozenset[str]]:
        members = pl.read_parquet(lake.runs_dir / run_id / "members.parquet")
        return {frozenset(g["account_id"]) for _, g in members.group_by("cluster_id")}

    without, with_loose = member_sets(runs[False]), member_sets(runs[True])
    assert without < with_loose
    summary = json.loads((lake.runs_dir / runs[True] / "run.json").read_text())
    added = with_loose - without
    assert summary["loose_grouped_accounts"] == sum(len(s) for s in added) > 0
    assert json.loads((lake.runs_dir / runs[False] / "run.json").read_text())["loose_grouped_accounts"] == 0
    edges_loose = pl.read_parquet(lake.runs_dir / runs[True] / "edges.parquet")
    edges_plain = pl.read_parquet(lake.runs_dir / runs[False] / "edges.parquet")
    assert edges_loose.filter(pl.col("p_value") <= 0.01).sort("account_a", "account_b").equals(
        edges_plain.sort("account_a", "account_b"))
    grouped = set().union(*added)
    loose_edges = edges_loose.filter(pl.col("p_value") > 0.01)
    assert loose_edges.height and loose_edges["account_a"].is_in(list(grouped)).all()
