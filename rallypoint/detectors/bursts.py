"""Bursts of activity: Kleinberg's automaton on event times and on binned counts.

Three functions, one job each:

``kleinberg_bursts``
    Kleinberg's infinite-state automaton on the gaps between event times
    (J. Kleinberg, "Bursty and Hierarchical Structure in Streams", KDD 2002, section 2).
    State ``i`` emits gaps from an exponential distribution with rate ``s**i / g``, where
    ``g`` is the mean gap; moving up ``j - i`` states costs ``(j - i) * gamma * ln n``,
    moving down is free. The cheapest state sequence (exact Viterbi decoding) gives nested
    bursts: every maximal run at state >= L is a burst of level L. It reproduces the R
    package ``bursts`` 1.0-2 (``kleinberg(offsets, s, gamma)``) row for row, including its
    choice of the first state among equal costs, its number of states
    ``k = ceil(1 + log_s T + log_s(1 / min gap))`` and its way of reporting a burst from
    the event that opens it to the event that closes it. Time O(n k^2), memory O(n k), for
    n events.

``detect_activity_bursts``
    The same idea on counts per time bin (Kleinberg's discrete, "batched" formulation,
    section 4, with a Poisson rather than binomial emission), which is what a cluster's or a
    target's activity series is. State ``j`` expects ``s**j`` times the baseline count of
    its bin. The baseline is seasonal: an hour-of-day profile of the counts, shrunk toward
    the series' flat rate when few days are seen (a Gamma-Poisson posterior mean), then
    re-estimated once without the bins the first pass called bursts, so that the burst
    being looked for does not inflate its own baseline, and floored at the series' mean
    rate, so that quiet hours do not make a burst sticky. A flat mean baseline calls every
    evening peak of an ordinary account a burst; the seasonal baseline does not. Time
    O(b k^2) compiled steps for k levels, two decoding passes; memory O(b k).

``burst_synchrony``
    How synchronized a group's members are inside those bursts: the share of the group's
    actions inside bursts, the share of members active in the main burst, and the median
    gap between consecutive actions of different members inside bursts. O(n log n).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numba
import numpy as np
import pandas as pd
import pyarrow as pa

from rallypoint.errors import RallypointError

__all__ = [
    "BurstInputError",
    "burst_synchrony",
    "detect_activity_bursts",
    "kleinberg_bursts",
]

_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 24 * _US_PER_HOUR

KLEINBERG_SCHEMA = pa.schema(
    [
        pa.field("level", pa.int64()),
        pa.field("start", pa.float64()),
        pa.field("end", pa.float64()),
    ]
)


class BurstInputError(RallypointError, ValueError):
    """The event times or parameters given to a burst detector cannot be used."""


# --- Kleinberg's automaton on event times ----------------------------------------------


def kleinberg_bursts(offsets: Sequence[float] | np.ndarray, s: float = 2.0, gamma: float = 1.0) -> pa.Table:
    """Nested bursts in a sequence of event times, as R ``bursts::kleinberg`` finds them.

    Parameters
    ----------
    offsets
        Event times (any unit, e.g. seconds); sorted here. Two events at the same time are
        refused, as in R, because a zero gap has no finite cost under the exponential model.
    s
        Rate ratio between consecutive states (> 1). Larger ``s`` needs sharper bursts.
    gamma
        Cost of moving one state up, in units of ``ln n`` (> 0). Larger ``gamma`` needs
        longer bursts.

    Returns
    -------
    pyarrow.Table with ``level`` (int64; 1 is the baseline spanning all events),
    ``start`` and ``end`` (float64 event times), one row per burst in the order the bursts
    open. A single event gives one row with level 0, as R does.
    """
    if not s > 1:
        raise BurstInputError(f"Kleinberg's s must be greater than 1, got {s}.")
    if not gamma > 0:
        raise BurstInputError(f"Kleinberg's gamma must be positive, got {gamma}.")
    times = np.sort(np.asarray(offsets, dtype=np.float64))
    if times.size == 0:
        raise BurstInputError("Kleinberg burst detection needs at least one event time.")
    if not np.all(np.isfinite(times)):
        raise BurstInputError("Kleinberg burst detection got a missing or infinite event time.")
    if times.size == 1:
        return pa.Table.from_pydict(
            {"level": [0], "start": [times[0]], "end": [times[0]]}, schema=KLEINBERG_SCHEMA
        )
    gaps = np.diff(times)
    if np.any(gaps == 0):
        raise BurstInputError(
            "Kleinberg burst detection cannot use two events at the same time "
            f"(first repeated time: {times[1:][gaps == 0][0]:g}); bin the events and use "
            "detect_activity_bursts instead."
        )
    states = _kleinberg_viterbi(gaps, s, gamma)
    return _nested_bursts(states, times)


def _kleinberg_viterbi(gaps: np.ndarray, s: float, gamma: float) -> np.ndarray:
    """The cheapest state (1-based, as in R) for every gap."""
    total = gaps.sum()
    n = gaps.size
    # the same arithmetic as R, so that equal costs stay equal and ties break the same way
    k = math.ceil(1 + math.log(total) / math.log(s) + math.log(1 / gaps.min()) / math.log(s))
    alpha = s ** np.arange(k) / (total / n)
    level = np.arange(k)
    # up_cost[i, j]: cost of moving from state i to state j (zero when going down or staying)
    up_cost = np.where(level[None, :] > level[:, None], (level[None, :] - level[:, None]) * gamma * math.log(n), 0.0)
    cost = np.full(k, np.inf)
    cost[0] = 0.0
    back = np.empty((n, k), dtype=np.int64)
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        for t in range(n):
            candidates = cost[:, None] + up_cost  # [from, to]
            best_from = np.argmin(candidates, axis=0)  # first minimum, like R's which.min
            back[t] = best_from
            # R computes -log(alpha * exp(-alpha * x)); an underflow to 0 is an infinite cost
            cost = candidates[best_from, level] - np.log(alpha * np.exp(-alpha * gaps[t]))
    states = np.empty(n, dtype=np.int64)
    state = int(np.argmin(cost))
    for t in range(n - 1, -1, -1):
        states[t] = state
        state = int(back[t, state])
    return states + 1


def _nested_bursts(states: np.ndarray, times: np.ndarray) -> pa.Table:
    """Every maximal run at state >= L is a burst of level L, from its opening event to its closing one."""
    levels: list[int] = []
    starts: list[float] = []
    ends: list[float] = []
    open_rows: list[int] = []  # a stack: the innermost open burst is last
    previous = 0
    for t, state in enumerate(states.tolist()):
        for new_level in range(previous + 1, state + 1):
            open_rows.append(len(levels))
            levels.append(new_level)
            starts.append(times[t])
            ends.append(times[0])
        for _ in range(state, previous):
            ends[open_rows.pop()] = times[t]
        previous = state
    for row in open_rows:
        ends[row] = times[-1]
    return pa.Table.from_pydict({"level": levels, "start": starts, "end": ends}, schema=KLEINBERG_SCHEMA)


# --- bursts in binned activity counts ------------------------------------------------------


def _epoch_us_with_mask(timestamps: Any) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since the epoch (UTC, int64) and a not-null mask, aligned with the input.

    Accepts numpy ``datetime64``, pyarrow timestamp arrays, pandas, or lists of datetimes;
    naive times are taken as UTC.
    """
    if isinstance(timestamps, np.ndarray) and np.issubdtype(timestamps.dtype, np.datetime64):
        # numpy times are naive, so UTC: no pandas round trip (a third of the 10M
        # benchmark's bursts stage, one call per cluster and series)
        as_us = timestamps.astype("datetime64[us]")
        return as_us.astype(np.int64), ~np.isnat(as_us)
    if isinstance(timestamps, pa.ChunkedArray):
        timestamps = timestamps.combine_chunks()
    if isinstance(timestamps, pa.Array):
        if not pa.types.is_timestamp(timestamps.type):
            raise BurstInputError(f"Activity timestamps must be timestamps, got {timestamps.type}.")
        timestamps = timestamps.cast(pa.timestamp("us", tz=timestamps.type.tz)).to_numpy(zero_copy_only=False)
    try:
        values = pd.to_datetime(pd.Series(np.asarray(timestamps)), utc=True)
    except (ValueError, TypeError) as error:
        raise BurstInputError(f"Cannot read the activity timestamps as times: {error}.") from error
    valid = values.notna().to_numpy()
    epoch_us = values.dt.as_unit("us").to_numpy(dtype="datetime64[us]").astype(np.int64)
    return epoch_us, valid


