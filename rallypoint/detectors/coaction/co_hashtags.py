"""``co_hashtags``: accounts that post the same set of two or more hashtags within the window.

Target: the record's hashtags, lower-cased, de-duplicated and sorted, joined by a
space — but only sets of at least ``MIN_HASHTAGS`` tags: one common hashtag is how
a public conversation works, an identical combination of several is a script.
Authored records only. Cost: ``O(total hashtags)`` (one small sort per record).
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.detectors.coaction.shares import AUTHORING_ACTIONS, from_column, rows_with_action

TYPE = "co_hashtags"
MIN_HASHTAGS = 2


def share_events(records: pa.Table) -> pa.Table:
    """One share event per authored record with >= 2 distinct hashtags, targeting the sorted set."""
    rows = rows_with_action(records, AUTHORING_ACTIONS, "hashtags")
    # a set of two distinct tags needs two tags: the list operations below then run on the few
    # records that have them, not on every authored record
    rows = rows.filter(pc.greater_equal(pc.list_value_length(rows["hashtags"]), MIN_HASHTAGS))
    tag_sets = pl.from_arrow(rows.select(["hashtags"]).combine_chunks()).select(
        pl.col("hashtags").list.eval(pl.element().str.to_lowercase()).list.unique().list.sort()
    )
    targets = tag_sets.select(
        pl.when(pl.col("hashtags").list.len() >= MIN_HASHTAGS)
        .then(pl.col("hashtags").list.join(" "))
        .alias("target")
    )
    return from_column(rows, targets.get_column("target").to_arrow())
