"""A large cluster's network drawn on the server as one PNG, with clicks mapped back to accounts.

The interactive plotly figure (:mod:`rallypoint.dashboard.network`) costs the browser
seconds at 2,000 accounts: WebGL runs in a software renderer where there is no GPU,
and SVG styles every point in turn. A picture is one ``<img>``: the browser decodes
it in milliseconds. It shows the same things — accounts coloured by role and sized
by strength and grouped by sub-community, handles where they fit, high-profile accounts
as named stars, the backbone's edges in three weight bands — and keeps the pixel position of every
account, so a click (or a dragged box) on the picture is turned back into accounts
by :func:`accounts_at`.

Drawn with matplotlib's Agg backend through its object API (no pyplot state, safe
for Streamlit's threads), in one rendering: the pixel positions of the accounts (needed to
fit the labels) come from the axes' transform once the equal aspect is applied, not from a
first drawing. Complexity: ``O(V + E)`` drawing plus PNG encoding of the fixed-size
picture, done once per run, cluster and zoom view (:mod:`rallypoint.dashboard.cluster_network`
caches it).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Collection
from dataclasses import dataclass, replace

import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle
from PIL import Image

from rallypoint.dashboard.network import (
    ALONE_NOUN,
    BAND_WIDTHS,
    LEGEND_TITLE,
    MAX_EDGES,
    NETWORK_KEY,
    RING_COLOUR,
    drawn_edges,
    edgeless,
    edgeless_ring,
    network_title,
    node_labels,
    node_sizes,
)
from rallypoint.dashboard.palette import NODE_COLOURS, OKABE_ITO, OTHER_COLOUR
from rallypoint.dashboard.structure import Structure, chosen_label_boxes, fitting_labels

#: Above this many accounts a network is first drawn as a picture: the interactive figure costs the browser
#: seconds (plotly's bundle on a first view, then thousands of SVG elements), and the largest clusters of a run
#: are often a few hundred accounts.
PICTURE_ABOVE = 200
#: Picture size in pixels: about the width of the page's main column, so its text is shown near its drawn size.
WIDTH_PX, HEIGHT_PX, DPI = 1100, 720, 100
#: A click this close (in picture pixels) to an account's centre picks it; further away picks nothing.
PICK_RADIUS_PX = 14.0
#: Colours of the PNG's palette (the picture uses the Okabe–Ito colours and their blends with white).
PALETTE_COLOURS = 128
#: Account labels: font size (points) and the box a character and a line take (pixels) when fitting them.
LABEL_FONT_PT, LABEL_CHAR_PX, LABEL_LINE_PX = 8, 7.6, 13.0
#: How much wider (pixels) a chosen account's marker is drawn than its size says, to stand out.
CHOSEN_GROW_PX = 6
#: The box a character of a chosen account's label (bold, a point larger) takes when placing it (pixels).
CHOSEN_CHAR_PX = 8.6


@dataclass(frozen=True)
class NetworkPicture:
    """The PNG and where each account sits in it.

    ``xy`` is ``V × 2`` pixel positions (x right, y down, origin top left) in the
    order of the members the picture was drawn from; ``accounts`` the ids in that order;
    ``radius`` each marker's radius in pixels and ``layer`` its drawing order (higher is on top);
    ``area`` the drawing's box in pixels (``x0, y0, x1, y1``): a zoomed picture clips the accounts
    outside it, which are then neither seen nor picked.
    """

    png: bytes
    width: int
    height: int
    xy: np.ndarray
    accounts: np.ndarray
    radius: np.ndarray
    layer: np.ndarray
    area: tuple[float, float, float, float] = (0.0, 0.0, float("inf"), float("inf"))

    def save(self, buffer: io.BytesIO, **_: object) -> None:
        """Write the PNG to ``buffer``: the image component encodes any object with a ``save``;
        this hands it the bytes already encoded instead of re-encoding a picture every rerun."""
        buffer.write(self.png)


def _points(size_px: np.ndarray) -> np.ndarray:
    """matplotlib's marker area (points²) for a diameter in pixels (what plotly's ``size`` means)."""
    return (size_px * 72.0 / DPI) ** 2


def network_picture(members: pl.DataFrame, edges: pl.DataFrame, positions: np.ndarray,
                    *, max_edges: int = MAX_EDGES, view: tuple[float, float, float, float] | None = None,
                    view_note: str = "", edge_noun: str = "co-action edges", alone_noun: str = ALONE_NOUN,
                    shape: Structure | None = None, selected: Collection[str] = ()) -> NetworkPicture:
    """Draw ``members`` (in ``positions`` order) and their backbone's heaviest ``max_edges`` edges as a PNG.

    ``view`` (``x0, x1, y0, y1`` in layout coordinates) zooms the picture to that box (accounts
    outside it lie outside the picture and cannot be clicked); ``view_note`` then says what is shown.
    ``shape`` is the members' structure when already computed (its backbone and sub-groups are reused).
    Handles are written beside the accounts where they fit (:func:`~rallypoint.dashboard.structure.fitting_labels`);
    the ``selected`` accounts (an expand's seeds) are always named, in bold on white, and drawn on
    top of everything with a black outline, whatever the picture's size.
    """
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.01, 0.72, 0.86))  # narrowed to the legend's left once the legend is measured
    ax.set_axis_off()
    ax.set_aspect("equal", adjustable="datalim")
    n = members.height
    drawn = drawn_edges(members, edges, max_edges, shape)
    handles: list[Line2D] = []
    if len(drawn.ia):
        segments = np.stack([positions[drawn.ia], positions[drawn.ib]], axis=1)
        widths = np.asarray(BAND_WIDTHS)[drawn.band]
        # edges between sub-groups faint and thin, behind those inside the groups
        for part, alpha, zorder in ((drawn.between, drawn.opacity / 2, 0.5), (~drawn.between, drawn.opacity, 1)):
            if part.any():
                ax.add_collection(LineCollection(segments[part], colors=list(drawn.colours[part]),
                                                 linewidths=np.minimum(widths[part], 1.0) if zorder < 1 else widths[part],
                                                 alpha=alpha, zorder=zorder))
        handles += [Line2D([], [], color=c, lw=2, label=label) for label, c in drawn.legend]
    size = node_sizes(members)
    roles = members["role"].fill_null("").to_numpy().astype(object)
    role_order = [r for r in [*NODE_COLOURS, *sorted(set(roles.tolist()) - set(NODE_COLOURS))] if (roles == r).any()]
    # the rarer a role, the later it is drawn: a few seeders stay visible on top of many amplifiers
    on_top = {r: rank for rank, r in enumerate(sorted(role_order, key=lambda r: -(roles == r).sum()))}
    for role in role_order:
        idx = np.flatnonzero(roles == role)
        if len(idx):
            ax.scatter(positions[idx, 0], positions[idx, 1], s=_points(size[idx]), zorder=2 + 0.01 * on_top[role],
                       c=NODE_COLOURS.get(role, OTHER_COLOUR), edgecolors="white", linewidths=0.6)
            handles.append(Line2D([], [], ls="", marker="o", ms=8, color=NODE_COLOURS.get(role, OTHER_COLOUR),
                                  label=f"{role} ({len(idx):,})"))
    high_profile = np.flatnonzero(members["high_profile"].fill_null(False).to_numpy())
    chosen = np.isin(members["account_id"].to_numpy().astype(object), np.asarray(list(selected), dtype=object))
    # drawing order, as matplotlib layers it: by role (rarer on top), then by row; stars above those,
    # the chosen accounts above all
    role_layer = pl.Series(roles.tolist(), dtype=pl.String).replace_strict(on_top, return_dtype=pl.Int64).to_numpy()
    layer = role_layer * n + np.arange(n)
    layer[high_profile] += (len(role_order) + 1) * n
    layer[chosen] += (len(role_order) + 2) * n
    radius = size / 2
    radius[high_profile] = (size[high_profile] + 12) / 2
    radius[chosen] = (size[chosen] + CHOSEN_GROW_PX) / 2
    labels = node_labels(members)
    if chosen.any():
        ax.scatter(positions[chosen, 0], positions[chosen, 1], s=_points(size[chosen] + CHOSEN_GROW_PX), zorder=5,
                   c=[NODE_COLOURS.get(r, OTHER_COLOUR) for r in roles[chosen]], edgecolors=OKABE_ITO["black"],
                   linewidths=2.2)
        handles.append(Line2D([], [], ls="", marker="o", ms=10, color="white", markeredgecolor=OKABE_ITO["black"],
                              markeredgewidth=2.2, label=f"selected, named ({int(chosen.sum()):,})"))
    if len(high_profile):
        ax.scatter(positions[high_profile, 0], positions[high_profile, 1], s=_points(size[high_profile] + 12),
                   marker="*", c=OKABE_ITO["yellow"], edgecolors=OKABE_ITO["black"], linewidths=1.2, zorder=3)
        # a chosen high-profile account is named once, with the chosen ones
        for (x, y), label in zip(positions[high_profile[~chosen[high_profile]]],
                                 labels[high_profile[~chosen[high_profile]]], strict=True):
            ax.annotate(f"★ {label}", (x, y), parse_math=False, xytext=(0, -14), textcoords="offset points", ha="center",
                        fontsize=12, zorder=4, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                                                     "alpha": 0.75})
        handles.append(Line2D([], [], ls="", marker="*", ms=13, color=OKABE_ITO["yellow"],
                              markeredgecolor=OKABE_ITO["black"], label=f"high-profile ★ ({len(high_profile)})"))
    alone, note = edgeless(members, edges, alone_noun)
    if note:  # a dashed ring round their disc, named in the legend: words on the drawing lay over accounts
        x, y, r = edgeless_ring(positions, alone)
        ax.add_patch(Circle((x, y), r, fill=False, ls="--", lw=1.6, ec=RING_COLOUR, zorder=0.4))
        # on two lines: one long line widened the legend and narrowed the drawing
        handles.append(Line2D([], [], ls="", marker="o", ms=12, mfc="none", mec=RING_COLOUR, mew=1.6,
                              label=textwrap.fill(f"dashed ring: {note}", 28)))
    ax.autoscale_view()
    if view is not None:
        ax.set_xlim(view[0], view[1])
        ax.set_ylim(view[2], view[3])
    # the legend at the right edge, as wide as its longest label, and the drawing ends before it: a fixed
    # split cut long labels ("co_engage weight 34–39 (1,086)") at the picture's edge or ran them into the nodes
    legend = fig.legend(handles=handles, loc="upper right", bbox_to_anchor=(0.995, 0.86), frameon=True,
                        fontsize=11, title=LEGEND_TITLE, title_fontsize=11, alignment="left",
                        facecolor="white", edgecolor="#cccccc", framealpha=1.0)
    legend_left = legend.get_window_extent(canvas.get_renderer()).x0 / WIDTH_PX
    ax.set_position((0.01, 0.01, max(legend_left - 0.025, 0.4), 0.86))
    # the view goes on the title's line: a fourth line of the key would run into the drawing
    fig.suptitle(network_title(n, edges.height, drawn.n_drawn, edge_noun) + (f" · {view_note}" if view_note else ""),
                 x=0.01, y=0.985, ha="left", fontsize=12)
    fig.text(0.01, 0.945, "\n".join((NETWORK_KEY, drawn.width_note.removeprefix(" · "))),
             fontsize=9, wrap=True, color="#444444", va="top")
    # the limits as drawing will set them (equal aspect), so the pixel positions are known before
    # the one drawing, which then includes the labels that fit
    ax.apply_aspect()
    # display coordinates have their origin at the bottom left; the picture's at the top left
    xy = ax.transData.transform(positions) if n else np.zeros((0, 2))
    xy = np.column_stack([xy[:, 0], HEIGHT_PX - xy[:, 1]])
    area = ax.get_window_extent()
    if n:
        # labels only inside the drawing area (the legend and the title keep their space)
        in_area = xy - [area.x0, HEIGHT_PX - area.y1]
        boxes, left = chosen_label_boxes(in_area[chosen], labels[chosen], char_px=CHOSEN_CHAR_PX,
                                         line_px=LABEL_LINE_PX + 2, radius_px=radius[chosen] + 1,
                                         bounds=(area.width, area.height))
        fits = fitting_labels(in_area, labels, size, char_px=LABEL_CHAR_PX, line_px=LABEL_LINE_PX,
                              radius_px=radius, bounds=(area.width, area.height), taken=boxes)
        fits[high_profile] = False
        fits[chosen] = False
        for i in np.flatnonzero(fits):  # only the labels that fit, a few dozen
            ax.annotate(str(labels[i]), tuple(positions[i]), parse_math=False, xytext=(radius[i] * 72 / DPI + 2, 0),
                        textcoords="offset points", va="center", fontsize=LABEL_FONT_PT, color="#222222", zorder=4)
        for i, box, on_left in zip(np.flatnonzero(chosen), boxes, left, strict=True):  # on top of everything
            shift = ((box[2] if on_left else box[0]) - in_area[i, 0], in_area[i, 1] - (box[1] + box[3]) / 2)
            ax.annotate(str(labels[i]), tuple(positions[i]), parse_math=False, fontsize=LABEL_FONT_PT + 1,
                        xytext=(shift[0] * 72 / DPI, shift[1] * 72 / DPI), textcoords="offset points",
                        ha="right" if on_left else "left", va="center", fontweight="bold", color=OKABE_ITO["black"],
                        zorder=6, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
                        # a label moved off its marker's line keeps a thin line to it
                        arrowprops={"arrowstyle": "-", "lw": 0.8, "color": OKABE_ITO["black"],
                                    "shrinkA": 0, "shrinkB": radius[i] * 72 / DPI} if abs(shift[1]) > 1 else None)
    canvas.draw()
    # a 128-colour palette PNG: a third of the bytes of full colour (the picture has few colours), so the
    # page receives and decodes it faster; drawn from the canvas already rendered, not rendered again.
    # zlib's default level: the exhaustive one ("optimize") took several times as long for a few % fewer bytes
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(canvas.buffer_rgba())[:, :, :3]).quantize(
        PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE).save(buffer, format="PNG", compress_level=6)
    return NetworkPicture(buffer.getvalue(), WIDTH_PX, HEIGHT_PX, xy,
                          members["account_id"].to_numpy().astype(object), radius, layer,
                          (float(area.x0), float(HEIGHT_PX - area.y1), float(area.x1), float(HEIGHT_PX - area.y0)))


def zoom_box(positions: np.ndarray, chosen: np.ndarray, margin: float = 0.08) -> tuple[float, float, float, float]:
    """The box (``x0, x1, y0, y1``) around the ``chosen`` rows' positions, with a ``margin`` share on each side."""
    low, high = positions[chosen].min(axis=0), positions[chosen].max(axis=0)
    pad = np.maximum(high - low, 1.0) * margin
    return (float(low[0] - pad[0]), float(high[0] + pad[0]), float(low[1] - pad[1]), float(high[1] + pad[1]))


def with_rings(picture: NetworkPicture, accounts: list[str]) -> NetworkPicture:
    """The picture with a black ring around each of ``accounts`` (the selected ones), re-encoded.

    The rings are set straight into the palette image's pixels, all at once with numpy (180 points
    round each circle, 3 pixels thick), so marking a selection costs milliseconds, not a new drawing.
    """
    chosen = np.flatnonzero(np.isin(picture.accounts, np.array(accounts, dtype=object)))
    if not len(chosen):
        return picture
    image = Image.open(io.BytesIO(picture.png))
    pixels = np.array(image)
    palette = np.array(image.getpalette()[: 3 * PALETTE_COLOURS]).reshape(-1, 3)
    darkest = int(palette.sum(axis=1).argmin())
    angles = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    radii = picture.radius[chosen, None, None] + np.array([2.0, 3.0, 4.0])[None, None, :]
    xs = np.rint(picture.xy[chosen, 0, None, None] + radii * np.cos(angles)[None, :, None]).astype(int).ravel()
    ys = np.rint(picture.xy[chosen, 1, None, None] + radii * np.sin(angles)[None, :, None]).astype(int).ravel()
    inside = (xs >= 0) & (xs < picture.width) & (ys >= 0) & (ys < picture.height)
    pixels[ys[inside], xs[inside]] = darkest
    marked = Image.fromarray(pixels, mode="P")
    marked.putpalette(image.getpalette())
    buffer = io.BytesIO()
    marked.save(buffer, format="PNG")
    return replace(picture, png=buffer.getvalue())


def accounts_at(picture: NetworkPicture, event: dict | None) -> list[str]:
    """The accounts a click or a dragged box on the shown picture lands on, nearest first.

    ``event`` is the image component's value: ``x1, y1, x2, y2`` (press and release) and the
    shown ``width``/``height`` in browser pixels; the picture may be shown scaled, so the
    positions are scaled back to picture pixels. A box wider than a few pixels selects every
    account inside it (in ``members`` order); a click on markers selects the one drawn on top
    (the one the analyst sees), a click beside them the nearest account within
    ``PICK_RADIUS_PX``, or none. ``O(V)`` with numpy.
    """
    if not event or not event.get("width"):
        return []
    scale = picture.width / float(event["width"])
    x1, y1 = event.get("x1", event.get("x")), event.get("y1", event.get("y"))
    x2, y2 = event.get("x2", x1), event.get("y2", y1)
    if x1 is None or y1 is None:
        return []
    (x1, x2), (y1, y2) = sorted((x1 * scale, x2 * scale)), sorted((y1 * scale, y2 * scale))
    xs, ys = picture.xy[:, 0], picture.xy[:, 1]
    ax0, ay0, ax1, ay1 = picture.area
    shown = (xs >= ax0) & (xs <= ax1) & (ys >= ay0) & (ys <= ay1)  # not clipped off a zoomed picture
    if x2 - x1 > 6 or y2 - y1 > 6:  # a dragged box
        inside = shown & (xs >= x1) & (xs <= x2) & (ys >= y1) & (ys <= y2)
        return picture.accounts[inside].tolist()
    distance = np.where(shown, np.hypot(xs - x1, ys - y1), np.inf)
    if not len(distance) or not shown.any():
        return []
    under = distance <= picture.radius
    if under.any():  # the click is on a marker: the one drawn on top is the one seen
        return [picture.accounts[int(np.where(under, picture.layer, -1).argmax())]]
    if distance.min() > PICK_RADIUS_PX:
        return []
    return [picture.accounts[int(distance.argmin())]]
