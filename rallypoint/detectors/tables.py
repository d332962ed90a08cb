"""A run's tables: clusters named in the triage queue's order, members, evidence.

What it computes
    Cluster numbers become names ``c0001``.. by score, then (no harm evidence) by
    ``order_score``, then size (:func:`queue_keys`); each cluster gets its time range,
    co-action types, most-acted-on targets, platforms and languages; every table is cast
    to its schema in :mod:`rallypoint.schema`.

Complexity
    Sorts and group-bys over the evidence and the members: O(V log V + M log M).
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from rallypoint.detectors.evidence import COACTION_PREFIX
from rallypoint.schema import CLUSTERS_SCHEMA, EVIDENCE_SCHEMA, MEMBERS_SCHEMA

#: Most-acted-on targets listed per cluster.
TOP_TARGETS = 10
#: Co-action type -> ``TARGET_COUNT_STRUCT.kind``.
TARGET_KIND = {"co_repost": "post", "co_link": "url", "co_hashtags": "hashtags", "co_mention": "mention",
               "co_media": "media", "co_reply": "reply", "co_text": "text", "co_engage": "post"}


def run_tables(scored: pl.DataFrame, roles: pl.DataFrame, accounts: pl.DataFrame,
               evidence: pl.DataFrame) -> dict[str, pa.Table]:
    """The clusters, members and evidence tables, with cluster ids ``c0001``.. in the triage
    queue's order (:func:`queue_keys`); the edges are written as co-action made them."""
    # clusters without harm evidence (score 0) follow by coordination and inauthenticity
    names = queue_keys(scored)
    ranked = scored.sort(["score", "order_score", "n_accounts", "cluster_id"],
                         descending=[True, True, True, False]).with_columns(
        cluster_key=pl.col("cluster_id").replace_strict(names, return_dtype=pl.String))
    key = ranked.select("cluster_id", "cluster_key")

    def relabel(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.join(key, on="cluster_id", how="inner").drop("cluster_id").rename(
            {"cluster_key": "cluster_id"})

    ev = relabel(evidence).select(EVIDENCE_SCHEMA.names).sort(["cluster_id", "kind", "timestamp", "id"])
    coactions = ev.filter(pl.col("kind").str.starts_with(COACTION_PREFIX))
    ranges = coactions.group_by("cluster_id").agg(first_ts=pl.col("timestamp").min(),
                                                 last_ts=pl.col("timestamp").max())
    types = coactions.group_by("cluster_id").agg(
        types=pl.col("kind").str.strip_prefix(COACTION_PREFIX).unique().sort())
    targets = (
        coactions.with_columns(kind=pl.col("kind").str.strip_prefix(COACTION_PREFIX)
                               .replace_strict(TARGET_KIND, default=pl.col("kind").str.strip_prefix(COACTION_PREFIX)))
        .group_by("cluster_id", "kind", "target").agg(count=pl.len().cast(pl.Int64))
        .sort(["cluster_id", "count", "target", "kind"], descending=[False, True, False, False])
        .group_by("cluster_id", maintain_order=True)
        .agg(top_targets=pl.struct("kind", "target", "count").head(TOP_TARGETS))
    )
    member_facts = relabel(roles.join(accounts.drop("cluster_id"), on="account_id", how="left")
                           .rename({"community": "cluster_id"}))
    context = member_facts.group_by("cluster_id").agg(
        platforms=pl.col("platform").drop_nulls().unique().sort(),
        langs=pl.col("langs").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique().sort(),
    )
    clusters = (
        relabel(ranked.drop("cluster_key").with_columns(pl.col("cluster_id")))
        .join(ranges, on="cluster_id", how="left")
        .join(types, on="cluster_id", how="left")
        .join(targets, on="cluster_id", how="left")
        .join(context, on="cluster_id", how="left")
        .rename({"n_internal_edges": "n_edges"})
        .sort("cluster_id")
    )
    members = member_facts.with_columns(pl.col("strength").cast(pl.Float64)).sort(
        ["cluster_id", "strength", "account_id"], descending=[False, True, False])
    return {
        "clusters": _to_schema(clusters, CLUSTERS_SCHEMA),
        "members": _to_schema(members, MEMBERS_SCHEMA),
        "evidence": _to_schema(ev, EVIDENCE_SCHEMA),
    }


def queue_keys(scored: pl.DataFrame) -> dict[int, str]:
    """Cluster number -> its name in the run (``c0001`` first in the triage queue): by score, then
    (no harm evidence) by ``order_score``, then size."""
    ranked = scored.sort(["score", "order_score", "n_accounts", "cluster_id"], descending=[True, True, True, False])
    return {cid: f"c{i:04d}" for i, cid in enumerate(ranked["cluster_id"].to_list(), start=1)}


def _to_schema(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    table = frame.select(schema.names).to_arrow()
    return pa.table([table.column(n).cast(schema.field(n).type) for n in schema.names], schema=schema)


__all__ = ["queue_keys", "run_tables"]
