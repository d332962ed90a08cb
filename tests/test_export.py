"""Exports from the lake: what a researcher opens must be the run's cluster, exactly."""

from __future__ import annotations

import csv
import hashlib
import json

import networkx as nx
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from graph_fixtures import build_small_lake, write_small_run

from rallypoint.cli import main
from rallypoint.errors import LakeError, RallypointError
from rallypoint.graph.export import export_subgraph, write_subgraph
from rallypoint.graph.pseudonymize import KEY_ENV, PseudonymKeyError
from rallypoint.graph.subgraph import cluster_subgraph, ego_network

KEY = "a-researchers-secret-key-0001"


@pytest.fixture
def world(tmp_path):
    w = build_small_lake(tmp_path / "lake")
    w.run_id = write_small_run(w.lake, w.token)
    return w


def run_cluster(world, cluster_id=None):
    """The top cluster (or the named one) straight from the run tables: members and inside edges."""
    clusters = world.lake.read_run_table(world.run_id, "clusters").to_pylist()
    if cluster_id is None:
        cluster_id = max(clusters, key=lambda c: c["score"])["cluster_id"]
    members = {m["account_id"]: m for m in world.lake.read_run_table(world.run_id, "members").to_pylist()
               if m["cluster_id"] == cluster_id}
    edges = {frozenset((e["account_a"], e["account_b"])): e
             for e in world.lake.read_run_table(world.run_id, "edges").to_pylist()
             if e["account_a"] in members and e["account_b"] in members}
    return cluster_id, members, edges


@pytest.mark.parametrize("fmt, reader", [("graphml", nx.read_graphml), ("gexf", nx.read_gexf)])
def test_the_top_cluster_reads_back_with_the_run_tables_nodes_and_edges(world, tmp_path, fmt, reader):
    manifest = export_subgraph(world.lake.root, fmt=fmt, out=tmp_path / "out")
    cluster_id, members, edges = run_cluster(world)
    graph = reader(tmp_path / "out" / f"subgraph.{fmt}")
    assert manifest["cluster_id"] == cluster_id
    assert set(graph.nodes) == set(members)
    assert {frozenset(e) for e in graph.edges} == set(edges)
    for a, b, data in graph.edges(data=True):
        assert float(data["weight"]) == edges[frozenset((a, b))]["weight"]
        assert data["types"] == ",".join(t["type"] for t in edges[frozenset((a, b))]["types"])
    for node, data in graph.nodes(data=True):
        assert data["role"] == members[node]["role"]
        assert data["high_profile"] is members[node]["high_profile"]


def test_graphml_attributes_are_typed_and_timestamps_readable(world, tmp_path):
    export_subgraph(world.lake.root, fmt="graphml", out=tmp_path / "out")
    text = (tmp_path / "out" / "subgraph.graphml").read_text()
    assert 'attr.name="followers" attr.type="long"' in text or 'attr.name="followers" attr.type="int"' in text
    assert 'attr.name="high_profile" attr.type="boolean"' in text
    assert 'attr.name="first_ts" attr.type="string"' in text
    graph = nx.read_graphml(tmp_path / "out" / "subgraph.graphml")
    first_ts = next(iter(graph.edges(data=True)))[2]["first_ts"]
    assert first_ts.endswith("Z") and first_ts[:4] == "2021" and "T" in first_ts


