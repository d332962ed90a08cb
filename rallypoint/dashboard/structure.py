"""A dense cluster's structure, for a network picture that reads: backbone, sub-groups, layout, labels.

A force-directed layout of every co-action edge of a dense cluster collapses into one blob
(each account is pulled by hundreds of partners) and its thousands of edges are a grey fog.
This module finds what to draw instead:

* **Backbone** (:func:`backbone`): the union of a maximum-weight spanning forest (every account
  stays joined to the rest by its strongest path) and each account's ``per_account`` strongest
  edges — the "local backbone" that keeps a few edges per node whatever its degree, so both hubs
  and the periphery keep their ties (in the spirit of the local-degree sparsifiers, e.g.
  Lindner et al., "Structure-preserving sparsification of social networks", 2015).
  ``O(E log E)`` (a sort, and Kruskal's spanning tree in igraph's C code).
* **Sub-groups** (:func:`sub_groups`): Leiden communities maximizing modularity on the weighted
  edges (Traag, Waltman & van Eck 2019), i.e. the cluster's own internal structure. ``O(E)``
  per Leiden pass; passes are repeated until one changes nothing, at most
  :data:`LEIDEN_ITERATIONS` of them (a page waits for this, and "until nothing changes" has no
  bound of its own).
* **Layout** (:func:`structure`): "group-in-a-box" — each sub-group laid out on its own
  backbone edges by weighted Fruchterman–Reingold (1991), scaled to a disc whose area grows
  with its size, and the discs pushed apart until they do not overlap (a few hundred
  vectorized steps over the ``G × G`` disc pairs), the biggest in the middle. Edges between
  groups then run between discs, so bridges between sub-groups are visible.
* **Labels that fit** (:func:`fitting_labels`): strongest accounts first, a handle is shown when
  its box covers no other label and no other account's centre. ``O(L · (L + V))`` for the
  ``L ≤ max_labels`` candidates, vectorized over ``V``. The accounts the analyst chose are always
  labelled, first, each moved beside or a few lines off its marker until it covers no other
  (:func:`chosen_label_boxes`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import igraph as ig
import numpy as np
import polars as pl

__all__ = ["LEIDEN_ITERATIONS", "PER_ACCOUNT", "SHIFTS", "Structure", "backbone", "chosen_label_boxes", "fitting_labels",
           "structure", "sub_groups"]

#: Strongest edges kept per account in the backbone (on top of the maximum spanning forest).
PER_ACCOUNT = 2
#: Space between two sub-groups' discs, as a share of the unit disc of one account.
GAP = 0.6
#: Most Leiden passes for the sub-groups: enough for the partitions seen to settle (benchmarks/RESULTS.md),
#: few enough to bound what a page waits for.
LEIDEN_ITERATIONS = 20
#: Lines a chosen account's label may move up (negative) or down when its own line is taken, nearest first.
SHIFTS = (0, -1, 1, -2, 2, -3, 3)


@dataclass(frozen=True)
class Structure:
    """Where each account sits (``positions``, V × 2), its sub-group (0 = the biggest), and the
    backbone (a boolean per edge row of the edges the structure was computed from)."""

    positions: np.ndarray
    group: np.ndarray
    backbone: np.ndarray


@dataclass(frozen=True)
class _Built:
    """The accounts' igraph graph, built once per structure: the edges' log weights and their end rows."""

    graph: ig.Graph
    weights: np.ndarray
    ends: np.ndarray


def _graph(accounts: list[str], edges: pl.DataFrame) -> _Built:
    index = pl.DataFrame({"account": accounts, "i": np.arange(len(accounts), dtype=np.int64)})
    ends = np.column_stack([
        pl.DataFrame({"account": edges[col]}).join(index, on="account", how="left", maintain_order="left")["i"]
        .to_numpy()
        for col in ("account_a", "account_b")
    ]) if edges.height else np.zeros((0, 2), dtype=np.int64)
    graph = ig.Graph(n=len(accounts), edges=ends.tolist())
    weights = np.log1p(edges["weight"].to_numpy().astype(float)) if edges.height else np.zeros(0)
    return _Built(graph, weights, ends)


def backbone(accounts: list[str], edges: pl.DataFrame, per_account: int = PER_ACCOUNT) -> np.ndarray:
    """A boolean per row of ``edges``: in the maximum spanning forest or among an end's strongest edges."""
    return _backbone(_graph(accounts, edges), edges, per_account)


def _backbone(built: _Built, edges: pl.DataFrame, per_account: int = PER_ACCOUNT) -> np.ndarray:
    if not edges.height:
        return np.zeros(0, dtype=bool)
    rows = edges.select("account_a", "account_b", "weight").with_row_index("edge")
    ends = pl.concat([rows.select("edge", pl.col("account_a").alias("account"), "weight"),
                      rows.select("edge", pl.col("account_b").alias("account"), "weight")])
    strongest = (ends.sort(["weight", "edge"], descending=[True, False])
                 .with_columns(pl.int_range(pl.len()).over("account").alias("rank"))
                 .filter(pl.col("rank") < per_account)["edge"].to_numpy())
    tree = built.graph.spanning_tree(weights=-built.weights, return_tree=False)
    keep = np.zeros(edges.height, dtype=bool)
    keep[strongest] = True
    keep[np.asarray(tree, dtype=np.int64)] = True
    return keep


