"""Tracks: stable ids across runs by optimal Jaccard assignment, splits and merges recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from rallypoint.errors import RallypointError
from rallypoint.lake import Lake
from rallypoint.watch.tracks import TRACK_COLUMNS, TrackingOptions, append_tracks, link_run, read_tracks

T0 = datetime(2023, 1, 1, tzinfo=UTC)


def _run(clusters: dict[str, list[str]], flagged: tuple[str, ...] = ()) -> tuple[pl.DataFrame, pl.DataFrame]:
    members = pl.DataFrame(
        [{"cluster_id": c, "account_id": a} for c, accounts in clusters.items() for a in accounts],
        schema={"cluster_id": pl.String, "account_id": pl.String},
    )
    table = pl.DataFrame({"cluster_id": list(clusters), "score": [0.5] * len(clusters),
                          "flagged": [c in flagged for c in clusters]})
    return table, members


def _accounts(prefix: str, n: int, start: int = 0) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(start, start + n)]


def _link(history: pl.DataFrame, run: str, day: int, clusters: dict[str, list[str]], **kw) -> pl.DataFrame:
    table, members = _run(clusters, **kw)
    rows = link_run(history, run, T0 + timedelta(days=day), table, members)
    return pl.concat([history, rows])


def _track_of(history: pl.DataFrame, run: str, cluster: str) -> str:
    return history.filter((pl.col("run_id") == run) & (pl.col("cluster_id") == cluster))["track_id"].item()


def test_a_growing_network_keeps_its_track_and_growth_is_counted():
    history = pl.DataFrame(schema=TRACK_COLUMNS)
    history = _link(history, "r1", 0, {"c1": _accounts("a", 5), "c2": _accounts("b", 10)})
    # c1's network triples (Jaccard 5/15 = 0.33, it holds all of the earlier one); ids are reshuffled
    history = _link(history, "r2", 1, {"c9": _accounts("a", 15), "c3": _accounts("b", 9)})
    assert _track_of(history, "r2", "c9") == _track_of(history, "r1", "c1")
    assert _track_of(history, "r2", "c3") == _track_of(history, "r1", "c2")
    row = history.filter(pl.col("cluster_id") == "c9").row(0, named=True)
    assert (row["joined"], row["left"], row["event"]) == (10, 0, "continued")
    assert row["growth"] == pytest.approx(2.0)
    first = history.filter(pl.col("run_id") == "r1").row(0, named=True)
    assert first["event"] == "new" and first["growth"] is None and first["joined"] is None


def test_the_assignment_is_optimal_not_greedy():
    # P1 = A+B, P2 = C; N1 = A+C, N2 = B with |A| = 6, |B| = |C| = 3. The best single pair is
    # P1-N1 (J = 6/12); taking it leaves P2 unmatched (total 0.5). The optimal matching
    # P1-N2 + P2-N1 has total 3/9 + 3/9 = 0.67.
    a, b, c = _accounts("a", 6), _accounts("b", 3), _accounts("c", 3)
    history = _link(pl.DataFrame(schema=TRACK_COLUMNS), "r1", 0, {"P1": a + b, "P2": c})
    history = _link(history, "r2", 1, {"N1": a + c, "N2": b})
    assert _track_of(history, "r2", "N1") == _track_of(history, "r1", "P2")
    assert _track_of(history, "r2", "N2") == _track_of(history, "r1", "P1")
    total = history.filter(pl.col("run_id") == "r2")["jaccard"].sum()
    assert total == pytest.approx(2 * 3 / 9)


def test_splits_and_merges_are_recorded():
    history = _link(pl.DataFrame(schema=TRACK_COLUMNS), "r1", 0,
                    {"big": _accounts("a", 20), "s1": _accounts("m", 6), "s2": _accounts("n", 6)})
    big, s1, s2 = (_track_of(history, "r1", c) for c in ("big", "s1", "s2"))
    # big splits into 12 + 8; s1 and s2 merge into one cluster of 12
    history = _link(history, "r2", 1, {"k1": _accounts("a", 12), "k2": _accounts("a", 8, start=12),
                                       "mm": _accounts("m", 6) + _accounts("n", 6)})
    rows = {r["cluster_id"]: r for r in history.filter(pl.col("run_id") == "r2").to_dicts()}
    assert rows["k1"]["track_id"] == big and rows["k1"]["event"] == "continued"
    assert rows["k2"]["event"] == "split" and rows["k2"]["related_tracks"] == [big]
    assert rows["k2"]["track_id"] not in {big, s1, s2}
    assert rows["mm"]["track_id"] in {s1, s2} and rows["mm"]["event"] == "continued"
    assert rows["mm"]["related_tracks"] == [({s1, s2} - {rows["mm"]["track_id"]}).pop()]


def test_unrelated_clusters_get_new_tracks_and_ids_never_repeat(tmp_path):
    lake = Lake(tmp_path).ensure()
    table, members = _run({"c1": _accounts("a", 5)})
    append_tracks(lake, link_run(read_tracks(lake), "r1", T0, table, members))
    table, members = _run({"c1": _accounts("q", 5)})
    append_tracks(lake, link_run(read_tracks(lake), "r2", T0 + timedelta(days=1), table, members))
    # linking r2 again (a restarted watcher) replaces its rows, it does not add any
    append_tracks(lake, link_run(read_tracks(lake).filter(pl.col("run_id") != "r2"), "r2",
                                 T0 + timedelta(days=1), table, members))
    tracks = read_tracks(lake)
    assert tracks.height == 2
    assert tracks["track_id"].n_unique() == 2
    assert tracks.filter(pl.col("run_id") == "r2")["event"].item() == "new"


def test_options_are_checked_once():
    with pytest.raises(RallypointError):
        TrackingOptions(min_jaccard=0)
    with pytest.raises(RallypointError):
        TrackingOptions(min_containment=1.5)
