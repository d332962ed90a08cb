"""co_engage: reposting, quoting, replying to or copying the same post are one way of acting on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from rallypoint.detectors.coaction import build_coaction_edges
from rallypoint.schema import RECORD_SCHEMA

T0 = datetime(2023, 1, 5, 20, tzinfo=UTC)
CALL = "Everyone to Freedom Plaza this Thursday, bring flags, we have buses from Ohio"


def records(*rows: dict) -> pa.Table:
    out = []
    for k, row in enumerate(rows):
        row = dict(row)
        row["timestamp"] = T0 + timedelta(seconds=row.pop("t"))
        out.append({"id": row.pop("id", f"r{k}"), "platform": "x", **row})
    return pa.Table.from_pylist(out, schema=RECORD_SCHEMA)


def weights(table: pa.Table, types: list[str]) -> dict[tuple[str, str], dict[str, int]]:
    result = build_coaction_edges(table, types=types, window=60, min_participation=1, null_model="none")
    return {(e["account_a"], e["account_b"]): {t["type"]: t["weight"] for t in e["types"]}
            for e in result.edges.to_pylist()}


THE_CALL = {"id": "call", "account_id": "seeder", "action": "post", "text": CALL, "t": 0}


def test_a_repost_a_quote_and_a_reply_of_one_post_all_meet():
    table = records(
        THE_CALL,
        {"account_id": "a", "action": "repost", "target_id": "call", "t": 10},
        {"account_id": "b", "action": "quote", "target_id": "call", "text": "I'll be there", "t": 20},
        {"account_id": "c", "action": "reply", "target_id": "call", "text": "Bus from Ohio is full", "t": 30},
    )
    engaged = weights(table, ["co_engage"])
    assert set(engaged) == {("a", "b"), ("a", "c"), ("b", "c")}
    # each narrower type sees only part of it: co_repost pairs the repost and the quote, co_reply nothing
    narrow = weights(table, ["co_repost", "co_reply"])
    assert set(narrow) == {("a", "b")}


def test_a_copy_of_the_post_engages_with_it_when_co_text_runs():
    table = records(
        THE_CALL,
        {"account_id": "a", "action": "repost", "target_id": "call", "t": 10},
        {"account_id": "b", "action": "post", "text": CALL + "!!", "t": 25},  # a near-copy of the call
    )
    with_text = weights(table, ["co_text", "co_engage"])
    assert with_text[("a", "b")] == {"co_engage": 1}
    # the copy and the original meet in co_text; the author did not *engage* with their own post
    assert with_text[("b", "seeder")] == {"co_text": 1}
    assert ("a", "b") not in weights(table, ["co_engage"])  # without co_text there are no copies


def test_of_two_copies_at_the_same_instant_the_smaller_id_is_the_original():
    # row order puts "z1" first; the original is still "a1", so the repost of "a1" meets the
    # copy "z1" in co_engage, and the lone repost of "z1" meets nobody
    table = records(
        {"id": "z1", "account_id": "s1", "action": "post", "text": CALL, "t": 0},
        {"id": "a1", "account_id": "s2", "action": "post", "text": CALL, "t": 0},
        {"account_id": "r", "action": "repost", "target_id": "a1", "t": 10},
        {"account_id": "q", "action": "repost", "target_id": "z1", "t": 12},
    )
    engaged = {pair for pair, by_type in weights(table, ["co_text", "co_engage"]).items() if "co_engage" in by_type}
    assert engaged == {("r", "s1")}


def test_posts_outside_the_window_or_on_other_posts_do_not_meet():
    table = records(
        THE_CALL,
        {"id": "other", "account_id": "x", "action": "post", "text": "Lovely weather today", "t": 0},
        {"account_id": "a", "action": "repost", "target_id": "call", "t": 10},
        {"account_id": "b", "action": "reply", "target_id": "call", "text": "in", "t": 200},  # 190 s later
        {"account_id": "c", "action": "quote", "target_id": "other", "text": "nice", "t": 15},
    )
    assert weights(table, ["co_engage"]) == {}


def test_the_engagement_events_handed_to_the_attachment_decode_to_every_engagement_and_copy():
    table = records(
        THE_CALL,
        {"account_id": "a", "action": "repost", "target_id": "call", "t": 10},
        {"account_id": "b", "action": "post", "text": CALL + "!!", "t": 25},  # a copy of the call
        {"account_id": "c", "action": "reply", "target_id": "other", "t": 30},
    )
    result = build_coaction_edges(table, types=["co_text", "co_engage"], window=60, min_participation=2)
    events = result.engage_events.decoded().sort("time")
    # every event, before the participation filter drops a, b and c (each acted once)
    assert events.select("target", "account_id", "id").rows() == [
        ("call", "a", "r1"), ("call", "b", "r2"), ("other", "c", "r3")]