def _bin_width_us(bin: str | pd.Timedelta) -> int:
    try:
        width = pd.Timedelta(bin)
    except ValueError as error:
        raise BurstInputError(f"Cannot read the burst bin width {bin!r}: use e.g. '1min', '5min', '1h'.") from error
    width_us = int(width / pd.Timedelta(microseconds=1))
    if width_us <= 0:
        raise BurstInputError(f"The burst bin width must be positive, got {bin!r}.")
    return width_us


def seasonal_baseline(
    counts: np.ndarray,
    slot: np.ndarray,
    n_slots: int,
    prior_bins: float,
    use: np.ndarray | None = None,
    floor: float = 1.0,
) -> np.ndarray:
    """Expected count per bin: a per-slot (hour-of-day) rate shrunk toward the flat rate.

    ``rate[slot] = (count in slot + prior_bins * flat rate) / (bins in slot + prior_bins)``,
    the posterior mean of a Poisson rate under a Gamma prior centred on the flat rate and
    worth ``prior_bins`` bins. ``use`` masks out bins (e.g. bursts) from the estimate. Half
    an event is added to the flat count so that the rate is never zero.

    No bin's rate is below ``floor`` times the mean rate of the whole series (bursts
    included, whatever ``use`` says). Without a floor, a quiet hour's rate is so small that
    a higher level costs almost nothing to stay in, and a burst swallows the stray events
    of the following hours (each one pays ``ln s`` for it) or the silences between a
    campaign's waves.
    """
    floor_rate = floor * (counts.sum() + 0.5) / counts.size  # of the whole series, bursts included
    if use is None:
        use = np.ones(counts.size, dtype=bool)
    used_bins = max(int(use.sum()), 1)
    flat_rate = (counts[use].sum() + 0.5) / used_bins
    slot_counts = np.bincount(slot[use], weights=counts[use], minlength=n_slots)
    slot_bins = np.bincount(slot[use], minlength=n_slots)
    slot_rate = (slot_counts + prior_bins * flat_rate) / (slot_bins + prior_bins)
    return np.maximum(slot_rate, floor_rate)[slot]


