"""Inauthenticity cues on hand-made lakes: who the accounts are and how they act, against the lake's background."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from rallypoint.detectors.inauthenticity import KINDS, cluster_inauthenticity

T0 = datetime(2023, 1, 1, tzinfo=UTC)
DAYS = 14


class LakeBuilder:
    """Records, membership and co-action evidence for a few planted groups over ordinary life."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.records: list[dict] = []
        self.members: list[dict] = []
        self.evidence: list[dict] = []
        self.n = 0

    def account(self, name: str, created: datetime, times: list[datetime], cluster: int | None = None,
                inside: int = 0) -> None:
        """``name`` acts at ``times``; the first ``inside`` of them are its cluster's co-actions."""
        if cluster is not None:
            self.members.append({"account_id": name, "cluster_id": cluster})
        for i, t in enumerate(sorted(times)):
            self.n += 1
            rid = f"r{self.n}"
            self.records.append({"id": rid, "account_id": name, "timestamp": t, "account_created_at": created})
            if cluster is not None and i < inside:
                self.evidence.append({"cluster_id": cluster, "id": rid, "account_id": name, "timestamp": t,
                                      "kind": "coaction:co_repost"})

    def random_times(self, k: int) -> list[datetime]:
        return [T0 + timedelta(seconds=float(s)) for s in self.rng.uniform(0, DAYS * 86400, k)]

    def old(self) -> datetime:
        return T0 - timedelta(days=float(self.rng.uniform(200, 4000)))

    def background(self, n: int = 600) -> None:
        for i in range(n):
            self.account(f"org{i}", self.old(), self.random_times(int(self.rng.integers(3, 40))))

    def run(self):
        records = pl.DataFrame(self.records, schema={"id": pl.String, "account_id": pl.String,
                                                     "timestamp": pl.Datetime("us", "UTC"),
                                                     "account_created_at": pl.Datetime("us", "UTC")})
        membership = pl.DataFrame(self.members, schema={"account_id": pl.String, "cluster_id": pl.Int64})
        evidence = pl.DataFrame(self.evidence, schema={"cluster_id": pl.Int64, "id": pl.String,
                                                       "account_id": pl.String,
                                                       "timestamp": pl.Datetime("us", "UTC"), "kind": pl.String})
        scores, rows = cluster_inauthenticity(records.to_arrow(), membership, evidence)
        return {r["cluster_id"]: r for r in scores.iter_rows(named=True)}, rows


FANDOM, NEWCOMERS, RING, SCHEDULED_OLD = 0, 1, 2, 3


@pytest.fixture(scope="module")
def planted():
    b = LakeBuilder()
    b.background()
    for i in range(30):  # fans: years-old accounts living almost only inside their idol's posts
        b.account(f"fan{i}", b.old(), b.random_times(40), FANDOM, inside=36)
    for i in range(30):  # newcomers created within three days, then ordinary lives
        created = T0 - timedelta(days=2) + timedelta(hours=float(b.rng.uniform(0, 72)))
        b.account(f"new{i}", created, [created + timedelta(hours=1)] + b.random_times(39), NEWCOMERS, inside=8)
    for i in range(20):  # a ring made on one day, acting every 12 hours and nothing else
        created = T0 + timedelta(days=1, minutes=float(b.rng.uniform(0, 600)))
        times = [T0 + timedelta(days=2, hours=12 * k, seconds=float(b.rng.uniform(0, 90))) for k in range(24)]
        b.account(f"ring{i}", created, times, RING, inside=24)
    for i in range(10):  # old scheduled accounts (a news aggregator): regular, but years old
        times = [T0 + timedelta(hours=3 * k, seconds=float(b.rng.uniform(0, 30))) for k in range(100)]
        b.account(f"bot{i}", b.old(), times, SCHEDULED_OLD, inside=90)
    return b.run()


def test_a_fandom_is_not_inauthentic(planted):
    scores, _ = planted
    fandom = scores[FANDOM]
    assert fandom["no_life_score"] > 0.8  # they do live inside the idol's posts...
    assert fandom["created_burst_score"] == 0 and fandom["young_score"] == 0  # ...with years-old accounts
    assert fandom["inauthenticity_score"] == 0


def test_a_newcomer_wave_is_not_inauthentic(planted):
    scores, _ = planted
    wave = scores[NEWCOMERS]
    assert wave["created_burst_score"] > 0.9 and wave["young_score"] > 0.9  # a creation burst...
    assert wave["no_life_score"] == 0 and wave["regular_score"] == 0  # ...of people with lives
    assert wave["inauthenticity_score"] < 0.2


def test_a_ring_made_on_one_day_acting_on_a_schedule_is_inauthentic(planted):
    scores, rows = planted
    ring = scores[RING]
    assert ring["n_created_in_burst"] == 20 and ring["burst_p_value"] < 1e-10
    assert ring["regular_score"] > 0.9 and ring["no_life_score"] == 1.0
    assert ring["inauthenticity_score"] > 0.9
    # every cue is checkable: one evidence row per member and cue, on the member's first co-action
    mine = rows.filter(pl.col("cluster_id") == RING)
    for kind in KINDS:
        assert mine.filter(pl.col("kind") == kind)["account_id"].n_unique() == 20, kind
    assert mine["id"].is_not_null().all() and mine["text"].is_not_null().all()


def test_old_scheduled_accounts_are_not_inauthentic(planted):
    scores, _ = planted
    bots = scores[SCHEDULED_OLD]
    assert bots["no_life_score"] == 1.0  # they live inside their shares, on a schedule, but are years old
    assert bots["inauthenticity_score"] == 0


def test_a_few_old_accounts_created_the_same_week_years_ago_are_no_burst():
    b = LakeBuilder(1)
    b.background(2000)
    same_week = T0 - timedelta(days=3000)
    for i in range(20):
        created = same_week if i < 2 else b.old()
        b.account(f"m{i}", created + timedelta(hours=i), b.random_times(10), 0, inside=9)
    scores, _ = b.run()
    assert scores[0]["created_burst_score"] == 0
