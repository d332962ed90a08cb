"""A cluster's co-action network as an interactive plotly figure.

Nodes are the member accounts, placed by the Fruchterman–Reingold force-directed
layout (igraph's implementation; Fruchterman & Reingold 1991), weighted so that
accounts that co-acted more often sit closer. Colour gives the role the detector
assigned (seeder, amplifier, bridge; Okabe–Ito colours), a star marks a
high-profile account, and node size grows with the account's strength (the sum of
its edge weights inside the cluster). Edges are drawn per coordination type in
three weight bands, thin to thick, named with their weight range in the legend
(the page lists the heaviest edges with all their numbers beside the figure;
edges carry no hover points, so a click always lands on an account).

Each node carries its ``account_id`` as ``customdata``, so
``st.plotly_chart(..., on_select="rerun")`` hands clicked or lasso-selected accounts
back to Python (:func:`selected_accounts`).

Complexity: the layout is ``O(iterations · (V² + E))`` in igraph's C code; drawing is
``O(V + E)`` with at most
``max_edges`` edges kept, the heaviest first.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import igraph as ig
import numpy as np
import plotly.graph_objects as go
import polars as pl

from rallypoint.dashboard.palette import OKABE_ITO, OTHER_COLOUR, ROLE_COLOURS, series_colour
from rallypoint.dashboard.safe import html_expr

#: Beyond this many edges only the heaviest are drawn (and the figure says so).
MAX_EDGES = 3000
#: Line widths of the light, middle and heavy thirds of the edge weights.
BAND_WIDTHS = (0.6, 1.6, 3.2)
#: The key to the network's colours and sizes, and its legend's title (the figure and the picture).
NETWORK_KEY = "colour: role (nodes) and main coordination type (edges); size: strength"
LEGEND_TITLE = "nodes: role · edges: type"
#: Above this many accounts the figure is drawn with WebGL (SVG styles each point in turn: seconds at 2,000).
WEBGL_ABOVE = 500


def cluster_edges(edges: pl.DataFrame, accounts: pl.Series) -> pl.DataFrame:
    """The edges with both ends among ``accounts``, with their dominant type."""
    inside = edges.filter(pl.col("account_a").is_in(accounts.implode()) & pl.col("account_b").is_in(accounts.implode()))
    return inside.with_columns(
        pl.col("types").list.eval(pl.element().sort_by(pl.element().struct.field("weight"), descending=True)
                                  .struct.field("type")).list.first().fill_null("co-action").alias("main_type"),
        pl.col("types").list.eval(pl.element().struct.field("type")).list.join(", ").fill_null("").alias("type_list"),
    )


def layout(accounts: list[str], edges: pl.DataFrame, seed: int = 1) -> np.ndarray:
    """Node positions (V × 2) for ``accounts`` by weighted Fruchterman–Reingold."""
    index = {a: i for i, a in enumerate(accounts)}
    graph = ig.Graph(n=len(accounts))
    if edges.height:
        pairs = list(zip(
            [index[a] for a in edges["account_a"].to_list()],
            [index[b] for b in edges["account_b"].to_list()],
            strict=True,
        ))
        graph.add_edges(pairs)
        weights = np.log1p(edges["weight"].to_numpy().astype(float))
    else:
        weights = None
    # igraph draws the random start from Python's RNG: seed it for a stable picture.
    # (A start passed as ``seed=`` coordinates is much slower in igraph 1.0.)
    ig.set_random_number_generator(random.Random(seed))
    try:
        coords = graph.layout_fruchterman_reingold(weights=weights, niter=300)
    finally:
        ig.set_random_number_generator(random)
    return np.asarray(coords.coords, dtype=float).reshape(len(accounts), 2)


def _edge_segments(xy: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y arrays drawing each edge as a segment, separated by NaN gaps."""
    xs = np.column_stack([xy[ia, 0], xy[ib, 0], np.full(len(ia), np.nan)]).ravel()
    ys = np.column_stack([xy[ia, 1], xy[ib, 1], np.full(len(ia), np.nan)]).ravel()
    return xs, ys


def _account_index(accounts: pl.Series, ids: pl.Series) -> np.ndarray:
    """Row number in ``accounts`` of each id in ``ids`` (a join, not a Python loop)."""
    lookup = pl.DataFrame({"account_id": accounts, "row": np.arange(len(accounts), dtype=np.int64)})
    return (pl.DataFrame({"account_id": ids}).join(lookup, on="account_id", how="left", maintain_order="left")
            ["row"].to_numpy())


