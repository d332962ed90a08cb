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

How it loads. Each record batch becomes ``batch_tables``: one table per node kind (distinct
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
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rallypoint.errors import LakeError, Neo4jError
from rallypoint.lake import Lake

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
# Rows travel as parallel column lists (``$id[i]``), not as one map per row: the driver packs a
# list of strings several times faster than a list of dicts repeating every key.
# Every node statement returns the node id of each row it merged (``row``, ``node``): the
# relationship statements of the same batch then find their nodes by id (NodeByIdSeek) instead of
# seeking the key indexes again. Both collect()s run over the same rows, so rows and ids line up.

# Account properties: the newest non-null value wins, so reloading or loading in any order
# converges on the same node.
MERGE_ACCOUNTS = """
UNWIND range(0, size($id) - 1) AS i
MERGE (a:Account {id: $id[i]})
ON CREATE SET a.platform = $platform[i]
SET a.name = coalesce($name[i], a.name),
    a.high_profile = coalesce($high_profile[i], a.high_profile, false),
    a.followers = coalesce($followers[i], a.followers)
RETURN collect(i) AS row, collect(id(a)) AS node
"""


def _datetime(expr: str) -> str:
    """Cypher turning epoch microseconds into a DateTime (null stays null).

    Timestamps travel as integers: the driver packs Python datetimes far slower than ints.
    """
    return (f"CASE WHEN {expr} IS NULL THEN null ELSE datetime({{epochSeconds: {expr} / 1000000, "
            f"nanosecond: {expr} % 1000000 * 1000}}) END")


MERGE_POSTS = f"""
UNWIND range(0, size($id) - 1) AS i
MERGE (p:Post {{platform: $platform[i], id: $id[i]}})
SET p.ts = {_datetime("$ts[i]")}, p.action = $action[i], p.channel_id = $channel_id[i]
RETURN collect(i) AS row, collect(id(p)) AS node
"""
# A target that the lake does not hold (yet) becomes a stub: key only, filled in if it arrives.
MERGE_TARGET_POSTS = """
UNWIND range(0, size($id) - 1) AS i
MERGE (p:Post {platform: $platform[i], id: $id[i]})
RETURN collect(i) AS row, collect(id(p)) AS node
"""
MERGE_URLS = """
UNWIND range(0, size($url) - 1) AS i
MERGE (n:Url {url: $url[i]}) ON CREATE SET n.domain = $domain[i]
RETURN collect(i) AS row, collect(id(n)) AS node
"""
MERGE_HASHTAGS = """
UNWIND range(0, size($tag) - 1) AS i
MERGE (n:Hashtag {tag: $tag[i]})
RETURN collect(i) AS row, collect(id(n)) AS node
"""
MERGE_MEDIA = """
UNWIND range(0, size($hash) - 1) AS i
MERGE (n:Media {hash: $hash[i]})
RETURN collect(i) AS row, collect(id(n)) AS node
"""

# --- Cypher: relationships (every node exists by now: MATCH by id, never create) ----------
# One flat statement per relationship type, with the node ids the batch's node statements
# returned: two NodeByIdSeeks (the label check guards against an id reused after a delete)
# and a MERGE of the relationship between two bound nodes (Expand(Into)), no index seek.
# MERGE, not CREATE, keeps every load idempotent: a second load finds each relationship.
#: The node table of each node label (``BatchTables``; the procedure's batch map uses the same names).
NODE_TABLES: dict[str, str] = {"Account": "accounts", "Post": "posts", "Url": "urls", "Hashtag": "hashtags",
                               "Media": "media"}
#: (relationship type, start label, end label) of the relationships a record batch writes.
RELATIONSHIP_TYPES: tuple[tuple[str, str, str], ...] = (
    ("POSTED", "Account", "Post"),
    *((rel, "Post", "Post") for rel in TARGET_RELATIONSHIPS.values()),
    ("LINKS_TO", "Post", "Url"),
    ("TAGGED", "Post", "Hashtag"),
    ("MENTIONS", "Post", "Account"),
    ("ATTACHES", "Post", "Media"),
)


def merge_relationships_query(rel: str, start: str, end: str) -> str:
    """``UNWIND`` over parallel id lists ``$src``/``$dst``, merging ``(src)-[:rel]->(dst)``."""
    return f"""
UNWIND range(0, size($src) - 1) AS i
MATCH (a:{start}) WHERE id(a) = $src[i]
MATCH (b:{end}) WHERE id(b) = $dst[i]
MERGE (a)-[:{rel}]->(b)
"""


MERGE_RELATIONSHIPS: dict[str, str] = {rel: merge_relationships_query(rel, start, end)
                                       for rel, start, end in RELATIONSHIP_TYPES}


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
            uri=uri or os.environ.get("NEO4J_URI") or local_server_uri(),
            user=user or os.environ.get("NEO4J_USER") or DEFAULT_USER,
            password=password if password is not None else os.environ.get("NEO4J_PASSWORD", DEV_PASSWORD),
        )


