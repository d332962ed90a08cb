"""The Neo4j store against the real local server (`make neo4j`).

These tests FAIL, never skip, when the server cannot be reached: CI starts it first. Each test
uses ids carrying its own token and deletes exactly those afterwards, so parallel runs on a
shared server do not interfere.
"""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner
from graph_fixtures import (
    RECORD_RELATIONSHIPS,
    assert_a_failed_load_rolls_back_its_batch_and_a_rerun_completes,
    expected_graph_counts,
    graph_counts,
    write_small_run,
)

from rallypoint.cli import main
from rallypoint.errors import Neo4jError
from rallypoint.neo4j.connection import open_driver
from rallypoint.neo4j.loaders import load_lake_into_neo4j
from rallypoint.neo4j.runs import write_run_to_neo4j

pytestmark = pytest.mark.neo4j

def test_loading_a_lake_gives_the_nodes_and_relationships_the_records_name(driver, neo4j_world):
    summary = load_lake_into_neo4j(neo4j_world.lake.root, None, batch_size=64)
    expected = expected_graph_counts(neo4j_world.records)
    assert graph_counts(driver, neo4j_world.token) == expected
    assert summary["records"] == len(neo4j_world.records)
    assert summary["relationships_created"] == sum(expected[r] for r in RECORD_RELATIONSHIPS)


def test_a_second_load_changes_nothing(driver, neo4j_world):
    load_lake_into_neo4j(neo4j_world.lake.root, None, batch_size=50)
    before = graph_counts(driver, neo4j_world.token)
    again = load_lake_into_neo4j(neo4j_world.lake.root, None, batch_size=1000)
    assert again["nodes_created"] == 0
    assert again["relationships_created"] == 0
    assert graph_counts(driver, neo4j_world.token) == before


def test_two_concurrent_writers_give_the_same_graph_and_a_second_load_changes_nothing(driver, neo4j_world):
    first = load_lake_into_neo4j(neo4j_world.lake.root, None, batch_size=40, workers=2)
    assert graph_counts(driver, neo4j_world.token) == expected_graph_counts(neo4j_world.records)
    again = load_lake_into_neo4j(neo4j_world.lake.root, None, batch_size=40, workers=2)
    assert first["relationships_created"] > 0
    assert (again["nodes_created"], again["relationships_created"]) == (0, 0)


def test_loading_files_one_at_a_time_gives_the_same_graph_as_the_whole_lake(driver, neo4j_world):
    for path in neo4j_world.lake.interaction_files():
        load_lake_into_neo4j(neo4j_world.lake.root, None, files=[path])
    assert graph_counts(driver, neo4j_world.token) == expected_graph_counts(neo4j_world.records)


def test_loaded_properties_match_the_records(driver, neo4j_world):
    load_lake_into_neo4j(neo4j_world.lake.root, None)
    first = neo4j_world.records.slice(0, 1).to_pylist()[0]
    post = driver.execute_query(
        "MATCH (a:Account)-[:POSTED]->(p:Post {platform: $platform, id: $id}) RETURN a, p",
        platform=first["platform"], id=first["id"]).records[0]
    assert post["a"]["id"] == first["account_id"]
    assert post["a"]["name"] == first["account_name"]
    assert post["p"]["ts"].to_native() == first["timestamp"]
    urls = driver.execute_query("MATCH (u:Url) WHERE u.url CONTAINS $token RETURN DISTINCT u.domain AS d",
                                token=neo4j_world.token).records
    assert {r["d"] for r in urls} == {f"{neo4j_world.token}.example"}


def test_uniqueness_constraints_cover_every_node_key(driver, neo4j_world):
    load_lake_into_neo4j(neo4j_world.lake.root, None)
    rows = driver.execute_query("SHOW CONSTRAINTS YIELD labelsOrTypes, properties, type").records
    unique = {(r["labelsOrTypes"][0], tuple(r["properties"])) for r in rows if "UNIQUENESS" in r["type"]}
    assert {("Account", ("id",)), ("Post", ("platform", "id")), ("Url", ("url",)), ("Hashtag", ("tag",)),
            ("Media", ("hash",)), ("Cluster", ("run_id", "id"))} <= unique


def run_counts(driver, run_id: str) -> dict[str, int]:
    return {
        "clusters": driver.execute_query("MATCH (c:Cluster {run_id: $r}) RETURN count(c) AS c",
                                         r=run_id).records[0]["c"],
        "members": driver.execute_query("MATCH (:Account)-[m:MEMBER_OF]->(:Cluster {run_id: $r}) "
                                        "RETURN count(m) AS c", r=run_id).records[0]["c"],
        "edges": driver.execute_query("MATCH ()-[e:COORDINATED_WITH {run_id: $r}]->() RETURN count(e) AS c",
                                      r=run_id).records[0]["c"],
    }


