"""Columnar batches of simulated actions, and their conversion to canonical records.

Every generator in :mod:`rallypoint.simulate` yields :class:`Batch` objects: numpy
arrays of record numbers, account indices, times and action codes, plus optional
text and list columns. Nothing is a Python object per record until the very end,
where :func:`batch_frame` builds one polars frame per batch whose columns are the
canonical record (``rallypoint.schema.RECORD_SCHEMA``) in JSON-ready form.

Record numbers come from one :class:`IdSpace` per world, handed out in generation
order from a range of the seed's own, so a seed always gives the same ids and two seeds
never share one. The visible ``id`` is a bijective
scramble of the number (multiplication by an odd constant modulo 2**62), so ids
look like platform ids and reveal nothing about which generator made them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from rallypoint.schema import ACTIONS, RECORD_SCHEMA

POST, REPOST, REPLY, QUOTE, REACTION = (ACTIONS.index(a) for a in ("post", "repost", "reply", "quote", "reaction"))
NO_TARGET = 0  # record numbers start at 1

_ID_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplication is a bijection mod 2**62
_ID_MASK = np.uint64((1 << 62) - 1)
_ID_OFFSET = np.uint64(10**17)  # keep every id at 18-19 digits, like platform ids

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


#: Record numbers each seed may use; seeds take disjoint ranges of the 62-bit id space
#: (seeds beyond ``SEED_ID_RANGES`` wrap around).
IDS_PER_SEED = 1 << 40
SEED_ID_RANGES = 1 << 21


class IdSpace:
    """Hands out consecutive record numbers from ``first``; generation order makes them deterministic."""

    def __init__(self, first: int = 1) -> None:
        self.next_number = first

    def take(self, n: int) -> np.ndarray:
        numbers = np.arange(self.next_number, self.next_number + n, dtype=np.uint64)
        self.next_number += n
        return numbers


def record_ids(numbers: np.ndarray) -> pl.Series:
    """The visible id strings of record numbers (0, meaning "none", becomes null)."""
    numbers = np.asarray(numbers, dtype=np.uint64)
    with np.errstate(over="ignore"):
        scrambled = ((numbers * _ID_MULTIPLIER) & _ID_MASK) + _ID_OFFSET
    ids = pl.Series(scrambled).cast(pl.String)
    return pl.select(pl.when(pl.Series(numbers) == 0).then(None).otherwise(ids)).to_series()


@dataclass
class Batch:
    """A bounded batch of actions of one generator.

    ``text``, ``lang``, ``channel_id`` are sequences (list or polars Series) with
    None where absent; ``urls``, ``hashtags``, ``mentions``, ``media`` are sequences
    of lists or None. ``lang`` defaults to each account's language.
    """

    number: np.ndarray  # uint64 record numbers
    account: np.ndarray  # int64 index into the account table
    ts: np.ndarray  # int64 epoch seconds
    action: np.ndarray  # int8 index into schema.ACTIONS
    target: np.ndarray | None = None  # uint64 record number of the target, NO_TARGET if none
    target_account: np.ndarray | None = None  # int64 account index, -1 if none
    text: object = None
    urls: object = None
    hashtags: object = None
    mentions: object = None
    media: object = None
    channel_id: object = None
    lang: object = None

    def __len__(self) -> int:
        return len(self.number)


def _string_column(values, n: int) -> pl.Series:
    if values is None:
        return pl.Series([None] * n, dtype=pl.String)
    if isinstance(values, pl.Series):
        return values.cast(pl.String)
    return pl.Series(list(values), dtype=pl.String)


def _list_column(values, n: int) -> pl.Series:
    if values is None:
        return pl.Series([None] * n, dtype=pl.List(pl.String))
    if isinstance(values, pl.Series):
        return values.cast(pl.List(pl.String))
    return pl.Series(list(values), dtype=pl.List(pl.String))


def batch_frame(batch: Batch, accounts) -> pl.DataFrame:
    """The batch as canonical records, JSON-ready (times as ISO 8601 strings with Z).

    ``accounts`` is the world's :class:`rallypoint.simulate.accounts.AccountTable`.
    Columns come out in RECORD_SCHEMA order; absent values are null.
    """
    n = len(batch)
    who = pl.Series(np.asarray(batch.account, dtype=np.int64))
    target = batch.target if batch.target is not None else np.zeros(n, dtype=np.uint64)
    if batch.target_account is not None:
        target_account = np.asarray(batch.target_account, dtype=np.int64)
        has_target_account = target_account >= 0
        target_account_ids = accounts.ids.gather(pl.Series(np.where(has_target_account, target_account, 0)))
        target_account_ids = pl.select(
            pl.when(pl.Series(has_target_account)).then(target_account_ids).otherwise(None)
        ).to_series()
    else:
        target_account_ids = pl.Series([None] * n, dtype=pl.String)
    lang = accounts.lang.gather(who) if batch.lang is None else _string_column(batch.lang, n)
    timestamps = pl.from_epoch(pl.Series(np.asarray(batch.ts, dtype=np.int64)), time_unit="s")
    columns = {
        "id": record_ids(batch.number),
        "platform": accounts.platform.gather(who),
        "account_id": accounts.ids.gather(who),
        "timestamp": timestamps.dt.strftime(TIME_FORMAT),
        "action": pl.Series(np.asarray(ACTIONS, dtype=object)[np.asarray(batch.action)], dtype=pl.String),
        "target_id": record_ids(target),
        "target_account_id": target_account_ids,
        "text": _string_column(batch.text, n),
        "urls": _list_column(batch.urls, n),
        "hashtags": _list_column(batch.hashtags, n),
        "mentions": _list_column(batch.mentions, n),
        "media": _list_column(batch.media, n),
        "channel_id": _string_column(batch.channel_id, n),
        "lang": lang,
        "account_name": accounts.names.gather(who),
        "account_created_at": accounts.created_at_iso.gather(who),
        "followers": accounts.followers.gather(who),
        "high_profile": accounts.high_profile.gather(who),
    }
    frame = pl.DataFrame({name: col.alias(name) for name, col in columns.items()})
    assert frame.columns == RECORD_SCHEMA.names
    return frame


def split_batch(batch: Batch, max_rows: int):
    """Yield slices of ``batch`` of at most ``max_rows`` rows (bounded memory downstream)."""
    n = len(batch)
    if n <= max_rows:
        yield batch
        return
    for start in range(0, n, max_rows):
        part = slice(start, start + max_rows)
        yield Batch(**{name: _slice(getattr(batch, name), part) for name in _FIELDS})


_FIELDS = ("number", "account", "ts", "action", "target", "target_account", "text", "urls", "hashtags",
           "mentions", "media", "channel_id", "lang")


def _slice(values, part: slice):
    if values is None:
        return None
    return values[part]


def concat_batches(batches: list[Batch]) -> Batch:
    """One batch of several (generators build a batch from parts per action)."""
    batches = [b for b in batches if len(b)]
    if not batches:
        return empty_batch()
    sizes = [len(b) for b in batches]
    joined: dict = {}
    for name in ("number", "account", "ts", "action"):
        joined[name] = np.concatenate([getattr(b, name) for b in batches])
    joined["target"] = np.concatenate([
        b.target if b.target is not None else np.zeros(k, np.uint64) for b, k in zip(batches, sizes, strict=True)
    ]).astype(np.uint64)
    joined["target_account"] = np.concatenate([
        b.target_account if b.target_account is not None else np.full(k, -1, np.int64)
        for b, k in zip(batches, sizes, strict=True)
    ]).astype(np.int64)
    for name in ("text", "channel_id", "lang"):
        parts = [getattr(b, name) for b in batches]
        if all(p is None for p in parts):
            joined[name] = None
            continue
        if name == "lang" and any(p is None for p in parts):
            raise ValueError("concat_batches: give lang for every part or for none")
        joined[name] = pl.concat([_string_column(p, k) for p, k in zip(parts, sizes, strict=True)])
    for name in ("urls", "hashtags", "mentions", "media"):
        parts = [getattr(b, name) for b in batches]
        joined[name] = None if all(p is None for p in parts) else pl.concat(
            [_list_column(p, k) for p, k in zip(parts, sizes, strict=True)])
    return Batch(**joined)


def empty_batch() -> Batch:
    return Batch(
        number=np.zeros(0, np.uint64), account=np.zeros(0, np.int64),
        ts=np.zeros(0, np.int64), action=np.zeros(0, np.int8),
    )
