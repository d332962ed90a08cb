"""When simulated people act: daily rhythm and reaction delays.

* :func:`diurnal_times` draws times over the world's span following a daily
  activity curve in the poster's local time (quiet at night, busy evenings).
* :func:`lognormal_delays` draws reaction delays: people repost minutes to hours
  after the original (log-normal, as measured for retweet cascades), while bots
  and coordinated members react within seconds; callers pick median and spread.

Both are vectorized numpy draws, O(n).
"""

from __future__ import annotations

import numpy as np

DAY = 86_400
HOUR = 3_600

#: Relative activity per local hour 0..23.
HOURLY_ACTIVITY = np.array([0.35, 0.22, 0.15, 0.1, 0.1, 0.15, 0.3, 0.55, 0.8, 0.9, 1.0, 1.0,
                            1.05, 1.0, 1.0, 1.0, 1.05, 1.15, 1.3, 1.45, 1.5, 1.35, 1.0, 0.6])
HOURLY_P = HOURLY_ACTIVITY / HOURLY_ACTIVITY.sum()
#: UTC offset in hours of the typical speaker of each language in the simulation.
UTC_OFFSET = {"en": -5, "pt": -3, "es": -3}


def diurnal_times(rng: np.random.Generator, n: int, start: int, days: int, utc_offset: int | np.ndarray = 0) -> np.ndarray:
    """``n`` epoch seconds within [start, start + days*DAY) following :data:`HOURLY_ACTIVITY`."""
    day = rng.integers(0, days, n)
    hour = rng.choice(24, size=n, p=HOURLY_P)
    second = rng.integers(0, HOUR, n)
    offset = (day * DAY + (hour - np.asarray(utc_offset)) * HOUR + second) % (days * DAY)
    return start + offset.astype(np.int64)


def lognormal_delays(rng: np.random.Generator, n: int, median_s: float, sigma: float,
                     low_s: float = 1.0, high_s: float | None = None) -> np.ndarray:
    """``n`` delays in whole seconds, log-normal with ``median_s`` and ``sigma``, clipped."""
    delays = rng.lognormal(np.log(median_s), sigma, n)
    delays = np.clip(delays, low_s, high_s if high_s is not None else np.inf)
    return delays.astype(np.int64)
