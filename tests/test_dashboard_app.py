"""Each dashboard page's logic, driven through Streamlit's AppTest on the fixture lake.

AppTest runs the real app script and drives its widgets, forms, query parameters and
session state (it cannot click charts; a plotly selection is set through the chart's
key, as the browser would).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from dashboard_fixtures import NEW_RUN, OLD_RUN, write_fixture_lake
from streamlit.testing.v1 import AppTest

import rallypoint.dashboard
from rallypoint.dashboard import navigation, session
from rallypoint.dashboard.accounts import AccountStore
from rallypoint.dashboard.cluster_network import cluster_network, cluster_picture
from rallypoint.dashboard.data import run_version
from rallypoint.dashboard.network_picture import PICTURE_ABOVE
from rallypoint.dashboard.network_zoom import WHOLE
from rallypoint.dashboard.queue import REASON_LABELS
from rallypoint.dashboard.safe import html
from rallypoint.dashboard.triage import Decision, TriageStore
from rallypoint.dashboard.views.cluster_page import COMPONENTS
from rallypoint.detectors.evidence import kind_label
from rallypoint.detectors.scoring import reason_category
from rallypoint.lake import Lake, write_parquet_atomic

APP = str(Path(rallypoint.dashboard.__file__).with_name("app.py"))


@pytest.fixture(scope="module")
def fixture_lake(tmp_path_factory):
    return write_fixture_lake(tmp_path_factory.mktemp("lake"), n_filler=25)


@pytest.fixture
def lake_copy(tmp_path):
    """A lake of its own, for tests that record decisions."""
    return write_fixture_lake(tmp_path / "lake")


PASSWORD = "a long test password"


@pytest.fixture(autouse=True)
def no_sign_in_unless_asked(monkeypatch):
    """Pages open as ``--no-auth`` does (one local user, admin); ``open_app(role=...)`` signs in instead."""
    monkeypatch.setenv("RALLYPOINT_AUTH", "none")


def sign_in_as(lake: Lake, monkeypatch, role: str, name: str | None = None) -> str:
    """A signed-in session of a new ``role`` user, as the browser's cookie would carry it; returns the name."""
    name = name or f"{role}-1"
    store = AccountStore(lake.triage_path)
    if name not in {u["name"] for u in store.users()}:
        store.add_user(name, role, PASSWORD, "test")
    token = store.sign_in(name, PASSWORD, "127.0.0.1")
    monkeypatch.setenv("RALLYPOINT_AUTH", "password")
    monkeypatch.setattr(session, "session_token", lambda: token)
    return name


def open_app(lake: Lake, monkeypatch, page: str | None = None, role: str | None = None, **params: str) -> AppTest:
    """The app on ``lake``: signed in as a new ``role`` user, or without sign-in (``--no-auth``) when none."""
    monkeypatch.setenv("RALLYPOINT_LAKE", str(lake.root))
    if role:
        sign_in_as(lake, monkeypatch, role)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        at.switch_page(navigation.page(page))
    for k, v in params.items():
        at.query_params[k] = v
    if page or params:
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame(at: AppTest, *columns: str):
    """The first table on the page with these columns (AppTest does not expose a table's key)."""
    for d in at.dataframe:
        if set(columns) <= set(d.value.columns):
            return d.value
    raise AssertionError(f"no table with columns {columns} among {[list(d.value.columns) for d in at.dataframe]}")


def shown(markdown: str) -> str:
    """The text a Markdown source shows: backslash escapes and the invisible word joiners undone."""
    return re.sub(r"\\(.)", r"\1", markdown, flags=re.S).replace("\u2060", "")


def texts(elements) -> list[str]:
    return [shown(e.value) for e in elements]


def warnings(at: AppTest) -> list[str]:
    """The page's warnings, less the --no-auth banner every page shows in these tests."""
    return [w for w in texts(at.warning) if not w.startswith("Sign-in is off")]


class _Shown(HTMLParser):
    """The text an HTML block shows: tags dropped, entities decoded, a line per ``<br>``, ``<li>`` and ``<p>``;
    the links' addresses in :attr:`links`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs)["href"])
        if tag in ("br", "ul", "li", "p"):
            self.parts.append("\n- " if tag == "li" else "\n")

    def handle_data(self, data):
        self.parts.append(data)

    def text(self) -> str:
        return "".join(self.parts).replace("\u2060", "").replace("\xa0", " ")


def html_shown(source: str) -> _Shown:
    parser = _Shown()
    parser.feed(source)
    parser.close()
    return parser


def card_sources(at: AppTest) -> list[str]:
    """Each queue card's HTML (a page of cards is one HTML block, a card one ``<article>`` in it)."""
    return [part for h in at.html for part in re.split(r"(?=<article )", h.value) if part.startswith("<article ")]


def card_titles(at: AppTest) -> list[str]:
    """Each queue card's text as the analyst reads it."""
    return [html_shown(card).text() for card in card_sources(at)]


def card_ids(at: AppTest) -> list[str]:
    return [re.match(r"#\d+ · (\S+?) — ", t).group(1) for t in card_titles(at)]


