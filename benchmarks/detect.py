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
    .venv/bin/python benchmarks/detect.py --sizes 10000000 --cluster 2x6GiB

``--cluster NxMEM`` also runs detect with ``--scheduler`` on a ``distributed.LocalCluster``
of N worker processes (one thread each, MEM memory limit each, spilling to a folder beside
the lake) started by the detecting process, and prints both times, the driver's and each
worker's peak memory, the spill folder's largest size, and whether every run table is
identical to the in-process run's (``compare_runs.py``). The in-process run is a fresh one
unless ``--in-process-run RUN_ID`` names one already in the lake (same code, same lake);
``--cluster-only`` skips it, for sizes one process cannot hold (30M).

Not a test: run it by hand or with ``make bench``; the CPU is shared.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-output" / "detect"
TARGET_SECONDS_10M = 180
TARGET_GIB_10M = 8.0

_CHILD = r"""
import json, os, resource, sys, threading, time
from rallypoint.allocator import limit_arenas
limit_arenas()  # before numpy, as the detect command does
from rallypoint.detectors.pipeline import detect_run
from rallypoint.detectors.evaluate import evaluate_run
lake, labels, cluster, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])

def usage():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime, u.ru_maxrss / 2**20

def folder_bytes(root):
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total

def watch_spill(root, peak, done):
    while not done.wait(2.0):
        peak[0] = max(peak[0], folder_bytes(root))

def apart_rss():
    # resident bytes of this process and of the processes it runs calls in (rallypoint.apart)
    page = os.sysconf("SC_PAGE_SIZE")
    total = int(open("/proc/self/statm").read().split()[1])
    for task in os.listdir("/proc/self/task"):
        for pid in open(f"/proc/self/task/{task}/children").read().split():
            try:
                # after its exec only: until then a child shares this process's pages
                if open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[1:3] == [b"-m", b"rallypoint.apart"]:
                    total += int(open(f"/proc/{pid}/statm").read().split()[1])
            except OSError:
                pass
    return total * page

def watch_memory(peak, done):
    while not done.wait(0.2):
        peak[0] = max(peak[0], apart_rss())

load_before = os.getloadavg()
workers = {}
if cluster:
    from distributed import Client, LocalCluster
    local = LocalCluster(n_workers=cluster["workers"], threads_per_worker=1, processes=True,
                         memory_limit=cluster["memory"], local_directory=cluster["spill"],
                         dashboard_address=None)
    client = Client(local)
    spill_peak, spill_done = [0], threading.Event()
    threading.Thread(target=watch_spill, args=(cluster["spill"], spill_peak, spill_done), daemon=True).start()
# the partition may run in a process of its own (rallypoint.apart) beside this one: the two
# processes' memory together, sampled, is the run's
together, memory_done = [0], threading.Event()
threading.Thread(target=watch_memory, args=(together, memory_done), daemon=True).start()
start = time.perf_counter()
result = detect_run(lake, show_progress=False, scheduler=local.scheduler_address if cluster else None, **options)
wall = time.perf_counter() - start
memory_done.set()
cpu, _ = usage()
partition = result.summary["partition"]
# a partition run apart: its CPU too (the cluster's workers are children as well, counted apart)
cpu += partition["cpu_seconds"] if partition["process"] == "separate" else 0.0
if cluster:
    spill_done.set()
    workers = {"peak_gib": client.run(lambda: usage()[1]), "cpu": client.run(lambda: usage()[0]),
               "spill_peak_gib": max(spill_peak[0], folder_bytes(cluster["spill"])) / 2**30}
    client.close()
    local.close()
    # every worker process the run had, a restarted one too (the largest that ended); a partition run
    # apart is a child too, and Linux starts its figure from this process's peak when it started
    workers["largest_ended_gib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
load_after = os.getloadavg()
report = evaluate_run(lake, result.run_id, labels)
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"run_id": result.run_id, "workers": workers,
                  "wall": wall, "cpu": cpu, "load_before": load_before, "load_after": load_after,
                  "coaction_stats": result.summary.get("coaction_stats"), "timings": result.summary["timings"], "counts": result.summary["counts"],
                  "peak_mib": result.summary["peak_memory_mib"],
                  "peak_gib": max(peak_kib / 2**20, together[0] / 2**30), "peak_self_gib": peak_kib / 2**20,
                  "partition": partition, "evaluation": {"overall": report["overall"],
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


#: detect options the benchmark runs with (``--pair-budget``), beside their defaults
OPTIONS: dict = {}


def run_detect(lake: Path, labels: Path, cluster: dict | None = None) -> dict:
    """``detect`` (and the evaluation) in a fresh process; on a LocalCluster with ``cluster``."""
    done = subprocess.run([sys.executable, "-c", _CHILD, str(lake), str(labels), json.dumps(cluster),
                           json.dumps(OPTIONS)], cwd=REPO,
                          capture_output=True, text=True)
    # Dask's warnings (workers paused, spilling, restarted by the nanny) for the record, a failed run's too
    (lake.parent / f"detect-{'cluster' if cluster else 'in-process'}.log").write_text(done.stderr)
    if done.returncode != 0:
        how = f"killed by signal {-done.returncode}" if done.returncode < 0 else f"exit {done.returncode}"
        raise SystemExit(f"detect failed on {lake} ({how}; a SIGKILL is usually the OOM killer):\n"
                         f"{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_cluster(spec: str) -> tuple[int, str]:
    """``"2x6GiB"`` -> ``(2, "6GiB")``: worker processes and each one's memory limit."""
    workers, _, memory = spec.partition("x")
    if not workers.isdigit() or int(workers) < 1 or not memory:
        raise argparse.ArgumentTypeError(f"--cluster takes WORKERSxMEMORY such as 2x6GiB, not {spec!r}")
    return int(workers), memory


