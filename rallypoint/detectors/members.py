"""Each member's facts: platform, name, followers, creation date, first action, languages.

What it computes
    For every account of a cluster, from all its actions in the run's range: the platform,
    the latest name, whether the platform calls it high-profile, the most followers seen,
    the earliest creation date, the number of actions, the first action's time and the
    languages it wrote in. The score reads new accounts from it and lists high-profile
    members (never weighting them); the inauthenticity cues read creation dates and counts.

Complexity
    One group-by over the records (Arrow's, on one thread), then one join per member: O(R).
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

#: The record columns ``account_facts`` reads.
ACCOUNT_FACT_COLUMNS = ["account_id", "platform", "account_name", "high_profile", "followers",
                        "account_created_at", "timestamp", "lang"]


def account_facts(records: pa.Table) -> pl.DataFrame:
    """Per account of ``records``: platform, name, high_profile, followers, created_at,
    n_actions, first_ts, langs (``ACCOUNT_FACT_COLUMNS`` read).

    Every account's, not only the members': it needs no communities, so ``detect`` computes
    it while they are found, and a member's facts are then one join (:func:`member_facts`).
    Grouped by Arrow on the records as they are: in polars the strings of every record would
    first be copied, gigabytes at scale; on one thread, as the first and last values of a
    group are those of the records' order.
    """
    columns = records.select([c for c in ACCOUNT_FACT_COLUMNS if c in records.column_names])
    grouped = columns.group_by("account_id", use_threads=False).aggregate([
        ("platform", "first"),
        ("account_name", "last"),
        # an account whose records never say is not high-profile (``any`` of no values is null)
        ("high_profile", "any", pc.ScalarAggregateOptions(min_count=0)),
        ("followers", "max"),
        ("account_created_at", "min"),
        ("account_id", "count", pc.CountOptions(mode="all")),
        ("timestamp", "min"),
        ("lang", "distinct", pc.CountOptions(mode="only_valid")),
    ])
    return pl.from_arrow(grouped).select(
        "account_id", platform="platform_first", account_name="account_name_last", high_profile="high_profile_any",
        followers="followers_max", account_created_at="account_created_at_min",
        n_actions=pl.col("account_id_count").cast(pl.Int64), first_ts="timestamp_min", langs="lang_distinct",
    )


def member_facts(membership: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
    """Per member (``membership``'s rows, in order): its :func:`account_facts`."""
    return membership.join(facts, on="account_id", how="left")


__all__ = ["ACCOUNT_FACT_COLUMNS", "account_facts", "member_facts"]
