"""Loading the lake into Neo4j: the incremental loader, idempotent, batch by batch.

Each record batch becomes ``batch_tables``: one table per node kind (distinct
nodes, key-sorted) and per relationship type the (start row, end row) pairs into them. Two paths
write those tables and give the same graph (tests/test_neo4j_loaders.py):

* ``procedure`` (the default when the server has it, ``loader="auto"``): one transaction per
  batch calling ``rallypoint.loadBatch`` (neo4j-local/src/main/java/.../LoadProcedures.java),
  which finds or creates the nodes through the kernel API with key-locking index seeks (what
  MERGE does) and creates the relationships, checking for an existing one only when both ends
  existed before the call. No Cypher planning or interpretation per row.
* ``cypher`` (any Neo4j 5 server), the usual recipe for fast, safe bulk writes through Bolt:
  - batched ``UNWIND`` statements over parallel column lists: per batch of ``batch_size`` records,
    one transaction for its nodes (one MERGE statement per node kind) and one for its
    relationships, so the cost is O(records / batch_size) round trips and commits instead of
    O(records);
  - the node statements return the ids of the nodes they merged; the relationship statements
    (one per type, over (start id, end id) pairs built with Arrow joins) find both ends by id
    (``NodeByIdSeek``) instead of seeking the key indexes again, and only MATCH nodes that exist,
    so concurrent loaders cannot deadlock by creating the same node in opposite orders;
  - ``session.execute_write`` retries transient errors (deadlocks, leader switches) with back-off;
  - ``MERGE`` on keys and between bound nodes everywhere makes a second load of the same lake
    change nothing.

The lake is read one Parquet record batch at a time (pyarrow), never all at once. Each batch is
deduplicated column-wise (pyarrow ``group_by``) before it is sent, so a hashtag used by ten
thousand records of one batch is one row.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rallypoint.errors import LakeError, Neo4jError
from rallypoint.lake import Lake
from rallypoint.neo4j.batches import BatchTables, Statement, _columns, _iter_batches, batch_tables
from rallypoint.neo4j.connection import Neo4jSettings, _first_line, open_driver
from rallypoint.neo4j.model import (
    LOAD_COLUMNS,
    LOAD_PROCEDURE,
    MERGE_ACCOUNTS,
    MERGE_HASHTAGS,
    MERGE_MEDIA,
    MERGE_POSTS,
    MERGE_RELATIONSHIPS,
    MERGE_TARGET_POSTS,
    MERGE_URLS,
    NODE_TABLES,
    RELATIONSHIP_TYPES,
    ensure_constraints,
)
from rallypoint.neo4j.writer import BatchWriter


# --- the Cypher path ----------------------------------------------------------------------
def node_statements(tables: BatchTables) -> list[Statement]:
    """The node MERGEs of one batch, in order: accounts, record posts, target stubs, URLs, tags, media."""
    records = tables.records
    return [
        (MERGE_ACCOUNTS, _columns(tables.accounts)),
        (MERGE_POSTS, _columns(tables.posts.slice(0, records).drop_columns(["stub"]))),
        (MERGE_TARGET_POSTS, _columns(tables.posts.slice(records).select(["platform", "id"]))),
        (MERGE_URLS, _columns(tables.urls)),
        (MERGE_HASHTAGS, _columns(tables.hashtags)),
        (MERGE_MEDIA, _columns(tables.media)),
    ]


def node_ids(tables: BatchTables, answers: list[dict[str, list[Any]]]) -> dict[str, np.ndarray]:
    """The node id of every row of every node table, from ``write_together``'s answers to ``node_statements``."""

    def scatter(size: int, *parts: tuple[dict[str, list[Any]], int]) -> np.ndarray:
        ids = np.full(size, -1, dtype=np.int64)
        for answer, offset in parts:
            ids[np.asarray(answer.get("row", []), dtype=np.int64) + offset] = answer.get("node", [])
        if (ids < 0).any():
            raise Neo4jError("Neo4j did not return the id of every node it merged.")
        return ids

    accounts, posts, stubs, urls, hashtags, media = answers
    return {
        "accounts": scatter(len(tables.accounts), (accounts, 0)),
        "posts": scatter(len(tables.posts), (posts, 0), (stubs, tables.records)),
        "urls": scatter(len(tables.urls), (urls, 0)),
        "hashtags": scatter(len(tables.hashtags), (hashtags, 0)),
        "media": scatter(len(tables.media), (media, 0)),
    }


def relationship_statements(tables: BatchTables, ids: dict[str, np.ndarray]) -> list[Statement]:
    """The relationship MERGEs of one batch: each type's row pairs as (start id, end id) lists.

    The pairs keep ``batch_tables``' order (sorted by the shared end's key), so concurrent
    writers take those locks in one order.
    """
    statements = []
    for rel, start, end in RELATIONSHIP_TYPES:
        pairs = tables.relationships[rel]
        src = ids[NODE_TABLES[start]][pairs["src"].to_numpy()]
        dst = ids[NODE_TABLES[end]][pairs["dst"].to_numpy()]
        statements.append((MERGE_RELATIONSHIPS[rel], {"src": src.tolist(), "dst": dst.tolist()}))
    return statements


