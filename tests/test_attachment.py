"""Attachment: an account joins a cluster it co-engaged with as a whole on several posts.

A small network answering its own calls leaves members whose every pair meets only
twice — not enough for the pair test — but who met the network on each of its posts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from rallypoint.detectors.attachment import (
    attach_accounts,
    benjamini_hochberg,
    engagement_events,
    merge_meetings,
    prepare_engagements,
)
from rallypoint.detectors.coaction import ACTION_ORDER, build_coaction_edges
from rallypoint.detectors.communities import find_communities
from rallypoint.schema import TIMESTAMP

T0 = datetime(2023, 1, 2, 12, 0, tzinfo=UTC)
CORE = ["core1", "core2", "core3"]


def _records(rows: list[tuple[str, str, str, str | None, float]]) -> pa.Table:
    """(id, account, action, target post, minutes after T0) -> records."""
    return pa.table({
        "id": [r[0] for r in rows],
        "account_id": [r[1] for r in rows],
        "action": [r[2] for r in rows],
        "target_id": [r[3] for r in rows],
        "timestamp": pa.array([T0 + timedelta(minutes=r[4]) for r in rows], TIMESTAMP),
    })


def world(extra: list[tuple[str, str, str, str | None, float]] = ()) -> pa.Table:
    """Six calls by an author, each answered by the three core accounts within a minute or two.

    A day apart, so the calls are independent; a crowd of 40 ordinary accounts reposts
    a popular post over the day, which nobody in the network touches.
    """
    rows: list[tuple[str, str, str, str | None, float]] = []
    for k in range(6):
        start = k * 24 * 60.0
        rows.append((f"call{k}", "author", "post", None, start))
        for j, account in enumerate(CORE):
            rows.append((f"c{k}{j}", account, "repost" if j % 2 else "reply", f"call{k}", start + 0.5 + j))
    rows.append(("popular", "celebrity", "post", None, 0.0))
    rows += [(f"crowd{i}", f"crowd{i}", "repost", "popular", 7.0 * i) for i in range(40)]
    return _records(rows + list(extra))


def attach(records: pa.Table, **kwargs):
    edges = build_coaction_edges(records, types="co_engage", window="15m").edges
    seeds = find_communities(edges, min_size=2)
    return attach_accounts(seeds, records, window_seconds=900.0, **kwargs)


def members(result) -> dict[str, int]:
    graph = result.communities.graph
    ids = graph.accounts.to_pylist()
    return {a: int(c) for a, c in zip(ids, result.communities.membership, strict=True) if c >= 0}


def test_the_core_is_a_cluster_of_its_own():
    result = attach(world())
    assert set(members(result)) == set(CORE)
    assert result.attached.height == 0


def test_an_account_that_met_the_cluster_on_two_calls_is_attached():
    # answers calls 1 and 4, two and three minutes after they went out
    peripheral = [("p1", "peripheral", "quote", "call1", 24 * 60 + 2), ("p4", "peripheral", "reply", "call4", 4 * 24 * 60 + 3)]
    result = attach(world(peripheral))
    found = members(result)
    assert found["peripheral"] == found["core1"]
    row = result.attached.row(0, named=True)
    assert row["account_id"] == "peripheral" and row["n_targets"] == 2
    assert row["weight"] == 6  # three core members near it on each of the two calls
    # the larger p of the two tests: each call's burst covers 32 minutes of a 15-minute
    # window's reach, on posts whose pairs meet with chance 1/30, and both were reached
    assert row["p_value"] == pytest.approx(_two_posts_p(2 * (1 / 30) * (30 + 2) / 30))
    assert row["p_value"] < 0.01
    # its meetings are co-action actions, so the evidence table holds them
    assert {"p1", "p4"} <= set(result.actions["id"].to_list())
    assert set(result.actions["type"].unique()) == {"co_engage"}


def _two_posts_p(expected: float) -> float:
    """P(X >= 2) for X ~ Poisson(expected)."""
    return float(1 - np.exp(-expected) * (1 + expected))


def _thirty_members_answer_six_calls() -> list[tuple[str, str, str, str | None, float]]:
    """Six calls a day apart, each reposted by the same thirty members within two minutes."""
    rows: list[tuple[str, str, str, str | None, float]] = []
    for k in range(6):
        rows.append((f"call{k}", "author", "post", None, k * 24 * 60.0))
        rows += [(f"c{k}-{j}", f"m{j}", "repost", f"call{k}", k * 24 * 60.0 + 0.5 + j / 15) for j in range(30)]
    return rows


def test_a_burst_of_thirty_members_is_reached_as_often_as_a_burst_of_three():
    # thirty members answer six calls within two minutes each; a follower reposts calls 1
    # and 4 during their bursts: sixty meetings, but two bursts reached, each as likely as
    # the three-member network's (its time within a window of a two-minute burst)
    rows = _thirty_members_answer_six_calls()
    rows += [("f1", "follower", "repost", "call1", 24 * 60 + 5), ("f4", "follower", "repost", "call4", 4 * 24 * 60 + 5)]
    row = attach(_records(rows)).attached.row(0, named=True)
    assert row["account_id"] == "follower" and row["weight"] == 60 and row["n_targets"] == 2
    assert row["p_value"] == pytest.approx(_two_posts_p(2 * (1 / 30) * (30 + 29 / 15) / 30))


def test_one_call_is_never_enough_however_many_members_were_near():
    follower = [("f1", "follower", "repost", "call2", 2 * 24 * 60 + 1)]
    result = attach(world(follower))
    assert "follower" not in members(result)


def test_one_burst_of_many_members_is_one_event():
    # thirty members answer six calls within two minutes each; a follower reposts call 1
    # during its burst (thirty meetings at once) and, on a post shared all day, meets one
    # member by chance: the burst counts no more than that single meeting
    rows = _thirty_members_answer_six_calls()
    rows.append(("daily", "news", "post", None, 0.0))
    rows += [(f"d{i}", f"reader{i}", "repost", "daily", 20.0 * i) for i in range(60)]
    rows += [("dm", "m0", "repost", "daily", 600.0), ("fd", "follower", "repost", "daily", 602.0),
             ("f1", "follower", "repost", "call1", 24 * 60 + 5)]
    result = attach(_records(rows))
    found = members(result)
    assert {f"m{j}" for j in range(30)} <= set(found) and "follower" not in found
    # a second burst is a second event: the follower then met the network twice
    result = attach(_records([*rows, ("f4", "follower", "repost", "call4", 4 * 24 * 60 + 5)]))
    assert members(result)["follower"] == members(result)["m0"]


def test_answering_hours_later_is_no_meeting():
    late = [("l1", "late", "repost", "call1", 24 * 60 + 180), ("l4", "late", "repost", "call4", 4 * 24 * 60 + 240)]
    result = attach(world(late))
    assert "late" not in members(result)


def test_posts_with_more_actions_than_the_limit_are_not_used():
    peripheral = [("p1", "peripheral", "quote", "call1", 24 * 60 + 2), ("p4", "peripheral", "reply", "call4", 4 * 24 * 60 + 3)]
    result = attach(world(peripheral), max_target_shares=3)  # every call has 4 actions now
    assert "peripheral" not in members(result)


def test_events_prepared_before_the_communities_attach_the_same_accounts():
    peripheral = [("p1", "peripheral", "quote", "call1", 24 * 60 + 2), ("p4", "peripheral", "reply", "call4", 4 * 24 * 60 + 3)]
    records = world(peripheral)
    prepared = prepare_engagements(records, window_seconds=900.0)
    seeds = find_communities(build_coaction_edges(records, types="co_engage", window="15m").edges, min_size=2)
    early, late = attach_accounts(seeds, prepared, window_seconds=900.0), attach(records)
    assert members(early) == members(late)
    assert early.attached.equals(late.attached)
    with pytest.raises(ValueError, match="another window"):
        attach_accounts(seeds, prepared, window_seconds=60.0)


def test_a_member_without_engagements_lends_its_cluster_to_no_one_else():
    # core3's engagements are missing from the events (it could be a member by other
    # co-action types): no other account may take its place in the cluster
    peripheral = [("p1", "peripheral", "quote", "call1", 24 * 60 + 2), ("p4", "peripheral", "reply", "call4", 4 * 24 * 60 + 3)]
    records = world(peripheral)
    seeds = find_communities(build_coaction_edges(records, types="co_engage", window="15m").edges, min_size=2)
    events = engagement_events(records).filter(pl.col("account_id") != "core3")
    codes = prepare_engagements(events, window_seconds=900.0).codes
    core1, core3, crowd0 = codes.accounts_of(["core1", "core3", "crowd0"])
    assert core3 == -1 and codes.accounts[int(core1)] == "core1" and codes.accounts[int(crowd0)] == "crowd0"
    found = members(attach_accounts(seeds, events, window_seconds=900.0))
    assert set(found) == {*CORE, "peripheral"}
    assert found["peripheral"] == found["core1"]


def test_each_cluster_is_its_own_family():
    from rallypoint.detectors.attachment import benjamini_hochberg_by

    # the same p-value passes among a few candidates and fails among many weaker ones
    p = np.array([0.004, 0.004, *([0.5] * 20)])
    family = np.array([0, 1, *([1] * 20)])
    assert benjamini_hochberg_by(family, p, 0.01).tolist() == [True] + [False] * 21
    assert benjamini_hochberg_by(np.zeros(3, np.int64), np.array([0.001, 0.2, 0.004]), 0.01).tolist() == [
        True, False, True]
    assert benjamini_hochberg_by(np.zeros(0, np.int64), np.zeros(0), 0.01).size == 0


def test_benjamini_hochberg_rejects_the_step_up_set():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    # the classic example: at 0.05, p(k) <= 0.05 k / 10 holds last at k = 2
    assert benjamini_hochberg(p, 0.05).tolist() == [True, True] + [False] * 8
    assert benjamini_hochberg(np.array([]), 0.05).tolist() == []
    assert benjamini_hochberg(np.array([0.5, 0.01]), 0.05).tolist() == [False, True]


@pytest.mark.parametrize("level", [0.01, 0.05])
def test_benjamini_hochberg_never_rejects_more_than_its_level_allows_under_the_null(level):
    rng = np.random.default_rng(7)
    rejected = [benjamini_hochberg(rng.random(200), level).sum() for _ in range(200)]
    # under the global null BH controls the family-wise error at the level
    assert np.mean(np.array(rejected) > 0) <= level * 2


def _actions(seed: int, n: int, accounts: int, posts: int, seconds: int) -> tuple:
    """Random actions split into members (accounts below a fifth, in 3 communities) and outsiders."""
    import polars as pl

    rng = np.random.default_rng(seed)
    events = pl.DataFrame({
        "target": rng.integers(0, posts, n),
        "account_id": rng.integers(0, accounts, n),
        "id": np.arange(n),
        "time": rng.integers(0, seconds, n) * 1_000_000,
    })
    is_member = events["account_id"] < accounts // 5
    members = events.filter(is_member).with_columns(community=pl.col("account_id") % 3)
    return events.filter(~is_member), members


def _per_pair(meetings, pair: list[str]):
    """Meetings per pair as the definition reads: their count, distinct posts and the
    meetings on the two heaviest posts (0 for the second with one post)."""
    import polars as pl

    per_post = meetings.group_by(*pair, "target").agg(n=pl.len().cast(pl.Int64))
    return per_post.group_by(pair).agg(
        weight=pl.col("n").sum(), n_targets=pl.len().cast(pl.Int64),
        heaviest=pl.col("n").max(),
        second_heaviest=pl.col("n").sort(descending=True).get(1, null_on_oob=True).fill_null(0))


def _joined_meetings(outsiders, members, window_us):
    """The meetings as the definition reads: every outsider x member action on a post, kept within the window."""
    import polars as pl

    right = members.select("target", "community", m_account="account_id", m_id="id", m_time="time")
    return outsiders.join(right, on="target").filter((pl.col("time") - pl.col("m_time")).abs() <= window_us)


@pytest.mark.parametrize("batch_rows", [10**12, 500, 1])
def test_meetings_are_the_pairs_within_the_window_in_any_batching(batch_rows):
    """Ranges of the time-sorted members give exactly the joined-and-filtered meetings, in
    batches of any size (the 10M memory bound), the window's ends included."""
    import polars as pl

    from rallypoint.detectors.attachment import _meeting_rows

    outsiders, members = _actions(5, 3000, 300, 40, 3600)
    window_us = 600_000_000
    expected = _joined_meetings(outsiders, members, window_us)
    theirs = members.select("community", m_account="account_id", m_id="id", m_time="time")
    batches = list(_meeting_rows(outsiders, members, window_us, batch_rows=batch_rows))
    found = pl.concat([pl.concat([outsiders[mine], theirs[their]], how="horizontal") for mine, their in batches])
    assert len(batches) > 1 or batch_rows > 3000
    assert expected.height > 1000
    assert ((expected["time"] - expected["m_time"]).abs() == window_us).any()  # the ends are tested
    key = ["id", "m_id"]
    assert found.columns == expected.columns
    assert found.sort(key).equals(expected.sort(key))


