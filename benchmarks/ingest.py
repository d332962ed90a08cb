"""Ingest throughput and peak memory, against the floor of plain pyarrow.

For each size (records of synthetic canonical JSON Lines, made once and kept under
``bench-output/ingest/``), runs in fresh subprocesses, so each peak memory is its own:

* ``rallypoint`` - ``ingest_sources`` on the local scheduler (parse, validate,
  normalize, de-duplicate, date-partitioned zstd Parquet, atomic commit);
* ``floor`` - ``pyarrow.json.read_json`` + ``pyarrow.dataset.write_dataset`` (zstd
  Parquet) of the same file: parsing and writing, nothing else.

and prints records/s and its ratio to the floor's, CPU seconds and the floor's
share of ours (the steadier figure on a shared machine, where wall time depends on
what else runs), and peak resident memory (the max RSS of the process and its
children). Targets: rallypoint >= 70% of the floor's
throughput; peak < 2 GiB at 10M records. The floor is measured only up to
``--floor-max`` records, since reading a whole file into memory is what it does.

    python benchmarks/ingest.py                       # 2M (with floor) and 10M
    python benchmarks/ingest.py --sizes 200000        # a quick look
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-output" / "ingest"
GIB = 1024**3


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_bytes() -> int:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) * 1024  # Linux reports KiB


def run_rallypoint(source: Path, lake: Path) -> dict:
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.ingest.synthetic import write_canonical_jsonl

    # warm up on 100 records: first-use imports (dask, polars, readers) are a fixed
    # start-up cost of about a second, not throughput; the floor's imports are done too
    warm = lake.with_name(lake.name + "-warmup")
    ingest_sources([write_canonical_jsonl(warm / "in.jsonl", 100)], warm / "lake", show_progress=False)
    shutil.rmtree(warm, ignore_errors=True)
    shutil.rmtree(lake, ignore_errors=True)
    t0, c0 = time.perf_counter(), _cpu_seconds()
    summary = ingest_sources([source], lake, show_progress=False)
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    return {"seconds": seconds, "cpu": cpu, "records": summary.read, "written": summary.written,
            "peak_bytes": _peak_bytes()}


def run_floor(source: Path, out: Path) -> dict:
    import pyarrow.dataset as ds
    import pyarrow.json as pj

    shutil.rmtree(out, ignore_errors=True)
    t0, c0 = time.perf_counter(), _cpu_seconds()
    table = pj.read_json(source)
    ds.write_dataset(table, out, format="parquet",
                     file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"))
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    return {"seconds": seconds, "cpu": cpu, "records": table.num_rows, "written": table.num_rows,
            "peak_bytes": _peak_bytes()}


def measure(kind: str, source: Path) -> dict:
    """Run one measurement in a fresh interpreter and return its JSON result."""
    code = (
        "import json, sys; sys.path[:0] = [{!r}, {!r}]; from pathlib import Path; import ingest as b; "
        "print(json.dumps(b.run_{}(Path({!r}), Path({!r}))))"
    ).format(str(REPO / "benchmarks"), str(REPO), kind, str(source), str(OUT / f"{kind}-{source.stem}"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000000,10000000", help="Comma list of record counts.")
    parser.add_argument("--floor-max", type=int, default=2_000_000, help="Largest size the floor is run at.")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from rallypoint.ingest.synthetic import write_canonical_jsonl

    print(f"{'records':>12} {'run':>11} {'seconds':>9} {'records/s':>11} {'vs floor':>9} "
          f"{'CPU s':>8} {'CPU vs floor':>12} {'peak MiB':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        source = OUT / f"canonical-{size}.jsonl"
        if not source.exists():
            write_canonical_jsonl(source, size, duplicate_every=100)
        floor = measure("floor", source) if size <= args.floor_max else None
        ours = measure("rallypoint", source)
        for name, result in (("floor", floor), ("rallypoint", ours)):
            if result is None:
                continue
            rate = result["records"] / result["seconds"]
            ratio = f"{rate / (floor['records'] / floor['seconds']):.0%}" if floor else "-"
            cpu_ratio = f"{floor['cpu'] / result['cpu']:.0%}" if floor else "-"
            print(f"{size:>12,} {name:>11} {result['seconds']:>9.1f} {rate:>11,.0f} {ratio:>9} "
                  f"{result['cpu']:>8.1f} {cpu_ratio:>12} {result['peak_bytes'] / 2**20:>9,.0f}")
        if ours["peak_bytes"] >= 2 * GIB:
            print(f"  note: peak memory {ours['peak_bytes'] / GIB:.2f} GiB is over the 2 GiB target")


if __name__ == "__main__":
    main()
