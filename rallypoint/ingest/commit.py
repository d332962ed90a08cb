"""The lake commit protocol: all of an ingest becomes visible, or none of it.

An ingest works only inside ``LAKE/_staging/INGEST_ID/`` until it is done:

1. *Stage.* Every file the ingest will add (``interactions/date=D/INGEST_ID.parquet``,
   ``rejected/INGEST_ID/*.parquet``) is written, complete, under the staging folder.
   Readers of the lake (``Lake.interaction_files``) never look there.
2. *Journal.* ``_staging/INGEST_ID/COMMIT.json`` is written atomically (temporary
   file + rename). It lists every move (staged path -> lake path) and the ingest log.
   Its existence is the commit point: before it, the ingest never happened; after
   it, the ingest has happened and only needs finishing.
3. *Roll forward.* Each staged file is renamed into place (``os.replace``, atomic on
   one file system; a move already done is skipped), the ingest log
   ``LAKE/ingests/INGEST_ID.json`` is written, and the staging folder removed.

Every ingest first takes the lake's lock (``flock`` on ``_staging/.lock``, released
by the kernel when a process dies, so a ``kill -9`` leaves no stale lock) and then
*recovers*: a staging folder with a journal is rolled forward, one without is
deleted. So after a killed ingest, the next one sees either the whole earlier
ingest or none of it, and re-running the killed ingest gives the lake of one clean
run (de-duplication on ``platform`` + ``id`` makes the re-run add only what is new).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Any

from rallypoint.errors import LakeError
from rallypoint.lake import Lake, write_json_atomic

JOURNAL = "COMMIT.json"
LOCK = ".lock"


class IngestLock:
    """An exclusive lock on the lake for one ingest (``with IngestLock(lake): ...``)."""

    def __init__(self, lake: Lake) -> None:
        self.path = lake.staging_dir / LOCK
        self.fd: int | None = None

    def __enter__(self) -> IngestLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self.fd)
            self.fd = None
            raise LakeError(f"Another ingest is writing to the lake at {self.path.parent.parent}; wait for it to finish.") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def recover(lake: Lake) -> dict[str, list[str]]:
    """Finish committed ingests and discard unfinished ones. Call under the lock."""
    done: dict[str, list[str]] = {"rolled_forward": [], "discarded": []}
    if not lake.staging_dir.exists():
        return done
    for stage in sorted(lake.staging_dir.iterdir()):
        if not stage.is_dir():
            continue
        if (stage / JOURNAL).exists():
            roll_forward(lake, stage)
            done["rolled_forward"].append(stage.name)
        else:
            shutil.rmtree(stage, ignore_errors=True)
            done["discarded"].append(stage.name)
    return done


def commit(lake: Lake, stage: Path, moves: list[tuple[Path, Path]], log: dict[str, Any]) -> None:
    """Write the journal (the commit point), then move everything into place."""
    root = lake.root.resolve()
    journal = {
        "ingest_id": stage.name,
        "moves": [[str(src.resolve().relative_to(root)), str(dst.resolve().relative_to(root))] for src, dst in moves],
        "log": log,
    }
    write_json_atomic(stage / JOURNAL, journal)
    roll_forward(lake, stage)


def roll_forward(lake: Lake, stage: Path) -> None:
    """Carry out a journal's moves (idempotent), write the ingest log, drop the stage."""
    journal = json.loads((stage / JOURNAL).read_text())
    for src, dst in journal["moves"]:
        src_path, dst_path = lake.root / src, lake.root / dst
        if src_path.exists():
            dst_path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src_path, dst_path)
        elif not dst_path.exists():
            raise LakeError(f"The ingest journal {stage / JOURNAL} names {src}, which is gone; the lake needs a look.")
    log_path = lake.ingests_dir / f"{journal['ingest_id']}.json"
    if not log_path.exists():
        write_json_atomic(log_path, journal["log"])
    shutil.rmtree(stage, ignore_errors=True)
