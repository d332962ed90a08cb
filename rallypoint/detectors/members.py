"""Each member's facts: platform, name, followers, creation date, first action, languages.

What it computes
    For every account of a cluster, from all its actions in the run's range: the platform,
    the latest name, whether the platform calls it high-profile, the most followers seen,
    the earliest creation date, the number of actions, the first action's time and the
    languages it wrote in. The score reads new accounts from it and lists high-profile
    members (never weighting them); the inauthenticity cues read creation dates and counts.

Complexity
    One group-by over the records, then one join per member: O(R).
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

#: The record columns ``account_facts`` reads.
ACCOUNT_FACT_COLUMNS = ["account_id", "platform", "account_name", "high_profile", "followers",
                        "account_created_at", "timestamp", "lang"]


def account_facts(records: pa.Table) -> pl.DataFrame:
    """Per account of ``records``: platform, name, high_profile, followers, created_at,
    n_actions, first_ts, langs (``ACCOUNT_FACT_COLUMNS`` read).

    Every account's, not only the members': it needs no communities, so ``detect`` computes
    it while they are found, and a member's facts are then one join (:func:`member_facts`).
    """
    columns = pl.from_arrow(records.select([c for c in ACCOUNT_FACT_COLUMNS if c in records.column_names]))
    return columns.group_by("account_id").agg(
        platform=pl.col("platform").drop_nulls().first(),
        account_name=pl.col("account_name").drop_nulls().last(),
        high_profile=pl.col("high_profile").drop_nulls().any(),
        followers=pl.col("followers").drop_nulls().max(),
        account_created_at=pl.col("account_created_at").drop_nulls().min(),
        n_actions=pl.len().cast(pl.Int64),
        first_ts=pl.col("timestamp").min(),
        langs=pl.col("lang").drop_nulls().unique(),
    )


def member_facts(membership: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
    """Per member (``membership``'s rows, in order): its :func:`account_facts`."""
    return membership.join(facts, on="account_id", how="left")


__all__ = ["ACCOUNT_FACT_COLUMNS", "account_facts", "member_facts"]
