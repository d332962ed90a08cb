"""Loose groups: the accounts no cluster holds, grouped by the pairs that just missed the pair test.

What it computes
    The null model (:mod:`rallypoint.detectors.null_model`) keeps a pair when it met more
    often than timing explains at ``significance`` (0.01). A small network that answers
    each call with a different handful of its members leaves pairs that met twice on
    posts answered within hours: p about 0.02-0.04, never below 0.01, so no cluster forms
    and the group test (:mod:`rallypoint.detectors.attachment`) has no seed to grow.
    Such *loose* pairs (``significance < p_value <= LOOSE_SIGNIFICANCE``) are kept aside
    by co-action and used **after** the communities, and only among the accounts left out
    of every cluster: Leiden (CPM, the run's resolution) on the graph of their loose and
    significant edges (a loose pair has met on two different posts within one co-action
    type: co-action keeps no other, ``coaction.reduce.met_on_two_targets``), groups of at
    least ``min_size`` accounts kept. Clusters found by significant edges are never
    changed; a loose group is a cluster like any other, scored
    by the same formula, so coordination alone (chance pairs of ordinary accounts, a
    fandom's slow replies) still scores 0 without harm evidence.

    A loose group's own edges are written with the run's edges; a loose edge is one whose
    ``p_value`` is above the run's ``significance``.

Parameters
    See :func:`group_loose_pairs`.

Complexity
    ``O(E + L)`` to select the left-out accounts' edges and rebuild the graph, plus Leiden
    on the loose graph (roughly linear per iteration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.detectors.communities import (
    MIN_CLUSTER_SIZE,
    Communities,
    build_account_graph,
    find_communities,
)

#: The loosest p-value a pair may have to be grouped: two meetings on posts answered within
#: the jitter scale give p of about 0.033 (docs/watch.md, "Lead time").
LOOSE_SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class LooseGroups:
    """The run's communities with the loose groups added, and what they need."""

    #: the clusters found before, numbered as before, then the loose groups
    communities: Communities
    #: the run's edges (the columns ``edges`` had, and the accounts): the significant ones,
    #: then the loose edges inside a loose group, in the order of the communities' graph
    edges: pa.Table
    #: the loose edges inside a loose group, every column co-action gave them
    grouped_edges: pa.Table
    #: the loose actions of the grouped accounts (co-action's actions behind their loose pairs)
    actions: pl.DataFrame
    #: accounts in a loose group
    grouped: int


def group_loose_pairs(communities: Communities, edges: pa.Table, loose_edges: pa.Table,
                      loose_actions: pl.DataFrame, *, resolution: float | None = None, seed: int = 0,
                      min_size: int = MIN_CLUSTER_SIZE) -> LooseGroups:
    """Group the accounts outside ``communities`` by their loose (and significant) edges.

    ``edges``: the run's significant edges, the table ``communities`` was found on (its
    graph's first accounts), at least ``weight`` and ``strength``; its account ids are
    taken from the graph when it does not hold them; ``loose_edges``: co-action's loose pairs
    (``EDGES_SCHEMA``), taken as they are: every one met on two different posts within one
    type (``build_coaction_edges`` keeps no other);
    ``loose_actions``: the actions behind them; ``resolution``, ``seed``: Leiden CPM's, as
    the run's; ``min_size``: the smallest group kept.
    """
    graph = communities.graph
    if "account_a" not in edges.column_names:
        ends = graph.accounts.take(pa.array(np.concatenate([graph.source, graph.target])))
        edges = edges.append_column("account_a", ends.slice(0, edges.num_rows)).append_column(
            "account_b", ends.slice(edges.num_rows))
    clustered = graph.accounts.filter(pa.array(communities.membership >= 0))
    none = loose_edges.slice(0, 0)
    if loose_edges.num_rows == 0:
        return LooseGroups(communities, edges, none, loose_actions.clear(), 0)

    def left_out(table: pa.Table) -> pa.Table:
        mask = pc.and_(pc.invert(pc.is_in(table.column("account_a"), value_set=clustered)),
                       pc.invert(pc.is_in(table.column("account_b"), value_set=clustered)))
        return table.filter(mask)

    loose_run_edges = loose_edges.select(edges.column_names).cast(edges.schema)
    outside = pa.concat_tables([left_out(edges), left_out(loose_run_edges)])
    found = find_communities(outside, objective="cpm", resolution=resolution, seed=seed, min_size=min_size)
    groups = pl.from_arrow(found.members()).select(
        "account_id", group=pl.col("community") + communities.n_communities)
    if groups.height == 0:
        return LooseGroups(communities, edges, none, loose_actions.clear(), 0)

    # the loose edges inside a group join the run's edges, after the significant ones
    ends = pl.from_arrow(loose_edges.select(["account_a", "account_b"])).with_row_index("_row")
    inside = (ends.join(groups.rename({"account_id": "account_a", "group": "ga"}), on="account_a")
              .join(groups.rename({"account_id": "account_b", "group": "gb"}), on="account_b")
              .filter(pl.col("ga") == pl.col("gb"))["_row"].sort())
    run_edges = pa.concat_tables([edges, loose_run_edges.take(inside.to_arrow())])

    # every account keeps its cluster: the graph is rebuilt on the run's edges and the accounts
    # without an edge (joined by the group test) appended, membership carried by account id
    rebuilt = build_account_graph(run_edges)
    before = pl.DataFrame({"account_id": pl.Series(graph.accounts.cast(pa.string())),
                           "cluster": communities.membership})
    known = pl.concat([before.filter(pl.col("cluster") >= 0),
                       groups.select("account_id", cluster="group")])
    vertices = pl.Series("account_id", rebuilt.accounts.cast(pa.string()))
    extra = before.filter(~pl.col("account_id").is_in(vertices.implode()))["account_id"]
    accounts = pl.concat([vertices, extra])
    membership = (pl.DataFrame({"account_id": accounts}).join(known, on="account_id", how="left",
                                                               maintain_order="left")["cluster"]
                  .fill_null(-1).to_numpy().astype(np.int64))
    igraph = rebuilt.graph
    if extra.len():
        igraph.add_vertices(extra.len())
    combined = Communities(
        graph=type(rebuilt)(graph=igraph, accounts=accounts.to_arrow().cast(pa.string()),
                            source=rebuilt.source, target=rebuilt.target),
        membership=membership, objective=communities.objective, resolution=communities.resolution,
        quality=communities.quality)
    grouped_actions = loose_actions.filter(pl.col("account_id").is_in(groups["account_id"].implode()))
    return LooseGroups(combined, run_edges, loose_edges.take(inside.to_arrow()), grouped_actions, groups.height)


__all__ = ["LOOSE_SIGNIFICANCE", "LooseGroups", "group_loose_pairs"]
