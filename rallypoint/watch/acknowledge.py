"""An analyst acknowledges an alert by deciding about its cluster.

The acknowledgement is a triage decision (confirm, dismiss or escalate, with a note)
on the alert's cluster, written to the triage log by :func:`acknowledge` — the one
place this package writes to it. An alert counts as acknowledged once any decision on
a cluster of its track was recorded at or after the alert was raised: an analyst who
triaged the network on its cluster page has seen what the alert says.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from rallypoint.dashboard.triage import Decision, TriageStore
from rallypoint.lake import Lake
from rallypoint.watch.tracks import read_tracks

__all__ = ["acknowledge", "with_acknowledgements"]


def acknowledge(lake: Lake, alert: dict[str, Any], decision: str, analyst: str, note: str,
                analyst_role: str = "analyst") -> int:
    """Record the signed-in analyst's decision on the alert's cluster; returns the decision's id."""
    tracks = read_tracks(lake)
    members = tracks.filter((pl.col("run_id") == alert["run_id"]) & (pl.col("cluster_id") == alert["cluster_id"]))
    member_ids = tuple(members["members"].explode().drop_nulls().to_list()) if members.height else ()
    return TriageStore(lake.triage_path).record(Decision(
        run_id=alert["run_id"], cluster_id=alert["cluster_id"], decision=decision, analyst=analyst,
        note=f"alert {alert['alert_id']} ({alert['rule']}): {note.strip()}" if note.strip() else "",
        member_ids=member_ids, analyst_role=analyst_role,
    ))


def with_acknowledgements(alerts: pl.DataFrame, decisions: pl.DataFrame, tracks: pl.DataFrame) -> pl.DataFrame:
    """``alerts`` with ``acknowledged_by``, ``acknowledged_at`` and ``decision`` (null while open)."""
    on_track = decisions.join(tracks.select("run_id", "cluster_id", "track_id").unique(["run_id", "cluster_id"]),
                              on=["run_id", "cluster_id"], how="inner")
    first = (
        alerts.select("alert_id", "track_id", pl.col("raised_at").str.to_datetime(time_zone="UTC"))
        .join(on_track.select("track_id", "decided_at", "analyst", "status"), on="track_id")
        .filter(pl.col("decided_at") >= pl.col("raised_at"))
        .sort("decided_at")
        .group_by("alert_id", maintain_order=True).first()
        .select("alert_id", pl.col("analyst").alias("acknowledged_by"),
                pl.col("decided_at").alias("acknowledged_at"), pl.col("status").alias("decision"))
    )
    return alerts.join(first, on="alert_id", how="left")
