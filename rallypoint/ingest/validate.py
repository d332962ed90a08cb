"""Validation: a raw block of reader columns -> canonical lake rows + rejected rows.

``canonicalize`` maps whatever columns a reader produced onto ``LAKE_SCHEMA``
(normalizing every field with ``rallypoint.ingest.normalize``), gives each row the
first reason it breaks the canonical table, and splits the block in two: the rows
that pass, and the rows that do not with their source, line and reason
(``REJECTED_SCHEMA``). The work is whole-column (pyarrow.compute); Python touches
only the rejected rows, to keep each one as it was read.

Reasons are short and categorical so the ingest summary can count them:

* ``missing required field: <name>`` for ``id``, ``platform``, ``account_id``,
  ``timestamp``, ``action``;
* ``unparseable timestamp`` / ``unparseable account_created_at``;
* ``unknown action`` (not one of post, repost, reply, quote, reaction);
* ``<action> without target_id`` for a targeted action with no target;
* ``followers is not an integer`` / ``high_profile is not a boolean``;
* reader-level ones (``not valid JSON``, ``not valid UTF-8``, ``wrong type for <field>``)
  come from the readers themselves.

Complexity: O(n) per canonical field for n rows; the rejected rows cost O(r) Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.ingest import normalize as nz
from rallypoint.schema import (
    ACTIONS,
    LAKE_SCHEMA,
    RECORD_SCHEMA,
    REJECTED_SCHEMA,
    REQUIRED_FIELDS,
    TARGETED_ACTIONS,
)

CANONICAL_NAMES = frozenset(RECORD_SCHEMA.names)
#: Columns a reader may add that are not data: the raw text of a row, for rejections.
RAW_COLUMN = "_raw"
EXTRA_COLUMN = "extra"
_LIST_FIELDS = ("urls", "hashtags", "mentions", "media")
_STRING_FIELDS = tuple(
    f.name for f in RECORD_SCHEMA if pa.types.is_string(f.type)
)


@dataclass
class Rejections:
    """Rejected rows collected outside ``canonicalize`` (by a reader's own checks)."""

    lines: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    raws: list[str | None] = field(default_factory=list)

    def add(self, line: int, reason: str, raw: str | bytes | None) -> None:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="backslashreplace")
        self.lines.append(line)
        self.reasons.append(reason)
        self.raws.append(raw)

    def __len__(self) -> int:
        return len(self.lines)

    def table(self, source: str) -> pa.Table:
        return rejected_table(source, np.asarray(self.lines, dtype=np.int64), self.reasons, self.raws)


def rejected_table(source: str, lines, reasons, raws) -> pa.Table:
    """A REJECTED_SCHEMA table from parallel sequences."""
    n = len(reasons)
    return pa.table(
        {
            "source": pa.array([source] * n, pa.string()),
            "line": pa.array(lines, pa.int64()),
            "reason": pa.array(reasons, pa.string()),
            "raw": pa.array(raws, pa.string()),
        },
        schema=REJECTED_SCHEMA,
    )


def canonicalize(raw: pa.Table, lines: np.ndarray, source: str) -> tuple[pa.Table, pa.Table]:
    """Split ``raw`` into (valid rows as LAKE_SCHEMA, rejected rows as REJECTED_SCHEMA).

    ``lines[i]`` is the 1-based line (or row) of ``raw``'s row ``i`` in ``source``.
    Columns outside the canonical table become the ``extra`` JSON object; a string
    column named ``extra`` with no other unknown column is taken as that object already.
    """
    n = raw.num_rows
    names = set(raw.column_names)

    def col(name: str) -> pa.ChunkedArray:
        if name in names:
            return raw.column(name)
        return pa.chunked_array([pa.nulls(n)])

    out: dict[str, pa.ChunkedArray] = {}
    for name in _STRING_FIELDS:
        out[name] = nz.as_string(col(name), trim=name != "text")
    out["platform"] = pc.utf8_lower(out["platform"])
    out["action"] = pc.utf8_lower(out["action"])
    out["timestamp"] = nz.parse_timestamps(col("timestamp"))
    out["account_created_at"] = nz.parse_timestamps(col("account_created_at"))
    out["followers"] = nz.parse_int(col("followers"))
    out["high_profile"] = nz.parse_bool(col("high_profile"))
    urls_original = nz.as_string_list(col("urls"))
    out["urls"] = nz.normalize_urls(urls_original)
    out["hashtags"] = nz.normalize_hashtags(nz.as_string_list(col("hashtags")))
    out["mentions"] = nz.normalize_mentions(nz.as_string_list(col("mentions")))
    out["media"] = nz.as_string_list(col("media"))
    out["urls_original"] = urls_original
    out["extra"] = _extra_json(raw)

    reason = _reasons(out, col)
    table = pa.table({f.name: _fit(out[f.name], f.type) for f in LAKE_SCHEMA}, schema=_nullable(LAKE_SCHEMA))
    bad = pc.is_valid(reason)
    if not pc.any(bad).as_py():
        return table.cast(LAKE_SCHEMA), REJECTED_SCHEMA.empty_table()
    good = pc.invert(bad)
    bad_idx = np.flatnonzero(np.asarray(bad.to_numpy(zero_copy_only=False), dtype=bool))
    rejected = rejected_table(
        source,
        np.asarray(lines, dtype=np.int64)[bad_idx],
        reason.take(pa.array(bad_idx)).to_pylist(),
        _raw_rows(raw, bad_idx),
    )
    return table.filter(good).cast(LAKE_SCHEMA), rejected


