"""A cluster's co-action network as an interactive plotly figure.

Nodes are the member accounts, placed group by group
(:mod:`rallypoint.dashboard.structure`: the cluster's sub-communities laid out apart, each
by weighted Fruchterman–Reingold on its backbone edges), so a dense cluster shows its
structure instead of a blob. Colour gives the role the detector assigned (seeder,
amplifier, bridge; Okabe–Ito colours), a star marks a high-profile account, node size
grows with the account's strength (the sum of its edge weights inside the cluster), and
handles are written where they fit. Only the **backbone** is drawn (a maximum spanning
tree and each account's strongest edges), in three weight bands, thin to thick; edge
colour is the main coordination type when the drawn edges' types differ, else the weight
band (the page lists the heaviest edges with all their numbers below the figure; edges
carry no hover points, so a click always lands on an account).

Each node carries its ``account_id`` as ``customdata``, so
``st.plotly_chart(..., on_select="rerun")`` hands clicked or lasso-selected accounts
back to Python (:func:`selected_accounts`).

Complexity: the layout is ``O(iterations · (V² + E))`` in igraph's C code; drawing is
``O(V + E log E)`` with at most ``max_edges`` backbone edges kept, the heaviest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl

from rallypoint.dashboard.palette import (
    BETWEEN_COLOUR,
    EDGE_TYPE_COLOURS,
    NODE_COLOURS,
    OKABE_ITO,
    OTHER_COLOUR,
    OTHER_TYPES_COLOUR,
    WEIGHT_SHADES,
)
from rallypoint.dashboard.safe import html, html_expr, text_expr
from rallypoint.dashboard.structure import (
    GAP,
    Structure,
    backbone,
    chosen_label_boxes,
    fitting_labels,
    structure,
    sub_groups,
)

#: Beyond this many edges only the heaviest are drawn (and the figure says so).
MAX_EDGES = 3000
#: Line widths of the light, middle and heavy thirds of the edge weights.
BAND_WIDTHS = (0.6, 1.6, 3.2)
#: The key to the network's colours and sizes, and its legend's title (the figure and the picture).
NETWORK_KEY = ("nodes: colour = role, size = strength, placed by sub-community; edges: the backbone (a maximum "
               "spanning tree and each account's strongest), coloured by type where types differ, else by weight")
LEGEND_TITLE = "nodes: role · edges"
#: Edges are coloured by type only when the second most common type has at least this share of them
#: (inside the sub-groups).
MIN_TYPE_SHARE = 0.1
#: The plot area's width the labels are fitted to (pixels): the page column's usual width less the
#: legend's (the figure's height less its margins gives the other side).
PLOT_WIDTH_PX = 700.0
#: The figure's margins (pixels): the title's lines above, little elsewhere.
MARGIN = {"l": 10, "r": 10, "t": 70, "b": 10}
#: The share of the drawing's span left free on each side of the accounts (room for markers and labels).
PAD = 0.04
#: Above this many accounts the figure is drawn with WebGL (SVG styles each point in turn: seconds at 2,000).
WEBGL_ABOVE = 500
#: A label longer than this is cut (with "…"): a chosen account is always named, and a crafted
#: handle of thousands of characters would otherwise cover the drawing.
MAX_LABEL_CHARS = 32
#: The box a character of a chosen account's label (bold, 12 px) takes when placing it (pixels).
CHOSEN_CHAR_PX = 7.6
#: The dashed ring around the accounts without an edge (their disc), in both drawings.
RING_COLOUR = "#444444"


def cluster_edges(edges: pl.DataFrame, accounts: pl.Series) -> pl.DataFrame:
    """The edges with both ends among ``accounts``, with their dominant type."""
    inside = edges.filter(pl.col("account_a").is_in(accounts.implode()) & pl.col("account_b").is_in(accounts.implode()))
    return inside.with_columns(
        pl.col("types").list.eval(pl.element().sort_by(pl.element().struct.field("weight"), descending=True)
                                  .struct.field("type")).list.first().fill_null("co-action").alias("main_type"),
        pl.col("types").list.eval(pl.element().struct.field("type")).list.join(", ").fill_null("").alias("type_list"),
    )


def layout(accounts: list[str], edges: pl.DataFrame, seed: int = 1) -> np.ndarray:
    """Node positions (V × 2) for ``accounts``: sub-groups laid out apart on their backbone edges
    (:func:`rallypoint.dashboard.structure.structure`)."""
    return structure(accounts, edges, seed).positions


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
    """The edges a network picture draws: the backbone's heaviest ``max_edges``, each with its colour and band.

    ``ia``/``ib`` are the row numbers of the two accounts in ``members``; ``band`` is 0, 1, 2 for
    the light, middle and heavy third of the drawn weights; ``colours`` each edge's colour and
    ``legend`` the (label, colour) pairs that explain them: by main coordination type when the
    drawn edges' types differ, else by weight band (a colour for a type nearly every edge has
    tells nothing); ``between`` marks the edges joining two sub-groups (drawn faint and grey, so
    they do not hide the groups); ``opacity`` fades edges as they grow many.
    """

    ia: np.ndarray
    ib: np.ndarray
    band: np.ndarray
    between: np.ndarray
    colours: np.ndarray
    legend: list[tuple[str, str]]
    opacity: float
    width_note: str
    n_drawn: int


def edges_by_type(types: np.ndarray) -> bool:
    """Whether edge colours should be the types: the second most common type holds at least ``MIN_TYPE_SHARE``."""
    if not len(types):
        return False
    counts = np.sort(np.unique(types, return_counts=True)[1])[::-1]
    return len(counts) > 1 and counts[1] >= MIN_TYPE_SHARE * len(types)


def drawn_edges(members: pl.DataFrame, edges: pl.DataFrame, max_edges: int = MAX_EDGES,
                shape: Structure | None = None) -> DrawnEdges:
    """The backbone's heaviest ``max_edges`` edges with their ends, colour and weight band. ``O(E log E)``.

    ``shape`` is the structure already computed from these members and edges (its backbone and
    sub-groups are then reused, not computed again).
    """
    accounts = members["account_id"]
    keep = shape.backbone if shape is not None else backbone(accounts.to_list(), edges) if edges.height else None
    shown = edges.filter(pl.Series(keep)) if edges.height else edges
    shown = shown.sort("weight", descending=True).head(max_edges)
    if not shown.height:
        empty = np.zeros(0, dtype=np.int64)
        return DrawnEdges(empty, empty, empty, empty.astype(bool), np.zeros(0, dtype=object), [], 0.5, "", 0)
    ia, ib = _account_index(accounts, shown["account_a"]), _account_index(accounts, shown["account_b"])
    group = shape.group if shape is not None else sub_groups(accounts.to_list(), edges)
    between = group[ia] != group[ib]
    weights = shown["weight"].to_numpy()
    cuts = np.quantile(weights, [1 / 3, 2 / 3]) if len(weights) > 2 else np.array([weights.max()] * 2)
    band = np.searchsorted(cuts, weights, side="left")
    types = shown["main_type"].to_numpy().astype(object)
    bounds = {b: (weights[band == b].min(), weights[band == b].max()) for b in range(3) if (band == b).any()}
    inside = types[~between]
    if edges_by_type(inside):
        names, counts = np.unique(inside, return_counts=True)
        ranked = names[np.argsort(-counts, kind="stable")].tolist()
        # the commonest types get a colour of their own (none of the roles' colours), the rest one grey
        palette = dict(zip(ranked, EDGE_TYPE_COLOURS, strict=False))
        colours = np.array([palette.get(t, OTHER_TYPES_COLOUR) for t in types], dtype=object)
        count = dict(zip(names.tolist(), counts.tolist(), strict=True))
        legend = [(f"{t} ({count[t]:,})", palette[t]) for t in palette]
        rest = sum(count[t] for t in ranked if t not in palette)
        legend += [(f"other types ({rest:,})", OTHER_TYPES_COLOUR)] if rest else []
    else:
        colours = np.asarray(WEIGHT_SHADES, dtype=object)[band]
        only = f"{inside[0]} " if len(inside) and len(set(inside.tolist())) == 1 else ""
        legend = [(f"{only}weight {_span(lo, hi)} ({int((band[~between] == b).sum()):,})", WEIGHT_SHADES[b])
                  for b, (lo, hi) in bounds.items() if (band[~between] == b).any()]
    colours[between] = BETWEEN_COLOUR
    legend += [(f"between groups ({int(between.sum()):,})", BETWEEN_COLOUR)] if between.any() else []
    # many edges drown the accounts: fade them as their number grows
    opacity = float(np.clip(0.7 * np.sqrt(400 / len(weights)), 0.25, 0.7))
    width_note = " · line width: weight " + ", ".join(_span(lo, hi) for lo, hi in bounds.values())
    return DrawnEdges(ia, ib, band, between, colours, legend, opacity, width_note, shown.height)


def _span(lo, hi) -> str:
    """A band of weights as read: ``2–25``, or ``5`` when it holds one weight (not ``5–5``)."""
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


#: What the accounts without an edge are called on a cluster's picture.
ALONE_NOUN = "accounts with no edge to another member"


def edgeless(members: pl.DataFrame, edges: pl.DataFrame, alone_noun: str = ALONE_NOUN) -> tuple[np.ndarray, str]:
    """Which members have no edge to another member here, and the words that name them on the picture
    (``alone_noun`` after their count: what their being alone means in this drawing).

    The layout puts them in one disc of their own (:func:`rallypoint.dashboard.structure.sub_groups`):
    without a word it reads as a group like the others. The words are empty when fewer than two.

    ``O(V + E)`` in polars, computed by each drawing rather than handed down with its ``shape``: it is
    a small part of the drawing it annotates, and a page draws each picture once
    (:mod:`rallypoint.dashboard.cluster_network` caches them).
    """
    linked = pl.concat([edges["account_a"], edges["account_b"]]).unique().implode() if edges.height else []
    alone = (~members["account_id"].is_in(linked)).to_numpy() if edges.height else np.ones(members.height, dtype=bool)
    count = int(alone.sum())
    return alone, (f"{count:,} {alone_noun}" if count > 1 else "")


def edgeless_ring(positions: np.ndarray, alone: np.ndarray) -> tuple[float, float, float]:
    """The circle (``x, y, radius`` in layout units) drawn dashed round the members without an edge.

    It passes half the gap the layout leaves between discs outside their farthest account, so it
    covers none of the other discs' accounts: the words naming it go in the legend, where they
    cannot lie over the drawing (as words placed above the disc did).
    """
    ring = positions[alone]
    centre = ring.mean(axis=0)  # the layout centres each disc on its accounts' mean
    return float(centre[0]), float(centre[1]), float(np.hypot(*(ring - centre).T).max() + GAP / 2)


def node_sizes(members: pl.DataFrame) -> np.ndarray:
    """Marker diameter in pixels per member: 7 to 21, growing with the square root of its strength."""
    strength = members["strength"].fill_null(0).to_numpy().astype(float)
    if not len(strength) or strength.max() <= 0:
        return np.full(len(strength), 9.0)
    return 7 + 14 * np.sqrt(strength / strength.max())


def node_labels(members: pl.DataFrame) -> np.ndarray:
    """Each member's label as drawn: its handle, else its id, its invisible characters revealed
    (:func:`~rallypoint.dashboard.safe.text_expr`), on one line, cut at ``MAX_LABEL_CHARS`` (as text;
    plotly callers escape it).

    Revealed before it is measured or cut: an invisible character is drawn as ``[U+200B]``, eight
    characters wide, so a handle of them measured unrevealed would be placed over its neighbours.
    Its line breaks become spaces: the labels are fitted one line high, and both drawings would
    break a label at them.
    """
    label = text_expr(pl.when(pl.col("account_name").fill_null("") != "").then(pl.col("account_name"))
                      .otherwise(pl.col("account_id"))).str.replace_all(r"[\r\n]+", " ")
    return members.select(pl.when(label.str.len_chars() > MAX_LABEL_CHARS)
                          .then(label.str.slice(0, MAX_LABEL_CHARS - 1) + "…").otherwise(label)
                          )[:, 0].to_numpy().astype(object)


def network_title(n_accounts: int, n_edges: int, n_drawn: int, edge_noun: str = "co-action edges") -> str:
    """The figure's first title line: how many accounts and edges (``edge_noun``), and which edges are drawn."""
    note = f" (backbone drawn: {n_drawn:,} edges)" if n_drawn < n_edges else ""
    return f"{n_accounts:,} accounts, {n_edges:,} {edge_noun}{note}"