def local_server_uri() -> str:
    """The Bolt URI of `make neo4j`'s server: NEO4J_LOCAL_HOST/NEO4J_LOCAL_PORT as neo4j-local/neo4j.sh reads them."""
    host = os.environ.get("NEO4J_LOCAL_HOST") or "127.0.0.1"
    port = os.environ.get("NEO4J_LOCAL_PORT") or "7687"
    return f"bolt://{host}:{port}"


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
    #: wall-clock seconds spent in ``write_together`` transactions (summed over workers)
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def write(self, query: str, rows: list[dict[str, Any]], **params: Any) -> None:
        if not rows:
            return

        def work(tx):
            return tx.run(query, rows=rows, **params).consume().counters

        with self.driver.session(database=self.database) as session:
            counters = session.execute_write(work)
        self.counts.add(counters, len(rows))

    def write_together(self, statements: list[Statement]) -> list[dict[str, list[Any]]]:
        """Run several statements in ONE retried transaction (one commit per record batch).

        ``statements`` are (query, parameters) pairs whose parameters are equally long column
        lists; a statement with no rows is not sent. Returns, for each statement (in order), the
        columns of the one record it returned (``{}`` if it returned nothing or was not sent).
        A retry re-runs them all, which is safe because each one MERGEs. Adds the
        transaction's wall time to ``seconds``.
        """
        sent = [(i, query, params) for i, (query, params) in enumerate(statements) if _row_count(params)]
        answers: list[dict[str, list[Any]]] = [{} for _ in statements]
        if not sent:
            return answers

        def work(tx):
            outcome = []
            for _, query, params in sent:
                result = tx.run(query, params)
                record = result.single(strict=False)
                outcome.append((record.data() if record is not None else {}, result.consume().counters))
            return outcome

        started = time.perf_counter()
        # id() is deprecated in Cypher 5 (without a replacement of the same cost: elementId()
        # strings are ~40 bytes each way); it stays valid, so its warning is not wanted here.
        with self.driver.session(database=self.database,
                                 notifications_disabled_classifications=["DEPRECATION"]) as session:
            results = session.execute_write(work)
        with self._lock:
            self.seconds += time.perf_counter() - started
            for n, ((data, counters), (i, _, params)) in enumerate(zip(results, sent, strict=True)):
                self.counts.add(counters, _row_count(params), transactions=int(n == 0))
                answers[i] = data
        return answers

    def call_load_procedure(self, batch: dict[str, Any]) -> None:
        """Run ``rallypoint.loadBatch`` on one batch map in one retried transaction; adds what it wrote."""

        def work(tx):
            return tx.run(CALL_LOAD_PROCEDURE, batch=batch).single(strict=True).data()

        started = time.perf_counter()
        with self.driver.session(database=self.database) as session:
            written = session.execute_write(work)
        with self._lock:
            self.seconds += time.perf_counter() - started
            self.counts.nodes_created += written["nodes"]
            self.counts.relationships_created += written["relationships"]
            self.counts.properties_set += written["properties"]
            self.counts.transactions += 1
            self.counts.rows += len(batch["posts"]["id"])


def _row_count(params: dict[str, list[Any]]) -> int:
    """The rows of a statement whose parameters are parallel column lists."""
    return len(next(iter(params.values()))) if params else 0


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