def _poisson_viterbi(counts: np.ndarray, baseline: np.ndarray, s: float, gamma: float, n_levels: int) -> np.ndarray:
    """Cheapest level (0 = baseline) per bin; level j expects ``baseline * s**j`` events.

    Emission cost is the Poisson negative log-likelihood without its constant,
    ``rate - count * ln(rate)``; moving up one level costs ``gamma * ln(bins)``, down is free.
    Exact Viterbi decoding in one compiled pass (:func:`_viterbi_levels`).
    """
    rates = baseline[:, None] * (s ** np.arange(n_levels))[None, :]
    emission = rates - counts[:, None] * np.log(rates)
    return _viterbi_levels(np.ascontiguousarray(emission), gamma * math.log(max(counts.size, 2)))


@numba.njit(nogil=True, cache=True)
def _viterbi_levels(emission: np.ndarray, step_up: float) -> np.ndarray:
    """The cheapest path through ``emission`` (bins x levels) starting at level 0, where moving
    up ``j - i`` levels costs ``(j - i) * step_up`` and down is free; ties go to the lower
    level, in every bin and at the end. ``O(b k^2)`` for ``b`` bins and ``k`` levels."""
    n, k = emission.shape
    cost = np.full(k, np.inf)
    cost[0] = 0.0
    new_cost = np.empty(k)
    back = np.empty((n, k), dtype=np.uint8)
    for t in range(n):
        for j in range(k):
            best_i, best = 0, np.inf
            for i in range(k):
                c = cost[i] + (j - i) * step_up if i < j else cost[i]
                if c < best:
                    best_i, best = i, c
            back[t, j] = best_i
            new_cost[j] = best + emission[t, j]
        cost[:] = new_cost
    path = np.empty(n, dtype=np.int64)
    state = 0
    for j in range(1, k):
        if cost[j] < cost[state]:
            state = j
    for t in range(n - 1, -1, -1):
        path[t] = state
        state = back[t, state]
    return path


