"""Building raw blocks from Python records, for readers that go item by item.

Platform formats (X, Telegram) and the JSON Lines fallback path produce one dict per
item with canonical field names; ``RecordBuffer`` checks the types of the canonical
fields, folds every other key into the ``extra`` JSON object, and emits blocks of
``ITEMS_PER_BLOCK`` rows. A field of the wrong type (an object where a string belongs, a
boolean or a fraction as an id) rejects the item with ``wrong type for <field>``; an item
nested deeper than ``MAX_NESTING`` levels with ``nested too deeply``. A platform reader
builds its record inside ``RecordBuffer.item``, so a value of the wrong type anywhere in
the item (``"user": "notadict"``, an entity whose text is null) rejects that item alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from rallypoint.ingest.readers import ITEMS_PER_BLOCK, Block
from rallypoint.ingest.validate import RAW_COLUMN, Rejections
from rallypoint.schema import LIST_FIELDS, RECORD_SCHEMA

#: Deepest nesting of objects and lists an item may have: platform records nest a few levels;
#: thousands of levels are an attack on recursive parsers and encoders, not data.
MAX_NESTING = 64
#: Fields that are ids: text or whole numbers only (``true`` or ``1.5`` is no id).
_ID_FIELDS = frozenset({"id", "platform", "account_id", "target_id", "target_account_id", "channel_id"})

_LISTS = frozenset(n for n in LIST_FIELDS if n in RECORD_SCHEMA.names)
_SCALARS = tuple(n for n in RECORD_SCHEMA.names if n not in _LISTS)
#: Every canonical field as text (lists as lists of text); validate parses the rest.
RAW_SCHEMA = pa.schema(
    [pa.field(n, pa.list_(pa.string()) if n in _LISTS else pa.string()) for n in RECORD_SCHEMA.names]
    + [pa.field("extra", pa.string()), pa.field(RAW_COLUMN, pa.string())]
)


def _scalar_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    raise TypeError


class MalformedItem(ValueError):
    """A platform item with a value of the wrong kind; its message is the rejection reason."""


def nesting_depth_exceeds(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether ``value`` nests objects/lists deeper than ``limit`` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | tuple))
    return False


def coerce_record(obj: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(row in RAW_SCHEMA layout, None) or (None, rejection reason)."""
    if not isinstance(obj, dict):
        return None, "not a JSON object"
    if nesting_depth_exceeds(obj):
        return None, "nested too deeply"
    row: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        if key in _ID_FIELDS and (isinstance(value, bool) or isinstance(value, float) and not value.is_integer()):
            return None, f"wrong type for {key}"
        if key in _LISTS:
            if value is None:
                row[key] = None
            elif isinstance(value, str):
                row[key] = value.split("|")
            elif isinstance(value, list) and all(
                v is None or isinstance(v, str | int | float) for v in value
            ):
                row[key] = [None if v is None else str(v) for v in value]
            else:
                return None, f"wrong type for {key}"
        elif key in _SCALARS:
            try:
                row[key] = _scalar_text(value)
            except TypeError:
                return None, f"wrong type for {key}"
        elif key == "extra" and isinstance(value, dict):
            extra.update(value)
        else:
            extra[key] = value
    row["extra"] = json.dumps(extra, ensure_ascii=False, default=str, sort_keys=True) if extra else None
    return row, None


def _as_json(obj: Any) -> str | None:
    try:
        return json.dumps(obj, default=str, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        return None


class RecordBuffer:
    """Collects records and yields full blocks; call ``flush()`` at the end."""

    def __init__(self, per_block: int = ITEMS_PER_BLOCK) -> None:
        self.per_block = per_block
        self.rows: list[dict[str, Any]] = []
        self.lines: list[int] = []
        self.rejected = Rejections()

    def add(self, line: int, obj: dict[str, Any], raw: str | None = None) -> Block | None:
        row, reason = coerce_record(obj)
        if reason is not None:
            self.rejected.add(line, reason, raw if raw is not None else _as_json(obj))
        else:
            row[RAW_COLUMN] = raw
            self.rows.append(row)
            self.lines.append(line)
        if len(self.rows) + len(self.rejected) >= self.per_block:
            return self.flush()
        return None

    def reject(self, line: int, reason: str, raw: str | bytes | None) -> Block | None:
        self.rejected.add(line, reason, raw)
        if len(self.rows) + len(self.rejected) >= self.per_block:
            return self.flush()
        return None

    def item(self, line: int, build, obj: Any, raw: str | None = None) -> Iterator[Block]:
        """Build records from one platform item with ``build(obj)`` (one record or an iterator
        of them) and add them; a malformed item becomes one rejection, never an exception."""
        if not isinstance(obj, dict):
            block = self.reject(line, "not a JSON object", raw if raw else _as_json(obj))
        elif nesting_depth_exceeds(obj):
            block = self.reject(line, "nested too deeply", raw if raw else None)
        else:
            try:
                built = build(obj)
                records = [built] if isinstance(built, dict) else list(built)
            except MalformedItem as exc:
                block = self.reject(line, str(exc), raw if raw else _as_json(obj))
            except (AttributeError, TypeError, ValueError, KeyError, IndexError, RecursionError):
                block = self.reject(line, "wrong type inside the item", raw if raw else _as_json(obj))
            else:
                for record in records:
                    block = self.add(line, record, raw)
                    if block is not None:
                        yield block
                return
        if block is not None:
            yield block

    def flush(self) -> Block | None:
        if not self.rows and not len(self.rejected):
            return None
        table = pa.Table.from_pylist(self.rows, schema=RAW_SCHEMA)
        block = Block(table, np.asarray(self.lines, dtype=np.int64), self.rejected)
        self.rows, self.lines, self.rejected = [], [], Rejections()
        return block

    def drain(self, blocks: Iterator[Block | None]) -> Iterator[Block]:
        """Yield the non-empty blocks of an iterator of ``add`` results, then the rest."""
        for block in blocks:
            if block is not None:
                yield block
        last = self.flush()
        if last is not None:
            yield last
