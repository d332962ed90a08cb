"""The two load paths (the server-side procedure and Cypher) against the real local server.

neo4j-local's server registers ``rallypoint.loadBatch``; these tests FAIL, never skip, when the
server cannot be reached. Each test's ids carry its own token (graph_fixtures) and are deleted
afterwards.
"""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from graph_fixtures import (
    assert_a_failed_load_rolls_back_its_batch_and_a_rerun_completes,
    build_small_lake,
    delete_token,
    expected_graph_counts,
    graph_counts,
    new_token,
)

from rallypoint.errors import Neo4jError
from rallypoint.lake import Lake, write_parquet_atomic
from rallypoint.neo4j.loaders import load_lake_into_neo4j

pytestmark = pytest.mark.neo4j

LOADERS = ("procedure", "cypher")


@pytest.mark.parametrize("loader", LOADERS)
def test_each_loader_gives_the_nodes_and_relationships_the_records_name(driver, neo4j_world, loader):
    summary = load_lake_into_neo4j(neo4j_world.lake.root, None, batch_size=64, loader=loader)
    expected = expected_graph_counts(neo4j_world.records)
    assert summary["loader"] == loader
    assert graph_counts(driver, neo4j_world.token) == expected
    assert summary["nodes_created"] == sum(expected[label] for label in ("Account", "Post", "Url", "Hashtag",
                                                                         "Media"))
    assert summary["relationships_created"] == sum(v for k, v in expected.items() if k.isupper())


@pytest.mark.parametrize(("first", "second"), [("procedure", "procedure"), ("cypher", "cypher"),
                                               ("cypher", "procedure"), ("procedure", "cypher")])
def test_a_second_load_by_either_loader_changes_nothing(driver, neo4j_world, first, second):
    load_lake_into_neo4j(neo4j_world.lake.root, None, batch_size=50, loader=first)
    before = graph_properties(driver, neo4j_world.token)
    again = load_lake_into_neo4j(neo4j_world.lake.root, None, batch_size=1000, loader=second)
    assert (again["nodes_created"], again["relationships_created"]) == (0, 0)
    assert graph_properties(driver, neo4j_world.token) == before


def test_a_second_load_by_the_procedure_writes_no_property(driver, neo4j_world, tmp_path):
    """Unchanged values are not rewritten: a re-load takes no node's exclusive lock for nothing.

    The world's follower counts change from record to record, and a re-load in batches does set
    an account's older count and then its newest again; here each account keeps one count, so
    the re-load finds every value in place.
    """
    records = neo4j_world.records
    steady = records.set_column(records.schema.get_field_index("followers"), "followers",
                                pc.utf8_length(records["account_id"]).cast(pa.int64()))
    lake = Lake(tmp_path / "steady").ensure()
    write_parquet_atomic(lake.interactions_dir / "date=2021-01-04" / "part-0.parquet", steady)
    first = load_lake_into_neo4j(lake.root, None, batch_size=50, loader="procedure")
    again = load_lake_into_neo4j(lake.root, None, batch_size=50, loader="procedure")
    assert first["properties_set"] > 0
    assert (again["nodes_created"], again["relationships_created"], again["properties_set"]) == (0, 0, 0)


def test_the_procedure_and_cypher_write_the_same_graph(driver, tmp_path):
    """The same records under two tokens, one loaded by each path: equal nodes, properties and relationships."""
    tokens = {loader: new_token() for loader in LOADERS}
    try:
        for loader, token in tokens.items():
            neo4j_world = build_small_lake(tmp_path / loader, token=token, seed=11)
            load_lake_into_neo4j(neo4j_world.lake.root, None, batch_size=37, loader=loader)
        by_procedure = graph_properties(driver, tokens["procedure"])
        assert by_procedure["nodes"] and by_procedure["relationships"]
        assert by_procedure == graph_properties(driver, tokens["cypher"])
    finally:
        for token in tokens.values():
            delete_token(driver, token)


@pytest.mark.parametrize("loader", LOADERS)
def test_account_properties_newest_non_null_wins_and_records_fill_in_stubs(driver, neo4j_world, loader, tmp_path):
    load_lake_into_neo4j(neo4j_world.lake.root, None, loader=loader)
    rows = neo4j_world.records.to_pylist()
    author = rows[0]
    stub = next(r for r in rows if r["target_id"] and r["target_id"].endswith(tuple(f"ext{i}" for i in range(20))))
    later = {**author, "id": f"{neo4j_world.token}-later", "timestamp": author["timestamp"] + timedelta(days=30),
             "action": "post", "target_id": None, "target_account_id": None, "mentions": None,
             "account_name": None, "high_profile": None, "followers": 4242, "urls": [], "hashtags": [], "media": []}
    filled = {**later, "id": stub["target_id"], "account_id": f"{neo4j_world.token}-acc001",
              "account_name": "Renamed", "followers": None, "channel_id": "chan-7"}
    more = Lake(tmp_path / "more").ensure()
    write_parquet_atomic(more.interactions_dir / "date=2021-02-10" / "part-0.parquet",
                         pa.Table.from_pylist([later, filled], schema=neo4j_world.records.schema))
    load_lake_into_neo4j(more.root, None, loader=loader)
    accounts = {r["a"]["id"]: dict(r["a"]) for r in driver.execute_query(
        "MATCH (a:Account) WHERE a.id IN $ids RETURN a", ids=[author["account_id"], filled["account_id"]]).records}
    assert accounts[author["account_id"]]["name"] == author["account_name"]  # a null name keeps the old one
    assert accounts[author["account_id"]]["followers"] == 4242
    assert accounts[author["account_id"]]["high_profile"] == author["high_profile"]
    assert accounts[filled["account_id"]]["name"] == "Renamed"
    post = driver.execute_query("MATCH (p:Post {platform: $p, id: $id}) RETURN p", p=neo4j_world.platform,
                                id=stub["target_id"]).records[0]["p"]
    assert post["channel_id"] == "chan-7" and post["action"] == "post"
    assert post["ts"].to_native() == filled["timestamp"]


