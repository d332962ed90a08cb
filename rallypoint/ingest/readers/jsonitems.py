"""JSON items one at a time, from JSON Lines or from one (pretty-printed) document.

Platform exports come either as one object per line or as one document (an array
of items, or one page object). ``iter_items`` yields ``(line, obj, raw)`` for each,
where ``line`` is the 1-based line (JSON Lines) or item number (documents), and
``obj`` is None when the line is bad (``raw`` then holds the reason and the text).
Documents are streamed with ijson, so a large export is never held whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from rallypoint.errors import InputError
from rallypoint.ingest.formats import head_bytes, open_input
from rallypoint.ingest.readers import Part
from rallypoint.ingest.readers.records import MAX_NESTING

Item = tuple[int, dict[str, Any] | None, str]


def is_json_lines(part: Part) -> bool:
    """True when the first line is a complete JSON value (so the file is JSON Lines)."""
    head = head_bytes(part.path).lstrip(b"\xef\xbb\xbf").lstrip()
    first = head.split(b"\n", 1)[0].strip()
    try:
        json.loads(first)
    except (ValueError, UnicodeDecodeError):
        return False
    except RecursionError:
        return True  # a complete, absurdly deep value on one line: judged (and rejected) as a line
    return True


def iter_items(part: Part, document_prefix: str = "", document: bool = False) -> Iterator[Item]:
    """Items of a JSON Lines file, or of a document at ijson ``document_prefix``.

    ``document=True`` reads the file as one document even when it fits on one line.
    """
    if not document and is_json_lines(part):
        yield from _lines(part)
    else:
        yield from _document(part, document_prefix)


def _lines(part: Part) -> Iterator[Item]:
    with open_input(part.path) as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
            except UnicodeDecodeError:
                yield number, None, "not valid UTF-8\n" + raw.decode("utf-8", "backslashreplace")
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                yield number, None, "not valid JSON\n" + text
                continue
            except RecursionError:
                yield number, None, "nested too deeply\n" + text
                continue
            if isinstance(obj, list):  # a line holding an array of items
                for item in obj:
                    yield (number, item, json.dumps(item)) if isinstance(item, dict) else (
                        number, None, "not a JSON object\n" + json.dumps(item))
            elif isinstance(obj, dict):
                yield number, obj, text
            else:
                yield number, None, "not a JSON object\n" + text


def _document(part: Part, prefix: str) -> Iterator[Item]:
    import ijson

    done = 0
    backend = None  # ijson's fastest; its C parser stops at integers beyond 64 bits
    while True:
        with open_input(part.path) as fh:
            head = fh.peek(1)[:1] if hasattr(fh, "peek") else b""
            path = prefix or ("item" if head == b"[" else "")
            try:
                for number, (obj, deep) in enumerate(items_at(fh, path, backend), start=1):
                    if number <= done:
                        continue  # yielded before the switch to the Python parser
                    done = number
                    if deep:
                        yield number, None, "nested too deeply\n"
                    elif isinstance(obj, dict):
                        yield number, obj, ""
                    else:
                        yield number, None, "not a JSON object\n" + json.dumps(obj, default=str)
                return
            except ijson.JSONError as exc:
                if backend is None and "overflow" in str(exc):
                    backend = ijson.get_backend("python")  # reads any integer, more slowly
                    continue
                raise InputError(f"{part.path} is not valid JSON ({str(exc).splitlines()[0]}).") from exc


def items_at(fh, prefix: str, backend=None) -> Iterator[tuple[Any, bool]]:
    """``(value, too_deep)`` for each value at ijson path ``prefix`` (``""``, ``item``,
    ``messages.item``) of a JSON document, streamed.

    Built from ijson's basic events with a path of its own, so a deeply nested value costs
    memory in proportion to its depth (ijson's prefixed events are quadratic in it); a value
    nested deeper than ``MAX_NESTING`` is skipped (``too_deep``), not built.
    """
    import ijson
    from ijson.common import ObjectBuilder

    want = prefix.split(".") if prefix else []
    path: list[str | None] = []
    builder: ObjectBuilder | None = None
    depth = 0
    too_deep = False
    parse = (backend or ijson).basic_parse
    for event, value in parse(fh, use_float=True):
        if builder is not None:
            if event in ("start_map", "start_array"):
                depth += 1
                too_deep = too_deep or depth > MAX_NESTING
            elif event in ("end_map", "end_array"):
                depth -= 1
            if not too_deep:
                builder.event(event, value)
            if depth == 0:
                yield (None if too_deep else builder.value), too_deep
                builder, too_deep = None, False
            continue
        if path == want and event != "map_key" and event not in ("end_map", "end_array"):
            if event in ("start_map", "start_array"):
                builder, depth = ObjectBuilder(), 1
                builder.event(event, value)
            else:
                yield value, False
            continue
        if event == "start_map":
            path.append(None)
        elif event == "map_key":
            path[-1] = value
        elif event == "start_array":
            path.append("item")
        elif event in ("end_map", "end_array"):
            path.pop()


def split_reason(raw: str) -> tuple[str, str]:
    reason, _, text = raw.partition("\n")
    return reason, text
