"""Per cluster, every number the score reads: one row a cluster.

What it computes
    The co-action graph's weight inside each cluster against its null-model expectation,
    its members and new accounts, its high-profile members (listed, never weighted), the
    evidence counts per kind, its bursts and its mobilization struct: the ``facts`` frame
    :func:`rallypoint.detectors.scoring.score_clusters` turns into scores and reasons.

Complexity
    Group-bys over the edges inside clusters, the members and the evidence: O(E + M + V).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pyarrow as pa

from rallypoint.detectors import scoring
from rallypoint.detectors.evidence import evidence_counts
from rallypoint.schema import SIGNAL_EVIDENCE_KINDS


def cluster_facts(
    roles: pl.DataFrame,
    accounts: pl.DataFrame,
    edges: pa.Table,
    communities,
    evidence: pl.DataFrame,
    bursts: pl.DataFrame,
    mobilization: pl.DataFrame,
) -> pl.DataFrame:
    """One row per cluster with every column :func:`scoring.score_clusters` needs."""
    membership = communities.membership
    src, dst = communities.graph.source, communities.graph.target
    inside = (membership[src] >= 0) & (membership[src] == membership[dst])
    expected = edges.column("expected_weight").to_numpy(zero_copy_only=False)
    expected = np.asarray(expected, dtype=np.float64)
    edge_frame = pl.DataFrame(
        {
            "cluster_id": membership[src][inside],
            "weight": edges.column("weight").to_numpy()[inside].astype(np.float64),
            "expected": expected[inside],
        }
    ).group_by("cluster_id").agg(
        observed_weight=pl.col("weight").sum(),
        expected_weight=pl.when(pl.col("expected").is_nan().any()).then(None).otherwise(pl.col("expected").sum()),
        n_internal_edges=pl.len().cast(pl.Int64),
    )
    new_cutoff = pl.col("first_ts") - timedelta(days=scoring.NEW_ACCOUNT_DAYS)
    people = accounts.group_by("cluster_id").agg(
        n_accounts=pl.len().cast(pl.Int64),
        n_new_accounts=(pl.col("account_created_at") >= new_cutoff).sum().cast(pl.Int64),
    )
    # listed, never weighted: who the members are does not enter the score
    high_profile = (
        accounts.filter(pl.col("high_profile").fill_null(False)).sort("cluster_id", "account_id")
        .group_by("cluster_id", maintain_order=True)
        .agg(high_profile_accounts=pl.col("account_id"),
             high_profile_names=pl.col("account_name").fill_null(pl.col("account_id")))
    )
    people = people.join(high_profile, on="cluster_id", how="left").with_columns(
        pl.col("high_profile_accounts", "high_profile_names").fill_null(pl.lit([], pl.List(pl.String))))
    counts = evidence_counts(evidence)
    facts = (
        people.join(edge_frame, on="cluster_id", how="left")
        .join(counts, on="cluster_id", how="left")
        .join(bursts, on="cluster_id", how="left")
        .join(mobilization, on="cluster_id", how="left")
    )
    zero_fill = ["n_coactions", "n_coactions_in_bursts", "n_internal_edges",
                 *[f"n_{k}" for k in SIGNAL_EVIDENCE_KINDS]]
    facts = facts.with_columns(
        *[pl.col(c).fill_null(0) for c in zero_fill],
        pl.col("observed_weight").fill_null(0.0),
        n_threads=pl.col("mobilization").struct.field("n_threads").fill_null(0),
        top_date_places=pl.col("mobilization").struct.field("top_date_places"),
    )
    return facts.sort("cluster_id")


__all__ = ["cluster_facts"]
