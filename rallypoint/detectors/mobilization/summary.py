"""Summarize the text signals of a group of posts (a cluster) into the ``mobilization`` struct.

One job: from per-text signals (:func:`~.detect.detect_text_signals`) compute what
``rallypoint.schema.MOBILIZATION_STRUCT`` holds:

* ``n_texts`` and the share of texts with each signal (call to action, logistics,
  escalation, delegitimization, code word);
* ``n_threads``: the posts those texts belong to (a ``thread`` column: a reply or a
  quote belongs to the post it answers), or ``n_texts`` without that column;
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

TOP_PAIRS = 10
_SHARES = {
    "call_to_action_share": "call_to_action",
    "logistics_share": "logistics",
    "escalation_share": "escalation",
    "delegitimization_share": "delegitimization",
    "code_word_share": "code_word",
}


def _ranked(frame: pl.DataFrame, column: str) -> list[str]:
    values = frame.select(pl.col(column).explode().drop_nulls().alias("v"))
    if values.height == 0:
        return []
    counts = values.group_by("v").len().sort(["len", "v"], descending=[True, False])
    return counts["v"].to_list()


def summarize_signals(signals: pa.Table | pl.DataFrame) -> dict[str, Any]:
    """The ``mobilization`` struct (a dict) for the texts in ``signals``."""
    frame = signals if isinstance(signals, pl.DataFrame) else pl.from_arrow(signals)
    assert isinstance(frame, pl.DataFrame)
    missing = [f.name for f in SIGNALS_SCHEMA if f.name in ("dates", "places", *_SHARES.values()) and f.name not in frame.columns]
    if missing:
        from .detect import SignalInputError

        raise SignalInputError(f"summarize_signals needs the output of detect_text_signals; missing {', '.join(missing)}.")
    n = frame.height
    summary: dict[str, Any] = {"n_texts": n,
                               "n_threads": frame["thread"].n_unique() if "thread" in frame.columns else n}
    for share, flag in _SHARES.items():
        summary[share] = float(frame[flag].fill_null(False).mean()) if n else 0.0
    summary["dates"] = _ranked(frame, "dates")
    summary["places"] = _ranked(frame, "places")
    calling = frame.filter(pl.col("call_to_action") | pl.col("code_word")).select(
        pl.when(pl.col("dates").list.len() > 0).then("dates").otherwise(pl.lit([None], pl.List(pl.String))).alias("date"),
        pl.when(pl.col("places").list.len() > 0).then("places").otherwise(pl.lit([None], pl.List(pl.String))).alias("place"),
    )
    pairs = (
        calling.explode("date")
        .explode("place")
        .filter(pl.col("date").is_not_null() | pl.col("place").is_not_null())
        .group_by("date", "place")
        .len()
        .rename({"len": "count"})
        .sort(["count", "date", "place"], descending=[True, False, False], nulls_last=True)
        .head(TOP_PAIRS)
    )
    summary["top_date_places"] = pairs.to_dicts()
    return summary