def test_meeting_counts_folded_over_small_batches_are_the_meetings_counted():

    from rallypoint.detectors.attachment import meeting_counts

    outsiders, members = _actions(9, 4000, 400, 60, 2000)
    formed = _per_pair(_joined_meetings(outsiders, members, 60_000_000), ["account_id", "community"])
    # small batches, folded after every few
    counted = meeting_counts(outsiders, members, 60_000_000, batch_rows=200, fold_rows=50)
    assert formed.height > 500 and (formed["second_heaviest"] > 0).any() and (formed["heaviest"] > 1).any()
    key = ["account_id", "community"]
    assert counted.sort(key).equals(formed.sort(key).select(counted.columns))
    assert meeting_counts(outsiders.clear(), members, 60_000_000).height == 0


@pytest.mark.parametrize("scale", [1, 2**40])
def test_meetings_are_counted_per_pair_whether_or_not_one_int64_key_fits(scale):
    """Meetings, distinct posts and the two heaviest posts per (account, community) pair: one
    sorted int64 key when (pair, post) fits, a two-column sort when it would overflow."""
    import polars as pl

    from rallypoint.detectors.attachment import _count_meetings

    rng = np.random.default_rng(4)
    pair = rng.integers(0, 50, 5000) * scale
    target = rng.integers(0, 30, 5000) * scale
    got_pair, weight, n_targets, heaviest, second = _count_meetings(pair, target)
    expected = _per_pair(pl.DataFrame({"pair": pair, "target": target}), ["pair"]).sort("pair")
    assert (int(pair.max()) + 1) * (int(target.max()) + 1) >= 2**63 or scale == 1
    assert got_pair.tolist() == expected["pair"].to_list()
    assert weight.tolist() == expected["weight"].to_list()
    assert n_targets.tolist() == expected["n_targets"].to_list()
    assert heaviest.tolist() == expected["heaviest"].to_list()
    assert second.tolist() == expected["second_heaviest"].to_list()