def test_a_named_cluster_is_exported_and_an_unknown_one_is_refused(world, tmp_path):
    _, members, edges = run_cluster(world, "c2")
    graph = cluster_subgraph(world.lake, world.run_id, "c2")
    assert set(graph.nodes) == set(members)
    assert graph.number_of_edges() == len(edges)
    with pytest.raises(LakeError, match="has no cluster 'nope'"):
        cluster_subgraph(world.lake, world.run_id, "nope")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_tables_and_manifest_agree_with_the_files(world, tmp_path, fmt):
    out = tmp_path / "out"
    manifest = export_subgraph(world.lake.root, run_id=world.run_id, fmt=fmt, out=out)
    _, members, edges = run_cluster(world)
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert on_disk["run_id"] == world.run_id
    assert on_disk["counts"] == {"nodes": len(members), "edges": len(edges)}
    for entry in on_disk["files"]:
        data = (out / entry["name"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    if fmt == "csv":
        with open(out / "edges.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    else:
        rows = pq.read_table(out / "edges.parquet").to_pylist()
        assert str(pq.read_schema(out / "edges.parquet").field("first_ts").type) == "timestamp[us, tz=UTC]"
    assert {frozenset((r["source"], r["target"])) for r in rows} == set(edges)
    assert sorted(int(r["weight"]) for r in rows) == sorted(e["weight"] for e in edges.values())


def test_pseudonymized_exports_hide_ids_names_and_key_but_stay_joinable(world, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    _, members, _ = run_cluster(world)
    first = export_subgraph(world.lake.root, fmt="csv", out=tmp_path / "a", pseudonymize=True)
    second = export_subgraph(world.lake.root, fmt="graphml", out=tmp_path / "b", pseudonymize=True)
    written = b"".join(p.read_bytes() for d in ("a", "b") for p in (tmp_path / d).iterdir())
    for account, member in members.items():
        assert account.encode() not in written
        assert member["account_name"].encode() not in written
    assert KEY.encode() not in written
    assert first["key_id"] == second["key_id"] and first["pseudonymized"]
    with open(tmp_path / "a" / "nodes.csv", newline="") as handle:
        csv_ids = {row["id"] for row in csv.DictReader(handle)}
    with open(tmp_path / "a" / "edges.csv", newline="") as handle:
        edge_ends = {end for row in csv.DictReader(handle) for end in (row["source"], row["target"])}
    assert edge_ends <= csv_ids
    assert set(nx.read_graphml(tmp_path / "b" / "subgraph.graphml").nodes) == csv_ids
    assert len(csv_ids) == len(members)


def test_another_key_gives_other_pseudonyms(world, tmp_path):
    graph = cluster_subgraph(world.lake, world.run_id)
    write_subgraph(graph, "csv", tmp_path / "a", key=KEY)
    write_subgraph(graph, "csv", tmp_path / "b", key=KEY + "-other")
    ids = [(tmp_path / d / "nodes.csv").read_text().splitlines()[1].split(",")[0] for d in ("a", "b")]
    assert ids[0] != ids[1]


def test_pseudonymizing_without_a_key_is_refused_before_writing(world, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(PseudonymKeyError, match=KEY_ENV):
        export_subgraph(world.lake.root, fmt="csv", out=tmp_path / "out", pseudonymize=True)
    assert not (tmp_path / "out").exists()


def interactions_of(world, account: str) -> dict[str, int]:
    """Records linking ``account`` to others (targets and mentions, both directions), in plain Python."""
    counts: dict[str, int] = {}
    for r in world.records.to_pylist():
        others = []
        if r["target_account_id"] and r["target_account_id"] != r["account_id"]:
            others.append((r["account_id"], r["target_account_id"]))
        others += [(r["account_id"], m) for m in (r["mentions"] or []) if m != r["account_id"]]
        for src, dst in others:
            if account in (src, dst):
                other = dst if src == account else src
                counts[other] = counts.get(other, 0) + 1
    return counts


def test_the_ego_network_from_the_lake_holds_every_interaction_of_the_account(world):
    account = f"{world.token}-acc001"
    expected = interactions_of(world, account)
    ego = ego_network(world.lake, account, hops=1)
    assert set(ego.neighbors(account)) == set(expected)
    assert {n: ego.edges[account, n]["interactions"] for n in ego.neighbors(account)} == expected
    assert ego.nodes[account]["ego"] is True


def test_hops_add_interaction_context_around_the_members(world):
    plain = cluster_subgraph(world.lake, world.run_id)
    wider = cluster_subgraph(world.lake, world.run_id, hops=1)
    context = set(wider.nodes) - set(plain.nodes)
    assert context, "the small world's members interact with outsiders"
    neighbours = set()
    for member in plain.nodes:
        neighbours |= set(interactions_of(world, member))
    assert context == neighbours - set(plain.nodes)
    assert all(wider.nodes[n]["member"] is False and wider.nodes[n]["role"] == "context" for n in context)
    for a, b in plain.edges:
        assert wider.edges[a, b]["kind"] == "coordination"


def test_export_command_writes_the_folder_and_prints_the_manifest(world, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["export", "--lake", str(world.lake.root), "--run", "latest",
                                       "--format", "gexf", "--out", str(out)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["files"][0]["name"] == "subgraph.gexf"
    assert (out / "manifest.json").exists()


def test_export_into_a_file_path_is_one_clear_error(world, tmp_path):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    with pytest.raises(RallypointError, match="is a file"):
        export_subgraph(world.lake.root, fmt="csv", out=target)
    assert target.read_text() == "keep me"
    result = CliRunner().invoke(main, ["export", "--lake", str(world.lake.root), "--format", "csv",
                                       "--out", str(target)])
    assert result.exit_code == 2 and result.output.count("\n") == 1


def test_a_zip_in_memory_holds_the_same_files_as_the_folder_export(world, tmp_path):
    import io
    import zipfile

    from rallypoint.graph.export import subgraph_zip

    graph = cluster_subgraph(world.lake, world.run_id)
    data, file_name = subgraph_zip(graph, "csv", name="c1")
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert file_name == "c1-csv.zip"
    assert sorted(archive.namelist()) == ["c1/edges.csv", "c1/manifest.json", "c1/nodes.csv"]
    manifest = json.loads(archive.read("c1/manifest.json"))
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(f"c1/{entry['name']}")).hexdigest() == entry["sha256"]
    assert manifest["counts"] == {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges()}
