"""Each cluster's bursts and synchrony, and which clusters are worth them.

What it computes
    For a cluster's co-action evidence rows: Kleinberg bursts of its one-minute counts
    and of its most co-shared target's (:func:`rallypoint.detectors.bursts.detect_activity_bursts`),
    how many of its co-actions fall inside a level-1 burst, and how synchronized its
    members are there (:func:`rallypoint.detectors.bursts.burst_synchrony`).
    :func:`burst_candidates` names the clusters whose bursts are computed: those with harm
    evidence (bursts only scale a score that rests on harm) and the largest others (for display).

Complexity
    Per cluster, O(span in minutes) for the automaton plus O(n log n) for its n co-actions.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from rallypoint.detectors.coaction.co_engage import TYPE as ENGAGE_TYPE
from rallypoint.detectors.evidence import COACTION_PREFIX
from rallypoint.detectors.options import THREADS
from rallypoint.schema import HARM_EVIDENCE_KINDS

BURST_BIN = "1min"
#: Clusters without harm evidence whose bursts are still computed (the largest, for display).
BURST_LARGEST_CLUSTERS = 25

BURSTS_FRAME_SCHEMA = {
    "cluster_id": pl.Int64,
    "bursts": pl.List(pl.Struct({"start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"),
                                 "level": pl.Int64})),
    "n_coactions_in_bursts": pl.Int64,
    "n_coaction_accounts": pl.Int64,
    "main_burst_accounts": pl.Int64,
    "main_burst_start": pl.Datetime("us", "UTC"),
    "main_burst_end": pl.Datetime("us", "UTC"),
    "median_member_gap_s": pl.Float64,
    "top_target_type": pl.String,
    "top_target": pl.String,
    "top_target_count": pl.Int64,
    "top_target_in_bursts": pl.Int64,
    "top_target_burst_start": pl.Datetime("us", "UTC"),
    "top_target_burst_end": pl.Datetime("us", "UTC"),
}


def burst_candidates(evidence: pl.DataFrame, largest: int = BURST_LARGEST_CLUSTERS) -> set[int]:
    """Clusters whose bursts are computed: those with any harm evidence, and the largest ones.

    Bursts only scale a score that rests on harm (no harm, score 0 whatever the
    bursts), and Kleinberg's automaton on one-minute bins costs O(span in minutes)
    per cluster, so clusters without harm evidence beyond the ``largest`` (by
    co-actions, for display) are skipped.
    """
    harmful = evidence.filter(pl.col("kind").is_in(list(HARM_EVIDENCE_KINDS)))["cluster_id"].unique().to_list()
    sizes = (evidence.filter(pl.col("kind").str.starts_with(COACTION_PREFIX)).group_by("cluster_id").len()
             .sort(["len", "cluster_id"], descending=[True, False]).head(largest))
    return set(harmful) | set(sizes["cluster_id"].to_list())


def cluster_bursts(evidence: pl.DataFrame, only: set[int] | None = None) -> pl.DataFrame:
    """Per cluster: bursts of its co-actions and of its most co-shared target, and synchrony.

    Bursts are the signals module's Kleinberg bursts of one-minute counts
    (``detect_activity_bursts``); ``n_coactions_in_bursts`` counts co-action evidence rows
    inside a level-1 burst (start inclusive, end exclusive); synchrony comes from
    ``burst_synchrony``: how many co-acting members acted inside the main burst and
    the median gap between consecutive actions of different members there.
    """
    coactions = evidence.filter(pl.col("kind").str.starts_with(COACTION_PREFIX))
    if only is not None:
        coactions = coactions.filter(pl.col("cluster_id").is_in(sorted(only)))
    groups = [(cluster_id, part) for (cluster_id,), part in coactions.group_by("cluster_id", maintain_order=True)]
    # a cluster's automaton and its polars steps release the GIL: clusters are taken on THREADS threads
    with ThreadPoolExecutor(THREADS) as pool:
        rows = list(pool.map(lambda group: _cluster_row(*group), groups))
    if not rows:
        return pl.DataFrame(schema=BURSTS_FRAME_SCHEMA)
    return pl.DataFrame(rows, schema=BURSTS_FRAME_SCHEMA)


def _cluster_row(cluster_id: int, part: pl.DataFrame) -> dict[str, Any]:
    """One cluster's row of :func:`cluster_bursts` from its co-action evidence rows."""
    from rallypoint.detectors.bursts import burst_synchrony, detect_activity_bursts

    times = part["timestamp"].to_numpy()
    found = detect_activity_bursts(times, bin=BURST_BIN)
    synchrony = burst_synchrony(times, part["account_id"].to_numpy(), found)
    # ties broken on the target, then the type: a repost is a co_repost and a co_engage
    # action on the same post, and the narrower type names it (group_by's order is not fixed)
    top = (part.group_by("kind", "target").agg(n=pl.len())
           .sort(pl.col("n"), pl.col("target"), pl.col("kind") == COACTION_PREFIX + ENGAGE_TYPE, pl.col("kind"),
                 descending=[True, False, False, False]).row(0, named=True))
    target_times = part.filter((pl.col("kind") == top["kind"]) & (pl.col("target") == top["target"])
                               )["timestamp"].to_numpy()
    target_bursts = [b for b in detect_activity_bursts(target_times, bin=BURST_BIN) if b["level"] == 1]
    main_target_burst = max(target_bursts, key=lambda b: _count_inside(target_times, [b]), default=None)
    return {
        "cluster_id": cluster_id,
        "bursts": found,
        "n_coactions_in_bursts": _count_inside(times, [b for b in found if b["level"] == 1]),
        "n_coaction_accounts": synchrony["n_members"],
        "main_burst_accounts": round(synchrony["members_in_main_burst_share"] * synchrony["n_members"]),
        "main_burst_start": synchrony["main_burst_start"],
        "main_burst_end": synchrony["main_burst_end"],
        "median_member_gap_s": synchrony["median_member_gap_s"],
        "top_target_type": top["kind"].removeprefix(COACTION_PREFIX),
        "top_target": top["target"],
        "top_target_count": top["n"],
        "top_target_in_bursts": _count_inside(target_times, target_bursts),
        "top_target_burst_start": main_target_burst["start"] if main_target_burst else None,
        "top_target_burst_end": main_target_burst["end"] if main_target_burst else None,
    }


def _count_inside(times: np.ndarray, bursts: list[dict[str, Any]]) -> int:
    """Actions with ``start <= t < end`` of a level-1 burst (the bursts do not overlap)."""
    if not bursts:
        return 0
    t = times.astype("datetime64[us]").astype(np.int64)
    starts = np.array([_epoch_us(b["start"]) for b in bursts])
    ends = np.array([_epoch_us(b["end"]) for b in bursts])
    order = np.argsort(starts)
    starts, ends = starts[order], ends[order]
    which = np.searchsorted(starts, t, side="right") - 1
    inside = (which >= 0) & (t < ends[np.clip(which, 0, None)])
    return int(inside.sum())


def _epoch_us(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000) if value.tzinfo else int(
        value.replace(tzinfo=UTC).timestamp() * 1_000_000)


__all__ = ["BURSTS_FRAME_SCHEMA", "burst_candidates", "cluster_bursts"]
