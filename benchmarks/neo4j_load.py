"""Neo4j load throughput: the bulk route, the incremental loader and bare CREATE on one graph.

1. Simulates a world of ``--records`` interactions (default 1,000,000; ``rallypoint.simulate``)
   and ingests it into a lake under ``bench-output/neo4j/`` (kept between runs).
2. Loads that lake three ways, each into a fresh database of its own neo4j-local server
   (``bench-output/neo4j/server-<route>``, port ``--port``; never the shared `make neo4j`
   server, which the bulk route would restart), one server at a time:

   * ``bulk``: ``rallypoint.neo4j.bulk.bulk_load`` — the import CSV, ``neo4j-admin
     database import full``, the server restart and the uniqueness constraints, all timed;
   * ``incremental``: ``load_lake_into_neo4j`` (``--loader``, default the server-side procedure;
     ``--workers`` sessions), constraints first as always;
   * ``create``: bare Cypher ``CREATE`` of the very same nodes (with their properties) and
     relationships (ends found by node id), batches of ``--batch-size`` rows, no constraint, no
     key lookup: the transactional engine's own write path.

3. Counts every label and relationship type in each database and fails unless all three routes
   hold the same numbers, then prints nodes/s, relationships/s and the bulk route's speed-up
   over the incremental loader (target: >= 3x at 1M records, >= 5x at 10M), and the time of
   ``explore.expand`` (2 hops, at most 3,000 nodes) around five accounts of the bulk-loaded graph.

Results go to ``bench-output/neo4j/results-N.json``; the measured runs to benchmarks/RESULTS.md.

    python benchmarks/neo4j_load.py                      # 1M records, the three routes
    python benchmarks/neo4j_load.py --records 100000     # a quick look
    python benchmarks/neo4j_load.py --lake PATH --routes bulk   # an existing lake (read only)
    python benchmarks/neo4j_load.py --lake PATH --incremental-files 2   # incremental on a prefix, extrapolated
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-output" / "neo4j"
TARGET_SPEEDUP = {1_000_000: 3.0, 10_000_000: 5.0}
ROUTES = ("bulk", "incremental", "create")

sys.path.insert(0, str(REPO))

from rallypoint.lake import Lake  # noqa: E402
from rallypoint.neo4j.bulk import NODE_PROPERTIES, LocalServer, bulk_load, lake_graph  # noqa: E402
from rallypoint.neo4j.connection import open_driver  # noqa: E402
from rallypoint.neo4j.loaders import load_lake_into_neo4j  # noqa: E402
from rallypoint.neo4j.model import NODE_TABLES, RELATIONSHIP_TYPES, _datetime  # noqa: E402

LISTS = ("mentions", "urls", "hashtags", "media")


def build_lake(records: int, lake_dir: Path) -> Lake:
    """The simulated lake (reused if it already holds ``records`` records)."""
    lake = Lake(lake_dir)
    stamp = lake_dir / "bench.json"
    if stamp.exists() and json.loads(stamp.read_text()) == {"records": records}:
        return lake
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.simulate import simulate_world

    shutil.rmtree(lake_dir, ignore_errors=True)
    world = OUT / "world"
    shutil.rmtree(world, ignore_errors=True)
    print(f"simulating {records:,} records ...", flush=True)
    simulate_world(world, accounts=max(300, records // 40), days=14, seed=3, records=records)
    print("ingesting ...", flush=True)
    ingest_sources(sorted(world.glob("interactions-*.jsonl.gz")), lake_dir, show_progress=False)
    require_every_list(lake)
    stamp.write_text(json.dumps({"records": records}))
    return lake


def require_every_list(lake: Lake) -> None:
    """Fail unless the lake holds values in every list column (so every relationship type is loaded)."""
    values = pl.scan_parquet([str(p) for p in lake.interaction_files()]).select(
        [pl.col(c).list.len().sum() for c in LISTS]).collect().row(0)
    empty = [c for c, n in zip(LISTS, values, strict=True) if not n]
    if empty:
        raise SystemExit(f"The benchmark lake has no {', '.join(empty)}: every relationship type must be loaded.")


def fresh_server(route: str, port: int) -> LocalServer:
    """A neo4j-local server with an empty store of its own for ``route``, started."""
    state = OUT / f"server-{route}"
    server = LocalServer(state=state, uri=f"bolt://127.0.0.1:{port}")
    if server.running():
        server.control("stop")
    shutil.rmtree(state, ignore_errors=True)
    server.control("start")
    return server


def graph_counts(uri: str) -> dict[str, int]:
    """Nodes per label and relationships per type (Neo4j's count store)."""
    counts = {}
    with open_driver(uri) as driver:
        for label in NODE_TABLES:
            counts[label] = driver.execute_query(f"MATCH (n:{label}) RETURN count(n) AS c").records[0]["c"]
        for rel, _, _ in RELATIONSHIP_TYPES:
            counts[rel] = driver.execute_query(f"MATCH ()-[r:{rel}]->() RETURN count(r) AS c").records[0]["c"]
    return counts


def create_query(label: str) -> str:
    """``CREATE`` of one label's rows from parallel column lists, returning the new node ids in row order."""
    props = ", ".join(f"{name}: {_datetime(f'${name}[i]') if kind == 'datetime' else f'${name}[i]'}"
                      for name, kind in NODE_PROPERTIES[label])
    return (f"UNWIND range(0, size(${NODE_PROPERTIES[label][0][0]}) - 1) AS i "
            f"CREATE (n:{label} {{{props}}}) RETURN collect(id(n)) AS ids")


def bare_create(lake: Lake, uri: str, batch_size: int) -> dict:
    """The lake's graph (``lake_graph``: the same nodes and relationships) written by bare ``CREATE``."""
    started = time.perf_counter()
    nodes, relationships, records = lake_graph(lake)
    prepared = time.perf_counter()
    ids: dict[str, np.ndarray] = {}
    with open_driver(uri) as driver, driver.session(notifications_disabled_classifications=["DEPRECATION"]) as session:
        for label, table in nodes.items():
            if "ts" in table.columns:
                table = table.with_columns(pl.col("ts").dt.epoch("us"))
            query = create_query(label)
            parts = []
            for offset in range(0, len(table), batch_size):
                chunk = table.slice(offset, batch_size).drop("_node")
                columns = {name: chunk[name].to_list() for name in chunk.columns}
                parts.append(session.execute_write(lambda tx, c=columns, q=query: tx.run(q, c).single()["ids"]))
            ids[label] = np.asarray([i for part in parts for i in part], dtype=np.int64)
        node_seconds = time.perf_counter() - prepared
        for rel, start, end in RELATIONSHIP_TYPES:
            pairs = relationships[rel]
            src = ids[start][pairs["src"].to_numpy()]
            dst = ids[end][pairs["dst"].to_numpy()]
            query = (f"UNWIND range(0, size($src) - 1) AS i MATCH (a) WHERE id(a) = $src[i] "
                     f"MATCH (b) WHERE id(b) = $dst[i] CREATE (a)-[:{rel}]->(b)")
            for offset in range(0, len(src), batch_size):
                params = {"src": src[offset:offset + batch_size].tolist(), "dst": dst[offset:offset + batch_size].tolist()}
                session.execute_write(lambda tx, p=params, q=query: tx.run(q, p).consume())
    seconds = time.perf_counter() - started
    return {"records": records, "seconds": seconds, "prepare_seconds": prepared - started,
            "node_seconds": node_seconds, "relationship_seconds": seconds - (prepared - started) - node_seconds}


def measure(route: str, lake: Lake, args) -> dict:
    """Load ``lake`` by ``route`` into a fresh server; its timings, counts and the load average around it."""
    port = args.port or free_port()
    server = fresh_server(route, port)
    try:
        load_before = os.getloadavg()
        print(f"{route}: loading ...", flush=True)
        if route == "bulk":
            summary = bulk_load(lake, server=server, echo=(None if args.verbose else lambda line: None))
            result = {k: summary[k] for k in ("records", "seconds", "csv_seconds", "import_seconds", "swap_seconds",
                                              "stop_seconds", "start_seconds", "constraint_seconds")}
            # the CSV writer runs in this process: its peak memory is this process's so far
            result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        elif route == "incremental":
            files = lake.interaction_files()[:args.incremental_files] if args.incremental_files else None
            summary = load_lake_into_neo4j(lake.root, server.uri, files=files, batch_size=args.batch_size,
                                           workers=args.workers, loader=args.loader)
            result = {k: summary[k] for k in ("records", "seconds", "loader", "node_seconds",
                                              "relationship_seconds")}
            if files is not None:  # a prefix of the lake: its time scaled to the whole lake, and said so
                result["prefix_files"] = len(files)
                result["extrapolated_seconds"] = summary["seconds"] * args.records / summary["records"]
        else:
            result = bare_create(lake, server.uri, args.batch_size)
        result["load_average_before"], result["load_average_after"] = load_before, os.getloadavg()
        result["counts"] = graph_counts(server.uri)
        if route == "bulk":
            result["expand"] = time_expand(lake, server.uri)
    finally:
        server.control("stop")
    counts = result["counts"]
    result["nodes"] = sum(counts[label] for label in NODE_TABLES)
    result["relationships"] = sum(counts[rel] for rel, _, _ in RELATIONSHIP_TYPES)
    result["nodes_per_s"] = result["nodes"] / result["seconds"]
    result["relationships_per_s"] = result["relationships"] / result["seconds"]
    return result


def time_expand(lake: Lake, uri: str, samples: int = 5, hops: int = 2, max_nodes: int = 3000) -> dict:
    """Seconds of ``explore.expand`` (the analysts' k-hop context) around random accounts of the lake."""
    from rallypoint.neo4j.explore import expand

    accounts = pl.scan_parquet([str(p) for p in lake.interaction_files()]).select("account_id").unique() \
        .collect().sort("account_id").sample(samples, seed=1)["account_id"].to_list()
    timings, sizes = [], []
    with open_driver(uri) as driver:  # a dashboard keeps its connection open
        expand(accounts[:1], uri, hops=1, driver=driver)  # the first query plans and warms up
        for account in accounts:
            started = time.perf_counter()
            graph = expand([account], uri, hops=hops, max_nodes=max_nodes, driver=driver)
            timings.append(time.perf_counter() - started)
            sizes.append(graph.number_of_nodes())
    return {"hops": hops, "max_nodes": max_nodes, "seconds": timings, "nodes": sizes,
            "median_seconds": float(np.median(timings))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--lake", type=Path, default=None,
                        help="load this existing lake (read only) instead of simulating --records records")
    parser.add_argument("--routes", default=",".join(ROUTES), help="comma list of bulk, incremental, create")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="concurrent sessions of the incremental loader")
    parser.add_argument("--loader", choices=("procedure", "cypher"), default="procedure",
                        help="the incremental loader's path")
    parser.add_argument("--incremental-files", type=int, default=0,
                        help="the incremental loader loads only the lake's first N files; its time is extrapolated "
                             "to the whole lake (and printed as such), its counts not compared")
    parser.add_argument("--port", type=int, default=None, help="Bolt port of the benchmark's servers (default: a free one)")
    parser.add_argument("--verbose", action="store_true", help="show the importer's own progress")
    args = parser.parse_args()
    routes = [r for r in args.routes.split(",") if r]
    unknown = set(routes) - set(ROUTES)
    if unknown:
        raise SystemExit(f"unknown routes: {', '.join(sorted(unknown))}")

    OUT.mkdir(parents=True, exist_ok=True)
    if args.lake is not None:
        from rallypoint.neo4j.bulk import lake_records

        lake = Lake(args.lake)
        require_every_list(lake)
        args.records = lake_records(lake)
    else:
        lake = build_lake(args.records, OUT / f"lake-{args.records}")
    results = {route: measure(route, lake, args) for route in routes}

    whole = {route: r for route, r in results.items() if "prefix_files" not in r}
    reference = next(iter(whole.values()))["counts"] if whole else {}
    unequal = {route: {k: (v, reference[k]) for k, v in r["counts"].items() if v != reference[k]}
               for route, r in whole.items() if r["counts"] != reference}
    summary = {"records": args.records, "batch_size": args.batch_size, "workers": args.workers,
               "routes": results, "counts_equal": not unequal, "cpu_count": os.cpu_count()}
    (OUT / f"results-{args.records}-{'-'.join(routes)}.json").write_text(json.dumps(summary, indent=2))

    print()
    print(f"{'route':12} {'seconds':>9} {'nodes':>11} {'nodes/s':>9} {'relationships':>14} {'rels/s':>9}  load avg")
    for route, r in results.items():
        print(f"{route:12} {r['seconds']:>9.1f} {r['nodes']:>11,} {r['nodes_per_s']:>9,.0f} "
              f"{r['relationships']:>14,} {r['relationships_per_s']:>9,.0f}  "
              f"{r['load_average_before'][0]:.1f}->{r['load_average_after'][0]:.1f}")
    if "bulk" in results:
        b = results["bulk"]
        print(f"bulk steps: CSV {b['csv_seconds']:.1f} s, import {b['import_seconds']:.1f} s, "
              f"swap and restart {b['swap_seconds']:.1f} s (database down {b['stop_seconds']:.1f} s, "
              f"up {b['start_seconds']:.1f} s), constraints {b['constraint_seconds']:.1f} s; "
              f"peak memory of this process (the CSV writer's) {b['peak_rss_gib']:.2f} GiB")
        e = b["expand"]
        print(f"expand ({e['hops']} hops, at most {e['max_nodes']:,} nodes) on the bulk-loaded graph: median "
              f"{e['median_seconds']:.2f} s over {len(e['seconds'])} accounts ({', '.join(map(str, e['nodes']))} nodes)")
    print("counts per label and relationship type: " + ("equal across routes" if not unequal else f"DIFFER: {unequal}")
          + (f" (the incremental loader's prefix of {results['incremental']['records']:,} records not compared)"
             if "prefix_files" in results.get("incremental", {}) else ""))
    if {"bulk", "incremental"} <= results.keys():
        incremental = results["incremental"]
        if "prefix_files" in incremental:
            print(f"incremental loader: {incremental['records']:,} of {args.records:,} records (the first "
                  f"{incremental['prefix_files']} files) in {incremental['seconds']:.1f} s; EXTRAPOLATED linearly "
                  f"to the whole lake: {incremental['extrapolated_seconds']:.1f} s")
        speedup = incremental.get("extrapolated_seconds", incremental["seconds"]) / results["bulk"]["seconds"]
        target = next((t for n, t in sorted(TARGET_SPEEDUP.items(), reverse=True) if args.records >= 0.95 * n), None)
        verdict = "" if target is None else f" ({'meets' if speedup >= target else 'MISSES'} the target of {target:.0f}x)"
        kind = " (EXTRAPOLATED)" if "prefix_files" in incremental else ""
        print(f"bulk route, constraints included: {speedup:.2f}x the incremental loader{kind}{verdict}")
    if unequal:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