def test_two_concurrent_procedure_writers_give_the_same_graph(driver, neo4j_world):
    first = load_lake_into_neo4j(neo4j_world.lake.root, None, batch_size=30, workers=2, loader="procedure")
    assert graph_counts(driver, neo4j_world.token) == expected_graph_counts(neo4j_world.records)
    again = load_lake_into_neo4j(neo4j_world.lake.root, None, batch_size=30, workers=2, loader="procedure")
    assert first["relationships_created"] > 0
    assert (again["nodes_created"], again["relationships_created"]) == (0, 0)


def test_auto_uses_the_procedure_of_the_local_server_and_falls_back_to_cypher(driver, neo4j_world, monkeypatch):
    import rallypoint.neo4j.loaders as store

    assert load_lake_into_neo4j(neo4j_world.lake.root, None, loader="auto")["loader"] == "procedure"
    monkeypatch.setattr(store, "has_load_procedure", lambda driver, database=None: False)
    assert load_lake_into_neo4j(neo4j_world.lake.root, None, loader="auto")["loader"] == "cypher"
    with pytest.raises(Neo4jError, match=r"no rallypoint\.loadBatch procedure .*--loader cypher\.$"):
        load_lake_into_neo4j(neo4j_world.lake.root, None, loader="procedure")
    with pytest.raises(Neo4jError, match="loader must be one of"):
        load_lake_into_neo4j(neo4j_world.lake.root, None, loader="fast")


def test_a_procedure_failure_in_mid_load_is_one_sentence_and_a_rerun_completes_the_graph(
        driver, neo4j_world, monkeypatch):
    import rallypoint.neo4j.loaders as store

    real = store.procedure_batch
    calls = []

    def failing_on_second_batch(tables):
        calls.append(1)
        batch = real(tables)
        if len(calls) == 2:
            batch["relationships"].append({"type": "POSTED", "start": "nowhere", "end": "posts",
                                           "src": [0], "dst": [0]})
        return batch

    assert_a_failed_load_rolls_back_its_batch_and_a_rerun_completes(
        driver, neo4j_world, "procedure", r"^Neo4j failed while writing a batch .*completes the rest\.$",
        lambda: monkeypatch.setattr(store, "procedure_batch", failing_on_second_batch),
        lambda: monkeypatch.setattr(store, "procedure_batch", real),
    )


# --- helpers ----------------------------------------------------------------------------
def graph_properties(driver, token: str) -> dict[str, list]:
    """Every node (labels, properties) and relationship (ends' keys, type, properties) of a token's
    data, with the token replaced, sorted: equal for equal graphs whatever their token."""

    def neutral(value):
        if isinstance(value, str):
            return value.replace(token, "TOKEN")
        if isinstance(value, list):
            return [neutral(v) for v in value]
        if hasattr(value, "iso_format"):  # neo4j.time.DateTime: the instant and its zone
            return f"{type(value).__name__}:{value.iso_format()}:{value.tzinfo}"
        return value

    def canonical(mapping) -> tuple:
        return tuple(sorted((k, repr(neutral(v))) for k, v in dict(mapping).items()))

    mine = ("(n.id STARTS WITH $t OR n.tag STARTS WITH $t OR n.hash STARTS WITH $t "
            "OR (n:Url AND n.url CONTAINS $t))")
    nodes = driver.execute_query(f"MATCH (n) WHERE {mine} "
                                 "RETURN labels(n) AS labels, properties(n) AS props", t=token).records
    rels = driver.execute_query(
        f"MATCH (n)-[r]->(m) WHERE {mine} RETURN labels(n) AS a, properties(n) AS ak, type(r) AS type, "
        "properties(r) AS props, labels(m) AS b, properties(m) AS bk", t=token).records
    return {
        "nodes": sorted((tuple(r["labels"]), canonical(r["props"])) for r in nodes),
        "relationships": sorted((tuple(r["a"]), canonical(r["ak"]), r["type"], canonical(r["props"]),
                                 tuple(r["b"]), canonical(r["bk"])) for r in rels),
    }


@pytest.mark.parametrize("loader", LOADERS)
def test_graph_load_command_takes_the_loader(driver, neo4j_world, loader):
    import json

    from click.testing import CliRunner

    from rallypoint.cli import main

    result = CliRunner().invoke(main, ["graph", "load", "--lake", str(neo4j_world.lake.root), "--loader", loader])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["loader"] == loader
    assert graph_counts(driver, neo4j_world.token) == expected_graph_counts(neo4j_world.records)
