"""The co-action window: parse a fixed one, or estimate it from the data as CooRnet does.

What it computes
    ``parse_window("60s")`` -> 60.0 seconds (also ``"2m"``, ``"1h"``, ``"500ms"``,
    plain numbers). ``estimate_window(targets, times)`` -> a window in seconds
    estimated from how fast targets are shared, following CooRnet's
    ``estimate_coord_interval`` (Giglietto, Righetti, Rossi & Marino 2020): among the
    targets shared at least twice, take the ``quickest`` fraction by delay from the
    first to the second share (the targets whose sharing starts fastest); the window
    is the median, over those targets, of the time they took to gather the
    ``share_fraction`` of their shares. Unusually fast co-sharing is thus defined
    relative to how fast things normally travel in this very data set.

Parameters
    ``quickest`` (CooRnet's q, default 0.1) and ``share_fraction`` (CooRnet's p,
    default 0.5). The estimate is clipped to ``[min_seconds, max_seconds]`` (1 s and
    1 h by default) so a degenerate data set (everything at once, or one share per
    hour) still yields a usable window; with fewer than ``MIN_TARGETS`` (20) targets
    shared twice the window is ``FALLBACK_SECONDS`` (60 s).

Cost
    One sort of the shares by (target, time): ``O(n log n)``.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from rallypoint.errors import RallypointError

_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_WINDOW_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$")
AUTO = "auto"
#: Used when there is too little data to estimate a window (CooRTweet's default is 10 s,
#: the QUT toolkit's 60 s; we take the toolkit's, the more inclusive).
FALLBACK_SECONDS = 60.0
#: Fewer targets shared twice than this, and a quantile of their delays says little.
MIN_TARGETS = 20


class WindowError(RallypointError):
    """The window is neither ``auto`` nor a positive duration."""


def parse_window(window: str | int | float) -> float | str:
    """``"auto"`` stays ``"auto"``; ``"60s"``, ``"2m"``, ``60`` become seconds (float > 0)."""
    if isinstance(window, int | float) and not isinstance(window, bool):
        seconds = float(window)
    elif isinstance(window, str) and window.strip().lower() == AUTO:
        return AUTO
    else:
        match = _WINDOW_RE.match(str(window))
        if not match:
            raise WindowError(
                f"The window {window!r} is not 'auto' or a duration such as 60s, 2m or 1h."
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not seconds > 0:
        raise WindowError(f"The window must be longer than zero seconds, not {window!r}.")
    return seconds


def target_delays(shares: pl.DataFrame, share_fraction: float = 0.5) -> pl.DataFrame:
    """Per target of ``shares`` (columns ``kind``, ``target``, ``time`` in µs) shared at least twice:
    ``kind``, ``n``, ``second_delay`` (first to second share) and ``fraction_delay``
    (first share to the ``ceil(share_fraction * n)``-th), in µs.

    Targets must not straddle partitions when this runs per partition.
    """
    return (
        shares.sort("kind", "target", "time")
        .group_by("kind", "target")
        .agg(
            n=pl.len(),
            second_delay=(pl.col("time").get(1, null_on_oob=True) - pl.col("time").first()),
            fraction_delay=(
                pl.col("time").get((pl.len() * share_fraction).ceil().cast(pl.Int64).clip(1) - 1)
                - pl.col("time").first()
            ),
        )
        .filter(pl.col("n") >= 2)
        .select("kind", "n", "second_delay", "fraction_delay")
    )


def sorted_target_delays(
    groups: np.ndarray, times: np.ndarray, group_kind: np.ndarray, share_fraction: float = 0.5
) -> pl.DataFrame:
    """``target_delays`` for shares already sorted by (group, time) with dense group codes.

    ``groups``: the target code of each share (``0 .. len(group_kind) - 1``), ``times``
    in µs, ``group_kind``: the type code of each target. Same columns and values as
    ``target_delays``, by array indexing: ``O(n)``.
    """
    sizes = np.bincount(groups, minlength=len(group_kind))
    start = np.cumsum(sizes) - sizes
    shared = np.flatnonzero(sizes >= 2)
    n, first = sizes[shared], start[shared]
    nth = np.maximum(np.ceil(n * share_fraction).astype(np.int64), 1) - 1
    return pl.DataFrame(
        {
            "kind": group_kind[shared].astype(np.int32),
            "n": n.astype(np.uint32),
            "second_delay": times[first + 1] - times[first],
            "fraction_delay": times[first + nth] - times[first],
        }
    )


def window_from_delays(
    delays: pl.DataFrame,
    quickest: float = 0.1,
    min_seconds: float = 1.0,
    max_seconds: float = 3600.0,
) -> float:
    """CooRnet's interval from one type's ``target_delays``: the median ``fraction_delay``
    of the ``quickest`` fraction of targets by ``second_delay``, in seconds."""
    if delays.height < MIN_TARGETS:
        return FALLBACK_SECONDS
    cutoff = delays.get_column("second_delay").quantile(quickest, interpolation="lower")
    fast = delays.filter(pl.col("second_delay") <= cutoff)
    seconds = float(fast.get_column("fraction_delay").median()) / 1e6
    return float(np.clip(seconds, min_seconds, max_seconds))


def estimate_window(
    targets: np.ndarray,
    times_us: np.ndarray,
    quickest: float = 0.1,
    share_fraction: float = 0.5,
    min_seconds: float = 1.0,
    max_seconds: float = 3600.0,
) -> float:
    """CooRnet's coordination interval, in seconds, from share targets and times (µs).

    ``targets`` are any codes (one per share), ``times_us`` int64 microseconds.
    Returns ``FALLBACK_SECONDS`` when fewer than ``MIN_TARGETS`` targets are shared twice.
    """
    shares = pl.DataFrame({"kind": np.zeros(len(targets), dtype=np.int32), "target": targets, "time": times_us})
    delays = target_delays(shares, share_fraction)
    return window_from_delays(delays, quickest, min_seconds, max_seconds)
