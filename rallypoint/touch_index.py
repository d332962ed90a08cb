"""The lake's touch index: which account touched which object, sorted for lookups by object and by author.

What it computes
    A *touch* is one (account, object) pair a record makes: the account wrote a post, or its
    record reposted, replied to, quoted or reacted to one (and the target's author wrote that
    one), linked a URL, used a hashtag, attached a media item or mentioned an account (who is
    then the object and touches itself). :func:`touches` derives them from records with
    polars; every touch keeps the record's ``author``, since the dashboard's expand asks both
    "who touched these objects?" and "what did these authors' records touch?".

    The index holds them for every committed interaction file ``F`` of the lake, in two
    derived files beside the partitions (``LAKE/index/touches/v1/date=D/``):

    ``F.keys.parquet``     key, kind, account_id — sorted by ``key``
    ``F.authors.parquet``  author, account_id, key, kind — sorted by ``author``
    ``F.names.parquet``    author, author_name (one name per author) — sorted by ``author``

    All are written in small row groups whose min/max statistics Parquet keeps: a lookup of
    ``k`` values reads at most ``k`` row groups of each file (those whose range holds one of
    them), not the file, so its cost follows what it finds rather than the lake's size.

Versioning
    Each index file records in its metadata the index version and its source's name, size and
    row count. :func:`ensure` builds the files a new ingest brought (or a rewritten partition
    changed) and deletes those whose source left the lake (a quarantine); everything else is
    reused as is. It runs in the dashboard's warm-up, and before every lookup, so a lake never
    answers from a stale index. The index is derived: deleting ``LAKE/index/`` loses nothing.
    Every file appears by an atomic rename (``write_parquet_atomic``).

Complexity
    Building: ``O(n log n)`` per interaction file in its touches, memory bounded by the largest
    file (one at a time). A lookup: ``O(f · log g)`` over the ``f`` files' ``g`` row groups to
    choose them, then the rows of the chosen groups (polars reads them in parallel).
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from rallypoint.errors import LakeError
from rallypoint.lake import Lake, write_parquet_atomic

__all__ = ["INDEX_VERSION", "ROW_GROUP", "TouchIndex", "ensure", "index_dir", "touches"]

#: Bumped whenever what a touch is or how the files are laid out changes: older files are rebuilt.
INDEX_VERSION = "v1"
#: Rows per row group: small enough that a lookup reads little beyond the rows it wants.
ROW_GROUP = 8192
#: The columns a touch is derived from.
SOURCE_COLUMNS = ["id", "platform", "account_id", "account_name", "target_id", "target_account_id", "urls",
                  "hashtags", "mentions", "media"]
_KEYS = ("key", "kind", "account_id")
_AUTHORS = ("author", "account_id", "key", "kind")
_NAMES = ("author", "author_name")
_META = b"rallypoint.touch_index"
_build_lock = threading.Lock()


def touches(records: pl.LazyFrame) -> pl.LazyFrame:
    """(author, account_id, key, kind) for every object a record touches, keyed as the property graph keys
    nodes (``platform:id`` for a post, the URL, ``#tag`` lower-cased, ``media:ID``, the account id); unique."""
    post = pl.col("platform") + pl.lit(":")
    author = pl.col("account_id").alias("author")
    parts = [
        records.select(author, "account_id", (post + pl.col("id")).alias("key"), pl.lit("post").alias("kind")),
        records.filter(pl.col("target_id").is_not_null()).select(
            author, "account_id", (post + pl.col("target_id")).alias("key"), pl.lit("post").alias("kind")),
        # the target's author wrote that post: the property graph's POSTED to the target stub
        records.filter(pl.col("target_account_id").is_not_null() & pl.col("target_id").is_not_null()).select(
            author, pl.col("target_account_id").alias("account_id"), (post + pl.col("target_id")).alias("key"),
            pl.lit("post").alias("kind")),
        records.select(author, "account_id", pl.col("urls").alias("key"), pl.lit("url").alias("kind")).explode("key"),
        records.select(author, "account_id", pl.col("hashtags").alias("key"), pl.lit("hashtag").alias("kind"))
        .explode("key").with_columns((pl.lit("#") + pl.col("key").str.to_lowercase()).alias("key")),
        records.select(author, "account_id", pl.col("media").alias("key"), pl.lit("media").alias("kind"))
        .explode("key").with_columns((pl.lit("media:") + pl.col("key")).alias("key")),
        # a mention joins two accounts directly: the mentioned account is the object, and touches itself
        records.select(author, "account_id", pl.col("mentions").alias("key"), pl.lit("account").alias("kind"))
        .explode("key"),
        records.select(author, "account_id", pl.col("account_id").alias("key"), pl.lit("account").alias("kind")),
        records.select(author, pl.col("mentions").alias("account_id"), pl.col("mentions").alias("key"),
                       pl.lit("account").alias("kind")).explode("account_id", "key"),
    ]
    return pl.concat(parts).drop_nulls().filter(pl.col("key") != "").unique()


def index_dir(lake: Lake) -> Path:
    """Where the lake keeps this version of the index."""
    return lake.root / "index" / "touches" / INDEX_VERSION


@dataclass(frozen=True)
class _Pair:
    source: Path
    keys: Path
    authors: Path
    names: Path

    @property
    def files(self) -> tuple[Path, Path, Path]:
        return self.keys, self.authors, self.names


def _pair(lake: Lake, source: Path) -> _Pair:
    folder = index_dir(lake) / source.parent.name
    return _Pair(source, *(folder / f"{source.stem}.{part}.parquet" for part in ("keys", "authors", "names")))


def _stamp(source: Path) -> bytes:
    """What the index files of ``source`` must record to be current: the version, name, size and rows."""
    footer = _footer(source)
    if footer is None:
        raise OSError(f"{source} has no readable Parquet footer")
    return f"{INDEX_VERSION}:{source.parent.name}/{source.name}:{source.stat().st_size}:{footer.num_rows}".encode()


_footers: dict[tuple[str, int, int], pq.FileMetaData] = {}


def _footer(path: Path) -> pq.FileMetaData | None:
    """``path``'s Parquet footer, read once per file version (a missing or unreadable file: ``None``)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _footers:
        try:
            _footers[key] = pq.read_metadata(path)
        except (OSError, pa.ArrowException):
            return None
    return _footers[key]


def _current(pair: _Pair, stamp: bytes) -> bool:
    for path in pair.files:
        footer = _footer(path)
        if footer is None or (footer.metadata or {}).get(_META) != stamp:
            return False
    return True


def _build(pair: _Pair, stamp: bytes) -> None:
    records = pl.scan_parquet(pair.source).select(SOURCE_COLUMNS)
    found = touches(records).collect()
    names = (records.select(pl.col("account_id").alias("author"), pl.col("account_name").alias("author_name"))
             .drop_nulls().unique("author", keep="first").collect())
    meta = {_META: stamp}
    keys = found.select(*_KEYS).unique().sort("key", "kind", "account_id").to_arrow()
    authors = found.select(*_AUTHORS).sort(*_AUTHORS).to_arrow()
    for path, table in ((pair.keys, keys), (pair.authors, authors), (pair.names, names.sort("author").to_arrow())):
        write_parquet_atomic(path, table.replace_schema_metadata(meta), row_group_size=ROW_GROUP)


def ensure(lake: Lake | str | os.PathLike[str]) -> TouchIndex:
    """The lake's touch index, current: files built for sources that have none or changed, files of sources
    that left the lake deleted (see the module docstring)."""
    lake = lake if isinstance(lake, Lake) else Lake(lake)
    sources = lake.interaction_files()
    pairs = [_pair(lake, s) for s in sources]
    with _build_lock:  # a warm-up and a page asking at once build each file once
        for pair in pairs:
            try:
                stamp = _stamp(pair.source)
            except (OSError, pa.ArrowException) as exc:
                raise lake.damaged_file_error([pair.source], exc) from None
            if _current(pair, stamp):
                continue
            try:
                _build(pair, stamp)
            except PermissionError:
                raise LakeError(f"The lake at {lake.root} cannot be written, and an expand needs its touch "
                                f"index ({index_dir(lake)}): open it where it can be written.") from None
            except (OSError, pa.ArrowException, pl.exceptions.PolarsError) as exc:
                raise lake.damaged_file_error([pair.source], exc) from None
        _prune(lake, pairs)
    return TouchIndex(tuple(pairs))


def _prune(lake: Lake, pairs: list[_Pair]) -> None:
    """Delete the index files whose source is no longer in the lake."""
    root = index_dir(lake)
    if not root.exists():
        return
    kept = {path for pair in pairs for path in pair.files}
    for path in root.glob("date=*/*.parquet"):
        if path not in kept:
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class TouchIndex:
    """Lookups over the index files of one lake version (:func:`ensure` returns it)."""

    pairs: tuple[_Pair, ...]

    def by_keys(self, keys: Iterable[str]) -> pl.DataFrame:
        """Every touch of the objects ``keys``: account_id, key, kind (unique)."""
        rows = _lookup([p.keys for p in self.pairs], "key", keys, list(_KEYS))
        return rows.select("account_id", "key", "kind").unique()

    def by_authors(self, authors: Iterable[str]) -> pl.DataFrame:
        """Every touch made by records of ``authors``: account_id, key, kind (unique)."""
        rows = _lookup([p.authors for p in self.pairs], "author", authors, list(_AUTHORS))
        return rows.select("account_id", "key", "kind").unique()

    def names(self, accounts: Iterable[str]) -> pl.DataFrame:
        """A name for each of ``accounts`` that wrote a record with one: account_id, account_name."""
        rows = _lookup([p.names for p in self.pairs], "author", accounts, list(_NAMES))
        return (rows.select(pl.col("author").alias("account_id"), pl.col("author_name").alias("account_name"))
                .drop_nulls().unique("account_id"))


def _lookup(paths: list[Path], column: str, values: Iterable[str], columns: list[str]) -> pl.DataFrame:
    """The rows of ``paths`` whose sorted ``column`` is one of ``values``, reading only the row groups whose
    min/max range holds one of them (a group without statistics is read): each run of neighbouring groups is
    one slice of the file, which polars reads without the rest."""
    wanted = sorted({v for v in values if v is not None})
    schema = {c: pl.String for c in columns}
    slices = []
    for path in paths if wanted else ():
        footer = _footer(path)
        if footer is None:  # ensure() has just built it: it went missing or was damaged since
            raise _damaged(path)
        at, start, runs = footer.schema.names.index(column), 0, []
        for g in range(footer.num_row_groups):
            group = footer.row_group(g)
            if _may_hold(group.column(at), wanted):
                if runs and runs[-1][0] + runs[-1][1] == start:
                    runs[-1][1] += group.num_rows
                else:
                    runs.append([start, group.num_rows])
            start += group.num_rows
        slices += [pl.scan_parquet(path).select(columns).slice(offset, length) for offset, length in runs]
    if not slices:
        return pl.DataFrame(schema=schema)
    try:
        return (pl.concat(slices).filter(pl.col(column).is_in(pl.Series(wanted, dtype=pl.String).implode()))
                .collect().cast(schema))
    except (OSError, pl.exceptions.PolarsError):
        raise _damaged(paths[0]) from None


def _damaged(path: Path) -> LakeError:
    """A damaged index as one sentence: it is derived, so deleting it is the remedy."""
    root = next((p for p in path.parents if p.name == "index"), path.parent)
    return LakeError(f"The lake's touch index could not be read ({path.name}); it is derived from the lake's "
                     f"records: delete {root} and it is built again on the next expand.")


def _may_hold(chunk: pq.ColumnChunkMetaData, wanted: list[str]) -> bool:
    """Whether a row group whose column chunk is ``chunk`` may hold one of the sorted ``wanted``."""
    stats = chunk.statistics
    if stats is None or not stats.has_min_max:
        return True
    at = bisect.bisect_left(wanted, stats.min)
    return at < len(wanted) and wanted[at] <= stats.max
