"""What a cluster pushed: an outsider's post counts only when the members met on it more than once.

Two members who reposted a campaign's call minutes apart met once on it, what chance gives
(the pair test never counts one meeting); the call is the campaign's evidence, not theirs.
Their cluster, held together by other posts, must not score the call's escalation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa

from rallypoint.detectors.evidence import coaction_evidence
from rallypoint.detectors.mobilization.clusters import coordinated_texts

T0 = datetime(2023, 1, 4, 12, tzinfo=UTC)
CALL = "Todos a Brasília dia 7, invadir a Praça dos Três Poderes, daqui ninguém sai"


def _records(rows: list[tuple[str, str, str, str | None, str | None, int]]) -> pa.Table:
    """(id, account, action, target_id, text, minutes after T0) -> the record columns the stage reads."""
    return pa.Table.from_pylist([
        {"id": i, "account_id": a, "timestamp": T0 + timedelta(minutes=m), "text": text, "lang": "pt",
         "urls": [], "action": action, "target_id": target}
        for i, a, action, target, text, m in rows
    ])


def _evidence(records: pa.Table, membership: pl.DataFrame) -> pl.DataFrame:
    shares = pl.from_arrow(records).filter(pl.col("action") != "post").select(
        type=pl.lit("co_engage"), target="target_id", account_id="account_id", id="id", timestamp="timestamp")
    return coaction_evidence(shares, membership, {"co_engage": 900.0})


def _pushed(records: pa.Table, membership: pl.DataFrame | None, evidence: pl.DataFrame) -> set[str]:
    return set(coordinated_texts(records, evidence, membership)["id"].to_list())


def test_an_outsiders_post_two_members_met_on_once_is_not_the_clusters():
    membership = pl.DataFrame({"account_id": ["a", "b", "c", "d"], "cluster_id": [1, 1, 1, 1]})
    records = _records([
        ("call", "z", "post", None, CALL, 0),                 # the campaign's call, by an outsider
        ("r1", "a", "repost", "call", None, 90),              # two members, minutes apart: one meeting
        ("r2", "b", "repost", "call", None, 93),
        ("call2", "z", "post", None, CALL + " 2", 0),        # three members on it: met three times
        ("s1", "a", "repost", "call2", None, 10),
        ("s2", "b", "repost", "call2", None, 12),
        ("s3", "c", "repost", "call2", None, 14),
        ("own", "c", "post", None, "feliz aniversário prima", 0),  # a member's own post
        ("o1", "d", "repost", "own", None, 3),
        ("o2", "a", "repost", "own", None, 5),
    ])
    evidence = _evidence(records, membership)
    assert set(evidence.filter(pl.col("target") == "call")["account_id"]) == {"a", "b"}  # the meeting is evidence
    pushed = _pushed(records, membership, evidence)
    assert "call" not in pushed
    assert {"call2", "own"} <= pushed
    # without the membership the co-acting accounts stand in for it: the same here
    assert _pushed(records, None, evidence) == pushed


def test_a_members_own_call_counts_however_few_answered_it():
    membership = pl.DataFrame({"account_id": ["s", "a", "b"], "cluster_id": [2, 2, 2]})
    records = _records([
        ("call", "s", "post", None, CALL, 0),                 # the seeder's call, answered by two
        ("r1", "a", "repost", "call", None, 2),
        ("r2", "b", "reply", "call", "conta comigo, dia 7 estarei lá", 4),
    ])
    pushed = _pushed(records, membership, _evidence(records, membership))
    assert {"call", "r2"} <= pushed


def test_a_members_reply_under_an_outsiders_post_is_still_read():
    membership = pl.DataFrame({"account_id": ["a", "b", "c"], "cluster_id": [3, 3, 3]})
    records = _records([
        ("call", "z", "post", None, CALL, 0),
        ("q1", "a", "reply", "call", "vamos todos, levem a família, daqui ninguém sai", 30),
        ("q2", "b", "repost", "call", None, 33),
    ])
    texts = coordinated_texts(records, _evidence(records, membership), membership)
    assert texts["id"].to_list() == ["q1"] and texts["thread"].to_list() == ["call"]
