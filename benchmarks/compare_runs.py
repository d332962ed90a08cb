"""Compare two detection runs table by table, cell for cell: do they say the same thing?

    .venv/bin/python benchmarks/compare_runs.py LAKE/runs/RUN_A LAKE/runs/RUN_B

Every run table (``*.parquet``) of either run must exist in both with the same schema,
the same rows in the same order and the same value in every cell (nulls equal nulls,
NaN equals NaN, nothing else is tolerated); ``run.json`` must agree on everything but
what names or times the run itself (:data:`RUN_OWN_KEYS`, :data:`TIMING_KEYS`). Prints one line per table
and exits 1 on the first kind of difference it finds in any of them.

A refactoring that must not change behaviour is checked by running ``detect`` before
and after it on the same lake (``--run-id before`` / ``--run-id after``) and comparing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

#: run.json keys that name or time the run, not what it found.
RUN_OWN_KEYS = ("run_id", "started", "finished", "timings", "cpu_seconds", "peak_memory_mib")
#: Keys at any depth of run.json that hold what a step cost, a duration or memory
#: (``coaction_stats.seconds``, ``partition.peak_memory_mib``); ``window_seconds`` is a
#: parameter, so they are named here one by one.
TIMING_KEYS = (
    "seconds",
    "cpu_seconds",
    "peak_memory_mib",
    "pairing_seconds",
    "pairing_cpu_seconds",
    "buckets_seconds",
    "buckets_cpu_seconds",
)
#: Rows of a nested column turned into Python objects at a time.
SLICE_ROWS = 100_000


def without_timings(value):
    """``value`` with every :data:`TIMING_KEYS` entry of its dicts left out, at any depth."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def column_differences(a: pl.Series, b: pl.Series) -> int:
    """Rows where two columns of the same type differ (null = null, NaN = NaN)."""
    if a.dtype.is_float():
        same = (a.is_null() & b.is_null()) | (a.is_nan() & b.is_nan()).fill_null(False) | (a == b).fill_null(False)
        return int((~same).sum())
    if a.dtype.is_nested() or a.dtype == pl.Object:
        # nested values (lists of structs) compared whole, row by row, a slice at a time: a 10M
        # run's columns as Python objects do not fit in memory at once; NaN inside them is rare
        return sum(x != y for start in range(0, len(a), SLICE_ROWS)
                   for x, y in zip(a.slice(start, SLICE_ROWS).to_list(), b.slice(start, SLICE_ROWS).to_list(),
                                   strict=True))
    same = (a.is_null() & b.is_null()) | (a == b).fill_null(False)
    return int((~same).sum())


def compare_table(a: Path, b: Path) -> str | None:
    """None when the two Parquet files hold the same table; else what differs, in one line."""
    ta, tb = pq.read_table(a), pq.read_table(b)
    if not ta.schema.equals(tb.schema, check_metadata=False):
        return f"schemas differ: {ta.schema} vs {tb.schema}"
    if ta.num_rows != tb.num_rows:
        return f"{ta.num_rows:,} rows vs {tb.num_rows:,}"
    fa, fb = pl.from_arrow(ta), pl.from_arrow(tb)
    differing = {name: n for name in fa.columns if (n := column_differences(fa[name], fb[name]))}
    if differing:
        return "cells differ in " + ", ".join(f"{k} ({v:,} rows)" for k, v in differing.items())
    return None


def compare_runs(a: Path, b: Path) -> list[str]:
    """One line per table and for run.json; lines starting with 'DIFF' are differences."""
    lines = []
    names = sorted({p.name for p in a.glob("*.parquet")} | {p.name for p in b.glob("*.parquet")})
    for name in names:
        if not (a / name).exists() or not (b / name).exists():
            lines.append(f"DIFF {name}: only in {'the second' if (b / name).exists() else 'the first'} run")
            continue
        problem = compare_table(a / name, b / name)
        rows = pq.read_metadata(a / name).num_rows
        lines.append(f"DIFF {name}: {problem}" if problem else f"same {name}: {rows:,} rows")
    ja, jb = (without_timings(json.loads((d / "run.json").read_text())) for d in (a, b))
    for key in sorted(set(ja) | set(jb)):
        if key in RUN_OWN_KEYS:
            continue
        if ja.get(key) != jb.get(key):
            lines.append(f"DIFF run.json {key}: {ja.get(key)!r} vs {jb.get(key)!r}")
    if not any(line.startswith("DIFF run.json") for line in lines):
        lines.append(f"same run.json (parameters: {json.dumps(ja['parameters'], sort_keys=True)})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    args = parser.parse_args(argv)
    lines = compare_runs(args.first, args.second)
    print("\n".join(lines))
    return 1 if any(line.startswith("DIFF") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