# --- queue --------------------------------------------------------------------------
def test_queue_lists_flagged_clusters_by_score_with_their_evidence_summary(fixture_lake, monkeypatch):
    at = open_app(fixture_lake.lake, monkeypatch)
    clusters = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "clusters"))
    flagged = clusters.filter(pl.col("flagged")).sort("score", descending=True)
    assert card_ids(at) == flagged["cluster_id"].to_list()[:10]
    text = " ".join(card_titles(at))
    assert "US Capitol on 2021-01-06" in text and "Praça dos Três Poderes on 2023-01-08" in text
    assert fixture_lake.high_profile_account in text  # high-profile members are named, not hidden
    assert "UNREVIEWED" in text
    # each card links to its cluster's page, with the run (a plain link: it opens in a new tab too)
    links = [html_shown(card).links for card in card_sources(at)]
    assert links == [[f"cluster?{urlencode({'run': NEW_RUN, 'cluster': c})}"] for c in card_ids(at)]


def test_queue_filters_narrow_the_list(fixture_lake, monkeypatch):
    at = open_app(fixture_lake.lake, monkeypatch)
    clusters = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "clusters"))
    at.checkbox(key="flagged_only").uncheck().run()
    assert at.metric[0].value == f"{clusters.height:,}"  # organic and filler clusters appear too
    assert "platform" not in {m.key for m in at.multiselect}
    at.toggle(key="more_filters").set_value(True).run()  # the rarer filters are behind the toggle
    at.multiselect(key="platform").select("telegram").run()
    telegram = clusters.filter(pl.col("platforms").list.contains("telegram"))
    assert at.metric[0].value == f"{telegram.height:,}" and telegram.height > 0
    at.slider(key="min_score").set_value(0.95).run()
    assert at.metric[0].value == str(telegram.filter(pl.col("score") >= 0.95).height)
    at.slider(key="min_score").set_value(0.0).run()
    at.multiselect(key="platform").unselect("telegram").run()
    at.text_input(key="q").input("Três Poderes").run()
    assert set(card_ids(at)) == set(
        clusters.filter(pl.col("mobilization").struct.field("places").list.contains("Praça dos Três Poderes"))["cluster_id"]
    )


def test_a_filtered_queue_url_reopens_with_the_same_filters(fixture_lake, monkeypatch):
    clusters = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "clusters"))
    expected = clusters.filter(pl.col("platforms").list.contains("telegram") & (pl.col("score") >= 0.3))
    assert 0 < expected.height < clusters.height
    monkeypatch.setenv("RALLYPOINT_LAKE", str(fixture_lake.lake.root))
    at = AppTest.from_file(APP, default_timeout=120)
    # a shared link: the URL is all the new session has (no widget state yet)
    for name, value in {"run": NEW_RUN, "flagged_only": "false", "min_score": "0.3", "platform": "telegram",
                        "per_page": "25"}.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.checkbox(key="flagged_only").value is False and at.slider(key="min_score").value == 0.3
    assert at.multiselect(key="platform").value == ["telegram"] and at.selectbox(key="per_page").value == 25
    assert at.toggle(key="more_filters").value is True  # the link's platform opened the rarer filters
    assert at.metric[0].value == f"{expected.height:,}"
    assert sorted(card_ids(at)) == sorted(expected["cluster_id"])


def test_hiding_the_rarer_filters_clears_them(fixture_lake, monkeypatch):
    clusters = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "clusters"))
    monkeypatch.setenv("RALLYPOINT_LAKE", str(fixture_lake.lake.root))
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in {"run": NEW_RUN, "flagged_only": "false", "platform": "telegram"}.items():
        at.query_params[name] = value  # a shared link, as the session's first page
    at.run()
    telegram = clusters.filter(pl.col("platforms").list.contains("telegram")).height
    assert at.metric[0].value == f"{telegram:,}" and telegram < clusters.height
    shown_with = len(at.main.children)
    at.toggle(key="more_filters").set_value(False).run()
    assert "platform" not in {m.key for m in at.multiselect} and "platform" not in at.query_params
    assert at.metric[0].value == f"{clusters.height:,}"  # nothing hidden still filters
    assert len(at.main.children) <= shown_with


def test_a_new_triage_record_refreshes_the_cached_statuses(lake_copy, monkeypatch):
    from rallypoint.dashboard.data import clusters_with_status

    lake = lake_copy.lake
    first = clusters_with_status(lake, NEW_RUN)
    assert clusters_with_status(lake, NEW_RUN) is first  # one frame per run and log version, not per render
    cluster = first.sort("score", descending=True)["cluster_id"][0]
    assert first.filter(pl.col("cluster_id") == cluster)["status"][0] == "unreviewed"
    TriageStore(lake.triage_path).record(Decision(NEW_RUN, cluster, "escalate", "calls to storm", "ana"))
    after = clusters_with_status(lake, NEW_RUN)
    assert after.filter(pl.col("cluster_id") == cluster)["status"][0] == "escalated"
    TriageStore(lake.triage_path).record(Decision(NEW_RUN, cluster, "dismiss", "a parody account", "ana"))
    assert clusters_with_status(lake, NEW_RUN).filter(pl.col("cluster_id") == cluster)["status"][0] == "dismissed"


