"""A cluster's activity over time: actions per hour, bursts shaded, named dates marked.

The bars count the member accounts' actions per time bin, stacked by action kind.
Each burst the detector found (Kleinberg 2002's two-state automaton, as stored in
``clusters.bursts``) is shaded with its level, and every date the cluster's posts
name as an event date is drawn as a vertical line labelled with the place, so an
analyst sees whether the activity builds up towards the date it calls people to.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go
import polars as pl

from rallypoint.dashboard.palette import OKABE_ITO, series_colour
from rallypoint.dashboard.safe import html


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


def timeline_figure(actions: pl.DataFrame, bursts: list[dict] | None, date_places: list[dict] | None,
                    *, height: int = 330) -> go.Figure:
    """The figure for ``actions`` (``timestamp``, ``action``), ``bursts`` and named ``date_places``."""
    fig = go.Figure()
    if actions.height:
        first, last = actions["timestamp"].min(), actions["timestamp"].max()
        every = bin_width(first, last)
        counts = activity_counts(actions, every)
        kinds = sorted(counts["action"].unique().to_list())
        for kind in kinds:
            part = counts.filter(pl.col("action") == kind)
            fig.add_trace(go.Bar(x=part["bin"].to_list(), y=part["n"].to_list(), name=kind,
                                 marker_color=series_colour(kind, kinds)))
        subtitle = f"actions per {every} bin"
    else:
        subtitle = "no actions of these accounts in the lake"
    shown_bursts = [b for b in bursts or [] if b.get("start") is not None and b.get("end") is not None]
    top_level = max((b.get("level") or 1 for b in shown_bursts), default=1)
    n_top = sum((b.get("level") or 1) == top_level for b in shown_bursts)
    # every burst as one shape of one layout update: plotly's add_vrect copies the layout's shapes on
    # each call, which grows with the square of a big cluster's hundreds of bursts
    shapes, notes = [], []
    for burst in shown_bursts:
        level = burst.get("level") or 1
        # deeper bursts are darker; only the deepest are labelled, and only when few (more labels
        # pile up into an unreadable line; the title then gives the count and levels)
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": burst["start"], "x1": burst["end"],
                       "y0": 0, "y1": 1, "fillcolor": OKABE_ITO["orange"], "layer": "below",
                       "opacity": min(0.18 + 0.1 * (level - 1), 0.45), "line": {"width": 0}})
        if level == top_level and n_top <= MAX_BURST_LABELS:
            notes.append({"x": burst["start"], "y": 1, "xref": "x", "yref": "paper", "text": f"burst, level {level}",
                          "showarrow": False, "xanchor": "left", "yanchor": "top", "font": {"size": 11}})
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
    for i, (day_text, places) in enumerate(sorted(places_by_day.items())):
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
        title={"text": f"Activity of the cluster's accounts ({subtitle}); {burst_note}; dashed: dates the posts name",
               "font": {"size": 14}},
        xaxis_title="time (UTC)", yaxis_title="actions", legend={"title": {"text": "action"}},
        plot_bgcolor="white", yaxis={"gridcolor": "#e5e5e5"},
    )
    return fig


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