def test_a_runs_clusters_memberships_and_edges_are_in_the_graph(driver, neo4j_world):
    load_lake_into_neo4j(neo4j_world.lake.root, None)
    run_id = write_small_run(neo4j_world.lake, neo4j_world.token)
    summary = write_run_to_neo4j(neo4j_world.lake.root, "latest", None)
    assert summary["run_id"] == run_id
    clusters = neo4j_world.lake.read_run_table(run_id, "clusters")
    members = neo4j_world.lake.read_run_table(run_id, "members")
    edges = neo4j_world.lake.read_run_table(run_id, "edges")
    assert run_counts(driver, run_id) == {"clusters": len(clusters), "members": len(members),
                                          "edges": len(edges)}
    top = driver.execute_query(
        "MATCH (a:Account)-[m:MEMBER_OF]->(c:Cluster {run_id: $r}) WITH c, collect(a.id) AS ids, "
        "collect(m.role) AS roles RETURN c.id AS id, c.score AS score, ids, roles ORDER BY score DESC LIMIT 1",
        r=run_id).records[0]
    top_members = [m for m in members.to_pylist() if m["cluster_id"] == top["id"]]
    assert sorted(top["ids"]) == sorted(m["account_id"] for m in top_members)
    assert sorted(top["roles"]) == sorted(m["role"] for m in top_members)
    assert top["score"] == max(clusters["score"].to_pylist())
    edge = edges.slice(0, 1).to_pylist()[0]
    stored = driver.execute_query(
        "MATCH (:Account {id: $a})-[e:COORDINATED_WITH {run_id: $r}]->(:Account {id: $b}) RETURN e",
        a=edge["account_a"], b=edge["account_b"], r=run_id).records[0]["e"]
    assert stored["weight"] == edge["weight"]
    assert stored["types"] == [t["type"] for t in edge["types"]]


def test_rewriting_a_run_replaces_it_and_leaves_other_runs_alone(driver, neo4j_world):
    first = write_small_run(neo4j_world.lake, neo4j_world.token, run_id=f"{neo4j_world.token}-run-a", seed=1)
    write_run_to_neo4j(neo4j_world.lake.root, first, None)
    first_counts = run_counts(driver, first)
    second = write_small_run(neo4j_world.lake, neo4j_world.token, run_id=f"{neo4j_world.token}-run-b", seed=2)
    write_run_to_neo4j(neo4j_world.lake.root, second, None)
    again = write_run_to_neo4j(neo4j_world.lake.root, second, None)
    assert again["replaced_clusters"] == 2
    assert run_counts(driver, first) == first_counts
    assert run_counts(driver, second) == {
        "clusters": 2,
        "members": len(neo4j_world.lake.read_run_table(second, "members")),
        "edges": len(neo4j_world.lake.read_run_table(second, "edges")),
    }


def free_port() -> int:
    """A port on which nothing listens (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("uri", ["http//127.0.0.1:7687", "mysql://127.0.0.1:7687", "127.0.0.1:7687"])
def test_a_bad_uri_gives_one_clear_sentence(uri):
    with pytest.raises(Neo4jError, match=r"^The Neo4j URI .* is not valid; use bolt://") as info:
        open_driver(uri)
    assert "\n" not in str(info.value)


def test_a_wrong_password_gives_one_clear_sentence(driver):
    with pytest.raises(Neo4jError, match="wrong user or password") as info:
        open_driver(None, "neo4j", "certainly-not-the-password")
    assert "\n" not in str(info.value)


def test_a_stopped_server_gives_one_clear_sentence():
    uri = f"bolt://127.0.0.1:{free_port()}"
    with pytest.raises(Neo4jError, match=r"^Cannot reach Neo4j at .*make neo4j") as info:
        open_driver(uri)
    assert "\n" not in str(info.value)


def test_graph_load_command_reports_a_wrong_password_in_one_line_and_exit_2(neo4j_world):
    result = CliRunner().invoke(main, ["graph", "load", "--lake", str(neo4j_world.lake.root)],
                                env={"NEO4J_PASSWORD": "certainly-not-the-password"})
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "wrong user or password" in result.output


def test_graph_load_command_loads_the_lake(driver, neo4j_world):
    result = CliRunner().invoke(main, ["graph", "load", "--lake", str(neo4j_world.lake.root), "--batch-size", "100"])
    assert result.exit_code == 0, result.output
    assert graph_counts(driver, neo4j_world.token) == expected_graph_counts(neo4j_world.records)


def test_a_cypher_failure_in_mid_load_is_one_sentence_and_a_rerun_completes_the_graph(driver, neo4j_world, monkeypatch):
    import rallypoint.neo4j.loaders as store

    real = store.relationship_statements
    calls = []

    def failing_on_second_batch(tables, ids):
        calls.append(1)
        statements = real(tables, ids)
        return statements + [("THIS IS NOT CYPHER $rows", {"rows": [1]})] if len(calls) == 2 else statements

    assert_a_failed_load_rolls_back_its_batch_and_a_rerun_completes(
        driver, neo4j_world, "cypher", r"^Neo4j failed while writing relationships .*completes the rest\.$",
        lambda: monkeypatch.setattr(store, "relationship_statements", failing_on_second_batch),
        lambda: monkeypatch.setattr(store, "relationship_statements", real),
    )


def test_the_default_uri_is_the_local_server_of_neo4j_local_settings(monkeypatch):
    from rallypoint.neo4j.connection import Neo4jSettings

    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.setenv("NEO4J_LOCAL_PORT", "7699")
    monkeypatch.delenv("NEO4J_LOCAL_HOST", raising=False)
    assert Neo4jSettings.resolve().uri == "bolt://127.0.0.1:7699"
    monkeypatch.setenv("NEO4J_URI", "neo4j://graph.example:7000")
    assert Neo4jSettings.resolve().uri == "neo4j://graph.example:7000"
    assert Neo4jSettings.resolve("bolt://elsewhere:1").uri == "bolt://elsewhere:1"
