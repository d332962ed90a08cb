"""The lake read one Parquet record batch at a time and shaped into node and relationship tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rallypoint.neo4j.model import RELATIONSHIP_TYPES, TARGET_RELATIONSHIPS


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
