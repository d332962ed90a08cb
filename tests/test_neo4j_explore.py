"""expand and shortest_connection (rallypoint.neo4j.explore) against a real server of the session's own.

The expected answers come from the records themselves: the property graph they name, built in
plain Python with networkx, searched breadth-first.
"""

from __future__ import annotations

import networkx as nx
import pytest
from graph_fixtures import build_small_lake, write_small_run

from rallypoint.errors import Neo4jError
from rallypoint.neo4j.connection import open_driver
from rallypoint.neo4j.explore import expand, shortest_connection
from rallypoint.neo4j.loaders import load_lake_into_neo4j
from rallypoint.neo4j.runs import write_run_to_neo4j

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

TARGETS = {"repost", "reply", "quote", "reaction"}


def property_graph(records) -> nx.Graph:
    """The records' property graph (rallypoint.neo4j's model), keyed as explore keys nodes, undirected."""
    graph = nx.Graph()
    for r in records.to_pylist():
        post = f"{r['platform']}:{r['id']}"
        graph.add_edge(r["account_id"], post)
        if r["target_id"]:
            target = f"{r['platform']}:{r['target_id']}"
            if r["action"] in TARGETS:
                graph.add_edge(post, target)
            if r["target_account_id"]:
                graph.add_edge(r["target_account_id"], target)
        for column, key in (("urls", "{}"), ("hashtags", "#{}"), ("mentions", "{}"), ("media", "media:{}")):
            for value in r[column] or []:
                if value:
                    graph.add_edge(post, key.format(value))
    return graph


@pytest.fixture(scope="module")
def explored(own_neo4j_server, tmp_path_factory):
    """A small world and a run of two clusters, in the session's own server (wiped first)."""
    world = build_small_lake(tmp_path_factory.mktemp("explore") / "lake")
    run_id = write_small_run(world.lake, world.token)
    with open_driver(own_neo4j_server.uri) as driver, driver.session() as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS").consume()
    load_lake_into_neo4j(world.lake.root, own_neo4j_server.uri)
    write_run_to_neo4j(world.lake.root, run_id, own_neo4j_server.uri)
    return world, run_id, own_neo4j_server.uri


def test_expand_holds_every_node_within_four_relationship_steps_per_hop(explored):
    world, _, uri = explored
    seed = f"{world.token}-acc003"
    graph = expand([seed], uri, hops=1)
    expected = set(nx.single_source_shortest_path_length(property_graph(world.records), seed, cutoff=4))
    assert set(graph.nodes) == expected
    assert not graph.graph["truncated"]
    assert [n for n, d in graph.nodes(data=True) if d["seed"]] == [seed]
    accounts = [n for n, d in graph.nodes(data=True) if d["labels"] == "Account"]
    assert len(accounts) > 1  # accounts that share something with the seed
    assert {d["kind"] for _, _, d in graph.edges(data=True)} <= {
        "POSTED", "REPOSTED", "REPLIED_TO", "QUOTED", "REACTED_TO", "LINKS_TO", "TAGGED", "MENTIONS", "ATTACHES"}


def test_expand_stops_at_its_cap_and_says_so(explored):
    world, _, uri = explored
    graph = expand([f"{world.token}-acc003", f"{world.token}-acc004"], uri, hops=2, max_nodes=25)
    assert len(graph) <= 25 and graph.graph["truncated"]
    assert expand(["nobody-at-all"], uri).number_of_nodes() == 0
    with pytest.raises(Neo4jError, match="hops"):
        expand([f"{world.token}-acc003"], uri, hops=9)


def test_shortest_connection_is_as_short_as_the_records_allow(explored):
    world, run_id, uri = explored
    graph = shortest_connection(run_id, "c1", "c2", uri)
    with open_driver(uri) as driver:
        members = {c: {r["a"] for r in driver.execute_query(
            "MATCH (a:Account)-[:MEMBER_OF]->(:Cluster {run_id: $run, id: $c}) RETURN a.id AS a",
            run=run_id, c=c).records} for c in ("c1", "c2")}
    records = property_graph(world.records)
    records.add_edges_from(("SOURCE", a) for a in members["c1"])
    records.add_edges_from((b, "SINK") for b in members["c2"])
    assert graph.graph["length"] == nx.shortest_path_length(records, "SOURCE", "SINK") - 2
    ends = [n for n, d in graph.nodes(data=True) if d.get("end")]
    assert len(ends) == 2 and {ends[0] in members["c1"], ends[1] in members["c1"]} == {True, False}
    assert nx.is_connected(nx.Graph(graph))
    assert graph.number_of_edges() == graph.graph["length"]


def test_the_dashboards_expand_reads_the_same_graph_from_neo4j(explored):
    from rallypoint.dashboard.expand import expand_from_neo4j

    world, _, uri = explored
    seed = f"{world.token}-acc003"
    graph = expand([seed], uri, hops=1)
    context = expand_from_neo4j(uri, [seed], hops=1)
    accounts = {n for n, d in graph.nodes(data=True) if d["labels"] == "Account"}
    assert context.source == "neo4j" and context.n_nodes == graph.number_of_nodes()
    assert set(context.accounts["account_id"]) == accounts and context.kinds["accounts"] == len(accounts)
    assert dict(zip(context.accounts["account_id"], context.accounts["hop"], strict=True))[seed] == 0
    assert context.edges.height > 0  # accounts that shared a post, link, hashtag or media with the seed
