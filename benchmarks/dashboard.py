"""Benchmark the analysts' dashboard in Chromium on a 20,000-account world.

Targets (issue 20): the queue of 100 cards and each tab of the largest cluster render in under
2 s; expand answers in under 2 s; the server's memory stays bounded as an analyst opens cluster
after cluster. The world is simulated, ingested and detected once (cached under
``bench-output/dashboard/``); then ``rallypoint dashboard --no-auth`` runs on it and headless
Chromium (``/usr/bin/chromium``, Playwright) opens, each a given number of times (the first a
cold view that reads, lays out and draws; the next ones warm, from the server's caches):

* the queue, unfiltered, 100 cards a page, until every card is drawn;
* each tab of the largest cluster, by its address, until it is drawn (the network until its
  picture is loaded and listening for clicks, the timeline until its picture is loaded);
* the Expand tab's expand of the five strongest members (1 hop, from the lake) until the
  node count is shown; and, with ``--neo4j URI``, ``expand_from_neo4j`` on five accounts of the
  graph already loaded there (read only; the graph's size is printed; without one it says so);
* the server's resident memory (its process tree) after opening the network and the timeline
  of the 10 largest clusters one after another.

The first view comes once the server has printed that its warm-up is done
(:mod:`rallypoint.dashboard.warm`: imports, the newest run's tables, its largest networks),
as an analyst signing in gives it the time to; ``--no-wait-warm`` opens it as soon as the
server answers instead. Prints wall seconds per step, the server's start and warm-up times
and the load average; writes them to ``bench-output/dashboard/results.json``
(``results-STEPS.json`` with ``--only``, ``-no-wait`` with ``--no-wait-warm``; the server's
output in ``server.log``).

    .venv/bin/python benchmarks/dashboard.py [--accounts 20000] [--repeat 3] [--neo4j bolt://127.0.0.1:7687]
        [--lake LAKE] [--only queue|tabs|expand|memory ...] [--no-wait-warm]

Not a test: run it by hand; the CPU is shared, so read the load beside every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-output" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
TARGET_SECONDS = 2.0
#: The benchmark's steps, in the order they run (``--only`` picks some).
STEPS = ("queue", "tabs", "expand", "memory")
SETTLED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app && app.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelectorAll('[data-testid="stSkeleton"], [data-testid="stAppSkeleton"]').length === 0
        && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(c => c.querySelector('.main-svg'))
        && [...document.querySelectorAll('[data-testid="stImage"] img')].every(i => i.complete && i.naturalWidth > 0); }"""
PICTURE_READY = """key => { const frame = document.querySelector(`.st-key-${key} iframe`);
    const img = frame && frame.contentDocument && frame.contentDocument.getElementById('image');
    return !!(img && img.complete && img.naturalWidth > 0 && img.onmousedown); }"""


