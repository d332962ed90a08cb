"""The co-action window: fixed durations and CooRnet's estimate."""

from __future__ import annotations

import numpy as np
import pytest

from rallypoint.detectors.window import (
    FALLBACK_SECONDS,
    MIN_TARGETS,
    WindowError,
    estimate_window,
    parse_window,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60.0), ("60", 60.0), (60, 60.0), (2.5, 2.5), ("2m", 120.0), ("1h", 3600.0), ("500ms", 0.5), (" 10 s ", 10.0)],
)
def test_fixed_windows_are_seconds(text, seconds):
    assert parse_window(text) == seconds


def test_auto_stays_auto():
    assert parse_window("AUTO") == "auto"


@pytest.mark.parametrize("bad", ["soon", "-5s", "0s", "5 parsecs", True])
def test_bad_windows_are_one_clear_sentence(bad):
    with pytest.raises(WindowError):
        parse_window(bad)


def test_estimate_is_the_time_fast_targets_take_to_gather_half_their_shares():
    rng = np.random.default_rng(0)
    targets, times = [], []
    # 30 fast targets (second share 1 s after the first): half of 10 shares within 20 s
    for k in range(30):
        targets += [k] * 10
        times += [0, 1, 5, 10, 20, 400, 900, 1_500, 2_000, 3_000]
    # 270 slow ones: shares spread over a day
    for k in range(30, 300):
        targets += [k] * 10
        times += sorted(rng.uniform(0, 86_400, 10))
    seconds = estimate_window(np.array(targets), (np.array(times) * 1e6).astype(np.int64))
    assert seconds == pytest.approx(20.0)


def test_estimate_falls_back_with_too_few_targets():
    targets = np.repeat(np.arange(MIN_TARGETS - 1), 2)
    times = np.tile(np.array([0, 5_000_000]), MIN_TARGETS - 1)
    assert estimate_window(targets, times) == FALLBACK_SECONDS


def test_estimate_is_clipped():
    targets = np.repeat(np.arange(50), 2)
    simultaneous = np.zeros(100, dtype=np.int64)
    assert estimate_window(targets, simultaneous) == 1.0
    three_days = 3 * 86_400 * 1_000_000
    targets = np.repeat(np.arange(50), 4)
    days_apart = np.tile(np.array([0, three_days, three_days, three_days]), 50)
    assert estimate_window(targets, days_apart) == 3600.0
