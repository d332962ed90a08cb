"""The bulk route into Neo4j: the lake as the import tool's CSV, ``neo4j-admin database import full``, constraints.

The incremental loader (``loaders.load_lake_into_neo4j``) finds or creates every node in a
transaction; on an empty database that work is wasted. Neo4j's offline importer writes the store
files directly (no transactions, no locks, no index maintenance while writing), which is the
route Neo4j provides for initial loads. This module gives that route the same graph as the
incremental loader, so either may follow the other:

1. ``write_import_csv`` turns the whole lake into one CSV per node label and per relationship
   type (``NODE_LABELS``/``RELATIONSHIP_TYPES`` of ``rallypoint.neo4j.model``): distinct nodes with the
   properties the incremental loader converges on (accounts: the first platform seen and the
   last non-null name, followers and high_profile, false if none; a record post its last
   occurrence's ts, action and channel_id; a target the lake does not hold a stub with its key
   only; URLs with their domain) and distinct relationships. A node's id is its store id
   (``--id-type=actual``): the labels' row numbers laid end to end (``node_offsets``), not
   stored as properties, so keys never need escaping in ids and the importer keeps no id map
   (no sort of the ids, no lookup per relationship end). Header and data are separate files;
   strings are quoted and nulls left empty, so an empty string stays one.
2. ``run_import`` runs the importer into a *staging* directory, never into the live store; its
   output goes to the caller (progress) and to a log, and its report file is kept.
3. ``bulk_load`` pauses neo4j-local's server (its database shut down, its JVM kept), swaps the
   staged database in (the previous one is kept until the new one has started), resumes the
   server (or starts it, if it was not running) and creates the constraints and indexes (``model.ensure_constraints``). A failed import never reaches the swap, so the
   previous database is untouched; a store that does not start is swapped back.

Under docker-compose the image's own ``neo4j-admin`` does step 2 from the ``import.args`` file
that ``write_import_csv`` leaves beside the CSV (docs/neo4j.md, "Bulk load").

Complexity: hash group-bys and joins over the lake's columns (polars, multi-threaded), O(records
+ list elements) time, plus O(records log posts) for finding each record's and target's post id
by binary search over the posts' sorted key hashes. The lake is read ``BATCH_RECORDS`` records at
a time, twice (node tables, then relationships): memory is O(nodes + relationships) for the keys,
ids and pairs, plus one batch, never the whole lake's records. The importer is O(nodes +
relationships) and keeps no id map (the ids are store ids).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from rallypoint.errors import Neo4jError
from rallypoint.lake import Lake
from rallypoint.neo4j.batches import _url_domain
from rallypoint.neo4j.connection import local_server_uri, open_driver
from rallypoint.neo4j.loaders import _lake_files
from rallypoint.neo4j.model import (
    CONSTRAINTS,
    LOAD_COLUMNS,
    NODE_TABLES,
    RELATIONSHIP_TYPES,
    TARGET_RELATIONSHIPS,
    ensure_constraints,
)
from rallypoint.schema import LAKE_SCHEMA

__all__ = [
    "BATCH_RECORDS",
    "BULK_AUTO_RECORDS",
    "ImportFiles",
    "LocalServer",
    "bulk_load",
    "database_is_empty",
    "import_arguments",
    "lake_graph",
    "lake_records",
    "node_offsets",
    "prefer_bulk",
    "run_import",
    "write_import_csv",
]

#: From this many records on, `graph load` without --bulk/--incremental takes the bulk route
#: when the database is empty and the server is neo4j-local's: below it the importer's fixed
#: costs (JVM start, id mapping, server restart) outweigh what it saves.
BULK_AUTO_RECORDS = 500_000
#: Records the CSV writer reads from the lake at a time: its memory is then the graph's keys
#: and one batch, not every record of the lake at once.
BATCH_RECORDS = 1_000_000

REPO = Path(__file__).resolve().parents[2]
LAUNCHER_DIR = REPO / "neo4j-local"
#: The database the importer writes (Community has one user database).
DATABASE = "neo4j"
ADMIN_MAIN_CLASS = "org.neo4j.cli.AdminTool"
#: The importer's JVM heap (``NEO4J_IMPORT_HEAP`` overrides): its id maps and caches are off-heap,
#: but below 2g its own estimate warns and it spends its CPU collecting garbage.
IMPORT_HEAP = "2g"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.6fZ"

#: Each node label's CSV columns after the id: (property, import type); the type is the header's.
NODE_PROPERTIES: dict[str, tuple[tuple[str, str], ...]] = {
    "Account": (("id", "string"), ("platform", "string"), ("name", "string"), ("high_profile", "boolean"),
                ("followers", "long")),
    "Post": (("platform", "string"), ("id", "string"), ("ts", "datetime"), ("action", "string"),
             ("channel_id", "string")),
    "Url": (("url", "string"), ("domain", "string")),
    "Hashtag": (("tag", "string"),),
    "Media": (("hash", "string"),),
}
assert set(NODE_PROPERTIES) == set(NODE_TABLES)


@dataclass(frozen=True)
class ImportFiles:
    """The importer's input in ``directory``: per label and per relationship type (header, data) files."""

    directory: Path
    nodes: dict[str, tuple[Path, Path]]
    relationships: dict[str, tuple[Path, Path]]
    counts: dict[str, int]  # rows per label and per relationship type
    multiline: bool  # some value holds a line break: the importer must read quoted line breaks
    records: int
    seconds: float