def in_process_run(lake: Path, labels: Path, run_id: str | None) -> dict:
    """A fresh in-process run, or what ``run_id``'s run.json says of an earlier one (same lake and code)."""
    if run_id is None:
        return run_detect(lake, labels)
    summary = json.loads((lake / "runs" / run_id / "run.json").read_text())
    if summary["parameters"].get("scheduler"):
        raise SystemExit(f"run {run_id} ran on {summary['parameters']['scheduler']}, not in process")
    return {"run_id": run_id, "wall": sum(summary["timings"].values()), "cpu": sum(summary["cpu_seconds"].values()),
            "timings": summary["timings"], "counts": summary["counts"], "peak_gib": max(summary["peak_memory_mib"].values()) / 1024,
            "earlier": summary["started"]}


def report(r: dict) -> None:
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in r["timings"].items())
    # CPU time (detect and evaluation) says more than wall time on a shared machine
    apart = r.get("partition", {}).get("process") == "separate"
    together = f" (this process {r['peak_self_gib']:.2f}, with the partition's beside it)" if apart else ""
    print(f"  detect {r['wall']:.1f} s wall, {r['cpu']:.1f} CPU-s, peak {r['peak_gib']:.2f} GiB{together}; "
          f"load average {r['load_before'][0]:.1f} before, {r['load_after'][0]:.1f} after; {stages}")
    print(f"  {r['counts']}")
    if apart:
        part = r["partition"]
        print(f"  partition in a process of its own: {part['seconds']:.1f} s, {part['cpu_seconds']:.1f} CPU-s, "
              f"its peak {part['peak_memory_mib'] / 1024:.2f} GiB")
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


