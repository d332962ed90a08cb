"""The ingest pipeline: de-duplication, rejections, the ingest log, atomic commits."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rallypoint.cli import main
from rallypoint.errors import InputError, LakeError
from rallypoint.ingest import commit as lake_commit
from rallypoint.ingest.pipeline import _executor, ingest_sources
from rallypoint.ingest.synthetic import write_canonical_jsonl
from rallypoint.lake import Lake

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
REPO = Path(__file__).resolve().parent.parent


def lake_rows(lake: Path) -> pl.DataFrame:
    """The lake's interactions, sorted by key, with the list columns as text for comparison."""
    table = Lake(lake).read_interactions_table()
    frame = pl.from_arrow(table).with_columns(pl.col(pl.List(pl.String)).list.join("|"))
    return frame.sort(["platform", "id"])


def tree(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()}


def test_ingesting_200k_records_twice_leaves_exactly_the_unique_records(tmp_path):
    source = write_canonical_jsonl(tmp_path / "big.jsonl", 200_000, duplicate_every=25)
    expected = pl.read_ndjson(source).unique(["platform", "id"], keep="first", maintain_order=True)
    lake = tmp_path / "lake"
    first = ingest_sources([source], lake)
    assert first.read == 200_000 and first.rejected == 0
    assert first.written == expected.height
    assert first.duplicates_in_batch == 200_000 - expected.height
    second = ingest_sources([source], lake)
    assert second.written == 0 and second.duplicates_in_lake == expected.height
    rows = lake_rows(lake)
    assert rows.height == expected.height
    assert rows.select("platform", "id").equals(expected.sort(["platform", "id"]).select("platform", "id"))
    # each ingest adds at most one file per date
    per_date = {}
    for f in Lake(lake).interaction_files():
        per_date.setdefault(f.parent.name, []).append(f)
    assert all(len(files) == 1 for files in per_date.values())
    # the repeated ids kept their first occurrence
    kept = rows.join(expected.select("platform", "id", "account_id"), on=["platform", "id"], suffix="_in")
    assert (kept["account_id"] == kept["account_id_in"]).all()


def test_planted_bad_records_all_land_in_rejected_with_reasons(tmp_path):
    source = write_canonical_jsonl(tmp_path / "mixed.jsonl", 1_000)
    planted = {
        "missing required field: account_id": '{"id": "b1", "platform": "x", "timestamp": 1609459200, "action": "post"}',
        "unparseable timestamp": '{"id": "b2", "platform": "x", "account_id": "a", "timestamp": "soon", "action": "post"}',
        "unknown action": '{"id": "b3", "platform": "x", "account_id": "a", "timestamp": 1609459200, "action": "like"}',
        "repost without target_id": '{"id": "b4", "platform": "x", "account_id": "a", "timestamp": 1609459200, "action": "repost"}',
        "not valid JSON": '{"id": "b5", "platform": ',
    }
    with open(source, "a") as fh:
        for line in planted.values():
            fh.write(line + "\n")
    lake = tmp_path / "lake"
    summary = ingest_sources([source], lake)
    assert summary.written == 1_000
    assert summary.rejected_by_reason == dict.fromkeys(planted, 1)
    rejected = pq.read_table(Lake(lake).rejected_dir / summary.ingest_id).to_pylist()
    assert {r["reason"]: r["raw"] for r in rejected} == planted
    assert {r["line"] for r in rejected} == set(range(1_001, 1_006))
    log = json.loads((Lake(lake).ingests_dir / f"{summary.ingest_id}.json").read_text())
    assert log["read"] == 1_005 and log["written"] == 1_000 and log["rejected"] == 5
    assert log["rejected_by_reason"] == summary.rejected_by_reason
    assert log["sources"][0]["format"] == "jsonl" and log["seconds"] > 0
    assert log["started"] < log["finished"]
    assert "rejected" in summary.render() and "not valid JSON" in summary.render()


