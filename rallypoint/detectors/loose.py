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
    changed; a loose group is a cluster like any other, scored by the same formula, so
    coordination alone (chance pairs of ordinary accounts, a fandom's slow replies) still
    scores 0 without harm evidence.

    A loose group's own edges are written with the run's edges; a loose edge is one whose
    ``p_value`` is above the run's ``significance``.

Parameters
    See :func:`group_loose_pairs`.

Complexity
    ``O(E + L)`` to select the left-out accounts' edges (the significant ones by vertex
    number, only theirs named) and to extend the graph by the groups' accounts and edges,
    plus Leiden on the left-out accounts' graph (roughly linear per iteration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.detectors.communities import (
    MIN_CLUSTER_SIZE,
    AccountGraph,
    Communities,
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
    #: the run's edges (the columns ``edges`` had): the significant ones, then the loose edges
    #: inside a loose group, in the order of the communities' graph
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

    ``communities``: the run's, consumed (its graph is extended in place for the result's);
    ``edges``: the run's significant edges, row for row the edges of ``communities``' graph,
    at least ``weight`` and ``strength`` (the accounts are the graph's); ``loose_edges``:
    co-action's loose pairs (``EDGES_SCHEMA``), taken as they are: every one met on two
    different posts within one type (``build_coaction_edges`` keeps no other);
    ``loose_actions``: the actions behind them; ``resolution``, ``seed``: Leiden CPM's, as
    the run's; ``min_size``: the smallest group kept.
    """
    none = loose_edges.slice(0, 0)
    if loose_edges.num_rows == 0:
        return LooseGroups(communities, edges, none, loose_actions.clear(), 0)
    outside = _left_out_edges(communities, edges, loose_edges)
    found = find_communities(outside, objective="cpm", resolution=resolution, seed=seed, min_size=min_size)
    del outside
    groups = pl.from_arrow(found.members()).select(
        "account_id", group=pl.col("community") + communities.n_communities)
    if groups.height == 0:
        return LooseGroups(communities, edges, none, loose_actions.clear(), 0)

    # the loose edges inside a group join the run's edges, after the significant ones
    ends = pl.from_arrow(loose_edges.select(["account_a", "account_b"])).with_row_index("_row")
    inside = (ends.join(groups.rename({"account_id": "account_a", "group": "ga"}), on="account_a")
              .join(groups.rename({"account_id": "account_b", "group": "gb"}), on="account_b")
              .filter(pl.col("ga") == pl.col("gb"))["_row"].sort())
    grouped_edges = loose_edges.take(inside.to_arrow())
    run_edges = pa.concat_tables([edges, grouped_edges.select(edges.column_names).cast(edges.schema)])
    grouped_actions = loose_actions.filter(pl.col("account_id").is_in(groups["account_id"].implode()))
    return LooseGroups(_with_groups(communities, groups, grouped_edges), run_edges, grouped_edges, grouped_actions,
                       groups.height)


def _left_out_edges(communities: Communities, edges: pa.Table, loose_edges: pa.Table) -> pa.Table:
    """The significant, then the loose edges with both accounts in no cluster: ``account_a``,
    ``account_b``, ``weight``, ``strength``, each part in its table's order. The significant
    ones are chosen on the graph's vertex numbers, and only theirs named. ``O(E + L)``."""
    graph = communities.graph
    left = communities.membership < 0
    rows = np.flatnonzero(left[graph.source] & left[graph.target])
    accounts = graph.accounts.cast(pa.string())
    significant = pa.table({
        "account_a": accounts.take(pa.array(graph.source[rows])),
        "account_b": accounts.take(pa.array(graph.target[rows])),
        "weight": edges.column("weight").take(pa.array(rows)),
        "strength": edges.column("strength").take(pa.array(rows)),
    })
    clustered = accounts.filter(pa.array(~left))
    mask = pc.and_(pc.invert(pc.is_in(loose_edges.column("account_a"), value_set=clustered)),
                   pc.invert(pc.is_in(loose_edges.column("account_b"), value_set=clustered)))
    loose = loose_edges.select(significant.column_names).filter(mask).cast(significant.schema)
    return pa.concat_tables([significant, loose])


def _with_groups(communities: Communities, groups: pl.DataFrame, grouped_edges: pa.Table) -> Communities:
    """``communities`` with the loose ``groups`` (``account_id``, ``group``) added: the grouped
    accounts that are no vertex yet appended as vertices, ``grouped_edges``' two vertices after
    the graph's edges (as the run's edges hold them). ``O(V + E)`` in array copies, ``O(G)``
    lookups for the ``G`` grouped accounts and their edges.
    """
    graph = communities.graph
    vertices = pl.DataFrame({"account_id": pl.Series(graph.accounts.cast(pa.string()))}).with_row_index("vertex")
    vertex = groups.join(vertices, on="account_id", how="left", maintain_order="left")["vertex"]
    new = vertex.is_null().to_numpy()
    vertex = vertex.fill_null(0).cast(pl.Int64).to_numpy(writable=True)
    vertex[new] = graph.n_accounts + np.arange(int(new.sum()))
    membership = np.concatenate([communities.membership, np.full(int(new.sum()), -1, np.int64)])
    membership[vertex] = groups["group"].to_numpy()
    accounts = pa.concat_arrays([graph.accounts.cast(pa.string()),
                                 groups["account_id"].filter(pl.Series(new)).to_arrow().cast(pa.string())])

    def codes(column: str) -> np.ndarray:
        return (pl.from_arrow(grouped_edges.column(column)).cast(pl.String)
                .replace_strict(groups["account_id"], pl.Series(vertex), return_dtype=pl.Int64).to_numpy())

    source, target = codes("account_a"), codes("account_b")
    return Communities(
        graph=AccountGraph(accounts=accounts, source=np.concatenate([graph.source, source]),
                           target=np.concatenate([graph.target, target])),
        membership=membership, objective=communities.objective, resolution=communities.resolution,
        quality=communities.quality)


__all__ = ["LOOSE_SIGNIFICANCE", "LooseGroups", "group_loose_pairs"]
