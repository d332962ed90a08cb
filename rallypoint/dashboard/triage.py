"""The triage log: every decision, comment, assignment, role change, export and account
view, as rows of a hash chain in ``LAKE/triage.sqlite``.

Each row (an *event*) has a sequence number, a UTC time, a kind (:data:`EVENT_KINDS`),
the signed-in actor and their role, an optional run and subject (a cluster, an account,
a user, a track) and a JSON payload. Its ``hash`` is the SHA-256 of the previous row's
hash and of this row's canonical JSON, so changing, removing or reordering any row
breaks every hash after it: :func:`verify` walks the chain and names the first row
whose stored hash, link or sequence number does not match (``rallypoint triage verify``).
This is the hash chain of tamper-evident logging (Schneier & Kelsey, "Secure audit logs
to support computer forensics", 1999; Crosby & Wallach, USENIX Security 2009), without
their keyed or signed variants: whoever can rewrite the file can also recompute the
whole chain, and removing the newest rows leaves a shorter valid chain. Against that,
the head (row count and last hash) that ``verify`` prints can be kept elsewhere and
compared later (``--expect-head``).

Triggers refuse ``UPDATE`` and ``DELETE`` so no honest code path can change a row; a
later decision supersedes an earlier one by being newer, and the whole history stays
readable as the audit trail.

Other code appends with :func:`append_event` (a new kind is added to :data:`EVENT_KINDS`,
the one list of them); decisions, comments and assignments have their own validated
helpers, and ``rallypoint watch``'s acknowledgements are decisions on the alert's cluster.

Complexity: appending is one indexed read of the last row and one insert; reading a
kind is one indexed scan; :func:`verify` is one pass over the rows, ``O(n)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from rallypoint.errors import RallypointError

__all__ = [
    "DECISIONS", "EVENT_KINDS", "GENESIS", "STATUSES", "UNREVIEWED", "ChainState", "Decision", "TriageError",
    "TriageStore", "append_event", "verify",
]

#: The decision verbs an analyst may record, and the status each gives a cluster.
DECISIONS: dict[str, str] = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated"}
#: A cluster nobody has decided about (and no earlier decision carries over to).
UNREVIEWED = "unreviewed"
STATUSES: tuple[str, ...] = (UNREVIEWED, *DECISIONS.values())

#: Every kind of event the log holds, with what its subject and payload are.
EVENT_KINDS: dict[str, str] = {
    "decision": "subject: cluster; payload: decision, note, member_ids",
    "comment": "subject: cluster; payload: text",
    "assign": "subject: cluster; payload: assignee (empty: unassigned)",
    "export": "subject: cluster; payload: format, pseudonymized, file",
    "view_account": "subject: account id (an analyst's access to personal data)",
    "sign_in": "subject: user; payload: method",
    "user_added": "subject: user; payload: role, method",
    "role_changed": "subject: user; payload: role, previous",
    "user_disabled": "subject: user",
    "password_changed": "subject: user",
}

#: The link before the first row.
GENESIS = "0" * 64
#: Databases this process has already created the tables of.
_READY: set[Path] = set()

_DDL = """
CREATE TABLE IF NOT EXISTS log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL CHECK (length(trim(actor)) > 0),
    actor_role TEXT NOT NULL,
    run_id     TEXT,
    subject    TEXT,
    payload    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_by_kind ON log (kind, run_id, subject);
