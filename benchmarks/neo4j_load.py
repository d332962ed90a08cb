"""Neo4j load throughput: the batched loader against one transaction per record.

1. Simulates a world of ``--records`` interactions (default 1,000,000; ``rallypoint.simulate``),
   rewrites every key to carry the prefix ``rpbench-`` (so the data can be told apart from
   anyone else's on a shared server and deleted afterwards), and ingests it into a lake under
   ``bench-output/neo4j/`` (kept between runs).
2. Loads that lake into the local server with ``load_lake_into_neo4j`` (per batch of
   ``--batch-size`` records: one node transaction, then one relationship transaction using the
   node ids it returned) and reports relationships per second of the time spent in relationship
   transactions, relationships per second of the whole load, and nodes + relationships per
   second overall. When the server is neo4j-local's (its pid file exists), the server's CPU
   seconds are reported too: unlike wall time they barely depend on how busy the machine is.
3. On a ``--sample`` (default 20,000) of those records, re-keyed again so that everything is
   new, compares a loader that runs one transaction per record (the naive way: one MERGE
   statement per record, FOREACH over its lists) with the batched loader on the same records.
4. Measures what Neo4j itself does on this machine when nothing is checked (``--ceiling``, on by
   default): the same numbers of nodes and relationships as the batched load created, written
   with bare Cypher ``CREATE`` (one label, no properties, no uniqueness index, no key lookups,
   relationships between random nodes found by element id) by the same number of sessions. No
   idempotent loader can beat this line; it tells what the target asks of the engine.
5. Deletes everything it created (``--keep`` leaves it).

Target: >= 50,000 relationships/s for the batched path. Needs ``make neo4j`` (or NEO4J_URI,
NEO4J_USER, NEO4J_PASSWORD). Two people running this at once on one server would delete each
other's data: run it alone.

    python benchmarks/neo4j_load.py                         # 1M records, 20k sample
    python benchmarks/neo4j_load.py --records 100000        # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-output" / "neo4j"
PREFIX = "rpbench-"
TARGET_RELS_PER_SECOND = 50_000

sys.path.insert(0, str(REPO))

from rallypoint.graph.neo4j_store import (  # noqa: E402
    TARGET_RELATIONSHIPS,
    _datetime,
    ensure_constraints,
    load_lake_into_neo4j,
    open_driver,
)
from rallypoint.lake import Lake, write_parquet_atomic  # noqa: E402

SERVER_PID_FILE = REPO / ".neo4j" / "neo4j.pid"
KEYED = ("id", "account_id", "target_id", "target_account_id")
LISTS = ("mentions", "urls", "hashtags", "media")


def prefixed_frame(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    """Every key of the records (ids, accounts, list values, platform) prefixed."""
    frame = frame.with_columns(
        *[(pl.lit(prefix) + pl.col(c)).alias(c) for c in KEYED if c in frame.columns],
        *[pl.col(c).list.eval(pl.lit(prefix) + pl.element()).alias(c) for c in LISTS if c in frame.columns],
        (pl.lit(prefix) + pl.col("platform")).alias("platform"),
    )
    if "urls" in frame.columns:  # keep URLs URLs: the prefix goes into the host
        frame = frame.with_columns(pl.col("urls").list.eval(
            pl.element().str.replace(f"^{prefix}https?://", f"https://{prefix}")))
    return frame


def build_lake(records: int, lake_dir: Path) -> Lake:
    """The simulated, prefixed lake (reused if it already holds ``records`` records)."""
    lake = Lake(lake_dir)
    stamp = lake_dir / "bench.json"
    if stamp.exists() and json.loads(stamp.read_text()) == {"records": records, "lists": LISTS_STAMP}:
        return lake
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.simulate import simulate_world

    shutil.rmtree(lake_dir, ignore_errors=True)
    world = OUT / "world"
    shutil.rmtree(world, ignore_errors=True)
    print(f"simulating {records:,} records ...", flush=True)
    simulate_world(world, accounts=max(300, records // 40), days=14, seed=3, records=records)
    sources = []
    for i, shard in enumerate(sorted(world.glob("interactions-*.jsonl.gz"))):
        target = world / f"prefixed-{i:04d}.jsonl"
        # every row read for the schema: inferred from the first rows, lists that only appear
        # further down (hashtags, urls) would be dropped
        prefixed_frame(pl.read_ndjson(shard, infer_schema_length=None), PREFIX).write_ndjson(target)
        sources.append(target)
    print("ingesting ...", flush=True)
    ingest_sources(sources, lake_dir, show_progress=False)
    require_every_list(lake)
    stamp.write_text(json.dumps({"records": records, "lists": LISTS_STAMP}))
    return lake


#: Written with the lake: lakes built before their lists were checked are rebuilt.
LISTS_STAMP = "checked"


def require_every_list(lake: Lake) -> None:
    """Fail unless the lake holds values in every list column (so every relationship type is loaded)."""
    values = pl.scan_parquet([str(p) for p in lake.interaction_files()]).select(
        [pl.col(c).list.len().sum() for c in LISTS]).collect().row(0)
    empty = [c for c, n in zip(LISTS, values, strict=True) if not n]
    if empty:
        raise SystemExit(f"The benchmark lake has no {', '.join(empty)}: the simulated world or its prefixing lost them.")


def _prefix_strings(column: pa.ChunkedArray, prefix: str) -> pa.Array:
    column = column.combine_chunks()
    if pa.types.is_list(column.type):
        values = pc.binary_join_element_wise(prefix, column.values, "")
        return pa.ListArray.from_arrays(column.offsets, values, mask=column.is_null())
    return pc.binary_join_element_wise(prefix, column, "")


def sample_lake(lake: Lake, n: int, prefix: str, root: Path) -> Lake:
    """The first ``n`` records of the lake with every key prefixed again, as a small lake."""
    batches, taken = [], 0
    for path in lake.interaction_files():
        for batch in pq.ParquetFile(path).iter_batches(batch_size=min(n, 65_536)):
            batches.append(batch.slice(0, n - taken))
            taken += len(batches[-1])
            if taken >= n:
                break
        if taken >= n:
            break
    table = pa.Table.from_batches(batches)
    for name in (*KEYED, *LISTS, "platform"):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, _prefix_strings(table[name], prefix))
    sample = Lake(root)
    shutil.rmtree(root, ignore_errors=True)
    sample.ensure()
    write_parquet_atomic(sample.interactions_dir / "date=2000-01-01" / "sample.parquet", table)
    return sample


def one_record_query(action: str) -> str:
    """One record's whole graph in one statement: the naive loader's unit of work."""
    target = ""
    if action in TARGET_RELATIONSHIPS:
        target = f"""
