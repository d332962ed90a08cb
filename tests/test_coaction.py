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


def test_a_small_pair_budget_partitions_and_spills_but_forms_every_pair():
    """The budget bounds the pairs formed at once, not the pairs formed: nothing is sampled."""
    burst = reposts(*[(f"u{k:02d}", "viral", k) for k in range(40)], *[(f"w{k}", f"small{k % 3}", 500 + k)
                                                                       for k in range(12)])
    whole = plain(burst, max_pairs_per_share=None)
    spilled = plain(burst, max_pairs_per_share=None, pair_budget=100)
    assert spilled.stats["partitions"] >= 2 and spilled.stats["spilled_rows"] > 0
    assert whole.stats["partitions"] == 1 and whole.stats["spilled_rows"] == 0
    assert spilled.stats["pairs_formed"] == whole.stats["pairs_formed"] >= 40 * 39 // 2
    assert spilled.edges.equals(whole.edges)
    assert spilled.actions_table().equals(whole.actions_table())


@pytest.mark.parametrize("seed", [1, 2])
def test_partitions_spilled_to_disk_give_the_one_partition_result(seed, tmp_path, monkeypatch):
    """Several types, CooRTweet's rule and the null model: a pair's sums spread over many
    partitions and buckets add up to the in-memory result, and the spill leaves no file."""
    import tempfile

    rng = __import__("numpy").random.default_rng(seed)
    rows = [{"account_id": f"u{int(a):02d}", "target_id": f"p{int(p)}", "t": float(t),
             "action": ("repost", "reply")[int(k) % 2]}
            for k, (a, p, t) in enumerate(zip(rng.integers(0, 40, 900), rng.integers(0, 30, 900),
                                              rng.uniform(0, 4_000, 900).round(1), strict=True))]
    cell = [{"account_id": f"c{k}", "target_id": f"p{w}", "t": 5_000.0 + 300 * w + k, "action": "repost"}
            for w in range(8) for k in range(6)]
    table = records(rows + cell)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    kw = {"types": ["co_repost", "co_reply", "co_engage"], "window": 120, "min_participation": 2,
          "null_model": "permutation", "significance": 0.05}
    whole = build_coaction_edges(table, **kw)
    spilled = build_coaction_edges(table, pair_budget=50, **kw)
    assert spilled.stats["partitions"] > 10 and spilled.stats["spilled_rows"] > whole.edges.num_rows
    assert whole.edges.num_rows > 10
    assert spilled.edges.equals(whole.edges)
    assert spilled.actions_table().equals(whole.actions_table())
    for key in ("pairs_formed", "pairs_in_window", "candidate_edges", "per_type_candidate_edges"):
        assert spilled.stats[key] == whole.stats[key]
    assert list(tmp_path.iterdir()) == []
    # handed on bucket by bucket (several buckets here) and slice by slice, the edges are the
    # whole table's, in order
    from rallypoint.detectors.coaction import build

    monkeypatch.setattr(build, "EDGE_SLICE_ROWS", 7)
    streamed = []
    sunk = build_coaction_edges(table, pair_budget=50, edge_sink=streamed.append, **kw)
    assert len(streamed) > 1 and sunk.edges.num_rows == 0 and sunk.actions_table().num_rows == 0
    assert pa.concat_tables(streamed).equals(whole.edges)
    assert sunk.stats["edges"] == whole.edges.num_rows
    accounts = set(whole.edges["account_a"].to_pylist()) | set(whole.edges["account_b"].to_pylist())
    assert sunk.stats["edge_accounts"] == len(accounts)


def test_partition_bounds_cut_between_targets_only():
    import numpy as np

    from rallypoint.detectors.coaction.partition import partition_bounds

    group = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    wanted = np.array([2, 1, 0, 1, 0, 0, 3, 2, 1, 0])
    assert partition_bounds(group, wanted, None).tolist() == [0, 10]
    assert partition_bounds(group, wanted, 100).tolist() == [0, 10]
    bounds = partition_bounds(group, wanted, 3)
    assert bounds[0] == 0 and bounds[-1] == 10 and len(bounds) > 2
    assert all(group[b] != group[b - 1] for b in bounds[1:-1])
    # a target costs its pairs and its shares (6, 3, 1, 10): as many as fit in order, and the
    # one heavier than the budget alone
    assert partition_bounds(group, wanted, 6).tolist() == [0, 3, 6, 10]


def test_targets_with_one_sharer_each_are_cut_into_partitions_too():
    import numpy as np

    from rallypoint.detectors.coaction.partition import partition_bounds

    # a million targets shared once: no pair, but a million share events to hold
    group = np.arange(1_000_000)
    bounds = partition_bounds(group, np.zeros(group.size, np.int64), 100_000)
    assert np.diff(bounds).max() <= 100_000 and bounds[-1] == group.size