def lake_records(lake: Lake, files: Iterable[str | os.PathLike[str]] | None = None) -> int:
    """The records of the lake's interaction files (``files``, or all): read from Parquet footers."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in _lake_files(lake, files))


def _batches(paths: list[Path], batch_records: int) -> Iterator[pl.DataFrame]:
    """The load columns of every file, in file order, at most ``batch_records`` records at a time.

    Rows are numbered by ``_order`` across batches (the incremental loader's order); a column a
    file lacks is read as nulls. Always yields at least one (possibly empty) batch.
    """
    pending: list[pl.DataFrame] = []
    held = offset = 0

    def flush() -> pl.DataFrame:
        nonlocal pending, held, offset
        frame = pl.concat(pending, how="vertical_relaxed").with_row_index("_order", offset=offset)
        offset += held
        pending, held = [], 0
        return frame

    dtypes = _load_schema()
    for path in paths:
        parquet = pq.ParquetFile(path)
        present = set(parquet.schema_arrow.names)
        # polars' own reader: no conversion of every string and list from Arrow's layout to its own
        scan = pl.scan_parquet(path).select(pl.col(c) if c in present else pl.lit(None, dtypes[c]).alias(c)
                                            for c in LOAD_COLUMNS)
        rows = parquet.metadata.num_rows
        for start in range(0, rows, batch_records):
            size = min(batch_records, rows - start)
            if pending and held + size > batch_records:
                yield flush()
            pending.append(scan.slice(start, size).collect())
            held += size
    if pending or not offset:
        pending = pending or [pl.DataFrame(schema=_load_schema())]
        yield flush()


def _load_schema() -> pl.Schema:
    """The polars types of the lake's ``LOAD_COLUMNS``."""
    return pl.from_arrow(LAKE_SCHEMA.empty_table().select(LOAD_COLUMNS)).schema


def _exploded(df: pl.DataFrame, column: str) -> pl.DataFrame:
    """(platform, id, value, _order) per element of a list column; null and empty values dropped."""
    return (df.select("platform", "id", pl.col(column).alias("value"), "_order")
            .explode("value").filter(pl.col("value").is_not_null() & (pl.col("value") != "")))


class _Graph:
    """The lake's graph built batch by batch: node tables from the first pass, relationships from the second.

    Every node table is a distinct-key reduction that can be taken per batch and again over
    the batches' results (first/last non-null value, last occurrence, first appearance), so
    memory holds the graph's keys and the current batch, never every record at once.
    """

    def __init__(self, paths: list[Path], batch_records: int) -> None:
        self.paths, self.batch_records = paths, batch_records
        self.records = 0
        self._single: pl.DataFrame | None = None  # a lake that fits in one batch is read once
        self.nodes = self._node_tables()

    def _read(self) -> Iterator[pl.DataFrame]:
        if self._single is not None:
            yield self._single
            return
        yield from _batches(self.paths, self.batch_records)

    def _node_tables(self) -> dict[str, pl.DataFrame]:
        parts: dict[str, list[pl.DataFrame]] = {k: [] for k in ("accounts", "records", "stubs", "urls", "hashtags",
                                                                 "media")}
        single = None
        for i, df in enumerate(self._read()):
            single = df if i == 0 else None
            self.records += len(df)
            authors = df.select(pl.col("account_id").alias("id"), "platform", pl.col("account_name").alias("name"),
                                "high_profile", "followers", "_order")
            named = pl.concat([
                df.filter(pl.col("target_account_id").is_not_null())
                .select(pl.col("target_account_id").alias("id"), "platform", "_order"),
                _exploded(df, "mentions").select(pl.col("value").alias("id"), "platform", "_order"),
            ])
            parts["accounts"].append(_accounts(pl.concat([authors, named], how="diagonal_relaxed").sort("_order")))
            parts["records"].append(
                df.select("platform", "id", pl.col("timestamp").alias("ts"), "action", "channel_id")
                .unique(["platform", "id"], keep="last", maintain_order=True))
            parts["stubs"].append(df.filter(pl.col("target_id").is_not_null())
                                  .select("platform", pl.col("target_id").alias("id")).unique(maintain_order=True))
            for column, key in (("urls", "url"), ("hashtags", "tag"), ("media", "hash")):
                parts[column].append(_exploded(df, column).select(pl.col("value").alias(key)).unique(maintain_order=True))
        self._single = single
        del df, single

        accounts = _accounts(pl.concat(parts.pop("accounts"), rechunk=False)).with_columns(pl.col("high_profile").fill_null(False))
        records = _last_occurrences(parts.pop("records"))
        stubs = (pl.concat(parts.pop("stubs"), rechunk=False).unique(maintain_order=True)
                 .join(records.select("platform", "id"), on=["platform", "id"], how="anti"))
        posts = pl.concat([records, stubs], how="diagonal_relaxed", rechunk=False)
        del records, stubs
        urls, hashtags, media = (pl.concat(parts.pop(c), rechunk=False).unique(maintain_order=True)
                                 for c in ("urls", "hashtags", "media"))
        urls = urls.with_columns(domain=pl.from_arrow(_url_domain(urls["url"].to_arrow())))
        return {label: table.with_row_index("_node") for label, table in
                (("Account", accounts), ("Post", posts), ("Url", urls), ("Hashtag", hashtags), ("Media", media))}

    def keys_only(self) -> None:
        """Drop the node properties (once written): the relationships need only keys and ids."""
        keys = {"Account": ["id"], "Post": ["platform", "id"], "Url": ["url"], "Hashtag": ["tag"], "Media": ["hash"]}
        self.nodes = {label: table.select("_node", *keys[label]) for label, table in self.nodes.items()}

    def relationships(self) -> dict[str, pl.DataFrame]:
        """Distinct (``src``, ``dst``) ``_node`` pairs per relationship type, from a second pass over the lake."""
        post_node = _PostNodes(self.nodes["Post"])
        account_ids = self.nodes["Account"].select("id", "_node")
        parts: dict[str, list[pl.DataFrame]] = {rel: [] for rel, _, _ in RELATIONSHIP_TYPES}
        for df in self._read():
            keyed = df.with_columns(p=post_node.find(df, "id"))
            rows = keyed.select("p", "account_id").join(account_ids.rename({"id": "account_id", "_node": "a"}),
                                                        on="account_id")
            targeted = keyed.filter(pl.col("target_id").is_not_null()).select(
                "p", "action", "target_account_id", "platform", "target_id")
            targeted = targeted.with_columns(t=post_node.find(targeted, "target_id"))
            parts["POSTED"].append(rows.select(src="a", dst="p"))
            parts["POSTED"].append(targeted.join(account_ids.rename({"id": "target_account_id", "_node": "ta"}),
                                                 on="target_account_id").select(src="ta", dst="t"))
            for action, rel in TARGET_RELATIONSHIPS.items():
                parts[rel].append(targeted.filter(pl.col("action") == action).select(src="p", dst="t"))
            for column, rel, label, key in (("urls", "LINKS_TO", "Url", "url"), ("hashtags", "TAGGED", "Hashtag", "tag"),
                                            ("mentions", "MENTIONS", "Account", "id"),
                                            ("media", "ATTACHES", "Media", "hash")):
                linked = (keyed.select("p", pl.col(column).alias("value")).explode("value")
                          .filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
                          .join(self.nodes[label].select(pl.col(key).alias("value"), pl.col("_node").alias("n")),
                                on="value"))
                parts[rel].append(linked.select(src="p", dst="n"))
        self._single = None
        return {rel: _distinct_pairs(pl.concat(tables, rechunk=False)) for rel, tables in parts.items()}


class _PostNodes:
    """The ``_node`` of a post key, found by binary search over the posts' sorted 64-bit key hashes.

    A join against every post's (platform, id) strings would hash all of them again for every
    batch; the hashes are taken and sorted once instead. Exact for keys that are posts (every
    record and every target is): the seed is chosen so that no two posts share a hash, so a
    key's hash names its post alone. O(P log P) once, O(k log P) per lookup of k keys.
    """

    def __init__(self, posts: pl.DataFrame) -> None:
        for seed in range(2**16):
            table = posts.select(h=_key_hash(pl.col("platform"), pl.col("id"), seed), n="_node").sort("h")
            if table["h"].n_unique() == len(table):
                break
        self.seed, self.hashes, self.nodes = seed, table["h"].to_numpy(), table["n"].to_numpy()

    def find(self, frame: pl.DataFrame, id_column: str) -> pl.Series:
        """The ``_node`` of each row's (platform, ``id_column``) post in ``frame``."""
        hashes = frame.select(_key_hash(pl.col("platform"), pl.col(id_column), self.seed)).to_series().to_numpy()
        # searched in sorted order: neighbouring keys then share the search's last steps in cache
        order = np.argsort(hashes)
        found = np.empty(len(hashes), dtype=self.nodes.dtype)
        found[order] = self.nodes[np.searchsorted(self.hashes, hashes[order])]
        return pl.Series(found)


def _distinct_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    """The distinct (``src``, ``dst``) rows of ``pairs``, sorted: both ids packed in one 64-bit integer to hash."""
    packed = pairs.select(pl.col("src").cast(pl.UInt64) * 2**32 + pl.col("dst").cast(pl.UInt64)).to_series()
    packed = packed.unique().sort()
    return pl.DataFrame({"src": (packed // 2**32).cast(pl.UInt32), "dst": (packed % 2**32).cast(pl.UInt32)})


def _key_hash(platform: pl.Expr, post_id: pl.Expr, seed: int) -> pl.Expr:
    return pl.struct(platform.alias("platform"), post_id.alias("id")).hash(seed=seed)


def _last_occurrences(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The rows of ``parts`` (in order) that are the last of their (platform, id), in order.

    ``unique(keep="last", maintain_order=True)`` over the parts, without a copy of all of them
    at once: the rows kept are marked first, then each part is filtered alone. A row whose key's
    64-bit hash occurs once is its key's only row; only rows sharing a hash (repeated keys and
    true collisions) are compared by their keys, so the hash table over every row holds integers.
    """
    keys = pl.concat([part.select("platform", "id") for part in parts], rechunk=False)
    hashes = keys.select(_key_hash(pl.col("platform"), pl.col("id"), 0)).to_series()
    shared = hashes.is_duplicated()
    del hashes
    last = ~shared
    rows = shared.arg_true()
    if len(rows):
        last = last.scatter(rows, keys[rows].select(pl.struct("platform", "id").is_last_distinct()).to_series())
    del keys, shared
    kept, offset = [], 0
    while parts:
        part = parts.pop(0)
        kept.append(part.filter(last.slice(offset, len(part))))
        offset += len(part)
    return pl.concat(kept, rechunk=False)


def _accounts(named: pl.DataFrame) -> pl.DataFrame:
    """One row per account id in order of first appearance: first platform, last name/high_profile/followers."""
    return (named.group_by("id", maintain_order=True)
            .agg(pl.col("platform").drop_nulls().first(), pl.col("name").drop_nulls().last(),
                 pl.col("high_profile").drop_nulls().last(), pl.col("followers").drop_nulls().last()))


def lake_graph(
    lake_path: str | os.PathLike[str] | Lake, files: Iterable[str | os.PathLike[str]] | None = None,
    *, batch_records: int | None = None,
) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame], int]:
    """The graph of the lake (or of ``files``) as the incremental loader leaves it, in tables.

    Returns the node tables by label (``_node``, the label's integer id from 0, then its
    properties ``NODE_PROPERTIES``; ``ts`` a timestamp), the relationship tables by type
    (distinct ``src``, ``dst`` pairs of ``_node`` ids) and the number of records read. The lake
    is read ``batch_records`` records at a time (default ``BATCH_RECORDS``).
    """
    lake = lake_path if isinstance(lake_path, Lake) else Lake(lake_path)
    graph = _Graph(_lake_files(lake, files), batch_records or BATCH_RECORDS)
    nodes = {label: table.select("_node", *(name for name, _ in NODE_PROPERTIES[label]))
             for label, table in graph.nodes.items()}
    return nodes, graph.relationships(), graph.records


def _header(columns: list[str]) -> str:
    return ",".join(columns) + "\n"


def node_offsets(counts: dict[str, int]) -> dict[str, int]:
    """Each label's first store id: the labels' rows (``counts``) laid end to end in ``NODE_TABLES`` order.

    The importer's ``--id-type=actual`` takes a node's id as its place in the store, so ids
    must be distinct across labels; contiguous ones leave no holes in the node store.
    """
    offsets, start = {}, 0
    for label in NODE_TABLES:
        offsets[label] = start
        start += counts.get(label, 0)
    return offsets


def write_import_csv(
    lake_path: str | os.PathLike[str] | Lake,
    out_dir: str | os.PathLike[str],
    *,
    files: Iterable[str | os.PathLike[str]] | None = None,
    batch_records: int | None = None,
) -> ImportFiles:
    """Write the lake's graph (or that of ``files``) as the importer's CSV into ``out_dir``.

    Per label ``<Label>.header.csv`` and ``<Label>.csv``, per relationship type ``<TYPE>.header.csv``
    and ``<TYPE>.csv`` (types without relationships are left out), ``import.args``, the
    importer's options with paths relative to ``out_dir`` (``import_arguments``; the database
    name goes before ``@import.args``), and ``counts.json``. Returns the files and their row
    counts. Existing files of the same names are replaced. The lake is read ``batch_records``
    records at a time (default ``BATCH_RECORDS``), twice (nodes, then relationships) unless it
    fits in one batch; the node files are written before the relationships are built.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lake = lake_path if isinstance(lake_path, Lake) else Lake(lake_path)
    graph = _Graph(_lake_files(lake, files), batch_records or BATCH_RECORDS)
    node_files: dict[str, tuple[Path, Path]] = {}
    rel_files: dict[str, tuple[Path, Path]] = {}
    counts: dict[str, int] = {}
    multiline = False
    offsets = node_offsets({label: len(table) for label, table in graph.nodes.items()})
    for label, table in graph.nodes.items():
        props = NODE_PROPERTIES[label]
        strings = [name for name, kind in props if kind == "string"]
        multiline = multiline or bool(table.select(
            pl.any_horizontal(pl.col(c).str.contains(r"[\r\n]").any() for c in strings)).item())
        header, data = out / f"{label}.header.csv", out / f"{label}.csv"
        header.write_text(_header([":ID", *(f"{name}:{kind}" for name, kind in props)]))
        with open(data, "wb") as sink:  # in slices: the formatted text of 10M posts is not held at once
            for offset in range(0, max(len(table), 1), BATCH_RECORDS):
                chunk = table.slice(offset, BATCH_RECORDS).select(pl.col("_node") + offsets[label],
                                                                   *(name for name, _ in props))
                if "ts" in chunk.columns:
                    chunk = chunk.with_columns(
                        pl.col("ts").dt.convert_time_zone("UTC").dt.strftime(TIMESTAMP_FORMAT))
                chunk.write_csv(sink, include_header=False, quote_style="non_numeric", null_value="")
        node_files[label] = (header, data)
        counts[label] = len(table)
    graph.keys_only()
    relationships = graph.relationships()
    records = graph.records
    del graph
    for rel, start, end in RELATIONSHIP_TYPES:
        table = relationships.pop(rel)
        counts[rel] = len(table)
        if not len(table):
            continue
        header, data = out / f"{rel}.header.csv", out / f"{rel}.csv"
        header.write_text(_header([":START_ID", ":END_ID"]))
        table.select(pl.col("src") + offsets[start], pl.col("dst") + offsets[end]).write_csv(data, include_header=False)
        rel_files[rel] = (header, data)
    files_ = ImportFiles(directory=out, nodes=node_files, relationships=rel_files, counts=counts,
                         multiline=multiline, records=records, seconds=round(time.perf_counter() - started, 3))
    args = import_arguments(files_, relative=True)
    (out / "import.args").write_text("".join(f"{a}\n" for a in args))
    (out / "counts.json").write_text(json.dumps(counts, indent=1))
    return files_


def import_arguments(files: ImportFiles, *, relative: bool = False, report_file: Path | None = None) -> list[str]:
    """The options of ``neo4j-admin database import full DATABASE`` for ``files``.

    The database name goes before them: ``--nodes`` and ``--relationships`` take several values,
    so a name after them would be read as one more file.

    ``relative`` names the files relative to their folder (for ``import.args``, read by an
    importer whose working directory is that folder, as the compose service's is).
    """

    def name(path: Path) -> str:
        return path.name if relative else str(path)

    args = ["--id-type=actual", f"--multiline-fields={str(files.multiline).lower()}",
            "--bad-tolerance=0", "--skip-bad-relationships=false", "--skip-duplicate-nodes=false"]
    args += [f"--nodes={label}={name(h)},{name(d)}" for label, (h, d) in files.nodes.items()]
    args += [f"--relationships={rel}={name(h)},{name(d)}" for rel, (h, d) in files.relationships.items()]
    if report_file is not None:
        args.append(f"--report-file={report_file}")
    return args


@dataclass(frozen=True)
class LocalServer:
    """neo4j-local's server (neo4j-local/neo4j.sh) whose store the bulk route replaces.

    ``state`` is its ``NEO4J_LOCAL_STATE`` folder (the store is ``state/home``), ``uri`` its Bolt
    address; ``launcher`` the neo4j-local folder (script and the Neo4j jars of its build).
    """

    state: Path
    uri: str
    launcher: Path = LAUNCHER_DIR
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def resolve(cls, state: str | os.PathLike[str] | None = None, uri: str | None = None) -> LocalServer:
        uri = uri or os.environ.get("NEO4J_URI") or local_server_uri()
        state = Path(state or os.environ.get("NEO4J_LOCAL_STATE") or REPO / ".neo4j").resolve()
        return cls(state=state, uri=uri)

    @property
    def home(self) -> Path:
        return self.state / "home"

    def _script_env(self) -> dict[str, str]:
        parts = urlsplit(self.uri)
        env = {**os.environ, **self.env, "NEO4J_LOCAL_STATE": str(self.state)}
        if parts.hostname:
            env["NEO4J_LOCAL_HOST"] = parts.hostname
        if parts.port:
            env["NEO4J_LOCAL_PORT"] = str(parts.port)
        return env

    def running(self) -> bool:
        """Whether this state folder's launcher process is alive."""
        pid_file = self.state / "neo4j.pid"
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return False
        return True

    def can_pause(self) -> bool:
        """Whether the running launcher watches its toggle file (one started before pausing existed does not)."""
        try:
            pid = int((self.state / "neo4j.pid").read_text().strip())
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return False
        return b"-Drallypoint.toggle=" in command

    def control(self, action: str) -> None:
        """``start``, ``stop``, ``pause`` or ``resume`` through neo4j.sh; a failure is one Neo4jError sentence."""
        script = self.launcher / "neo4j.sh"
        if not script.exists():
            raise Neo4jError(f"The bulk route needs neo4j-local's launcher ({script}); under docker-compose "
                             "use the import service (docs/neo4j.md, \"Bulk load\").")
        done = subprocess.run(["bash", str(script), action], env=self._script_env(), capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise Neo4jError(f"neo4j-local could not {action} the server in {self.state} ({tail}).")

    def classpath(self) -> str:
        lib = self.launcher / "target" / "lib"
        if not any(lib.glob("neo4j-import-tool-*.jar")):
            raise Neo4jError(f"The Neo4j import tool is not built in {lib}; run `make neo4j` first.")
        return f"{lib}/*"


def create_constraints(uri: str | None = None) -> int:
    """The graph's uniqueness constraints and indexes on the server at ``uri`` (idempotent); how many."""
    with open_driver(uri) as driver:
        ensure_constraints(driver)
    return len(CONSTRAINTS)


def database_is_empty(uri: str | None = None, user: str | None = None, password: str | None = None) -> bool:
    """Whether the database holds no node at all."""
    with open_driver(uri, user, password) as driver:
        records, _, _ = driver.execute_query("MATCH (n) RETURN n LIMIT 1")
    return not records


def prefer_bulk(lake_path: str | os.PathLike[str] | Lake, server: LocalServer, *,
                user: str | None = None, password: str | None = None) -> bool:
    """The automatic choice: bulk when the load is large, the server neo4j-local's and its database empty."""
    lake = lake_path if isinstance(lake_path, Lake) else Lake(lake_path)
    if lake_records(lake) < BULK_AUTO_RECORDS or not server.running():
        return False
    return database_is_empty(server.uri, user, password)


def run_import(files: ImportFiles, staging: Path, server: LocalServer, *, log: Path, report: Path,
               echo: Callable[[str], None] | None = None, heap: str | None = None) -> float:
    """Run the importer on ``files`` into the fresh Neo4j home ``staging``; returns its seconds.

    Every line the importer prints goes to ``log`` and to ``echo`` (its own progress display);
    its report of bad entries is ``report``. A non-zero exit is a Neo4jError naming the log.
    """
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "conf").mkdir(parents=True)
    java = shutil.which("java")
    if java is None:
        raise Neo4jError("The bulk route needs Java 17+ (apt-get install openjdk-17-jre-headless).")
    heap = heap or os.environ.get("NEO4J_IMPORT_HEAP", IMPORT_HEAP)
    # a batch job: the throughput collector, and the whole heap from the start (no resizing)
    command = [java, f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseParallelGC", "-Dfile.encoding=UTF-8",
               "-cp", server.classpath(), ADMIN_MAIN_CLASS, "database", "import", "full", DATABASE,
               *import_arguments(files, report_file=report)]
    env = {**os.environ, "NEO4J_HOME": str(staging), "NEO4J_CONF": str(staging / "conf")}
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, errors="replace", cwd=files.directory)
        assert process.stdout is not None
        last = ""
        for line in process.stdout:
            out.write(line)
            if line.strip():
                last = line.strip()
            if echo is not None:
                echo(line.rstrip("\n"))
        code = process.wait()
    if code != 0:
        raise Neo4jError(f"The bulk import failed ({last[:300] or f'exit status {code}'}); the database was not "
                         f"changed; the importer's output is in {log}.")
    return time.perf_counter() - started


def _store_dirs(home: Path) -> tuple[Path, Path]:
    return home / "data" / "databases" / DATABASE, home / "data" / "transactions" / DATABASE


def _move_store(source_home: Path, target_home: Path) -> None:
    for source, target in zip(_store_dirs(source_home), _store_dirs(target_home), strict=True):
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            source.rename(target)


def _swap_in(server: LocalServer, staging: Path, previous: Path) -> dict[str, float]:
    """Put the staged store in place of the live one and serve it; undo if it does not start.

    A running launcher is paused (its database shut down, its JVM kept) and resumed on the new
    store, which spares a JVM's start and warm-up; one started before pausing existed is stopped
    and started again, and a stopped one is started. Returns the seconds of taking the database
    down and of bringing it up.
    """
    live = server.running()
    pausable = live and server.can_pause()
    started = time.perf_counter()
    if live:
        server.control("pause" if pausable else "stop")
    down = time.perf_counter() - started
    shutil.rmtree(previous, ignore_errors=True)
    _move_store(server.home, previous)
    _move_store(staging, server.home)
    up_action = "resume" if pausable else "start"
    started = time.perf_counter()
    try:
        server.control(up_action)
    except Neo4jError as exc:
        try:
            if not pausable:
                server.control("stop")
        finally:
            _move_store(previous, server.home)
            server.control(up_action)
        raise Neo4jError(f"The imported database did not start ({exc}); the previous one is back in place.") from exc
    return {"stop_seconds": round(down, 3), "start_seconds": round(time.perf_counter() - started, 3)}


def bulk_load(
    lake_path: str | os.PathLike[str] | Lake,
    *,
    server: LocalServer | None = None,
    files: Iterable[str | os.PathLike[str]] | None = None,
    replace: bool = False,
    user: str | None = None,
    password: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Load the lake (or ``files``) into neo4j-local's server by the bulk route (see the module docstring).

    Refuses a database that holds anything unless ``replace`` (the caller asks for confirmation).
    The work folder is ``server.state / "bulk"``: ``csv/`` (deleted on success), ``import.log``
    (the importer's output) and ``import.report`` (its report) are kept. Returns counts per label
    and relationship type, and the seconds of each step.
    """
    server = server or LocalServer.resolve()
    lake = lake_path if isinstance(lake_path, Lake) else Lake(lake_path)
    paths = _lake_files(lake, files)
    say = echo or (lambda line: print(line, file=sys.stderr))
    started = time.perf_counter()
    if not replace:
        if not server.running() and _store_dirs(server.home)[0].exists():
            raise Neo4jError(f"neo4j-local's server in {server.state} is not running, so whether its database is "
                             "empty cannot be checked: start it (`make neo4j`), or rebuild it with --bulk --replace.")
        if server.running() and not database_is_empty(server.uri, user, password):
            raise Neo4jError(f"The Neo4j database at {server.uri} already holds a graph: load into it "
                             "incrementally (`rallypoint graph load` without --bulk), or rebuild it with "
                             "--bulk --replace.")
    work = server.state / "bulk"
    work.mkdir(parents=True, exist_ok=True)
    say(f"bulk: writing the import CSV of {len(paths)} lake file(s) ...")
    files_ = write_import_csv(lake, work / "csv", files=paths)
    say(f"bulk: {files_.records:,} records -> "
        + ", ".join(f"{files_.counts[label]:,} {label}" for label in NODE_TABLES)
        + f" nodes, {sum(files_.counts[rel] for rel, _, _ in RELATIONSHIP_TYPES):,} relationships; importing ...")
    import_seconds = run_import(files_, work / "staging", server, log=work / "import.log",
                                report=work / "import.report", echo=echo)
    say("bulk: swapping the imported database in (the database restarts) ...")
    swap_started = time.perf_counter()
    swap = _swap_in(server, work / "staging", work / "previous")
    swap_seconds = time.perf_counter() - swap_started
    say("bulk: creating the constraints and indexes ...")
    constraints_started = time.perf_counter()
    with open_driver(server.uri, user, password) as driver:
        ensure_constraints(driver)
    constraint_seconds = time.perf_counter() - constraints_started
    shutil.rmtree(work / "previous", ignore_errors=True)
    shutil.rmtree(work / "staging", ignore_errors=True)
    shutil.rmtree(work / "csv", ignore_errors=True)
    seconds = time.perf_counter() - started
    nodes = sum(files_.counts[label] for label in NODE_TABLES)
    rels = sum(files_.counts[rel] for rel, _, _ in RELATIONSHIP_TYPES)
    return {
        "uri": server.uri,
        "route": "bulk",
        "files": len(paths),
        "records": files_.records,
        "nodes_created": nodes,
        "relationships_created": rels,
        "counts": files_.counts,
        "csv_seconds": files_.seconds,
        "import_seconds": round(import_seconds, 3),
        "swap_seconds": round(swap_seconds, 3),
        **swap,
        "constraint_seconds": round(constraint_seconds, 3),
        "seconds": round(seconds, 3),
        "import_log": str(work / "import.log"),
        "import_report": str(work / "import.report"),
    }
