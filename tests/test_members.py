"""Each account's facts, as the score and the inauthenticity cues read them."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from rallypoint.detectors.members import account_facts, member_facts
from rallypoint.schema import TIMESTAMP


def at(hour: int) -> datetime:
    return datetime(2023, 1, 1, hour, tzinfo=UTC)


RECORDS = pa.table({
    "account_id": ["a", "a", "a", "b", "b"],
    "platform": [None, "x", "y", None, None],
    "account_name": ["old", None, "new", "only", None],
    "high_profile": pa.array([None, None, None, True, None], pa.bool_()),
    "followers": pa.array([10, None, 50, None, None], pa.int64()),
    "account_created_at": pa.array([at(1), None, at(0), None, None], TIMESTAMP),
    "timestamp": pa.array([at(5), at(3), at(4), at(2), at(1)], TIMESTAMP),
    "lang": ["en", None, "pt", None, None],
})


def test_each_fact_skips_what_the_records_leave_blank_and_follows_their_order():
    facts = {row["account_id"]: row for row in account_facts(RECORDS).to_dicts()}
    a, b = facts["a"], facts["b"]
    assert (a["platform"], a["account_name"]) == ("x", "new")  # first and last given, in the records' order
    assert (a["followers"], a["account_created_at"], a["first_ts"]) == (50, at(0), at(3))
    assert a["n_actions"] == 3 and sorted(a["langs"]) == ["en", "pt"]
    assert a["high_profile"] is False  # never said: not high-profile
    assert (b["high_profile"], b["account_name"], b["followers"], b["langs"]) == (True, "only", None, [])


def test_members_get_their_accounts_facts_in_their_own_order():
    membership = pl.DataFrame({"account_id": ["b", "a", "c"], "cluster_id": [0, 0, 1]})
    members = member_facts(membership, account_facts(RECORDS))
    assert members["account_id"].to_list() == ["b", "a", "c"]
    assert members["n_actions"].to_list() == [2, 3, None]  # an account without records has no facts
