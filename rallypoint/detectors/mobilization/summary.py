"""Summarize the text signals of a group of posts (a cluster) into the ``mobilization`` struct.

One job: from per-text signals (:func:`~.detect.detect_text_signals`) compute what
``rallypoint.schema.MOBILIZATION_STRUCT`` holds:

* ``n_texts`` and the share of texts with each signal (call to action, logistics,
  escalation, delegitimization, code word);
* ``n_threads``: the posts those texts belong to (a ``thread`` column: a reply or a
  quote belongs to the post it answers), or ``n_texts`` without that column;
* ``answered_calls``: the dated invitations a pledge of the group answered
  (:mod:`.pledges`; counted among the calls to action);
* ``dates`` and ``places``: every date and place the texts name, most often named first;
* ``top_date_places``: how many texts that *call people out* (call to action or code
  word) name each (date, place) pair — the "where and when" of a mobilization. A text
  naming dates but no place counts for (date, null), and a place without a date for
  (null, place). At most :data:`TOP_PAIRS` pairs, most frequent first.

Cost: O(texts + dates x places per text), columnar (polars).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from .detect import SIGNALS_SCHEMA
from .pledges import answered_calls

TOP_PAIRS = 10
_SHARES = {
    "call_to_action_share": "call_to_action",
    "logistics_share": "logistics",
    "escalation_share": "escalation",
    "delegitimization_share": "delegitimization",
    "code_word_share": "code_word",
}


#: the ``mobilization`` struct's fields, in ``MOBILIZATION_STRUCT``'s order
FIELDS = ("n_texts", "n_threads", *_SHARES, "answered_calls", "dates", "places", "top_date_places")


def summarize_signals(signals: pa.Table | pl.DataFrame) -> dict[str, Any]:
    """The ``mobilization`` struct (a dict) for the texts in ``signals``."""
    frame = signals if isinstance(signals, pl.DataFrame) else pl.from_arrow(signals)
    assert isinstance(frame, pl.DataFrame)
    summary = summarize_by(frame.with_columns(_all=pl.lit(0)), "_all")
    if summary.height == 0:
        return {"n_texts": 0, "n_threads": 0, **dict.fromkeys(_SHARES, 0.0), "answered_calls": 0,
                "dates": [], "places": [], "top_date_places": []}
    return {name: summary[name][0] if name in ("n_texts", "n_threads", *_SHARES, "answered_calls") else summary[name].to_list()[0]
            for name in FIELDS}


def summarize_by(signals: pl.DataFrame, by: str) -> pl.DataFrame:
    """``summarize_signals`` for every value of ``by`` at once: one row per value, a column per field.

    Every field is a grouped polars expression over all groups together, so a run with
    25,000 clusters costs a few passes over its texts, not 25,000 small frames.
    """
    missing = [f.name for f in SIGNALS_SCHEMA if f.name in ("dates", "places", *_SHARES.values())
               and f.name not in signals.columns]
    if missing:
        from .detect import SignalInputError

        raise SignalInputError(f"summarize_signals needs the output of detect_text_signals; missing {', '.join(missing)}.")
    if "thread" in signals.columns and "answered_call" not in signals.columns and "pledge" in signals.columns:
        signals = answered_calls(signals, by)
    answered = pl.col("answered_call").sum() if "answered_call" in signals.columns else pl.lit(0)
    threads = pl.col("thread").n_unique() if "thread" in signals.columns else pl.len()
    summary = signals.group_by(by, maintain_order=True).agg(
        n_texts=pl.len().cast(pl.Int64),
        n_threads=threads.cast(pl.Int64),
        **{share: pl.col(flag).fill_null(False).mean().cast(pl.Float64) for share, flag in _SHARES.items()},
        answered_calls=answered.cast(pl.Int64),
    )
    for column in ("dates", "places"):
        summary = summary.join(_ranked(signals, by, column), on=by, how="left", maintain_order="left")
    summary = summary.join(_top_date_places(signals, by), on=by, how="left", maintain_order="left")
    return summary.with_columns(pl.col("dates", "places", "top_date_places").fill_null([]))


def _ranked(frame: pl.DataFrame, by: str, column: str) -> pl.DataFrame:
    """Per ``by``: every value the lists of ``column`` hold, most often named first (then by value)."""
    values = frame.select(by, pl.col(column).alias("v")).explode("v").drop_nulls("v")
    counts = values.group_by(by, "v").len().sort([by, "len", "v"], descending=[False, True, False])
    return counts.group_by(by, maintain_order=True).agg(pl.col("v").alias(column))


def _top_date_places(frame: pl.DataFrame, by: str) -> pl.DataFrame:
    """Per ``by``: the (date, place) pairs the calling texts name, most frequent first, at most TOP_PAIRS."""
    calling = frame.filter(pl.col("call_to_action") | pl.col("code_word")).select(
        by,
        pl.when(pl.col("dates").list.len() > 0).then("dates").otherwise(pl.lit([None], pl.List(pl.String))).alias("date"),
        pl.when(pl.col("places").list.len() > 0).then("places").otherwise(pl.lit([None], pl.List(pl.String))).alias("place"),
    )
    return (
        calling.explode("date")
        .explode("place")
        .filter(pl.col("date").is_not_null() | pl.col("place").is_not_null())
        .group_by(by, "date", "place")
        .agg(count=pl.len().cast(pl.Int64))
        .sort([by, "count", "date", "place"], descending=[False, True, False, False], nulls_last=True)
        .group_by(by, maintain_order=True)
        .agg(top_date_places=pl.struct("date", "place", "count").head(TOP_PAIRS))
    )
