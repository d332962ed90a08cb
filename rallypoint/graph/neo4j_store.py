"""The Neo4j store: the lake's interactions and a run's clusters as a property graph.

Graph model (SPEC.md)::

    (:Account {id, platform, name, high_profile, followers})
    (:Post {platform, id, ts, action, channel_id})       one per record, plus stubs for targets
    (:Url {url, domain}) (:Hashtag {tag}) (:Media {hash})
    (:Cluster {run_id, id, score, flagged, n_accounts, n_edges})

    (Account)-[:POSTED]->(Post)                            the record's author; also target_account_id
    (Post)-[:REPOSTED|REPLIED_TO|QUOTED|REACTED_TO]->(Post) the record's target, by its action
    (Post)-[:LINKS_TO]->(Url)  (Post)-[:TAGGED]->(Hashtag)
    (Post)-[:MENTIONS]->(Account)  (Post)-[:ATTACHES]->(Media)
    (Account)-[:COORDINATED_WITH {run_id, weight, n_shared, types, ...}]->(Account)   account_a -> account_b
    (Account)-[:MEMBER_OF {role}]->(Cluster)

Keys, each behind a uniqueness constraint created before any write: ``Account.id``,
``Post (platform, id)`` (the lake's record key), ``Url.url``, ``Hashtag.tag``, ``Media.hash``,
``Cluster (run_id, id)``. ``REACTED_TO`` extends SPEC.md's list so that reactions keep their target.

How it loads (the usual recipe for fast, safe bulk writes through Bolt):

* batched ``UNWIND $rows AS row MERGE ...``: one transaction per batch of ``batch_size`` records
  (all node statements of a batch together, then one relationship statement per batch), so
  the cost is O(records / batch_size) round trips and commits instead of O(records);
* every node of every file is written before any relationship: a relationship write then only
  reads and locks existing nodes, so concurrent loaders (partitions written in parallel) cannot
  deadlock by creating the same node in opposite orders;
* ``session.execute_write`` retries transient errors (deadlocks, leader switches) with back-off;
* ``MERGE`` on keys everywhere makes a second load of the same lake change nothing.

The lake is read one Parquet record batch at a time (pyarrow), never all at once. Each batch is
deduplicated column-wise (pyarrow ``group_by``) before it is sent, so a hashtag used by ten
thousand records of one batch is one row.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rallypoint.errors import LakeError, Neo4jError
from rallypoint.graph.lake import Lake

#: Where `make neo4j` serves the local development server.
DEFAULT_URI = "bolt://127.0.0.1:7687"
DEFAULT_USER = "neo4j"
#: The local development server's password (neo4j-local/neo4j.sh uses the same default).
#: A team deployment sets its own in NEO4J_PASSWORD (docker-compose reads it from .env).
DEV_PASSWORD = "rallypoint-dev"
SUPPORTED_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")

#: The record actions that point at another post, and the relationship each one becomes.
TARGET_RELATIONSHIPS: dict[str, str] = {
    "repost": "REPOSTED",
    "reply": "REPLIED_TO",
    "quote": "QUOTED",
    "reaction": "REACTED_TO",
}

CONSTRAINTS: tuple[str, ...] = (
    "CREATE CONSTRAINT rallypoint_account_id IF NOT EXISTS FOR (n:Account) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT rallypoint_post_key IF NOT EXISTS FOR (n:Post) REQUIRE (n.platform, n.id) IS UNIQUE",
    "CREATE CONSTRAINT rallypoint_url IF NOT EXISTS FOR (n:Url) REQUIRE n.url IS UNIQUE",
    "CREATE CONSTRAINT rallypoint_hashtag IF NOT EXISTS FOR (n:Hashtag) REQUIRE n.tag IS UNIQUE",
    "CREATE CONSTRAINT rallypoint_media IF NOT EXISTS FOR (n:Media) REQUIRE n.hash IS UNIQUE",
    "CREATE CONSTRAINT rallypoint_cluster_key IF NOT EXISTS FOR (n:Cluster) REQUIRE (n.run_id, n.id) IS UNIQUE",
)

#: The lake columns the loader reads.
LOAD_COLUMNS = [
    "id", "platform", "account_id", "timestamp", "action", "target_id", "target_account_id",
    "urls", "hashtags", "mentions", "media", "channel_id", "account_name", "followers", "high_profile",
]

# --- Cypher: nodes ------------------------------------------------------------------
# Account properties: the newest non-null value wins, so reloading or loading in any order
# converges on the same node.
MERGE_ACCOUNTS = """
UNWIND $rows AS row
MERGE (a:Account {id: row.id})
ON CREATE SET a.platform = row.platform
SET a.name = coalesce(row.name, a.name),
    a.high_profile = coalesce(row.high_profile, a.high_profile, false),
    a.followers = coalesce(row.followers, a.followers)
