"""Normalization: raw reader columns -> the lake's canonical columns, vectorized.

Every function here works on whole Arrow arrays (``pyarrow.compute``), never on one
row at a time, so the canonical fast path costs a few passes over each column:

* timestamps -> UTC microseconds: ISO 8601 with a zone (a zone-less time is read in the
  zone the caller names, and ``zoneless`` finds such times so validation can refuse a guess),
  epoch seconds or milliseconds given as numbers or digit strings (told apart by
  magnitude: ``|x| >= 1e11`` is milliseconds, since 1e11 seconds is the year 5138
  while 1e11 milliseconds is 1973), and X v1.1's ``Wed Oct 10 20:19:24 +0000 2018``;
* hashtags lower-cased without ``#``; mentions without ``@``;
* URLs normalized for matching (scheme and host lower-cased, the fragment and tracking
  parameters such as ``utm_*``, ``fbclid`` and ``gclid`` dropped, the remaining query
  parameters sorted), the URLs as written kept in ``urls_original``;
* list fields given as ``|``-separated strings (CSV) split into lists.

Invalid values become nulls here; ``rallypoint.ingest.validate`` turns a null where
the raw value was present into a rejection reason.

Complexity: O(n) per column (URLs: O(d) regex work for the d distinct URLs of a
block plus an O(n) hash pass; query parameters sorted per URL). The URL rules follow
the usual link-canonicalization of coordinated-link-sharing studies (CooRnet,
Giglietto et al.): the same link must compare equal however it was tagged.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.schema import STRING_LIST, TIMESTAMP

#: Query parameters that only track the click and never change what a link points to.
TRACKING_PARAMS = (
    r"utm_[^=&]*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|igshid|"
    r"yclid|_ga|_gl|ref_src|ref_url|s_cid|mkt_tok|vero_id|oly_anon_id|oly_enc_id"
)
#: Epoch values at or above this magnitude are milliseconds, below it seconds.
EPOCH_MS_THRESHOLD = 10**11
LIST_SEPARATOR = "|"

_URL_PATTERN = (
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<host>[^/?#]*)(?P<path>[^?#]*)"
    r"(?:\?(?P<query>[^#]*))?(?:#.*)?$"
)
_DIGITS = r"^\s*[+-]?\d+(\.\d*)?\s*$"
_V1_FORMAT = "%a %b %d %H:%M:%S %z %Y"
#: A zone after a time: ``Z``, ``+01``, ``+0100``, ``+01:00`` (or X v1.1's ``+0000 2018``).
_ZONE_AT_END = r":\d{2}(?:[.,]\d+)?\s*(?:z|[+-]\d{2}(?::?\d{2})?)\s*$|\s[+-]\d{4}\s+\d{4}\s*$"
#: The first and last microseconds of the years 1 and 9999: where an out-of-reach year is kept.
_FIRST_US = -62135596800 * 10**6
_LAST_US = 253402300799 * 10**6


# --- scalars ------------------------------------------------------------------------
def as_string(column: pa.ChunkedArray | pa.Array, trim: bool = True) -> pa.ChunkedArray:
    """Any scalar column as strings (ids given as JSON numbers become their digits).

    Empty or all-blank strings become null, so "missing" has one representation;
    with ``trim`` the surrounding whitespace is dropped too (not for free text).
    """
    column = _chunked(column)
    if pa.types.is_null(column.type):
        return pa.chunked_array([pa.nulls(len(column), pa.string())])
    if pa.types.is_floating(column.type):
        # 1.0 -> "1": CSV-style floats that hold integers must not grow a ".0"
        whole = pc.equal(column, pc.floor(column))
        column = pc.if_else(whole, pc.cast(pc.cast(column, pa.int64(), safe=False), pa.string()),
                            pc.cast(column, pa.string()))
    elif not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pc.cast(column, pa.string())
    column = pc.cast(column, pa.string())
    if trim:
        kept = pc.utf8_trim_whitespace(column)
        blank = pc.equal(kept, "")
    else:  # free text: find blank values without copying the whole column
        kept = column
        blank = pc.or_(pc.equal(column, ""), pc.utf8_is_space(column))
    if not pc.any(blank).as_py():  # the usual case: no if_else copy
        return kept
    return pc.if_else(blank, pa.scalar(None, pa.string()), kept)


def parse_timestamps(column: pa.ChunkedArray | pa.Array, timezone: str = "UTC") -> pa.ChunkedArray:
    """Timestamps of any accepted form as ``timestamp[us, UTC]``; unparseable -> null.

    Times written without a zone are wall-clock times in ``timezone`` (``validate`` rejects
    them instead when no zone was given: see ``zoneless``).
    """
    column = _chunked(column)
    n = len(column)
    if pa.types.is_null(column.type):
        return pa.chunked_array([pa.nulls(n, TIMESTAMP)])
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:  # readers pass zone-less instants only when they are UTC
            column = pc.assume_timezone(column, "UTC")
        return pc.cast(column, TIMESTAMP)
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return _from_epoch(pc.cast(column, pa.float64()))
    strings = as_string(column)
    digits = pc.match_substring_regex(strings, _DIGITS)
    epoch = _from_epoch(pc.cast(pc.if_else(digits, strings, None), pa.float64()))
    textual = pc.if_else(digits, pa.scalar(None, pa.string()), strings)
    return pc.coalesce(epoch, _from_text(textual, timezone))


def zoneless(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """True where a given time carries no zone (a local wall-clock time whose zone is unknown).

    Epoch numbers are UTC by definition; X v1.1 dates carry their offset; ISO 8601 text needs
    ``Z`` or an offset after the time. (Typed timestamps are instants: a reader hands over a
    zone-less local time as text, as the Parquet reader does.)
    """
    column = _chunked(column)
    n = len(column)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return pa.chunked_array([pa.array(np.zeros(n, dtype=bool))])
    strings = as_string(column)
    zoned = pc.match_substring_regex(strings, _ZONE_AT_END, ignore_case=True)
    dated = pc.match_substring_regex(strings, r"^\s*[+-]?\d{4,}-\d{1,2}-\d{1,2}")  # ISO-like, not garbage
    return pc.fill_null(pc.and_(dated, pc.invert(zoned)), False)


def _from_epoch(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Epoch seconds or milliseconds (by magnitude) -> microseconds since 1970, UTC."""
    millis = pc.greater_equal(pc.abs(values), EPOCH_MS_THRESHOLD)
    micros = pc.if_else(millis, pc.multiply(values, 1e3), pc.multiply(values, 1e6))
    # beyond what microseconds since 1970 can hold the value is no time at all
    plausible = pc.less(pc.abs(micros), 9.2e18)
    micros = pc.if_else(plausible, pc.round(micros), None)
    return pc.cast(pc.cast(micros, pa.int64()), TIMESTAMP)


