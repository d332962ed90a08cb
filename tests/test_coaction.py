"""Behaviour of the co-action edge builder on small hand-made tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from rallypoint.detectors.coaction import COACTION_TYPES, CoactionError, build_coaction_edges
from rallypoint.errors import RallypointError
from rallypoint.schema import EDGES_SCHEMA, RECORD_SCHEMA

T0 = datetime(2021, 1, 6, 12, tzinfo=UTC)


def records(rows: list[dict]) -> pa.Table:
    """Canonical records from short dicts; ``t`` is seconds after T0."""
    full = []
    for k, row in enumerate(rows):
        row = dict(row)
        seconds = row.pop("t")
        full.append(
            {
                "id": row.pop("id", f"r{k}"),
                "platform": "x",
                "timestamp": T0 + timedelta(seconds=seconds),
                "action": row.pop("action", "repost"),
                **row,
            }
        )
    return pa.Table.from_pylist(full, schema=RECORD_SCHEMA)


def reposts(*rows: tuple[str, str, float]) -> pa.Table:
    """(account, original post, seconds) triples as repost records."""
    return records([{"account_id": a, "target_id": p, "t": t} for a, p, t in rows])


def edge_map(result) -> dict[tuple[str, str], dict]:
    return {(e["account_a"], e["account_b"]): e for e in result.edges.to_pylist()}


def plain(table, **kw):
    kw = {"types": ["co_repost"], "window": 60, "min_participation": 1, "null_model": "none", **kw}
    return build_coaction_edges(table, **kw)


def test_window_is_inclusive_and_one_second_more_breaks_the_pair():
    result = plain(reposts(("u1", "p", 0), ("u2", "p", 60), ("u3", "q", 0), ("u4", "q", 61)))
    assert set(edge_map(result)) == {("u1", "u2")}


def test_weight_counts_co_share_pairs_and_n_shared_counts_targets():
    # u1 and u2 meet on p twice (u2 reposted p twice near u1) and once on q
    result = plain(reposts(("u1", "p", 0), ("u2", "p", 10), ("u2", "p", 20), ("u1", "q", 500), ("u2", "q", 530)))
    edge = edge_map(result)[("u1", "u2")]
    assert edge["weight"] == 3
    assert edge["n_shared"] == 2
    assert edge["first_ts"] == T0
    assert edge["last_ts"] == T0 + timedelta(seconds=530)
    assert edge["types"] == [
        {"type": "co_repost", "weight": 3, "n_shared": 2, "first_ts": T0, "last_ts": T0 + timedelta(seconds=530)}
    ]


def test_an_account_repeating_itself_is_no_co_action():
    assert plain(reposts(("u1", "p", 0), ("u1", "p", 5))).edges.num_rows == 0


def test_edges_have_exactly_the_edges_schema_with_a_before_b():
    result = plain(reposts(("zed", "p", 0), ("amy", "p", 1), ("kim", "p", 2)))
    assert result.edges.schema == EDGES_SCHEMA
    assert all(a < b for a, b in edge_map(result))
    assert len(edge_map(result)) == 3


def test_min_participation_drops_one_off_accounts_as_coortweet_does():
    rows = reposts(
        ("u1", "p", 0), ("u2", "p", 5), ("u1", "q", 100), ("u2", "q", 105),  # u1, u2 meet twice
        ("u3", "r", 200), ("u4", "r", 201),  # u3, u4 meet once, and have no other shares
    )
    assert set(edge_map(plain(rows, min_participation=2))) == {("u1", "u2")}
    assert set(edge_map(plain(rows, min_participation=1))) == {("u1", "u2"), ("u3", "u4")}


def test_the_cap_limits_pairs_per_share_and_is_reported():
    burst = reposts(*[(f"u{k:02d}", "viral", k) for k in range(20)])
    exact = plain(burst, max_pairs_per_share=None)
    capped = plain(burst, max_pairs_per_share=3)
    assert exact.stats["pairs_formed"] == 20 * 19 // 2
    assert capped.stats["pairs_formed"] == 3 * 17 + 2 + 1
    assert capped.stats["pairs_capped"] == exact.stats["pairs_formed"] - capped.stats["pairs_formed"]
    assert capped.stats["targets_capped"] == 1
    # each capped edge is one an exact run also has
    assert set(edge_map(capped)) <= set(edge_map(exact))


def test_the_pair_budget_samples_the_heavy_target_instead_of_exhausting_memory():
    burst = reposts(*[(f"u{k:02d}", "viral", k) for k in range(40)])
    exact = plain(burst, max_pairs_per_share=None)
    sampled = plain(burst, max_pairs_per_share=None, pair_budget=100)
    assert sampled.stats["targets_sampled"] == 1
    assert 0 < sampled.stats["pairs_formed"] < exact.stats["pairs_formed"] == 40 * 39 // 2
    assert plain(burst, max_pairs_per_share=None).stats["targets_sampled"] == 0


def test_a_sampled_target_keeps_every_pair_among_the_accounts_it_keeps():
    """The sample is of accounts: the pairs formed are all the pairs of a set of accounts."""
    burst = reposts(*[(f"u{k:02d}", "viral", k) for k in range(40)])
    sampled = edge_map(plain(burst, max_pairs_per_share=None, pair_budget=100))
    kept = {account for pair in sampled for account in pair}
    assert len(sampled) == len(kept) * (len(kept) - 1) // 2


def test_sampling_keeps_a_pair_on_every_heavy_target_or_on_none():
    """Thinning each share to its next few sharers would see a pair on a different few posts
    each time; ranking accounts once sees every repeat of the pairs it keeps."""
    rows = [(f"u{k:02d}", f"post{p}", 100 * p + (k * 7 + p * 13) % 40) for p in range(6) for k in range(40)]
    burst = reposts(*rows)
    exact = edge_map(plain(burst, max_pairs_per_share=None))
    sampled = edge_map(plain(burst, max_pairs_per_share=None, pair_budget=6 * 120))
    assert 0 < len(sampled) < len(exact)
    assert all(edge["weight"] == exact[pair]["weight"] for pair, edge in sampled.items())
    assert all(edge["n_shared"] == 6 for edge in sampled.values())


def test_the_null_model_counts_only_the_targets_a_pair_was_sampled_on():
    rows = [(f"u{k:02d}", f"post{p}", 100 * p + (k * 7 + p * 13) % 40) for p in range(6) for k in range(40)]
    small = [(f"u{k:02d}", f"small{p}", 5000 + 100 * p + k) for p in range(3) for k in (0, 1)]
    burst = reposts(*rows, *small)
    kw = {"max_pairs_per_share": None, "null_model": "permutation", "significance": 1.0}
    exact = edge_map(plain(burst, **kw))
    sampled = edge_map(plain(burst, pair_budget=6 * 120, **kw))
    # every target is heavy or small alike for all pairs: a pair kept on the heavy posts
    # expects what it expected unsampled; a pair seen only on the small posts expects less
    for pair, edge in sampled.items():
        if edge["n_shared"] >= 6:
            assert edge["expected_weight"] == pytest.approx(exact[pair]["expected_weight"])
        else:
            assert edge["expected_weight"] < exact[pair]["expected_weight"]


def test_the_pair_budget_thins_the_viral_target_and_leaves_small_targets_whole():
    viral = [(f"v{k:03d}", "viral", k) for k in range(60)]
    small = [(f"u{k:02d}", f"small{k % 4}", 1000 + k) for k in range(32)]  # four posts, eight sharers each
    burst = reposts(*viral, *small)
    exact = plain(burst, max_pairs_per_share=None)
    thinned = plain(burst, max_pairs_per_share=None, pair_budget=200)
    assert thinned.stats["pairs_formed"] < exact.stats["pairs_formed"]
    assert thinned.stats["targets_sampled"] == 1
    small_edges = {pair: e for pair, e in edge_map(exact).items() if pair[0].startswith("u")}
    assert small_edges and all(edge_map(thinned).get(pair) == e for pair, e in small_edges.items())


def test_sample_within_budget_samples_nothing_when_everything_fits():
    import numpy as np

    from rallypoint.detectors.coaction.partition import sample_within_budget

    partners = np.array([5, 4, 3, 2, 1, 0, 1, 0])
    groups = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    ranks = np.linspace(0, 0.99, 8)
    assert sample_within_budget(partners, groups, lambda: ranks, 3, budget=100) == (None, 0)
    paired, thinned = sample_within_budget(partners, groups, lambda: ranks, 3, budget=6)
    assert thinned == 1
    assert paired[groups == 1].all()  # the small target keeps every share
    assert not paired[groups == 0].all()


def test_actions_are_the_shares_behind_kept_edges():
    rows = reposts(("u1", "p", 0), ("u2", "p", 30), ("u3", "p", 5000))
    result = plain(rows)
    assert sorted(result.actions["account_id"].to_pylist()) == ["u1", "u2"]
    assert set(result.actions["type"].to_pylist()) == {"co_repost"}
    assert set(result.actions["target"].to_pylist()) == {"p"}


def test_types_are_combined_per_account_pair():
    rows = records(
        [
            {"account_id": "u1", "action": "post", "urls": ["https://a.example/x"], "media": ["h1"], "t": 0},
            {"account_id": "u2", "action": "post", "urls": ["https://a.example/x"], "media": ["h1"], "t": 10},
        ]
    )
    result = plain(rows, types=["co_link", "co_media"])
    edge = edge_map(result)[("u1", "u2")]
    assert edge["weight"] == 2
    assert edge["n_shared"] == 2
    assert [t["type"] for t in edge["types"]] == ["co_link", "co_media"]


def test_plain_reposts_do_not_count_as_co_links():
    rows = records(
        [
            {"account_id": "u1", "action": "repost", "target_id": "p", "urls": ["https://a.example/x"], "t": 0},
            {"account_id": "u2", "action": "repost", "target_id": "p", "urls": ["https://a.example/x"], "t": 10},
        ]
    )
    assert plain(rows, types=["co_link"]).edges.num_rows == 0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"types": ["co_bogus"]}, "co_bogus"),
        ({"window": "soon"}, "soon"),
        ({"window": 0}, "longer than zero"),
        ({"null_model": "magic"}, "magic"),
        ({"min_participation": 0}, "min_participation"),
        ({"pair_budget": 0}, "pair budget must be a whole number"),
    ],
)
def test_bad_arguments_get_one_clear_sentence(kwargs, fragment):
    with pytest.raises(RallypointError, match=fragment):
        build_coaction_edges(reposts(("u1", "p", 0)), **kwargs)


def test_records_of_the_wrong_kind_are_refused():
    with pytest.raises(CoactionError, match="pyarrow Table or a Dask DataFrame"):
        build_coaction_edges([{"id": "x"}])


def test_every_type_runs_on_empty_input():
    empty = RECORD_SCHEMA.empty_table()
    result = build_coaction_edges(empty, types=COACTION_TYPES, window="auto")
    assert result.edges.num_rows == 0
    assert result.edges.schema == EDGES_SCHEMA
    assert set(result.window_seconds) == set(COACTION_TYPES)


def test_actions_without_filtering_equal_the_re_paired_shares():
    # with nothing filtered (min participation 1, no null model, no cap) the actions come
    # from coact's in-pair marks; they must be the shares that re-pairing the kept pairs finds
    import numpy as np
    import polars as pl

    from rallypoint.detectors.coaction.partition import SHARE_COLUMNS, pair_actions

    rng = np.random.default_rng(7)
    n = 400
    accounts = [f"u{a}" for a in rng.integers(0, 40, n)]
    posts = [f"p{p}" for p in rng.integers(0, 12, n)]
    seconds = rng.uniform(0, 3_000, n).round(1)
    table = reposts(*zip(accounts, posts, seconds.tolist(), strict=True))
    result = plain(table, max_pairs_per_share=None)
    assert result.stats["actions"] > 0 and result.stats["edges"] > 0
    shares = pl.DataFrame(
        {"kind": 0, "target": posts, "account_id": accounts, "id": [f"r{k}" for k in range(n)],
         "time": (seconds * 1_000_000).astype(np.int64)}
    ).cast(SHARE_COLUMNS)
    kept = pl.from_arrow(result.edges.select(["account_a", "account_b"])).with_columns(kind=pl.lit(0, pl.Int32))
    re_paired = pair_actions(shares, kept, np.array([60_000_000]), None)
    assert sorted(result.actions["id"].to_pylist()) == sorted(re_paired["id"].to_list())


def _random_reposts(seed: int, n: int = 600, n_accounts: int = 50, n_posts: int = 15) -> pa.Table:
    import numpy as np

    rng = np.random.default_rng(seed)
    accounts = [f"u{a:02d}" for a in rng.integers(0, n_accounts, n)]
    posts = [f"p{p}" for p in rng.integers(0, n_posts, n)]
    seconds = rng.uniform(0, 3_000, n).round(1)
    return reposts(*zip(accounts, posts, seconds.tolist(), strict=True))


def test_pairs_reduced_in_many_small_chunks_on_threads_equal_one_chunk(monkeypatch):
    # coact_codes reduces pair chunks on worker threads and merges them; a target whose
    # pairs straddle chunks must still give one row with summed pairs and its true first/last
    import functools

    from rallypoint.detectors.coaction import partition

    table = _random_reposts(3)
    whole = plain(table, max_pairs_per_share=None)
    monkeypatch.setattr(partition, "iter_pairs", functools.partial(partition.iter_pairs, chunk_pairs=7))
    chunked = plain(table, max_pairs_per_share=None)
    assert whole.stats["pairs_formed"] > 300  # dozens of chunks of 7
    assert chunked.edges.equals(whole.edges)
    assert chunked.actions.equals(whole.actions)


def test_edges_come_sorted_by_account_pair_for_one_type_and_several():
    table = _random_reposts(5)
    reply_rows = records([{"account_id": f"u{k % 9:02d}", "target_id": f"p{k % 4}", "t": k * 7.0,
                           "action": "reply", "id": f"x{k}"} for k in range(120)])
    both = pa.concat_tables([table, reply_rows])
    for result in (plain(table), plain(both, types=["co_repost", "co_reply"])):
        keys = list(zip(result.edges["account_a"].to_pylist(), result.edges["account_b"].to_pylist(), strict=True))
        assert len(keys) > 20
        assert keys == sorted(keys)
        assert all(a < b for a, b in keys)