def test_queue_pages_through_many_clusters(fixture_lake, monkeypatch):
    at = open_app(fixture_lake.lake, monkeypatch)
    at.checkbox(key="flagged_only").uncheck().run()
    total = fixture_lake.lake.read_run_table(NEW_RUN, "clusters").num_rows
    first = card_ids(at)
    at.number_input(key="page").set_value(2).run()
    second = card_ids(at)
    assert len(first) == 10 and second and not set(first) & set(second)
    assert card_titles(at)[0].startswith("#11 ")
    at.number_input(key="page").set_value(-(-total // 10)).run()
    assert len(card_ids(at)) == total - 10 * (-(-total // 10) - 1)


# --- cluster page and triage ---------------------------------------------------------
def test_cluster_page_shows_reasons_evidence_targets_and_members(fixture_lake, monkeypatch):
    top = fixture_lake.clusters["mobilization"][0]
    at = open_app(fixture_lake.lake, monkeypatch, "cluster", run=NEW_RUN, cluster=top)
    row = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "clusters")).filter(pl.col("cluster_id") == top)
    assert texts(at.title)[0] == f"Cluster {top}"
    text = " ".join(texts(at.markdown))
    for reason in row["reasons"][0]:
        assert reason.split(":")[0] in text
    # the score's components, each with its value written beside its bar
    bars = next(m.value for m in at.markdown if "and its components (0–1)" in m.value)
    for component, label in COMPONENTS.items():  # each named for what it measures
        assert re.search(rf">{label}</td>.*?{row[component][0] or 0.0:.2f}</span>", bars)
    assert ">threats or stolen-election claims</td>" in bars
    assert [t.label for t in at.tabs] == ["Network", "Activity timeline", "Evidence posts",
                                          "Members and shared targets", "Expand", "Export"]
    # the sections are lazy tabs bound to ?tab=: only the open one runs
    assert [s.value for s in at.subheader] == ["Why it was flagged", "Triage", "Network of members"]
    at.query_params["tab"] = "Evidence posts"
    at.run()
    assert "Network of members" not in [s.value for s in at.subheader]
    assert "<mark>" in " ".join(h.value for h in at.html)  # matched phrases are highlighted
    at.query_params["tab"] = "Members and shared targets"
    at.run()
    members = frame(at, "account_id", "role", "first_ts")
    assert len(members) == row["n_accounts"][0] and {"role", "n_actions", "degree"} <= set(members.columns)
    assert len(frame(at, "kind", "target", "count")) == len(row["top_targets"][0])
    at.query_params["tab"] = "Activity timeline"
    at.run()
    # a picture first (no plotly in the browser), the interactive chart one toggle away
    assert "Activity timeline" in [s.value for s in at.subheader] and not at.get("plotly_chart")
    assert len(at.get("image")) == 1
    at.toggle(key="timeline_interactive").set_value(True).run()
    assert len(at.get("plotly_chart")) == 1 and not at.get("image")
    assert not at.exception, [e.value for e in at.exception]


def test_a_decision_needs_a_note_and_is_recorded_as_the_signed_in_analyst(lake_copy, monkeypatch):
    cluster = lake_copy.clusters["mobilization"][0]
    at = open_app(lake_copy.lake, monkeypatch, "cluster", role="analyst", run=NEW_RUN, cluster=cluster)
    store = TriageStore(lake_copy.lake.triage_path)
    assert not [t for t in at.text_input if t.key == "triage_analyst"]  # no free-text name
    assert "Recorded as analyst-1 (analyst), the signed-in user." in texts(at.caption)
    form = f"{NEW_RUN}_{cluster}_0"
    # no decision is chosen for the analyst: a note alone is refused
    assert at.radio(key=f"triage_decision_{form}").value is None
    at.text_area(key=f"triage_note_{form}").input("looks bad")
    at.get("form_submit_button")[0].click().run()
    assert texts(at.error) == ["Choose a decision first: confirm, dismiss or escalate."]
    assert store.decisions().height == 0
    at.text_area(key=f"triage_note_{form}").input("")
    at.radio(key=f"triage_decision_{form}").set_value("escalate")
    at.get("form_submit_button")[0].click().run()
    assert texts(at.error) == ["A decision needs a note saying why."]
    assert store.decisions().height == 0
    at.text_area(key=f"triage_note_{form}").input("Buses and a date at the Capitol: hand to the threat team.")
    at.get("form_submit_button")[0].click().run()
    at.run()
    # the form starts empty again: no decision chosen, no note left over
    form = f"{NEW_RUN}_{cluster}_1"
    assert at.radio(key=f"triage_decision_{form}").value is None and at.text_area(key=f"triage_note_{form}").value == ""
    decided = store.decisions()
    assert decided.select("run_id", "cluster_id", "status", "analyst").rows() == [
        (NEW_RUN, cluster, "escalated", "analyst-1")]
    assert store.events(("decision",))["actor_role"].to_list() == ["analyst"]
    members = lake_copy.lake.read_run_table(NEW_RUN, "members").to_pandas()
    assert sorted(decided["member_ids"][0]) == sorted(members[members.cluster_id == cluster].account_id)
    text = " ".join(texts(at.markdown))
    assert "ESCALATED" in text
    history = [m for m in texts(at.markdown) if m.startswith("- ") and "UTC · **" in m]
    assert len(history) == 1 and history[0].count("\n") == 0
    assert "**ESCALATED** by analyst-1: Buses and a date at the Capitol: hand to the threat team." in history[0]
    assert store.verify().ok
    # a note typed but not recorded stays with its cluster, it does not follow the analyst to the next one
    at.text_area(key=f"triage_note_{form}").input("half-written thought")
    other = lake_copy.clusters["mobilization"][1]
    at.query_params["cluster"] = other
    at.run()
    assert [t.value for t in at.text_area if t.key.startswith("triage_note_")] == [""]


def test_a_decision_on_the_previous_run_carries_over_to_the_queue(lake_copy, monkeypatch):
    old_members = lake_copy.lake.read_run_table(OLD_RUN, "members").to_pandas()
    old_cluster = "r1-c00001"  # the same network as r2-c00001, a tenth of it replaced
    accounts = tuple(old_members[old_members.cluster_id == old_cluster].account_id)
    TriageStore(lake_copy.lake.triage_path).record(
        Decision(OLD_RUN, old_cluster, "dismiss", "lawful rally, permit on file", "Bo", accounts))
    at = open_app(lake_copy.lake, monkeypatch)
    card = next(t for t in card_titles(at) if "r2-c00001" in t)
    assert "DISMISSED (carried over from run " + OLD_RUN in card
    others = [t for t in card_titles(at) if "r2-c00001" not in t]
    assert all("UNREVIEWED" in t for t in others)
    at.multiselect(key="status").select("dismissed").run()
    assert card_ids(at) == ["r2-c00001"]


def test_selecting_nodes_in_the_network_shows_those_accounts(fixture_lake, monkeypatch):
    cluster = fixture_lake.clusters["mobilization"][0]
    at = open_app(fixture_lake.lake, monkeypatch, "cluster", run=NEW_RUN, cluster=cluster)
    members = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "members")).filter(pl.col("cluster_id") == cluster)
    picked = members["account_id"].to_list()[:2]
    at.session_state[f"network_{NEW_RUN}_{cluster}"] = {
        "selection": {"points": [{"customdata": a} for a in picked], "point_indices": [], "box": [], "lasso": []}
    }
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert sorted(frame(at, "account_id", "strength")["account_id"]) == sorted(picked)  # the network tab: no members table


