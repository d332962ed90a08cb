"""Analysts' triage decisions, stored append-only in ``LAKE/triage.sqlite``.

A decision says what an analyst concluded about one cluster of one run: ``confirm``
(coordinated mobilization), ``dismiss`` (a false positive) or ``escalate`` (hand it
on). Every decision needs the analyst's name and a note saying why. Decisions are
never changed or removed: the database refuses ``UPDATE`` and ``DELETE`` by
triggers, so a later decision supersedes an earlier one by being newer, and the
whole history stays readable as an audit trail.

Each row also keeps the cluster's member accounts at decision time, so the
decision can carry over to the same network in a later run even if the earlier
run is deleted (see :mod:`rallypoint.dashboard.carryover`).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from rallypoint.errors import RallypointError

#: The decision verbs an analyst may record, and the status each gives a cluster.
DECISIONS: dict[str, str] = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated"}
#: A cluster nobody has decided about (and no earlier decision carries over to).
UNREVIEWED = "unreviewed"
STATUSES: tuple[str, ...] = (UNREVIEWED, *DECISIONS.values())

_DDL = """
CREATE TABLE IF NOT EXISTS decisions (
    decision_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL,
    cluster_id  TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('confirm', 'dismiss', 'escalate')),
    note        TEXT NOT NULL CHECK (length(trim(note)) > 0),
    analyst     TEXT NOT NULL CHECK (length(trim(analyst)) > 0),
    decided_at  TEXT NOT NULL,
    member_ids  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_cluster ON decisions (run_id, cluster_id);
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'triage decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'triage decisions are append-only'); END;
"""

DECISION_COLUMNS: dict[str, pl.DataType] = {
    "decision_id": pl.Int64,
    "run_id": pl.String,
    "cluster_id": pl.String,
    "decision": pl.String,
    "status": pl.String,
    "note": pl.String,
    "analyst": pl.String,
    "decided_at": pl.Datetime("us", "UTC"),
    "member_ids": pl.List(pl.String),
}


class TriageError(RallypointError):
    """A decision that cannot be recorded (missing note or name, unknown decision)."""


@dataclass(frozen=True)
class Decision:
    run_id: str
    cluster_id: str
    decision: str
    note: str
    analyst: str
    member_ids: tuple[str, ...] = ()


class TriageStore:
    """The decisions database of one lake. Opening it creates the table if needed."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con, con:
            con.executescript(_DDL)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=10)
        con.execute("PRAGMA journal_mode=WAL")  # readers never block the analyst who writes
        return con

    def mtime(self) -> float:
        """Changes whenever a decision is added (the WAL file or the database)."""
        wal = self.path.with_name(self.path.name + "-wal")
        return max(p.stat().st_mtime_ns for p in (self.path, wal) if p.exists())

    def record(self, decision: Decision, now: datetime | None = None) -> int:
        """Append one decision; returns its id. Refuses a missing note or name."""
        verb = decision.decision.strip().lower()
        if verb not in DECISIONS:
            raise TriageError(f"A decision must be one of {', '.join(DECISIONS)}, not {decision.decision!r}.")
        if not decision.analyst.strip():
            raise TriageError("A decision needs the analyst's name.")
        if not decision.note.strip():
            raise TriageError("A decision needs a note saying why.")
        decided_at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
        with closing(self._connect()) as con, con:
            cur = con.execute(
                "INSERT INTO decisions (run_id, cluster_id, decision, note, analyst, decided_at, member_ids)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (decision.run_id, decision.cluster_id, verb, decision.note.strip(),
                 decision.analyst.strip(), decided_at, json.dumps(sorted(decision.member_ids))),
            )
            return int(cur.lastrowid)

    def decisions(self, run_id: str | None = None, cluster_id: str | None = None) -> pl.DataFrame:
        """Decisions, oldest first, optionally of one run and/or one cluster."""
        sql = "SELECT decision_id, run_id, cluster_id, decision, note, analyst, decided_at, member_ids FROM decisions"
        where, args = [], []
        if run_id is not None:
            where.append("run_id = ?")
            args.append(run_id)
        if cluster_id is not None:
            where.append("cluster_id = ?")
            args.append(cluster_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with closing(self._connect()) as con:
            rows = con.execute(sql + " ORDER BY decision_id", args).fetchall()
        if not rows:
            return pl.DataFrame(schema=DECISION_COLUMNS)
        ids, runs, clusters, verbs, notes, analysts, times, members = zip(*rows, strict=True)
        return pl.DataFrame(
            {
                "decision_id": list(ids),
                "run_id": list(runs),
                "cluster_id": list(clusters),
                "decision": list(verbs),
                "status": [DECISIONS[v] for v in verbs],
                "note": list(notes),
                "analyst": list(analysts),
                "decided_at": list(times),
                "member_ids": [json.loads(m) for m in members],
            },
            schema_overrides={"decided_at": pl.String, "member_ids": pl.List(pl.String)},
        ).with_columns(pl.col("decided_at").str.to_datetime(time_unit="us", time_zone="UTC")).select(
            list(DECISION_COLUMNS)
        )
