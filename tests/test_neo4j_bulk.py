"""The bulk route (``rallypoint.neo4j.bulk``) against a real Neo4j server of its own.

The bulk route stops, replaces and restarts the server's database, so these tests never use the
shared server (``make neo4j``): they use ``own_neo4j_server`` (conftest.py), a neo4j-local
server of the test session's own. They FAIL, never skip, when it cannot start.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner
from graph_fixtures import NODE_LABELS, RECORD_RELATIONSHIPS, build_small_lake, expected_graph_counts

from rallypoint.cli import main
from rallypoint.errors import Neo4jError
from rallypoint.lake import Lake, write_parquet_atomic
from rallypoint.neo4j import bulk as neo4j_bulk
from rallypoint.neo4j.bulk import LocalServer, bulk_load, write_import_csv
from rallypoint.neo4j.connection import open_driver
from rallypoint.neo4j.loaders import load_lake_into_neo4j

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

#: Names the accounts under investigation choose: quotes, separators, line breaks, backslashes.
HOSTILE_NAMES = ['say "hi", then leave', "two\nlines\r\nand CR", "back\\slash\\", "", ";|:ID(Post)", "ünï ✊ 𝔵"]


@pytest.fixture
def server(own_neo4j_server):
    return own_neo4j_server


@pytest.fixture
def driver(server):
    with open_driver(server.uri) as driver:
        yield driver


def _wipe(driver) -> None:
    with driver.session() as session:  # CALL ... IN TRANSACTIONS needs an implicit transaction
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS").consume()


def _lakes(root: Path):
    """Lake A (the first day), lake AB (both days; the second day's file is B), records hostile in places."""
    world = build_small_lake(root / "world", n_records=240)
    records = world.records
    accounts = sorted(set(records["account_id"].to_pylist()))
    hostile = dict(zip(accounts, HOSTILE_NAMES, strict=False))  # the first accounts by id take them
    names = pa.array([None if i % 9 == 0 else hostile.get(account, name) for i, (account, name) in enumerate(
        zip(records["account_id"].to_pylist(), records["account_name"].to_pylist(), strict=True))], pa.string())
    records = records.set_column(records.schema.get_field_index("account_name"), "account_name", names)
    days = pc.strftime(records["timestamp"], "%Y-%m-%d")
    lake_a, lake_ab = Lake(root / "a").ensure(), Lake(root / "ab").ensure()
    first, *_ = sorted(set(days.to_pylist()))
    for day in sorted(set(days.to_pylist())):
        part = records.filter(pc.equal(days, day))
        write_parquet_atomic(lake_ab.interactions_dir / f"date={day}" / "part-0.parquet", part)
        if day == first:
            write_parquet_atomic(lake_a.interactions_dir / f"date={day}" / "part-0.parquet", part)
    b_file = next(p for p in lake_ab.interaction_files() if first not in str(p))
    return lake_a, lake_ab, b_file, records


def checksums(driver) -> dict[str, tuple[int, str]]:
    """Per label and per relationship type: (count, SHA-256 of the sorted canonical properties or end keys)."""

    def canonical(props) -> str:
        return repr(sorted((k, repr(v.iso_format() + str(v.tzinfo)) if hasattr(v, "iso_format") else repr(v))
                           for k, v in dict(props).items()))

    out = {}
    for label in NODE_LABELS:
        rows = sorted(canonical(r["p"]) for r in driver.execute_query(
            f"MATCH (n:{label}) RETURN properties(n) AS p").records)
        out[label] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    for rel in RECORD_RELATIONSHIPS:
        rows = sorted(canonical(r["a"]) + "->" + canonical(r["b"]) + canonical(r["p"]) for r in driver.execute_query(
            f"MATCH (a)-[r:{rel}]->(b) RETURN properties(a) AS a, properties(b) AS b, properties(r) AS p").records)
        out[rel] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


def test_the_import_csv_holds_the_graph_the_records_name(tmp_path):
    lake_a, lake_ab, _, records = _lakes(tmp_path)
    files = write_import_csv(lake_ab, tmp_path / "csv")
    assert {k: v for k, v in files.counts.items() if k in NODE_LABELS or k in RECORD_RELATIONSHIPS} \
        == expected_graph_counts(records)
    assert files.multiline  # a name holds a line break
    args = (tmp_path / "csv" / "import.args").read_text().splitlines()
    assert "--multiline-fields=true" in args and "--id-type=actual" in args
    assert all(Path(tmp_path / "csv" / part).exists() for a in args if a.startswith("--nodes=")
               for part in a.split("=", 2)[2].split(","))


def test_the_import_ids_are_store_ids_distinct_across_labels_and_every_end_in_its_label(tmp_path):
    """``--id-type=actual``: the labels' ids laid end to end from 0, each relationship end in its label's range."""
    _, lake_ab, _, _ = _lakes(tmp_path)
    files = write_import_csv(lake_ab, tmp_path / "csv")
    ranges, ids = {}, []
    for label, (_, data) in files.nodes.items():
        first = [] if not files.counts[label] else (  # names hold quoted line breaks: a CSV reader, not lines
            pl.read_csv(data, has_header=False, infer_schema=False)[:, 0].cast(pl.Int64).to_list())
        assert first == list(range(len(ids), len(ids) + files.counts[label])), label
        ranges[label] = range(len(ids), len(ids) + len(first))
        ids += first
    assert sorted(ids) == list(range(sum(files.counts[label] for label in files.nodes)))
    ends = {rel: (start, end) for rel, start, end in neo4j_bulk.RELATIONSHIP_TYPES}
    for rel, (_, data) in files.relationships.items():
        start, end = ends[rel]
        pairs = [tuple(map(int, line.split(","))) for line in data.read_text().splitlines()]
        assert len(pairs) == files.counts[rel] > 0, rel
        assert all(a in ranges[start] and b in ranges[end] for a, b in pairs), rel


def test_bulk_equals_incremental_and_an_incremental_load_after_it_adds_only_what_is_new(server, driver, tmp_path):
    lake_a, lake_ab, b_file, _ = _lakes(tmp_path)
    _wipe(driver)
    load_lake_into_neo4j(lake_a.root, server.uri)
    reference_a = checksums(driver)
    added_b = load_lake_into_neo4j(lake_ab.root, server.uri, files=[b_file])
    reference_ab = checksums(driver)
    assert added_b["nodes_created"] > 0 and added_b["relationships_created"] > 0

    launcher = (server.state / "neo4j.pid").read_text()
    assert server.can_pause()
    result = CliRunner().invoke(main, ["graph", "load", "--lake", str(lake_a.root), "--neo4j", server.uri,
                                       "--server-state", str(server.state), "--bulk", "--replace", "--yes"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # swapped in by pausing and resuming the running launcher, not by a new JVM
    assert (server.state / "neo4j.pid").read_text() == launcher and server.running()
    assert not (server.state / "neo4j.paused").exists() and summary["start_seconds"] > 0
    assert summary["route"] == "bulk" and summary["records"] == len(pq_rows(lake_a))
    assert Path(summary["import_log"]).read_text().count("IMPORT DONE") == 1
    assert Path(summary["import_report"]).exists()
    with open_driver(server.uri) as fresh:  # the server restarted: a new connection
        assert checksums(fresh) == reference_a
        names = {r["name"] for r in fresh.execute_query("SHOW CONSTRAINTS YIELD name").records}
        assert {"rallypoint_account_id", "rallypoint_post_key", "rallypoint_url", "rallypoint_hashtag",
                "rallypoint_media"} <= names
        again = load_lake_into_neo4j(lake_a.root, server.uri)
        assert (again["nodes_created"], again["relationships_created"]) == (0, 0)
        new = load_lake_into_neo4j(lake_ab.root, server.uri, files=[b_file])
        assert (new["nodes_created"], new["relationships_created"]) == \
            (added_b["nodes_created"], added_b["relationships_created"])
        assert checksums(fresh) == reference_ab


def pq_rows(lake: Lake) -> pa.Table:
    return lake.read_interactions_table(["id"])


def test_bulk_refuses_a_graph_and_a_failed_import_leaves_the_database_as_it_was(server, driver, tmp_path,
                                                                               monkeypatch):
    lake_a, lake_ab, _, _ = _lakes(tmp_path)
    _wipe(driver)
    load_lake_into_neo4j(lake_a.root, server.uri)
    before = checksums(driver)

    result = CliRunner().invoke(main, ["graph", "load", "--lake", str(lake_ab.root), "--neo4j", server.uri,
                                       "--server-state", str(server.state), "--bulk"])
    assert result.exit_code == 2
    assert "already holds a graph" in result.stderr and "--replace" in result.stderr
    assert "Traceback" not in result.output

    real = neo4j_bulk.write_import_csv

    def broken(*args, **kwargs):  # a relationship to a post that is not in the node files
        files = real(*args, **kwargs)
        with open(files.relationships["POSTED"][1], "a") as out:
            out.write("0,999999999\n")
        return files

    monkeypatch.setattr(neo4j_bulk, "write_import_csv", broken)
    with pytest.raises(Neo4jError, match="bulk import failed.*database was not changed"):
        bulk_load(lake_ab, server=server, replace=True, echo=lambda line: None)
    assert server.running()
    assert checksums(driver) == before
    assert "IMPORT FAILED" in (server.state / "bulk" / "import.log").read_text()


def test_an_imported_store_that_does_not_open_is_swapped_back(server, driver, tmp_path, monkeypatch):
    lake_a, lake_ab, _, _ = _lakes(tmp_path)
    _wipe(driver)
    load_lake_into_neo4j(lake_a.root, server.uri)
    before = checksums(driver)

    def garbage_store(files, staging, server, **kwargs):  # an "import" whose store files are noise
        shutil.rmtree(staging, ignore_errors=True)
        store = staging / "data" / "databases" / "neo4j"
        store.mkdir(parents=True)
        for name in ("neostore", "neostore.nodestore.db"):
            (store / name).write_bytes(os.urandom(100_000))
        return 0.0

    monkeypatch.setattr(neo4j_bulk, "run_import", garbage_store)
    with pytest.raises(Neo4jError, match="did not start.*previous one is back in place"):
        bulk_load(lake_ab, server=server, replace=True, echo=lambda line: None)
    assert server.running() and (server.state / "neo4j.ready").exists()
    with open_driver(server.uri) as fresh:
        assert checksums(fresh) == before


def test_the_automatic_choice_takes_bulk_only_for_a_large_load_into_an_empty_database(server, driver, tmp_path,
                                                                                     monkeypatch):
    lake_a, _, _, _ = _lakes(tmp_path)
    _wipe(driver)
    assert not neo4j_bulk.prefer_bulk(lake_a, server)  # small
    monkeypatch.setattr(neo4j_bulk, "BULK_AUTO_RECORDS", 10)
    assert neo4j_bulk.prefer_bulk(lake_a, server)
    assert not neo4j_bulk.prefer_bulk(lake_a, LocalServer(state=tmp_path / "none", uri=server.uri))  # not ours
    load_lake_into_neo4j(lake_a.root, server.uri)
    assert not neo4j_bulk.prefer_bulk(lake_a, server)  # not empty


def test_without_the_launcher_the_bulk_route_says_where_to_go(tmp_path):
    server = LocalServer(state=tmp_path, uri="bolt://127.0.0.1:1", launcher=tmp_path / "missing")
    with pytest.raises(Neo4jError, match="import service"):
        server.control("start")


def _admin_shim(tmp_path: Path, server: LocalServer) -> Path:
    """A ``neo4j-admin`` command for the compose script: neo4j-local's jars, as the image's tool."""
    home = tmp_path / "admin-home"
    home.mkdir()
    shim = tmp_path / "neo4j-admin"
    shim.write_text(f'#!/usr/bin/env bash\nNEO4J_HOME={home} exec java -Xmx512m -cp "{server.classpath()}" '
                    f'{neo4j_bulk.ADMIN_MAIN_CLASS} "$@"\n')
    shim.chmod(0o755)
    return shim


def test_the_compose_import_script_swaps_a_good_import_in_and_keeps_the_database_on_failure(server, tmp_path):
    lake_a, _, _, _ = _lakes(tmp_path)
    csv = tmp_path / "import"
    files = write_import_csv(lake_a, csv)
    data = tmp_path / "data"
    (data / "databases" / "neo4j").mkdir(parents=True)
    (data / "databases" / "neo4j" / "old-store").write_text("the previous database")
    env = {**os.environ, "NEO4J_DATA": str(data), "RALLYPOINT_IMPORT": str(csv),
           "NEO4J_ADMIN": str(_admin_shim(tmp_path, server))}
    script = str(neo4j_bulk.LAUNCHER_DIR / "compose-import.sh")

    with open(files.relationships["TAGGED"][1], "a") as out:  # a tag that is not in the node files
        out.write("0,999999999\n")
    failed = subprocess.run(["bash", script], env=env, capture_output=True, text=True)
    assert failed.returncode == 1 and "unchanged" in failed.stderr
    assert (data / "databases" / "neo4j" / "old-store").exists()
    assert not (data / "databases" / "rallypoint-bulk").exists()

    write_import_csv(lake_a, csv)
    done = subprocess.run(["bash", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (data / "databases" / "neo4j" / "neostore").exists()
    assert (data / "transactions" / "neo4j").is_dir()
    assert (data / "databases" / "neo4j.previous" / "old-store").exists()

    busy = subprocess.run(["bash", script], env={**env, "NEO4J_DATA": str(server.home / "data")},
                          capture_output=True, text=True)
    assert busy.returncode == 2 and "stop it first" in busy.stderr


def test_a_lake_file_without_some_columns_is_read_as_nulls(tmp_path):
    world = build_small_lake(tmp_path / "world", n_records=120)
    lake = Lake(tmp_path / "narrow").ensure()
    narrow = world.records.drop_columns(["media", "followers", "channel_id"])
    write_parquet_atomic(lake.interactions_dir / "date=2021-01-04" / "part-0.parquet", narrow)
    files = write_import_csv(lake, tmp_path / "csv")
    expected = expected_graph_counts(world.records.set_column(
        world.records.schema.get_field_index("media"), "media", pa.nulls(len(world.records), pa.list_(pa.string()))))
    assert {k: files.counts[k] for k in expected} == expected
    assert files.counts["Media"] == 0 and "ATTACHES" not in files.relationships


def test_the_import_csv_and_constraints_commands(server, tmp_path):
    lake_a, _, _, records = _lakes(tmp_path)
    runner = CliRunner()
    written = runner.invoke(main, ["graph", "import-csv", "--lake", str(lake_a.root), "--out", str(tmp_path / "csv")])
    assert written.exit_code == 0, written.output
    summary = json.loads(written.stdout)
    assert summary["records"] == len(pq_rows(lake_a)) and Path(summary["args_file"]).exists()
    made = runner.invoke(main, ["graph", "constraints", "--neo4j", server.uri])
    assert made.exit_code == 0 and "6 constraints" in made.stdout
    unreachable = runner.invoke(main, ["graph", "constraints", "--neo4j", "bolt://127.0.0.1:1"])
    assert unreachable.exit_code == 2 and "Cannot reach Neo4j" in unreachable.stderr


def test_the_import_csv_written_in_small_batches_is_the_one_written_at_once(tmp_path):
    """Batches that split the files (and a file) give the same node files, byte for byte, and relationships."""
    _, lake_ab, _, _ = _lakes(tmp_path)
    whole = write_import_csv(lake_ab, tmp_path / "whole")
    assert len(lake_ab.interaction_files()) > 1 and whole.records > 37
    batched = write_import_csv(lake_ab, tmp_path / "batched", batch_records=37)
    assert batched.counts == whole.counts and batched.multiline == whole.multiline
    for label, (_, data) in whole.nodes.items():
        assert batched.nodes[label][1].read_bytes() == data.read_bytes(), label
    for rel, (_, data) in whole.relationships.items():
        lines = data.read_text().splitlines()
        assert len(lines) == len(set(lines)) == whole.counts[rel]
        assert sorted(batched.relationships[rel][1].read_text().splitlines()) == sorted(lines), rel


def test_a_post_in_two_batches_keeps_its_last_occurrence(tmp_path):
    """A record read again in a later file (a re-export) is one Post with the later values, batched or not."""
    world = build_small_lake(tmp_path / "world", n_records=120)
    lake = Lake(tmp_path / "twice").ensure()
    records = world.records
    again = records.slice(0, 10)
    again = again.set_column(again.schema.get_field_index("channel_id"), "channel_id",
                             pa.array([f"again-{i}" for i in range(10)], pa.string()))
    write_parquet_atomic(lake.interactions_dir / "date=2021-01-04" / "part-0.parquet", records)
    write_parquet_atomic(lake.interactions_dir / "date=2021-01-05" / "part-0.parquet", again)
    for batch_records in (None, 50):
        files = write_import_csv(lake, tmp_path / f"csv-{batch_records}", batch_records=batch_records)
        posts = files.nodes["Post"][1].read_text().splitlines()
        assert files.counts["Post"] == len(posts) == len(set(line.split(",")[2] for line in posts))
        for i, post_id in enumerate(again["id"].to_pylist()):
            (line,) = [p for p in posts if p.split(",")[2] == f'"{post_id}"']
            assert line.endswith(f',"again-{i}"'), line


def test_post_ids_are_found_when_the_first_hash_seed_collides(tmp_path, monkeypatch):
    """A seed whose 64-bit key hashes collide among posts is passed over: the relationships do not change."""
    _, lake_ab, _, _ = _lakes(tmp_path)
    _, expected, _ = neo4j_bulk.lake_graph(lake_ab, batch_records=37)
    real = neo4j_bulk._key_hash
    seeds = []

    def weak_first_seed(platform, post_id, seed):
        seeds.append(seed)
        return post_id.str.len_bytes().cast(pl.UInt64) if seed == 0 else real(platform, post_id, seed)

    monkeypatch.setattr(neo4j_bulk, "_key_hash", weak_first_seed)
    _, relationships, _ = neo4j_bulk.lake_graph(lake_ab, batch_records=37)
    assert 0 in seeds and 1 in seeds  # the weak seed was tried, and left for the next one
    assert relationships.keys() == expected.keys()
    for rel, table in expected.items():
        assert len(table) and relationships[rel].sort(["src", "dst"]).equals(table.sort(["src", "dst"])), rel
