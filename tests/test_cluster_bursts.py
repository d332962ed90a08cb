"""Per-cluster bursts: which target a cluster co-shared most, and under which type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from rallypoint.detectors.cluster_bursts import cluster_bursts

T0 = datetime(2021, 1, 5, 12, tzinfo=UTC)


def evidence(kinds_first: list[str]) -> pl.DataFrame:
    """Cluster 7 reposted post p1 four times (each a co_repost and a co_engage action)
    and replied to p2 twice; ``kinds_first`` orders the rows by type."""
    rows = []
    for k in range(4):
        for kind in kinds_first:
            rows.append((7, f"r{k}", f"a{k}", T0 + timedelta(seconds=20 * k), f"coaction:{kind}", "p1"))
    rows += [(7, f"q{k}", f"a{k}", T0 + timedelta(hours=1, seconds=k), "coaction:co_reply", "p2") for k in range(2)]
    return pl.DataFrame(rows, schema={"cluster_id": pl.Int64, "id": pl.String, "account_id": pl.String,
                                      "timestamp": pl.Datetime("us", "UTC"), "kind": pl.String, "target": pl.String},
                        orient="row")


@pytest.mark.parametrize("order", [["co_repost", "co_engage"], ["co_engage", "co_repost"]])
@pytest.mark.parametrize("seed", range(10))
def test_the_top_target_is_named_by_its_narrower_type_whatever_the_row_order(order, seed):
    found = cluster_bursts(evidence(order).sample(fraction=1.0, shuffle=True, seed=seed)).row(0, named=True)
    assert (found["top_target"], found["top_target_count"]) == ("p1", 4)
    assert found["top_target_type"] == "co_repost"
    assert found["n_coaction_accounts"] == 4
