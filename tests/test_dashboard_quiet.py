"""The dashboard's view of clusters without harm evidence, and promoting a learned term from a cluster page."""

from __future__ import annotations

import polars as pl
import pytest
from dashboard_fixtures import simulated_lake
from test_dashboard import _clusters
from test_dashboard_app import card_ids, open_app

from rallypoint.dashboard.queue import QueueFilters, filter_queue
from rallypoint.detectors import promoted
from rallypoint.lake import Lake


def test_the_no_harm_view_lists_unflagged_clusters_without_harm_by_order_score():
    clusters = _clusters(80, seed=5).with_columns(
        harm_score=pl.Series([0.0 if i % 3 else 0.4 for i in range(80)]),
        order_score=pl.Series([((i * 37) % 80) / 80 for i in range(80)]))
    # as in a run: no harm evidence, score 0 (coordination is its multiplier, never its substitute)
    clusters = clusters.with_columns(score=pl.when(pl.col("harm_score") == 0).then(0.0).otherwise(pl.col("score")),
                                     flagged=(pl.col("harm_score") > 0) & pl.col("flagged"))
    got = filter_queue(clusters, QueueFilters(view="no_harm"))
    expected = clusters.filter(~pl.col("flagged") & (pl.col("harm_score") == 0))
    assert set(got["cluster_id"]) == set(expected["cluster_id"]) and got.height > 0
    assert got["order_score"].is_sorted(descending=True)  # every score here is ranked after the score
    assert not got["flagged"].any()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return simulated_lake(tmp_path_factory.mktemp("quiet"), accounts=1500, days=14, seed=11)


def test_the_queue_view_switches_to_coordinated_clusters_without_harm(world, monkeypatch):
    lake = Lake(world["lake"])
    run_id = lake.resolve_run("latest")
    clusters = pl.from_arrow(lake.read_run_table(run_id, "clusters"))
    at = open_app(lake, monkeypatch, role="viewer")
    at.radio(key="view").set_value("no_harm").run()
    no_harm = clusters.filter(~pl.col("flagged") & (pl.col("harm_score") == 0)).sort(
        ["score", "order_score", "n_accounts"], descending=True)
    assert no_harm.height > 0
    assert card_ids(at) == no_harm["cluster_id"].to_list()[:10]


def test_a_learned_term_is_promoted_from_its_cluster_page(world, monkeypatch):
    lake = Lake(world["lake"])
    run_id = lake.resolve_run("latest")
    terms = pl.from_arrow(lake.read_run_table(run_id, "terms"))
    assert terms.height > 0
    teacher = terms["clusters"][0][0]
    at = open_app(lake, monkeypatch, "cluster", role="analyst", run=run_id, cluster=teacher)
    at.selectbox(key="promote_term_choice").set_value(terms["term"][0])
    at.button[[b.label for b in at.button].index("Promote into the lexicon")].click().run()
    assert not at.exception
    state = promoted.version(lake)
    assert state["version"] == 1 and state["terms"] == {"code_word": [terms["term"][0]]}
    assert any("lexicon version 1" in s.value for s in at.success)
    history = (promoted.promoted_path(lake).parent / promoted.HISTORY).read_text("utf-8")
    assert "analyst-1" in history, "the signed-in user is recorded, not a typed name"


def test_a_viewer_cannot_promote_a_term(world, monkeypatch):
    lake = Lake(world["lake"])
    run_id = lake.resolve_run("latest")
    teacher = pl.from_arrow(lake.read_run_table(run_id, "terms"))["clusters"][0][0]
    at = open_app(lake, monkeypatch, "cluster", role="viewer", run=run_id, cluster=teacher)
    assert "Promote into the lexicon" not in [b.label for b in at.button]