def _random_actions(rng: np.random.Generator, n: int, types: list[str], ids: int, times: int) -> pl.DataFrame:
    """``n`` random actions (``ACTIONS_SCHEMA`` columns) over few ids, targets and whole seconds,
    so keys and times repeat: many actions share a time, and some a key."""
    return pl.DataFrame({
        "type": rng.choice(types, n).tolist(),
        "target": [f"t{x}" for x in rng.integers(0, 12, n)],
        "account_id": [f"a{x}" for x in rng.integers(0, 30, n)],
        "id": [f"r{x}" for x in rng.integers(0, ids, n)],
        "timestamp": pl.Series(rng.integers(0, times, n) * 1_000_000).cast(pl.Datetime("us", "UTC")),
    }, schema={"type": pl.String, "target": pl.String, "account_id": pl.String, "id": pl.String,
               "timestamp": pl.Datetime("us", "UTC")})


def _concat_unique_sort(actions: pl.DataFrame, meetings: pl.DataFrame) -> pl.DataFrame:
    """What merge_meetings replaces: the actions with the meetings they lack, sorted."""
    return pl.concat([actions, meetings]).unique(["type", "target", "id"], keep="first").sort(*ACTION_ORDER)


@pytest.mark.parametrize("seed", range(40))
def test_meetings_merged_into_sorted_actions_are_the_concat_unique_sort(seed):
    """Actions repeated at their own time (neighbours once sorted); meetings repeated among
    themselves, repeating actions (the same key at the same time or at another), at the
    actions' times or not, or none at all: merged, they are the frame the concat, unique
    and sort gave, row for row."""
    rng = np.random.default_rng(seed)
    actions = _random_actions(rng, int(rng.integers(0, 80)), ["co_engage", "co_repost", "co_link"], 50, 10)
    actions = actions.unique(["type", "target", "id"], keep="first")
    if seed % 4 < 2:
        actions = pl.concat([actions, actions.sample(fraction=0.2, seed=seed)])
    actions = actions.sort(*ACTION_ORDER)
    meetings = _random_actions(rng, int(rng.integers(0, 40)), ["co_engage"], 50, 12)
    if seed % 2 and actions.height:
        # copies of actions, some at their own time, some moved to another
        copied = actions.sample(min(actions.height, 6), seed=seed)
        moved = copied.head(2).with_columns(pl.col("timestamp") + pl.duration(seconds=3))
        meetings = pl.concat([meetings, copied, moved]).sample(fraction=1.0, shuffle=True, seed=seed)
    expected = _concat_unique_sort(actions, meetings)
    merged = merge_meetings(actions, meetings)
    assert merged.schema == actions.schema
    assert merged.equals(expected)
    assert merged.select("type", "target", "id").is_unique().all()