def _runs_at_or_above(path: np.ndarray, level: int) -> list[tuple[int, int]]:
    """(first bin, last bin + 1) of every maximal run with ``path >= level``."""
    above = np.concatenate([[False], path >= level, [False]])
    edges = np.flatnonzero(above[1:] != above[:-1])
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def detect_activity_bursts(
    timestamps: Any,
    *,
    bin: str | pd.Timedelta = "1min",
    s: float = 2.0,
    gamma: float = 1.0,
    n_levels: int = 2,
    seasonal: bool = True,
    prior_bins: float | None = None,
    floor: float = 1.0,
    min_events: int = 5,
    max_bins: int = 20_000_000,
) -> list[dict[str, Any]]:
    """Bursts in an activity series: when did it run well above its usual rate for the hour?

    Parameters
    ----------
    timestamps
        Action times: numpy ``datetime64``, a pyarrow timestamp array, pandas, or a list of
        datetimes. Naive times are taken as UTC; nulls are ignored.
    bin
        Width of a count bin (pandas offset string, default one minute).
    s
        Rate ratio between levels: level ``j`` expects ``s**j`` times the baseline.
    gamma
        Cost of moving up one level, in units of ``ln(number of bins)``; larger needs
        longer or stronger bursts.
    n_levels
        Number of levels including the baseline (2 is Kleinberg's two-state automaton).
    seasonal
        Baseline per hour of day (True) or one flat rate (False). Ignored for bins of a day
        or more.
    prior_bins
        Weight of the flat rate in each hour's baseline, in bins (default: one hour of bins,
        so one day of data counts as much as the flat rate and a month of data dominates it).
    floor
        No hour's baseline is below ``floor`` times the series' mean rate (0 disables): a
        burst must be unusual for its hour *and* not tiny in absolute terms.
    min_events
        Fewer events than this give no bursts.
    max_bins
        A span needing more bins than this is refused (a stray timestamp years away would
        otherwise allocate gigabytes); use a wider ``bin``.

    Returns
    -------
    A list of ``{"start": datetime, "end": datetime, "level": int}`` (UTC, ``end``
    exclusive, level >= 1), one per maximal run of bins at that level or above, ordered by
    start then level; a level-2 burst lies inside a level-1 burst.
    """
    if not s > 1:
        raise BurstInputError(f"The burst rate ratio s must be greater than 1, got {s}.")
    if not gamma > 0:
        raise BurstInputError(f"The burst cost gamma must be positive, got {gamma}.")
    if n_levels < 2:
        raise BurstInputError(f"Burst detection needs at least 2 levels, got {n_levels}.")
    width = _bin_width_us(bin)
    times, valid = _epoch_us_with_mask(timestamps)
    times = times[valid]
    if times.size < max(min_events, 1):
        return []
    origin = (times.min() // width) * width
    n_bins = int((times.max() - origin) // width) + 1
    if n_bins > max_bins:
        raise BurstInputError(
            f"The activity spans {n_bins:,} bins of {bin} (from {_to_datetime(times.min()):%Y-%m-%d} to "
            f"{_to_datetime(times.max()):%Y-%m-%d}), more than {max_bins:,}; use a wider bin."
        )
    bin_index = (times - origin) // width
    counts = np.bincount(bin_index).astype(np.float64)
    bin_start = origin + np.arange(counts.size, dtype=np.int64) * width
    if seasonal and width < _US_PER_DAY:
        slot = (bin_start % _US_PER_DAY) // _US_PER_HOUR
        n_slots = 24
    else:
        slot = np.zeros(counts.size, dtype=np.int64)
        n_slots = 1
    if prior_bins is None:
        prior_bins = max(_US_PER_HOUR / width, 1.0)
    baseline = seasonal_baseline(counts, slot, n_slots, prior_bins, floor=floor)
    path = _poisson_viterbi(counts, baseline, s, gamma, n_levels)
    if path.any():  # re-estimate the baseline without the bursts found, then decode again
        baseline = seasonal_baseline(counts, slot, n_slots, prior_bins, use=path == 0, floor=floor)
        path = _poisson_viterbi(counts, baseline, s, gamma, n_levels)
    bursts = [
        {"start": _to_datetime(bin_start[first]), "end": _to_datetime(bin_start[last - 1] + width), "level": level}
        for level in range(1, n_levels)
        for first, last in _runs_at_or_above(path, level)
    ]
    bursts.sort(key=lambda burst: (burst["start"], burst["level"]))
    return bursts


def _to_datetime(epoch_us: int | np.integer) -> datetime:
    return datetime.fromtimestamp(int(epoch_us) / 1e6, tz=UTC)


# --- synchrony inside bursts ------------------------------------------------------------


def burst_synchrony(timestamps: Any, account_ids: Any, bursts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How synchronized a group's members are inside its bursts.

    Parameters
    ----------
    timestamps, account_ids
        One entry per action of the group (same length); nulls are ignored.
    bursts
        As returned by :func:`detect_activity_bursts`; only level-1 bursts are used (the
        higher levels lie inside them).

    Returns
    -------
    dict with
    ``n_members``, ``n_actions``;
    ``n_bursts`` (level-1 bursts);
    ``actions_in_bursts_share``: share of the group's actions inside any burst;
    ``main_burst_start``, ``main_burst_end``, ``main_burst_actions``: the burst holding the
    most actions;
    ``members_in_main_burst_share``: share of members acting at least once in it;
    ``median_member_gap_s``: median time in seconds between consecutive actions of
    different members inside bursts (small = members act in lockstep); None when undefined.
    """
    epoch_us, valid = _epoch_us_with_mask(timestamps)
    accounts = np.asarray(account_ids, dtype=object)
    if accounts.size != epoch_us.size:
        raise BurstInputError(
            f"burst_synchrony got {epoch_us.size} timestamps but {accounts.size} account ids; they must pair up."
        )
    # accounts as integer codes (-1 for a null), so the rest is numpy
    account_code = pd.factorize(accounts)[0]
    valid = valid & (account_code >= 0)
    times, account = epoch_us[valid], account_code[valid]
    n_members = int(np.unique(account).size)
    result: dict[str, Any] = {
        "n_members": n_members,
        "n_actions": int(times.size),
        "n_bursts": 0,
        "actions_in_bursts_share": 0.0,
        "main_burst_start": None,
        "main_burst_end": None,
        "main_burst_actions": 0,
        "members_in_main_burst_share": 0.0,
        "median_member_gap_s": None,
    }
    top = [b for b in bursts if int(b["level"]) == 1]
    if not top or times.size == 0:
        return result
    starts = np.array([_epoch_us(b["start"]) for b in top], dtype=np.int64)
    ends = np.array([_epoch_us(b["end"]) for b in top], dtype=np.int64)
    order = np.argsort(starts)
    starts, ends = starts[order], ends[order]
    candidate = np.searchsorted(starts, times, side="right") - 1
    inside = (candidate >= 0) & (times < ends[np.clip(candidate, 0, None)])
    burst_of = np.where(inside, candidate, -1)
    per_burst = np.bincount(burst_of[inside], minlength=starts.size)
    main = int(np.argmax(per_burst))
    in_main = burst_of == main
    # the actions inside bursts by (burst, time), ties in input order
    by_burst_time = np.lexsort((times[inside], burst_of[inside]))
    in_times, in_account, in_burst = (values[inside][by_burst_time] for values in (times, account, burst_of))
    gaps = np.diff(in_times)
    changes_member = in_account[1:] != in_account[:-1]
    same_burst = in_burst[1:] == in_burst[:-1]
    member_gaps = gaps[changes_member & same_burst]
    result.update(
        n_bursts=int(starts.size),
        actions_in_bursts_share=float(inside.mean()),
        main_burst_start=_to_datetime(starts[main]),
        main_burst_end=_to_datetime(ends[main]),
        main_burst_actions=int(per_burst[main]),
        members_in_main_burst_share=float(np.unique(account[in_main]).size / n_members),
        median_member_gap_s=float(np.median(member_gaps) / 1e6) if member_gaps.size else None,
    )
    return result


def _epoch_us(value: Any) -> int:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.value // 1000)  # .value is nanoseconds whatever the unit
