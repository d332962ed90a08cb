"""Tracks: one network followed across detection runs.

What it computes
    Each run gives its clusters fresh ids. :func:`link_run` gives every cluster of a
    new run a ``track_id``: the track of the previous run's cluster it is matched
    with, or a new one. Two clusters *can* match when their member sets overlap
    enough — a Jaccard index ``|A ∩ B| / |A ∪ B|`` of at least ``min_jaccard``, or
    one holding at least ``min_containment`` of the other (a network that tripled
    while it recruited keeps its track) — and among those candidates the matching
    is the one-to-one assignment with the largest total Jaccard (the assignment
    problem, solved exactly by scipy's ``linear_sum_assignment``, the
    Jonker–Volgenant algorithm). This is the snapshot-matching view of community
    tracking (Greene, Doyle & Cunningham, ASONAM 2010), with an optimal rather
    than greedy matching.

    Splits and merges are recorded, not hidden: a new cluster that is not matched
    but took at least ``min_containment`` of its members from a previous cluster
    starts a new track with ``event = "split"`` and that track in
    ``related_tracks``; a previous cluster that was not matched but put at least
    ``min_containment`` of its members into a new cluster ended in a merge: the
    new cluster's row lists it in ``related_tracks`` (its own event stays
    ``continued``, or ``merged`` when it has no track of its own to continue).

Parameters
    :class:`TrackingOptions`, validated once.

Complexity
    One hash join of the two runs' memberships, ``O(M_prev + M_new + P)`` for the
    ``P`` overlapping cluster pairs; the assignment is cubic in the size of each
    connected component of the candidate graph, which is a handful of clusters
    (a run's clusters are disjoint, so a cluster overlaps few others).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from rallypoint.errors import RallypointError
from rallypoint.lake import Lake, write_parquet_atomic

__all__ = ["TRACKS_FILE", "TRACK_COLUMNS", "TrackingOptions", "link_run", "read_tracks", "append_tracks"]

#: Where the tracks of every watched run live, in the lake's root.
TRACKS_FILE = "tracks.parquet"

TRACK_COLUMNS: dict[str, pl.DataType] = {
    "track_id": pl.String,
    "run_id": pl.String,
    "cluster_id": pl.String,
    "as_of": pl.Datetime("us", "UTC"),  # the end of the data the run saw
    "members": pl.List(pl.String),
    "n_accounts": pl.Int64,
    "score": pl.Float64,
    "flagged": pl.Boolean,
    # growth since the track's cluster in the previous run: accounts joined and left, and
    # n_accounts / previous n_accounts - 1 (null on a track's first run)
    "joined": pl.Int64,
    "left": pl.Int64,
    "growth": pl.Float64,
    "jaccard": pl.Float64,  # with the matched previous cluster
    "event": pl.String,  # new, continued, split, merged
    "related_tracks": pl.List(pl.String),  # split from / merged in
}


@dataclass(frozen=True)
class TrackingOptions:
    """When two clusters of consecutive runs are the same network."""

    min_jaccard: float = 0.3
    min_containment: float = 0.5

    def __post_init__(self) -> None:
        for name in ("min_jaccard", "min_containment"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise RallypointError(f"Tracking's {name} must be in (0, 1], not {value}.")


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=TRACK_COLUMNS)


def read_tracks(lake: Lake, columns: list[str] | None = None) -> pl.DataFrame:
    """Every track row in the lake (empty when no run was watched yet), optionally some columns only."""
    columns = columns or list(TRACK_COLUMNS)
    schema = {c: TRACK_COLUMNS[c] for c in columns}
    path = Path(lake.root) / TRACKS_FILE
    if not path.exists():
        return pl.DataFrame(schema=schema)
    return pl.read_parquet(path, columns=columns).cast(schema)


def append_tracks(lake: Lake, rows: pl.DataFrame) -> None:
    """Add one run's rows to ``tracks.parquet`` (rewritten atomically; a run's rows are never doubled)."""
    old = read_tracks(lake)
    runs = rows["run_id"].unique().implode()
    merged = pl.concat([old.filter(~pl.col("run_id").is_in(runs)), rows.select(list(TRACK_COLUMNS))])
    write_parquet_atomic(Path(lake.root) / TRACKS_FILE, merged.to_arrow())


def _next_track_ids(previous: pl.DataFrame, n: int) -> list[str]:
    used = previous["track_id"].str.strip_prefix("t").cast(pl.Int64, strict=False).max() if previous.height else 0
    start = int(used or 0) + 1
    return [f"t{i:05d}" for i in range(start, start + n)]


def link_run(
    previous: pl.DataFrame,
    run_id: str,
    as_of: datetime,
    clusters: pl.DataFrame,
    members: pl.DataFrame,
    options: TrackingOptions | None = None,
) -> pl.DataFrame:
    """The track rows of a new run.

    ``previous`` is every track row so far (:func:`read_tracks`); the rows of its last
    run are the ones matched against. ``clusters`` has ``cluster_id``, ``score``,
    ``flagged``; ``members`` has ``cluster_id``, ``account_id``.
    """
    options = options or TrackingOptions()
    current = (
        members.select("cluster_id", "account_id").unique()
        .group_by("cluster_id").agg(pl.col("account_id").sort().alias("members"))
        .join(clusters.select("cluster_id", "score", "flagged"), on="cluster_id")
        .with_columns(pl.col("members").list.len().cast(pl.Int64).alias("n_accounts"))
        .sort("cluster_id")
    )
    last_run = previous.sort("as_of", "run_id")["run_id"][-1] if previous.height else None
    before = previous.filter(pl.col("run_id") == last_run).sort("track_id") if last_run else _empty()

    overlap = (
        before.select("track_id", pl.col("members").alias("account_id")).explode("account_id")
        .join(current.select("cluster_id", pl.col("members").alias("account_id")).explode("account_id"),
              on="account_id")
        .group_by("track_id", "cluster_id").agg(pl.len().cast(pl.Int64).alias("shared"))
        .join(before.select("track_id", pl.col("n_accounts").alias("n_before")), on="track_id")
        .join(current.select("cluster_id", "n_accounts"), on="cluster_id")
        .with_columns(
            (pl.col("shared") / (pl.col("n_before") + pl.col("n_accounts") - pl.col("shared"))).alias("jaccard"),
            (pl.col("shared") / pl.col("n_before")).alias("of_before"),
            (pl.col("shared") / pl.col("n_accounts")).alias("of_current"),
        )
    )
    candidates = overlap.filter(
        (pl.col("jaccard") >= options.min_jaccard)
        | (pl.max_horizontal("of_before", "of_current") >= options.min_containment)
    )
    matched = _assign(candidates)

    # splits: unmatched new clusters made mostly of one previous cluster's members
    unmatched_current = current.filter(~pl.col("cluster_id").is_in(matched["cluster_id"].implode()))
    split_from = (
        overlap.filter(pl.col("of_current") >= options.min_containment)
        .join(unmatched_current.select("cluster_id"), on="cluster_id")
        .group_by("cluster_id").agg(pl.col("track_id").sort().alias("split_from"))
    )
    # merges: unmatched previous clusters whose members mostly went into one new cluster
    merged_in = (
        overlap.filter((pl.col("of_before") >= options.min_containment)
                       & ~pl.col("track_id").is_in(matched["track_id"].implode()))
        .group_by("cluster_id").agg(pl.col("track_id").sort().alias("merged_in"))
    )
    new_ids = _next_track_ids(previous, unmatched_current.height)
    fresh = unmatched_current.select("cluster_id").with_columns(pl.Series("new_track", new_ids, pl.String))

    rows = (
        current.join(matched, on="cluster_id", how="left")
        .join(fresh, on="cluster_id", how="left")
        .join(split_from, on="cluster_id", how="left")
        .join(merged_in, on="cluster_id", how="left")
        .join(before.select("track_id", pl.col("members").alias("before_members"),
                            pl.col("n_accounts").alias("before_n")), on="track_id", how="left")
        .with_columns(
            event=pl.when(pl.col("track_id").is_not_null()).then(pl.lit("continued"))
            .when(pl.col("merged_in").is_not_null()).then(pl.lit("merged"))
            .when(pl.col("split_from").is_not_null()).then(pl.lit("split"))
            .otherwise(pl.lit("new")),
            track_id=pl.coalesce("track_id", "new_track"),
            related_tracks=pl.concat_list(pl.col("split_from").fill_null([]), pl.col("merged_in").fill_null([]))
            .list.unique().list.sort(),
            joined=pl.when(pl.col("before_members").is_null()).then(None)
            .otherwise(pl.col("members").list.set_difference("before_members").list.len()).cast(pl.Int64),
            left=pl.when(pl.col("before_members").is_null()).then(None)
            .otherwise(pl.col("before_members").list.set_difference("members").list.len()).cast(pl.Int64),
            growth=pl.col("n_accounts") / pl.col("before_n") - 1.0,
        )
        .with_columns(run_id=pl.lit(run_id), as_of=pl.lit(as_of).cast(pl.Datetime("us", "UTC")))
    )
    return rows.select(list(TRACK_COLUMNS)).cast(TRACK_COLUMNS).sort("track_id")


def _assign(candidates: pl.DataFrame) -> pl.DataFrame:
    """The one-to-one matching of largest total Jaccard, per connected component of candidates."""
    out = {"track_id": pl.String, "cluster_id": pl.String, "jaccard": pl.Float64}
    if candidates.height == 0:
        return pl.DataFrame(schema=out)
    tracks = candidates["track_id"].unique().sort()
    clusters = candidates["cluster_id"].unique().sort()
    rows = candidates.with_columns(
        r=pl.col("track_id").replace_strict(tracks, pl.int_range(tracks.len(), eager=True)),
        c=pl.col("cluster_id").replace_strict(clusters, pl.int_range(clusters.len(), eager=True)),
    )
    r, c, j = rows["r"].to_numpy(), rows["c"].to_numpy(), rows["jaccard"].to_numpy()
    n_r, n_c = tracks.len(), clusters.len()
    # a bipartite graph over rows then columns; its components are independent assignment problems
    graph = coo_matrix((np.ones(len(r)), (r, c + n_r)), shape=(n_r + n_c, n_r + n_c))
    _, label = connected_components(graph, directed=False)
    chosen_r, chosen_c = [], []
    for component in np.unique(label[r]):
        sel = label[r] == component
        rr, rows_local = np.unique(r[sel], return_inverse=True)
        cc, cols_local = np.unique(c[sel], return_inverse=True)
        weights = np.zeros((len(rr), len(cc)))
        weights[rows_local, cols_local] = j[sel]
        a, b = linear_sum_assignment(weights, maximize=True)
        keep = weights[a, b] > 0  # a padding pair (no overlap) is no match
        chosen_r.extend(rr[a[keep]])
        chosen_c.extend(cc[b[keep]])
    pairs = pl.DataFrame({"track_id": tracks.gather(chosen_r), "cluster_id": clusters.gather(chosen_c)})
    return pairs.join(candidates.select("track_id", "cluster_id", "jaccard"), on=["track_id", "cluster_id"])
