"""rallypoint watch on a small simulated world: tracks, alerts, restarts, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import rallypoint.watch.watcher as watcher_module
from rallypoint.dashboard.triage import TriageStore
from rallypoint.lake import Lake
from rallypoint.watch.acknowledge import acknowledge, with_acknowledgements
from rallypoint.watch.sinks import AlertLog, read_alerts
from rallypoint.watch.tracks import read_tracks
from rallypoint.watch.watcher import STATE_FILE, Watcher, WatchOptions

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
#: the replay's moments: daily, from the campaigns' early waves to the end of the world
MOMENTS = [datetime(2022, 12, 30, tzinfo=UTC) + timedelta(days=d) for d in range(10)]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.simulate import simulate_world

    root = tmp_path_factory.mktemp("watchworld")
    simulate_world(root / "data", accounts=1500, days=14, seed=11)
    ingest_sources(sorted((root / "data").glob("interactions-*")), root / "lake", show_progress=False)
    return root


def _scratch(world: Path, tmp_path: Path, name: str) -> Path:
    """A lake of its own for the watcher, on the world's interactions."""
    lake = tmp_path / name
    lake.mkdir()
    (lake / "interactions").symlink_to((world / "lake" / "interactions").resolve(), target_is_directory=True)
    return lake


def _replay(lake: Path, moments) -> None:
    watcher = Watcher(lake, WatchOptions())
    for moment in moments:
        watcher.cycle(as_of=moment)


@pytest.fixture(scope="module")
def uninterrupted(world, tmp_path_factory) -> Path:
    lake = _scratch(world, tmp_path_factory.mktemp("straight"), "lake")
    _replay(lake, MOMENTS)
    return lake


def test_tracks_follow_the_campaigns_and_alerts_link_to_their_cluster(uninterrupted):
    lake = Lake(uninterrupted)
    tracks, alerts = read_tracks(lake), read_alerts(lake)
    assert tracks["run_id"].n_unique() == len(MOMENTS) == len(lake.run_ids())
    # a flagged track goes on for several runs under the same id
    flagged_runs = tracks.filter(pl.col("flagged")).group_by("track_id").agg(pl.col("run_id").n_unique())
    assert flagged_runs["run_id"].max() >= 5
    assert alerts.height > 0 and alerts["alert_id"].n_unique() == alerts.height
    assert set(alerts["rule"]) >= {"flagged", "date_near"}
    for alert in alerts.to_dicts():
        assert alert["link"].endswith(f"/cluster?run={alert['run_id']}&cluster={alert['cluster_id']}")
        row = tracks.filter((pl.col("run_id") == alert["run_id"]) & (pl.col("cluster_id") == alert["cluster_id"]))
        assert row["track_id"].item() == alert["track_id"] and row["flagged"].item()
        assert any(ch.isdigit() for ch in alert["sentence"])  # every sentence carries its numbers


def test_a_restart_in_the_middle_resumes_without_a_duplicate_alert(world, uninterrupted, tmp_path, monkeypatch):
    lake = _scratch(world, tmp_path, "lake")
    watcher = Watcher(lake, WatchOptions())
    for moment in MOMENTS[:3]:
        watcher.cycle(as_of=moment)

    # killed after the detect of the 4th moment, before its tracks and alerts
    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(watcher_module, "run_alerts", killed)
    with pytest.raises(KeyboardInterrupt):
        watcher.cycle(as_of=MOMENTS[3])
    monkeypatch.undo()
    assert json.loads((lake / STATE_FILE).read_text())["pending"] is not None

    # killed after the 6th moment's alerts were appended, before the state said so
    restarted = Watcher(lake, WatchOptions())
    restarted.cycle(as_of=MOMENTS[4])  # resumes the 4th moment's run first
    save = Watcher._save

    def dies_when_done(self, **changes):
        if changes.get("pending", "keep") is None and "last_run" in changes:
            raise KeyboardInterrupt
        return save(self, **changes)

    monkeypatch.setattr(Watcher, "_save", dies_when_done)
    with pytest.raises(KeyboardInterrupt):
        restarted.cycle(as_of=MOMENTS[5])
    monkeypatch.undo()
    written_before_restart = AlertLog(Lake(lake)).ids()

    again = Watcher(lake, WatchOptions())
    resumed = again.resume()
    assert resumed is not None and resumed.resumed and resumed.alerts == []  # all of them were already written
    assert AlertLog(Lake(lake)).ids() == written_before_restart
    for moment in MOMENTS[6:]:
        again.cycle(as_of=moment)

    # a detect killed before it finished leaves a pending run with no run.json: discarded
    state = json.loads((lake / STATE_FILE).read_text())
    (lake / STATE_FILE).write_text(json.dumps(state | {"pending": {"run_id": "20990101T000000Z-watch999999",
                                                                   "fingerprint": "x"}}))
    (lake / "runs" / "20990101T000000Z-watch999999").mkdir()
    assert Watcher(lake, WatchOptions()).resume() is None
    assert not (lake / "runs" / "20990101T000000Z-watch999999").exists()

    interrupted, straight = read_alerts(Lake(lake)), read_alerts(Lake(uninterrupted))
    assert interrupted["alert_id"].n_unique() == interrupted.height  # no alert twice
    assert sorted(interrupted["alert_id"]) == sorted(straight["alert_id"])  # and none lost
    assert read_tracks(Lake(lake))["track_id"].to_list() == read_tracks(Lake(uninterrupted))["track_id"].to_list()