def test_merging_no_meetings_or_into_no_actions():
    rng = np.random.default_rng(3)
    actions = _random_actions(rng, 30, ["co_engage"], 100, 5).unique(["type", "target", "id"]).sort(*ACTION_ORDER)
    meetings = _random_actions(rng, 25, ["co_engage"], 100, 5)
    assert merge_meetings(actions, meetings.clear()).equals(actions)
    assert merge_meetings(actions.clear(), meetings).equals(_concat_unique_sort(actions.clear(), meetings))
    assert merge_meetings(actions, actions).equals(actions)  # every meeting known already
    # without meetings, the repeats still go
    repeated = pl.concat([actions, actions.head(4)]).sort(*ACTION_ORDER)
    assert merge_meetings(repeated, meetings.clear()).equals(actions)


def test_an_action_key_at_two_times_is_kept_at_both():
    """An id two platforms both use, acting on the same target at two times: two actions,
    which the concat/unique/sort cut to the first (the one difference from it)."""
    rng = np.random.default_rng(5)
    one = _random_actions(rng, 1, ["co_engage"], 1, 1)
    actions = pl.concat([one, one.with_columns(pl.col("timestamp") + pl.duration(seconds=9),
                                               account_id=pl.lit("another"))]).sort(*ACTION_ORDER)
    meetings = _random_actions(rng, 5, ["co_engage"], 100, 30)
    merged = merge_meetings(actions, meetings)
    assert merged.filter(pl.col("id") == one["id"][0], pl.col("target") == one["target"][0]).equals(actions)
    assert merged.height == _concat_unique_sort(actions, meetings).height + 1