def test_actions_are_the_shares_behind_kept_edges():
    rows = reposts(("u1", "p", 0), ("u2", "p", 30), ("u3", "p", 5000))
    result = plain(rows)
    assert sorted(result.actions_table()["account_id"].to_pylist()) == ["u1", "u2"]
    assert set(result.actions_table()["type"].to_pylist()) == {"co_repost"}
    assert set(result.actions_table()["target"].to_pylist()) == {"p"}


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
    with pytest.raises(CoactionError, match="must be a pyarrow Table"):
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

    from rallypoint.detectors.coaction.partition import SHARE_COLUMNS, Coded, coded_pair_actions

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
    coded = Coded(shares)
    edges = pl.from_arrow(result.edges.select(["account_a", "account_b"]))
    kept = pl.DataFrame({"kind": 0, "account_a": coded.accounts.search_sorted(edges["account_a"]),
                         "account_b": coded.accounts.search_sorted(edges["account_b"])})
    re_paired = coded_pair_actions(coded, kept, np.array([60_000_000]), None)
    assert sorted(result.actions_table()["id"].to_pylist()) == sorted(re_paired["id"].to_list())


@pytest.mark.parametrize("cap", [None, 1, 3])
def test_re_paired_actions_equal_a_plain_double_loop(cap):
    # coded_pair_actions looks each pair's second account up in its first account's kept
    # partners (compiled, two threads): the shares it returns must be those a plain double
    # loop over the involved shares finds, with the cap counted among those shares
    import numpy as np
    import polars as pl

    from rallypoint.detectors.coaction.partition import SHARE_COLUMNS, Coded, coded_pair_actions

    rng = np.random.default_rng(17)
    n, n_accounts = 3_000, 60
    shares = pl.DataFrame({
        "kind": rng.integers(0, 2, n), "target": [f"p{t}" for t in rng.integers(0, 40, n)],
        "account_id": [f"u{a:02d}" for a in rng.integers(0, n_accounts, n)], "id": [f"r{k}" for k in range(n)],
        "time": rng.integers(0, 600, n) * 1_000_000,
    }).cast(SHARE_COLUMNS)
    coded = Coded(shares)
    window_us = np.array([30_000_000, 90_000_000])
    a, b = np.triu_indices(n_accounts, 1)
    chosen = rng.random(a.size) < 0.05
    kept = pl.DataFrame({"kind": rng.integers(0, 2, int(chosen.sum())), "account_a": a[chosen],
                         "account_b": b[chosen]})
    got = coded_pair_actions(coded, kept, window_us, cap)

    kept_set = set(zip(kept["kind"].to_list(), kept["account_a"].to_list(), kept["account_b"].to_list(), strict=True))
    involved = {(k, x) for k, p, q in kept_set for x in (p, q)}
    # the involved shares in Coded's order: (type, target, time, account, row)
    order = [i for i in range(len(coded)) if (int(coded.kind[i]), int(coded.account[i])) in involved]
    expected = set()
    for pos, i in enumerate(order):
        for partners, j in enumerate(order[pos + 1:]):
            if coded.group[j] != coded.group[i] or coded.time[j] - coded.time[i] > window_us[coded.kind[i]]:
                break
            if cap is not None and partners == cap:
                break
            lo, hi = sorted((int(coded.account[i]), int(coded.account[j])))
            if lo != hi and (int(coded.kind[i]), lo, hi) in kept_set:
                expected.update((i, j))
    want = coded.rows(np.array(sorted(expected), dtype=np.int64))
    assert want.height > 100
    assert got.sort("id").equals(want.sort("id"))


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
    monkeypatch.setattr(partition, "iter_pair_runs", functools.partial(partition.iter_pair_runs, chunk_pairs=7))
    chunked = plain(table, max_pairs_per_share=None)
    assert whole.stats["pairs_formed"] > 300  # dozens of chunks of 7
    assert chunked.edges.equals(whole.edges)
    assert chunked.actions_table().equals(whole.actions_table())


def test_a_giant_target_merged_slice_by_slice_and_spilled_equals_one_merge(monkeypatch):
    # a target heavier than the pair budget is one partition; its chunks are merged in slices
    # of the key handed to the spill one by one: edges, null-model figures and actions must not
    # change, with repeated reposts (an account sharing the giant post twice) included
    import functools

    import numpy as np

    from rallypoint.detectors.coaction import partition

    rng = np.random.default_rng(11)
    giant = [(f"u{a:03d}", "giant", float(t)) for a, t in zip(rng.integers(0, 120, 700), rng.uniform(0, 900, 700),
                                                              strict=True)]
    table = pa.concat_tables([_random_reposts(4), reposts(*giant)])
    for kw in ({}, {"null_model": "permutation", "min_participation": 2}):
        whole = plain(table, max_pairs_per_share=None, pair_budget=None, **kw)
        monkeypatch.setattr(partition, "iter_pair_runs", functools.partial(partition.iter_pair_runs, chunk_pairs=50))
        monkeypatch.setattr(partition, "MERGE_SLICE_ROWS", 40)
        sliced = plain(table, max_pairs_per_share=None, pair_budget=2_000, **kw)
        monkeypatch.undo()
        assert sliced.stats["spilled_rows"] > 0 and whole.stats["pairs_formed"] > 10 * 2_000
        assert sliced.edges.num_rows > 1_000
        assert sliced.edges.equals(whole.edges)
        assert sliced.actions_table().equals(whole.actions_table())