def _hover_text(members: pl.DataFrame) -> np.ndarray:
    """One hover label per member, built as a polars string expression (names HTML-escaped: plotly renders HTML)."""
    return members.select(pl.format(
        "<b>{}</b> {}<br>role: {}{}<br>actions {}, degree {}, strength {}",
        html_expr("account_id"), html_expr("account_name"), html_expr("role"),
        pl.when(pl.col("high_profile").fill_null(False)).then(pl.lit(" · HIGH-PROFILE")).otherwise(pl.lit("")),
        pl.col("n_actions").fill_null(0), pl.col("degree").fill_null(0),
        pl.col("strength").fill_null(0).round(0).cast(pl.Int64),
    ))[:, 0].to_numpy().astype(object)


@dataclass(frozen=True)
class DrawnEdges:
    """The edges a network picture draws: the heaviest ``max_edges``, each with its type and weight band.

    ``ia``/``ib`` are the row numbers of the two accounts in ``members``; ``band`` is 0, 1, 2 for
    the light, middle and heavy third of the drawn weights; ``opacity`` fades edges as they grow many.
    """

    ia: np.ndarray
    ib: np.ndarray
    types: np.ndarray
    band: np.ndarray
    type_names: list[str]
    opacity: float
    width_note: str


def drawn_edges(members: pl.DataFrame, edges: pl.DataFrame, max_edges: int = MAX_EDGES) -> DrawnEdges:
    """The heaviest ``max_edges`` edges with their ends, type and weight band. ``O(E log E)`` (the sort)."""
    shown = edges.sort("weight", descending=True).head(max_edges)
    if not shown.height:
        empty = np.zeros(0, dtype=np.int64)
        return DrawnEdges(empty, empty, np.zeros(0, dtype=object), empty, [], 0.5, "")
    accounts = members["account_id"]
    ia, ib = _account_index(accounts, shown["account_a"]), _account_index(accounts, shown["account_b"])
    weights = shown["weight"].to_numpy()
    cuts = np.quantile(weights, [1 / 3, 2 / 3]) if len(weights) > 2 else np.array([weights.max()] * 2)
    band = np.searchsorted(cuts, weights, side="left")
    types = shown["main_type"].to_numpy()
    bounds = [(weights[band == b].min(), weights[band == b].max()) for b in range(3) if (band == b).any()]
    # many edges drown the accounts: fade them as their number grows
    opacity = float(np.clip(0.5 * np.sqrt(400 / len(weights)), 0.12, 0.5))
    width_note = " · line width: weight " + ", ".join(f"{lo}–{hi}" for lo, hi in bounds)
    return DrawnEdges(ia, ib, types, band, sorted(set(types.tolist())), opacity, width_note)


def node_sizes(members: pl.DataFrame) -> np.ndarray:
    """Marker diameter in pixels per member: 7 to 21, growing with the square root of its strength."""
    strength = members["strength"].fill_null(0).to_numpy().astype(float)
    if not len(strength) or strength.max() <= 0:
        return np.full(len(strength), 9.0)
    return 7 + 14 * np.sqrt(strength / strength.max())


def network_title(n_accounts: int, n_edges: int, max_edges: int = MAX_EDGES) -> str:
    """The figure's first title line: how many accounts and edges, and how many edges are drawn."""
    note = f" (heaviest {max_edges:,} of {n_edges:,} edges drawn)" if n_edges > max_edges else ""
    return f"{n_accounts:,} accounts, {n_edges:,} co-action edges{note}"


