"""Telegram Desktop's chat export ``result.json`` (one channel or group).

The export is one object: ``name``, ``type``, ``id`` of the chat, and ``messages``
(streamed with ijson; service messages such as joins and pins are skipped, they are
not actions). For each ``"type": "message"``:

* ``id`` -> ``CHAT_ID/MESSAGE_ID`` (message ids are only unique inside a chat);
  ``channel_id`` the chat id; ``account_id`` from ``from_id`` (``user123``,
  ``channel456``), else the chat's own id (posts of a channel); ``from`` -> ``account_name``;
* ``date_unixtime`` (UTC) -> ``timestamp``; ``date`` (the exporting computer's local
  time, no zone) only when the former is missing;
* ``forwarded_from`` -> ``repost``. The export names the origin but not its message
  id, so the target is the origin's ``forwarded_from_id`` (when the export has it)
  or name, plus a hash of the forwarded text: two chats forwarding the same post get
  the same ``target_id``; ``target_account_id`` is the origin;
* ``reply_to_message_id`` -> ``reply`` to ``CHAT_ID/REPLY_ID``;
* ``text``, a string or a list of strings and entity objects (``text_entities`` in
  newer exports): plain text joined; ``link`` and ``text_link.href`` -> ``urls``,
  ``hashtag`` -> ``hashtags``, ``mention`` / ``mention_name`` -> ``mentions``;
* ``photo``, ``file``, ``media_type``, ``edited``, ``reactions``, ... -> ``extra``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from rallypoint.errors import InputError
from rallypoint.ingest.formats import open_input
from rallypoint.ingest.readers import Block, Part
from rallypoint.ingest.readers.jsonitems import iter_items
from rallypoint.ingest.readers.records import MalformedItem, RecordBuffer

PLATFORM = "telegram"
_CONSUMED = {"id", "type", "date", "date_unixtime", "from", "from_id", "forwarded_from", "forwarded_from_id",
             "reply_to_message_id", "text", "text_entities"}


def read_blocks(part: Part) -> Iterator[Block]:
    chat = chat_header(part)
    chat_id = str(chat.get("id", "")) or part.path.stem
    buffer = RecordBuffer()

    def rows():
        for number, obj, raw in iter_items(part, document_prefix="messages.item", document=True):
            if obj is None:
                yield buffer.reject(number, raw.partition("\n")[0], raw.partition("\n")[2])
                continue
            if obj.get("type", "message") != "message":
                continue
            yield from buffer.item(number, lambda m: message_record(m, chat_id, chat), obj, None)

    yield from buffer.drain(rows())


def chat_header(part: Part) -> dict[str, Any]:
    """The chat's top-level scalars (``id``, ``name``, ``type``), read before ``messages``."""
    import ijson

    header: dict[str, Any] = {}
    depth, key = 0, None
    with open_input(part.path) as fh:
        try:  # basic events and a depth count: prefixed events are quadratic in a value's depth
            for event, value in ijson.basic_parse(fh):
                if event in ("start_map", "start_array"):
                    depth += 1
                elif event in ("end_map", "end_array"):
                    depth -= 1
                elif event == "map_key" and depth == 1:
                    key = value
                    if key == "messages":
                        break
                elif depth == 1 and key and event in ("string", "number", "boolean"):
                    header[key] = value
        except ijson.JSONError as exc:
            raise InputError(f"{part.path} is not valid JSON ({exc}).") from exc
    if "chats" in header or not header:
        raise InputError(f"{part.path} is not a single-chat Telegram export (export one channel or group).")
    return header


def message_record(msg: dict[str, Any], chat_id: str, chat: dict[str, Any]) -> dict[str, Any]:
    parts = msg.get("text_entities") if isinstance(msg.get("text_entities"), list) else msg.get("text")
    text, urls, hashtags, mentions = _text_and_entities(parts)
    account = msg.get("from_id") or f"chat{chat_id}"
    record: dict[str, Any] = {
        "id": f"{chat_id}/{msg.get('id')}" if msg.get("id") is not None else None,
        "platform": PLATFORM,
        "account_id": str(account),
        "timestamp": msg.get("date_unixtime") or msg.get("date"),
        "action": "post",
        "text": text,
        "urls": urls,
        "hashtags": hashtags,
        "mentions": mentions,
        "channel_id": chat_id,
        "account_name": msg.get("from") or chat.get("name"),
    }
    origin = msg.get("forwarded_from_id") or msg.get("forwarded_from")
    if origin:
        digest = hashlib.sha1(f"{origin}\n{text}".encode()).hexdigest()[:20]
        record.update(action="repost", target_id=f"fwd:{origin}:{digest}", target_account_id=str(origin))
    elif msg.get("reply_to_message_id") is not None:
        record.update(action="reply", target_id=f"{chat_id}/{msg['reply_to_message_id']}")
    extra = {k: v for k, v in msg.items() if k not in _CONSUMED}
    extra["chat_type"] = chat.get("type")
    record["extra"] = extra
    return record


def _text_and_entities(parts: Any) -> tuple[str, list[str], list[str], list[str]]:
    if parts is None:
        return "", [], [], []
    if isinstance(parts, str):
        return parts, [], [], []
    if not isinstance(parts, list):
        raise MalformedItem("wrong type for text")
    pieces: list[str] = []
    urls: list[str] = []
    hashtags: list[str] = []
    mentions: list[str] = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
            continue
        if not isinstance(part, dict):
            continue
        kind, value = part.get("type"), part.get("text", "")
        if not isinstance(value, str):
            raise MalformedItem("wrong type for a text entity's text")
        pieces.append(value)
        if kind == "link":
            urls.append(value)
        elif kind == "text_link" and part.get("href"):
            urls.append(part["href"])
        elif kind == "hashtag":
            hashtags.append(value)
        elif kind == "mention":
            mentions.append(value)
        elif kind == "mention_name":
            mentions.append(str(part.get("user_id", value)))
    return "".join(pieces), urls, hashtags, mentions
