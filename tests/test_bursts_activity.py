"""Bursts in binned activity: found where activity jumps above its usual rate for the hour, not at daily peaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from rallypoint.detectors import bursts as bursts_module
from rallypoint.detectors.bursts import BurstInputError, burst_synchrony, detect_activity_bursts

MINUTE_US = 60_000_000
START = np.datetime64("2021-01-01T00:00", "us")


def organic_days(days: int, seed: int, peak_per_minute: float = 0.3) -> np.ndarray:
    """Poisson activity with a strong daily cycle: quiet nights, busy afternoons."""
    rng = np.random.default_rng(seed)
    minutes = days * 24 * 60
    hour = (np.arange(minutes) // 60) % 24
    rate = 0.01 + peak_per_minute * (np.sin((hour - 9) / 24 * 2 * np.pi) + 1) / 2
    counts = rng.poisson(rate)
    offsets = np.repeat(np.arange(minutes), counts) * MINUTE_US + rng.integers(0, MINUTE_US, counts.sum())
    return START + offsets.astype("timedelta64[us]")


def planted_burst(at_minute: int, n: int, minutes: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    offsets = at_minute * MINUTE_US + rng.integers(0, minutes * MINUTE_US, n)
    return START + offsets.astype("timedelta64[us]")


def as_dt(minute: int) -> datetime:
    return datetime(2021, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)


def test_a_planted_burst_is_found_where_it_was_planted():
    burst_at = 20 * 24 * 60 + 3 * 60  # day 20, 03:00, a quiet hour
    times = np.concatenate([organic_days(30, seed=1), planted_burst(burst_at, 120, 15, seed=2)])
    found = detect_activity_bursts(times)
    assert len(found) == 1
    (burst,) = found
    assert burst["level"] == 1
    assert abs(burst["start"] - as_dt(burst_at)) <= timedelta(minutes=2)
    assert abs(burst["end"] - as_dt(burst_at + 15)) <= timedelta(minutes=2)


def test_daily_peaks_are_not_bursts_with_a_seasonal_baseline_but_are_with_a_flat_one():
    times = organic_days(30, seed=3)
    assert detect_activity_bursts(times) == []
    flat = detect_activity_bursts(times, seasonal=False)
    assert len(flat) >= 20  # nearly every afternoon looks like a burst against the daily mean


def test_more_levels_nest_inside_the_first():
    burst_at = 10 * 24 * 60 + 2 * 60
    times = np.concatenate(
        [
            organic_days(15, seed=4),
            planted_burst(burst_at, 60, 30, seed=5),  # a burst ...
            planted_burst(burst_at + 10, 300, 5, seed=6),  # ... with a sharper core
        ]
    )
    found = detect_activity_bursts(times, n_levels=3)
    levels = {b["level"] for b in found}
    assert levels == {1, 2}
    outer = [b for b in found if b["level"] == 1]
    inner = [b for b in found if b["level"] == 2]
    assert all(any(o["start"] <= i["start"] and i["end"] <= o["end"] for o in outer) for i in inner)


def test_input_kinds_agree():
    times = np.concatenate([organic_days(3, seed=7), planted_burst(30 * 60, 80, 10, seed=8)])
    expected = detect_activity_bursts(times)
    arrow = pa.array(times, pa.timestamp("us", tz="UTC"))
    with_null = pa.concat_arrays([arrow, pa.nulls(1, pa.timestamp("us", tz="UTC"))])
    assert detect_activity_bursts(arrow) == expected
    assert detect_activity_bursts(pa.chunked_array([with_null])) == expected
    assert detect_activity_bursts(list(times.astype(datetime))) == expected
    assert expected and expected[0]["start"].tzinfo is not None


def test_a_stray_timestamp_decades_away_is_refused_not_allocated():
    times = np.concatenate([organic_days(1, seed=15), np.array(["1971-01-01T00:00"], dtype="datetime64[us]")])
    with pytest.raises(BurstInputError, match="wider bin"):
        detect_activity_bursts(times, max_bins=1_000_000)
    assert isinstance(detect_activity_bursts(times, bin="1D"), list)


def test_few_events_give_no_bursts():
    assert detect_activity_bursts(planted_burst(0, 3, 1, seed=9)) == []
    assert detect_activity_bursts(np.array([], dtype="datetime64[us]")) == []


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"bin": "soon"}, "bin width"), ({"s": 1.0}, "greater than 1"), ({"gamma": -1}, "positive"), ({"n_levels": 1}, "2 levels")],
)
def test_bad_parameters_are_one_clear_sentence(kwargs, words):
    with pytest.raises(BurstInputError, match=words):
        detect_activity_bursts(organic_days(1, seed=10), **kwargs)


@pytest.mark.parametrize("rate", [0.02, 0.3, 4.0])
def test_the_decoder_finds_a_planted_stretch(rate):
    rng = np.random.default_rng(11)
    counts = rng.poisson(rate, 5000).astype(float)
    counts[2000:2040] += rng.poisson(3 + 2 * rate, 40)
    baseline = np.full(counts.size, rate) * (1 + 0.5 * np.sin(np.arange(counts.size) / 300))
    path = bursts_module._poisson_viterbi(counts, baseline, 2.0, 1.0, 2)
    assert path[2000:2040].all()


# --- synchrony -----------------------------------------------------------------------------

def test_synchrony_of_a_lockstep_group():
    burst_at = 5 * 24 * 60 + 4 * 60
    quiet = organic_days(7, seed=12, peak_per_minute=0.05)
    lockstep = START + (burst_at * MINUTE_US + np.arange(0, 200) * 3_000_000).astype("timedelta64[us]")  # every 3 s
    times = np.concatenate([quiet, lockstep])
    accounts = np.array([f"q{i % 50}" for i in range(quiet.size)] + [f"m{i % 20}" for i in range(lockstep.size)])
    found = detect_activity_bursts(times)
    got = burst_synchrony(times, accounts, found)
    assert got["n_bursts"] == 1
    assert got["n_members"] == 70
    assert got["main_burst_actions"] >= 200
    # the 20 lockstep members, plus the few organic accounts that happened to act in the window
    assert 20 / 70 <= got["members_in_main_burst_share"] <= 25 / 70
    assert got["actions_in_bursts_share"] == pytest.approx(got["main_burst_actions"] / times.size)
    assert got["median_member_gap_s"] == pytest.approx(3.0, abs=0.5)


def test_synchrony_without_bursts_is_zero_not_an_error():
    times = organic_days(2, seed=13)
    got = burst_synchrony(times, ["a"] * times.size, [])
    assert got["n_bursts"] == 0 and got["actions_in_bursts_share"] == 0.0 and got["median_member_gap_s"] is None


def test_synchrony_refuses_unpaired_inputs():
    with pytest.raises(BurstInputError, match="pair up"):
        burst_synchrony(organic_days(1, seed=14)[:5], ["a", "b"], [])