"""



def _datetime(expr: str) -> str:
    """Cypher turning epoch microseconds into a DateTime (null stays null).

    Timestamps travel as integers: the driver packs Python datetimes 20-30x slower than ints.
    """
    return (f"CASE WHEN {expr} IS NULL THEN null ELSE datetime({{epochSeconds: {expr} / 1000000, "
            f"nanosecond: {expr} % 1000000 * 1000}}) END")


MERGE_POSTS = f"""
UNWIND $rows AS row
MERGE (p:Post {{platform: row.platform, id: row.id}})
SET p.ts = {_datetime("row.ts")}, p.action = row.action, p.channel_id = row.channel_id
"""
# A target that the lake does not hold (yet) becomes a stub: key only, filled in if it arrives.
MERGE_TARGET_POSTS = """
UNWIND $rows AS row
MERGE (:Post {platform: row.platform, id: row.id})
"""
MERGE_URLS = "UNWIND $rows AS row MERGE (u:Url {url: row.url}) ON CREATE SET u.domain = row.domain"
MERGE_HASHTAGS = "UNWIND $rows AS row MERGE (:Hashtag {tag: row.tag})"
MERGE_MEDIA = "UNWIND $rows AS row MERGE (:Media {hash: row.hash})"

# --- Cypher: relationships (every node exists by now: MATCH, never create) ---------------
# One statement per record batch, one row per record: the post is looked up once and every
# relationship of the record hangs off it (unit subqueries keep one row per record). This
# sends each record once and does a third fewer index lookups than one statement per kind.
_TARGET_MERGES = "\n".join(
    f"  CALL (p, t, row) {{ WITH p, t, row WHERE row.action = '{action}' MERGE (p)-[:{rel}]->(t) }}"
    for action, rel in TARGET_RELATIONSHIPS.items()
)
MERGE_RECORD_RELATIONSHIPS = f"""
UNWIND $rows AS row
MATCH (p:Post {{platform: row.platform, id: row.id}})
MATCH (a:Account {{id: row.account_id}})
MERGE (a)-[:POSTED]->(p)
WITH p, row
CALL (p, row) {{
  WITH p, row WHERE row.target_id IS NOT NULL
  MATCH (t:Post {{platform: row.platform, id: row.target_id}})
{_TARGET_MERGES}
  CALL (t, row) {{
    WITH t, row WHERE row.target_account_id IS NOT NULL
    MATCH (author:Account {{id: row.target_account_id}})
    MERGE (author)-[:POSTED]->(t)
  }}
}}
CALL (p, row) {{ UNWIND row.urls AS value MATCH (n:Url {{url: value}}) MERGE (p)-[:LINKS_TO]->(n) }}
CALL (p, row) {{ UNWIND row.hashtags AS value MATCH (n:Hashtag {{tag: value}}) MERGE (p)-[:TAGGED]->(n) }}
CALL (p, row) {{ UNWIND row.mentions AS value MATCH (n:Account {{id: value}}) MERGE (p)-[:MENTIONS]->(n) }}
CALL (p, row) {{ UNWIND row.media AS value MATCH (n:Media {{hash: value}}) MERGE (p)-[:ATTACHES]->(n) }}
"""
RELATIONSHIP_COLUMNS = ["platform", "id", "account_id", "action", "target_id", "target_account_id",
                        "urls", "hashtags", "mentions", "media"]


# --- connections ----------------------------------------------------------------------
@dataclass(frozen=True)
class Neo4jSettings:
    """Where and as whom to connect: arguments first, then NEO4J_* variables, then the dev defaults."""

    uri: str
    user: str
    password: str

    @classmethod
    def resolve(cls, uri: str | None = None, user: str | None = None,
                password: str | None = None) -> Neo4jSettings:
        return cls(
            uri=uri or os.environ.get("NEO4J_URI") or DEFAULT_URI,
            user=user or os.environ.get("NEO4J_USER") or DEFAULT_USER,
            password=password if password is not None else os.environ.get("NEO4J_PASSWORD", DEV_PASSWORD),
        )


def open_driver(uri: str | None = None, user: str | None = None, password: str | None = None):
    """A connected ``neo4j.Driver``; every way of failing becomes one Neo4jError sentence.

    The caller closes it (use it as a context manager).
    """
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError, ConfigurationError, ServiceUnavailable

    settings = Neo4jSettings.resolve(uri, user, password)
    scheme = urlsplit(settings.uri).scheme if "://" in settings.uri else ""
    if scheme not in SUPPORTED_SCHEMES:
        raise Neo4jError(
            f"The Neo4j URI {settings.uri!r} is not valid; use bolt://HOST:PORT or neo4j://HOST:PORT."
        )
    try:
        driver = GraphDatabase.driver(settings.uri, auth=(settings.user, settings.password))
    except (ConfigurationError, ValueError) as exc:
        raise Neo4jError(f"The Neo4j URI {settings.uri!r} is not valid ({_first_line(exc)}).") from exc
    try:
        driver.verify_connectivity()
    except AuthError as exc:
        driver.close()
        raise Neo4jError(
            f"Neo4j at {settings.uri} refused user {settings.user!r}: wrong user or password "
            "(set NEO4J_USER and NEO4J_PASSWORD)."
        ) from exc
    except (ServiceUnavailable, OSError) as exc:
        driver.close()
        raise Neo4jError(
            f"Cannot reach Neo4j at {settings.uri}; is the server running (`make neo4j` starts a local one)?"
        ) from exc
    except Exception as exc:  # the driver has many more error types; all mean "cannot use it"
        driver.close()
        raise Neo4jError(f"Neo4j at {settings.uri} could not be used: {_first_line(exc)}.") from exc
    return driver


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0].rstrip(".")


def ensure_constraints(driver) -> None:
    """Create the uniqueness constraints (and so the indexes MERGE needs); idempotent."""
    with driver.session() as session:
        for statement in CONSTRAINTS:
            session.run(statement).consume()
        session.run("CALL db.awaitIndexes(300)").consume()


@dataclass
class WriteCounts:
    """What Neo4j reports it changed, summed over transactions."""

    nodes_created: int = 0
    relationships_created: int = 0
    relationships_deleted: int = 0
    nodes_deleted: int = 0
    properties_set: int = 0
    transactions: int = 0
    rows: int = 0

    def add(self, counters, rows: int, transactions: int = 1) -> None:
        self.nodes_created += counters.nodes_created
        self.relationships_created += counters.relationships_created
        self.relationships_deleted += counters.relationships_deleted
        self.nodes_deleted += counters.nodes_deleted
        self.properties_set += counters.properties_set
        self.transactions += transactions
        self.rows += rows

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class BatchWriter:
    """Writes batches of rows with ``UNWIND`` statements, each batch in one retried transaction."""

    driver: Any
    counts: WriteCounts = field(default_factory=WriteCounts)
    database: str | None = None

    def write(self, query: str, rows: list[dict[str, Any]], **params: Any) -> None:
        if not rows:
            return

        def work(tx):
            return tx.run(query, rows=rows, **params).consume().counters

        with self.driver.session(database=self.database) as session:
            counters = session.execute_write(work)
        self.counts.add(counters, len(rows))

    def write_together(self, statements: list[Statement]) -> None:
        """Run several statements in ONE retried transaction (one commit per record batch).

        A retry re-runs them all, which is safe because each one MERGEs.
        """
        statements = [(q, rows) for q, rows in statements if rows]
        if not statements:
            return

        def work(tx):
            return [tx.run(query, rows=rows).consume().counters for query, rows in statements]

        with self.driver.session(database=self.database) as session:
            results = session.execute_write(work)
        for i, (counters, (_, rows)) in enumerate(zip(results, statements, strict=True)):
            self.counts.add(counters, len(rows), transactions=int(i == 0))


# --- reading the lake, batch by batch --------------------------------------------------
def _iter_batches(files: Iterable[Path], batch_size: int, columns: list[str]) -> Iterator[pa.Table]:
    for path in files:
        parquet = pq.ParquetFile(path)
        present = [c for c in columns if c in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(batch_size=batch_size, columns=present):
            table = pa.Table.from_batches([batch])
            for missing in (c for c in columns if c not in present):
                table = table.append_column(missing, pa.nulls(len(table)))
            yield table


def _distinct(table: pa.Table, keys: list[str]) -> pa.Table:
    return table.select(keys).group_by(keys, use_threads=False).aggregate([])


def _exploded(table: pa.Table, list_column: str) -> pa.Table:
    """(platform, id, value) for every element of a list column, null and empty values dropped."""
    values = table[list_column]
    if values.null_count == len(table):
        return pa.table({"platform": pa.array([], pa.string()), "id": pa.array([], pa.string()),
                         "value": pa.array([], pa.string())})
    parents = pc.list_parent_indices(values)
    flat = pc.list_flatten(values)
    exploded = pa.table({
        "platform": pc.take(table["platform"], parents),
        "id": pc.take(table["id"], parents),
        "value": flat,
    })
    keep = pc.and_(pc.is_valid(exploded["value"]), pc.not_equal(exploded["value"], ""))
    return _distinct(exploded.filter(keep), ["platform", "id", "value"])


def _epoch_micros(table: pa.Table) -> pa.Table:
    """Every timestamp column as int64 microseconds since the epoch (see ``_datetime``)."""
    for i, column in enumerate(table.schema):
        if pa.types.is_timestamp(column.type):
            micros = pc.cast(table.column(i), pa.timestamp("us", tz="UTC")).cast(pa.int64())
            table = table.set_column(i, column.name, micros)
    return table


def _url_domain(urls: pa.Array) -> pa.Array:
    """The host of each URL, lower case, without a leading www."""
    host = pc.extract_regex(urls, r"^(?:[A-Za-z][A-Za-z0-9+.-]*://)?(?:[^@/?#]*@)?(?P<host>[^/:?#]*)")
    host = pc.utf8_lower(pc.struct_field(host, [0]))
    return pc.replace_substring_regex(host, r"^www\.", "")


def _node_rows(batch: pa.Table) -> dict[str, list[dict[str, Any]]]:
    """The distinct nodes one batch of records names, as rows for the node statements."""
    accounts = (
        batch.select(["account_id", "platform", "account_name", "high_profile", "followers"])
        .rename_columns(["id", "platform", "name", "high_profile", "followers"])
    )
    # one row per account: the batch's last values (records are in time order within a file)
    accounts = accounts.group_by(["id"], use_threads=False).aggregate(
        [(c, "last") for c in ("platform", "name", "high_profile", "followers")]
    ).rename_columns(["id", "platform", "name", "high_profile", "followers"])
    # Accounts only named as a target's author or in mentions become stubs: rows without
    # properties, which MERGE_ACCOUNTS's coalesce() turns into "create if missing, else keep".
    named = [accounts]
    targeted = batch.filter(pc.is_valid(batch["target_account_id"]))
    if len(targeted):
        named.append(_distinct(targeted, ["target_account_id", "platform"]).rename_columns(["id", "platform"]))
    mentions = _exploded(batch, "mentions")
    if len(mentions):
        named.append(_distinct(mentions, ["value", "platform"]).rename_columns(["id", "platform"]))
    # Sorted by key, every statement locks shared nodes in one order, so concurrent writers
    # (``workers``) rarely deadlock.
    accounts = pa.concat_tables(named, promote_options="default").sort_by("id")
    target_posts = batch.filter(pc.is_valid(batch["target_id"]))
    urls = _distinct(_exploded(batch, "urls"), ["value"]).rename_columns(["url"]).sort_by("url")
    urls = urls.append_column("domain", _url_domain(urls["url"]))
    return {
        "accounts": accounts.to_pylist(),
        "posts": _epoch_micros(batch.select(["platform", "id", "timestamp", "action", "channel_id"])
                               .rename_columns(["platform", "id", "ts", "action", "channel_id"])).to_pylist(),
        "target_posts": _distinct(target_posts, ["platform", "target_id"])
        .rename_columns(["platform", "id"]).sort_by([("platform", "ascending"), ("id", "ascending")]).to_pylist(),
        "urls": urls.to_pylist(),
        "hashtags": _distinct(_exploded(batch, "hashtags"), ["value"]).rename_columns(["tag"]).sort_by("tag")
        .to_pylist(),
        "media": _distinct(_exploded(batch, "media"), ["value"]).rename_columns(["hash"]).sort_by("hash")
        .to_pylist(),
    }


Statement = tuple[str, list[dict[str, Any]]]


def node_statements(batch: pa.Table) -> list[Statement]:
    """The node MERGEs for one batch of records (accounts, posts, target stubs, URLs, tags, media)."""
    rows = _node_rows(batch)
    return [
        (MERGE_ACCOUNTS, rows["accounts"]),
        (MERGE_POSTS, rows["posts"]),
        (MERGE_TARGET_POSTS, rows["target_posts"]),
        (MERGE_URLS, rows["urls"]),
        (MERGE_HASHTAGS, rows["hashtags"]),
        (MERGE_MEDIA, rows["media"]),
    ]


def relationship_statements(batch: pa.Table) -> list[Statement]:
    """The relationship MERGEs for one batch of records; every node they name exists already."""
    # sorted by author, concurrent writers take the authors' locks in one order
    return [(MERGE_RECORD_RELATIONSHIPS, batch.select(RELATIONSHIP_COLUMNS).sort_by("account_id").to_pylist())]


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


def _write_batches(writer: BatchWriter, step: Callable[[pa.Table], list[Statement]],
                   batches: Iterable[pa.Table], workers: int, done: Callable[[int], None]) -> None:
    """Write each batch's statements in its own transaction, ``workers`` transactions at a time.

    At most ``2 * workers`` batches are in flight, so memory stays O(workers * batch_size); the
    first failure stops the phase and is raised once the batches already running have finished.
    """
    if workers == 1:
        for batch in batches:
            writer.write_together(step(batch))
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
            running[pool.submit(writer.write_together, step(batch))] = len(batch)
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
    workers : concurrent sessions writing batches within a phase (the node phase still ends
        before the relationship phase begins). Batches hold disjoint records; a lock conflict on a
        shared node (an account, a hashtag) is retried by ``execute_write``.

    Returns counts (records read, nodes and relationships created, transactions) and timings.

    Complexity: two streaming passes over the files (nodes, then relationships); memory is
    O(batch_size); Neo4j work is O(records) index lookups via the uniqueness constraints.
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
        node_writer = BatchWriter(driver, database=database)
        rel_writer = BatchWriter(driver, database=database)
        phase_seconds: dict[str, float] = {}
        with _progress() as progress:
            for phase, writer, step in (
                ("nodes", node_writer, node_statements),
                ("relationships", rel_writer, relationship_statements),
            ):
                phase_started = time.perf_counter()
                task = progress.add_task(f"Neo4j {phase}", total=total)
                def done(n: int, task=task) -> None:
                    progress.advance(task, n)
                    if on_batch is not None:
                        on_batch(n)

                with _interrupted_write(phase):
                    _write_batches(writer, step, _iter_batches(paths, batch_size, LOAD_COLUMNS), workers, done)
                phase_seconds[phase] = time.perf_counter() - phase_started
    seconds = time.perf_counter() - started
    return {
        "uri": Neo4jSettings.resolve(uri).uri,
        "files": len(paths),
        "records": total,
        "batch_size": batch_size,
        "nodes_created": node_writer.counts.nodes_created,
        "relationships_created": rel_writer.counts.relationships_created,
        "properties_set": node_writer.counts.properties_set + rel_writer.counts.properties_set,
        "transactions": node_writer.counts.transactions + rel_writer.counts.transactions,
        "seconds": round(seconds, 3),
        "node_seconds": round(phase_seconds["nodes"], 3),
        "relationship_seconds": round(phase_seconds["relationships"], 3),
    }


# --- a detection run in the graph -------------------------------------------------------
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