def sub_groups(accounts: list[str], edges: pl.DataFrame, seed: int = 1) -> np.ndarray:
    """Each account's sub-group (Leiden, modularity, weighted), numbered biggest first.

    Accounts without an edge here share one group, numbered last (as hundreds of one-account
    groups they would fill the picture with discs).
    """
    if not accounts:
        return np.zeros(0, dtype=np.int64)
    return _sub_groups(_graph(accounts, edges), seed)


def _sub_groups(built: _Built, seed: int) -> np.ndarray:
    graph, weights = built.graph, built.weights
    ig.set_random_number_generator(random.Random(seed))
    try:
        # one pass at a time from the last partition: the same passes as n_iterations=-1 (same random draws,
        # same result when it stops by itself), but at most LEIDEN_ITERATIONS of them
        membership = None
        for _ in range(LEIDEN_ITERATIONS):
            passed = graph.community_leiden(objective_function="modularity", weights=weights if len(weights) else None,
                                            n_iterations=1, initial_membership=membership).membership
            if passed == membership:
                break
            membership = passed
    finally:
        ig.set_random_number_generator(random)
    membership = np.asarray(membership, dtype=np.int64)
    isolated = np.asarray(graph.degree()) == 0
    membership[isolated] = membership.max() + 1
    sizes = np.bincount(membership).astype(float)
    sizes[membership[isolated]] = 0.5  # after every real group, whatever its size
    order = np.argsort(-sizes, kind="stable")  # biggest group first
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[membership]


def _group_layout(built: _Built, members: np.ndarray, edge_rows: np.ndarray) -> np.ndarray:
    """One group's positions, centred, inside a disc of radius ``sqrt(size)``."""
    n = len(members)
    if n == 1:
        return np.zeros((1, 2))
    local = np.full(built.graph.vcount(), -1, dtype=np.int64)
    local[members] = np.arange(n)
    sub = ig.Graph(n=n, edges=local[built.ends[edge_rows]].tolist())
    xy = np.asarray(sub.layout_fruchterman_reingold(weights=built.weights[edge_rows] if len(edge_rows) else None,
                                                    niter=300).coords, dtype=float).reshape(n, 2)
    xy -= xy.mean(axis=0)
    reach = np.hypot(xy[:, 0], xy[:, 1]).max()
    return xy * (np.sqrt(n) / reach if reach > 0 else 1.0)


def _pack(radii: np.ndarray, steps: int = 300) -> np.ndarray:
    """Centres for discs of ``radii`` that do not overlap, the biggest near the middle (``radii`` biggest first)."""
    g = len(radii)
    # a sunflower spiral start: big discs in the middle, each next one further out
    angle = np.arange(g) * np.pi * (3 - np.sqrt(5))
    reach = np.sqrt(np.cumsum((radii + GAP) ** 2))
    centres = np.column_stack([reach * np.cos(angle), reach * np.sin(angle)])
    for _ in range(steps):
        delta = centres[:, None, :] - centres[None, :, :]
        distance = np.hypot(delta[..., 0], delta[..., 1]) + np.eye(g)
        overlap = np.clip(radii[:, None] + radii[None, :] + GAP - distance, 0, None)
        np.fill_diagonal(overlap, 0)
        if not overlap.any():
            break
        push = (delta / distance[..., None] * overlap[..., None] / 2).sum(axis=1)
        centres = centres + push - 0.01 * centres  # apart, and gently back to the middle
    return centres


def structure(accounts: list[str], edges: pl.DataFrame, seed: int = 1) -> Structure:
    """The cluster's sub-groups, backbone and group-in-a-box layout (see the module docstring)."""
    n = len(accounts)
    positions = np.zeros((n, 2))
    if not n:
        return Structure(positions, np.zeros(0, dtype=np.int64), backbone(accounts, edges))
    built = _graph(accounts, edges)
    keep = _backbone(built, edges)
    group = _sub_groups(built, seed)
    ends = built.ends
    within = keep & (group[ends[:, 0]] == group[ends[:, 1]]) if len(ends) else keep
    sizes = np.bincount(group)
    centres = _pack(np.sqrt(sizes))
    # igraph draws the random start from Python's RNG: seed it for a stable picture
    ig.set_random_number_generator(random.Random(seed))
    try:
        for g in range(len(sizes)):  # one force layout per sub-group (groups, not rows)
            members = np.flatnonzero(group == g)
            rows = np.flatnonzero(within & (group[ends[:, 0]] == g)) if len(ends) else np.zeros(0, dtype=np.int64)
            positions[members] = _group_layout(built, members, rows) + centres[g]
    finally:
        ig.set_random_number_generator(random)
    return Structure(positions, group, keep)