@pytest.fixture(scope="module")
def large_lake(tmp_path_factory):
    """The fixture lake with a cluster just large enough to be drawn as a picture first."""
    return write_fixture_lake(tmp_path_factory.mktemp("large"), big_cluster=PICTURE_ABOVE + 20)


def test_a_large_network_is_a_picture_whose_clicks_and_boxes_list_accounts(large_lake, monkeypatch):
    big = large_lake.big_cluster
    at = open_app(large_lake.lake, monkeypatch, "cluster", run=NEW_RUN, cluster=big)
    assert not at.get("plotly_chart")  # no plotly on the first view: the network is a picture
    assert "A picture of the network" in " ".join(texts(at.caption))
    picture = cluster_picture(str(large_lake.lake.root), NEW_RUN, big, run_version(large_lake.lake, NEW_RUN))
    gaps = np.hypot(picture.xy[:, None, 0] - picture.xy[None, :, 0], picture.xy[:, None, 1] - picture.xy[None, :, 1])
    np.fill_diagonal(gaps, np.inf)
    lone = int(gaps.min(axis=1).argmax())  # the account farthest from any other: a click there means it
    shown = picture.width / 2  # as if the page showed it at half size
    x, y = picture.xy[lone] / 2 + 1
    at.session_state[f"network_picture_{NEW_RUN}_{big}_{WHOLE}"] = {
        "x1": x, "y1": y, "x2": x, "y2": y, "width": shown, "height": picture.height / 2}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert frame(at, "account_id", "strength")["account_id"].tolist() == [picture.accounts[lone]]
    assert "**Selected accounts (1)**" in [m.value for m in at.markdown]
    # a box around the whole picture selects every member
    at.session_state[f"network_picture_{NEW_RUN}_{big}_{WHOLE}"] = {
        "x1": 0, "y1": 0, "x2": shown, "y2": picture.height / 2, "width": shown, "height": picture.height / 2}
    at.run()
    assert len(frame(at, "account_id", "strength")) == PICTURE_ABOVE + 20
    # zoomed to the biggest sub-group, a box around the whole picture selects that group (and what lies in its box)
    group = cluster_network(str(large_lake.lake.root), NEW_RUN, big, run_version(large_lake.lake, NEW_RUN)).group
    assert group.max() >= 1, "the big cluster has no sub-groups to zoom to"
    at.selectbox(key=f"zoom_{NEW_RUN}_{big}").set_value(0).run()
    zoomed = cluster_picture(str(large_lake.lake.root), NEW_RUN, big, run_version(large_lake.lake, NEW_RUN), 0)
    at.session_state[f"network_picture_{NEW_RUN}_{big}_0"] = {
        "x1": 0, "y1": 0, "x2": shown, "y2": picture.height / 2, "width": shown, "height": picture.height / 2}
    at.run()
    chosen = set(frame(at, "account_id", "strength")["account_id"])
    members = set(zoomed.accounts[group == 0])
    assert members <= chosen and len(chosen) < PICTURE_ABOVE + 20
    at.selectbox(key=f"zoom_{NEW_RUN}_{big}").set_value(WHOLE).run()
    # the interactive figure is one toggle away, and the strongest edges one more
    at.toggle(key=f"interactive_{NEW_RUN}_{big}").set_value(True).run()
    assert len(at.get("plotly_chart")) == 1 and not at.exception
    assert not any("co-shares" in m.value for m in at.markdown)
    at.toggle(key=f"strongest_{NEW_RUN}_{big}").set_value(True).run()
    edges = frame(at, "account_a", "account_b", "co-shares")
    assert len(edges) == 200 and edges["co-shares"].is_monotonic_decreasing


