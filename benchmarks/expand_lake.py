"""Benchmark expand from the lake (``rallypoint.dashboard.expand.expand_from_lake``) and its touch index.

On a lake with a detection run: the five strongest members of its largest cluster (the Expand
tab's default seeds), 1 and 2 hops, cap 3,000 nodes. Each figure in a fresh Python process:

* ``index build``: ``touch_index.ensure`` on a lake without an index (``--rebuild`` deletes it
  first: give a copy of the lake, the index is written into it), with the process's peak memory;
* ``cold``: the first expand of a fresh process (one for 1 hop, one for 2) whose lake already
  has its index (a dashboard restarted, or started after its warm-up built the index);
* ``warm``: the same expand again in that process (``--repeat`` times; the dashboard's own
  cache would answer instantly, this is the computation itself).

    .venv/bin/python benchmarks/expand_lake.py LAKE [--rebuild] [--repeat 2]

Not a test: run it by hand; the CPU is shared, so read the load beside every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = 5
MAX_NODES = 3000

_CHILD = r"""
import json, resource, sys, time
t = time.perf_counter()
from rallypoint import touch_index
from rallypoint.dashboard.expand import expand_from_lake
from rallypoint.lake import Lake
lake, seeds, what, repeat, cap = Lake(sys.argv[1]), sys.argv[2].split(","), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
out = {"import_s": time.perf_counter() - t}
if what == "build":
    t = time.perf_counter(); touch_index.ensure(lake); out["build_s"] = time.perf_counter() - t
else:
    times = []
    for _ in range(repeat + 1):
        t = time.perf_counter(); c = expand_from_lake(lake, seeds, hops=int(what), max_nodes=cap)
        times.append(time.perf_counter() - t)
    out |= {"cold_s": times[0], "warm_s": times[1:], "accounts": c.n_accounts, "nodes": c.n_nodes,
            "edges": c.edges.height, "truncated": c.truncated}
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(lake: Path, seeds: list[str], what: str, repeat: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", _CHILD, str(lake), ",".join(seeds), what, str(repeat), str(MAX_NODES)],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def strongest_seeds(lake: Path) -> list[str]:
    import polars as pl

    from rallypoint.lake import Lake

    current = Lake(lake)
    members = pl.from_arrow(current.read_run_table(current.resolve_run("latest"), "members"))
    largest = members.group_by("cluster_id").len().sort("len", descending=True)["cluster_id"][0]
    chosen = members.filter(pl.col("cluster_id") == largest).sort("strength", descending=True, nulls_last=True)
    return chosen["account_id"].head(SEEDS).to_list()


def main() -> None:
    import pyarrow.parquet as pq

    from rallypoint import touch_index
    from rallypoint.lake import Lake

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", type=Path)
    parser.add_argument("--rebuild", action="store_true", help="Delete the lake's touch index and time its build.")
    parser.add_argument("--repeat", type=int, default=2, help="Warm expands after the cold one.")
    args = parser.parse_args()
    current = Lake(args.lake)
    records = sum(pq.read_metadata(p).num_rows for p in current.interaction_files())
    seeds = strongest_seeds(args.lake)
    results: dict = {"lake": str(args.lake), "records": records, "seeds": seeds, "load_before": os.getloadavg(),
                     "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if args.rebuild:
        shutil.rmtree(touch_index.index_dir(current), ignore_errors=True)
        results["build"] = child(args.lake, seeds, "build", 0)
    index_bytes = sum(p.stat().st_size for p in touch_index.index_dir(current).rglob("*.parquet"))
    results["index_mib"] = index_bytes / 2**20
    results["expand"] = {f"{hops}_hop": child(args.lake, seeds, str(hops), args.repeat) for hops in (1, 2)}
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=1))
    print(f"lake {args.lake}: {records:,} records; touch index {results['index_mib']:.0f} MiB")
    if "build" in results:
        print(f"index build {results['build']['build_s']:.2f} s, peak {results['build']['peak_rss_mib']:.0f} MiB")
    for hops in (1, 2):
        r = results["expand"][f"{hops}_hop"]
        warm = ", ".join(f"{s:.2f}" for s in r["warm_s"])
        print(f"expand {SEEDS} seeds {hops} hop(s) cap {MAX_NODES}: cold {r['cold_s']:.2f} s, warm {warm} s "
              f"({r['accounts']} accounts, {r['nodes']} nodes, truncated {r['truncated']})")
    peak = max(r["peak_rss_mib"] for r in results["expand"].values())
    print(f"expand process peak {peak:.0f} MiB; load {results['load_before']} -> {results['load_after']}")


if __name__ == "__main__":
    main()
