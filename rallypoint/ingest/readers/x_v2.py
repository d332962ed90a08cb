"""X (Twitter) API v2 tweets: response pages (``data`` + ``includes``) or one tweet per line.

Mapping (field names from the v2 Tweet object):

* ``id`` -> ``id``; ``author_id`` -> ``account_id``; ``created_at`` -> ``timestamp``;
* ``referenced_tweets``: ``retweeted`` -> ``repost``, ``quoted`` -> ``quote``,
  ``replied_to`` -> ``reply`` (in that order of precedence), its ``id`` -> ``target_id``;
  the target's author from ``includes.tweets`` (or ``in_reply_to_user_id``) ->
  ``target_account_id``; no reference -> ``post``;
* ``entities.urls[].expanded_url`` (else ``unwound_url``, else ``url``) -> ``urls``;
  ``entities.hashtags[].tag`` -> ``hashtags``; ``entities.mentions[].username``
  (lower-cased; handles are case-blind on X) -> ``mentions``;
  ``attachments.media_keys`` -> ``media``;
* the author from ``includes.users``: ``username`` -> ``account_name``,
  ``created_at``, ``public_metrics.followers_count`` -> ``followers``,
  ``verified`` -> ``high_profile``;
* every other tweet field (``conversation_id``, ``public_metrics``, ...) -> ``extra``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from rallypoint.ingest.readers import Block, Part
from rallypoint.ingest.readers.jsonitems import iter_items, split_reason
from rallypoint.ingest.readers.records import MalformedItem, RecordBuffer

PLATFORM = "x"
ACTION_OF_REFERENCE = {"retweeted": "repost", "quoted": "quote", "replied_to": "reply"}
_CONSUMED = {"id", "author_id", "created_at", "text", "referenced_tweets", "entities", "lang",
             "in_reply_to_user_id", "attachments", "edit_history_tweet_ids"}


def read_blocks(part: Part) -> Iterator[Block]:
    buffer = RecordBuffer()

    def rows():
        for line, obj, raw in iter_items(part):
            if obj is None:
                yield buffer.reject(line, *split_reason(raw))
                continue
            if "data" in obj or "includes" in obj:
                # a page's tweets are judged one by one; a page's text is not one tweet's, so a
                # rejected tweet is kept as its own JSON
                try:
                    users, tweets, data = page_parts(obj)
                except (AttributeError, TypeError):
                    yield buffer.reject(line, "wrong type inside the item", raw or None)
                    continue
                build = functools.partial(tweet_record, users=users, tweets=tweets)
                for tweet in data:
                    yield from buffer.item(line, build, tweet, None)
            else:
                yield from buffer.item(line, lambda t: tweet_record(t, {}, {}), obj, raw or None)

    yield from buffer.drain(rows())


def records_of(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Canonical records of one page or one tweet."""
    if "data" in obj or "includes" in obj:
        users, tweets, data = page_parts(obj)
        for tweet in data:
            yield tweet_record(tweet, users, tweets)
    else:
        yield tweet_record(obj, {}, {})


def page_parts(obj: dict[str, Any]) -> tuple[dict, dict, list]:
    """A page's authors and referenced tweets by id, and its tweets."""
    includes = obj.get("includes") or {}
    users = {u.get("id"): u for u in includes.get("users", []) if isinstance(u, dict)}
    tweets = {t.get("id"): t for t in includes.get("tweets", []) if isinstance(t, dict)}
    data = obj.get("data") or []
    return users, tweets, data if isinstance(data, list) else [data]


def _shape(value: Any, kind: type, name: str) -> Any:
    """``value`` if it is of ``kind`` (or missing: an empty one); else the item is malformed."""
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise MalformedItem(f"wrong type for {name}")
    return value


def tweet_record(tweet: dict[str, Any], users: dict, tweets: dict) -> dict[str, Any]:
    entities = _shape(tweet.get("entities"), dict, "entities")
    for name in ("urls", "hashtags", "mentions"):
        if not all(isinstance(e, dict) for e in _shape(entities.get(name), list, f"entities.{name}")):
            raise MalformedItem(f"wrong type for entities.{name}")
    _shape(tweet.get("referenced_tweets"), list, "referenced_tweets")
    _shape(_shape(tweet.get("attachments"), dict, "attachments").get("media_keys"), list, "attachments.media_keys")
    record: dict[str, Any] = {
        "id": tweet.get("id"),
        "platform": PLATFORM,
        "account_id": tweet.get("author_id"),
        "timestamp": tweet.get("created_at"),
        "action": "post",
        "text": tweet.get("text"),
        "lang": tweet.get("lang"),
        "urls": [u.get("expanded_url") or u.get("unwound_url") or u.get("url") for u in entities.get("urls", [])],
        "hashtags": [h.get("tag") for h in entities.get("hashtags", [])],
        "mentions": [(m.get("username") or m.get("id") or "").lower() for m in entities.get("mentions", [])],
        "media": list((tweet.get("attachments") or {}).get("media_keys", [])),
    }
    references = {r.get("type"): r.get("id") for r in tweet.get("referenced_tweets") or [] if isinstance(r, dict)}
    for kind, action in ACTION_OF_REFERENCE.items():
        if kind in references:
            target = references[kind]
            record["action"] = action
            record["target_id"] = target
            author = (tweets.get(target) or {}).get("author_id")
            if author is None and kind == "replied_to":
                author = tweet.get("in_reply_to_user_id")
            record["target_account_id"] = author
            break
    user = users.get(tweet.get("author_id"))
    if user:
        record["account_name"] = user.get("username")
        record["account_created_at"] = user.get("created_at")
        record["followers"] = (user.get("public_metrics") or {}).get("followers_count")
        record["high_profile"] = user.get("verified")
    extra = {k: v for k, v in tweet.items() if k not in _CONSUMED}
    if extra:
        record["extra"] = extra
    return record
