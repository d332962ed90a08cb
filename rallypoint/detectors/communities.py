"""Communities in the weighted co-action graph: Leiden, or connected components.

What it computes
    Given the run's co-action edges (``EDGES_SCHEMA``: one row per account pair), it
    builds an undirected weighted igraph graph from integer arrays and partitions its
    accounts into communities with the Leiden algorithm (Traag, Waltman & van Eck 2019,
    "From Louvain to Leiden: guaranteeing well-connected communities"), or, with
    ``objective="components"``, into connected components. Communities with fewer than
    ``min_size`` accounts are dropped: two accounts that co-shared are a pair, not a
    network.

Objectives
    ``"cpm"`` (default) — the Constant Potts Model. A set of accounts is worth keeping
    together when its internal edge weight exceeds ``resolution`` times the number of
    account pairs in it, i.e. CPM reads ``resolution`` as a minimum *density* of
    coordination. It has no resolution limit, so small dense rings are not merged into
    large loose crowds; this recovered planted groups best in our measurements. The
    default edge weight for CPM is ``min(1, strength / strength_cap) * certainty``, a
    0..1 weight saying how far a pair exceeds chance and how sure the pair test is of
    it (``certainty = min(1, log10(p) / log10(SURE_P_VALUE))``: 1 at p = 1e-4, half at
    the significance 0.01), so the default ``resolution`` 0.05 means "at least one pair
    in twenty is surely and strongly coordinated". Without the certainty, a pair that met
    once where chance gives a tenth of a meeting weighs as much as a ring's pair that met
    fifty times, and a few dozen such pairs are enough to merge a campaign with the news
    accounts its members happened to repost.
    ``"modularity"`` — Newman–Girvan modularity with a resolution parameter (default 1).
    ``"components"`` — connected components, no optimisation.

Parameters (see :func:`start_communities`).

Complexity
    Building the graph is O(E) in NumPy plus igraph's C constructor. Leiden runs in
    roughly O(E) per iteration (two iterations by default); components are O(V + E).
"""

from __future__ import annotations

import random
import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

import igraph as ig
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.detectors.memory import peak_rss_mib
from rallypoint.detectors.options import DEFAULT_CPM_RESOLUTION, DEFAULT_MODULARITY_RESOLUTION, OBJECTIVES
from rallypoint.errors import RallypointError

#: A pair ``strength_cap`` times more coordinated than chance gets CPM weight 1.
DEFAULT_STRENGTH_CAP = 10.0
#: A pair whose p-value is at most this weighs fully in CPM; one at the significance (0.01) half.
SURE_P_VALUE = 1e-4
MIN_CLUSTER_SIZE = 3
#: Leiden iterations (igraph's and leidenalg's default); negative: until the partition is stable.
DEFAULT_LEIDEN_ITERATIONS = 2


class CommunityError(RallypointError):
    """The community parameters are not usable."""


@dataclass(frozen=True)
class AccountGraph:
    """The co-action graph with accounts numbered 0..n-1, as arrays.

    ``accounts[i]`` is the account id of vertex ``i``; ``source``/``target`` index
    ``accounts`` row by row in the edge table. No igraph object is kept: Leiden reads one
    built from these arrays, and what comes after (the attachment, the loose groups, the
    roles) reads only the arrays.
    """

    accounts: pa.Array
    source: np.ndarray
    target: np.ndarray

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)


@dataclass(frozen=True)
class Communities:
    """Communities of at least ``min_size`` accounts.

    ``membership[i]`` is the community of ``graph.accounts[i]`` (``-1``: in no kept
    community). Communities are numbered 0..k-1, largest first.
    """

    graph: AccountGraph
    membership: np.ndarray
    objective: str
    resolution: float | None
    quality: float | None

    @property
    def n_communities(self) -> int:
        return int(self.membership.max()) + 1 if len(self.membership) else 0

    def members(self) -> pa.Table:
        """``community`` (int), ``account_id`` for every account in a kept community."""
        kept = np.flatnonzero(self.membership >= 0)
        return pa.table(
            {
                "community": pa.array(self.membership[kept], pa.int64()),
                "account_id": self.graph.accounts.take(pa.array(kept)),
            }
        )


