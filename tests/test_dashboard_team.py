"""Team work in the pages: assigning a cluster, comment threads, "my queue" (AppTest, signed in)."""

from __future__ import annotations

import pytest
from dashboard_fixtures import NEW_RUN, write_fixture_lake
from test_dashboard_app import PASSWORD, card_ids, card_titles, open_app, texts

from rallypoint.dashboard.accounts import AccountStore
from rallypoint.dashboard.triage import TriageStore


@pytest.fixture
def lake(tmp_path):
    fixture = write_fixture_lake(tmp_path / "lake")
    AccountStore(fixture.lake.triage_path).add_user("bo", "analyst", PASSWORD, "cli:root")
    AccountStore(fixture.lake.triage_path).add_user("vi", "viewer", PASSWORD, "cli:root")
    return fixture


def test_an_analyst_assigns_a_cluster_and_it_shows_in_the_assignees_queue(lake, monkeypatch):
    cluster = lake.clusters["mobilization"][1]
    at = open_app(lake.lake, monkeypatch, "cluster", role="analyst", run=NEW_RUN, cluster=cluster)
    assert at.selectbox(key="assign_to").options == ["nobody (unassign)", "analyst-1", "bo"]  # no viewers
    at.selectbox(key="assign_to").set_value("bo")
    next(b for b in at.get("form_submit_button") if b.label == "Assign").click().run()
    assert "Assigned to bo." in texts(at.success)
    assert any(t.startswith("bo (by analyst-1 at ") for t in texts(at.caption))
    events = TriageStore(lake.lake.triage_path).events(("assign",))
    assert events.select("run_id", "subject", "actor").rows() == [(NEW_RUN, cluster, "analyst-1")]

    monkeypatch.setattr("rallypoint.dashboard.session.session_token",
                        lambda token=AccountStore(lake.lake.triage_path).sign_in("bo", PASSWORD, "a"): token)
    queue = open_app(lake.lake, monkeypatch)
    assert len(card_ids(queue)) > 1
    queue.checkbox(key="mine").check().run()
    assert card_ids(queue) == [cluster]
    assert "Assigned to: bo" in card_titles(queue)[0].split("\n")


def test_comments_form_a_thread_with_their_authors_and_viewers_only_read_it(lake, monkeypatch):
    cluster = lake.clusters["mobilization"][0]
    at = open_app(lake.lake, monkeypatch, "cluster", role="analyst", run=NEW_RUN, cluster=cluster)
    for text in ("Buses named in three posts.", "[phish](http://evil.example) :red[x]"):
        at.text_area(key="comment_text").input(text)
        next(b for b in at.get("form_submit_button") if b.label == "Post comment").click().run()
    assert "**Comments** (2)" in texts(at.markdown)
    shown = texts(at.markdown)
    assert shown.index("Buses named in three posts.") < shown.index("[phish](http://evil.example) :red[x]")
    assert sum(t.startswith("analyst-1 (analyst) · ") for t in texts(at.caption)) == 2

    monkeypatch.setattr("rallypoint.dashboard.session.session_token",
                        lambda token=AccountStore(lake.lake.triage_path).sign_in("vi", PASSWORD, "a"): token)
    viewer = open_app(lake.lake, monkeypatch, "cluster", run=NEW_RUN, cluster=cluster)
    assert "Buses named in three posts." in texts(viewer.markdown)
    assert not [f for f in viewer.get("form_submit_button")] and not viewer.text_area
    assert TriageStore(lake.lake.triage_path).verify().ok
