"""What an ingest did, printed by the CLI and kept as ``LAKE/ingests/INGEST_ID.json``.

The dashboard's data-health page reads the JSON: ``ingest_id``, ``sources`` (path,
format, read, valid, rejected, rejected_by_reason), ``format`` (as asked),
``read`` (records read, bad ones included), ``written`` (new records added to the
lake), ``duplicates`` (valid records already in the lake or earlier in the same
batch, by ``platform`` + ``id``), ``rejected`` and ``rejected_by_reason``, the
committed ``files``, the ``skipped`` folder files in no known format, ``started``/``finished`` (UTC ISO 8601), ``seconds`` and the
per-step ``timings``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SourceCounts:
    path: str
    format: str
    read: int = 0
    valid: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass
class IngestSummary:
    ingest_id: str
    lake: str
    format: str
    started: str
    finished: str = ""
    seconds: float = 0.0
    read: int = 0
    written: int = 0
    duplicates: int = 0
    duplicates_in_lake: int = 0
    duplicates_in_batch: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    sources: list[SourceCounts] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: rows of each committed file, by its path inside the lake (``lake check`` compares them)
    file_rows: dict[str, int] = field(default_factory=dict)
    #: rejected rows not written again: an earlier ingest already recorded them
    rejected_already_recorded: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    recovered: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    neo4j: dict[str, Any] | None = None

    @property
    def rejected_files_dir(self) -> str:
        return f"{self.lake}/rejected/{self.ingest_id}"

    def add_rejections(self, reasons: Counter) -> None:
        merged = Counter(self.rejected_by_reason) + reasons
        self.rejected_by_reason = dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0])))
        self.rejected = sum(merged.values())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        """The summary as the CLI prints it."""
        rate = self.read / self.seconds if self.seconds else 0.0
        lines = [
            f"ingest {self.ingest_id} into {self.lake}",
            f"  read        {self.read:>12,}  from {len(self.sources)} source file(s) in {self.seconds:.1f} s ({rate:,.0f} records/s)",
            f"  written     {self.written:>12,}  new records in {len(self.files)} date partition file(s)",
            f"  duplicates  {self.duplicates:>12,}  ({self.duplicates_in_lake:,} already in the lake, "
            f"{self.duplicates_in_batch:,} repeated within this ingest)",
            f"  rejected    {self.rejected:>12,}" + (f"  (see {self.rejected_files_dir})" if self.rejected else ""),
        ]
        for reason, count in self.rejected_by_reason.items():
            lines.append(f"    {count:>10,}  {reason}")
        if self.rejected_already_recorded:
            lines.append(f"    {self.rejected_already_recorded:>10,}  of them already recorded by an earlier ingest "
                         "(not written again)")
        for item in self.skipped:
            lines.append(f"  skipped     {item['path']} ({item.get('why', 'in no known format')})")
        if self.recovered.get("rolled_forward") or self.recovered.get("discarded"):
            lines.append(
                f"  recovered   an interrupted ingest: {len(self.recovered.get('rolled_forward', []))} finished, "
                f"{len(self.recovered.get('discarded', []))} discarded"
            )
        if self.neo4j is not None:
            lines.append(f"  neo4j       {self.neo4j}")
        return "\n".join(lines)
