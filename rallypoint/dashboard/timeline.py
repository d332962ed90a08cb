"""A cluster's activity over time: actions per hour, bursts shaded, named dates marked.

The bars count the member accounts' actions per time bin, stacked by action kind.
Each burst the detector found (Kleinberg 2002's two-state automaton, as stored in
``clusters.bursts``) is shaded with its level, and every date the cluster's posts
name as an event date is drawn as a vertical line labelled with the place, so an
analyst sees whether the activity builds up towards the date it calls people to.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import plotly.graph_objects as go
import polars as pl
from PIL import Image

from rallypoint.dashboard.palette import OKABE_ITO, series_colour
from rallypoint.dashboard.safe import html

__all__ = ["TimelineParts", "activity_counts", "bin_width", "timeline_figure", "timeline_parts", "timeline_picture",
           "window_around"]


def bin_width(first: datetime, last: datetime) -> str:
    """A polars duration giving roughly 50–150 bins over the span."""
    hours = max((last - first).total_seconds() / 3600, 1)
    for width, label in ((0.25, "15m"), (1, "1h"), (3, "3h"), (6, "6h"), (24, "1d")):
        if hours / width <= 150:
            return label
    return "1w"


def activity_counts(actions: pl.DataFrame, every: str) -> pl.DataFrame:
    """Actions per ``every`` bin and action kind: columns ``bin``, ``action``, ``n``."""
    return (
        actions.with_columns(pl.col("timestamp").dt.truncate(every).alias("bin"))
        .group_by("bin", "action")
        .agg(pl.len().alias("n"))
        .sort("bin")
    )


#: Beyond this many bursts of the deepest level none is labelled (the title counts them).
MAX_BURST_LABELS = 3
#: Named days' labels take this many rows, this share of the plot's height apart, top down.
DATE_LABEL_ROWS, DATE_LABEL_STEP = 3, 0.16


@dataclass(frozen=True)
class TimelineParts:
    """What both drawings of a timeline show: the counts, the bursts and the named days, with their words."""

    counts: pl.DataFrame  # bin, action, n
    every: str  # the bins' width, a polars duration ("1h")
    kinds: list[str]
    subtitle: str
    bursts: list[dict]  # with a start and an end
    top_level: int
    label_bursts: bool  # the deepest level's bursts are labelled only when few
    burst_note: str
    places_by_day: dict[str, list[str]]  # named day -> its places, in day order

    @property
    def title(self) -> str:
        return (f"Activity of the cluster's accounts ({self.subtitle}); {self.burst_note}; "
                "dashed: dates the posts name")


def timeline_parts(actions: pl.DataFrame, bursts: list[dict] | None, date_places: list[dict] | None) -> TimelineParts:
    """The counts per bin, the bursts and the named days of ``actions`` (``timestamp``, ``action``)."""
    if actions.height:
        every = bin_width(actions["timestamp"].min(), actions["timestamp"].max())
        counts = activity_counts(actions, every)
        subtitle = f"actions per {every} bin"
    else:
        every = "1h"
        counts = pl.DataFrame(schema={"bin": pl.Datetime("us", "UTC"), "action": pl.String, "n": pl.UInt32})
        subtitle = "no actions of these accounts in the lake"
    shown_bursts = [b for b in bursts or [] if b.get("start") is not None and b.get("end") is not None]
    top_level = max((b.get("level") or 1 for b in shown_bursts), default=1)
    n_top = sum((b.get("level") or 1) == top_level for b in shown_bursts)
    levels = sorted({b.get("level") or 1 for b in shown_bursts})
    burst_note = (f"orange: {len(shown_bursts)} burst{'s' if len(shown_bursts) != 1 else ''} (Kleinberg level "
                  f"{levels[0]}{f'–{levels[-1]}' if len(levels) > 1 else ''}; darker = higher)") if shown_bursts else "no bursts"
    places_by_day: dict[str, list[str]] = {}
    for item in date_places or []:
        if _parse_day(item.get("date")) is not None:
            places_by_day.setdefault(item["date"], [])
            # a place already named inside another ("Buenos Aires" in "Congreso de la Nación, Buenos Aires")
            # adds nothing to the label but a repeated word
            named = places_by_day[item["date"]]
            if item.get("place") and not any(item["place"] in other for other in named):
                named[:] = [other for other in named if other not in item["place"]] + [item["place"]]
    return TimelineParts(counts, every, sorted(counts["action"].unique().to_list()), subtitle, shown_bursts, top_level,
                         n_top <= MAX_BURST_LABELS, burst_note, dict(sorted(places_by_day.items())))


def _burst_opacity(level: int) -> float:
    """Deeper bursts are darker."""
    return min(0.18 + 0.1 * (level - 1), 0.45)


def timeline_figure(actions: pl.DataFrame, bursts: list[dict] | None, date_places: list[dict] | None,
                    *, height: int = 330) -> go.Figure:
    """The interactive figure for ``actions`` (``timestamp``, ``action``), ``bursts`` and named ``date_places``."""
    parts = timeline_parts(actions, bursts, date_places)
    fig = go.Figure()
    for kind in parts.kinds:
        part = parts.counts.filter(pl.col("action") == kind)
        fig.add_trace(go.Bar(x=part["bin"].to_list(), y=part["n"].to_list(), name=kind,
                             marker_color=series_colour(kind, parts.kinds)))
    # every burst as one shape of one layout update: plotly's add_vrect copies the layout's shapes on
    # each call, which grows with the square of a big cluster's hundreds of bursts
    shapes, notes = [], []
    for burst in parts.bursts:
        level = burst.get("level") or 1
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": burst["start"], "x1": burst["end"],
                       "y0": 0, "y1": 1, "fillcolor": OKABE_ITO["orange"], "layer": "below",
                       "opacity": _burst_opacity(level), "line": {"width": 0}})
        if level == parts.top_level and parts.label_bursts:
            notes.append({"x": burst["start"], "y": 1, "xref": "x", "yref": "paper", "text": f"burst, level {level}",
                          "showarrow": False, "xanchor": "left", "yanchor": "top", "font": {"size": 11}})
    for i, (day_text, places) in enumerate(parts.places_by_day.items()):
        day = _parse_day(day_text)
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": day, "x1": day, "y0": 0, "y1": 1,
                       "line": {"color": OKABE_ITO["vermillion"], "width": 2, "dash": "dash"}})
        # consecutive days one below the other: side by side, two days apart, their labels overprint
        notes.append({"x": day, "y": 1 - DATE_LABEL_STEP * (i % DATE_LABEL_ROWS), "xref": "x", "yref": "paper",
                      "showarrow": False, "xanchor": "left",
                      "yanchor": "top", "text": f"named date {html(day_text)}<br>{'<br>'.join(html(p) for p in places[:2])}",
                      "font": {"color": OKABE_ITO["vermillion"], "size": 12}, "bgcolor": "rgba(255,255,255,0.8)"})
    fig.update_layout(shapes=shapes, annotations=notes)
    fig.update_layout(
        barmode="stack", height=height, margin={"l": 50, "r": 10, "t": 40, "b": 40},
        title={"text": parts.title, "font": {"size": 14}},
        xaxis_title="time (UTC)", yaxis_title="actions", legend={"title": {"text": "action"}},
        plot_bgcolor="white", yaxis={"gridcolor": "#e5e5e5"},
    )
    return fig


#: The picture's size in pixels (about the page's main column) and resolution.
PICTURE_WIDTH_PX, PICTURE_HEIGHT_PX, PICTURE_DPI = 1100, 360, 100


def timeline_picture(actions: pl.DataFrame, bursts: list[dict] | None, date_places: list[dict] | None) -> bytes:
    """The same timeline as :func:`timeline_figure`, drawn on the server as a PNG (matplotlib's Agg,
    object API): the page shows it without loading plotly's JavaScript, which a browser's first
    plotly chart parses for about a second. ``O(bins + bursts + days)``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure

    parts = timeline_parts(actions, bursts, date_places)
    fig = Figure(figsize=(PICTURE_WIDTH_PX / PICTURE_DPI, PICTURE_HEIGHT_PX / PICTURE_DPI), dpi=PICTURE_DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.06, 0.13, 0.80, 0.72))
    if parts.counts.height:
        wide = parts.counts.pivot(on="action", index="bin", values="n")
        # every bin of the span, the empty ones at 0: a step would otherwise hold a count across a gap
        every_bin = pl.datetime_range(wide["bin"].min(), wide["bin"].max(), parts.every, eager=True).alias("bin")
        wide = every_bin.to_frame().join(wide, on="bin", how="left").fill_null(0)
        # each kind one stepped band (one polygon), not a bar per bin: matplotlib adds bars one patch at a time
        starts = date2num(wide["bin"].dt.replace_time_zone(None).to_numpy())
        step = float(np.diff(starts).min()) if len(starts) > 1 else 1 / 24
        edges = np.append(starts, starts[-1] + step)
        bottom = np.zeros(len(starts))
        for kind in parts.kinds:
            top = bottom + wide[kind].to_numpy().astype(float)
            ax.fill_between(edges, np.append(bottom, bottom[-1]), np.append(top, top[-1]), step="post", lw=0,
                            label=kind, color=series_colour(kind, parts.kinds), zorder=2)
            bottom = top
    for burst in parts.bursts:
        level = burst.get("level") or 1
        start, end = (date2num(_naive(burst[k])) for k in ("start", "end"))
        ax.axvspan(start, end, color=OKABE_ITO["orange"], alpha=_burst_opacity(level), lw=0, zorder=1)
        if level == parts.top_level and parts.label_bursts:
            ax.annotate(f"burst, level {level}", (start, 1), xycoords=("data", "axes fraction"), va="top",
                        fontsize=9, parse_math=False)
    days = [(date2num(_naive(_parse_day(day_text))), day_text, places) for day_text, places in parts.places_by_day.items()]
    for day, *_ in days:
        ax.axvline(day, color=OKABE_ITO["vermillion"], lw=2, ls="--", zorder=3)
    low, high = ax.get_xlim()
    for i, (day, day_text, places) in enumerate(days):
        # a label right of its line, or left of it in the right third, so it stays inside the plot
        left = (day - low) / ((high - low) or 1) > 0.66
        ax.annotate("\n".join([f"named date {day_text}", *places[:2]]), (day, 1 - DATE_LABEL_STEP * (i % DATE_LABEL_ROWS)),
                    xycoords=("data", "axes fraction"), xytext=(-3 if left else 3, 0), textcoords="offset points",
                    ha="right" if left else "left", va="top", fontsize=10, color=OKABE_ITO["vermillion"],
                    parse_math=False, zorder=4, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                                                      "alpha": 0.85})
    ax.xaxis.set_major_locator(locator := AutoDateLocator())
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")
    ax.set_ylabel("actions")
    ax.grid(axis="y", color="#e5e5e5", zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    if parts.kinds:
        fig.legend(loc="upper left", bbox_to_anchor=(0.87, 0.85), frameon=False, title="action", fontsize=10)
    fig.text(0.01, 0.96, parts.title, fontsize=11, va="top", wrap=True)
    canvas.draw()
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(canvas.buffer_rgba())[:, :, :3]).quantize(
        128, method=Image.Quantize.FASTOCTREE).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def _naive(moment: datetime) -> datetime:
    """``moment`` in UTC without its zone (numpy's datetimes carry none)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _parse_day(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


def window_around(first: datetime | None, last: datetime | None, dates: list[str]) -> tuple[datetime, datetime] | None:
    """The time range to read: the cluster's activity and the dates it names, plus a day each side."""
    points = [t for t in (first, last) if t is not None] + [d for d in map(_parse_day, dates) if d]
    if not points:
        return None
    return min(points) - timedelta(days=1), max(points) + timedelta(days=1)
