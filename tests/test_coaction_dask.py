"""Co-action's partitions as tasks on a ``distributed`` cluster give what the in-process runner gives."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from rallypoint.detectors.coaction import CoactionError, build_coaction_edges
from rallypoint.schema import RECORD_SCHEMA

T0 = datetime(2021, 1, 5, tzinfo=UTC)
CALL = "everyone to the capitol on the sixth bring flags and friends"
KWARGS = {"types": None, "window": "auto", "min_participation": 2, "null_model": "permutation",
          "significance": 0.05, "pair_budget": 200}


def mixed_records(seed: int = 3, noise: int = 300) -> pa.Table:
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
    for k in range(noise):
        t = T0 + timedelta(seconds=float(rng.uniform(0, 6 * 3_600)))
        rows.append({"id": f"n{k}", "account_id": f"user{k % 90}", "timestamp": t, "action": "repost",
                     "target_id": f"seed{k % 6}"})
    for row in rows:
        row["platform"] = "x"
    return pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)


def assert_same(local, remote):
    assert pl.from_arrow(local.edges).equals(pl.from_arrow(remote.edges))
    assert pl.from_arrow(local.actions_table()).equals(pl.from_arrow(remote.actions_table()))
    assert local.window_seconds == remote.window_seconds
    for key in ("pairs_in_window", "pairs_formed", "pairs_capped", "targets_capped", "share_events",
                "partitions", "candidate_edges", "per_type_candidate_edges"):
        assert local.stats[key] == remote.stats[key]


@pytest.mark.slow
def test_partitions_on_two_worker_processes_match_the_in_process_run(local_cluster):
    table = mixed_records()
    local = build_coaction_edges(table, **KWARGS)
    remote = build_coaction_edges(table, scheduler=local_cluster.scheduler_address, **KWARGS)
    assert local.stats["partitions"] > 4 and local.edges.num_rows >= 28  # the cell's 8 * 7 / 2 pairs at least
    assert local.stats["spilled_rows"] > 0 and remote.stats["spilled_rows"] == 0
    assert_same(local, remote)


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_replaced_and_the_run_finishes(local_cluster):
    """Dask re-runs a lost worker's tasks elsewhere: the result is the in-process one."""
    from distributed import Client

    table = mixed_records(noise=3_000)
    local = build_coaction_edges(table, **KWARGS)
    with Client(local_cluster.scheduler_address, set_as_default=False) as client:
        killed = []

        def kill_when_busy():
            for _ in range(400):
                if any(client.processing().values()):
                    victim = next(iter(local_cluster.workers.values()))
                    os.kill(victim.process.process.pid, signal.SIGKILL)
                    killed.append(True)
                    return
                time.sleep(0.01)

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        remote = build_coaction_edges(table, scheduler=client, **KWARGS)
        killer.join()
        client.wait_for_workers(2, timeout=120)  # its nanny restarts it: the shared cluster is whole again
    assert killed
    assert_same(local, remote)


def test_an_unreachable_scheduler_is_one_clear_sentence():
    with pytest.raises(CoactionError, match="Cannot reach the Dask scheduler"):
        build_coaction_edges(mixed_records(), scheduler="tcp://127.0.0.1:9", **KWARGS)


def test_a_cluster_that_fails_a_task_is_one_clear_sentence():
    """A task Dask gives up on (its workers died too often) is the command's one sentence."""
    from types import SimpleNamespace

    from distributed import KilledWorker

    class FailingClient:
        def scheduler_info(self):
            return {"workers": {}}

        def submit(self, function, *args, **kwargs):
            raise KilledWorker(f"{function.__name__}-1", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)

    with pytest.raises(CoactionError, match=r"^Co-action failed on the Dask cluster \(KilledWorker"):
        build_coaction_edges(mixed_records(), scheduler=FailingClient(), **KWARGS)

    # an error that is not the cluster's is not hidden behind that sentence
    class BrokenClient(FailingClient):
        def submit(self, function, *args, **kwargs):
            raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        build_coaction_edges(mixed_records(), scheduler=BrokenClient(), **KWARGS)


@pytest.mark.slow
def test_a_partition_fits_a_quarter_of_the_smallest_worker(local_cluster):
    from distributed import Client

    from rallypoint.detectors.coaction.engine import TASK_BYTES_PER_PAIR, partition_budget

    with Client(local_cluster.scheduler_address, set_as_default=False) as client:
        limit = min(w["memory_limit"] / w["nthreads"] for w in client.scheduler_info()["workers"].values())
        fits = int(limit / 4 / TASK_BYTES_PER_PAIR)
        assert partition_budget(client, None) == fits
        assert partition_budget(client, 10**15) == fits
        assert partition_budget(client, 1_000) == 1_000
    assert partition_budget(None, 10**15) == 10**15


def test_dask_reckons_a_partitions_results_by_their_arrays():
    """A worker spills by the sizes Dask reckons: a partition's sums held as a few bytes would
    never be spilled, and the nanny would restart the worker at its memory limit instead."""
    from dask.sizeof import sizeof

    from rallypoint.detectors.coaction.engine import PartitionResult
    from rallypoint.detectors.coaction.partition import PartShares
    from rallypoint.detectors.coaction.reduce import Candidates, PerType

    n = 100_000
    sums = PerType(*(np.zeros(n, dtype=np.int64) for _ in range(6)))
    assert sizeof(sums) >= 6 * 8 * n
    counts = pl.DataFrame({"group": np.zeros(n, dtype=np.int64), "account": np.zeros(n, dtype=np.int64)})
    result = PartitionResult(sums, counts, np.zeros(n, dtype=bool), {"pairs": 1})
    assert sizeof(result) >= 6 * 8 * n + 2 * 8 * n + n
    assert sizeof(Candidates(sums, np.zeros(3, dtype=np.int64), 1, np.zeros(3, dtype=np.int64))) >= 6 * 8 * n
    part = PartShares(*(np.zeros(n, dtype=np.int64) for _ in range(4)), n_accounts=1, n_kinds=1, n_groups=1)
    assert sizeof(part) >= 4 * 8 * n
