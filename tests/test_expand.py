"""Expand from the lake (rallypoint.dashboard.expand) against a plain-Python reading of the records,
and the Neo4j graph's conversion to the same touches."""

from __future__ import annotations

import networkx as nx
import polars as pl
import pytest
from graph_fixtures import build_small_lake

from rallypoint.dashboard.expand import expand_from_lake, project, touches_from_graph
from rallypoint.errors import RallypointError


def objects_of(records) -> dict[str, set[str]]:
    """Each account's objects, read record by record: the definition the module implements."""
    touched: dict[str, set[str]] = {}
    for r in records.to_pylist():
        mine = touched.setdefault(r["account_id"], set())
        mine.update({r["account_id"], f"{r['platform']}:{r['id']}"})
        if r["target_id"]:
            mine.add(f"{r['platform']}:{r['target_id']}")
            if r["target_account_id"]:
                touched.setdefault(r["target_account_id"], set()).add(f"{r['platform']}:{r['target_id']}")
        mine.update(r["urls"] or [])
        mine.update(f"#{t.lower()}" for t in r["hashtags"] or [])
        mine.update(f"media:{m}" for m in r["media"] or [])
        for other in r["mentions"] or []:  # a mentioned account is the object, and touches itself
            mine.add(other)
            touched.setdefault(other, set()).add(other)
    return touched


def within(touched: dict[str, set[str]], seeds: set[str], hops: int) -> set[str]:
    found, frontier = set(seeds), set(seeds)
    for _ in range(hops):
        keys = set().union(*(touched.get(a, set()) for a in frontier))
        frontier = {a for a, objs in touched.items() if a not in found and objs & keys}
        found |= frontier
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_small_lake(tmp_path_factory.mktemp("expand") / "lake", n_accounts=60, n_records=90, seed=5)


@pytest.mark.parametrize("hops", [1, 2])
def test_expand_from_the_lake_finds_every_account_sharing_an_object_hop_by_hop(world, hops):
    touched = objects_of(world.records)
    seed = f"{world.token}-acc003"
    context = expand_from_lake(world.lake, [seed], hops=hops, max_nodes=100_000)
    expected = within(touched, {seed}, hops)
    assert set(context.accounts["account_id"]) == expected
    assert 1 < len(expected) < len(touched)  # the test world is neither empty nor one blob
    assert not context.truncated
    assert dict(zip(context.accounts["account_id"], context.accounts["hop"], strict=True))[seed] == 0
    # the node count: the accounts and the objects on the paths from the seeds (those of the accounts
    # before the last hop) that at least two of them touched; a mention joins accounts without a node
    hop = dict(zip(context.accounts["account_id"], context.accounts["hop"], strict=True))
    inner = set().union(*(touched[a] for a in expected if hop[a] < hops)) - set(touched)
    joining = {k for k in inner if sum(k in touched[a] for a in expected) >= 2}
    assert context.n_nodes == len(expected) + len(joining)
    # every drawn pair shares at least that many objects
    for a, b, w in context.edges.select("account_a", "account_b", "weight").iter_rows():
        assert 1 <= w <= len(touched[a] & touched[b])


def test_expand_stops_at_its_cap_and_says_so(world):
    seed = f"{world.token}-acc003"
    full = expand_from_lake(world.lake, [seed], hops=2, max_nodes=100_000)
    capped = expand_from_lake(world.lake, [seed], hops=2, max_nodes=full.n_nodes // 2)
    assert capped.truncated and capped.n_nodes <= full.n_nodes // 2
    assert set(capped.accounts["account_id"]) < set(full.accounts["account_id"])
    assert expand_from_lake(world.lake, ["nobody-at-all"]).n_accounts == 0
    with pytest.raises(RallypointError, match="hops"):
        expand_from_lake(world.lake, [seed], hops=9)
    with pytest.raises(RallypointError, match="at least one account"):
        expand_from_lake(world.lake, [])


def test_neo4j_graph_becomes_the_same_touches():
    """explore.expand's shape: accounts POSTED posts; posts REPOSTED, LINKS_TO, TAGGED, MENTIONS."""
    g = nx.MultiDiGraph()
    for account, post in (("a", "x:1"), ("b", "x:2"), ("c", "x:3"), ("d", "x:4"), ("e", "x:9")):
        g.add_edge(account, post, kind="POSTED")
    g.add_edge("x:1", "x:9", kind="REPOSTED")
    g.add_edge("x:2", "x:9", kind="REPLIED_TO")
    g.add_edge("x:3", "https://a.example/", kind="LINKS_TO")
    g.add_edge("x:4", "https://a.example/", kind="LINKS_TO")
    g.add_edge("x:4", "a", kind="MENTIONS")
    edges = project(touches_from_graph(g))
    pairs = {(a, b): (w, t) for a, b, w, t in edges.select("account_a", "account_b", "weight", "main_type").iter_rows()}
    assert pairs[("a", "b")] == (1, "shared post") and pairs[("a", "e")] == (1, "shared post")
    assert pairs[("c", "d")] == (1, "shared link")
    assert pairs[("a", "d")][1] == "mention"
    assert ("a", "c") not in pairs


def test_an_account_without_an_edge_shares_only_objects_too_wide_to_draw_as_pairs(tmp_path):
    """What the Expand picture says of the accounts in its ring (``expand_section.ALONE_NOUN``), on a
    world where some objects are shared by more accounts than are drawn as pairs."""
    from rallypoint.dashboard.expand import MAX_PAIRS_PER_OBJECT
    from rallypoint.dashboard.network import edgeless
    from rallypoint.dashboard.views.expand_section import ALONE_NOUN

    crowd = build_small_lake(tmp_path / "lake", n_accounts=150, n_records=600, seed=5)
    touched = objects_of(crowd.records)
    context = expand_from_lake(crowd.lake, [f"{crowd.token}-acc003"], hops=1, max_nodes=100_000)
    accounts = set(context.accounts["account_id"])
    alone, words = edgeless(context.accounts, context.edges, ALONE_NOUN)
    assert 0 < alone.sum() < len(accounts)
    hop = dict(zip(context.accounts["account_id"], context.accounts["hop"], strict=True))
    # the objects that join the context: those of the accounts before its last hop
    inner = set().union(*(touched[a] for a in accounts if hop[a] < 1)) - set(touched)
    for account in context.accounts.filter(pl.Series(alone))["account_id"]:
        for key in (touched[account] & inner) - {account}:
            sharers = sum(key in touched[other] for other in accounts)
            assert sharers == 1 or sharers > MAX_PAIRS_PER_OBJECT, (account, key, sharers)
    assert words.endswith(f"more than {MAX_PAIRS_PER_OBJECT} sharers (drawn as no pair)")