def axis_ranges(positions: np.ndarray) -> tuple[list[float], list[float]]:
    """The x and y ranges the figure shows: the accounts' box, ``PAD`` of its larger side added around.
    Set, not left to plotly's autorange, so where each account lands in pixels is known when labels are fitted."""
    low, high = positions.min(axis=0), positions.max(axis=0)
    pad = PAD * float(max(np.max(high - low), 1e-9))
    return [float(low[0] - pad), float(high[0] + pad)], [float(low[1] - pad), float(high[1] + pad)]


def label_pixels(positions: np.ndarray, ranges: tuple[list[float], list[float]], width: float,
                 height: float) -> np.ndarray:
    """Where plotly draws ``positions`` in a plot of ``width`` × ``height`` pixels showing ``ranges`` with
    equal axes (y down): the tighter side sets the scale, the other's range grows about its centre."""
    (x0, x1), (y0, y1) = ranges
    scale = min(width / max(x1 - x0, 1e-9), height / max(y1 - y0, 1e-9))
    return np.column_stack([width / 2 + (positions[:, 0] - (x0 + x1) / 2) * scale,
                            height / 2 - (positions[:, 1] - (y0 + y1) / 2) * scale])


def network_figure(
    members: pl.DataFrame,
    edges: pl.DataFrame,
    positions: np.ndarray,
    *,
    selected: set[str] | frozenset[str] = frozenset(),
    max_edges: int = MAX_EDGES,
    height: int = 620,
    edge_noun: str = "co-action edges",
    alone_noun: str = ALONE_NOUN,
    shape: Structure | None = None,
) -> go.Figure:
    """The figure: ``members`` (one row per account, in ``positions`` order) and their backbone edges
    (``shape``: their structure when already computed, see :func:`drawn_edges`).

    Above ``WEBGL_ABOVE`` accounts every trace is WebGL (``scattergl``): the browser then
    draws 2,000 accounts and 3,000 edges in a fraction of a second instead of styling
    thousands of SVG elements one by one. Handles are written beside the accounts where they
    fit at the figure's first size (zoom in to read the others in their hover labels); the
    ``selected`` accounts are always named, in bold, and drawn last (on top) with a black outline.
    Complexity ``O(V + E log E)`` (the edge sort).
    """
    accounts = members["account_id"]
    n = len(accounts)
    kind = "scattergl" if n > WEBGL_ABOVE else "scatter"
    fig = go.Figure(_validate=False)  # inputs are built here, trusted; validation costs seconds at 2,000 nodes
    drawn = drawn_edges(members, edges, max_edges, shape)
    for label, colour in drawn.legend:
        in_legend = True
        for b, width in enumerate(BAND_WIDTHS):
            mask = (drawn.colours == colour) & (drawn.band == b)
            if not mask.any():
                continue
            xs, ys = _edge_segments(positions, drawn.ia[mask], drawn.ib[mask])
            faint = colour == BETWEEN_COLOUR
            fig.add_trace(dict(type=kind,
                x=xs, y=ys, mode="lines", hoverinfo="skip",
                line={"width": min(width, 1.0) if faint else width, "color": colour},
                opacity=drawn.opacity / 2 if faint else drawn.opacity,
                name=label, legendgroup=f"edge-{label}", showlegend=in_legend,
            ))
            in_legend = False
    size = node_sizes(members)
    roles = members["role"].to_numpy()
    high_profile = members["high_profile"].fill_null(False).to_numpy()
    account_arr = accounts.to_numpy().astype(object)
    plain_labels = node_labels(members)
    # node labels are plotly HTML too: shown escaped
    label_arr = pl.DataFrame({"label": plain_labels.tolist()}, schema={"label": pl.String}).select(
        html_expr("label"))[:, 0].to_numpy().astype(object)
    hover_arr = _hover_text(members)
    alone, note = edgeless(members, edges, alone_noun)
    ring = edgeless_ring(positions, alone) if note else None
    # the ring's box is shown too: it passes outside its accounts
    ranges = (axis_ranges(positions if ring is None else np.vstack([positions, [ring[0] - ring[2], ring[1] - ring[2]],
                                                                    [ring[0] + ring[2], ring[1] + ring[2]]]))
              if n else ([0.0, 1.0], [0.0, 1.0]))
    plot_px = (PLOT_WIDTH_PX, float(height - MARGIN["t"] - MARGIN["b"]))
    pixels = label_pixels(positions, ranges, *plot_px)
    # the chosen accounts are always named, first: they are what the analyst asked about
    chosen = np.isin(account_arr, list(selected))
    boxes, left = chosen_label_boxes(pixels[chosen], plain_labels[chosen], char_px=CHOSEN_CHAR_PX, line_px=16,
                                     radius_px=size[chosen] / 2 + 2, bounds=plot_px)
    fits = (fitting_labels(pixels, plain_labels, size, char_px=7.0, line_px=16, radius_px=size / 2, bounds=plot_px,
                           taken=boxes) & ~high_profile & ~chosen if n else np.zeros(0, dtype=bool))
    for role in [*NODE_COLOURS, *sorted(set(roles.tolist()) - set(NODE_COLOURS))]:
        idx = np.flatnonzero(roles == role)
        if not len(idx):
            continue
        labelled = fits[idx].any()
        fig.add_trace(dict(type=kind,
            x=positions[idx, 0], y=positions[idx, 1], mode="markers+text" if labelled else "markers",
            # high-profile accounts get their label from the star layer below
            text=np.where(fits[idx], label_arr[idx], "") if labelled else None,
            textposition="middle right", textfont={"size": 11, "color": "#333333"},
            marker={"size": size[idx], "color": NODE_COLOURS.get(role, OTHER_COLOUR), "line": {"width": 0.8, "color": "white"}},
            customdata=account_arr[idx], hovertext=hover_arr[idx], hoverinfo="text",
            name=f"{role} ({len(idx):,})",
        ))
    idx = np.flatnonzero(high_profile)
    if len(idx):
        fig.add_trace(dict(type=kind,
            x=positions[idx, 0], y=positions[idx, 1], mode="markers+text",
            # a chosen high-profile account is named once, by the chosen accounts' layer
            text=np.where(chosen[idx], "", np.char.add("★ ", label_arr[idx].astype(str))).astype(object),
            textposition="bottom center", textfont={"size": 12, "color": OKABE_ITO["black"]},
            marker={"size": size[idx] + 10, "symbol": "star", "color": OKABE_ITO["yellow"],
                    "line": {"width": 1.5, "color": OKABE_ITO["black"]}},
            customdata=account_arr[idx], hovertext=hover_arr[idx], hoverinfo="text",
            name=f"high-profile ★ ({len(idx)})",
        ))
    idx = np.flatnonzero(chosen)
    if len(idx):  # last, so on top of every other account; their labels are annotations, above every trace
        fig.add_trace(dict(type=kind,
            x=positions[idx, 0], y=positions[idx, 1], mode="markers",
            marker={"size": size[idx] + 4, "color": [NODE_COLOURS.get(r, OTHER_COLOUR) for r in roles[idx]],
                    "line": {"width": 3, "color": OKABE_ITO["black"]}},
            customdata=account_arr[idx], hovertext=hover_arr[idx], hoverinfo="text",
            name=f"selected, named ({len(idx)})",
        ))
        for i, box, on_left in zip(idx, boxes, left, strict=True):
            # plotly's shifts are pixels, y up; the boxes' are y down
            fig.add_annotation(x=float(positions[i, 0]), y=float(positions[i, 1]), text=f"<b>{html(plain_labels[i])}</b>",
                               showarrow=False, xanchor="right" if on_left else "left",
                               xshift=float((box[2] if on_left else box[0]) - pixels[i, 0]),
                               yshift=float(pixels[i, 1] - (box[1] + box[3]) / 2),
                               font={"size": 12, "color": OKABE_ITO["black"]}, bgcolor="rgba(255,255,255,0.85)")
    if ring is not None:  # a dashed ring round their disc, named in the legend: words on the drawing lay over accounts
        x, y, r = ring
        fig.add_shape(type="circle", xref="x", yref="y", x0=x - r, x1=x + r, y0=y - r, y1=y + r, layer="below",
                      line={"color": RING_COLOUR, "width": 1.5, "dash": "dash"})
        fig.add_trace(dict(type=kind, x=[None], y=[None], mode="markers", hoverinfo="skip", name=f"dashed ring: {note}",
                           marker={"size": 14, "symbol": "circle-open", "color": RING_COLOUR}))
    fig.update_layout(
        height=height, margin=MARGIN, plot_bgcolor="white",
        # the key on two lines: on one it ran past the right edge of the page's column
        title={"text": network_title(n, edges.height, drawn.n_drawn, edge_noun) + drawn.width_note
                       + f"<br><sup>{NETWORK_KEY.replace('; edges:', ';<br>edges:')}; scroll or drag to zoom, "
                         "click or lasso accounts to inspect them</sup>",
               "font": {"size": 14}},
        legend={"title": {"text": LEGEND_TITLE}, "itemsizing": "constant"},
        xaxis={"visible": False, "range": ranges[0]}, yaxis={"visible": False, "scaleanchor": "x", "range": ranges[1]},
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