def chosen_label_boxes(xy: np.ndarray, labels: np.ndarray, *, char_px: float, line_px: float,
                       radius_px: np.ndarray | float = 0.0,
                       bounds: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Where the chosen accounts' labels go: every one written, none over another nor over a chosen marker.

    Each label is tried right of its marker, then left of it, on its marker's line, then one line
    up, one down, two up… (``SHIFTS``); the first place inside ``bounds`` (width, height) that
    covers no label placed before and no other chosen marker is taken, else the first inside
    ``bounds``, else right on its line: a chosen account is named whatever it covers. ``xy`` are
    the chosen accounts' pixel positions (y down). Returns each label's box (``k × 4``: ``x0, y0,
    x1, y1``) and whether it is left of its marker. ``O(k² · len(SHIFTS))`` for ``k`` labels.
    """
    k = len(labels)
    widths = np.char.str_len(labels.astype(str)).astype(float) * char_px
    radius = np.broadcast_to(np.asarray(radius_px, dtype=float), (k,))
    boxes, left = np.zeros((k, 4)), np.zeros(k, dtype=bool)
    marks = np.column_stack([xy - radius[:, None], xy + radius[:, None]])
    for i in range(k):  # few labels, each placed against those before it: sequential by nature
        tries = [(on_left, _beside(xy[i], radius[i], widths[i], line_px, dy, on_left))
                 for dy in SHIFTS for on_left in (False, True)]
        inside = [t for t in tries if bounds is None or (t[1][0] >= 0 and t[1][1] >= 0 and t[1][2] <= bounds[0]
                                                           and t[1][3] <= bounds[1])]
        others = np.r_[boxes[:i], np.delete(marks, i, axis=0)]
        free = [t for t in inside if not ((others[:, 0] < t[1][2]) & (others[:, 2] > t[1][0])
                                          & (others[:, 1] < t[1][3]) & (others[:, 3] > t[1][1])).any()]
        left[i], boxes[i] = (free or inside or tries)[0]
    return boxes, left


def _beside(xy: np.ndarray, radius: float, width: float, line_px: float, lines_down: int,
            on_left: bool) -> tuple[float, float, float, float]:
    """The box (``x0, y0, x1, y1``) of a label ``width`` wide, right (or left) of a marker of ``radius``
    at ``xy``, ``lines_down`` lines below the marker's own line (negative: above)."""
    top = xy[1] + (lines_down - 0.5) * line_px
    x0 = xy[0] - radius - 4 - width if on_left else xy[0] + radius + 2
    return (x0, top, x0 + width + 2, top + line_px)


def fitting_labels(xy: np.ndarray, labels: np.ndarray, priority: np.ndarray, *, char_px: float, line_px: float,
                   radius_px: np.ndarray | float = 0.0, max_labels: int = 400,
                   bounds: tuple[float, float] | None = None, taken: np.ndarray | None = None) -> np.ndarray:
    """Which accounts get their label: boxes right of the marker, strongest first, none covering another.

    ``xy`` are pixel positions (y down), ``labels`` the texts, ``priority`` higher first, ``radius_px``
    the markers' radii; a label's box is ``len · char_px`` wide and ``line_px`` high, starting just
    right of its own marker. A box may not overlap a box already placed, one of the boxes ``taken``
    (``m × 4``: ``x0, y0, x1, y1``, the chosen accounts' labels) or another account's marker, nor
    (with ``bounds`` = width, height) leave the picture. Returns a boolean mask over the accounts.
    """
    n = len(labels)
    shown = np.zeros(n, dtype=bool)
    if not n:
        return shown
    lengths = np.char.str_len(labels.astype(str)).astype(float)
    offset = np.broadcast_to(np.asarray(radius_px, dtype=float), (n,))
    x0, x1 = xy[:, 0] + offset + 2, xy[:, 0] + offset + 4 + lengths * char_px
    y0, y1 = xy[:, 1] - line_px / 2, xy[:, 1] + line_px / 2
    taken = np.zeros((0, 4)) if taken is None else np.asarray(taken, dtype=float).reshape(-1, 4)
    placed: list[int] = []
    for i in np.argsort(-priority, kind="stable")[:max_labels]:  # a greedy choice is sequential by nature
        if not lengths[i]:
            continue
        if bounds is not None and (x0[i] < 0 or y0[i] < 0 or x1[i] > bounds[0] or y1[i] > bounds[1]):
            continue
        if ((taken[:, 0] < x1[i]) & (taken[:, 2] > x0[i]) & (taken[:, 1] < y1[i]) & (taken[:, 3] > y0[i])).any():
            continue
        others = np.ones(n, dtype=bool)
        others[i] = False
        if (others & (xy[:, 0] + offset >= x0[i]) & (xy[:, 0] - offset <= x1[i])
                & (xy[:, 1] + offset >= y0[i]) & (xy[:, 1] - offset <= y1[i])).any():
            continue
        p = np.asarray(placed, dtype=np.int64)
        if len(p) and ((x0[p] < x1[i]) & (x1[p] > x0[i]) & (y0[p] < y1[i]) & (y1[p] > y0[i])).any():
            continue
        placed.append(int(i))
    shown[placed] = True
    return shown