def _joined(left: pa.Table, right: pa.Table, keys: list[str]) -> pa.Table:
    """Inner join on ``keys`` (rows without a match are dropped; every key was merged, so none is)."""
    return left.join(right, keys, join_type="inner", use_threads=False)


def _pairs(table: pa.Table, src: str, dst: str) -> pa.Table:
    return pa.table({"src": table[src], "dst": table[dst]})


def _first_rows(table: pa.Table, keys: list[str]) -> pa.Table:
    """The first row of each distinct key, in order of first appearance."""
    numbered = _numbered(table, "_row")
    first = numbered.group_by(keys, use_threads=False).aggregate([("_row", "min")])["_row_min"]
    return table.take(pc.take(first, pc.sort_indices(first)))


@dataclass(frozen=True)
class BatchTables:
    """One record batch as what the graph holds: what both load paths write.

    One table per node kind, one row per distinct node (its key and properties); per relationship
    type, the distinct (``src``, ``dst``) pairs of row numbers into the start and end tables
    (``RELATIONSHIP_TYPES``, ``NODE_TABLES``). The Cypher path turns the rows into node ids
    (``node_statements`` then ``relationship_statements``); the procedure path sends the tables as
    they are (``procedure_batch``).
    """

    accounts: pa.Table  # id, platform, name, high_profile, followers; sorted by id
    posts: pa.Table  # platform, id, ts (epoch µs), action, channel_id, stub: the records, then target stubs
    urls: pa.Table  # url, domain; sorted
    hashtags: pa.Table  # tag; sorted
    media: pa.Table  # hash; sorted
    relationships: dict[str, pa.Table]  # type -> src, dst (int64 rows), sorted by the shared end

    @property
    def records(self) -> int:
        """The posts that are records (not stubs): they come first in ``posts``."""
        return len(self.posts) - pc.sum(self.posts["stub"]).as_py() if len(self.posts) else 0


def _numbered(table: pa.Table, name: str) -> pa.Table:
    return table.append_column(name, pa.array(np.arange(len(table), dtype=np.int64)))


