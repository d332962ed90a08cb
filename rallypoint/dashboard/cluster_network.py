"""A cluster's network as the cluster page shows it, computed once per run version and cluster.

The members, the co-action edges between them, their structure (backbone, sub-groups and
group-in-a-box layout: :func:`rallypoint.dashboard.structure.structure`) and the pictures
drawn from them live in Streamlit's resource cache, shared by every session and by the
server's warm-up (:mod:`rallypoint.dashboard.warm`), which lays out the biggest networks of
the newest run before anyone opens them. Both call these same functions, so a network laid
out ahead of time is the one the page shows; when a page asks for a network the warm-up is
still computing, it waits for that computation (the cache locks each key) instead of
repeating it.

The structure is computed once and handed to the drawing: the backbone and the Leiden
sub-groups are not recomputed for the picture, the zoom views and the interactive figure.
Objects from the cache are shared and never mutated (polars frames, numpy arrays read only).

Complexity: a cold network costs the layout, ``O(iterations · (V² + E))`` in igraph's C
code, and the drawing, ``O(V + E)``; a cached one a dictionary lookup. The caches hold at
most :data:`MAX_NETWORKS` networks and :data:`MAX_PICTURES` pictures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from rallypoint.dashboard.data import run_table
from rallypoint.dashboard.network import cluster_edges, edgeless, network_figure
from rallypoint.dashboard.network_picture import NetworkPicture, network_picture
from rallypoint.dashboard.network_zoom import WHOLE, view_box, views
from rallypoint.dashboard.structure import Structure, structure
from rallypoint.lake import Lake

__all__ = ["MAX_NETWORKS", "MAX_PICTURES", "ClusterNetwork", "cluster_figure", "cluster_network", "cluster_picture",
           "strongest_edges"]

#: Networks (members, edges, structure) kept in memory, across sessions.
MAX_NETWORKS = 16
#: Pictures (one per network and zoom view) kept in memory, across sessions.
MAX_PICTURES = 32


@dataclass(frozen=True)
class ClusterNetwork:
    """One cluster's members (strongest first), the edges between them and their structure.

    ``isolated`` says whether the last sub-group holds the accounts without an edge inside the cluster.
    """

    members: pl.DataFrame
    edges: pl.DataFrame
    shape: Structure
    isolated: bool

    @property
    def positions(self) -> np.ndarray:
        return self.shape.positions

    @property
    def group(self) -> np.ndarray:
        return self.shape.group

    def views(self) -> dict[int, str]:
        """The zoom views to offer (:func:`rallypoint.dashboard.network_zoom.views`)."""
        return views(self.group, self.isolated)


# the spinner shows only where the page calls it first: nested in another cached function (the
# warm-up calls it through cluster_picture and cluster_figure, outside any page) it shows none
@st.cache_resource(max_entries=MAX_NETWORKS, show_spinner="Laying out the network…")
def cluster_network(root: str, run_id: str, cluster_id: str, version: float) -> ClusterNetwork:
    """The cluster's members, its internal edges and their structure, cached per run version."""
    del version  # part of the cache key only
    current = Lake(root)
    members = run_table(current, run_id, "members").filter(pl.col("cluster_id") == cluster_id)
    members = members.sort("strength", descending=True, nulls_last=True)
    edges = cluster_edges(run_table(current, run_id, "edges"), members["account_id"])
    shape = structure(members["account_id"].to_list(), edges)
    alone, _ = edgeless(members, edges)
    isolated = bool(members.height) and bool(alone[shape.group == shape.group.max()].all())
    return ClusterNetwork(members, edges, shape, isolated)


@st.cache_resource(max_entries=MAX_PICTURES, show_spinner=False)
def cluster_picture(root: str, run_id: str, cluster_id: str, version: float, view: int = WHOLE) -> NetworkPicture:
    """The network (or one sub-group's box of it) as a PNG with each account's pixel position, drawn once."""
    network = cluster_network(root, run_id, cluster_id, version)
    note = "" if view == WHOLE else f"zoomed to {network.views()[view]}"
    return network_picture(network.members, network.edges, network.positions, shape=network.shape,
                           view=view_box(network.positions, network.group, view), view_note=note)


@st.cache_resource(max_entries=MAX_NETWORKS, show_spinner=False)
def cluster_figure(root: str, run_id: str, cluster_id: str, version: float) -> go.Figure:
    """The interactive network figure, built once per run version (shared between sessions, never mutated)."""
    network = cluster_network(root, run_id, cluster_id, version)
    return network_figure(network.members, network.edges, network.positions, shape=network.shape)


@st.cache_resource(max_entries=MAX_NETWORKS, show_spinner=False)
def strongest_edges(root: str, run_id: str, cluster_id: str, version: float, n: int = 200) -> pl.DataFrame:
    """The ``n`` heaviest edges of the cluster, as the table beside the network shows them."""
    edges = cluster_network(root, run_id, cluster_id, version).edges
    return edges.sort("weight", descending=True).head(n).select(
        "account_a", "account_b", pl.col("weight").alias("co-shares"), pl.col("n_shared").alias("distinct targets"),
        pl.col("type_list").alias("types"), pl.col("strength").round(1).alias("observed/expected"))
