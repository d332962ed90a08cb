"""The dashboard's library: triage store, carry-over, queue filters, figures, launch."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rallypoint.dashboard.accounts import Identity
from rallypoint.dashboard.carryover import SAME_NETWORK_JACCARD, cluster_statuses, with_status
from rallypoint.dashboard.ego import ego_edges, ego_nodes
from rallypoint.dashboard.highlight import highlight
from rallypoint.dashboard.launch import streamlit_command
from rallypoint.dashboard.network import WEBGL_ABOVE, cluster_edges, layout, network_figure, selected_accounts
from rallypoint.dashboard.network_picture import PICK_RADIUS_PX, accounts_at, network_picture, with_rings
from rallypoint.dashboard.palette import OKABE_ITO, ROLE_COLOURS
from rallypoint.dashboard.queue import QueueFilters, filter_queue, n_pages, page
from rallypoint.dashboard.timeline import timeline_figure
from rallypoint.dashboard.triage import Decision, TriageError, TriageStore
from rallypoint.errors import LakeError, RallypointError
from rallypoint.schema import CLUSTERS_SCHEMA, EDGES_SCHEMA

DASHBOARD = Path(__file__).resolve().parents[1] / "rallypoint" / "dashboard"


# --- triage: append-only, validated ---------------------------------------------
def test_decisions_are_recorded_with_time_and_read_back_in_order(tmp_path):
    store = TriageStore(tmp_path / "triage.sqlite")
    first = store.record(Decision("r1", "c1", "escalate", "needs legal review", "Ana", ("a", "b")))
    second = store.record(Decision("r1", "c1", "confirm", "  calls to the Capitol  ", " Ana ", ("a", "b")))
    got = store.decisions(run_id="r1", cluster_id="c1")
    assert got["decision_id"].to_list() == [first, second]
    assert got["status"].to_list() == ["escalated", "confirmed"]
    assert got["note"][1] == "calls to the Capitol" and got["analyst"][1] == "Ana"
    assert got["member_ids"][0].to_list() == ["a", "b"]
    assert (datetime.now(UTC) - got["decided_at"][1]).total_seconds() < 60


@pytest.mark.parametrize(
    ("decision", "message"),
    [
        (Decision("r1", "c1", "confirm", "   ", "Ana"), "note"),
        (Decision("r1", "c1", "confirm", "why", ""), "signed-in analyst"),
        (Decision("r1", "c1", "approve", "why", "Ana"), "must be one of"),
    ],
)
def test_a_decision_without_note_or_name_is_refused_and_nothing_is_stored(tmp_path, decision, message):
    store = TriageStore(tmp_path / "triage.sqlite")
    with pytest.raises(TriageError, match=message):
        store.record(decision)
    assert store.decisions().height == 0


def test_the_database_itself_refuses_updates_and_deletes(tmp_path):
    store = TriageStore(tmp_path / "triage.sqlite")
    store.record(Decision("r1", "c1", "dismiss", "news outlet", "Ana"))
    con = sqlite3.connect(store.path)
    for sql in ("UPDATE log SET payload = '{}'", "DELETE FROM log"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(sql)
    with pytest.raises(sqlite3.IntegrityError):  # the CHECK holds even for raw SQL
        con.execute("INSERT INTO log (seq, at, kind, actor, actor_role, payload, prev_hash, hash)"
                    " VALUES (2, 'now', 'decision', ' ', '', '{}', '', '')")
    con.close()
    assert store.decisions()["note"].to_list() == ["news outlet"]


# --- carry-over ------------------------------------------------------------------
def _members(clusters: dict[str, list[str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"cluster_id": [c for c, accs in clusters.items() for _ in accs],
         "account_id": [a for accs in clusters.values() for a in accs]}
    )


def test_a_decision_carries_over_to_the_same_network_in_the_next_run(tmp_path):
    store = TriageStore(tmp_path / "t.sqlite")
    old = [f"a{i}" for i in range(10)]
    store.record(Decision("r1", "old", "confirm", "Capitol call", "Ana", tuple(old)))
    similar = old[3:] + ["x1", "x2"]  # 7 shared of 12: J = 0.58
    distant = old[:4] + [f"y{i}" for i in range(6)]  # 4 shared of 16: J = 0.25
    statuses = cluster_statuses(store.decisions(), "r2", _members({"similar": similar, "distant": distant}))
    expected_j = len(set(old) & set(similar)) / len(set(old) | set(similar))
    assert expected_j >= SAME_NETWORK_JACCARD
    row = statuses.row(0, named=True)
    assert statuses.height == 1 and row["cluster_id"] == "similar"
    assert row["status"] == "confirmed" and row["carried"] and row["from_run"] == "r1" and row["from_cluster"] == "old"
    assert row["jaccard"] == pytest.approx(expected_j)


def test_the_clusters_own_decision_beats_a_carried_one_and_the_newest_wins(tmp_path):
    store = TriageStore(tmp_path / "t.sqlite")
    accounts = tuple(f"a{i}" for i in range(6))
    t0 = datetime(2021, 1, 1, tzinfo=UTC)
    store.record(Decision("r1", "old", "confirm", "first look", "Ana", accounts), now=t0)
    store.record(Decision("r1", "old", "dismiss", "second look: a fandom", "Bo", accounts), now=t0 + timedelta(hours=1))
    members = _members({"same": list(accounts), "also": list(accounts[:5])})
    carried = cluster_statuses(store.decisions(), "r2", members)
    assert dict(carried.select("cluster_id", "status").iter_rows()) == {"same": "dismissed", "also": "dismissed"}
    store.record(Decision("r2", "same", "escalate", "new evidence", "Cy", accounts), now=t0 + timedelta(hours=2))
    mixed = cluster_statuses(store.decisions(), "r2", members).sort("cluster_id")
    assert mixed.select("cluster_id", "status", "carried").rows() == [("also", "dismissed", True),
                                                                      ("same", "escalated", False)]
    clusters = pl.DataFrame({"cluster_id": ["same", "also", "new"]})
    assert with_status(clusters, mixed)["status"].to_list() == ["escalated", "dismissed", "unreviewed"]


# --- queue ------------------------------------------------------------------------
def _clusters(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    first = [start + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 10, n)]
    rows = [
        {"cluster_id": f"c{i:04d}", "score": float(rng.uniform()), "flagged": bool(rng.uniform() < 0.6),
         "n_accounts": int(rng.integers(3, 100)), "n_edges": 3, "first_ts": first[i],
         "last_ts": first[i] + timedelta(hours=int(rng.integers(1, 72))),
         "types": list(rng.choice(["repost", "url", "text", "reply"], int(rng.integers(1, 3)), replace=False)),
         "platforms": [str(rng.choice(["x", "telegram"]))], "langs": [str(rng.choice(["en", "pt"]))],
         "reasons": [f"reason {i}"], "mobilization": {"dates": [], "places": ["Brasília" if i % 7 == 0 else "Ohio"]}}
        for i in range(n)
    ]
    frame = pl.from_arrow(CLUSTERS_SCHEMA.empty_table())
    frame = pl.concat([frame, pl.DataFrame(rows)], how="diagonal_relaxed")
    return frame.with_columns(pl.Series("status", rng.choice(["unreviewed", "confirmed", "dismissed"], n)))


@settings(max_examples=40, deadline=None)
@given(
    min_score=st.floats(0, 1), flagged_only=st.booleans(),
    types=st.sets(st.sampled_from(["repost", "url", "text", "reply"]), max_size=2),
    statuses=st.sets(st.sampled_from(["unreviewed", "confirmed", "dismissed"]), max_size=2),
    platform=st.sampled_from([(), ("x",), ("telegram",)]), day=st.integers(0, 12), span=st.integers(0, 5),
    search=st.sampled_from(["", "brasília", "c00"]),
)
def test_queue_filters_agree_with_a_row_by_row_reading(min_score, flagged_only, types, statuses, platform, day, span,
                                                        search):
    clusters = _clusters(120, seed=3)
    since = date(2021, 1, 1) + timedelta(days=day)
    until = since + timedelta(days=span)
    filters = QueueFilters(flagged_only=flagged_only, min_score=min_score, since=since, until=until,
                           types=tuple(types), statuses=tuple(statuses), platforms=platform, search=search)
    got = filter_queue(clusters, filters)

    def keep(r) -> bool:
        return (r["score"] >= min_score and (r["flagged"] or not flagged_only)
                and r["last_ts"].date() >= since and r["first_ts"].date() <= until
                and (not types or set(r["types"]) & types) and (not statuses or r["status"] in statuses)
                and (not platform or set(r["platforms"]) & set(platform))
                and (not search or search in f"{r['cluster_id']} {r['reasons'][0]} {r['mobilization']['places'][0]}".lower()))

    assert set(got["cluster_id"]) == {r["cluster_id"] for r in clusters.iter_rows(named=True) if keep(r)}
    assert got["score"].to_list() == sorted(got["score"].to_list(), reverse=True)


def test_pages_cover_the_queue_once_and_a_page_past_the_end_is_the_last():
    ranked = filter_queue(_clusters(57, seed=1), QueueFilters(flagged_only=False))
    pages = [page(ranked, i, 10) for i in range(1, n_pages(ranked.height, 10) + 1)]
    assert n_pages(ranked.height, 10) == 6 and [p.height for p in pages] == [10] * 5 + [7]
    assert pl.concat(pages)["cluster_id"].to_list() == ranked["cluster_id"].to_list()
    assert page(ranked, 99, 10)["cluster_id"].to_list() == pages[-1]["cluster_id"].to_list()
    assert n_pages(0, 10) == 1


# --- evidence, figures --------------------------------------------------------------
def test_highlight_escapes_the_post_and_marks_phrases_longest_first():
    out = highlight("<b>Be there</b> Jan 6 at the CAPITOL, be there!", ["be there", "Capitol", "the Capitol"])
    assert "<b>" not in out and "&lt;b&gt;" in out
    assert out.count("<mark>") == 3 and "<mark>be there</mark>!" in out and "<mark>the CAPITOL</mark>" in out
    assert highlight("nothing here", []) == "nothing here"


def _edges(pairs: list[tuple[str, str, int]]) -> pl.DataFrame:
    t = datetime(2021, 1, 5, tzinfo=UTC)
    rows = [{"account_a": min(a, b), "account_b": max(a, b), "weight": w, "n_shared": w,
             "types": [{"type": "repost", "weight": w, "n_shared": w, "first_ts": t, "last_ts": t}]}
            for a, b, w in pairs]
    return pl.concat([pl.from_arrow(EDGES_SCHEMA.empty_table()), pl.DataFrame(rows)], how="diagonal_relaxed")


def test_network_figure_draws_every_member_once_and_marks_high_profile_accounts():
    accounts = [f"u{i}" for i in range(30)]
    members = pl.DataFrame({
        "account_id": accounts, "account_name": [f"@{a}" for a in accounts],
        "role": ["seeder"] * 3 + ["bridge"] * 2 + ["amplifier"] * 25, "high_profile": [a == "u7" for a in accounts],
        "n_actions": [5] * 30, "degree": [2] * 30, "strength": [float(i) for i in range(30)],
    })
    edges = cluster_edges(_edges([(accounts[i], accounts[(i + 1) % 30], i + 1) for i in range(30)]
                                 + [("u1", "outsider", 50)]), members["account_id"])
    assert edges.height == 30  # the edge to an account outside the cluster is not drawn
    positions = layout(accounts, edges)
    assert positions.shape == (30, 2) and np.isfinite(positions).all()
    fig = network_figure(members, edges, positions)
    role_traces = [t for t in fig.data if t.name.split(" ")[0] in ("seeder", "amplifier", "bridge")]
    drawn = [a for t in role_traces for a in t.customdata]
    assert sorted(drawn) == sorted(accounts)
    starred = [t for t in fig.data if t.name.startswith("high-profile")]
    assert list(starred[0].customdata) == ["u7"] and starred[0].marker.symbol == "star"
    assert fig.layout.clickmode == "event+select" and fig.layout.dragmode is None
    assert {t.type for t in fig.data} == {"scatter"}  # a small network stays SVG
    assert "<b>u7</b> @u7<br>role: amplifier · HIGH-PROFILE" in starred[0].hovertext[0]


def test_a_large_network_is_drawn_with_webgl_and_keeps_every_account():
    n = WEBGL_ABOVE + 1
    accounts = [f"u{i}" for i in range(n)]
    members = pl.DataFrame({
        "account_id": accounts, "account_name": [None] * n, "role": ["amplifier"] * n, "high_profile": [False] * n,
        "n_actions": [1] * n, "degree": [1] * n, "strength": [1.0] * n,
    })
    edges = cluster_edges(_edges([(accounts[i], accounts[i + 1], 1 + i % 7) for i in range(n - 1)]), members["account_id"])
    fig = network_figure(members, edges, layout(accounts, edges))
    assert {t.type for t in fig.data} == {"scattergl"}
    drawn = [a for t in fig.data if t.customdata is not None for a in t.customdata]
    assert sorted(drawn) == sorted(accounts)
    segments = sum(int(np.isnan(np.asarray(t.x, dtype=float)).sum()) for t in fig.data if t.mode == "lines")
    assert segments == n - 1  # one NaN-separated segment per edge


def test_selected_accounts_come_from_the_clicked_points_customdata():
    event = {"selection": {"points": [{"customdata": "u1"}, {"customdata": ["u2"]}, {"customdata": "u1"}, {}]}}
    assert selected_accounts(event) == ["u1", "u2"]
    assert selected_accounts(None) == []


def _ring_network(n: int) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    """``n`` accounts on a ring (a seeder, a bridge, the rest amplifiers; u3 high-profile), laid out."""
    accounts = [f"u{i}" for i in range(n)]
    members = pl.DataFrame({
        "account_id": accounts, "account_name": [f"@{a}" for a in accounts],
        "role": ["seeder", "bridge"] + ["amplifier"] * (n - 2), "high_profile": [a == "u3" for a in accounts],
        "n_actions": [5] * n, "degree": [2] * n, "strength": [float(n - i) for i in range(n)],
    })
    edges = cluster_edges(_edges([(accounts[i], accounts[(i + 1) % n], 1 + i % 5) for i in range(n)]),
                          members["account_id"])
    return members, edges, layout(accounts, edges)


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def test_network_picture_places_every_account_where_it_is_drawn():
    import io

    from PIL import Image

    members, edges, positions = _ring_network(40)
    picture = network_picture(members, edges, positions)
    image = np.asarray(Image.open(io.BytesIO(picture.png)).convert("RGB"), dtype=float)
    assert image.shape == (picture.height, picture.width, 3)
    assert picture.accounts.tolist() == members["account_id"].to_list() and picture.xy.shape == (40, 2)
    inside = (picture.xy >= 0).all(axis=1) & (picture.xy[:, 0] < picture.width) & (picture.xy[:, 1] < picture.height)
    assert inside.all()
    # the pixel at each account's position has its role's colour: the positions are where the markers are
    colours = {role: _rgb(c) for role, c in ROLE_COLOURS.items()} | {"high-profile": _rgb(OKABE_ITO["yellow"])}
    drawn_as = [min(colours, key=lambda r: np.abs(image[int(y), int(x)] - colours[r]).sum()) for x, y in picture.xy]
    expected = ["high-profile" if hp else role for role, hp in members.select("role", "high_profile").iter_rows()]
    assert drawn_as == expected


def test_the_pictures_legend_fits_inside_it_and_beside_the_drawing():
    import io

    from PIL import Image

    members, edges, positions = _ring_network(40)
    long_role = "amplifier of a long-named kind the legend must still show whole"
    members = members.with_columns(pl.col("role").replace({"amplifier": long_role}))
    for view in (None, (*np.sort(positions[:2, 0]), *np.sort(positions[:2, 1]))):
        picture = network_picture(members, edges, positions, view=view)
        image = np.asarray(Image.open(io.BytesIO(picture.png)).convert("RGB"), dtype=float)
        # the legend's frame: the columns holding a long vertical run of its light grey edge
        grey = (np.abs(image - _rgb("#cccccc")).sum(axis=2) < 30).sum(axis=0)
        frame = np.flatnonzero(grey > 60)
        assert len(frame) >= 2, "no legend frame found"
        left, right = frame.min(), frame.max()
        assert right < picture.width - 2  # not cut at the picture's edge
        assert (image[:, -2:] > 245).all()  # nothing drawn in the last columns
        x0, y0, x1, y1 = picture.area
        assert x1 < left  # the drawing ends before the legend
        shown = (picture.xy[:, 0] >= x0) & (picture.xy[:, 0] <= x1) & (picture.xy[:, 1] >= y0) & (picture.xy[:, 1] <= y1)
        assert shown.any()
        hidden = np.flatnonzero(~shown)
        if view is not None:  # accounts clipped off the zoomed drawing cannot be picked, even under the legend
            assert len(hidden)
            for i in hidden:
                x, y = picture.xy[i]
                click = {"x1": x, "y1": y, "width": picture.width, "height": picture.height}
                assert picture.accounts[i] not in accounts_at(picture, click)


def test_a_click_on_the_picture_picks_the_nearest_account_and_a_box_the_accounts_inside():
    members, edges, positions = _ring_network(40)
    picture = network_picture(members, edges, positions)
    shown = picture.width / 2  # the page shows the picture at half its size
    x, y = picture.xy[7] / 2
    click = {"x1": x + 1, "y1": y - 1, "x2": x + 1, "y2": y - 1, "width": shown, "height": picture.height / 2}
    assert accounts_at(picture, click) == ["u7"]
    far = picture.xy.max(axis=0) / 2 + PICK_RADIUS_PX  # beyond the drawing's corner: nothing there
    assert accounts_at(picture, click | {"x1": far[0], "y1": far[1], "x2": far[0], "y2": far[1]}) == []
    # a box dragged from bottom right to top left around the left half of the ring
    middle = np.median(picture.xy[:, 0])
    left = sorted(members["account_id"].filter(pl.Series(picture.xy[:, 0] < middle)).to_list())
    box = {"x1": middle / 2, "y1": picture.height / 2, "x2": 0, "y2": 0, "width": shown, "height": picture.height / 2}
    assert sorted(accounts_at(picture, box)) == left and 0 < len(left) < 40
    assert accounts_at(picture, None) == [] and accounts_at(picture, {"width": 0}) == []


def test_a_click_on_overlapping_accounts_picks_the_one_drawn_on_top():
    members, edges, positions = _ring_network(40)
    positions = positions.copy()
    span = positions.max(axis=0) - positions.min(axis=0)
    positions[0] = positions[20] + span * 0.005  # the seeder half over amplifier u20
    picture = network_picture(members, edges, positions)
    x, y = picture.xy[20]  # the amplifier's centre, nearer to it than to the seeder's, yet under the seeder
    assert np.hypot(*(picture.xy[0] - picture.xy[20])) < picture.radius[0]
    event = {"x1": x, "y1": y, "x2": x, "y2": y, "width": picture.width, "height": picture.height}
    assert accounts_at(picture, event) == ["u0"]  # the seeder: rarer roles are drawn over amplifiers


def test_selected_accounts_are_ringed_in_the_picture_and_nothing_else_changes():
    import io

    from PIL import Image

    members, edges, positions = _ring_network(40)
    picture = network_picture(members, edges, positions)
    marked = with_rings(picture, ["u7", "not-a-member"])
    before, after = (np.asarray(Image.open(io.BytesIO(p.png)).convert("RGB"), dtype=int) for p in (picture, marked))
    changed = np.argwhere((before != after).any(axis=2))
    x, y = picture.xy[7]
    distance = np.hypot(changed[:, 1] - x, changed[:, 0] - y)
    assert len(changed) > 50 and (np.abs(distance - picture.radius[7] - 3) <= 1.8).all()  # ring ±1 px, rounded
    assert after[changed[:, 0], changed[:, 1]].sum(axis=1).max() < 150  # drawn dark
    assert with_rings(picture, []) is picture and (marked.xy == picture.xy).all()


def test_timeline_counts_every_action_and_shows_bursts_and_named_dates():
    t0 = datetime(2021, 1, 4, tzinfo=UTC)
    actions = pl.DataFrame({"timestamp": [t0 + timedelta(minutes=7 * i) for i in range(300)],
                            "action": ["repost", "post", "repost"] * 100})
    burst = {"start": t0 + timedelta(hours=10), "end": t0 + timedelta(hours=20), "level": 2}
    fig = timeline_figure(actions, [burst], [{"date": "2021-01-06", "place": "US Capitol"}])
    assert sum(sum(t.y) for t in fig.data) == 300
    assert {t.name for t in fig.data} == {"post", "repost"}
    shapes = fig.layout.shapes
    assert any(s.type == "rect" for s in shapes) and any(s.type == "line" for s in shapes)
    assert any("US Capitol" in a.text for a in fig.layout.annotations)
    # a place named inside another is not repeated under it, whichever comes first
    for named in (["Congreso de la Nación, Buenos Aires", "Buenos Aires"], ["Buenos Aires", "Congreso, Buenos Aires"]):
        fig = timeline_figure(actions, [], [{"date": "2023-01-07", "place": p} for p in named])
        label = next(a.text for a in fig.layout.annotations if "named date" in a.text)
        assert label.count("Buenos Aires") == 1 and "Congreso" in label


def test_timeline_draws_one_line_per_named_date_and_labels_only_the_deepest_bursts():
    t0 = datetime(2021, 1, 4, tzinfo=UTC)
    actions = pl.DataFrame({"timestamp": [t0 + timedelta(hours=i) for i in range(48)], "action": ["post"] * 48})
    bursts = [{"start": t0 + timedelta(hours=h), "end": t0 + timedelta(hours=h + 3), "level": lv}
              for h, lv in ((2, 1), (10, 2), (20, 1), (30, 2))]
    places = [{"date": "2021-01-06", "place": "Capitol"}, {"date": "2021-01-06", "place": "Ellipse"},
              {"date": "2021-01-07", "place": None}, {"date": None, "place": "nowhere"}]
    fig = timeline_figure(actions, bursts, places)
    assert sum(s.type == "line" for s in fig.layout.shapes) == 2
    assert sum(s.type == "rect" for s in fig.layout.shapes) == 4
    labels = [a.text or "" for a in fig.layout.annotations]
    assert sum("burst" in t for t in labels) == 2 and all("level 2" in t for t in labels if "burst" in t)
    assert len(labels) == 2 + 2  # two burst labels, two named days: no stray "new text"
    assert any("Capitol" in t and "Ellipse" in t for t in labels)
    # the two named days' labels sit one below the other, so they cannot overprint
    assert len({a.y for a in fig.layout.annotations if "named date" in (a.text or "")}) == 2
    assert "4 bursts (Kleinberg level 1–2" in fig.layout.title.text
    many = [{"start": t0 + timedelta(hours=h), "end": t0 + timedelta(hours=h + 1), "level": 1} for h in range(0, 40, 4)]
    crowded = timeline_figure(actions, many, [])
    assert not crowded.layout.annotations  # ten labels would overlap: none at all
    assert "10 bursts (Kleinberg level 1;" in crowded.layout.title.text


def test_the_timeline_picture_draws_the_bars_bursts_and_named_days_of_the_figure():
    import io

    from PIL import Image

    from rallypoint.dashboard.timeline import PICTURE_HEIGHT_PX, PICTURE_WIDTH_PX, timeline_picture

    t0 = datetime(2021, 1, 4, tzinfo=UTC)
    actions = pl.DataFrame({"timestamp": [t0 + timedelta(hours=i // 3) for i in range(144)], "action": ["post"] * 144})
    burst = {"start": t0 + timedelta(hours=10), "end": t0 + timedelta(hours=20), "level": 2}
    days = [{"date": "2021-01-05", "place": "Capitol"}]

    def colour_share(png: bytes, hex_colour: str) -> float:
        image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
        assert image.shape == (PICTURE_HEIGHT_PX, PICTURE_WIDTH_PX, 3)
        return float((np.abs(image - _rgb(hex_colour)).sum(axis=2) < 40).mean())

    from rallypoint.dashboard.palette import series_colour

    full = timeline_picture(actions, [burst], days)
    bare = timeline_picture(actions, [], [])
    empty = timeline_picture(actions.clear(), [], [])
    bars = series_colour("post", ["post"])
    assert colour_share(full, bars) > 0.02 and colour_share(empty, bars) == 0  # the bars, in the action's colour
    # two actions a day apart are two thin bars, not one count held across the empty bins between them
    apart = pl.DataFrame({"timestamp": [t0, t0 + timedelta(hours=30)], "action": ["post", "post"]})
    assert 0 < colour_share(timeline_picture(apart, [], []), bars) < 0.01
    # the named day's dashed line and label in vermillion; none without one
    assert colour_share(full, OKABE_ITO["vermillion"]) > 0.0004 and colour_share(bare, OKABE_ITO["vermillion"]) == 0


def test_ego_network_holds_the_accounts_edges_and_those_among_its_neighbours():
    edges = cluster_edges(_edges([("me", "a", 3), ("me", "b", 2), ("a", "b", 1), ("b", "far", 9), ("far", "x", 1)]),
                          pl.Series(["me", "a", "b", "far", "x"]))
    ego = ego_edges(edges, "me")
    assert set(zip(ego["account_a"], ego["account_b"], strict=True)) == {("a", "me"), ("b", "me"), ("a", "b")}
    nodes = ego_nodes(ego, "me", pl.DataFrame({"account_id": ["a"], "role": ["seeder"], "account_name": ["@a"],
                                               "high_profile": [True], "n_actions": [3]}))
    assert dict(nodes.select("account_id", "role").iter_rows()) == {"a": "seeder", "b": "outside", "me": "outside"}
    assert nodes.filter(pl.col("account_id") == "me")["strength"][0] == 5


# --- launch, offline ---------------------------------------------------------------
def test_the_server_is_local_offline_and_told_which_lake(tmp_path):
    argv, env = streamlit_command(tmp_path, neo4j_uri="bolt://127.0.0.1:7687", port=8765)
    assert "--browser.gatherUsageStats=false" in argv and "--server.port=8765" in argv
    assert "--server.address=127.0.0.1" in argv
    assert env["RALLYPOINT_LAKE"] == str(tmp_path.resolve()) and env["RALLYPOINT_NEO4J_URI"].startswith("bolt://")
    with pytest.raises(LakeError, match="no lake"):
        streamlit_command(tmp_path / "missing")


def test_the_command_says_one_sentence_when_the_lake_is_missing(tmp_path):
    done = subprocess.run([sys.executable, "-m", "rallypoint.cli", "dashboard", "--lake", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: There is no lake") and done.stderr.count("\n") == 1


def test_no_page_loads_icons_fonts_or_scripts_from_the_internet():
    sources = "\n".join(p.read_text() for p in DASHBOARD.rglob("*.py"))
    assert ":material/" not in sources  # Material icons load a Google font
    assert "cdn" not in sources.lower() and "googleapis" not in sources


# --- export ------------------------------------------------------------------------
def test_the_download_is_the_exporters_folder_zipped_pseudonymized_on_request(tmp_path, monkeypatch):
    import io
    import json
    import zipfile

    import networkx as nx
    from dashboard_fixtures import NEW_RUN, write_fixture_lake

    from rallypoint.dashboard.exporting import export_cluster

    fixture = write_fixture_lake(tmp_path / "lake")
    cluster = fixture.clusters["mobilization"][0]
    accounts = set(pl.from_arrow(fixture.lake.read_run_table(NEW_RUN, "members"))
                   .filter(pl.col("cluster_id") == cluster)["account_id"])
    monkeypatch.setenv("RALLYPOINT_PSEUDONYM_KEY", "a-unit-test-key-of-32-characters")
    admin = Identity("ada", "admin", "password")
    for pseudonymize in (True, False):
        download = export_cluster(fixture.lake, NEW_RUN, cluster, "graphml", pseudonymize, admin)
        with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
            names = archive.namelist()
            graph = nx.read_graphml(io.BytesIO(archive.read(next(n for n in names if n.endswith(".graphml")))))
            manifest = json.loads(archive.read(next(n for n in names if n.endswith("manifest.json"))))
        assert download.file_name.endswith("_graphml.zip") and manifest["pseudonymized"] is pseudonymize
        assert graph.number_of_nodes() == len(accounts)
        assert (set(graph.nodes) == accounts) is not pseudonymize
    exports = TriageStore(fixture.lake.triage_path).events(("export",))
    assert exports.select("actor", "subject").rows() == [("ada", cluster)] * 2
    assert [json.loads(p)["pseudonymized"] for p in exports["payload"]] == [True, False]
    for role in ("viewer", "analyst"):  # only an admin exports real ids; the refusal leaves no file and no event
        with pytest.raises(RallypointError, match="pseudonymized accounts only"):
            export_cluster(fixture.lake, NEW_RUN, cluster, "graphml", False, Identity("vi", role, "password"))
        assert export_cluster(fixture.lake, NEW_RUN, cluster, "csv", True, Identity("vi", role, "password")).data
    assert TriageStore(fixture.lake.triage_path).events(("export",)).height == 4


def test_a_card_shows_the_lead_reason_of_each_kind_then_fills_up_to_three():
    from rallypoint.dashboard.queue import card_reasons

    harm = ["5 of 9 posts the cluster pushed (each with its replies and quotes) escalate (threats, calls to force "
            "or to storm a place).", "8 of 9 posts the cluster pushed (each with its replies and quotes) claim the "
            "election was stolen or rigged."]
    call = "7 of 9 posts the cluster pushed (each with its replies and quotes) call people to act."
    coordination = ["9 of 9 accounts reposted the same 3 posts.", "4 texts name 2021-01-06 at X."]
    formula = "Score 0.70 = coordination 1.00 x harm 0.70 x (0.5 + ...); flagged at 0.3 or more."
    every = [*coordination, call, *harm, formula]
    assert card_reasons(every) == [("harm", harm[1]), ("mobilization", call), ("coordination", coordination[0])]
    assert card_reasons([coordination[0], harm[0], harm[1], formula]) == [
        ("harm", harm[1]), ("harm", harm[0]), ("coordination", coordination[0])]
    assert card_reasons(["a.", "b.", "c.", "d.", formula]) == [("coordination", r) for r in ("a.", "b.", "c.")]
    assert card_reasons([formula]) == []