def test_a_folder_of_mixed_formats_is_read_file_by_file(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("x_v2_page.json", "telegram_result.json", "crowdtangle.csv", "canonical.jsonl"):
        shutil.copy(FIXTURES / name, folder / name)
    (folder / "labels.csv").write_text("account_id,campaign_id,kind\na,c,mobilization\n")
    (folder / "world.json").write_text('{"accounts": 5, "days": 2}')
    summary = ingest_sources([folder], tmp_path / "lake")
    assert {s.format for s in summary.sources} == {"x-v2", "telegram", "crowdtangle", "jsonl"}
    assert summary.written == 4 + 3 + 3 + 3  # telegram's zone-less message waits for --timezone
    assert summary.rejected_by_reason["timestamp without a time zone"] == 1
    assert [Path(s["path"]).name for s in summary.skipped] == ["world.json"]
    with pytest.raises(InputError, match="match no known format"):  # named, it is an error
        ingest_sources([folder / "world.json"], tmp_path / "lake")
    with pytest.raises(InputError, match="crowdtangle.csv is not a jsonl file"):
        ingest_sources([folder], tmp_path / "lake2", fmt="jsonl")
    assert not (tmp_path / "lake2").exists()


def test_an_unreadable_input_leaves_the_lake_untouched(tmp_path):
    lake = tmp_path / "lake"
    ingest_sources([FIXTURES / "canonical.jsonl"], lake)
    before = tree(lake)
    data = gzip.compress(write_canonical_jsonl(tmp_path / "a.jsonl", 20_000).read_bytes())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        ingest_sources([FIXTURES / "x_v1.jsonl", cut], lake)
    assert tree(lake) == before
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        ingest_sources([empty], lake)
    assert tree(lake) == before


def _write_late(started, path):
    started.set()
    time.sleep(0.5)
    path.write_text("written")
    return "late"


def _fail_once_started(started, message):
    assert started.wait(10)
    raise InputError(message)


def test_a_failing_task_is_raised_only_after_every_running_task_stopped(tmp_path):
    # The race behind a leftover staging file: a part still being written when
    # another part's error had already removed the staging folder.
    late, started = tmp_path / "late.txt", threading.Event()
    with _executor(None, None) as run, pytest.raises(InputError, match="corrupt part"):
        run([(_write_late, (started, late)), (_fail_once_started, (started, "corrupt part"))], lambda: None)
    assert late.read_text() == "written"


def test_a_lake_path_that_is_a_file_is_refused(tmp_path):
    not_a_lake = tmp_path / "lake"
    not_a_lake.write_text("hello")
    with pytest.raises(LakeError, match="is a file"):
        ingest_sources([FIXTURES / "canonical.jsonl"], not_a_lake)
    assert not_a_lake.read_text() == "hello"


def test_cli_prints_the_summary_or_one_sentence_and_exit_2(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(main, ["ingest", str(FIXTURES / "canonical.jsonl"), "--lake", str(tmp_path / "lake")])
    assert ok.exit_code == 0, ok.output
    assert "written" in ok.output and "3" in ok.output
    bad = runner.invoke(main, ["ingest", str(tmp_path / "missing.jsonl"), "--lake", str(tmp_path / "lake")])
    assert bad.exit_code == 2
    assert bad.output.strip().count("\n") == 0 and "does not exist" in bad.output


def test_a_commit_interrupted_after_its_journal_is_finished_by_the_next_ingest(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    source = write_canonical_jsonl(tmp_path / "a.jsonl", 5_000)
    clean = tmp_path / "clean"
    ingest_sources([source], clean)

    def die(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lake_commit, "roll_forward", die)
    with pytest.raises(KeyboardInterrupt):
        ingest_sources([source], lake)
    monkeypatch.undo()
    assert Lake(lake).interaction_files() == []  # nothing visible yet
    second = ingest_sources([source], lake)
    assert second.recovered["rolled_forward"] and second.written == 0
    assert lake_rows(lake).equals(lake_rows(clean))
    assert len(list(Lake(lake).ingests_dir.glob("*.json"))) == 2


def test_kill_9_mid_ingest_then_rerun_gives_the_lake_of_one_clean_run(tmp_path):
    source = write_canonical_jsonl(tmp_path / "big.jsonl", 150_000, duplicate_every=50)
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    ingest_sources([source], clean)
    cli = [sys.executable, "-m", "rallypoint.cli", "ingest", str(source), "--lake", str(killed)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    staging = killed / "_staging"
    while time.time() < deadline and proc.poll() is None:
        if staging.exists() and any(staging.glob("*/blocks/*/*.arrow")):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert Lake(killed).interaction_files() == []  # a killed ingest shows nothing
    rerun = subprocess.run(cli, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert not [p for p in staging.iterdir() if p.is_dir()]
    assert lake_rows(killed).equals(lake_rows(clean))


@pytest.mark.slow
def test_a_dask_cluster_of_processes_gives_the_same_lake(tmp_path, local_cluster):
    source = write_canonical_jsonl(tmp_path / "a.jsonl", 20_000, duplicate_every=7)
    gz = tmp_path / "b.jsonl.gz"
    gz.write_bytes(gzip.compress(write_canonical_jsonl(tmp_path / "b.jsonl", 3_000, seed=5).read_bytes()))
    sources = [source, gz, FIXTURES / "x_v1.jsonl", FIXTURES / "telegram_result.json"]
    ingest_sources(sources, tmp_path / "threads")
    summary = ingest_sources(sources, tmp_path / "procs", scheduler=local_cluster.scheduler_address)
    assert summary.rejected_by_reason == {"unparseable timestamp": 1, "timestamp without a time zone": 1}
    assert lake_rows(tmp_path / "procs").equals(lake_rows(tmp_path / "threads"))