FOREACH (_ IN CASE WHEN $target_id IS NULL THEN [] ELSE [1] END |
  MERGE (t:Post {{platform: $platform, id: $target_id}})
  MERGE (p)-[:{TARGET_RELATIONSHIPS[action]}]->(t)
  FOREACH (author IN CASE WHEN $target_account_id IS NULL THEN [] ELSE [$target_account_id] END |
    MERGE (ta:Account {{id: author}}) ON CREATE SET ta.platform = $platform
    MERGE (ta)-[:POSTED]->(t)))"""
    return f"""
MERGE (a:Account {{id: $account_id}}) ON CREATE SET a.platform = $platform
SET a.name = coalesce($account_name, a.name), a.high_profile = coalesce($high_profile, a.high_profile, false),
    a.followers = coalesce($followers, a.followers)
MERGE (p:Post {{platform: $platform, id: $id}})
SET p.ts = {_datetime("$ts")}, p.action = $action, p.channel_id = $channel_id
MERGE (a)-[:POSTED]->(p){target}
FOREACH (u IN coalesce($urls, []) | MERGE (n:Url {{url: u}}) MERGE (p)-[:LINKS_TO]->(n))
FOREACH (h IN coalesce($hashtags, []) | MERGE (n:Hashtag {{tag: h}}) MERGE (p)-[:TAGGED]->(n))
FOREACH (m IN coalesce($mentions, []) | MERGE (n:Account {{id: m}}) ON CREATE SET n.platform = $platform
                                        MERGE (p)-[:MENTIONS]->(n))
