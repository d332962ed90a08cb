"""Benchmark ``rallypoint watch``: one new day of data against a full detect over the horizon.

Target (issue 18): on a 1M-record world, the watcher's cycle for one new day costs at most
20 % of a full ``detect`` over the same horizon, and writes the same run tables.

The script simulates and ingests a 1M-record world (cached under ``bench-output/watch/``),
lets a watcher (in a scratch lake on the same interactions) run the day before the last,
then times

* **watch**: the cycle that sees the last day (detect over the horizon, tracks, alerts);
* **full**: ``detect_run`` over the same ``[end - horizon, end)``, with the watcher's detect options;

and checks that the two runs' tables (edges, clusters, members, evidence) are identical.
Each timed step runs in a fresh process so its CPU time and peak memory are its own.

Where the watch cycle spends its time is reported from its ``run.json`` (each stage's wall
and CPU time): ``coaction_share_*`` is co-action's part of the stages, so one minus it is
about the least a cycle could cost against a full detect even if every co-action result
were reused, the other stages (communities, evidence, mobilization, ...) running as they do.

    .venv/bin/python benchmarks/watch.py [--records 1000000] [--seed 1] [--horizon 14d]

Not a test: run it by hand; the CPU is shared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-output" / "watch"
TARGET_SHARE = 0.20

_CHILD = r"""
import json, os, resource, sys, time
from datetime import datetime
step, lake, moment, horizon = sys.argv[1:5]
moment = datetime.fromisoformat(moment)
load_before = os.getloadavg()
start = time.perf_counter()
from rallypoint.watch.watcher import Watcher, WatchOptions, parse_duration
options = WatchOptions.from_cli(horizon=horizon)
if step == "full":
    from rallypoint.detectors.pipeline import detect_run
    # the watcher's own detect options (with the loose groups), so the tables can be the same
    run_id = detect_run(lake, options.detect, since=moment - parse_duration(horizon, "horizon"), until=moment,
                        show_progress=False).run_id
    alerts = None
else:
    result = Watcher(lake, options).cycle(as_of=moment)
    run_id, alerts = result.run_id, len(result.alerts)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"run_id": run_id, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "alerts": alerts,
                  "peak_gib": usage.ru_maxrss / 2**20, "load": [load_before, os.getloadavg()]}))
"""


def _child(step: str, lake: Path, moment: str, horizon: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD, step, str(lake), moment, horizon], cwd=REPO,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{step} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(n_records: int, seed: int) -> Path:
    """Simulate and ingest a world of about ``n_records`` records (cached)."""
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.simulate import simulate_world

    folder = OUT / f"{n_records}-{seed}"
    data, lake = folder / "data", folder / "lake"
    if not (folder / "ready").exists():
        start = time.perf_counter()
        simulate_world(data, accounts=max(5000, n_records // 40), days=14, seed=seed, records=n_records)
        ingest_sources(sorted(data.glob("interactions-*")), lake)
        print(f"  simulated and ingested in {time.perf_counter() - start:.0f} s", flush=True)
        (folder / "ready").write_text("ok")
    return lake


def identical(lake, run_a: str, run_b: str) -> dict[str, bool]:
    """Whether each run table of the two runs holds the same rows (order aside)."""
    import polars as pl

    from rallypoint.schema import RUN_TABLES

    out = {}
    for name in RUN_TABLES:
        a, b = (pl.from_arrow(lake.read_run_table(r, name)) for r in (run_a, run_b))
        keys = [c for c, t in a.schema.items() if not isinstance(t, pl.List | pl.Struct)]
        out[name] = a.sort(keys).equals(b.sort(keys))
    return out


def stage_shares(lake, run_id: str) -> dict:
    """The run's stage wall and CPU times (``run.json``), and co-action's share of each sum."""
    summary = lake.read_run_json(run_id)
    out = {}
    for key in ("timings", "cpu_seconds"):
        times = summary.get(key, {})
        total = sum(times.values())
        out[key] = times
        out[f"coaction_share_{key}"] = times.get("coaction", 0.0) / total if total else None
    return out


def scratch_lake(records: int, seed: int, name: str) -> Path:
    """A new lake of its own for a benchmark's runs, reading the cached world's interactions."""
    source = prepare(records, seed)
    scratch = OUT / f"{records}-{seed}" / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}"
    scratch.mkdir(parents=True)
    (scratch / "interactions").symlink_to(source.joinpath("interactions").resolve(), target_is_directory=True)
    return scratch


def world_parser(description: str) -> argparse.ArgumentParser:
    """The options of the watch benchmarks' world: its size, its seed and the detect horizon."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--horizon", default="14d")
    return parser


def main() -> None:
    from datetime import timedelta

    from rallypoint.lake import Lake

    args = world_parser(__doc__.splitlines()[0]).parse_args()
    scratch = scratch_lake(args.records, args.seed, "watch")
    days = sorted({p.parent.name.removeprefix("date=") for p in Lake(scratch).interaction_files()})
    from datetime import UTC, datetime

    end = datetime.strptime(days[-1], "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
    before = _child("watch", scratch, (end - timedelta(days=1)).isoformat(), args.horizon)
    print(f"  the day before: {before['wall']:.0f} s wall", flush=True)
    watch = _child("watch", scratch, end.isoformat(), args.horizon)
    print(f"  watch, one new day: {watch['wall']:.0f} s wall, {watch['cpu']:.0f} s CPU", flush=True)
    full = _child("full", scratch, end.isoformat(), args.horizon)
    print(f"  full detect: {full['wall']:.0f} s wall, {full['cpu']:.0f} s CPU", flush=True)
    same = identical(Lake(scratch), watch["run_id"], full["run_id"])
    share = watch["cpu"] / full["cpu"]
    stages = stage_shares(Lake(scratch), watch["run_id"])
    for key in ("timings", "cpu_seconds"):
        if stages[key]:
            print(f"  watch cycle's stages ({key}): " + ", ".join(f"{k} {v:.1f}s" for k, v in stages[key].items())
                  + f"; co-action {stages[f'coaction_share_{key}']:.1%} of them", flush=True)
    report = {"records": args.records, "seed": args.seed, "horizon": args.horizon, "day_before": before,
              "watch": watch, "full": full, "identical": same, "cpu_share": share, "watch_stages": stages,
              "target_share": TARGET_SHARE, "met": share <= TARGET_SHARE and all(same.values())}
    (scratch / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