def _reasons(out: dict[str, pa.ChunkedArray], col) -> pa.ChunkedArray:
    """The first rule each row breaks, or null when it passes.

    Most blocks break no rule at all: a rule only costs its mask, and the string
    column of reasons is built only from the rules some row breaks.
    """
    checks: list[tuple[pa.ChunkedArray, str | pa.ChunkedArray]] = []
    for name in REQUIRED_FIELDS:
        if name != "timestamp":
            checks.append((pc.is_null(out[name]), f"missing required field: {name}"))
        else:
            checks.append((pc.invert(_present(col("timestamp"))), "missing required field: timestamp"))
            checks.append((pc.is_null(out["timestamp"]), "unparseable timestamp"))
    known = pc.is_in(out["action"], pa.array(ACTIONS))
    checks.append((pc.invert(known), "unknown action"))
    targeted = pc.is_in(out["action"], pa.array(sorted(TARGETED_ACTIONS)))
    no_target = pc.and_(targeted, pc.is_null(out["target_id"]))
    checks.append((no_target, "<action> without target_id"))
    for name, parsed, what in (
        ("account_created_at", out["account_created_at"], "unparseable account_created_at"),
        ("followers", out["followers"], "followers is not an integer"),
        ("high_profile", out["high_profile"], "high_profile is not a boolean"),
    ):
        given = col(name)
        if given.null_count == len(given):  # not given in this block (or a null column)
            continue
        checks.append((pc.and_(_present(given), pc.is_null(parsed)), what))

    reason = pa.chunked_array([pa.nulls(len(out["id"]), pa.string())])
    for failed, text in reversed(checks):  # the first check wins: apply it last
        failed = pc.fill_null(failed, False)
        if not pc.any(failed).as_py():
            continue
        if text == "<action> without target_id":
            value = pc.binary_join_element_wise(out["action"], " without target_id", "")
        else:
            value = pa.scalar(text, pa.string())
        reason = pc.if_else(failed, value, reason)
    return reason


def _present(given: pa.ChunkedArray) -> pa.ChunkedArray:
    """Whether a raw value was given: not null and, for text, not blank."""
    if pa.types.is_string(given.type) or pa.types.is_large_string(given.type):
        return pc.is_valid(nz.as_string(given))
    return pc.is_valid(given)


def _extra_json(raw: pa.Table) -> pa.ChunkedArray:
    """Columns outside the canonical table as one JSON object string per row."""
    unknown = [c for c in raw.column_names if c not in CANONICAL_NAMES and c != RAW_COLUMN]
    n = raw.num_rows
    if not unknown:
        return pa.chunked_array([pa.nulls(n, pa.string())])
    if unknown == [EXTRA_COLUMN] and pa.types.is_string(raw.column(EXTRA_COLUMN).type):
        return raw.column(EXTRA_COLUMN)
    columns = [raw.column(c) for c in unknown]
    if all(pa.types.is_integer(c.type) or pa.types.is_boolean(c.type) for c in columns):
        # numbers and booleans print the same in JSON as in Arrow: join the text
        # directly instead of a round trip through polars (the usual synthetic case)
        pieces: list = []
        for i, (name, column) in enumerate(zip(unknown, columns, strict=True)):
            pieces.append(("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":")
            pieces.append(pc.fill_null(pc.cast(column, pa.string()), "null"))
        return pc.binary_join_element_wise(*pieces, "}", "")
    import polars as pl

    frame = pl.from_arrow(raw.select(unknown))
    if isinstance(frame, pl.Series):  # one column comes back as a Series
        frame = frame.to_frame()
    encoded = frame.select(pl.struct(pl.all()).struct.json_encode().alias("extra")).to_arrow()
    return pc.cast(encoded.column("extra"), pa.string())


def _raw_rows(raw: pa.Table, idx: np.ndarray) -> list[str | None]:
    """The rejected rows as they were read: the reader's raw text, or the row as JSON."""
    taken = raw.take(pa.array(idx))
    if RAW_COLUMN in taken.column_names:
        return taken.column(RAW_COLUMN).to_pylist()
    return [json.dumps(row, default=str, ensure_ascii=False) for row in taken.to_pylist()]


def _fit(column: pa.ChunkedArray, typ: pa.DataType) -> pa.ChunkedArray:
    column = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
    return column.cast(typ) if column.type != typ else column


def _nullable(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f.with_nullable(True) for f in schema])