def batch_tables(batch: pa.Table) -> BatchTables:
    """The distinct nodes and relationships one batch of records names (see ``BatchTables``).

    * Accounts: authors with the batch's last non-null values, then accounts only named (a
      target's author, a mention) as rows without properties, which both paths turn into
      "create if missing, else keep". Sorted by id, so concurrent writers lock shared accounts
      in one order.
    * Posts: every record with its properties, then the targets that are not records of the
      batch as stubs (key only, filled in if the record arrives later), sorted by key.
    * Relationships: per type, distinct pairs sorted by the end many batches share (the author
      for ``POSTED``, the target, URL, tag, account or media otherwise).

    Complexity: a few hash group-bys and joins over the batch, O(rows + list elements).
    """
    authors = (
        batch.select(["account_id", "platform", "account_name", "high_profile", "followers"])
        .rename_columns(["id", "platform", "name", "high_profile", "followers"])
    )
    authors = authors.group_by(["id"], use_threads=False).aggregate(
        [(c, "last") for c in ("platform", "name", "high_profile", "followers")]
    ).rename_columns(["id", "platform", "name", "high_profile", "followers"])
    named = [pa.table({"id": pa.array([], pa.string()), "platform": pa.array([], pa.string())})]
    targeted = batch.filter(pc.is_valid(batch["target_account_id"]))
    if len(targeted):
        named.append(targeted.select(["target_account_id", "platform"]).rename_columns(["id", "platform"]))
    mentions = _exploded(batch, "mentions")
    if len(mentions):
        named.append(mentions.select(["value", "platform"]).rename_columns(["id", "platform"]))
    named = [t.cast(pa.schema([("id", pa.string()), ("platform", pa.string())])) for t in named]
    stubs = _first_rows(pa.concat_tables(named), ["id"]).join(authors.select(["id"]), ["id"],
                                                              join_type="left anti", use_threads=False)
    accounts = pa.concat_tables([authors, stubs], promote_options="default").sort_by("id")

    records = _epoch_micros(batch.select(["platform", "id", "timestamp", "action", "channel_id"])
                            .rename_columns(["platform", "id", "ts", "action", "channel_id"]))
    records = _first_rows(records, ["platform", "id"])  # a lake holds each key once; be safe
    targets = _distinct(batch.filter(pc.is_valid(batch["target_id"])), ["platform", "target_id"]) \
        .rename_columns(["platform", "id"])
    targets = targets.join(records.select(["platform", "id"]), ["platform", "id"], join_type="left anti",
                           use_threads=False).sort_by([("platform", "ascending"), ("id", "ascending")])
    posts = pa.concat_tables([
        records.append_column("stub", pa.repeat(False, len(records))),
        targets.append_column("stub", pa.repeat(True, len(targets))),
    ], promote_options="default")
    urls = _distinct(_exploded(batch, "urls"), ["value"]).rename_columns(["url"]).sort_by("url")
    urls = urls.append_column("domain", _url_domain(urls["url"]))
    hashtags = _distinct(_exploded(batch, "hashtags"), ["value"]).rename_columns(["tag"]).sort_by("tag")
    media = _distinct(_exploded(batch, "media"), ["value"]).rename_columns(["hash"]).sort_by("hash")

    # row numbers by key
    post_rows = _numbered(posts.select(["platform", "id"]), "p")
    account_rows = _numbered(accounts.select(["id"]), "a")
    rows = _joined(batch.select(["platform", "id", "account_id", "action", "target_id", "target_account_id"]),
                   post_rows, ["platform", "id"])
    rows = _joined(rows, account_rows.rename_columns(["account_id", "a"]), ["account_id"])
    edges: dict[str, list[pa.Table]] = {rel: [] for rel, _, _ in RELATIONSHIP_TYPES}
    edges["POSTED"].append(_pairs(rows, "a", "p"))
    targeted = _joined(rows.filter(pc.is_valid(rows["target_id"])),
                       post_rows.rename_columns(["platform", "target_id", "t"]), ["platform", "target_id"])
    for action, rel in TARGET_RELATIONSHIPS.items():
        edges[rel].append(_pairs(targeted.filter(pc.equal(targeted["action"], action)), "p", "t"))
    authored = _joined(targeted.filter(pc.is_valid(targeted["target_account_id"])),
                       account_rows.rename_columns(["target_account_id", "ta"]), ["target_account_id"])
    edges["POSTED"].append(_pairs(authored, "ta", "t"))
    for column, rel, lookup in (("urls", "LINKS_TO", _numbered(urls.select(["url"]), "n")),
                                ("hashtags", "TAGGED", _numbered(hashtags, "n")),
                                ("mentions", "MENTIONS", account_rows.rename_columns(["id", "n"])),
                                ("media", "ATTACHES", _numbered(media, "n"))):
        linked = _joined(_exploded(batch, column), post_rows.rename_columns(["platform", "id", "p"]),
                         ["platform", "id"])
        linked = _joined(linked, lookup.rename_columns(["value", "n"]), ["value"])
        edges[rel].append(_pairs(linked, "p", "n"))
    relationships = {}
    for rel, parts in edges.items():
        shared, other = ("src", "dst") if rel == "POSTED" else ("dst", "src")
        relationships[rel] = _distinct(pa.concat_tables(parts), ["src", "dst"]).sort_by(
            [(shared, "ascending"), (other, "ascending")])
    return BatchTables(accounts=accounts, posts=posts, urls=urls, hashtags=hashtags, media=media,
                       relationships=relationships)


#: A statement and its parameters: equally long column lists (one element per row).
Statement = tuple[str, dict[str, list[Any]]]


def _columns(table: pa.Table) -> dict[str, list[Any]]:
    """A table as parallel Python lists, one per column (what the ``$column[i]`` statements read)."""
    return {name: table.column(name).to_pylist() for name in table.column_names}


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
#: The server-side loader (neo4j-local/src/main/java/org/rallypoint/neo4jlocal/LoadProcedures.java).
LOAD_PROCEDURE = "rallypoint.loadBatch"
CALL_LOAD_PROCEDURE = f"CALL {LOAD_PROCEDURE}($batch) YIELD nodes, relationships, properties " \
                      "RETURN nodes, relationships, properties"
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