# --- account and data health -----------------------------------------------------------
def test_account_page_finds_an_account_across_runs(fixture_lake, monkeypatch):
    account = fixture_lake.high_profile_account
    at = open_app(fixture_lake.lake, monkeypatch, "account", account=account)
    clusters = frame(at, "run_id", "cluster_id", "role")
    assert sorted(clusters["run_id"]) == sorted([OLD_RUN, NEW_RUN])
    actions = frame(at, "action", "target_id")
    records = fixture_lake.lake.read_interactions_table(columns=["account_id"]).to_pandas()
    assert len(actions) == (records.account_id == account).sum() > 0
    assert at.get("plotly_chart")  # the ego-network is drawn
    at.text_input(key="account_search").input("no-such-account").run()
    assert "No account" in warnings(at)[0]


def test_an_account_in_no_cluster_is_found_by_its_exact_id(lake_copy, monkeypatch):
    lake = lake_copy.lake
    one = lake.read_interactions_table().slice(0, 2)
    outsider = one.set_column(one.schema.get_field_index("account_id"), "account_id",
                              pa.array(["lone-account"] * 2, pa.string()))
    write_parquet_atomic(lake.interactions_dir / "date=2021-01-05" / "extra.parquet", outsider)
    at = open_app(lake, monkeypatch, "account", account="lone-account")
    assert not warnings(at) and "in no cluster" in " ".join(texts(at.caption))
    assert len(frame(at, "action", "target_id")) == 2


def test_data_health_counts_ingests_rejections_and_runs(fixture_lake, monkeypatch):
    at = open_app(fixture_lake.lake, monkeypatch, "health")
    rejected = frame(at, "reason", "records")
    assert rejected["records"].sum() == 4 and rejected["reason"].nunique() == 3
    runs = frame(at, "run_id", "parameters.window")
    assert runs["run_id"].tolist() == [NEW_RUN, OLD_RUN]
    assert "parameters.window" in runs.columns
    assert frame(at, "ingest_id", "read", "written")["ingest_id"].tolist() == [
        p.stem for p in fixture_lake.lake.ingests_dir.glob("*.json")]


def test_a_lake_without_runs_says_what_to_do(tmp_path, monkeypatch):
    lake = Lake(tmp_path / "empty").ensure()
    at = open_app(lake, monkeypatch)
    assert "rallypoint detect" in texts(at.info)[0]


# --- search -------------------------------------------------------------------------
def test_search_finds_a_hashtag_and_a_domain_and_links_accounts_and_clusters(fixture_lake, monkeypatch):
    at = open_app(fixture_lake.lake, monkeypatch, "search", run=NEW_RUN, query="#stopthesteal")
    records = frame(at, "text", "hashtags", "account_id")
    assert len(records) > 0 and all("StopTheSteal" in h for h in records["hashtags"])
    accounts = frame(at, "account_id", "hits")
    # paged: the newest 50 first, the next 50 on page 2
    assert len(records) == 50 and accounts["hits"].sum() == 200
    at.number_input[0].set_value(2).run()
    assert set(frame(at, "text", "hashtags", "account_id")["id"]).isdisjoint(records["id"])
    # each account once, its handle first, linked to its page; "in no cluster" rather than a blank
    table = frame(at, "account_id", "hits", "page")
    assert list(table.columns)[:2] == ["account_name", "page"] and list(table.columns)[-1] == "account_id"
    assert table["account_id"].is_unique and table["hits"].sum() == 200
    assert all(page == f"account?{urlencode({'run': NEW_RUN, 'account': a})}".replace("+", "%20")
               for page, a in zip(table["page"], table["account_id"], strict=True))
    links = [p.label for p in at.get("page_link")]
    assert not any("hits →" in label for label in links)  # listed once: in the table, not again as links
    members = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "members"))
    in_run = set(members["account_id"].to_list())
    for account, held in zip(table["account_id"], table["clusters"], strict=True):
        assert (held == "in no cluster") == (account not in in_run), (account, held)
    expected = members.filter(pl.col("account_id").is_in(accounts["account_id"].to_list()))["cluster_id"].unique()
    cluster_links = [shown(label) for label in links if label.startswith("Cluster ")]
    assert len(cluster_links) == min(len(expected), 20) and len(expected) > 0
    # a domain, accent- and case-insensitive words, and nothing found
    at.text_input(key="lake_q").input("example.org").run()
    assert all(any("example.org" in u for u in urls) for urls in frame(at, "text", "urls")["urls"])
    at.text_input(key="lake_q").input("TODOS A BRASILIA").run()
    assert all("Brasília" in t for t in frame(at, "text", "urls")["text"])
    at.text_input(key="lake_q").input("zzznothinglikethis").run()
    assert "Nothing in the lake matches this query." in texts(at.info)
    assert not at.exception, [e.value for e in at.exception]