def build_account_graph(edges: pa.Table) -> AccountGraph:
    """The edge table's accounts numbered by dictionary encoding (first appearance in
    ``account_a``, then ``account_b``), and each edge row's two vertices."""
    n_edges = edges.num_rows
    both = pa.concat_arrays(
        [edges.column("account_a").combine_chunks(), edges.column("account_b").combine_chunks()]
    ).cast(pa.string())
    encoded = pc.dictionary_encode(both)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return AccountGraph(accounts=encoded.dictionary, source=codes[:n_edges], target=codes[n_edges:])


def cpm_weights(edges: pa.Table, strength_cap: float = DEFAULT_STRENGTH_CAP) -> np.ndarray:
    """0..1 edge weights for CPM: how far each pair exceeds chance, saturating at ``strength_cap``,
    times how sure the pair test is of it, saturating at a p-value of :data:`SURE_P_VALUE`.

    Without a null model (``strength`` and ``p_value`` null) the co-share weight stands in for
    strength and every edge is sure.
    """
    strength = edges.column("strength").to_numpy(zero_copy_only=False)
    strength = np.asarray(strength, dtype=np.float64)
    fallback = edges.column("weight").to_numpy().astype(np.float64)
    strength = np.where(np.isnan(strength), fallback, strength)
    return np.clip(strength / strength_cap, 0.0, 1.0) * certainty(edges)


def certainty(edges: pa.Table) -> np.ndarray:
    """How sure the pair test is that each edge is no chance: ``min(1, log10(p) /
    log10(SURE_P_VALUE))``, 1 where ``p_value`` is null or absent (no null model)."""
    if "p_value" not in edges.column_names:
        return np.ones(edges.num_rows)
    p_value = np.asarray(edges.column("p_value").to_numpy(zero_copy_only=False), dtype=np.float64)
    sure = np.log10(np.clip(p_value, np.finfo(np.float64).tiny, 1.0)) / np.log10(SURE_P_VALUE)
    return np.where(np.isnan(p_value), 1.0, np.clip(sure, 0.0, 1.0))


@dataclass(frozen=True)
class Partition:
    """What :func:`partition_graph` found, and what it cost where it ran."""

    #: community label per vertex (igraph's numbering, before ``keep_large``)
    membership: np.ndarray
    quality: float | None
    seconds: float
    cpu_seconds: float
    #: the peak resident memory of the process it ran in (MiB)
    peak_mib: float


def partition_graph(n_vertices: int, source: np.ndarray, target: np.ndarray, weights: np.ndarray,
                    objective: str, resolution: float | None, seed: int, n_iterations: int) -> Partition:
    """Build the igraph graph of the edge arrays and partition it (Leiden, or components).

    A function of arrays alone, so it runs in this process or in another
    (:func:`start_communities`): igraph holds the GIL through Leiden, so a run that has other
    work to do meanwhile hands it to a process. ``O(E)`` per Leiden iteration.
    """
    started, cpu = time.perf_counter(), time.process_time()
    graph = ig.Graph(n=n_vertices, directed=False)
    graph.add_edges(np.column_stack([source, target]))
    quality: float | None = None
    if graph.vcount() == 0:
        raw = np.zeros(0, dtype=np.int64)
    elif objective == "components":
        raw = np.asarray(graph.connected_components().membership, dtype=np.int64)
    else:
        # igraph's Leiden uses igraph's global RNG: seed it for reproducible runs.
        ig.set_random_number_generator(random.Random(seed))
        try:
            # the weights as an array, not an edge attribute: igraph keeps attributes as Python
            # floats, several times their size
            partition = graph.community_leiden(
                objective_function="CPM" if objective == "cpm" else "modularity",
                weights=np.asarray(weights, dtype=np.float64),
                resolution=resolution,
                n_iterations=n_iterations,
            )
        finally:
            ig.set_random_number_generator(random)
        raw = np.asarray(partition.membership, dtype=np.int64)
        quality = float(partition.quality)
    return Partition(raw, quality, time.perf_counter() - started, time.process_time() - cpu, peak_rss_mib())