def _from_text(strings: pa.ChunkedArray, timezone: str = "UTC") -> pa.ChunkedArray:
    """ISO 8601 (zone-less times in ``timezone``) or X v1.1 dates -> timestamp[us, UTC]."""
    if strings.null_count == len(strings):
        return pa.chunked_array([pa.nulls(len(strings), TIMESTAMP)])
    try:  # fast path: every value is ISO 8601 with a zone
        return pc.cast(strings, TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    import pandas as pd

    values = pd.Series(strings.to_numpy(zero_copy_only=False), dtype=object)
    # pandas parses at nanoseconds (years 1678-2261): a year outside that is kept as the
    # first or last microsecond time, so the plausible-range rule (not "unparseable") judges it
    year = pd.to_numeric(values.str.extract(r"^\s*([+-]?\d{4,})-", expand=False), errors="coerce")
    # pandas' C ISO 8601 parser handles mixed zones, missing zones and fractions
    iso = pd.to_datetime(values.where(year.between(1678, 2261) | year.isna()), utc=True, errors="coerce",
                         format="ISO8601")
    if timezone != "UTC":
        naive = np.asarray(zoneless(strings).to_numpy(zero_copy_only=False), dtype=bool)
        if naive.any():
            local = pd.to_datetime(values[naive], errors="coerce", format="ISO8601")
            iso[naive] = local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    iso_arr = pa.array(iso.astype("datetime64[us, UTC]"), type=TIMESTAMP, from_pandas=True)
    far = pa.array(np.where(year > 2261, _LAST_US, np.where(year < 1678, _FIRST_US, 0)), pa.int64())
    far = pc.cast(pc.if_else(pc.equal(far, 0), None, far), TIMESTAMP)
    v1 = pc.strptime(strings, format=_V1_FORMAT, unit="us", error_is_null=True)
    return pa.chunked_array([pc.coalesce(iso_arr, pc.cast(v1, TIMESTAMP), far)])


def parse_int(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """Integers from numbers or digit strings; anything else -> null."""
    column = _chunked(column)
    if pa.types.is_null(column.type):
        return pa.chunked_array([pa.nulls(len(column), pa.int64())])
    if pa.types.is_integer(column.type):
        return pc.cast(column, pa.int64())
    if pa.types.is_floating(column.type):
        # whole and within int64 (1e30 followers is no count)
        whole = pc.and_(pc.equal(column, pc.floor(column)), pc.less(pc.abs(column), 9.2e18))
        return pc.cast(pc.if_else(whole, column, None), pa.int64())
    strings = as_string(column)
    ok = pc.match_substring_regex(strings, r"^[+-]?\d{1,18}(\.0*)?$")
    cleaned = pc.replace_substring_regex(pc.if_else(ok, strings, None), r"\.0*$", "")
    return pc.cast(cleaned, pa.int64())


_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]


def parse_bool(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """Booleans from booleans, 0/1 or true/false/yes/no strings; anything else -> null."""
    column = _chunked(column)
    if pa.types.is_null(column.type):
        return pa.chunked_array([pa.nulls(len(column), pa.bool_())])
    if pa.types.is_boolean(column.type):
        return column
    lowered = pc.utf8_lower(as_string(column))
    is_true = pc.is_in(lowered, pa.array(_TRUE))
    is_false = pc.is_in(lowered, pa.array(_FALSE))
    return pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))