# --- evidence -----------------------------------------------------------------------
def test_evidence_is_grouped_by_text_searchable_and_names_accounts_by_handle(fixture_lake, monkeypatch):
    top = fixture_lake.clusters["mobilization"][0]
    at = open_app(fixture_lake.lake, monkeypatch, "cluster", run=NEW_RUN, cluster=top, tab="Evidence posts")
    evidence = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "evidence")).filter(pl.col("cluster_id") == top)
    signals = evidence.filter(~pl.col("kind").str.starts_with("coaction"))
    distinct = signals["text"].n_unique()
    caption = next(c for c in texts(at.caption) if "groups of identical" in c)
    assert caption.startswith(f"Groups 1–{min(distinct, 10)} of {distinct} groups")
    assert f"of the cluster's {evidence['id'].n_unique()} evidence posts" in caption
    groups = next(h.value for h in at.html if " posts by " in h.value)
    assert groups.count("<div") == min(distinct, 10)  # the page's groups, each in full
    counts = signals["text"].value_counts()["count"].to_list()
    assert f"<b>{max(counts)} posts by" in groups
    # the kinds in words, not their field names
    kinds = set(signals["kind"].to_list())
    assert kinds and all(kind_label(k) in groups for k in kinds)
    assert not [k for k in kinds if "_" in k and k in groups]
    offered = at.multiselect(key="evidence_kinds").options  # as shown: "call to action (12)"
    assert all(any(o.startswith(f"{kind_label(k)} (") for o in offered) for k in kinds)
    assert not [o for o in offered if "_" in o]
    # accounts with their handle, each linked to its page
    names = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "members")).filter(pl.col("cluster_id") == top)
    assert any(f"{n} ({a})" in html_shown(groups).text() for a, n in names.select("account_id", "account_name").iter_rows())
    links = [shown(p.label) for p in at.get("page_link")]
    assert any(re.fullmatch(r"@\S+ \(\S+\) →", label) for label in links)
    # the search keeps the groups whose text holds the words
    at.text_input(key=f"evidence_search_{NEW_RUN}_{top}").input("buses").run()
    groups = next(h.value for h in at.html if " posts by " in h.value)
    assert groups.count("<div") == 1 and "Buses" in groups
    at.text_input(key=f"evidence_search_{NEW_RUN}_{top}").input("no such words").run()
    assert "No evidence group matches these kinds and words." in " ".join(h.value for h in at.html)
    assert not at.exception, [e.value for e in at.exception]


# --- why first ----------------------------------------------------------------------
def card_reason_lines(at: AppTest) -> list[list[str]]:
    """Each card's reason lines (``Harm: ...``), in order."""
    return [[line.removeprefix("- ") for line in card.split("\n") if line.startswith("- ")] for card in card_titles(at)]


def test_a_card_leads_with_its_strongest_harm_reason(fixture_lake, monkeypatch):
    at = open_app(fixture_lake.lake, monkeypatch)
    clusters = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "clusters")).sort("score", descending=True)
    flagged = clusters.filter(pl.col("flagged"))
    cards = card_reason_lines(at)
    assert len(cards) == min(flagged.height, 10)
    for lines, reasons in zip(cards, flagged["reasons"].head(len(cards)).to_list(), strict=True):
        harm = [r for r in reasons if "escalate (threats" in r]
        if harm:  # the harm sentence is the last the run wrote, the first the card shows
            assert lines[0] == f"Harm: {harm[0]}"
        assert not any(line.startswith("Score formula") for line in lines)
        assert len(lines) <= 3
    assert any(lines[0].startswith("Harm: ") for lines in cards)


def test_the_cluster_page_orders_reasons_and_says_when_a_cluster_is_not_flagged(fixture_lake, monkeypatch):
    top = fixture_lake.clusters["mobilization"][0]
    at = open_app(fixture_lake.lake, monkeypatch, "cluster", run=NEW_RUN, cluster=top)
    reasons = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "clusters")).filter(
        pl.col("cluster_id") == top)["reasons"][0].to_list()
    # the why first: the strongest reason of each kind, in the order harm, mobilization, coordination, score
    leads = next(m for m in texts(at.markdown) if m.startswith("- **"))
    heads = [re.match(r"- \*\*([^:]+):\*\* (.*)", line).groups() for line in leads.split("\n")]
    kinds = ["Harm", "Mobilization", "Coordination", "Score formula"]
    present = {REASON_LABELS[reason_category(r)] for r in reasons}
    assert [h for h, _ in heads] == [k for k in kinds if k in present] and {"Harm", "Coordination"} <= present
    assert heads[-1][1].startswith("Score ")  # the score's own formula, not one of its parts
    # the others folded below, numbered, harm first; together, every reason once
    folded = next(e for e in at.expander if e.label.startswith("The other "))
    others = next(m for m in texts(folded.markdown) if m.startswith("1. **"))
    other_heads = [re.match(r"\d+\. \*\*([^:]+):\*\*", line).group(1) for line in others.split("\n")]
    assert folded.label.startswith(f"The other {len(other_heads)} reasons")
    assert other_heads == sorted(other_heads, key=kinds.index)
    said = [re.sub(r"^(- |\d+\. )\*\*[^:]+:\*\* ", "", line) for line in [*leads.split("\n"), *others.split("\n")]]
    assert sorted(said) == sorted(reasons)
    organic = fixture_lake.clusters["organic"][0]
    at = open_app(fixture_lake.lake, monkeypatch, "cluster", run=NEW_RUN, cluster=organic)
    score = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "clusters")).filter(
        pl.col("cluster_id") == organic)["score"][0]
    assert [s.value for s in at.subheader][0] == f"Not flagged: why it scored {score:.2f}"


