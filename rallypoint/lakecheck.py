"""``rallypoint lake check`` and ``rallypoint lake quarantine``: is every lake file whole?

``check_lake`` reads every Parquet file of the lake (interactions, rejected rows, run
tables) with page checksums verified, and compares the interaction files with the ingest
logs: each file belongs to a committed ingest, has the rows its log recorded
(``file_rows``, for ingests that recorded them), and every file a log names is present or
was quarantined. Each problem is one sentence; a damaged file's comes with the command
that sets it aside.

``quarantine`` moves files out of the lake (under the ingest lock, so no ingest is writing)
to ``LAKE/quarantine/`` and appends what it moved to ``LAKE/quarantine/quarantine.jsonl``;
readers never look there. Re-ingesting the sources of a quarantined file brings its
records back (the lake no longer holds their keys).

Complexity: one full read of every file (O(lake size)); memory one row group at a time.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rallypoint.errors import LakeError
from rallypoint.lake import Lake, check_parquet_file

__all__ = ["LakeReport", "check_lake", "quarantine"]

QUARANTINE_LOG = "quarantine.jsonl"


@dataclass
class LakeReport:
    """What ``check_lake`` found: files checked and one sentence per problem."""

    lake: str
    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        if self.ok:
            return f"lake check: {self.files:,} files in {self.lake}, all readable and matching the ingest log."
        lines = [f"lake check: {len(self.problems)} problem(s) in {self.files:,} files of {self.lake}:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def _quarantined(lake: Lake) -> set[str]:
    log = lake.quarantine_dir / QUARANTINE_LOG
    if not log.exists():
        return set()
    out = set()
    for line in log.read_text().splitlines():
        try:
            out.add(json.loads(line)["file"])
        except (ValueError, KeyError, TypeError):
            continue
    return out


def check_lake(lake: str | os.PathLike[str] | Lake) -> LakeReport:
    """Check every file of the lake; see the module doc."""
    lake = lake if isinstance(lake, Lake) else Lake(lake)
    lake.require()
    report = LakeReport(lake=str(lake.root))
    logs: dict[str, dict] = {}
    for ingest_id in lake.committed_ingests():
        path = lake.ingests_dir / f"{ingest_id}.json"
        try:
            logs[ingest_id] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            report.problems.append(f"The ingest log {path} cannot be read ({exc}).")
    expected: dict[str, int | None] = {}
    for log in logs.values():
        for rel, rows in (log.get("file_rows") or {}).items():
            expected[rel] = rows
    gone = _quarantined(lake)
    seen: set[str] = set()
    for f in lake.interaction_files():
        rel = str(f.relative_to(lake.root))
        seen.add(rel)
        report.files += 1
        if f.stem.startswith("ingest-") and f.stem not in logs:
            report.problems.append(f"The lake file {f} belongs to no committed ingest (no ingest log names it).")
        problem = check_parquet_file(f, expected.get(rel))
        if problem:
            report.problems.append(f"The lake file {f} is damaged ({problem}); set it aside with "
                                   f"`rallypoint lake quarantine --lake {lake.root} {f}` and re-ingest its source.")
    for rel in sorted(set(expected) - seen - gone):
        report.problems.append(f"The lake file {lake.root / rel}, written by an ingest, is missing.")
    others = sorted(lake.rejected_dir.glob("*/*.parquet")) if lake.rejected_dir.exists() else []
    others += sorted(lake.runs_dir.glob("*/*.parquet")) if lake.runs_dir.exists() else []
    for f in others:
        if f.name.startswith("."):
            continue
        report.files += 1
        problem = check_parquet_file(f)
        if problem:
            report.problems.append(f"The lake file {f} is damaged ({problem}); set it aside with "
                                   f"`rallypoint lake quarantine --lake {lake.root} {f}`.")
    return report


def quarantine(lake: str | os.PathLike[str] | Lake, files: list[str | os.PathLike[str]]) -> list[str]:
    """Move ``files`` (inside the lake) to ``LAKE/quarantine/``; returns their lake paths."""
    from rallypoint.ingest.commit import IngestLock

    lake = lake if isinstance(lake, Lake) else Lake(lake)
    lake.require()
    root = lake.root.resolve()
    targets = []
    for f in files:
        path = Path(f).resolve()
        if not path.is_relative_to(root) or path.is_relative_to(lake.quarantine_dir.resolve()):
            raise LakeError(f"{f} is not a file of the lake at {lake.root}.")
        if not path.is_file():
            raise LakeError(f"{f} is not a file of the lake at {lake.root}.")
        targets.append(path)
    moved = []
    with IngestLock(lake):
        for path in targets:
            rel = path.relative_to(root)
            dst = lake.quarantine_dir / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dst)
            with open(lake.quarantine_dir / QUARANTINE_LOG, "a", encoding="utf-8") as log:
                log.write(json.dumps({"file": str(rel), "at": datetime.now(UTC).isoformat()}) + "\n")
            moved.append(str(rel))
    return moved
