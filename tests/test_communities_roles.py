"""Member roles: seeders act first, bridges link communities, amplifiers repeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pyarrow as pa

from rallypoint.detectors.communities import find_communities
from rallypoint.detectors.roles import assign_roles, first_actor_counts

T0 = datetime(2021, 1, 1, tzinfo=UTC)


def clique_edges(groups, extra=()):
    a, b = [], []
    for group in groups:
        for i, x in enumerate(group):
            for y in group[i + 1 :]:
                a.append(min(x, y))
                b.append(max(x, y))
    for x, y in extra:
        a.append(min(x, y))
        b.append(max(x, y))
    n = len(a)
    return pa.table(
        {
            "account_a": a,
            "account_b": b,
            "weight": pa.array(np.full(n, 5), pa.int64()),
            "strength": pa.array(np.full(n, 50.0)),
        }
    )


def reposts(account_delays: dict[str, list[int]], n_targets: int):
    """Each account reposts targets t0..t{n-1}; its delay (s) after the post decides who is first."""
    rows = {"type": [], "target": [], "account_id": [], "id": [], "timestamp": []}
    for t in range(n_targets):
        for account, delays in account_delays.items():
            rows["type"].append("repost")
            rows["target"].append(f"t{t}")
            rows["account_id"].append(account)
            rows["id"].append(f"{account}-{t}")
            rows["timestamp"].append(T0 + timedelta(hours=t, seconds=delays[t % len(delays)]))
    return pa.table(rows)


def roles_of(table):
    return dict(zip(table["account_id"].to_list(), table["role"].to_list(), strict=True))


def test_the_account_that_acts_first_is_the_seeder_and_the_others_amplify():
    ring = ["s", "a1", "a2", "a3", "a4"]
    edges = clique_edges([ring])
    communities = find_communities(edges)
    actions = reposts({"s": [0], "a1": [5, 20], "a2": [9, 7], "a3": [11], "a4": [30]}, n_targets=6)
    members = assign_roles(communities, edges["weight"].to_numpy(), actions)
    assert roles_of(members) == {"s": "seeder", "a1": "amplifier", "a2": "amplifier",
                                 "a3": "amplifier", "a4": "amplifier"}
    seeder = members.filter(members["account_id"] == "s")
    assert seeder["n_first"].item() == 6 and seeder["n_targets"].item() == 6
    # inside a 5-clique every member has 4 links of weight 5
    assert set(members["degree"].to_list()) == {4}
    assert set(members["strength"].to_list()) == {20.0}


def test_an_account_linking_two_communities_is_a_bridge():
    left = [f"l{i}" for i in range(6)]
    right = [f"r{i}" for i in range(6)]
    # l0 also coordinates with three accounts of the right-hand ring
    edges = clique_edges([left, right], extra=[("l0", "r0"), ("l0", "r1"), ("l0", "r2")])
    # at density 0.5, 3 links between two 6-rings (density 3/36) do not merge them
    communities = find_communities(edges, resolution=0.5)
    assert communities.n_communities == 2
    members = assign_roles(communities, edges["weight"].to_numpy(), reposts({}, 0))
    roles = roles_of(members)
    assert roles["l0"] == "bridge"
    # r0..r2 have 1 of 6 links outside: 1/6 >= 10 %, so they bridge too; r3..r5 do not
    assert {a for a, r in roles.items() if r == "bridge"} == {"l0", "r0", "r1", "r2"}
    assert all(roles[a] == "amplifier" for a in ["r3", "r4", "r5", "l1"])


def test_first_only_by_chance_is_not_a_seeder():
    ring = ["a", "b", "c", "d"]
    edges = clique_edges([ring])
    # the first actor rotates: each is first on a quarter of the targets
    delays = {"a": [0, 3, 2, 1], "b": [1, 0, 3, 2], "c": [2, 1, 0, 3], "d": [3, 2, 1, 0]}
    members = assign_roles(find_communities(edges), edges["weight"].to_numpy(), reposts(delays, 8))
    assert set(members["role"].to_list()) == {"amplifier"}
    assert members["n_first"].sum() == 8


def test_first_actors_and_targets_counted_as_a_plain_reading_would():
    # ties in time go to the account id first in order; a target one member acted on (however
    # often) does not count; each community counts its own actions on a shared target
    rng = np.random.default_rng(7)
    accounts = [f"acc{i:02d}" for i in range(12)]
    members = pl.DataFrame({"account_id": accounts[:10], "community": [i % 3 for i in range(10)]})
    n = 400
    actions = pl.DataFrame({
        "type": rng.choice(["repost", "reply"], n), "target": [f"t{k}" for k in rng.integers(0, 25, n)],
        "account_id": rng.choice(accounts, n),
        "timestamp": [T0 + timedelta(minutes=int(m)) for m in rng.integers(0, 30, n)],
    })
    community = dict(zip(members["account_id"], members["community"], strict=True))
    groups: dict[tuple, list] = {}
    for kind, target, account, when in actions.iter_rows():
        if account in community:
            groups.setdefault((community[account], kind, target), []).append((when, account))
    n_first = dict.fromkeys(accounts[:10], 0)
    targets: dict[str, set] = {a: set() for a in accounts[:10]}
    for (_, kind, target), acts in groups.items():
        if len({account for _, account in acts}) >= 2:
            n_first[min(acts)[1]] += 1
            for _, account in acts:
                targets[account].add((kind, target))
    got = first_actor_counts(members, actions)
    assert got["account_id"].to_list() == accounts[:10]
    assert dict(zip(got["account_id"], got["n_first"], strict=True)) == n_first
    assert dict(zip(got["account_id"], got["n_targets"], strict=True)) == {a: len(t) for a, t in targets.items()}
    assert sum(n_first.values()) > 20
