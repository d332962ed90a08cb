"""Each member's facts: platform, name, followers, creation date, first action, languages.

What it computes
    For every account of a cluster, from all its actions in the run's range: the platform,
    the latest name, whether the platform calls it high-profile, the most followers seen,
    the earliest creation date, the number of actions, the first action's time and the
    languages it wrote in. The score reads new accounts from it and lists high-profile
    members (never weighting them); the inauthenticity cues read creation dates and counts.

Complexity
    One ``is_in`` filter over the records and one group-by over the members' records: O(R).
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

#: The record columns ``account_facts`` reads.
ACCOUNT_FACT_COLUMNS = ["account_id", "platform", "account_name", "high_profile", "followers",
                        "account_created_at", "timestamp", "lang"]


def member_records(records: pa.Table, membership: pl.DataFrame) -> pl.DataFrame:
    """The records of cluster members (all their actions in range), the columns
    ``account_facts`` reads only (at scale members hold most records, and every column
    of them would be a copy of gigabytes)."""
    import pyarrow.compute as pc

    members = pa.array(membership["account_id"].to_list(), pa.string())
    columns = records.select([c for c in ACCOUNT_FACT_COLUMNS if c in records.column_names])
    mine = columns.filter(pc.is_in(columns.column("account_id"), value_set=members))
    return pl.from_arrow(mine)


def account_facts(member_records: pl.DataFrame, membership: pl.DataFrame) -> pl.DataFrame:
    """Per member: platform, name, high_profile, followers, created_at, n_actions, first_ts, langs."""
    facts = member_records.group_by("account_id").agg(
        platform=pl.col("platform").drop_nulls().first(),
        account_name=pl.col("account_name").drop_nulls().last(),
        high_profile=pl.col("high_profile").drop_nulls().any(),
        followers=pl.col("followers").drop_nulls().max(),
        account_created_at=pl.col("account_created_at").drop_nulls().min(),
        n_actions=pl.len().cast(pl.Int64),
        first_ts=pl.col("timestamp").min(),
        langs=pl.col("lang").drop_nulls().unique(),
    )
    return membership.join(facts, on="account_id", how="left")


__all__ = ["ACCOUNT_FACT_COLUMNS", "account_facts", "member_records"]