def test_a_rounds_tests_restricted_to_some_clusters_or_outsiders_are_those_of_the_whole_round():
    """A round makes again only the tests whose clusters or outsiders changed (attach_accounts):
    that holds only if the tests against some clusters, or of some outsiders, are exactly the
    rows of all the round's tests for them."""
    from rallypoint.detectors.attachment import _round_tests

    rng = np.random.default_rng(5)
    n_events, n_accounts, n_posts = 6000, 120, 150
    events = pl.DataFrame({
        "target": [f"post{k}" for k in rng.integers(0, n_posts, n_events)],
        "account_id": [f"acct{k}" for k in rng.integers(0, n_accounts, n_events)],
        "id": [f"r{k}" for k in range(n_events)],
        "time": rng.integers(0, 6 * 3600, n_events) * 1_000_000,
    })
    prepared = prepare_engagements(events, window_seconds=300.0)
    # the first 60 accounts in six clusters of ten, the others outsiders
    community_of = np.full(len(prepared.codes.accounts), -1, dtype=np.int64)
    numbers = np.array([int(a.removeprefix("acct")) for a in prepared.codes.accounts.to_list()])
    community_of[numbers < 60] = numbers[numbers < 60] // 10

    def tests(**only):
        return _round_tests(prepared.actions, community_of, prepared.window_us, 1, **only).sort("account_id", "community")

    whole = tests()
    assert whole.height > 100 and whole["community"].n_unique() == 6
    some_clusters, some_accounts = np.array([1, 4]), np.flatnonzero(community_of < 0)[::3]
    for part, rows in ((tests(communities=some_clusters), whole.filter(pl.col("community").is_in([1, 4]))),
                       (tests(communities=some_clusters, accounts=some_accounts),
                        whole.filter(pl.col("community").is_in([1, 4]) & pl.col("account_id").is_in(some_accounts)))):
        assert part.height == rows.height > 0
        for name in part.columns:
            if part[name].dtype.is_float():
                assert np.allclose(part[name].to_numpy(), rows[name].to_numpy(), rtol=1e-12, atol=0)
            else:
                assert part[name].equals(rows[name])
