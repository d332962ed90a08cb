"""A detection run in the graph: its clusters, memberships and coordination edges, replaced whole."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.lake import Lake
from rallypoint.neo4j.batches import _epoch_micros
from rallypoint.neo4j.connection import open_driver
from rallypoint.neo4j.loaders import _interrupted_write, _progress
from rallypoint.neo4j.model import _datetime, ensure_constraints
from rallypoint.neo4j.writer import BatchWriter, WriteCounts

DELETE_RUN_COORDINATION = """
MATCH ()-[r:COORDINATED_WITH {run_id: $run_id}]->()
WITH r LIMIT $limit
DELETE r
RETURN count(*) AS deleted
"""
DELETE_RUN_CLUSTERS = """
MATCH (c:Cluster {run_id: $run_id})
WITH c LIMIT $limit
DETACH DELETE c
RETURN count(*) AS deleted
"""
MERGE_CLUSTERS = """
UNWIND $rows AS row
MERGE (c:Cluster {run_id: $run_id, id: row.cluster_id})
SET c.score = row.score, c.flagged = row.flagged, c.n_accounts = row.n_accounts,
    c.n_edges = row.n_edges, c.types = row.types, c.reasons = row.reasons
"""
MERGE_MEMBER_ACCOUNTS = """
UNWIND $rows AS row
MERGE (a:Account {id: row.account_id})
ON CREATE SET a.platform = row.platform, a.name = row.account_name,
              a.high_profile = coalesce(row.high_profile, false), a.followers = row.followers
"""
MERGE_MEMBER_OF = """
UNWIND $rows AS row
MATCH (a:Account {id: row.account_id})
MATCH (c:Cluster {run_id: $run_id, id: row.cluster_id})
MERGE (a)-[m:MEMBER_OF]->(c)
SET m.role = row.role
"""
MERGE_EDGE_ACCOUNTS = "UNWIND $rows AS row MERGE (:Account {id: row.id})"
MERGE_COORDINATED_WITH = f"""
UNWIND $rows AS row
MATCH (a:Account {{id: row.account_a}})
MATCH (b:Account {{id: row.account_b}})
MERGE (a)-[r:COORDINATED_WITH {{run_id: $run_id}}]->(b)
SET r.weight = row.weight, r.n_shared = row.n_shared, r.types = row.type_names,
    r.type_weights = row.type_weights, r.strength = row.strength, r.p_value = row.p_value,
    r.first_ts = {_datetime("row.first_ts")}, r.last_ts = {_datetime("row.last_ts")}
"""


def _delete_in_batches(driver, query: str, run_id: str, limit: int, counts: WriteCounts,
                       database: str | None) -> int:
    """Run a ``... LIMIT $limit DELETE ... RETURN count(*) AS deleted`` until nothing is left."""
    total = 0

    def work(tx):
        return tx.run(query, run_id=run_id, limit=limit).single()["deleted"]

    with driver.session(database=database) as session:
        while True:
            deleted = session.execute_write(work)
            counts.transactions += 1
            total += deleted
            if deleted == 0:
                return total


def _chunks(table: pa.Table, size: int) -> Iterator[pa.Table]:
    for offset in range(0, len(table), size):
        yield table.slice(offset, size)


def _edge_rows(edges: pa.Table) -> pa.Table:
    """Edges with their per-type structs flattened to two parallel lists Neo4j can store."""
    types = edges["types"].combine_chunks()
    mask = types.is_null()
    names = pa.ListArray.from_arrays(types.offsets, types.values.field("type"), mask=mask)
    weights = pa.ListArray.from_arrays(types.offsets, types.values.field("weight"), mask=mask)
    return edges.select(["account_a", "account_b", "weight", "n_shared", "strength", "p_value",
                         "first_ts", "last_ts"]).append_column("type_names", names) \
        .append_column("type_weights", weights)


def write_run_to_neo4j(
    lake_path: str | os.PathLike[str] | Lake,
    run_id: str,
    uri: str | None,
    *,
    batch_size: int = 10_000,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> dict[str, Any]:
    """Write a detection run's clusters, memberships and coordination edges to Neo4j.

    The run's earlier writes (its ``Cluster`` nodes with their ``MEMBER_OF`` relationships and its
    ``COORDINATED_WITH`` relationships, found by ``run_id``) are deleted first, in batches, and
    then written again, so writing a run twice leaves one copy; other runs are untouched.
    Accounts a run names that the graph does not hold yet are created with the members table's
    properties. ``run_id`` may be ``latest``. Returns counts and the resolved run id.

    Complexity: O(clusters + members + edges) index lookups in batches of ``batch_size``.
    """
    lake = lake_path if isinstance(lake_path, Lake) else Lake(lake_path)
    run = lake.require().resolve_run(run_id)
    clusters = lake.read_run_table(run, "clusters")
    members = lake.read_run_table(run, "members")
    edges = lake.read_run_table(run, "edges")
    started = time.perf_counter()
    counts = WriteCounts()
    with open_driver(uri, user, password) as driver, _interrupted_write(f"run {run}"):
        ensure_constraints(driver)
        writer = BatchWriter(driver, counts=counts, database=database)
        replaced_edges = _delete_in_batches(driver, DELETE_RUN_COORDINATION, run, batch_size, counts, database)
        replaced_clusters = _delete_in_batches(driver, DELETE_RUN_CLUSTERS, run, batch_size, counts, database)
        cluster_rows = clusters.select(["cluster_id", "score", "flagged", "n_accounts", "n_edges",
                                        "types", "reasons"])
        with _progress() as progress:
            task = progress.add_task(f"Neo4j run {run}", total=len(clusters) + 2 * len(members) + 2 * len(edges))
            # nodes first (clusters, accounts), relationships after
            for chunk in _chunks(cluster_rows, batch_size):
                writer.write(MERGE_CLUSTERS, chunk.to_pylist(), run_id=run)
                progress.advance(task, len(chunk))
            member_accounts = members.select(["account_id", "platform", "account_name", "high_profile",
                                              "followers"])
            for chunk in _chunks(member_accounts, batch_size):
                writer.write(MERGE_MEMBER_ACCOUNTS, chunk.to_pylist())
                progress.advance(task, len(chunk))
            edge_accounts = pa.table({"id": pc.unique(pa.chunked_array(
                edges["account_a"].chunks + edges["account_b"].chunks, pa.string()))})
            for chunk in _chunks(edge_accounts, batch_size):
                writer.write(MERGE_EDGE_ACCOUNTS, chunk.to_pylist())
            progress.advance(task, len(edges))
            for chunk in _chunks(members.select(["cluster_id", "account_id", "role"]), batch_size):
                writer.write(MERGE_MEMBER_OF, chunk.to_pylist(), run_id=run)
                progress.advance(task, len(chunk))
            for chunk in _chunks(_epoch_micros(_edge_rows(edges)), batch_size):
                writer.write(MERGE_COORDINATED_WITH, chunk.to_pylist(), run_id=run)
                progress.advance(task, len(chunk))
    return {
        "run_id": run,
        "replaced_clusters": replaced_clusters,
        "replaced_edges": replaced_edges,
        "clusters": len(clusters),
        "members": len(members),
        "edges": len(edges),
        "nodes_created": counts.nodes_created,
        "relationships_created": counts.relationships_created,
        "transactions": counts.transactions,
        "seconds": round(time.perf_counter() - started, 3),
    }