def prepare(accounts: int) -> Path:
    """Simulate, ingest and detect a world of ``accounts`` ordinary accounts (cached)."""
    from rallypoint.detectors.pipeline import detect_run
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.simulate import simulate_world

    folder = OUT / f"world-{accounts}"
    lake = folder / "lake"
    if not (folder / "ready").exists():
        start = time.perf_counter()
        simulate_world(folder / "data", accounts=accounts, days=14, seed=1)
        ingest_sources(sorted((folder / "data").glob("interactions-*")), lake)
        detect_run(lake, show_progress=False)
        (folder / "ready").write_text("ok")
        print(f"  world of {accounts:,} accounts simulated, ingested and detected in "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    return lake


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: The line the server prints once its warm-up is done (rallypoint.dashboard.warm).
WARM_LINE = "rallypoint dashboard warm:"


@contextlib.contextmanager
def dashboard(lake: Path, *options: str, wait_warm: bool = True, timings: dict | None = None):
    """Serve ``lake`` (``--no-auth``); yield its address and process id once it answers and, with
    ``wait_warm``, once its warm-up is done (as an analyst signing in gives it time to).
    ``timings`` gets the seconds to the health check's answer and from it to the warm-up's end."""
    port = _free_port()
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / "server.log"
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rallypoint.cli", "dashboard", "--lake", str(lake), "--port",
                                 str(port), "--no-auth", *options], stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    timings = {} if timings is None else timings
    try:
        for _ in range(360):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.25)
        timings["server_answered_after_seconds"] = round(time.perf_counter() - start, 2)
        healthy = time.perf_counter()
        while wait_warm and WARM_LINE not in log.read_text() and time.perf_counter() - healthy < 300:
            time.sleep(0.1)
        if wait_warm:
            timings["warm_up_seconds"] = round(time.perf_counter() - healthy, 2)
            timings["warm_up_said"] = next((line for line in log.read_text().splitlines() if WARM_LINE in line), None)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def rss_mib(root: int) -> float:
    """Resident memory of process ``root`` and its descendants, MiB (from /proc)."""
    parent, rss = {}, {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        pid = int(status.parent.name)
        parent[pid] = int(fields["PPid"])
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
    tree, frontier = {root}, [root]
    while frontier:
        frontier = [p for p, pp in parent.items() if pp in frontier and p not in tree]
        tree.update(frontier)
    return sum(rss.get(p, 0.0) for p in tree)


def timed(page, address: str, ready=None, arg=None) -> float:
    """Wall seconds from navigating to ``address`` until the page has settled (and ``ready`` holds)."""
    start = time.perf_counter()
    page.goto(address)
    page.wait_for_function(SETTLED, timeout=180_000)
    if ready:
        page.wait_for_function(ready, arg=arg, timeout=180_000)
    page.wait_for_function(SETTLED, timeout=180_000)
    return time.perf_counter() - start


def neo4j_expand(uri: str, repeat: int) -> dict:
    """``expand_from_neo4j`` on accounts of the graph already in ``uri`` (read only), with its size."""
    from neo4j import READ_ACCESS

    from rallypoint.dashboard.expand import expand_from_neo4j
    from rallypoint.neo4j.connection import open_driver

    with open_driver(uri) as driver, driver.session(default_access_mode=READ_ACCESS) as session:
        size = session.execute_read(lambda tx: tx.run("MATCH (n) RETURN count(n) AS n").single()["n"])
        seeds = session.execute_read(lambda tx: [r["id"] for r in tx.run(
            "MATCH (a:Account)-[:POSTED]->(p) WITH a, count(p) AS posts ORDER BY posts DESC LIMIT 5 RETURN a.id AS id")])
    if not seeds:
        return {"graph_nodes": size, "note": "no account in the graph: nothing to expand"}
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        context = expand_from_neo4j(uri, seeds, hops=1)
        seconds.append(time.perf_counter() - start)
    return {"graph_nodes": size, "seconds": seconds, "nodes": context.n_nodes, "accounts": context.n_accounts,
            "truncated": context.truncated}


def main() -> None:
    import polars as pl
    from playwright.sync_api import sync_playwright

    from rallypoint.lake import Lake

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="Views of each step (the first is cold).")
    parser.add_argument("--neo4j", default=None, help="Also time expand in this Neo4j (read only).")
    parser.add_argument("--lake", type=Path, default=None, help="Use this lake instead of simulating one.")
    parser.add_argument("--only", choices=STEPS, action="append", default=None,
                        help="Run only this step (repeatable); all of them by default.")
    parser.add_argument("--no-wait-warm", dest="wait_warm", action="store_false",
                        help="Open the first page as soon as the server answers, during its warm-up.")
    args = parser.parse_args()
    steps = set(args.only or STEPS)
    lake = args.lake or prepare(args.accounts)
    current = Lake(lake)
    run = current.resolve_run("latest")
    clusters = pl.from_arrow(current.read_run_table(run, "clusters")).sort("n_accounts", descending=True)
    records = sum(pq_rows(p) for p in current.interaction_files())
    largest = clusters.row(0, named=True)
    print(f"lake {lake}: {records:,} records, run {run}: {clusters.height:,} clusters; largest "
          f"{largest['cluster_id']} ({largest['n_accounts']:,} accounts, {largest['n_edges']:,} edges)", flush=True)
    results: dict = {"lake": str(lake), "records": records, "clusters": clusters.height,
                     "largest": {k: largest[k] for k in ("cluster_id", "n_accounts", "n_edges")},
                     "load_before": os.getloadavg(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    big = largest["cluster_id"]
    tabs = ("Network", "Activity timeline", "Evidence posts", "Members and shared targets", "Expand", "Export")
    results["waited_for_warm_up"] = args.wait_warm
    server: dict = {}
    with dashboard(lake, wait_warm=args.wait_warm, timings=server) as (url, pid), sync_playwright() as pw:
        results.update(server)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        results["rss_start_mib"] = rss_mib(pid)
        queue = f"{url}/?run={run}&flagged_only=false&per_page=100"
        if "queue" in steps:
            results["queue_100_cards_s"] = [timed(page, queue) for _ in range(args.repeat)]
        for tab in tabs if "tabs" in steps else ():
            address = f"{url}/cluster?run={run}&cluster={big}&tab={quote(tab)}"
            ready = PICTURE_READY if tab == "Network" and largest["n_accounts"] > 500 else None
            results[f"tab {tab} s"] = [timed(page, address, ready, f"network_picture_{run}_{big}_-1")
                                       for _ in range(args.repeat)]
        expand_s = []
        for _ in range(args.repeat if "expand" in steps else 0):
            page.goto(f"{url}/cluster?run={run}&cluster={big}&tab=Expand")
            page.wait_for_function(SETTLED, timeout=180_000)
            start = time.perf_counter()
            page.get_by_role("button", name="Expand").click()
            page.get_by_text("Expanded:").first.wait_for(timeout=180_000)
            page.wait_for_function(SETTLED, timeout=180_000)
            expand_s.append(time.perf_counter() - start)
        if expand_s:
            results["expand_lake_5_seeds_1_hop_s"] = expand_s
            results["expand_said"] = page.get_by_text("Expanded:").first.inner_text()
        rss = []
        for cluster in clusters["cluster_id"].head(10).to_list() if "memory" in steps else ():
            for tab in ("Network", "Activity timeline"):
                address = f"{url}/cluster?run={run}&cluster={cluster}&tab={quote(tab)}"
                big_one = tab == "Network" and clusters.filter(pl.col("cluster_id") == cluster)["n_accounts"][0] > 500
                timed(page, address, PICTURE_READY if big_one else None, f"network_picture_{run}_{cluster}_-1")
            rss.append(round(rss_mib(pid), 1))
        if rss:
            results["rss_after_each_of_10_largest_mib"] = rss
        browser.close()
    if args.neo4j:
        try:
            results["expand_neo4j"] = neo4j_expand(args.neo4j, args.repeat)
        except Exception as exc:  # a benchmark reports, it does not stop
            results["expand_neo4j"] = {"note": f"Neo4j could not answer: {type(exc).__name__}: {exc}"}
    else:
        results["expand_neo4j"] = {"note": "no --neo4j given: expand from Neo4j not measured"}
    results["load_after"] = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    stem = "results" if steps == set(STEPS) else f"results-{'-'.join(sorted(steps))}"
    name = f"{stem}{'' if args.wait_warm else '-no-wait'}.json"
    (OUT / name).write_text(json.dumps(results, indent=2, default=str) + "\n")
    report(results)


def pq_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def report(results: dict) -> None:
    if "server_answered_after_seconds" in results:
        warm = (f"; its warm-up ended {results['warm_up_seconds']:.1f} s later, before the first view "
                f"({results['warm_up_said']})" if results.get("waited_for_warm_up")
                else "; the first view was opened at once, during its warm-up")
        print(f"\nthe server answered {results['server_answered_after_seconds']:.1f} s after its start{warm}")
    print(f"\nload average before {results['load_before'][0]:.1f}, after {results['load_after'][0]:.1f} "
          f"({os.cpu_count()} CPUs); target {TARGET_SECONDS} s; cold = first view, warm = the others")
    print(f"{'step':<44}{'cold s':>8}{'warm s':>14}")
    for name, seconds in results.items():
        if name.endswith("_s") or name.endswith(" s"):
            warm = seconds[1:] or seconds
            verdict = "ok" if min(warm) < TARGET_SECONDS else "SLOW"
            print(f"{name.removesuffix('_s').removesuffix(' s'):<44}{seconds[0]:>8.2f}"
                  f"{min(warm):>7.2f}–{max(warm):.2f}  {verdict}")
    if "expand_said" in results:
        print(f"expand said: {results['expand_said']}")
    if "rss_after_each_of_10_largest_mib" in results:
        print(f"server RSS: {results['rss_start_mib']:.0f} MiB at start; after each of the 10 largest clusters: "
              f"{results['rss_after_each_of_10_largest_mib']} MiB")
    print(f"expand from Neo4j: {results['expand_neo4j']}")


if __name__ == "__main__":
    main()