@dataclass
class PendingCommunities:
    """Communities being found (:func:`start_communities`); :meth:`result` waits for them."""

    graph: AccountGraph
    partition: Future
    objective: str
    resolution: float | None
    min_size: int
    #: the partition, with what it cost where it ran (set by :meth:`result`)
    found: Partition | None = None

    def result(self) -> Communities:
        self.found = found = self.partition.result()
        return Communities(graph=self.graph, membership=keep_large(found.membership, self.min_size),
                           objective=self.objective, resolution=self.resolution, quality=found.quality)


def start_communities(
    edges: pa.Table,
    objective: str = "cpm",
    resolution: float | None = None,
    min_size: int = MIN_CLUSTER_SIZE,
    seed: int = 0,
    n_iterations: int = DEFAULT_LEIDEN_ITERATIONS,
    strength_cap: float = DEFAULT_STRENGTH_CAP,
    executor: Executor | None = None,
) -> PendingCommunities:
    """Partition the co-action graph's accounts into communities: the accounts numbered and the
    weights made here, the partition (:func:`partition_graph`) run here or submitted to
    ``executor`` (``rallypoint.apart.ApartExecutor``: a process of its own), so the caller
    can work on meanwhile; ``.result()`` waits for it. The edge table is not needed after this
    returns.

    Parameters
    ----------
    edges : EDGES_SCHEMA table (``account_a``, ``account_b``, ``weight``, ``strength``).
    objective : ``"cpm"`` (default), ``"modularity"`` or ``"components"``.
    resolution : CPM minimum density (default 0.05 on 0..1 weights) or modularity
        resolution (default 1.0). Ignored for components.
    min_size : smallest community kept (default 3 accounts).
    seed : seed of igraph's random number generator, so runs are reproducible.
    n_iterations : Leiden iterations (default 2); negative iterates until the partition is stable.
    strength_cap : CPM weights are ``min(1, strength / strength_cap)`` times the pair test's
        certainty (:func:`cpm_weights`).
    executor : where the partition runs; ``None``: here, before this returns.
    """
    if objective not in OBJECTIVES:
        raise CommunityError(
            f"The community objective {objective!r} is not one of {', '.join(OBJECTIVES)}."
        )
    if resolution is not None and resolution <= 0:
        raise CommunityError(f"The community resolution must be positive, not {resolution}.")
    if objective == "cpm":
        weights = cpm_weights(edges, strength_cap)
        resolution = DEFAULT_CPM_RESOLUTION if resolution is None else resolution
    else:
        weights = edges.column("weight").to_numpy().astype(np.float64)
        if objective == "modularity":
            resolution = DEFAULT_MODULARITY_RESOLUTION if resolution is None else resolution
        else:
            resolution = None
    graph = build_account_graph(edges)
    arguments = (graph.n_accounts, graph.source, graph.target, weights, objective, resolution, seed, n_iterations)
    if executor is None:
        partition: Future = Future()
        partition.set_result(partition_graph(*arguments))
    else:
        partition = executor.submit(partition_graph, *arguments)
    return PendingCommunities(graph, partition, objective, resolution, min_size)


def find_communities(edges: pa.Table, **options: Any) -> Communities:
    """Partition the co-action graph's accounts into communities, here and now
    (:func:`start_communities`' options, waited for)."""
    return start_communities(edges, **options).result()


def keep_large(membership: np.ndarray, min_size: int) -> np.ndarray:
    """Renumber communities largest first; those under ``min_size`` (and accounts at -1) become -1."""
    if len(membership) == 0 or membership.max() < 0:
        return np.full(len(membership), -1, dtype=np.int64)
    sizes = np.bincount(membership[membership >= 0])
    # stable order: larger first, then by original label
    order = np.lexsort((np.arange(len(sizes)), -sizes))
    new_label = np.full(len(sizes), -1, dtype=np.int64)
    large = order[sizes[order] >= min_size]
    new_label[large] = np.arange(len(large))
    return np.where(membership >= 0, new_label[np.maximum(membership, 0)], -1)


def normalized_mutual_information(truth: np.ndarray, found: np.ndarray) -> float:
    """NMI (arithmetic normalisation, as scikit-learn's default) of two labelings."""
    return float(ig.compare_communities(list(truth), list(found), method="nmi"))