def network_figure(
    members: pl.DataFrame,
    edges: pl.DataFrame,
    positions: np.ndarray,
    *,
    selected: set[str] | frozenset[str] = frozenset(),
    max_edges: int = MAX_EDGES,
    height: int = 620,
) -> go.Figure:
    """The figure: ``members`` (one row per account, in ``positions`` order) and their edges.

    Above ``WEBGL_ABOVE`` accounts every trace is WebGL (``scattergl``): the browser then
    draws 2,000 accounts and 3,000 edges in a fraction of a second instead of styling
    thousands of SVG elements one by one. Complexity ``O(V + E log E)`` (the edge sort).
    """
    accounts = members["account_id"]
    n = len(accounts)
    kind = "scattergl" if n > WEBGL_ABOVE else "scatter"
    fig = go.Figure(_validate=False)  # inputs are built here, trusted; validation costs seconds at 2,000 nodes
    drawn = drawn_edges(members, edges, max_edges)
    for t in drawn.type_names:
        in_legend = True
        for b, width in enumerate(BAND_WIDTHS):
            mask = (drawn.types == t) & (drawn.band == b)
            if not mask.any():
                continue
            xs, ys = _edge_segments(positions, drawn.ia[mask], drawn.ib[mask])
            fig.add_trace(dict(type=kind,
                x=xs, y=ys, mode="lines", hoverinfo="skip",
                line={"width": width, "color": series_colour(t, drawn.type_names)}, opacity=drawn.opacity,
                name=f"{t} edges ({int((drawn.types == t).sum()):,})", legendgroup=f"edge-{t}", showlegend=in_legend,
            ))
            in_legend = False
    width_note = drawn.width_note
    size = node_sizes(members)
    roles = members["role"].to_numpy()
    high_profile = members["high_profile"].fill_null(False).to_numpy()
    account_arr = accounts.to_numpy().astype(object)
    # node labels are plotly HTML too: shown escaped
    label_arr = members.select(pl.when(pl.col("account_name").fill_null("") != "").then(html_expr("account_name"))
                               .otherwise(html_expr("account_id")))[:, 0].to_numpy().astype(object)
    hover_arr = _hover_text(members)
    show_labels = n <= 300
    for role in [*ROLE_COLOURS, *sorted(set(roles.tolist()) - set(ROLE_COLOURS))]:
        idx = np.flatnonzero(roles == role)
        if not len(idx):
            continue
        labelled = show_labels and role == "seeder"
        fig.add_trace(dict(type=kind,
            x=positions[idx, 0], y=positions[idx, 1], mode="markers+text" if labelled else "markers",
            # high-profile accounts get their label from the star layer below
            text=np.where(high_profile[idx], "", label_arr[idx]) if labelled else None,
            textposition="top center", textfont={"size": 11},
            marker={"size": size[idx], "color": ROLE_COLOURS.get(role, OTHER_COLOUR), "line": {"width": 0.8, "color": "white"}},
            customdata=account_arr[idx], hovertext=hover_arr[idx], hoverinfo="text",
            name=f"{role} ({len(idx):,})",
        ))
    marked = [
        (np.flatnonzero(high_profile), "high-profile", {"symbol": "star", "color": OKABE_ITO["yellow"],
                                                         "line": {"width": 1.5, "color": OKABE_ITO["black"]}}, 10),
        (np.flatnonzero(np.isin(account_arr, list(selected))), "selected", {
            "symbol": "circle-open", "color": OKABE_ITO["black"], "line": {"width": 3}}, 8),
    ]
    for idx, label, style, grow in marked:
        if not len(idx):
            continue
        fig.add_trace(dict(type=kind,
            x=positions[idx, 0], y=positions[idx, 1], mode="markers+text" if label == "high-profile" else "markers",
            text=np.char.add("★ ", label_arr[idx].astype(str)).astype(object),
            textposition="bottom center", textfont={"size": 12, "color": OKABE_ITO["black"]},
            marker={"size": size[idx] + grow, **style},
            customdata=account_arr[idx], hovertext=hover_arr[idx], hoverinfo="text",
            name=f"{label}{' ★' if label == 'high-profile' else ''} ({len(idx)})",
        ))
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, plot_bgcolor="white",
        title={"text": network_title(n, edges.height, max_edges) + width_note
                       + f"<br><sup>{NETWORK_KEY}; click or lasso accounts to inspect them</sup>",
               "font": {"size": 14}},
        legend={"title": {"text": LEGEND_TITLE}, "itemsizing": "constant"},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x"},
        hoverlabel={"bgcolor": "white"}, clickmode="event+select",
    )
    return fig


def selected_accounts(event: Any) -> list[str]:
    """Account ids from a plotly selection event of :func:`network_figure` (clicked or lassoed nodes)."""
    if not event:
        return []
    selection = event.get("selection", {}) if isinstance(event, dict) else getattr(event, "selection", {})
    points = selection.get("points", []) if isinstance(selection, dict) else getattr(selection, "points", [])
    out: list[str] = []
    for point in points:
        data = point.get("customdata")
        account = data[0] if isinstance(data, list | tuple) else data
        if isinstance(account, str) and account not in out:
            out.append(account)
    return out
