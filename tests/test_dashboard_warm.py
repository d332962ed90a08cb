"""The server's warm-up: what it prepares is what the pages then read, without computing it again."""

from __future__ import annotations

import gc

import polars as pl
import pytest
from dashboard_fixtures import NEW_RUN, OLD_RUN, write_fixture_lake

from rallypoint.dashboard import cluster_network as networks
from rallypoint.dashboard import cluster_timeline, data, warm
from rallypoint.dashboard.data import run_version
from rallypoint.dashboard.network_picture import PICTURE_ABOVE
from rallypoint.dashboard.structure import structure
from rallypoint.dashboard.views import expand_section


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """The fixture lake with one cluster drawn as a picture and more clusters than the warm-up lays out."""
    fixture = write_fixture_lake(tmp_path_factory.mktemp("warm"), big_cluster=PICTURE_ABOVE + 20, n_filler=4)
    return fixture.lake


@pytest.fixture
def serving(monkeypatch):
    """As in a running server, whose warm-up was started (warm.start), with nothing warmed yet."""
    monkeypatch.setattr(warm, "_serving", type(warm._serving)())
    warm._serving.set()
    monkeypatch.setattr(warm, "_warmed", set())


def _by_size(lake) -> list[tuple[str, int]]:
    clusters = pl.from_arrow(lake.read_run_table(NEW_RUN, "clusters")).sort("n_accounts", descending=True)
    return list(clusters.select("cluster_id", "n_accounts").iter_rows())


def test_the_warmed_networks_are_the_ones_the_page_reads_without_laying_them_out_again(lake, serving, monkeypatch):
    root = str(lake.root)
    by_size = _by_size(lake)
    assert len(by_size) > warm.WARM_NETWORKS and by_size[0][1] > PICTURE_ABOVE
    gc.unfreeze()
    assert warm.warm_run(root, NEW_RUN, background=False) is None
    # what it built (modules, tables, networks) is out of the collector's rounds after every script run
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    laid_out = []
    monkeypatch.setattr(networks, "structure", lambda *a, **k: laid_out.append(a) or structure(*a, **k))
    version = run_version(lake, NEW_RUN)
    for cluster_id, n_accounts in by_size[: warm.WARM_NETWORKS]:
        network = networks.cluster_network(root, NEW_RUN, cluster_id, version)
        assert network.members.height == n_accounts
        if n_accounts > PICTURE_ABOVE:
            assert networks.cluster_picture(root, NEW_RUN, cluster_id, version).accounts.size == n_accounts
    assert laid_out == []  # every one came from the caches the warm-up filled
    # and so did the largest clusters' actions, as the timeline tab asks for them
    monkeypatch.setattr(data.ds, "dataset", lambda *a, **k: pytest.fail("the lake was scanned again"))
    members = networks.cluster_network(root, NEW_RUN, by_size[0][0], version).members["account_id"]
    actions = data.interactions_of(root, tuple(members.to_list()), data.interactions_version(lake))
    assert actions.height and set(actions["account_id"]) <= set(members)
    # and the timeline tab's picture of each (drawn again it would fail here)
    monkeypatch.setattr(cluster_timeline, "timeline_picture", lambda *a: pytest.fail("the timeline was drawn again"))
    for cluster_id, _ in by_size[: warm.WARM_NETWORKS]:
        ids = networks.cluster_network(root, NEW_RUN, cluster_id, version).members["account_id"]
        png = cluster_timeline.cluster_timeline_picture(root, NEW_RUN, cluster_id, tuple(ids.to_list()), version,
                                                        data.interactions_version(lake))
        assert png.startswith(b"\x89PNG")
    # and the Expand tab's default request of the largest ones: expanded or laid out again it would fail here
    monkeypatch.setattr(expand_section, "expand_from_lake", lambda *a, **k: pytest.fail("expanded again"))
    monkeypatch.setattr(expand_section, "structure", lambda *a, **k: pytest.fail("the context was laid out again"))
    for cluster_id, _ in by_size[: warm.WARM_EXPANDS]:
        members = networks.cluster_network(root, NEW_RUN, cluster_id, version).members
        expand_section.prepare_default(root, NEW_RUN, cluster_id, members)
    with pytest.raises(pytest.fail.Exception, match="expanded again"):
        expand_section.prepare_default(root, NEW_RUN, by_size[warm.WARM_EXPANDS][0], networks.cluster_network(
            root, NEW_RUN, by_size[warm.WARM_EXPANDS][0], version).members)
    smallest = by_size[-1][0]  # beyond the warmed ones: laid out on its first view
    networks.cluster_network(root, NEW_RUN, smallest, version)
    assert len(laid_out) == 1


def test_a_run_is_warmed_once_per_version_and_only_in_a_serving_dashboard(lake, monkeypatch):
    root = str(lake.root)
    started = []
    monkeypatch.setattr(warm, "_warm_run", lambda *a: started.append(a))
    monkeypatch.setattr(warm, "_warmed", set())
    assert warm.warm_run(root, OLD_RUN, background=False) is None and started == []  # no server: nothing
    warm._serving.set()
    try:
        warm.warm_run(root, OLD_RUN, background=False)
        warm.warm_run(root, OLD_RUN, background=False)
        thread = warm.warm_run(root, NEW_RUN)
        thread.join(10)
    finally:
        warm._serving.clear()
    assert started == [(root, OLD_RUN), (root, NEW_RUN)]


def test_the_warm_up_imports_the_libraries_never_a_page_or_a_script():
    names = warm.dashboard_modules()
    assert "rallypoint.dashboard.cluster_network" in names and "rallypoint.dashboard.data" in names
    # a page imports its Streamlit components, which register only inside a page run
    assert not [n for n in names if n.endswith("_page") or n.rsplit(".", 1)[1] in warm.SCRIPTS]