# --- lists --------------------------------------------------------------------------
def as_string_list(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """A list field as ``list<string>``: lists are cast, strings split on ``|``.

    Blank items are dropped; a null or empty field stays null/empty as given.
    """
    column = _chunked(column)
    if pa.types.is_null(column.type):
        return pa.chunked_array([pa.nulls(len(column), STRING_LIST)])
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        column = pc.cast(column, pa.list_(pa.string()))
    else:
        strings = pc.cast(column, pa.string())
        column = pc.split_pattern(strings, LIST_SEPARATOR)
    return map_list_items(column, lambda items: pc.utf8_trim_whitespace(items), drop_empty=True)


def map_list_items(lists: pa.ChunkedArray, func, drop_empty: bool = False) -> pa.ChunkedArray:
    """Apply an array function to every item of a list column, keeping the row structure."""
    chunks = []
    for chunk in _chunked(lists).chunks:
        items = pc.list_flatten(chunk)
        mapped = func(items) if len(items) else items.cast(pa.string())
        if drop_empty and len(mapped):
            keep = pc.fill_null(pc.not_equal(mapped, ""), False)
            if not pc.all(keep).as_py():
                parents = pc.list_parent_indices(chunk).filter(keep)
                chunks.append(_rebuild_lists(mapped.filter(keep), parents, chunk))
                continue
        chunks.append(_same_lists(mapped, chunk))
    if not chunks:
        return pa.chunked_array([], STRING_LIST)
    return pa.chunked_array(chunks, STRING_LIST)


def _same_lists(items: pa.Array, like: pa.Array) -> pa.Array:
    """``items`` (one per item of ``like``, in order) in ``like``'s lists: its offsets reused."""
    offsets = np.asarray(like.offsets, dtype=np.int32)
    if offsets[-1] - offsets[0] != len(items):  # a null row spans items that flatten skipped
        return _rebuild_lists(items, pc.list_parent_indices(like), like)
    mask = like.is_null() if like.null_count else None
    return pa.ListArray.from_arrays(pa.array(offsets - offsets[0]), items.cast(pa.string()), mask=mask)


def _rebuild_lists(items: pa.Array, parents: pa.Array, like: pa.Array) -> pa.Array:
    """A list array with ``like``'s rows and nulls whose row ``parents[k]`` holds ``items[k]``.

    ``parents`` must be non-decreasing (as list_parent_indices returns it).
    """
    counts = np.bincount(np.asarray(parents, dtype=np.int64), minlength=len(like))
    offsets = np.zeros(len(like) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    mask = like.is_null() if like.null_count else None
    return pa.ListArray.from_arrays(pa.array(offsets), items.cast(pa.string()), mask=mask)


def normalize_hashtags(lists: pa.ChunkedArray) -> pa.ChunkedArray:
    """Hashtags lower-cased, without the leading ``#``."""
    return map_list_items(lists, lambda t: pc.utf8_lower(pc.utf8_ltrim(t, "#")), drop_empty=True)


def normalize_mentions(lists: pa.ChunkedArray) -> pa.ChunkedArray:
    """Mentions without the leading ``@`` (ids and handles are kept as written otherwise)."""
    return map_list_items(lists, lambda t: pc.utf8_ltrim(t, "@"), drop_empty=True)


def normalize_urls(lists: pa.ChunkedArray) -> pa.ChunkedArray:
    """Every URL of a list column normalized with :func:`normalize_url_array`.

    Shared links repeat (that is what coordinated link sharing is), so each distinct
    URL is normalized once and the results are spread back by dictionary index.
    """
    return map_list_items(lists, _once_per_distinct(normalize_url_array), drop_empty=True)


def _once_per_distinct(func):
    def apply(items: pa.Array) -> pa.Array:
        encoded = items.cast(pa.string()).dictionary_encode()
        return func(encoded.dictionary).take(encoded.indices)

    return apply


def normalize_url_array(urls: pa.Array) -> pa.Array:
    """Normalize URLs so that the same link written differently compares equal.

    Lower-cases scheme and host, drops the fragment and tracking parameters, sorts the
    remaining query parameters, and writes an empty path as ``/``. Strings that are not
    ``scheme://...`` URLs are kept as written, trimmed.
    """
    urls = pc.utf8_trim_whitespace(urls.cast(pa.string()))
    parts = pc.extract_regex(urls, _URL_PATTERN)
    scheme = pc.utf8_lower(pc.struct_field(parts, "scheme"))
    host = pc.utf8_lower(pc.struct_field(parts, "host"))
    path = pc.struct_field(parts, "path")
    path = pc.if_else(pc.equal(path, ""), "/", path)
    query = _clean_query(pc.struct_field(parts, "query"))
    query = pc.if_else(pc.equal(query, ""), "", pc.binary_join_element_wise("?", query, ""))
    rebuilt = pc.binary_join_element_wise(scheme, "://", host, path, query, "")
    return pc.coalesce(rebuilt, urls)


def _clean_query(query: pa.Array) -> pa.Array:
    """Drop tracking parameters from query strings and sort the rest."""
    query = pc.fill_null(query, "")
    params = pc.split_pattern(query, "&")
    flat = pc.list_flatten(params)
    parents = pc.list_parent_indices(params)
    keep = pc.and_(
        pc.not_equal(flat, ""),
        pc.invert(pc.match_substring_regex(flat, rf"^(?:{TRACKING_PARAMS})(?:=|$)", ignore_case=True)),
    )
    flat, parents = flat.filter(keep), parents.filter(keep)
    order = pc.sort_indices(pa.table({"p": parents, "v": flat}), sort_keys=[("p", "ascending"), ("v", "ascending")])
    flat, parents = flat.take(order), parents.take(order)
    return pc.binary_join(_rebuild_lists(flat, parents, params), "&")


def _chunked(column) -> pa.ChunkedArray:
    if isinstance(column, pa.ChunkedArray):
        return column
    return pa.chunked_array([column])
