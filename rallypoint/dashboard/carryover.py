"""Carry triage decisions over to the same network in another run.

Each detection run gives its clusters new ids, so a decision made on run *R1*'s
cluster must be found again for run *R2*. Two clusters are taken to be the same
network when their member sets overlap with a Jaccard index
``|A ∩ B| / |A ∪ B|`` of at least ``threshold`` (default 0.5: at least half of
the union is shared; a network that kept at least half of its accounts and at
most doubled keeps its decision, and since a run's clusters are disjoint, at most
one of them can match, barring an exact tie at 0.5). This is the same matching rule community-tracking work uses between
snapshots (Greene, Doyle & Cunningham, "Tracking the evolution of communities in
dynamic social networks", ASONAM 2010).

When ``rallypoint watch`` runs, a cluster also has a *track* (``LAKE/tracks.parquet``,
:mod:`rallypoint.watch.tracks`): a decision carries over to every later cluster of the
same track too, however much the network grew in between (a network that went from 8
to 40 accounts has Jaccard 0.2 with its earlier self, yet it is the one decided on).

A cluster's status is, in order: the newest decision recorded on that very cluster;
else the newest decision, on another run, whose cluster matches; else
``unreviewed``.

Complexity: one hash join of the decided clusters' members with the run's members,
``O(M_decided + M_run + P)`` where ``P`` is the number of (decision, cluster)
pairs sharing at least one account.
"""

from __future__ import annotations

import polars as pl

from rallypoint.dashboard.triage import UNREVIEWED

#: Default Jaccard index above which two clusters are the same network.
SAME_NETWORK_JACCARD = 0.5

STATUS_COLUMNS: dict[str, pl.DataType] = {
    "cluster_id": pl.String,
    "status": pl.String,
    "analyst": pl.String,
    "note": pl.String,
    "decided_at": pl.Datetime("us", "UTC"),
    "from_run": pl.String,
    "from_cluster": pl.String,
    "jaccard": pl.Float64,
    "carried": pl.Boolean,
}


def cluster_statuses(
    decisions: pl.DataFrame,
    run_id: str,
    members: pl.DataFrame,
    threshold: float = SAME_NETWORK_JACCARD,
    tracks: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The triage status of every cluster of ``run_id`` that has one.

    ``decisions`` is :meth:`TriageStore.decisions` (all runs); ``members`` has
    ``cluster_id`` and ``account_id`` of the run. Clusters without a decision are
    absent (callers fill in ``unreviewed``). ``tracks`` (``run_id``, ``cluster_id``,
    ``track_id``), when given, carries decisions along tracks as well.
    """
    latest = decisions.sort("decision_id").group_by(["run_id", "cluster_id"]).last()
    own = latest.filter(pl.col("run_id") == run_id).select(
        "cluster_id", "status", "analyst", "note", "decided_at",
        pl.col("run_id").alias("from_run"), pl.col("cluster_id").alias("from_cluster"),
        pl.lit(1.0).alias("jaccard"), pl.lit(False).alias("carried"),
    )
    earlier = latest.filter(pl.col("run_id") != run_id).with_columns(
        pl.col("member_ids").list.len().alias("n_decided")
    )
    current = members.select("cluster_id", "account_id").unique()
    sizes = current.group_by("cluster_id").agg(pl.len().alias("n_current"))
    shared = (
        earlier.select("decision_id", "n_decided", pl.col("member_ids").alias("account_id"))
        .explode("account_id")
        .join(current, on="account_id")
        .group_by("decision_id", "n_decided", "cluster_id")
        .agg(pl.len().alias("n_shared"))
        .join(sizes, on="cluster_id")
        .with_columns(
            (pl.col("n_shared") / (pl.col("n_decided") + pl.col("n_current") - pl.col("n_shared"))).alias("jaccard")
        )
    )
    if tracks is not None and tracks.height:
        keys = tracks.select("run_id", "cluster_id", "track_id").unique(["run_id", "cluster_id"])
        decided_track = earlier.join(keys, on=["run_id", "cluster_id"]).select("decision_id", "track_id")
        current_track = keys.filter(pl.col("run_id") == run_id).select(
            "cluster_id", pl.col("track_id").alias("current_track"))
        shared = (shared.join(decided_track, on="decision_id", how="left")
                  .join(current_track, on="cluster_id", how="left")
                  .filter((pl.col("jaccard") >= threshold) | (pl.col("track_id") == pl.col("current_track"))))
    else:
        shared = shared.filter(pl.col("jaccard") >= threshold)
    carried = (
        shared.join(
            earlier.select(
                "decision_id", "status", "analyst", "note", "decided_at",
                pl.col("run_id").alias("from_run"), pl.col("cluster_id").alias("from_cluster"),
            ),
            on="decision_id",
        )
        .filter(~pl.col("cluster_id").is_in(own["cluster_id"].implode()))
        .sort(["decided_at", "jaccard"], descending=True)
        .group_by("cluster_id", maintain_order=True)
        .first()
        .with_columns(pl.lit(True).alias("carried"))
    )
    return pl.concat(
        [own.cast(STATUS_COLUMNS), carried.select(list(STATUS_COLUMNS)).cast(STATUS_COLUMNS)]
    )


def with_status(clusters: pl.DataFrame, statuses: pl.DataFrame) -> pl.DataFrame:
    """``clusters`` with the status columns joined on; undecided clusters are ``unreviewed``."""
    return clusters.join(statuses, on="cluster_id", how="left").with_columns(
        pl.col("status").fill_null(UNREVIEWED), pl.col("carried").fill_null(False)
    )
