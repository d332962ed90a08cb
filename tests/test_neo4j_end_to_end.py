"""simulate -> ingest --neo4j -> graph load -> detect --neo4j -> export, with the real commands and server.

The simulated world's ids are rewritten to carry a token unique to this test (ids, accounts,
mentions, URLs, hashtags, media, platform), so a shared Neo4j server keeps the test's data apart
and the test deletes exactly what it created.
"""

from __future__ import annotations

import json

import networkx as nx
import polars as pl
import pytest
from click.testing import CliRunner
from graph_fixtures import delete_token, expected_graph_counts, graph_counts, new_token

from rallypoint.cli import main
from rallypoint.lake import Lake
from rallypoint.neo4j.connection import Neo4jSettings

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


def tokenized_world(tmp_path, token: str):
    """A small simulated world whose every key carries ``token``, as JSON Lines."""
    from rallypoint.simulate import simulate_world

    simulate_world(tmp_path / "world", accounts=300, days=4, seed=3, records=6000)
    frame = pl.concat([pl.read_ndjson(p) for p in sorted((tmp_path / "world").glob("interactions-*.jsonl.gz"))],
                      how="diagonal_relaxed")
    prefix = pl.lit(f"{token}-")
    keyed = ["id", "account_id", "target_id", "target_account_id"]
    lists = [c for c in ("mentions", "urls", "hashtags", "media") if c in frame.columns]
    frame = frame.with_columns(
        *[(prefix + pl.col(c)).alias(c) for c in keyed if c in frame.columns],
        *[pl.col(c).list.eval(pl.lit(f"{token}-") + pl.element()).alias(c) for c in lists],
        pl.lit(f"{token}-net").alias("platform"),
    )
    # URLs stay URLs: the token goes into the host, so they keep a domain
    if "urls" in frame.columns:
        frame = frame.with_columns(pl.col("urls").list.eval(
            pl.element().str.replace(f"^{token}-https?://", f"https://{token}.")))
    source = tmp_path / "world-tokenized.jsonl"
    frame.write_ndjson(source)
    return source


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, neo4j_driver):
    driver = neo4j_driver
    tmp_path = tmp_path_factory.mktemp("e2e")
    token = new_token()
    source = tokenized_world(tmp_path, token)
    lake = tmp_path / "lake"
    runner = CliRunner()
    ingest = runner.invoke(main, ["ingest", str(source), "--lake", str(lake), "--neo4j", Neo4jSettings.resolve().uri])
    yield {"driver": driver, "token": token, "lake": Lake(lake), "runner": runner, "ingest": ingest,
           "tmp": tmp_path}
    delete_token(driver, token)


def test_ingest_with_neo4j_puts_exactly_the_lakes_records_in_the_graph(pipeline):
    assert pipeline["ingest"].exit_code == 0, pipeline["ingest"].output
    records = pipeline["lake"].read_interactions_table()
    assert len(records) > 1000
    assert graph_counts(pipeline["driver"], pipeline["token"]) == expected_graph_counts(records)


def test_graph_load_of_the_same_lake_changes_no_count(pipeline):
    before = graph_counts(pipeline["driver"], pipeline["token"])
    result = pipeline["runner"].invoke(main, ["graph", "load", "--lake", str(pipeline["lake"].root)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["nodes_created"] == 0 and summary["relationships_created"] == 0
    assert graph_counts(pipeline["driver"], pipeline["token"]) == before


def test_detect_with_neo4j_writes_the_runs_clusters_and_members(pipeline):
    result = pipeline["runner"].invoke(main, ["detect", "--lake", str(pipeline["lake"].root),
                                              "--neo4j", Neo4jSettings.resolve().uri])
    assert result.exit_code == 0, result.output
    lake = pipeline["lake"]
    run_id = lake.resolve_run("latest")
    clusters = lake.read_run_table(run_id, "clusters")
    members = lake.read_run_table(run_id, "members")
    edges = lake.read_run_table(run_id, "edges")
    assert len(clusters) > 0
    driver = pipeline["driver"]
    # the run id is not token-prefixed: clean its clusters up with the rest
    pipeline["run_id"] = run_id
    stored = driver.execute_query(
        "MATCH (c:Cluster {run_id: $r}) OPTIONAL MATCH (a:Account)-[m:MEMBER_OF]->(c) "
        "RETURN c.id AS id, c.score AS score, collect(a.id) AS members", r=run_id).records
    assert {r["id"]: r["score"] for r in stored} == dict(zip(clusters["cluster_id"].to_pylist(),
                                                             clusters["score"].to_pylist(), strict=True))
    by_cluster = {}
    for m in members.to_pylist():
        by_cluster.setdefault(m["cluster_id"], set()).add(m["account_id"])
    assert {r["id"]: set(r["members"]) for r in stored if r["members"]} == by_cluster
    n_edges = driver.execute_query("MATCH ()-[e:COORDINATED_WITH {run_id: $r}]->() RETURN count(e) AS n",
                                   r=run_id).records[0]["n"]
    assert n_edges == len(edges)
    driver.execute_query("MATCH (c:Cluster {run_id: $r}) DETACH DELETE c", r=run_id)
    driver.execute_query("MATCH ()-[e:COORDINATED_WITH {run_id: $r}]->() DELETE e", r=run_id)


@pytest.mark.parametrize("fmt, reader", [("graphml", nx.read_graphml), ("gexf", nx.read_gexf)])
def test_the_top_clusters_export_matches_the_run_tables(pipeline, fmt, reader):
    lake = pipeline["lake"]
    if not lake.run_ids():
        pipeline["runner"].invoke(main, ["detect", "--lake", str(lake.root)])
    out = pipeline["tmp"] / f"export-{fmt}"
    result = pipeline["runner"].invoke(main, ["export", "--lake", str(lake.root), "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    run_id = manifest["run_id"]
    clusters = lake.read_run_table(run_id, "clusters").to_pylist()
    top = max(clusters, key=lambda c: (c["score"], [-ord(ch) for ch in c["cluster_id"]]))
    assert manifest["cluster_id"] == top["cluster_id"]
    members = {m["account_id"] for m in lake.read_run_table(run_id, "members").to_pylist()
               if m["cluster_id"] == top["cluster_id"]}
    edges = {frozenset((e["account_a"], e["account_b"])) for e in lake.read_run_table(run_id, "edges").to_pylist()
             if e["account_a"] in members and e["account_b"] in members}
    graph = reader(out / f"subgraph.{fmt}")
    assert set(graph.nodes) == members
    assert {frozenset(e) for e in graph.edges} == edges
