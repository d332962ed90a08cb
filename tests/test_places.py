"""Places and dates across a run's clusters (rallypoint.dashboard.places) and the gazetteer's coordinates."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from rallypoint.dashboard.places import (
    basemap_outlines,
    calendar_figure,
    called,
    dates_of,
    gazetteer_coordinates,
    map_figure,
    places_of,
)
from rallypoint.detectors.mobilization.lexicon import LexiconError, load_lexicons

#: Rough bounding boxes (lat, lon) of the gazetteer's countries: a swapped sign or digit lands outside.
COUNTRIES = {"US": ((18, 72), (-180, -66)), "BR": ((-34, 6), (-74, -34)), "AR": ((-55, -21), (-74, -53)),
             "MX": ((14, 33), (-118, -86)), "CL": ((-56, -17), (-76, -66)), "CO": ((-5, 13), (-80, -66)),
             "VE": ((0, 13), (-74, -59)), "PE": ((-19, 0), (-82, -68)), "ES": ((27, 44), (-19, 5))}


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    (la1, lo1), (la2, lo2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def test_every_named_place_has_coordinates_in_its_country_and_near_its_city():
    places = load_lexicons().places
    located = [p for p in places if p.lat is not None]
    assert {p.name for p in places} - {p.name for p in located} == {
        "City hall (local)", "State legislature (local)", "Congreso (national legislature)"}
    for p in located:
        (la0, la1), (lo0, lo1) = COUNTRIES[p.country]
        assert la0 <= p.lat <= la1 and lo0 <= p.lon <= lo1, p.name
    cities = {p.name: (p.lat, p.lon) for p in located if "," not in p.name or p.kind == "capital"}
    for p in located:  # a landmark lies in its city: within 25 km of the city's own entry
        city = p.name.split(", ")[-1]
        if city in cities and city != p.name:
            assert _km((p.lat, p.lon), cities[city]) < 25, p.name


def test_a_place_with_broken_coordinates_is_refused_with_a_sentence(tmp_path):
    bad = tmp_path / "places.json"
    bad.write_text('{"places": [{"name": "Somewhere", "aliases": ["somewhere"], "lat": 95, "lon": 10}]}')
    with pytest.raises(LexiconError, match="coordinates of .*Somewhere"):
        load_lexicons([bad])
    bad.write_text('{"places": [{"name": "Somewhere", "aliases": ["somewhere"], "lat": 45}]}')
    with pytest.raises(LexiconError, match="coordinates"):
        load_lexicons([bad])


def _clusters() -> pl.DataFrame:
    pair = pl.Struct({"date": pl.String, "place": pl.String, "count": pl.Int64})
    rows = [
        ("c1", 0.9, True, [{"date": "2023-01-06", "place": "US Capitol, Washington DC", "count": 30},
                            {"date": "2023-01-06", "place": "Washington DC", "count": 5},
                            {"date": None, "place": "US Capitol, Washington DC", "count": 2}]),
        ("c2", 0.7, True, [{"date": "2023-01-08", "place": "Congresso Nacional, Brasília", "count": 40},
                            {"date": "2023-01-06", "place": "<img src=x onerror=alert(1)>", "count": 3}]),
        ("c3", 0.1, False, [{"date": "2023-01-06", "place": "US Capitol, Washington DC", "count": 4}]),
        ("c4", 0.5, True, []),
    ]
    return pl.DataFrame({
        "cluster_id": [r[0] for r in rows], "score": [r[1] for r in rows], "flagged": [r[2] for r in rows],
        "mobilization": [{"top_date_places": r[3]} for r in rows],
    }, schema={"cluster_id": pl.String, "score": pl.Float64, "flagged": pl.Boolean,
               "mobilization": pl.Struct({"top_date_places": pl.List(pair)})})


def test_places_and_dates_sum_the_clusters_calls_strongest_cluster_first():
    calls = called(_clusters())
    assert calls.height == 6
    places = places_of(calls)
    capitol = places.filter(pl.col("place") == "US Capitol, Washington DC").row(0, named=True)
    assert capitol["texts"] == 36 and capitol["clusters"] == ["c1", "c3"] and capitol["flagged"]
    assert capitol["dates"] == ["2023-01-06"] and capitol["lat"] == pytest.approx(38.8899)
    assert places.filter(pl.col("place").str.starts_with("<img"))["lat"].is_null().all()  # not in the gazetteer
    dates = dates_of(calls)
    assert dates["date"].to_list() == ["2023-01-06", "2023-01-08"]
    jan6 = dates.row(0, named=True)
    assert jan6["clusters"] == ["c1", "c2", "c3"] and jan6["texts"] == 42
    assert set(gazetteer_coordinates()["place"]) >= {"US Capitol, Washington DC", "Brasília"}


def test_the_map_draws_located_places_escaped_and_the_calendar_each_day():
    calls = called(_clusters())
    fig = map_figure(places_of(calls))
    basemap, marked = fig.data[:2], fig.data[2:]
    assert all(t.mode == "lines" and t.hoverinfo == "skip" for t in basemap)  # under the places, never selected
    drawn = [p for t in marked for p in t.customdata]
    assert sorted(drawn) == ["Congresso Nacional, Brasília", "US Capitol, Washington DC", "Washington DC"]
    labels = [x for t in marked for x in t.text if x]
    assert "US Capitol (+1 nearby)" in labels and "Congresso Nacional" in labels  # one label per city
    assert not any("<img" in (h or "") for t in marked for h in t.hovertext)
    calendar = calendar_figure(dates_of(calls))
    assert list(calendar.data[0].customdata) == ["2023-01-06", "2023-01-08"]
    assert list(calendar.data[0].y) == [5, 7]  # Friday and Sunday
    assert "&lt;img" in " ".join(calendar.data[0].hovertext)  # the hostile place is text, escaped


def _polygons(xs: list, ys: list) -> list[np.ndarray]:
    """The polygons of a basemap outline (``None`` between them)."""
    polygons, current = [], []
    for x, y in zip(xs, ys, strict=True):
        if x is None:
            polygons.append(np.array(current))
            current = []
        else:
            current.append((x, y))
    return polygons


def test_the_basemap_is_the_shipped_coastlines_and_borders():
    from matplotlib.path import Path

    (land_x, land_y), (border_x, border_y) = basemap_outlines()
    assert len(land_x) > 5_000 and len(border_x) > 5_000
    lons = np.array([x for x in land_x + border_x if x is not None])
    lats = np.array([y for y in land_y + border_y if y is not None])
    assert (np.abs(lons) <= 180).all() and (np.abs(lats) <= 90).all()
    land = [Path(p) for p in _polygons(land_x, land_y) if len(p) > 2]

    def on_land(lon: float, lat: float) -> bool:
        return any(path.contains_point((lon, lat)) for path in land)

    assert on_land(-47.9, -15.8) and on_land(-77.0, 38.9) and on_land(2.35, 48.85)  # Brasília, Washington, Paris
    assert not on_land(-30.0, 0.0) and not on_land(-150.0, 30.0)  # the Atlantic, the Pacific
