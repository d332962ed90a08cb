"""An account's ego-network: its co-action neighbours and the edges among them.

From the lake, the network is read from a run's ``edges`` table: every edge that
touches the account (its neighbours, the 1-hop ego), plus the edges between two
neighbours, so the analyst sees whether the neighbours also act together. With
``--neo4j`` the ego-network comes from Neo4j instead, through the exporter's
``ego_network`` helper: the accounts this one reposted, replied to, quoted, reacted
to or mentioned, and those that did so to it.

Complexity: two filters over the edges table, ``O(E)``.
"""

from __future__ import annotations

import polars as pl

from rallypoint.dashboard.network import cluster_edges


def ego_edges(edges: pl.DataFrame, account_id: str, max_neighbours: int = 300) -> pl.DataFrame:
    """Edges of ``account_id`` (its strongest ``max_neighbours``) and the edges among those neighbours."""
    own = edges.filter((pl.col("account_a") == account_id) | (pl.col("account_b") == account_id))
    own = own.sort("weight", descending=True).head(max_neighbours)
    nodes = pl.concat([own["account_a"], own["account_b"], pl.Series([account_id])]).unique()
    return cluster_edges(edges, nodes)


def ego_nodes(edges: pl.DataFrame, account_id: str, members: pl.DataFrame) -> pl.DataFrame:
    """One row per ego-network account, in the ``members`` columns the network figure uses.

    Accounts in a cluster of the run keep their role there; others are ``outside``.
    The ego's strength is the sum of its edge weights in the ego-network.
    """
    accounts = pl.concat([edges["account_a"], edges["account_b"], pl.Series([account_id])]).unique().sort()
    weight = (
        pl.concat([edges.select(pl.col("account_a").alias("account_id"), "weight"),
                   edges.select(pl.col("account_b").alias("account_id"), "weight")])
        .group_by("account_id").agg(pl.col("weight").sum().cast(pl.Float64).alias("strength"), pl.len().alias("degree"))
    )
    known = members.select("account_id", "role", "account_name", "high_profile", "n_actions").unique("account_id")
    return (
        pl.DataFrame({"account_id": accounts})
        .join(known, on="account_id", how="left")
        .join(weight, on="account_id", how="left")
        .with_columns(
            pl.col("role").fill_null("outside"),
            pl.col("strength").fill_null(0.0),
            pl.col("degree").fill_null(0).cast(pl.Int64),
            pl.col("high_profile").fill_null(False),
        )
    )


def ego_edges_from_neo4j(uri: str, account_id: str) -> pl.DataFrame:
    """The account's 1-hop interaction ego-network from Neo4j, as edge rows for the network figure.

    Uses the exporter's :func:`rallypoint.graph.subgraph.ego_network` (reposts, replies, quotes,
    reactions and mentions between accounts, both directions); an edge's weight is its number
    of interactions and its types the interaction kinds.
    """
    from rallypoint.graph.subgraph import ego_network

    graph = ego_network(None, account_id, hops=1, neo4j_uri=uri)
    rows = [
        (min(u, v), max(u, v), int(d.get("interactions") or 0), str(d.get("actions") or "interaction"))
        for u, v, d in graph.edges(data=True)
    ]
    return pl.DataFrame(
        {
            "account_a": [r[0] for r in rows],
            "account_b": [r[1] for r in rows],
            "weight": [r[2] for r in rows],
            "n_shared": [0] * len(rows),
            "main_type": [r[3].split(",")[0].split(":")[0] for r in rows],
            "type_list": [r[3] for r in rows],
        },
        schema={"account_a": pl.String, "account_b": pl.String, "weight": pl.Int64, "n_shared": pl.Int64,
                "main_type": pl.String, "type_list": pl.String},
    )
