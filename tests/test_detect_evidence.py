"""Co-action evidence rows: only actions with another member of the cluster within the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa

from rallypoint.detectors.evidence import coaction_evidence, evidence_counts, signal_evidence
from rallypoint.schema import EVIDENCE_SCHEMA

T0 = datetime(2023, 1, 7, 12, 0, tzinfo=UTC)


def actions(rows):
    return pa.table(
        {
            "type": [r[0] for r in rows],
            "target": [r[1] for r in rows],
            "account_id": [r[2] for r in rows],
            "id": [f"{r[2]}-{r[1]}-{r[3]}" for r in rows],
            "timestamp": pa.array([T0 + timedelta(seconds=r[3]) for r in rows], pa.timestamp("us", tz="UTC")),
        }
    )


MEMBERS = pl.DataFrame({"account_id": ["a", "b", "c", "x"], "cluster_id": [0, 0, 0, 1]})


def test_an_action_counts_only_with_another_member_of_its_cluster_inside_the_window():
    acts = actions([
        ("co_repost", "p1", "a", 0),
        ("co_repost", "p1", "b", 8),      # 8 s after a: kept, and keeps a
        ("co_repost", "p1", "c", 100),    # alone 92 s later: dropped
        ("co_repost", "p1", "x", 9),      # another cluster's member: not evidence for cluster 0
        ("co_repost", "p2", "a", 50),     # a twice on p2, no one else: dropped
        ("co_repost", "p2", "a", 51),
        ("co_link", "u1", "c", 0),        # links use their own, longer window
        ("co_link", "u1", "a", 50),
    ])
    evidence = coaction_evidence(acts, MEMBERS, {"co_repost": 10.0, "co_link": 60.0})
    kept = set(zip(evidence["account_id"], evidence["target"], evidence["kind"], strict=True))
    assert kept == {("a", "p1", "coaction:co_repost"), ("b", "p1", "coaction:co_repost"),
                    ("c", "u1", "coaction:co_link"), ("a", "u1", "coaction:co_link")}
    assert set(evidence["cluster_id"]) == {0}
    assert evidence.columns == EVIDENCE_SCHEMA.names


def test_the_window_is_inclusive():
    acts = actions([("co_repost", "p", "a", 0), ("co_repost", "p", "b", 10)])
    assert coaction_evidence(acts, MEMBERS, 10.0).height == 2
    assert coaction_evidence(acts, MEMBERS, 9.0).height == 0


def test_counts_per_cluster_are_what_the_reasons_say():
    acts = actions([("co_repost", t, a, s) for t, base in (("p1", 0), ("p2", 500)) for a, s in
                    (("a", base), ("b", base + 2), ("c", base + 4))])
    evidence = coaction_evidence(acts, MEMBERS, 5.0)
    signals = pl.DataFrame({
        "cluster_id": [0, 0, 0], "id": ["t1", "t2", "t2"], "account_id": ["a", "b", "b"],
        "timestamp": [T0] * 3, "text": ["Be at the Capitol on the 6th", "stolen!", "stolen!"],
        "call_to_action": [True, False, False], "delegitimization": [False, True, True],
        "matched_call_to_action": [["Be at"], [], []], "matched_delegitimization": [[], ["stolen"], ["stolen"]],
    })
    everything = pl.concat([evidence, signal_evidence(signals)])
    counts = evidence_counts(everything).row(0, named=True)
    assert counts["coaction"] == [{"type": "co_repost", "n_accounts": 3, "n_targets": 2, "n_actions": 6}]
    assert (counts["n_call_to_action"], counts["n_delegitimization"], counts["n_escalation"]) == (1, 1, 0)


def test_rows_are_the_sorted_neighbour_rule_read_plainly():
    # random actions with many ties in time, several types, targets and clusters, and accounts in
    # no cluster: the rows kept, and their order, are those of sorting by (cluster, type, target,
    # time, account) as strings and reading each row's neighbours (no two rows share all five)
    import numpy as np

    rng = np.random.default_rng(3)
    n = 600
    accounts = [f"a{i:02d}" for i in range(14)]
    actions = pl.DataFrame({
        "type": rng.choice(["co_repost", "co_link", "co_reply"], n).tolist(),
        "target": [f"t{k}" for k in rng.integers(0, 20, n)],
        "account_id": rng.choice(accounts, n).tolist(),
        "id": [f"r{i}" for i in range(n)],
        "timestamp": [T0 + timedelta(seconds=10 * int(s)) for s in rng.integers(0, 60, n)],
    }).unique(["type", "target", "account_id", "timestamp"], keep="first", maintain_order=True)
    membership = pl.DataFrame({"account_id": accounts[:12], "cluster_id": [i % 4 for i in range(12)]})
    windows = {"co_repost": 60.0, "co_link": 300.0, "co_reply": 30.0}
    cluster = dict(zip(membership["account_id"], membership["cluster_id"], strict=True))
    rows = sorted((cluster[a], kind, target, when, a, i) for kind, target, a, i, when in actions.iter_rows()
                  if a in cluster)

    def partners(x, y):
        return x[:3] == y[:3] and x[4] != y[4] and abs(x[3] - y[3]) <= timedelta(seconds=windows[x[1]])

    expected = [r[5] for k, r in enumerate(rows)
                if (k > 0 and partners(r, rows[k - 1])) or (k + 1 < len(rows) and partners(r, rows[k + 1]))]
    got = coaction_evidence(actions, membership, windows)
    assert got["id"].to_list() == expected
    assert 50 < len(expected) < len(rows)