CREATE TRIGGER IF NOT EXISTS log_no_update BEFORE UPDATE ON log
BEGIN SELECT RAISE(ABORT, 'the triage log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS log_no_delete BEFORE DELETE ON log
BEGIN SELECT RAISE(ABORT, 'the triage log is append-only'); END;
"""
_COLUMNS = ("seq", "at", "kind", "actor", "actor_role", "run_id", "subject", "payload", "prev_hash", "hash")

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
EVENT_COLUMNS: dict[str, pl.DataType] = {
    "seq": pl.Int64, "at": pl.Datetime("us", "UTC"), "kind": pl.String, "actor": pl.String,
    "actor_role": pl.String, "run_id": pl.String, "subject": pl.String, "payload": pl.String,
}


class TriageError(RallypointError):
    """An event that cannot be recorded (missing note, unknown decision or kind)."""


@dataclass(frozen=True)
class Decision:
    run_id: str
    cluster_id: str
    decision: str
    note: str
    analyst: str
    member_ids: tuple[str, ...] = ()
    analyst_role: str = "analyst"


@dataclass(frozen=True)
class ChainState:
    """What :func:`verify` found: ``ok``, the rows checked, the head, and the first broken row."""

    ok: bool
    rows: int
    head: str
    broken_seq: int | None = None
    reason: str = ""

    def render(self) -> str:
        if self.ok:
            return f"The triage log is intact: {self.rows:,} rows, head {self.head}."
        return f"The triage log is broken at row {self.broken_seq}: {self.reason}."


def _row_hash(prev_hash: str, seq: int, at: str, kind: str, actor: str, actor_role: str,
              run_id: str | None, subject: str | None, payload: str) -> str:
    body = json.dumps([seq, at, kind, actor, actor_role, run_id, subject, payload], ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _canonical(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _now(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")


class TriageStore:
    """The triage log of one lake (``LAKE/triage.sqlite``). Opening it creates the tables if needed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.resolve() in _READY and self.path.exists():
            return  # every page view opens the store: create and migrate once per process
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con, con:
            con.executescript(_DDL)
        self._import_legacy_decisions()
        _READY.add(self.path.resolve())

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")  # readers never block the analyst who writes
        return con

    def version(self) -> tuple[int, ...]:
        """Changes whenever an event is added: the database's and its WAL file's times and sizes (two
        appends within one tick of the file system's clock still differ in size)."""
        wal = self.path.with_name(self.path.name + "-wal")
        return tuple(n for p in (self.path, wal) if p.exists() for n in (p.stat().st_mtime_ns, p.stat().st_size))

    # --- appending ------------------------------------------------------------------
    def append_event(self, kind: str, subject: str | None, actor: str, payload: dict | None = None, *,
                     run_id: str | None = None, actor_role: str = "", now: datetime | None = None) -> int:
        """Append one event to the chain; returns its sequence number.

        ``actor`` is the signed-in identity (never typed by the user); ``payload`` any JSON
        object. The row's hash covers the previous row's hash, so the chain grows by one link.
        """
        if kind not in EVENT_KINDS:
            raise TriageError(f"An event kind must be one of {', '.join(EVENT_KINDS)}, not {kind!r}.")
        if not str(actor or "").strip():
            raise TriageError("An event needs the signed-in actor.")
        body = _canonical(payload or {})
        at = _now(now)
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")  # one writer at a time: the chain has one head
            try:
                last = con.execute("SELECT seq, hash FROM log ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
                digest = _row_hash(prev, seq, at, kind, actor.strip(), actor_role, run_id, subject, body)
                con.execute(f"INSERT INTO log ({', '.join(_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (seq, at, kind, actor.strip(), actor_role, run_id, subject, body, prev, digest))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return seq

    def record(self, decision: Decision, now: datetime | None = None) -> int:
        """Append one decision; returns its sequence number. Refuses a missing note or actor."""
        verb = decision.decision.strip().lower()
        if verb not in DECISIONS:
            raise TriageError(f"A decision must be one of {', '.join(DECISIONS)}, not {decision.decision!r}.")
        if not decision.analyst.strip():
            raise TriageError("A decision needs the signed-in analyst.")
        if not decision.note.strip():
            raise TriageError("A decision needs a note saying why.")
        payload = {"decision": verb, "note": decision.note.strip(), "member_ids": sorted(decision.member_ids)}
        return self.append_event("decision", decision.cluster_id, decision.analyst, payload, run_id=decision.run_id,
                                 actor_role=decision.analyst_role, now=now)

    def comment(self, run_id: str, cluster_id: str, text: str, actor: str, actor_role: str,
                now: datetime | None = None) -> int:
        if not text.strip():
            raise TriageError("A comment cannot be empty.")
        return self.append_event("comment", cluster_id, actor, {"text": text.strip()}, run_id=run_id,
                                 actor_role=actor_role, now=now)

    def assign(self, run_id: str, cluster_id: str, assignee: str, actor: str, actor_role: str,
               now: datetime | None = None) -> int:
        return self.append_event("assign", cluster_id, actor, {"assignee": assignee.strip()}, run_id=run_id,
                                 actor_role=actor_role, now=now)

    # --- reading --------------------------------------------------------------------
    def events(self, kinds: tuple[str, ...] | None = None, run_id: str | None = None,
               subject: str | None = None) -> pl.DataFrame:
        """Events, oldest first, optionally of some kinds, one run and/or one subject."""
        where, args = [], []
        if kinds is not None:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            args += list(kinds)
        for column, value in (("run_id", run_id), ("subject", subject)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT seq, at, kind, actor, actor_role, run_id, subject, payload FROM log"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq"
        with closing(self._connect()) as con:
            rows = con.execute(sql, args).fetchall()
        frame = pl.DataFrame(rows, schema=[(c, pl.String if c == "at" else t) for c, t in EVENT_COLUMNS.items()],
                             orient="row")
        return frame.with_columns(pl.col("at").str.to_datetime(time_unit="us", time_zone="UTC"))

    def decisions(self, run_id: str | None = None, cluster_id: str | None = None) -> pl.DataFrame:
        """Decisions, oldest first, optionally of one run and/or one cluster."""
        events = self.events(("decision",), run_id=run_id, subject=cluster_id)
        if events.height == 0:
            return pl.DataFrame(schema=DECISION_COLUMNS)
        payload = events["payload"].str.json_decode(pl.Struct({"decision": pl.String, "note": pl.String,
                                                               "member_ids": pl.List(pl.String)}))
        return events.with_columns(payload.alias("p")).select(
            pl.col("seq").alias("decision_id"), "run_id", pl.col("subject").alias("cluster_id"),
            pl.col("p").struct.field("decision"),
            pl.col("p").struct.field("decision").replace_strict(DECISIONS, default=None).alias("status"),
            pl.col("p").struct.field("note"), pl.col("actor").alias("analyst"), pl.col("at").alias("decided_at"),
            pl.col("p").struct.field("member_ids"),
        ).cast(DECISION_COLUMNS)

    def verify(self) -> ChainState:
        """Walk the chain: the first row whose sequence, link or hash does not match breaks it."""
        with closing(self._connect()) as con:
            rows = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM log ORDER BY seq").fetchall()
        prev, expected = GENESIS, 1
        for seq, at, kind, actor, role, run_id, subject, payload, prev_hash, digest in rows:
            if seq != expected:
                return ChainState(False, len(rows), prev, expected,
                                  f"row {expected} is missing (the next row is {seq}): a row was deleted")
            if prev_hash != prev:
                return ChainState(False, len(rows), prev, seq, "its link does not match the previous row's hash: "
                                  "a row before it was changed or deleted")
            if _row_hash(prev_hash, seq, at, kind, actor, role, run_id, subject, payload) != digest:
                return ChainState(False, len(rows), prev, seq, "its content does not match its hash: it was changed")
            prev, expected = digest, seq + 1
        return ChainState(True, len(rows), prev)

    def head_at(self, seq: int) -> str | None:
        """The stored hash of row ``seq`` (compare with a head noted earlier), ``None`` if there is none."""
        with closing(self._connect()) as con:
            row = con.execute("SELECT hash FROM log WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else None

    def _import_legacy_decisions(self) -> None:
        """Move the decisions of a pre-chain ``decisions`` table into an empty log, oldest first, once."""
        with closing(self._connect()) as con:
            legacy = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'decisions'").fetchone()
            if not legacy or con.execute("SELECT 1 FROM log LIMIT 1").fetchone():
                return
            rows = con.execute("SELECT run_id, cluster_id, decision, note, analyst, decided_at, member_ids"
                               " FROM decisions ORDER BY decision_id").fetchall()
        for run_id, cluster_id, verb, note, analyst, decided_at, members in rows:
            self.append_event("decision", cluster_id, f"{analyst} (unverified, before sign-in)",
                              {"decision": verb, "note": note, "member_ids": json.loads(members)}, run_id=run_id,
                              actor_role="legacy", now=datetime.fromisoformat(decided_at))


def append_event(lake_or_path: str | os.PathLike[str], kind: str, subject: str | None, actor: str,
                 payload: dict | None = None, *, run_id: str | None = None, actor_role: str = "") -> int:
    """Append one event to the triage log of a lake folder (or a ``triage.sqlite`` path)."""
    return TriageStore(_log_path(lake_or_path)).append_event(kind, subject, actor, payload, run_id=run_id,
                                                              actor_role=actor_role)


def verify(lake_or_path: str | os.PathLike[str]) -> ChainState:
    """Check the hash chain of a lake's triage log (``rallypoint triage verify``)."""
    path = _log_path(lake_or_path)
    if not path.exists():
        raise RallypointError(f"There is no triage log at {path}.")
    return TriageStore(path).verify()


def _log_path(lake_or_path: str | os.PathLike[str]) -> Path:
    path = Path(lake_or_path)
    return path if path.suffix == ".sqlite" else path / "triage.sqlite"