def on_cluster(n: int, lake: Path, labels: Path, spec: tuple[int, str], reuse: str | None,
               compare: bool = True) -> dict:
    """The in-process run and the LocalCluster run of one lake: both times, memory, identical
    tables; without ``compare``, the LocalCluster run alone."""
    from compare_runs import compare_runs

    local = in_process_run(lake, labels, reuse) if compare else None
    if compare and reuse is None:
        report(local)
    workers, memory = spec
    spill = lake.parent / "cluster-spill"
    shutil.rmtree(spill, ignore_errors=True)
    spill.mkdir()
    try:
        print(f"== {n:,} records on a LocalCluster of {workers} x {memory}", flush=True)
        r = run_detect(lake, labels, {"workers": workers, "memory": memory, "spill": str(spill)})
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    report(r)
    w = r["workers"]
    print(f"  driver peak {r['peak_gib']:.2f} GiB (with the scheduler and the nannies), {r['cpu']:.1f} CPU-s; "
          f"workers' peaks " + ", ".join(f"{v:.2f}" for v in w["peak_gib"].values()) + " GiB (largest child that ended, a partition run apart included: "
          f"{w['largest_ended_gib']:.2f}), their CPU " + ", ".join(f"{v:.1f}" for v in w["cpu"].values()) +
          f" s; spill folder at most {w['spill_peak_gib']:.2f} GiB")
    if local is None:
        return {"cluster": r}
    earlier = f" (run {local['run_id']} of {local['earlier']})" if reuse else ""
    print(f"  times: in process {local['wall']:.1f} s wall, {local['cpu']:.1f} CPU-s{earlier}; on the cluster "
          f"{r['wall']:.1f} s wall, {r['cpu'] + sum(w['cpu'].values()):.1f} CPU-s (driver and workers)")
    lines = compare_runs(lake / "runs" / local["run_id"], lake / "runs" / r["run_id"])
    tables = [line for line in lines if not line.startswith(("DIFF run.json", "same run.json"))]
    print("  tables: " + "; ".join(tables))
    same = all(line.startswith("same") for line in tables)
    print(f"  run tables {'IDENTICAL, table for table' if same else 'DIFFER'} "
          f"({local['run_id']} in process, {r['run_id']} on the cluster)")
    return {"in_process": local, "cluster": r, "identical": same, "comparison": lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="Comma list of record counts.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cluster", type=parse_cluster, metavar="NxMEM",
                        help="Also run on a LocalCluster of N workers of MEM each (e.g. 2x6GiB) and compare.")
    parser.add_argument("--in-process-run", metavar="RUN_ID",
                        help="With --cluster: compare with this earlier in-process run of the lake instead of a fresh one.")
    parser.add_argument("--pair-budget", type=int, metavar="PAIRS",
                        help="detect's --pair-budget (smaller partitions: smaller tasks on the workers).")
    parser.add_argument("--cluster-only", action="store_true",
                        help="With --cluster: no in-process run to compare with (sizes one process cannot hold).")
    args = parser.parse_args()
    if (args.cluster_only or args.in_process_run) and not args.cluster:
        parser.error("--cluster-only and --in-process-run go with --cluster")
    if args.pair_budget is not None:
        OPTIONS["pair_budget"] = args.pair_budget
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    for n in sizes:
        print(f"== {n:,} records", flush=True)
        lake, labels = prepare(n, args.seed)
        if args.cluster:
            results[n] = on_cluster(n, lake, labels, args.cluster, args.in_process_run, not args.cluster_only)
            continue
        r = run_detect(lake, labels)
        results[n] = r
        report(r)
        if n >= 10_000_000:
            ok = r["wall"] < TARGET_SECONDS_10M and r["peak_gib"] < TARGET_GIB_10M
            print(f"  target (< {TARGET_SECONDS_10M} s, < {TARGET_GIB_10M} GiB at 10M): {'met' if ok else 'MISSED'}")
    for small, large in zip(sizes, sizes[1:], strict=False):
        if args.cluster:
            break
        a, b = results[small], results[large]
        print(f"== growth {small:,} -> {large:,} records (x{large / small:g})")
        print(f"  total x{b['wall'] / a['wall']:.1f} wall, x{b['cpu'] / a['cpu']:.1f} CPU, "
              f"peak memory x{b['peak_gib'] / a['peak_gib']:.1f}")
        for stage, t in b["timings"].items():
            base = a["timings"].get(stage) or 1e-9
            print(f"  {stage:<13} {base:8.1f} s -> {t:8.1f} s  (x{t / base:.1f})")
    name = "results-cluster.json" if args.cluster else "results.json"
    (OUT / name).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
