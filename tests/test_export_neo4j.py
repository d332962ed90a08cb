"""Exports from Neo4j (--cypher) and ego networks from the graph, against the local server."""

from __future__ import annotations

import networkx as nx
import pytest
from click.testing import CliRunner
from graph_fixtures import build_small_lake, delete_token, write_small_run

from rallypoint.cli import main
from rallypoint.graph.export import WriteQueryRefused, export_subgraph
from rallypoint.graph.subgraph import cluster_subgraph, ego_network
from rallypoint.neo4j.connection import Neo4jSettings
from rallypoint.neo4j.loaders import load_lake_into_neo4j
from rallypoint.neo4j.runs import write_run_to_neo4j

pytestmark = pytest.mark.neo4j

CLUSTER_QUERY = """
MATCH (a:Account)-[m:MEMBER_OF]->(c:Cluster {run_id: $run_id, id: $cluster_id})
OPTIONAL MATCH (a)-[e:COORDINATED_WITH {run_id: $run_id}]->(b:Account)-[:MEMBER_OF]->(c)
RETURN a, m, c, e, b
"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, neo4j_driver):
    driver = neo4j_driver
    world = build_small_lake(tmp_path_factory.mktemp("neo4j-export") / "lake")
    world.run_id = write_small_run(world.lake, world.token)
    load_lake_into_neo4j(world.lake.root, None)
    write_run_to_neo4j(world.lake.root, world.run_id, None)
    yield world, driver
    delete_token(driver, world.token)


@pytest.mark.parametrize("fmt, reader", [("graphml", nx.read_graphml), ("gexf", nx.read_gexf)])
def test_a_cypher_export_of_a_cluster_matches_the_lake_export(loaded, tmp_path, fmt, reader):
    world, _ = loaded
    manifest = export_subgraph(world.lake.root, run_id=world.run_id, cluster_id="c1", fmt=fmt,
                               out=tmp_path / "out", cypher=CLUSTER_QUERY)
    from_graph = reader(tmp_path / "out" / f"subgraph.{fmt}")
    from_lake = cluster_subgraph(world.lake, world.run_id, "c1")
    accounts = {n for n, d in from_graph.nodes(data=True) if d.get("labels") == "Account"}
    assert accounts == set(from_lake.nodes)
    coordination = {frozenset((a, b)) for a, b, d in from_graph.edges(data=True) if d["kind"] == "COORDINATED_WITH"}
    assert coordination == {frozenset(e) for e in from_lake.edges}
    member_of = [d for *_, d in from_graph.edges(data=True) if d["kind"] == "MEMBER_OF"]
    assert sorted(d["role"] for d in member_of) == sorted(d["role"] for _, d in from_lake.nodes(data=True))
    assert manifest["parameters"]["source"] == "neo4j"


@pytest.mark.parametrize("query", [
    "MATCH (a:Account) WHERE a.id STARTS WITH $cluster_id SET a.tampered = true RETURN a",
    "CREATE (n:Tampered {id: $cluster_id}) RETURN n",
    "MATCH (a:Account) WHERE a.id STARTS WITH $cluster_id DETACH DELETE a",
])
def test_a_write_query_is_refused_and_writes_nothing(loaded, tmp_path, query):
    world, driver = loaded
    before = driver.execute_query("MATCH (a:Account) WHERE a.id STARTS WITH $t RETURN count(a) AS n, "
                                  "count(a.tampered) AS tampered", t=world.token).records[0]
    with pytest.raises(WriteQueryRefused, match="read-only"):
        export_subgraph(world.lake.root, run_id=world.run_id, cluster_id=world.token, fmt="csv",
                        out=tmp_path / "out", cypher=query)
    after = driver.execute_query("MATCH (a:Account) WHERE a.id STARTS WITH $t RETURN count(a) AS n, "
                                 "count(a.tampered) AS tampered", t=world.token).records[0]
    assert (after["n"], after["tampered"]) == (before["n"], 0)
    assert driver.execute_query("MATCH (n:Tampered) RETURN count(n) AS n").records[0]["n"] == 0
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_the_export_command_refuses_a_write_query_in_one_line(loaded, tmp_path):
    world, _ = loaded
    result = CliRunner().invoke(main, ["export", "--lake", str(world.lake.root), "--format", "csv",
                                       "--out", str(tmp_path / "out"), "--cypher", "CREATE (n:Tampered) RETURN n"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "read-only" in result.output


def test_the_ego_network_from_neo4j_equals_the_one_from_the_lake(loaded):
    world, _ = loaded
    account = f"{world.token}-acc002"
    for hops in (1, 2):
        from_lake = ego_network(world.lake, account, hops=hops)
        from_graph = ego_network(None, account, hops=hops, neo4j_uri=Neo4jSettings.resolve().uri)
        assert set(from_graph.nodes) == set(from_lake.nodes)
        assert {frozenset(e): d["interactions"] for *e, d in from_graph.edges(data=True)} == \
            {frozenset(e): d["interactions"] for *e, d in from_lake.edges(data=True)}


def test_a_pseudonymized_cypher_export_hides_account_and_post_ids(loaded, tmp_path):
    world, _ = loaded
    query = ("MATCH (a:Account)-[r:POSTED]->(p:Post) WHERE a.id STARTS WITH $cluster_id "
             "RETURN a, r, p LIMIT 50")
    manifest = export_subgraph(world.lake.root, cluster_id=world.token, fmt="graphml", out=tmp_path / "out",
                               cypher=query, pseudonymize=True, key="a-researchers-secret-key-0001")
    text = (tmp_path / "out" / "subgraph.graphml").read_text()
    assert manifest["counts"]["edges"] == 50
    assert f"{world.token}-acc" not in text and f"{world.token}-p0" not in text
    graph = nx.read_graphml(tmp_path / "out" / "subgraph.graphml")
    kinds = {n.split("_")[0] for n in graph.nodes}
    assert kinds == {"acct", "post"}
    for node, data in graph.nodes(data=True):
        assert data["native_id"].split("_")[0] == node.split("_")[0]
        if data["labels"] == "Account":
            assert data["native_id"] == node
