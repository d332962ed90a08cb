"""The Dask plan gives what the in-process path gives, on local threads and on a distributed client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dask.dataframe as dd
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from rallypoint.detectors.coaction import build_coaction_edges
from rallypoint.schema import RECORD_SCHEMA

T0 = datetime(2021, 1, 5, tzinfo=UTC)
CALL = "everyone to the capitol on the sixth bring flags and friends"


def mixed_records(seed: int = 3) -> pa.Table:
    """A cell that reposts, links, tags, mentions, posts images and near-identical text in sync, plus noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for burst in range(6):
        start = 3_600 * burst
        for k in range(8):
            t = T0 + timedelta(seconds=start + float(rng.uniform(0, 40)))
            account = f"cell{k}"
            rows.append({"id": f"rp{burst}-{k}", "account_id": account, "timestamp": t, "action": "repost",
                         "target_id": f"seed{burst}"})
            rows.append({"id": f"po{burst}-{k}", "account_id": account, "timestamp": t, "action": "post",
                         "text": f"{CALL} {'!' * k} wave {burst}", "urls": [f"https://ex.org/{burst}"],
                         "hashtags": ["StopTheSteal", f"J{burst}"], "mentions": ["@Official"],
                         "media": [f"img{burst}"]})
    for k in range(300):
        t = T0 + timedelta(seconds=float(rng.uniform(0, 6 * 3_600)))
        rows.append({"id": f"n{k}", "account_id": f"user{k % 90}", "timestamp": t, "action": "repost",
                     "target_id": f"seed{k % 6}"})
    for row in rows:
        row["platform"] = "x"
    return pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)


def as_dask(table: pa.Table, partitions: int) -> dd.DataFrame:
    return dd.from_pandas(table.to_pandas(types_mapper=pd.ArrowDtype), npartitions=partitions)


def assert_same(local, distributed):
    a, b = pl.from_arrow(local.edges), pl.from_arrow(distributed.edges)
    assert a.select("account_a", "account_b", "weight", "n_shared", "types").equals(
        b.select("account_a", "account_b", "weight", "n_shared", "types")
    )
    for column in ("expected_weight", "p_value", "strength"):
        x, y = a[column].to_numpy(), b[column].to_numpy()
        assert np.allclose(x, y, rtol=1e-9, equal_nan=True)
    assert pl.from_arrow(local.actions).equals(pl.from_arrow(distributed.actions))
    assert local.window_seconds == pytest.approx(distributed.window_seconds)
    for key in ("pairs_in_window", "pairs_formed", "pairs_capped", "targets_capped", "share_events"):
        assert local.stats[key] == distributed.stats[key]


@pytest.mark.slow
def test_dask_plan_matches_the_local_path_on_every_type():
    table = mixed_records()
    kwargs = {"types": None, "window": "auto", "min_participation": 2, "null_model": "permutation"}
    local = build_coaction_edges(table, **kwargs)
    distributed = build_coaction_edges(as_dask(table, 3), **kwargs)
    assert local.edges.num_rows >= 28  # the cell's 8 * 7 / 2 pairs at least
    assert_same(local, distributed)


@pytest.mark.slow
def test_dask_plan_on_a_distributed_client(reference_dir):
    from distributed import Client, LocalCluster
    from test_peers import coortweet_records

    table = coortweet_records(pl.read_csv(reference_dir / "coortweet" / "russian_coord_tweets.csv.gz"))
    kwargs = {"types": ["co_repost"], "window": "60s", "min_participation": 2, "null_model": "none"}
    local = build_coaction_edges(table, **kwargs)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster):
        distributed = build_coaction_edges(as_dask(table, 4), **kwargs)
    assert distributed.edges.num_rows == 3721
    assert_same(local, distributed)
