"""X (Twitter) API v1.1 statuses, one per line (or a JSON array of them).

Mapping (field names from the v1.1 Tweet object):

* ``id_str`` (else ``id``) -> ``id``; ``user.id_str`` -> ``account_id``;
  ``created_at`` (``Wed Oct 10 20:19:24 +0000 2018``) -> ``timestamp``;
* ``retweeted_status`` -> ``repost`` of its ``id_str`` by its ``user.id_str``;
  else ``quoted_status_id_str`` (with ``is_quote_status``) -> ``quote``;
  else ``in_reply_to_status_id_str`` -> ``reply`` to ``in_reply_to_user_id_str``;
  else ``post``;
* text from ``extended_tweet.full_text``, ``full_text`` or ``text``; entities from
  ``extended_tweet.entities`` when present: ``urls[].expanded_url`` -> ``urls``,
  ``hashtags[].text`` -> ``hashtags``, ``user_mentions[].screen_name`` (lower-cased)
  -> ``mentions``; ``extended_entities.media[].id_str`` -> ``media``;
* ``user.screen_name``, ``user.created_at``, ``user.followers_count``,
  ``user.verified`` -> account fields; ``retweet_count``, ``source``, ... -> ``extra``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rallypoint.ingest.readers import Block, Part
from rallypoint.ingest.readers.jsonitems import iter_items, split_reason
from rallypoint.ingest.readers.records import MalformedItem, RecordBuffer

PLATFORM = "x"
_EXTRA_KEYS = ("retweet_count", "favorite_count", "reply_count", "quote_count", "source",
               "possibly_sensitive", "place", "coordinates")


def read_blocks(part: Part) -> Iterator[Block]:
    buffer = RecordBuffer()

    def rows():
        for line, obj, raw in iter_items(part):
            if obj is None:
                yield buffer.reject(line, *split_reason(raw))
                continue
            yield from buffer.item(line, status_record, obj, raw or None)

    yield from buffer.drain(rows())


def _id(obj: dict[str, Any] | None, key: str = "id") -> str | None:
    if not obj:
        return None
    value = obj.get(f"{key}_str") or obj.get(key)
    return None if value is None else str(value)


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedItem(f"wrong type for {name}")
    return value


def status_record(status: dict[str, Any]) -> dict[str, Any]:
    user = _object(status.get("user"), "user")
    extended = status.get("extended_tweet") or {}
    entities = extended.get("entities") or status.get("entities") or {}
    media = (status.get("extended_entities") or extended.get("extended_entities") or {}).get("media", [])
    record: dict[str, Any] = {
        "id": _id(status),
        "platform": PLATFORM,
        "account_id": _id(user),
        "timestamp": status.get("created_at"),
        "action": "post",
        "text": extended.get("full_text") or status.get("full_text") or status.get("text"),
        "lang": status.get("lang"),
        "urls": [u.get("expanded_url") or u.get("url") for u in entities.get("urls", [])],
        "hashtags": [h.get("text") for h in entities.get("hashtags", [])],
        "mentions": [(m.get("screen_name") or _id(m) or "").lower() for m in entities.get("user_mentions", [])],
        "media": [_id(m) for m in media],
        "account_name": user.get("screen_name"),
        "account_created_at": user.get("created_at"),
        "followers": user.get("followers_count"),
        "high_profile": user.get("verified"),
    }
    retweeted = status.get("retweeted_status")
    quoted_id = status.get("quoted_status_id_str") or (
        str(status["quoted_status_id"]) if status.get("quoted_status_id") is not None else None)
    reply_to = _id(status, "in_reply_to_status_id")
    if isinstance(retweeted, dict):
        record.update(action="repost", target_id=_id(retweeted), target_account_id=_id(retweeted.get("user")))
    elif quoted_id or isinstance(status.get("quoted_status"), dict):
        quoted = status.get("quoted_status") or {}
        record.update(action="quote", target_id=quoted_id or _id(quoted), target_account_id=_id(quoted.get("user")))
    elif reply_to:
        record.update(action="reply", target_id=reply_to, target_account_id=_id(status, "in_reply_to_user_id"))
    extra = {k: status[k] for k in _EXTRA_KEYS if status.get(k) is not None}
    if extra:
        record["extra"] = extra
    return record
