"""Communities: Leiden (CPM, modularity) and components on the co-action graph."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from rallypoint.detectors.communities import (
    SURE_P_VALUE,
    CommunityError,
    cpm_weights,
    find_communities,
    normalized_mutual_information,
)
from rallypoint.errors import RallypointError


def edge_table(a, b, weight=None, strength=None, p_value=None) -> pa.Table:
    n = len(a)
    columns = {
        "account_a": pa.array([str(x) for x in a]),
        "account_b": pa.array([str(x) for x in b]),
        "weight": pa.array(np.ones(n, dtype=np.int64) if weight is None else weight, pa.int64()),
        "strength": pa.array(strength, pa.float64()) if strength is not None else pa.nulls(n, pa.float64()),
    }
    if p_value is not None:
        columns["p_value"] = pa.array(p_value, pa.float64())
    return pa.table(columns)


def planted_groups(sizes, p_in, n_noise_edges, seed):
    """Dense groups of strongly coordinated accounts plus weak random edges between everyone."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    n = len(labels)
    a, b = np.triu_indices(n, k=1)
    same = labels[a] == labels[b]
    keep = same & (rng.random(len(a)) < p_in)
    noise = rng.choice(np.flatnonzero(~same), size=n_noise_edges, replace=False)
    strength = np.concatenate([rng.uniform(20, 200, keep.sum()), rng.uniform(1, 3, n_noise_edges)])
    a = np.concatenate([a[keep], a[noise]])
    b = np.concatenate([b[keep], b[noise]])
    names = np.array([f"acct{i:04d}" for i in range(n)])
    return edge_table(names[a], names[b], strength=strength), dict(zip(names, labels, strict=True))


@pytest.fixture(scope="module")
def email_eu_core(reference_dir):
    folder = reference_dir / "communities"
    emails = np.loadtxt(folder / "email-Eu-core.txt", dtype=np.int64)
    departments = np.loadtxt(folder / "email-Eu-core-department-labels.txt", dtype=np.int64)
    emails = emails[emails[:, 0] != emails[:, 1]]  # self-loops removed, as in the reference
    pairs = np.unique(np.sort(emails, axis=1), axis=0)
    return edge_table(pairs[:, 0], pairs[:, 1]), dict(departments)


def test_modularity_leiden_recovers_email_eu_core_departments_like_the_reference(email_eu_core):
    edges, department = email_eu_core
    scores = []
    for seed in range(3):
        found = find_communities(edges, objective="modularity", min_size=1, seed=seed)
        accounts = np.array(found.graph.accounts.to_pylist(), dtype=np.int64)
        truth = np.array([department[a] for a in accounts])
        scores.append(normalized_mutual_information(truth, found.membership))
    # reference: igraph Leiden (modularity) 0.586, networkx Louvain 0.569
    assert np.mean(scores) >= 0.55


def test_cpm_default_recovers_planted_coordinated_groups_among_chance_edges():
    edges, truth = planted_groups([40, 25, 12, 6], p_in=0.5, n_noise_edges=150, seed=3)
    found = find_communities(edges)
    accounts = found.graph.accounts.to_pylist()
    nmi = normalized_mutual_information(np.array([truth[a] for a in accounts]), found.membership)
    assert nmi >= 0.95
    assert found.n_communities == 4


def test_cpm_weight_is_strength_times_the_pair_tests_certainty():
    edges = edge_table(["a"] * 5, ["b", "c", "d", "e", "f"], strength=[20.0, 20.0, 20.0, 5.0, 20.0],
                       p_value=[SURE_P_VALUE / 10, SURE_P_VALUE, 0.01, SURE_P_VALUE, None])
    assert cpm_weights(edges) == pytest.approx([1.0, 1.0, 0.5, 0.5, 1.0])


def test_weakly_significant_pairs_do_not_merge_a_campaign_with_the_accounts_it_reposted():
    # a campaign (a dense group of surely coordinated pairs) and a clique of news bots, joined by
    # pairs that each met once or twice where chance gives a fifth of a meeting: far above chance
    # (strength 15, full weight by strength alone), and barely significant (p 0.008)
    campaign, bots = [f"m{i:02d}" for i in range(20)], [f"bot{i}" for i in range(8)]
    rng = np.random.default_rng(7)
    inside = [(x, y) for group in (campaign, bots) for i, x in enumerate(group) for y in group[i + 1:]
              if group is bots or rng.random() < 0.5]
    between = [(campaign[k], bots[k % 8]) for k in range(13)]
    a, b = zip(*inside, *between, strict=True)
    strength = [50.0] * len(inside) + [15.0] * len(between)
    p_value = [1e-9] * len(inside) + [0.008] * len(between)

    def groups(edges):
        found = find_communities(edges)
        label = dict(zip(found.graph.accounts.to_pylist(), found.membership, strict=True))
        return {label[x] for x in campaign}, {label[x] for x in bots}

    # without the test's certainty the 13 pairs outweigh CPM's 0.05 x 20 x 8 and the groups merge
    assert groups(edge_table(a, b, strength=strength)) == ({0}, {0})
    in_campaign, in_bots = groups(edge_table(a, b, strength=strength, p_value=p_value))
    assert len(in_campaign) == 1 and len(in_bots) == 1 and in_campaign != in_bots


def test_communities_are_reproducible_for_a_seed():
    edges, _ = planted_groups([30, 30, 30], p_in=0.3, n_noise_edges=300, seed=5)
    first = find_communities(edges, objective="modularity", seed=11).membership
    again = find_communities(edges, objective="modularity", seed=11).membership
    assert np.array_equal(first, again)


def test_components_mode_and_minimum_size():
    # a triangle, a separate pair, and a path of four accounts
    edges = edge_table(["a", "b", "a", "x", "p", "q", "r"], ["b", "c", "c", "y", "q", "r", "s"])
    found = find_communities(edges, objective="components")
    members = found.members().to_pydict()
    groups: dict[int, set[str]] = {}
    for community, account in zip(members["community"], members["account_id"], strict=True):
        groups.setdefault(community, set()).add(account)
    # largest first; the pair x-y is too small to be a network
    assert groups == {0: {"p", "q", "r", "s"}, 1: {"a", "b", "c"}}
    assert found.membership[found.graph.accounts.to_pylist().index("x")] == -1


def test_empty_edge_table_gives_no_communities():
    found = find_communities(edge_table([], []))
    assert found.n_communities == 0
    assert found.members().num_rows == 0


@pytest.mark.parametrize(
    "kwargs", [{"objective": "louvain"}, {"resolution": 0.0}, {"resolution": -1.0}]
)
def test_bad_parameters_raise_one_clear_sentence(kwargs):
    edges, _ = planted_groups([5, 5], p_in=1.0, n_noise_edges=2, seed=0)
    with pytest.raises(CommunityError) as info:
        find_communities(edges, **kwargs)
    assert isinstance(info.value, RallypointError)
    assert str(info.value).endswith(".")