def test_an_acknowledgement_is_a_triage_decision_on_the_alerts_track(uninterrupted, tmp_path):
    lake = Lake(uninterrupted)
    alerts = read_alerts(lake)
    first = alerts.filter(pl.col("rule") == "flagged").row(0, named=True)
    later = alerts.filter((pl.col("track_id") == first["track_id"]) & (pl.col("alert_id") != first["alert_id"]))
    store = TriageStore(lake.triage_path)
    before = store.decisions().height
    acknowledge(lake, first, "escalate", "Ana", "sent to the platform's threat team")
    decisions = store.decisions()
    assert decisions.height == before + 1
    row = decisions.row(-1, named=True)
    assert (row["run_id"], row["cluster_id"], row["status"]) == (first["run_id"], first["cluster_id"], "escalated")
    assert first["alert_id"] in row["note"] and len(row["member_ids"]) > 0
    acked = with_acknowledgements(alerts, decisions, read_tracks(lake))
    by_id = dict(zip(acked["alert_id"], acked["acknowledged_by"], strict=True))
    assert by_id[first["alert_id"]] == "Ana"
    # alerts on the same track raised before the decision are acknowledged by it too
    assert all(by_id[a] == "Ana" for a in later["alert_id"])
    other = acked.filter(pl.col("track_id") != first["track_id"])
    assert other["acknowledged_by"].null_count() == other.height


def _cli(*args: str) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "rallypoint.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def test_the_command_shows_what_it_does_and_stops_cleanly_on_sigterm(world, tmp_path):
    lake = _scratch(world, tmp_path, "lake")
    proc = _cli("watch", "--lake", str(lake), "--every", "1s", "--horizon", "14d")
    lines = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "no new partitions" in line:  # the first cycle is done and the loop is waiting
            break
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=120)
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert "detecting over" in output and "ALERT [flagged]" in output and output.rstrip().endswith("stopped")
    alerts = AlertLog(Lake(lake)).ids()
    assert alerts and len(Lake(lake).run_ids()) == 1

    # started again on the same lake: nothing new, so no detect and no alert twice
    again = _cli("watch", "--lake", str(lake), "--once")
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and "no new partitions" in out
    assert AlertLog(Lake(lake)).ids() == alerts and len(Lake(lake).run_ids()) == 1


def test_bad_options_are_one_sentence(world, tmp_path):
    lake = _scratch(world, tmp_path, "lake")
    for args in (["--every", "soon"], ["--horizon", "0d"], ["--webhook", "ftp://x"]):
        proc = _cli("watch", "--lake", str(lake), "--once", *args)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 2 and out.startswith("error: ") and "Traceback" not in out, out


def test_the_loop_says_a_failed_cycle_and_goes_on_until_stopped(tmp_path):
    import threading

    lake = Lake(tmp_path / "empty").ensure()  # no interactions yet: every cycle fails
    lines: list[str] = []
    stop = threading.Event()
    watcher = Watcher(lake, WatchOptions(every=timedelta(seconds=0.05)), say=lines.append)
    loop = threading.Thread(target=watcher.run_forever, args=(stop,))
    loop.start()
    deadline = time.monotonic() + 30
    while sum("this cycle failed" in line for line in lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    loop.join(timeout=30)
    assert not loop.is_alive() and lines[-1] == "stopped"
    assert sum("holds no interactions" in line for line in lines) >= 2