def test_an_unknown_run_or_cluster_in_a_link_says_so(fixture_lake, monkeypatch):
    at = open_app(fixture_lake.lake, monkeypatch, "cluster", run="20990101T000000Z-nosuch", cluster="nope")
    said = warnings(at)
    assert any(w.startswith("This lake has no detection run “20990101T000000Z-nosuch”; showing the newest run, "
                            f"{NEW_RUN}.") for w in said)
    assert any(w.startswith(f"Run {NEW_RUN} has no cluster “nope”") for w in said)


HOSTILE_CARD_TEXT = ("<img src=x onerror=alert(1)>", "[link](javascript:alert(1))", "**bold** <b>tag</b> &amp;")


def test_a_card_shows_hostile_reasons_and_handles_as_text(lake_copy, monkeypatch):
    lake = lake_copy.lake
    clusters = pl.from_arrow(lake.read_run_table(NEW_RUN, "clusters"))
    top = clusters.filter(pl.col("flagged")).sort("score", descending=True)["cluster_id"][0]
    hostile = clusters.with_columns(
        pl.when(pl.col("cluster_id") == top)
        .then(pl.lit(list(HOSTILE_CARD_TEXT), dtype=pl.List(pl.String))).otherwise(pl.col("reasons")).alias("reasons"),
        pl.when(pl.col("cluster_id") == top)
        .then(pl.lit([HOSTILE_CARD_TEXT[0]], dtype=pl.List(pl.String))).otherwise(pl.col("types")).alias("types"))
    write_parquet_atomic(lake.run_dir(NEW_RUN) / "clusters.parquet", hostile.to_arrow())
    members = pl.from_arrow(lake.read_run_table(NEW_RUN, "members"))
    handle = HOSTILE_CARD_TEXT[1]
    write_parquet_atomic(lake.run_dir(NEW_RUN) / "members.parquet", members.with_columns(
        pl.when(pl.col("high_profile").fill_null(False)).then(pl.lit(handle)).otherwise(pl.col("account_name"))
        .alias("account_name")).to_arrow())
    at = open_app(lake, monkeypatch, run=NEW_RUN)
    card = next(card for card in card_sources(at) if f"· {top} —" in html_shown(card).text())
    shown = html_shown(card)
    for payload in HOSTILE_CARD_TEXT:  # each reason shows exactly its text, as a line of the card
        assert f"- Reason: {payload}" in shown.text().replace("Harm: ", "Reason: ").replace(
            "Mobilization: ", "Reason: ").replace("Coordination: ", "Reason: "), payload
    assert f"{handle} (" in " ".join(card_titles(at))  # the high-profile member's handle first, as text
    # the only tags are the card's own: no image, script or the payload's <b>; one link, the app's own
    assert set(shown.tags) <= {"article", "div", "b", "br", "span", "ul", "li", "i", "p", "a"}
    assert shown.links == [f"cluster?{urlencode({'run': NEW_RUN, 'cluster': top})}"]
    assert shown.text().count("tag") >= 1 and "onerror" in shown.text()
    assert "<img" not in card and "<b>tag" not in card and "javascript" in shown.text()


def test_a_run_that_flagged_nothing_says_so(lake_copy, monkeypatch):
    lake = lake_copy.lake
    clusters = lake.read_run_table(NEW_RUN, "clusters")
    none_flagged = clusters.set_column(clusters.schema.get_field_index("flagged"), clusters.schema.field("flagged"),
                                       pa.array([False] * clusters.num_rows, pa.bool_()))
    write_parquet_atomic(lake.run_dir(NEW_RUN) / "clusters.parquet", none_flagged)
    at = open_app(lake, monkeypatch, run=NEW_RUN)
    assert any(i.startswith(f"This run flagged no cluster: all {clusters.num_rows:,} scored below")
               for i in texts(at.info))
    assert "No cluster matches these filters." not in warnings(at)