FOREACH (x IN coalesce($media, []) | MERGE (n:Media {{hash: x}}) MERGE (p)-[:ATTACHES]->(n))
"""


def naive_load(driver, lake: Lake) -> dict:
    """One transaction per record."""
    columns = ["id", "platform", "account_id", "timestamp", "action", "target_id", "target_account_id",
               "urls", "hashtags", "mentions", "media", "channel_id", "account_name", "followers", "high_profile"]
    table = lake.read_interactions_table(columns)
    table = table.set_column(3, "ts", pc.cast(table["timestamp"], pa.int64()))
    queries = {a: one_record_query(a) for a in ("post", *TARGET_RELATIONSHIPS)}
    rels = nodes = 0
    t0 = time.perf_counter()
    with driver.session() as session:
        for row in table.to_pylist():
            query = queries[row["action"]]
            counters = session.execute_write(lambda tx, q=query, r=row: tx.run(q, r).consume().counters)
            rels += counters.relationships_created
            nodes += counters.nodes_created
    seconds = time.perf_counter() - t0
    return {"records": len(table), "nodes_created": nodes, "relationships_created": rels, "seconds": seconds}


def delete_prefixed(driver, prefix: str) -> None:
    """Delete every node whose key starts with ``prefix`` (URLs: whose host does), in batches."""
    with driver.session() as session:
        for label, key in (("Post", "id"), ("Account", "id"), ("Hashtag", "tag"), ("Media", "hash")):
            session.run(f"MATCH (n:{label}) WHERE n.{key} STARTS WITH $p "
                        "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS", p=prefix).consume()
        session.run("MATCH (n:Url) WHERE n.url STARTS WITH $p "
                    "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS", p=f"https://{prefix}").consume()


CEILING_LABEL = "RpbenchCeiling"


def engine_ceiling(driver, nodes: int, relationships: int, workers: int, batch_size: int) -> dict:
    """Bare ``CREATE`` of ``nodes`` nodes, then ``relationships`` relationships between random ones.

    Nothing is looked up by key and no index is touched beyond the label's, so this is the
    engine's own write path: transaction state, commit, the record stores and the transaction
    log. Batches of ``batch_size`` go to ``workers`` concurrent sessions, as in the load.
    """
    def create_nodes(count: int) -> list[int]:
        with driver.session() as session:
            return session.execute_write(lambda tx: tx.run(
                f"UNWIND range(1, $n) AS i CREATE (n:{CEILING_LABEL}) RETURN elementId(n) AS id", n=count).value())

    def create_relationships(pairs: np.ndarray) -> None:
        with driver.session() as session:
            session.execute_write(lambda tx: tx.run(
                "UNWIND $pairs AS p MATCH (a) WHERE elementId(a) = p[0] MATCH (b) WHERE elementId(b) = p[1] "
                "CREATE (a)-[:RPBENCH_CEILING]->(b)", pairs=pairs.tolist()).consume())

    load_before, cpu_before = os.getloadavg(), server_cpu_seconds()
    t0 = time.perf_counter()
    node_batches = [min(batch_size, nodes - start) for start in range(0, nodes, batch_size)]
    with ThreadPoolExecutor(workers) as pool:
        ids = np.concatenate([np.asarray(b, dtype=object) for b in pool.map(create_nodes, node_batches)])
    node_seconds = time.perf_counter() - t0
    pairs = np.random.default_rng(0).choice(ids, size=(relationships, 2))
    t1 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(create_relationships, [pairs[s:s + batch_size] for s in range(0, relationships, batch_size)]))
    seconds = time.perf_counter() - t0
    server_cpu = cpu_delta(cpu_before, server_cpu_seconds())
    return {
        "records": 0, "nodes_created": nodes, "relationships_created": relationships, "seconds": seconds,
        "node_seconds": node_seconds, "relationship_seconds": time.perf_counter() - t1,
        "relationships_per_s": rate(relationships, seconds),
        "server_cpu_seconds": server_cpu,
        "server_cpu_us_per_element": (None if server_cpu is None
                                      else round(1e6 * server_cpu / max(nodes + relationships, 1), 1)),
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
    }


def delete_ceiling(driver) -> None:
    with driver.session() as session:
        session.run(f"MATCH (n:{CEILING_LABEL}) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 10000 ROWS").consume()


def server_cpu_seconds() -> float | None:
    """CPU seconds (user + system) the local Neo4j JVM has used so far; None if it is not ours."""
    try:
        pid = int(SERVER_PID_FILE.read_text().strip())
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else round(after - before, 2)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("nan")


def measured_load(lake: Lake, uri: str | None, batch_size: int, workers: int, loader: str) -> dict:
    """``load_lake_into_neo4j`` with the server's and this process's CPU seconds and the load average."""
    load_before, cpu_before, client_before = os.getloadavg(), server_cpu_seconds(), time.process_time()
    summary = load_lake_into_neo4j(lake.root, uri, batch_size=batch_size, workers=workers, loader=loader)
    server_cpu = cpu_delta(cpu_before, server_cpu_seconds())
    elements = summary["nodes_created"] + summary["relationships_created"]
    return {
        **{k: summary[k] for k in ("loader", "records", "nodes_created", "relationships_created", "properties_set", "seconds",
                                   "node_seconds", "relationship_seconds", "transactions")},
        "relationships_per_s": rate(summary["relationships_created"], summary["seconds"]),
        "graph_elements_per_s": rate(elements, summary["seconds"]),
        "server_cpu_seconds": server_cpu,
        "server_cpu_us_per_element": None if server_cpu is None else round(1e6 * server_cpu / max(elements, 1), 1),
        "client_cpu_seconds": round(time.process_time() - client_before, 2),
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
    }


def row(label: str, result: dict) -> str:
    cpu = ("" if result.get("server_cpu_seconds") is None else
           f"  server {result['server_cpu_seconds']:.1f} CPU-s ({result['server_cpu_us_per_element']:.0f} µs/element)")
    client = f", client {result['client_cpu_seconds']:.1f} CPU-s" if "client_cpu_seconds" in result else ""
    load = ""
    if "load_average_before" in result:
        load = f", load {result['load_average_before'][0]:.1f}->{result['load_average_after'][0]:.1f}"
    return (f"{label:40} {result['records']:>10,} {result['relationships_created']:>14,} {result['seconds']:>9.1f} "
            f"{result['relationships_per_s']:>10,.0f}{cpu}{client}{load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--cypher-records", type=int, default=100_000,
                        help="also load this many records (re-keyed) with the Cypher path; 0 skips it")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="concurrent sessions of the batched loader")
    parser.add_argument("--loader", choices=("procedure", "cypher"), default="procedure",
                        help="the batched path measured on the whole lake and the sample")
    parser.add_argument("--uri", default=None)
    parser.add_argument("--no-ceiling", dest="ceiling", action="store_false",
                        help="skip the engine's bare-CREATE line")
    parser.add_argument("--keep", action="store_true", help="leave the benchmark's data in Neo4j")
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    lake = build_lake(args.records, OUT / f"lake-{args.records}")
    prefixes = (PREFIX, f"n-{PREFIX}", f"b-{PREFIX}", f"c-{PREFIX}")
    with open_driver(args.uri) as driver:
        ensure_constraints(driver)
        for prefix in prefixes:
            delete_prefixed(driver, prefix)  # leftovers of an interrupted run
        delete_ceiling(driver)
        try:
            print(f"batched load ({args.loader}) of {args.records:,} records ...", flush=True)
            full = measured_load(lake, args.uri, args.batch_size, args.workers, args.loader)
            cypher = None
            if args.cypher_records:
                cypher_lake = sample_lake(lake, args.cypher_records, "c-", OUT / "sample-cypher")
                print(f"batched load (cypher) of {args.cypher_records:,} records ...", flush=True)
                cypher = measured_load(cypher_lake, args.uri, args.batch_size, args.workers, "cypher")
            naive_lake = sample_lake(lake, args.sample, "n-", OUT / "sample-naive")
            batched_lake = sample_lake(lake, args.sample, "b-", OUT / "sample-batched")
            print(f"one transaction per record, {args.sample:,} records ...", flush=True)
            load_before, cpu_before = os.getloadavg(), server_cpu_seconds()
            naive = naive_load(driver, naive_lake)
            naive["server_cpu_seconds"] = cpu_delta(cpu_before, server_cpu_seconds())
            elements = naive["nodes_created"] + naive["relationships_created"]
            naive["server_cpu_us_per_element"] = (None if naive["server_cpu_seconds"] is None
                                                  else round(1e6 * naive["server_cpu_seconds"] / max(elements, 1), 1))
            naive["relationships_per_s"] = rate(naive["relationships_created"], naive["seconds"])
            naive["load_average_before"], naive["load_average_after"] = load_before, os.getloadavg()
            print(f"batched ({args.loader}), the same {args.sample:,} records ...", flush=True)
            batched_sample = measured_load(batched_lake, args.uri, args.batch_size, args.workers, args.loader)
            ceiling = None
            if args.ceiling:
                print(f"engine ceiling: bare CREATE of {full['nodes_created']:,} nodes and "
                      f"{full['relationships_created']:,} relationships ...", flush=True)
                ceiling = engine_ceiling(driver, full["nodes_created"], full["relationships_created"],
                                         args.workers, args.batch_size)
        finally:
            if not args.keep:
                for prefix in prefixes:
                    delete_prefixed(driver, prefix)
                delete_ceiling(driver)

    results = {
        "records": full["records"],
        "batch_size": args.batch_size,
        "workers": args.workers,
        "batched": full,
        "cypher_subset": cypher,
        "sample": {"records": naive["records"], "one_tx_per_record": naive, "batched": batched_sample},
        "engine_ceiling": ceiling,
        "target_relationships_per_s": TARGET_RELS_PER_SECOND,
        "load_average": os.getloadavg(),
        "cpu_count": os.cpu_count(),
    }
    (OUT / f"results-{args.records}.json").write_text(json.dumps(results, indent=2))
    print()
    print(f"{'loader (whole load timed)':40} {'records':>10} {'relationships':>14} {'seconds':>9} {'rels/s':>10}")
    print(row(f"batched, {args.loader}", full))
    print(f"{'  (nodes + relationships)':40} {'':>10} {full['nodes_created'] + full['relationships_created']:>14,} "
          f"{full['seconds']:>9.1f} {full['graph_elements_per_s']:>10,.0f}")
    if cypher is not None:
        print(row("batched, cypher (subset)", cypher))
    print(row(f"sample: batched, {args.loader}", batched_sample))
    print(row("sample: one transaction per record", naive))
    if ceiling is not None:
        print(row("engine ceiling: bare CREATE, no keys", ceiling))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (other work on the machine slows Neo4j too)")
    verdict = "meets" if full["relationships_per_s"] >= TARGET_RELS_PER_SECOND else "MISSES"
    print(f"batched path ({args.loader}, whole load) {verdict} the target of {TARGET_RELS_PER_SECOND:,} "
          "relationships/s")


if __name__ == "__main__":
    main()
