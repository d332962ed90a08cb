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
* ``timestamp without a time zone`` (a zone-less time and no ``--timezone``: never a
  silent guess) / ``timestamp outside the plausible range`` (``RecordRules``' bounds);
* ``followers is not an integer`` / ``high_profile is not a boolean``;
* ``wrong type for <field>`` (an id given as a boolean or a fraction, an object where text
  is due) and ``control character in <field>`` (NUL and friends inside an id);
* ``malformed value`` for a row whose values no column rule could take (found by judging
  the rows alone, see below);
* reader-level ones (``not valid JSON``, ``not valid UTF-8``, ``nested too deeply``)
  come from the readers themselves.

Every record is judged alone: when the whole-column path fails on a block (a value of a
type or size no column rule expected), the block is taken row by row as Python values
(``readers.records.coerce_record``: wrong types become reasons), and rows that still break
a column rule are found by halving the block, so one malformed value rejects its own row
and never the block or the file.

Complexity: O(n) per canonical field for n rows; the rejected rows cost O(r) Python; a block
that needs judging alone costs O(n) Python plus O(m log n) column passes for m bad rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.errors import InputError
from rallypoint.ingest import normalize as nz
from rallypoint.schema import (
    ACTIONS,
    LAKE_SCHEMA,
    RECORD_SCHEMA,
    REJECTED_SCHEMA,
    REQUIRED_FIELDS,
    TARGETED_ACTIONS,
    TIMESTAMP,
    utc_datetime,
)

CANONICAL_NAMES = frozenset(RECORD_SCHEMA.names)
#: Columns a reader may add that are not data: the raw text of a row, for rejections.
RAW_COLUMN = "_raw"
EXTRA_COLUMN = "extra"
_LIST_FIELDS = ("urls", "hashtags", "mentions", "media")
_STRING_FIELDS = tuple(
    f.name for f in RECORD_SCHEMA if pa.types.is_string(f.type)
)
#: Fields that name things (records, accounts, channels): text or whole numbers, never a
#: boolean, a fraction or a control character.
ID_FIELDS = ("id", "platform", "account_id", "target_id", "target_account_id", "channel_id")
#: Earliest plausible time of a post or an account: before it, a time is a unit or data error.
DEFAULT_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
#: Latest plausible time: the ingest's start plus this margin (clocks and zones disagree a little).
LATEST_MARGIN = timedelta(days=1)
#: Errors a column rule can raise on a value it did not expect (the block is then judged row by row).
VALUE_ERRORS = (pa.ArrowException, pl.exceptions.PolarsError, TypeError, ValueError, OverflowError, RecursionError,
                KeyError, IndexError)


@dataclass(frozen=True)
class RecordRules:
    """How records are judged, checked once: the plausible time range and the zone of zone-less times.

    ``timezone`` (an IANA name such as ``America/Sao_Paulo``, or ``UTC``) is the zone of times
    written without one; ``None`` rejects them (``timestamp without a time zone``). Times before
    ``earliest`` or after ``latest`` (default: now plus ``LATEST_MARGIN``) are rejected
    (``timestamp outside the plausible range``), so an epoch in the wrong unit never lands as the
    year 33658 or 1978.
    """

    timezone: str | None = None
    earliest: datetime | str | None = DEFAULT_EARLIEST
    latest: datetime | None = None

    def __post_init__(self) -> None:
        if self.timezone is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise InputError(f"Unknown time zone {self.timezone!r}; use an IANA name such as "
                                 "UTC or America/Sao_Paulo.") from None
        earliest = _aware(self.earliest if self.earliest is not None else DEFAULT_EARLIEST, "earliest")
        latest = _aware(self.latest, "latest") if self.latest is not None else datetime.now(UTC) + LATEST_MARGIN
        if earliest >= latest:
            raise InputError(f"The earliest plausible time {earliest:%Y-%m-%d} is not before the latest {latest:%Y-%m-%d}.")
        object.__setattr__(self, "earliest", earliest)
        object.__setattr__(self, "latest", latest)


def _aware(value: datetime | str, name: str) -> datetime:
    try:
        return utc_datetime(value)
    except ValueError:
        raise InputError(f"The {name} plausible time {value!r} is not an ISO 8601 date.") from None


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


def canonicalize(raw: pa.Table, lines: np.ndarray, source: str,
                 rules: RecordRules | None = None) -> tuple[pa.Table, pa.Table]:
    """Split ``raw`` into (valid rows as LAKE_SCHEMA, rejected rows as REJECTED_SCHEMA).

    ``lines[i]`` is the 1-based line (or row) of ``raw``'s row ``i`` in ``source``.
    Columns outside the canonical table become the ``extra`` JSON object; a string
    column named ``extra`` with no other unknown column is taken as that object already.
    ``rules`` (default ``RecordRules()``) bound the times and name the zone of zone-less ones.
    """
    rules = rules or RecordRules()
    try:
        return _canonicalize(raw, lines, source, rules)
    except VALUE_ERRORS:
        return _judge_alone(raw, np.asarray(lines, dtype=np.int64), source, rules)


def _canonicalize(raw: pa.Table, lines, source: str, rules: RecordRules) -> tuple[pa.Table, pa.Table]:
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
    zone = rules.timezone or "UTC"
    out["timestamp"] = nz.parse_timestamps(col("timestamp"), timezone=zone)
    out["account_created_at"] = nz.parse_timestamps(col("account_created_at"), timezone=zone)
    out["followers"] = nz.parse_int(col("followers"))
    out["high_profile"] = nz.parse_bool(col("high_profile"))
    urls_original = nz.as_string_list(col("urls"))
    out["urls"] = nz.normalize_urls(urls_original)
    out["hashtags"] = nz.normalize_hashtags(nz.as_string_list(col("hashtags")))
    out["mentions"] = nz.normalize_mentions(nz.as_string_list(col("mentions")))
    out["media"] = nz.as_string_list(col("media"))
    out["urls_original"] = urls_original
    out["extra"] = _extra_json(raw)

    reason = _reasons(out, col, rules)
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


def _judge_alone(raw: pa.Table, lines: np.ndarray, source: str, rules: RecordRules) -> tuple[pa.Table, pa.Table]:
    """The slow path for a block the column rules could not take: every row on its own."""
    from rallypoint.ingest.readers.records import RecordBuffer

    buffer = RecordBuffer(per_block=max(1, raw.num_rows + 1))
    for i in range(raw.num_rows):
        row = raw.slice(i, 1)
        text = _raw_rows(row, np.array([0]))[0] if RAW_COLUMN in row.column_names else None
        try:
            record = row.to_pylist()[0]
        except VALUE_ERRORS:
            buffer.reject(int(lines[i]), "malformed value", text)
            continue
        record.pop(RAW_COLUMN, None)
        buffer.add(int(lines[i]), record, text)
    block = buffer.flush()
    if block is None:
        return LAKE_SCHEMA.empty_table(), REJECTED_SCHEMA.empty_table()
    good, bad = _halving(block.table, block.lines, source, rules)
    return good, pa.concat_tables([block.rejected.table(source), bad])


def _halving(raw: pa.Table, lines: np.ndarray, source: str, rules: RecordRules) -> tuple[pa.Table, pa.Table]:
    """Canonicalize text rows; a failing block is halved until the failing rows stand alone."""
    try:
        return _canonicalize(raw, lines, source, rules)
    except VALUE_ERRORS:
        if raw.num_rows <= 1:
            raws = _raw_rows(raw, np.arange(raw.num_rows))
            return LAKE_SCHEMA.empty_table(), rejected_table(source, lines, ["malformed value"] * raw.num_rows, raws)
    half = raw.num_rows // 2
    first = _halving(raw.slice(0, half), lines[:half], source, rules)
    second = _halving(raw.slice(half), lines[half:], source, rules)
    return pa.concat_tables([first[0], second[0]]), pa.concat_tables([first[1], second[1]])


def _reasons(out: dict[str, pa.ChunkedArray], col, rules: RecordRules) -> pa.ChunkedArray:
    """The first rule each row breaks, or null when it passes.

    Most blocks break no rule at all: a rule only costs its mask, and the string
    column of reasons is built only from the rules some row breaks.
    """
    checks: list[tuple[pa.ChunkedArray, str | pa.ChunkedArray]] = []
    for name in ID_FIELDS:
        typ = col(name).type
        if pa.types.is_boolean(typ):
            checks.append((pc.is_valid(col(name)), f"wrong type for {name}"))
        elif pa.types.is_floating(typ):
            checks.append((pc.not_equal(col(name), pc.floor(col(name))), f"wrong type for {name}"))
    for name in REQUIRED_FIELDS:
        if name != "timestamp":
            checks.append((pc.is_null(out[name]), f"missing required field: {name}"))
        else:
            given = col("timestamp")
            checks.append((pc.invert(_present(given)), "missing required field: timestamp"))
            if rules.timezone is None:
                checks.append((nz.zoneless(given), "timestamp without a time zone"))
            checks.append((pc.is_null(out["timestamp"]), "unparseable timestamp"))
            checks.append((_outside(out["timestamp"], rules), "timestamp outside the plausible range"))
    for name in ID_FIELDS:
        control = pc.match_substring_regex(out[name], r"[\x00-\x1f\x7f]")
        if pc.any(control).as_py():
            checks.append((control, f"control character in {name}"))
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
        if name == "account_created_at" and rules.timezone is None:
            checks.append((nz.zoneless(given), "account_created_at without a time zone"))
        checks.append((pc.and_(_present(given), pc.is_null(parsed)), what))
        if name == "account_created_at":
            checks.append((_outside(parsed, rules), "account_created_at outside the plausible range"))

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


def _outside(times: pa.ChunkedArray, rules: RecordRules) -> pa.ChunkedArray:
    """Times outside the rules' plausible range (nulls are not outside)."""
    earliest = pa.scalar(rules.earliest, TIMESTAMP)
    latest = pa.scalar(rules.latest, TIMESTAMP)
    return pc.or_(pc.less(times, earliest), pc.greater(times, latest))


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