def test_members_show_creation_and_top_posts_their_author_time_and_text(lake_copy, monkeypatch):
    lake = lake_copy.lake
    top = lake_copy.clusters["mobilization"][0]
    targets = pl.from_arrow(lake.read_run_table(NEW_RUN, "clusters")).filter(pl.col("cluster_id") == top)["top_targets"]
    seed = next(t["target"] for t in targets[0] if t["kind"] == "post")
    # the origin post itself, in the lake (the fixture has only its reposts), written by an outsider
    one = lake.read_interactions_table().slice(0, 1)
    for column, value in (("id", seed), ("account_id", "origin-author"), ("account_name", "@origin"),
                          ("text", "The original call")):
        one = one.set_column(one.schema.get_field_index(column), column, pa.array([value], pa.string()))
    write_parquet_atomic(lake.interactions_dir / "date=2021-01-01" / "origin.parquet", one)
    at = open_app(lake, monkeypatch, "cluster", run=NEW_RUN, cluster=top, tab="Members and shared targets")
    members = frame(at, "account_id", "account_created_at", "first_ts")
    assert members["account_created_at"].notna().all()
    # the handle first, then what tells a new or bought account, the id last
    assert list(members.columns)[:4] == ["account_name", "account_created_at", "followers", "first_ts"]
    assert list(members.columns)[-1] == "account_id"
    shown_targets = frame(at, "kind", "target", "count", "author", "text")
    post = shown_targets[shown_targets["target"] == seed].iloc[0]
    assert (post["author"], post["text"]) == ("@origin (origin-author)", "The original call")
    assert post["original"] is None or np.isnan(post["original"])  # no address can be built from this id
    assert shown_targets[shown_targets["kind"] != "post"]["author"].isna().all()
    # an X post id is a number: its address is given, as text
    x_post = one.set_column(one.schema.get_field_index("id"), "id", pa.array(["1234567890"], pa.string()))
    x_post = x_post.set_column(x_post.schema.get_field_index("platform"), "platform", pa.array(["x"], pa.string()))
    write_parquet_atomic(lake.interactions_dir / "date=2021-01-01" / "x-post.parquet", x_post)
    from rallypoint.dashboard.views.cluster_page import shared_targets
    table = shared_targets(lake, {"top_targets": [{"kind": "post", "target": "1234567890", "count": 3},
                                                  {"kind": "url", "target": "https://a.example/", "count": 2}]})
    assert table["original"].to_list() == ["https://x.com/i/web/status/1234567890", None]


# --- expand ---------------------------------------------------------------------------
def test_expand_shows_the_chosen_accounts_context_with_its_node_count(fixture_lake, monkeypatch):
    from rallypoint.dashboard.expand import expand_from_lake

    top = fixture_lake.clusters["mobilization"][0]
    at = open_app(fixture_lake.lake, monkeypatch, "cluster", run=NEW_RUN, cluster=top, tab="Expand")
    assert not at.exception, [e.value for e in at.exception]
    assert "Choose accounts and press Expand." in texts(at.caption)
    seeds = at.multiselect(key=f"expand_seeds_{NEW_RUN}_{top}").value
    assert seeds  # the strongest members by default
    next(b for b in at.get("form_submit_button") if b.proto.label == "Expand").click().run()
    assert not at.exception, [e.value for e in at.exception]
    context = expand_from_lake(fixture_lake.lake, seeds, hops=1)
    said = next(m.value for m in at.markdown if m.value.startswith("**Expanded: "))
    assert said.startswith(f"**Expanded: {context.n_nodes:,} nodes**") and "from the lake" in said
    assert "**Accounts outside this cluster** (" in " ".join(m.value for m in at.markdown)
    # every chosen account is named on the drawing, by its handle, in bold
    (chart,) = at.get("plotly_chart")
    named = {note["text"] for note in json.loads(chart.proto.spec)["layout"]["annotations"]}
    handles = dict(context.accounts.select("account_id", "account_name").iter_rows())
    assert {f"<b>{html(handles[a] or a)}</b>" for a in seeds} <= named
    # without Neo4j, the connection between two clusters says what it needs
    assert any("--neo4j" in c for c in texts(at.caption))


# --- places and dates -----------------------------------------------------------------
def test_places_and_dates_page_maps_the_calls_and_links_their_clusters(fixture_lake, monkeypatch):
    from rallypoint.dashboard.places import called, dates_of, places_of

    at = open_app(fixture_lake.lake, monkeypatch, "places", run=NEW_RUN)
    assert [t.value for t in at.title] == ["Places and dates"]
    clusters = pl.from_arrow(fixture_lake.lake.read_run_table(NEW_RUN, "clusters")).filter(pl.col("flagged"))
    places, dates = places_of(called(clusters)), dates_of(called(clusters))
    assert places.height and dates.height, "the fixture's flagged clusters name no place or date"
    located = places["lat"].is_not_null().sum()
    assert [s.value for s in at.subheader] == [f"Map ({located:,} of {places.height:,} places located)",
                                               f"Calendar ({dates.height:,} called days)"]
    assert len(at.get("plotly_chart")) == 2
    # the first place's clusters are linked, strongest first
    top = places.row(0, named=True)
    links = [shown(m.proto.label) for m in at.get("page_link")]
    strongest = clusters.filter(pl.col("cluster_id").is_in(top["clusters"])).sort("score", descending=True)
    assert any(label.startswith(f"Cluster {strongest['cluster_id'][0]}: score") for label in links), links
    shown_places = frame(at, "place", "clusters", "texts")
    assert shown_places["place"].tolist() == places["place"].to_list()


def test_accounts_outside_the_cluster_are_named_by_their_handle_in_the_lake(fixture_lake):
    from rallypoint.dashboard.data import account_names, interactions_version

    lake = fixture_lake.lake
    records = pl.concat([pl.read_parquet(f, columns=["account_id", "account_name"]) for f in lake.interaction_files()])
    named = records.filter(pl.col("account_name").is_not_null() & (pl.col("account_name") != "")).unique("account_id")
    chosen = named.head(3)
    found = account_names(str(lake.root), (*chosen["account_id"].to_list(), "no-such-account"),
                          interactions_version(lake))
    assert found == dict(chosen.iter_rows())  # each with its handle; an unknown id is left out, not invented