# --- the procedure path ---------------------------------------------------------------------
#: How a batch is written: the server-side procedure, Cypher statements, or whichever the server has.
LOADERS = ("auto", "procedure", "cypher")


def procedure_batch(tables: BatchTables) -> dict[str, Any]:
    """``BatchTables`` as the procedure's one map parameter: node tables by name, relationships as a list."""
    batch: dict[str, Any] = {kind: _columns(getattr(tables, kind)) for kind in NODE_TABLES.values()}
    batch["relationships"] = [
        {"type": rel, "start": NODE_TABLES[start], "end": NODE_TABLES[end],
         "src": tables.relationships[rel]["src"].to_pylist(), "dst": tables.relationships[rel]["dst"].to_pylist()}
        for rel, start, end in RELATIONSHIP_TYPES if len(tables.relationships[rel])
    ]
    return batch


def has_load_procedure(driver, database: str | None = None) -> bool:
    """Whether the server offers ``rallypoint.loadBatch`` (neo4j-local's server, or the plugin jar)."""
    records, _, _ = driver.execute_query(
        "SHOW PROCEDURES YIELD name WHERE name = $name RETURN count(*) AS n", name=LOAD_PROCEDURE,
        database_=database)
    return records[0]["n"] > 0


def resolve_loader(driver, loader: str, database: str | None = None) -> str:
    """``procedure`` or ``cypher``: ``auto`` picks the procedure when the server has it."""
    if loader not in LOADERS:
        raise Neo4jError(f"The Neo4j loader must be one of {', '.join(LOADERS)}, not {loader!r}.")
    if loader == "cypher":
        return loader
    available = has_load_procedure(driver, database)
    if loader == "procedure" and not available:
        raise Neo4jError(f"This Neo4j server has no {LOAD_PROCEDURE} procedure (neo4j-local's server has it; "
                         "a Neo4j image needs the plugin jar, docs/neo4j.md); use --loader cypher.")
    return "procedure" if available else "cypher"


