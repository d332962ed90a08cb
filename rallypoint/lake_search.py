"""Lake-wide search: find records and accounts by id, handle, link, domain, hashtag or words.

What it computes
    ``search_lake(lake, query)`` reads what the query names from every committed interaction
    file and returns the matching records (newest first, at most ``limit``), the accounts
    behind them with their hit counts, and, for each account, the clusters of a run that hold
    it. Matching ignores case and accents ("Brasilia" finds "Brasília"), as an analyst typing
    a place name or a handle expects.

    The query's form says what it is:

    ``#tag``           a hashtag (stored without ``#``, lower-cased)
    ``@handle``        an account name or a mentioned account
    ``example.org``    a domain (its subdomains too) or, with a scheme or path, a link prefix
    anything else      words that must all occur in the text or the account name; a query that
                       equals an account id or a record id matches those too

Engine
    DuckDB scans the lake's Parquet partitions in place (its ``strip_accents`` folds accents);
    the analyst's query travels as a bound parameter, never as SQL text. ``O(n)`` in the
    records scanned, columns pruned to those the query form reads.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field

import pyarrow as pa

from rallypoint.errors import RallypointError
from rallypoint.lake import LATEST, Lake
from rallypoint.schema import LAKE_SCHEMA

__all__ = ["SearchQuery", "SearchResult", "parse_query", "search_lake", "fold", "terminal_safe"]

#: A query form and the columns it reads.
KINDS = ("hashtag", "handle", "domain", "url", "words")
DEFAULT_LIMIT = 200
_DOMAIN = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


class SearchError(RallypointError):
    """The query cannot be run (empty, or the lake cannot be read)."""


def terminal_safe(text: str) -> str:
    """``text`` with control characters shown as escapes: data never drives the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def fold(text: str) -> str:
    """Lower case without accents: the same folding DuckDB's ``strip_accents(lower(x))`` does."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class SearchQuery:
    """A parsed query: its form and the folded needle(s)."""

    kind: str
    needles: tuple[str, ...]
    raw: str


def parse_query(query: str) -> SearchQuery:
    """Classify ``query`` by its form (see the module docstring)."""
    raw = (query or "").strip()
    if not raw:
        raise SearchError("The search is empty: give an id, @handle, #hashtag, domain or words.")
    folded = fold(raw)
    if folded.startswith("#") and len(folded) > 1 and " " not in folded:
        return SearchQuery("hashtag", (folded[1:],), raw)
    if folded.startswith("@") and len(folded) > 1 and " " not in folded:
        return SearchQuery("handle", (folded[1:],), raw)
    if " " not in folded:
        if _SCHEME.match(folded) or ("/" in folded and _DOMAIN.match(folded.split("/", 1)[0])):
            return SearchQuery("url", (folded,), raw)
        if _DOMAIN.match(folded.removeprefix("www.")):
            return SearchQuery("domain", (folded.removeprefix("www."),), raw)
    words = tuple(w for w in folded.split() if w)
    return SearchQuery("words", words, raw)


@dataclass
class SearchResult:
    """What a search found: records, accounts with hit counts, and their clusters."""

    query: SearchQuery
    records: pa.Table
    accounts: pa.Table
    clusters: pa.Table
    run_id: str | None
    truncated: bool
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


_RECORD_COLUMNS = ("id", "platform", "account_id", "account_name", "timestamp", "action", "target_id",
                   "text", "urls", "hashtags")
_RECORDS_SCHEMA = pa.schema([LAKE_SCHEMA.field(name) for name in _RECORD_COLUMNS])
_ACCOUNTS_SCHEMA = pa.schema([("account_id", pa.string()), ("account_name", pa.string()), ("hits", pa.int64()),
                              ("first_ts", LAKE_SCHEMA.field("timestamp").type),
                              ("last_ts", LAKE_SCHEMA.field("timestamp").type)])
_CLUSTERS_SCHEMA = pa.schema([("cluster_id", pa.string()), ("account_id", pa.string()), ("role", pa.string())])


def _condition(q: SearchQuery) -> tuple[str, list[str]]:
    """The WHERE clause for ``q`` with its bound parameters."""
    if q.kind == "hashtag":
        return "list_contains(list_transform(hashtags, lambda t: strip_accents(lower(t))), ?)", [q.needles[0]]
    if q.kind == "handle":
        needle = q.needles[0]
        return ("(strip_accents(lower(coalesce(account_name, ''))) IN (?, ?) "
                "OR list_contains(list_transform(mentions, lambda m: strip_accents(lower(ltrim(m, '@')))), ?))",
                [needle, "@" + needle, needle])
    if q.kind == "domain":
        needle = q.needles[0]
        host = "regexp_extract(lower(u), '^[a-z][a-z0-9+.-]*://(www\\.)?([^/:?#]+)', 2)"
        return (f"len(list_filter(urls, lambda u: {host} = ? OR ends_with({host}, ?))) > 0",
                [needle, "." + needle])
    if q.kind == "url":
        needle = q.needles[0]
        bare = "regexp_replace(lower(u), '^[a-z][a-z0-9+.-]*://(www\\.)?', '')"
        wanted = re.sub(r"^[a-z][a-z0-9+.-]*://(www\.)?", "", needle)
        return f"len(list_filter(urls, lambda u: starts_with({bare}, ?))) > 0", [wanted]
    parts, params = [], []
    for word in q.needles:
        parts.append("(contains(strip_accents(lower(coalesce(text, ''))), ?) "
                     "OR contains(strip_accents(lower(coalesce(account_name, ''))), ?))")
        params += [word, word]
    clause = " AND ".join(parts)
    return f"(({clause}) OR account_id = ? OR id = ?)", [*params, q.raw, q.raw]


def search_lake(lake: str | os.PathLike[str] | Lake, query: str, *, run_id: str | None = LATEST,
                limit: int = DEFAULT_LIMIT) -> SearchResult:
    """Search every committed interaction of ``lake`` for ``query``.

    Parameters
    ----------
    lake : the lake (path or ``Lake``).
    query : what the analyst typed (see the module docstring for its forms).
    run_id : the run whose clusters the found accounts are linked to (``latest`` by default;
        ``None`` or a lake without runs: no clusters).
    limit : at most this many records come back, newest first; ``truncated`` says when more matched.
    """
    import time

    import duckdb

    if limit < 1:
        raise SearchError("The search limit must be at least 1.")
    started = time.perf_counter()
    lake = (lake if isinstance(lake, Lake) else Lake(lake)).require()
    q = parse_query(query)
    files = [str(p) for p in lake.interaction_files()]
    if not files:
        return SearchResult(q, _RECORDS_SCHEMA.empty_table(), _ACCOUNTS_SCHEMA.empty_table(),
                            _CLUSTERS_SCHEMA.empty_table(), None, False, notes=["The lake holds no interactions yet."])
    where, params = _condition(q)
    columns = ", ".join(_RECORD_COLUMNS)
    con = duckdb.connect(config={"threads": max(1, os.cpu_count() or 1)})
    try:
        # one scan of the lake: the records and the accounts are both read from what it matched
        con.execute(f"CREATE TEMP TABLE matched AS SELECT {columns} FROM read_parquet(?, union_by_name = true) "
                    f"WHERE {where}", [files, *params])
        hits = con.sql(f"SELECT {columns} FROM matched ORDER BY timestamp DESC, id LIMIT ?",
                       params=[limit + 1]).to_arrow_table()
        accounts = con.sql(
            "SELECT account_id, any_value(account_name) AS account_name, count(*) AS hits, "
            "min(timestamp) AS first_ts, max(timestamp) AS last_ts "
            "FROM matched GROUP BY account_id ORDER BY hits DESC, account_id LIMIT 1000").to_arrow_table()
    except duckdb.Error as exc:
        raise SearchError(f"The lake could not be searched: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    truncated = hits.num_rows > limit
    hits = hits.slice(0, limit)
    clusters, resolved = _clusters_of(lake, accounts, run_id)
    return SearchResult(q, hits, accounts, clusters, resolved, truncated, time.perf_counter() - started)


def _clusters_of(lake: Lake, accounts: pa.Table, run_id: str | None) -> tuple[pa.Table, str | None]:
    """The clusters of ``run_id`` that hold any of ``accounts``: cluster_id, account_id, role."""
    import polars as pl

    if run_id is None or accounts.num_rows == 0 or not lake.run_ids():
        return _CLUSTERS_SCHEMA.empty_table(), None
    resolved = lake.resolve_run(run_id)
    members = pl.from_arrow(lake.read_run_table(resolved, "members"))
    wanted = pl.from_arrow(accounts.select(["account_id"]))
    found = members.join(wanted, on="account_id", how="semi").select(
        pl.col("cluster_id").cast(pl.String), "account_id", pl.col("role").cast(pl.String))
    return found.sort("cluster_id", "account_id").to_arrow(), resolved