def test_one_type_edges_carry_their_own_figures_as_their_one_type():
    result = plain(_random_reposts(6))
    edges = result.edges
    assert edges.schema.equals(EDGES_SCHEMA) and edges.num_rows > 100
    for edge in edges.to_pylist():
        assert edge["types"] == [{"type": "co_repost", "weight": edge["weight"], "n_shared": edge["n_shared"],
                                  "first_ts": edge["first_ts"], "last_ts": edge["last_ts"]}]
    # the struct's figures are the edge's columns, not copies of them
    assert edges["types"].num_chunks == edges["weight"].num_chunks == 1
    items = edges["types"].chunk(0).values
    for name in ("weight", "n_shared", "first_ts", "last_ts"):
        assert items.field(name).buffers()[1].address == edges[name].chunk(0).buffers()[1].address


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


def test_a_partition_paired_in_slices_keeps_disjoint_pairs_that_make_the_whole():
    import numpy as np
    import polars as pl

    from rallypoint.detectors.coaction.pairs import window_ends
    from rallypoint.detectors.coaction.partition import PartShares, coact_codes

    rng = np.random.default_rng(3)
    n = 3_000  # one target shared by hundreds of accounts within minutes
    time = np.sort(rng.integers(0, 600_000_000, n))
    group = np.zeros(n, np.int64)
    account = rng.integers(0, 400, n)
    kind = np.zeros(n, np.int64)
    window = np.array([60_000_000])
    ends = window_ends(group, time, window[kind])

    def pairs(k: int, slices: int):
        part = PartShares(group, account, time, kind, 400, 1, 1, k, slices)
        return coact_codes(part, window, 100, None, ends=ends)

    whole = pairs(0, 1)
    sliced = [pairs(k, 3) for k in range(3)]
    keys = [set(r.pairs["pair_kind"].to_list()) for r in sliced]
    assert all(keys) and not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    assert pl.concat([r.pairs for r in sliced]).sort("pair_kind", "group").equals(whole.pairs)
    assert np.array_equal(np.logical_or.reduce([r.in_pair for r in sliced]), whole.in_pair)
    assert all(r.share_counts is None for r in sliced)
    assert sum(r.figures["pairs_formed"] for r in sliced) == whole.figures["pairs_formed"]
    assert [r.figures["pairs_in_window"] for r in sliced] == [whole.figures["pairs_in_window"], 0, 0]


@pytest.mark.parametrize("n_groups", [50, 2**40])  # the second overflows the one-key sort
def test_pair_rows_reduce_to_a_row_per_key_and_then_per_pair_as_a_group_by_would(n_groups):
    """The compiled passes over sorted pair rows give what a group-by gives: one row per
    (pair_kind, group) with its pairs counted, then one per pair_kind over its targets."""
    import numpy as np
    import polars as pl

    from rallypoint.detectors.coaction.partition import _reduce_chunk, _reduce_runs
    from rallypoint.detectors.coaction.reduce import per_type_sums

    rng = np.random.default_rng(4)
    n = 20_000
    pair_kind = rng.integers(0, 300, n) * (2**20 if n_groups > 2**32 else 1)
    group = rng.integers(0, 50, n)
    first = rng.integers(0, 10**9, n)
    last = first + rng.integers(0, 10**6, n)
    rows = pl.DataFrame({"pair_kind": pair_kind, "group": group, "first": first, "last": last})
    want = rows.group_by("pair_kind", "group").agg(pairs=pl.len().cast(pl.Int64), first=pl.col("first").min(),
                                                   last=pl.col("last").max()).sort("pair_kind", "group")
    got = _reduce_chunk(pair_kind, group, first, last, n_groups)
    assert [list(c) for c in got] == [want[c].to_list() for c in ("pair_kind", "group", "pairs", "first", "last")]
    # chunks merged: counts add up, first/last are the min/max over the chunks
    halves = [_reduce_chunk(*(c[part] for c in (pair_kind, group, first, last)), n_groups)
              for part in (slice(0, n // 2), slice(n // 2, n))]
    merged = _reduce_runs(*(np.concatenate(c) for c in zip(*halves, strict=True)), n_groups)
    assert [list(c) for c in merged] == [list(c) for c in got]
    chance = rng.uniform(0, 0.1, 50)
    sums = per_type_sums(want, chance)
    by_pair = want.with_columns(q=pl.Series(chance[want["group"].to_numpy()])).group_by("pair_kind").agg(
        weight=pl.col("pairs").sum(), n_shared=pl.len().cast(pl.Int64), first=pl.col("first").min(),
        last=pl.col("last").max(), met_chance=pl.col("q").sum()).sort("pair_kind")
    for column in ("pair_kind", "weight", "n_shared", "first", "last"):
        assert getattr(sums, column).tolist() == by_pair[column].to_list(), column
    np.testing.assert_allclose(sums.met_chance, by_pair["met_chance"].to_numpy())
