"""The dashboard's carried-over triage status follows a cluster's track."""

from __future__ import annotations

import polars as pl

from rallypoint.dashboard.carryover import cluster_statuses
from rallypoint.dashboard.triage import Decision, TriageStore


def test_a_decision_follows_the_track_of_a_network_that_grew(tmp_path):
    store = TriageStore(tmp_path / "t.sqlite")
    early = [f"a{i}" for i in range(8)]
    grown = early + [f"n{i}" for i in range(32)]  # 8 shared of 40: J = 0.2, below the overlap rule
    other = [f"o{i}" for i in range(10)]
    store.record(Decision("r1", "c7", "escalate", "calls to the Capitol", "Ana", tuple(early)))
    members = pl.DataFrame({"cluster_id": ["c2"] * len(grown) + ["c3"] * len(other), "account_id": grown + other})

    assert cluster_statuses(store.decisions(), "r2", members).height == 0
    tracks = pl.DataFrame({"run_id": ["r1", "r2", "r2"], "cluster_id": ["c7", "c2", "c3"],
                           "track_id": ["t00001", "t00001", "t00002"]})
    statuses = cluster_statuses(store.decisions(), "r2", members, tracks=tracks)
    assert statuses.select("cluster_id", "status", "carried", "from_cluster").rows() == [
        ("c2", "escalated", True, "c7")]
    assert statuses["jaccard"].item() == 0.2
    # another track's cluster does not inherit it, even with an overlap
    tracks = tracks.with_columns(track_id=pl.Series(["t00001", "t00003", "t00002"]))
    assert cluster_statuses(store.decisions(), "r2", members, tracks=tracks).height == 0
