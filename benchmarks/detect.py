"""Benchmark ``rallypoint detect`` on simulated worlds of 1M and 10M records.

Targets (issues #4-8, #17): 10M records in under 3 minutes with under 8 GiB peak memory
in one process on a 2-core machine, with the 1M quality. For each size the script simulates a
world (heavy-tailed: a few posts reposted ~100k times at 10M), ingests it into a lake
(both cached under ``bench-output/``), then runs ``detect`` in a fresh process so that
its peak memory (``ru_maxrss``) is its own, and prints the time per stage, the peak
memory, the evaluation against the planted labels, and how each cost grows from one
size to the next.

    .venv/bin/python benchmarks/detect.py                 # 1M and 10M
    .venv/bin/python benchmarks/detect.py --sizes 1000000 # 1M only

Not a test: run it by hand or with ``make bench``; the CPU is shared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-output" / "detect"
TARGET_SECONDS_10M = 180
TARGET_GIB_10M = 8.0

_CHILD = r"""
import json, os, resource, sys, time
from rallypoint.allocator import limit_arenas
limit_arenas()  # before numpy, as the detect command does
from rallypoint.detectors.pipeline import detect_run
from rallypoint.detectors.evaluate import evaluate_run
lake, labels = sys.argv[1], sys.argv[2]
load_before = os.getloadavg()
start = time.perf_counter()
result = detect_run(lake, show_progress=False)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu, load_after = usage.ru_utime + usage.ru_stime, os.getloadavg()
report = evaluate_run(lake, result.run_id, labels)
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"wall": wall, "cpu": cpu, "load_before": load_before, "load_after": load_after,
                  "coaction_stats": result.summary.get("coaction_stats"), "timings": result.summary["timings"], "counts": result.summary["counts"],
                  "peak_mib": result.summary["peak_memory_mib"],
                  "peak_gib": peak_kib / 2**20, "evaluation": {"overall": report["overall"],
                  "by_kind": report["by_kind"], "organic_accounts_flagged": report["organic_accounts_flagged"],
                  "campaigns": [{k: c[k] for k in ("campaign_id", "kind", "accounts", "flagged", "recall", "rank")}
                                for c in report["campaigns"]]}}))
"""


def prepare(n_records: int, seed: int) -> tuple[Path, Path]:
    """Simulate and ingest a world of about ``n_records`` records (cached)."""
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.simulate import simulate_world

    folder = OUT / f"{n_records}"
    data, lake = folder / "data", folder / "lake"
    if not (folder / "ready").exists():
        start = time.perf_counter()
        simulate_world(data, accounts=max(5000, n_records // 40), days=14, seed=seed, records=n_records)
        print(f"  simulated {n_records:,} records in {time.perf_counter() - start:.0f} s", flush=True)
        start = time.perf_counter()
        ingest_sources(sorted(data.glob("interactions-*")), lake)
        print(f"  ingested in {time.perf_counter() - start:.0f} s", flush=True)
        (folder / "ready").write_text("ok")
    return lake, data / "labels.csv"


def run_detect(lake: Path, labels: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(lake), str(labels)], cwd=REPO,
                          capture_output=True, text=True)
    if done.returncode != 0:
        how = f"killed by signal {-done.returncode}" if done.returncode < 0 else f"exit {done.returncode}"
        raise SystemExit(f"detect failed on {lake} ({how}; a SIGKILL is usually the OOM killer):\n"
                         f"{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="Comma list of record counts.")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    for n in sizes:
        print(f"== {n:,} records", flush=True)
        lake, labels = prepare(n, args.seed)
        r = run_detect(lake, labels)
        results[n] = r
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in r["timings"].items())
        # CPU time (detect and evaluation) says more than wall time on a shared machine
        print(f"  detect {r['wall']:.1f} s wall, {r['cpu']:.1f} CPU-s, peak {r['peak_gib']:.2f} GiB; "
              f"load average {r['load_before'][0]:.1f} before, {r['load_after'][0]:.1f} after; {stages}")
        print(f"  {r['counts']}")
        co = r.get("coaction_stats") or {}
        print("  co-action: " + ", ".join(f"{k} {co[k]:,}" for k in (
            "share_events", "pairs_in_window", "pairs_formed", "pairs_capped", "partitions", "spilled_rows",
            "candidate_edges", "edges") if isinstance(co.get(k), int)))
        print("  peak memory after each stage (MiB): " + ", ".join(f"{k} {v:,.0f}" for k, v in r["peak_mib"].items()))
        ev = r["evaluation"]
        print(f"  accounts: {ev['overall']}; by kind: {ev['by_kind']}; organic flagged: "
              f"{ev['organic_accounts_flagged']}")
        for c in ev["campaigns"]:
            print(f"    {c}")
        if n >= 10_000_000:
            ok = r["wall"] < TARGET_SECONDS_10M and r["peak_gib"] < TARGET_GIB_10M
            print(f"  target (< {TARGET_SECONDS_10M} s, < {TARGET_GIB_10M} GiB at 10M): {'met' if ok else 'MISSED'}")
    for small, large in zip(sizes, sizes[1:], strict=False):
        a, b = results[small], results[large]
        print(f"== growth {small:,} -> {large:,} records (x{large / small:g})")
        print(f"  total x{b['wall'] / a['wall']:.1f} wall, x{b['cpu'] / a['cpu']:.1f} CPU, "
              f"peak memory x{b['peak_gib'] / a['peak_gib']:.1f}")
        for stage, t in b["timings"].items():
            base = a["timings"].get(stage) or 1e-9
            print(f"  {stage:<13} {base:8.1f} s -> {t:8.1f} s  (x{t / base:.1f})")
    (OUT / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