def _progress():
    """A rich progress display on stderr, silent when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console, disable=not console.is_terminal)


@contextmanager
def _interrupted_write(what: str):
    """A failure in mid-write becomes one sentence; committed batches stay, and a rerun completes them."""
    from neo4j.exceptions import DriverError
    from neo4j.exceptions import Neo4jError as DriverNeo4jError

    try:
        yield
    except (DriverError, DriverNeo4jError) as exc:
        raise Neo4jError(
            f"Neo4j failed while writing {what} ({_first_line(exc)}); the batches already committed are "
            "consistent, and writing again (it is idempotent) completes the rest."
        ) from exc


def _lake_files(lake: Lake, files: Iterable[str | os.PathLike[str]] | None) -> list[Path]:
    if files is None:
        lake.require()
        return lake.interaction_files()
    paths = [Path(f) for f in files]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise LakeError(f"The lake file {missing[0]} does not exist.")
    return paths


def write_record_batch(node_writer: BatchWriter, rel_writer: BatchWriter, batch: pa.Table,
                       loader: str = "cypher") -> None:
    """One record batch into the graph, by ``loader`` (``cypher`` or ``procedure``).

    Both write ``batch_tables(batch)``. Cypher: the nodes in one transaction, then the
    relationships in another; the node transaction returns the ids of every node the batch
    names and the relationship transaction finds its nodes by those ids, only MATCHing nodes that
    exist (it never creates one), so concurrent writers cannot deadlock by creating the same node
    in opposite orders. Procedure: one transaction calling ``rallypoint.loadBatch`` on the server,
    which writes the nodes (key-locking seeks, like MERGE), then the relationships; a deadlock
    between concurrent writers is retried by ``execute_write``. A failure leaves committed batches
    as they are; a rerun completes the rest (both paths are idempotent).
    """
    tables = batch_tables(batch)
    if loader == "procedure":
        with _interrupted_write("a batch"):
            node_writer.call_load_procedure(procedure_batch(tables))
        return
    with _interrupted_write("nodes"):
        answers = node_writer.write_together(node_statements(tables))
    ids = node_ids(tables, answers)
    with _interrupted_write("relationships"):
        rel_writer.write_together(relationship_statements(tables, ids))


def _write_batches(write: Callable[[pa.Table], None], batches: Iterable[pa.Table], workers: int,
                   done: Callable[[int], None]) -> None:
    """``write`` each batch, ``workers`` batches at a time.

    At most ``2 * workers`` batches are in flight, so memory stays O(workers * batch_size); the
    first failure stops the load and is raised once the batches already running have finished.
    """
    if workers == 1:
        for batch in batches:
            write(batch)
            done(len(batch))
        return
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    with ThreadPoolExecutor(max_workers=workers) as pool:
        running: dict[Any, int] = {}

        def settle(block_until: int) -> None:
            while len(running) > block_until:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()  # re-raises the batch's error
                    done(running.pop(future))

        for batch in batches:
            settle(2 * workers - 1)
            running[pool.submit(write, batch)] = len(batch)
        settle(0)


def load_lake_into_neo4j(
    lake_path: str | os.PathLike[str] | Lake,
    uri: str | None,
    *,
    files: Iterable[str | os.PathLike[str]] | None = None,
    batch_size: int = 10_000,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    on_batch: Callable[[int], None] | None = None,
    workers: int = 1,
    loader: str = "auto",
) -> dict[str, Any]:
    """Load the lake's interactions (or just ``files``) into Neo4j, idempotently.

    Parameters
    ----------
    lake_path : the lake folder (or a ``Lake``).
    uri : Bolt URI; ``None`` uses ``NEO4J_URI`` or ``bolt://127.0.0.1:7687``.
    files : interaction Parquet files to load; ``None`` loads every committed file of the lake.
        The ingest passes the files it has just committed.
    batch_size : records per transaction; also the Parquet read batch.
    user, password : default to ``NEO4J_USER``/``NEO4J_PASSWORD``, then the local dev values.
    workers : concurrent sessions writing batches (see ``write_record_batch``). Batches hold
        disjoint records; a lock conflict on a shared node (an account, a hashtag) is retried by
        ``execute_write``.
    loader : ``procedure`` (the server-side ``rallypoint.loadBatch``, one transaction per batch),
        ``cypher`` (``UNWIND`` statements, two transactions per batch) or ``auto`` (the procedure
        when the server has it, else Cypher; asked once per load). Both write the same graph.

    Returns counts (records read, nodes and relationships created, transactions), the ``loader``
    that ran, and timings: ``seconds`` (wall clock), ``node_seconds`` and ``relationship_seconds``
    (time spent in node and in relationship transactions, summed over workers; with the procedure
    all of it is ``node_seconds``, its one transaction per batch).

    Complexity: one streaming pass over the files; memory is O(workers * batch_size); Neo4j
    work is one key-index seek per distinct node of a batch and, per relationship, two id seeks
    (Cypher) or O(1) (procedure; O(post degree) when both ends already existed).
    """
    if batch_size < 1:
        raise Neo4jError("The Neo4j batch size must be a positive number of records.")
    if workers < 1:
        raise Neo4jError("The number of Neo4j writers must be a positive number.")
    lake = lake_path if isinstance(lake_path, Lake) else Lake(lake_path)
    paths = _lake_files(lake, files)
    total = sum(pq.ParquetFile(p).metadata.num_rows for p in paths)
    started = time.perf_counter()
    with open_driver(uri, user, password) as driver:
        ensure_constraints(driver)
        used = resolve_loader(driver, loader, database)
        node_writer = BatchWriter(driver, database=database)
        rel_writer = BatchWriter(driver, database=database)
        with _progress() as progress:
            task = progress.add_task("Neo4j", total=total)

            def done(n: int) -> None:
                progress.advance(task, n)
                if on_batch is not None:
                    on_batch(n)

            def write(batch: pa.Table) -> None:
                write_record_batch(node_writer, rel_writer, batch, used)

            _write_batches(write, _iter_batches(paths, batch_size, LOAD_COLUMNS), workers, done)
    seconds = time.perf_counter() - started
    return {
        "uri": Neo4jSettings.resolve(uri).uri,
        "files": len(paths),
        "records": total,
        "batch_size": batch_size,
        "loader": used,
        "nodes_created": node_writer.counts.nodes_created + rel_writer.counts.nodes_created,
        "relationships_created": node_writer.counts.relationships_created + rel_writer.counts.relationships_created,
        "properties_set": node_writer.counts.properties_set + rel_writer.counts.properties_set,
        "transactions": node_writer.counts.transactions + rel_writer.counts.transactions,
        "seconds": round(seconds, 3),
        "node_seconds": round(node_writer.seconds, 3),
        "relationship_seconds": round(rel_writer.seconds, 3),
    }


def load_missing_into_neo4j(lake_path: str | os.PathLike[str] | Lake, uri: str | None, *,
                            reload_all: bool = False, **options: Any) -> dict[str, Any]:
    """Load the committed interaction files the Neo4j at ``uri`` does not hold yet, then record them.

    The lake keeps, per server URI, the files loaded there (``LAKE/neo4j.json``), so after an
    outage (an ``ingest --neo4j`` whose load failed, a server that was down) the next load
    catches the graph up with the lake. ``reload_all`` loads every file again (idempotent),
    for a server whose database was replaced. ``options`` go to ``load_lake_into_neo4j``.
    """
    lake = lake_path if isinstance(lake_path, Lake) else Lake(lake_path)
    lake.require()
    server = Neo4jSettings.resolve(uri).uri
    files = list(lake.snapshot().files) if reload_all else lake.graph_missing(server)
    if not files:
        return {"uri": server, "files": 0, "records": 0, "nodes_created": 0, "relationships_created": 0,
                "up_to_date": True}
    result = load_lake_into_neo4j(lake, uri, files=files, **options)
    lake.mark_graph_loaded(server, files)
    return result
