"""The triage log's hash chain: appended events, `rallypoint triage verify`, and tampering found.

Tampering is done as someone with the file would: sqlite3 directly, dropping the
triggers that refuse UPDATE and DELETE first.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from rallypoint.dashboard.triage import (
    EVENT_KINDS,
    GENESIS,
    Decision,
    TriageError,
    TriageStore,
    append_event,
    verify,
)
from rallypoint.errors import RallypointError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def log(tmp_path) -> TriageStore:
    """A lake folder's log with one event of several kinds (7 rows)."""
    store = TriageStore(tmp_path / "triage.sqlite")
    store.record(Decision("r1", "c1", "confirm", "calls to the Capitol", "ana", ("a", "b"), "analyst"))
    store.comment("r1", "c1", "the buses are in the logistics posts", "ana", "analyst")
    store.assign("r1", "c1", "bo", "ana", "analyst")
    store.append_event("view_account", "u000047", "bo", {}, run_id="r1", actor_role="analyst")
    store.append_event("export", "c1", "ada", {"format": "csv", "pseudonymized": False}, run_id="r1",
                       actor_role="admin")
    store.record(Decision("r1", "c1", "dismiss", "a fandom after all", "bo", ("a", "b"), "analyst"))
    append_event(tmp_path, "comment", "c1", "bo", {"text": "seen"}, run_id="r1", actor_role="analyst")
    return store


def _tamper(path: Path, sql: str, *args) -> None:
    with sqlite3.connect(path) as con:
        con.execute("DROP TRIGGER IF EXISTS log_no_update")
        con.execute("DROP TRIGGER IF EXISTS log_no_delete")
        con.execute(sql, args)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rallypoint.cli", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_an_untouched_log_verifies_and_each_row_links_to_the_previous(log):
    state = log.verify()
    assert state.ok and state.rows == 7 and state.broken_seq is None
    with sqlite3.connect(log.path) as con:
        rows = con.execute("SELECT seq, prev_hash, hash FROM log ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == list(range(1, 8)) and rows[0][1] == GENESIS
    assert all(later[1] == earlier[2] for earlier, later in zip(rows, rows[1:], strict=False))
    assert state.head == rows[-1][2] and len({r[2] for r in rows}) == 7
    assert log.decisions()["status"].to_list() == ["confirmed", "dismissed"]
    assert log.decisions()["analyst"].to_list() == ["ana", "bo"]


def test_the_cli_passes_an_untouched_log_and_prints_its_head(log):
    done = _cli("triage", "verify", "--lake", str(log.path.parent))
    assert done.returncode == 0, done.stderr
    assert "intact: 7 rows" in done.stdout and f"head: 7:{log.verify().head}" in done.stdout


@pytest.mark.parametrize(("sql", "args", "row"), [
    ("UPDATE log SET payload = ? WHERE seq = 1", (json.dumps({"decision": "dismiss", "note": "x",
                                                              "member_ids": []}),), 1),
    ("UPDATE log SET actor = ? WHERE seq = 4", ("someone-else",), 4),
    ("UPDATE log SET at = ? WHERE seq = 6", ("2020-01-01T00:00:00.000000+00:00",), 6),
])
def test_an_update_made_with_sqlite3_is_named_by_its_row(log, sql, args, row):
    _tamper(log.path, sql, *args)
    state = verify(log.path.parent)
    assert not state.ok and state.broken_seq == row and "changed" in state.reason
    done = _cli("triage", "verify", "--lake", str(log.path.parent))
    assert done.returncode == 1 and f"broken at row {row}:" in done.stdout


def test_an_update_that_also_recomputes_its_own_hash_breaks_the_next_row(log):
    from rallypoint.dashboard.triage import _row_hash

    with sqlite3.connect(log.path) as con:
        seq, at, kind, actor, role, run, subject, payload, prev = con.execute(
            "SELECT seq, at, kind, actor, actor_role, run_id, subject, payload, prev_hash FROM log WHERE seq = 3"
        ).fetchone()
    forged = json.dumps({"assignee": "mallory"})
    _tamper(log.path, "UPDATE log SET payload = ?, hash = ? WHERE seq = 3", forged,
            _row_hash(prev, seq, at, kind, actor, role, run, subject, forged))
    state = log.verify()
    assert not state.ok and state.broken_seq == 4 and "link" in state.reason


@pytest.mark.parametrize("deleted", [1, 3, 5])
def test_a_delete_made_with_sqlite3_names_the_missing_row(log, deleted):
    _tamper(log.path, "DELETE FROM log WHERE seq = ?", deleted)
    state = log.verify()
    assert not state.ok and state.broken_seq == deleted and "deleted" in state.reason
    done = _cli("triage", "verify", "--lake", str(log.path.parent))
    assert done.returncode == 1 and f"broken at row {deleted}:" in done.stdout


def test_removing_the_newest_rows_is_caught_against_a_head_noted_earlier(log):
    head = f"{log.verify().rows}:{log.verify().head}"
    _tamper(log.path, "DELETE FROM log WHERE seq >= 6")
    assert log.verify().ok  # a shorter chain is still a chain: that is what the noted head is for
    done = _cli("triage", "verify", "--lake", str(log.path.parent), "--expect-head", head)
    assert done.returncode == 1 and "rows were removed" in done.stdout
    assert _cli("triage", "verify", "--lake", str(log.path.parent), "--expect-head", "5:" + "f" * 64).returncode == 1
    noted = f"5:{log.head_at(5)}"
    assert _cli("triage", "verify", "--lake", str(log.path.parent), "--expect-head", noted).returncode == 0


def test_unknown_kinds_and_missing_actors_are_refused(log):
    with pytest.raises(TriageError, match="event kind"):
        log.append_event("rewrite", "c1", "ana")
    with pytest.raises(TriageError, match="actor"):
        log.append_event("comment", "c1", "  ", {"text": "x"})
    with pytest.raises(TriageError, match="empty"):
        log.comment("r1", "c1", "  ", "ana", "analyst")
    assert log.verify().rows == 7 and "rewrite" not in EVENT_KINDS


def test_a_missing_log_is_one_sentence(tmp_path):
    with pytest.raises(RallypointError, match="no triage log"):
        verify(tmp_path)
    done = _cli("triage", "verify", "--lake", str(tmp_path))
    assert done.returncode == 2 and done.stderr.startswith("error: There is no triage log")


def test_decisions_of_a_log_before_the_chain_are_moved_into_it_once(tmp_path):
    path = tmp_path / "triage.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE decisions (decision_id INTEGER PRIMARY KEY, run_id TEXT, cluster_id TEXT,"
                    " decision TEXT, note TEXT, analyst TEXT, decided_at TEXT, member_ids TEXT)")
        con.execute("INSERT INTO decisions VALUES (1, 'r1', 'c1', 'confirm', 'old note', 'Eve',"
                    " '2021-01-02T00:00:00.000000+00:00', '[\"a\"]')")
    store = TriageStore(path)
    TriageStore(path)
    got = store.decisions()
    assert got.select("cluster_id", "status", "note").rows() == [("c1", "confirmed", "old note")]
    assert got["analyst"][0] == "Eve (unverified, before sign-in)" and store.verify().ok
