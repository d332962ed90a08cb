"""Chance is not coordination: how many co-share pairs two accounts would form by timing alone.

The model (a jittered label-permutation null, computed exactly instead of by sampling)
    Keep every target as it was shared — how many shares it got (``n_t``) and how
    they spread over time at a coarse scale ``h = jitter * w`` (30 windows by
    default: 30 min for a 60 s window) — and shuffle *which account* made which
    share while jittering each share's time within that scale. Two of the target's
    shares then fall within ``h`` of each other with the observed frequency
    ``C_t(h) / (n_t (n_t - 1) / 2)`` (``C_t(h)``: the target's share pairs at most
    ``h`` apart, counted exactly by ``pairs.window_ends``), and, the density being
    flat below ``h``, within the window ``w`` with ``w / h`` of that:

        q_t = C_t(h) / (n_t (n_t - 1) / 2) * w / h          (at most 1)

    For shares spread evenly over a span ``T >> h`` this is the familiar
    ``2 w / T``; a viral post's front-loaded decay raises it where the post was hot.
    Accounts ``a`` and ``b`` with ``n_at`` and ``n_bt`` shares of target ``t`` expect
    ``n_at * n_bt * q_t`` co-share pairs on it; over every target both shared

        E_ab = sum_t n_at * n_bt * q_t        (``expected_weight``)

    The observed weight ``W_ab`` is compared with a Poisson tail *conditional on one
    meeting*, ``p = P(X >= W_ab | X >= 1)`` with ``X ~ Poisson(E_ab)``: a pair only
    becomes a candidate by meeting once, so the test asks whether it met again more
    often than chance allows (the premise of CooRnet and CooRTweet: chance co-shares
    do not repeat). ``strength = W_ab / E_ab``. This is the jitter (dithering) null of spike-train synchrony analysis
    (Date, Bienenstock & Geman 1998; Amarasingham et al. 2012) applied per target.

Why jitter, not a plain permutation of the observed times
    With ``h = w`` the model is the plain permutation null, and it explains a burst
    by itself: when twenty campaign accounts repost a post within thirty seconds and
    nobody else does, every pair of its shares is in the window, ``q_t = 1``, and
    the campaign disappears. Coordination is precisely synchrony finer than the
    target's natural spread, so that spread is measured at a coarser scale.

What it keeps and what it kills
    A single meeting never passes (its conditional p-value is 1): however many
    accounts repost a viral post, the pairs that happen to fall within a minute of
    each other meet once. Two meetings pass when they were unlikely (``E_ab`` small:
    ``p`` is about ``E_ab / 2``); a cell that meets on every one of its posts passes
    with p-values far below any level. Organic look-alikes that are truly
    synchronised (fandoms, news bots) are left to the score, which rests on
    mobilization evidence, by design. On simulated worlds the model keeps almost all of
    the campaign members' candidate edges and drops almost all of ordinary accounts'
    (``tests/test_null_model.py``).

Assumptions
    Shares of different targets are independent; a pair's co-shares on one target are
    counted as independent events (the Poisson approximation of a sum of Bernoulli
    trials, conservative when ``q_t`` is large); the cap (``pairs.py``) can only
    lower ``W_ab``, so capped edges are judged conservatively. Nothing is sampled: the
    pair budget only cuts the pairing into partitions, so ``E_ab`` sums over every target
    both accounts shared.

Cost
    ``O(n + sum over candidate edges of the targets of the edge's first account)``
    (one hash join of the candidate edges with each endpoint's targets).

References: the permutation reasoning of Pacheco et al. (2021), "Uncovering
Coordinated Networks on Social Media" (ICWSM), and CooRnet's/CooRTweet's premise
that chance co-shares do not repeat (Giglietto et al. 2020).
"""

from __future__ import annotations

import functools

import numpy as np
import polars as pl
from scipy import stats

NULL_MODELS: tuple[str, ...] = ("permutation", "none")
#: The jitter scale, in windows: timing coarser than this is kept, finer is tested.
DEFAULT_JITTER = 30.0


def target_chance(n_shares: np.ndarray, pairs_within_jitter: np.ndarray, jitter: float = DEFAULT_JITTER) -> np.ndarray:
    """``q_t``: the chance that two of a target's shares fall within the window by chance.

    ``pairs_within_jitter``: the target's share pairs at most ``jitter`` windows apart;
    ``q_t = C_t(jitter * w) / (n_t (n_t - 1) / 2) / jitter``, at most 1.
    """
    all_pairs = n_shares.astype(np.float64) * (n_shares - 1) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(all_pairs > 0, pairs_within_jitter / all_pairs / jitter, 0.0)
    return np.clip(q, 0.0, 1.0)


def expected_pairs(
    candidates: pl.DataFrame,
    share_counts: pl.DataFrame,
    chance: np.ndarray,
) -> pl.Series:
    """``E_ab`` for each candidate edge.

    ``candidates``: columns ``kind`` (co-action type code), ``a``, ``b`` (account codes).
    ``share_counts``: ``kind``, ``group`` (target code), ``account``, ``n`` (shares of the
    target by the account). ``chance``: ``q_t`` indexed by target code. Returns a Float64
    series aligned with ``candidates``.
    """
    counts = share_counts.with_columns(q=pl.Series(chance[share_counts["group"].to_numpy()]))
    left = counts.select("kind", "group", "q", a="account", n_a="n")
    right = counts.select("group", b="account", n_b="n")
    expected = (
        candidates.lazy()
        .with_row_index("_row")
        .join(left.lazy(), on=["kind", "a"])
        .join(right.lazy(), on=["group", "b"])
        .group_by("_row")
        .agg(e=(pl.col("n_a") * pl.col("n_b") * pl.col("q")).sum())
        .collect()
    )
    out = np.zeros(candidates.height)
    out[expected["_row"].to_numpy()] = expected["e"].to_numpy()
    return pl.Series("expected_weight", out)


def poisson_tail(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``P(X >= observed)`` for ``X ~ Poisson(expected)``; 1 when nothing was observed."""
    observed = np.asarray(observed, dtype=np.float64)
    expected = np.maximum(np.asarray(expected, dtype=np.float64), 1e-300)
    return np.where(observed > 0, stats.poisson.sf(observed - 1, expected), 1.0)


def poisson_p_values(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``P(X >= observed | X >= 1)`` for ``X ~ Poisson(expected)``; 1 when nothing was observed.

    Conditional on one meeting, because a pair only becomes a candidate edge by meeting
    at least once: a single meeting is never evidence by itself, repeated ones are.
    """
    expected = np.maximum(np.asarray(expected, dtype=np.float64), 1e-300)
    tail = poisson_tail(observed, expected)
    at_least_one = -np.expm1(-expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(at_least_one > 0, tail / at_least_one, 1.0)
    return np.where(np.asarray(observed) > 0, np.clip(p, 0.0, 1.0), 1.0)


#: Weights below this get their ``E*`` from a table made once per level (``critical_expected``).
CRITICAL_TABLE_WEIGHTS = 4096


def critical_expected(observed: np.ndarray, level: float) -> np.ndarray:
    """Per ``observed`` weight ``w``: the largest ``E`` with ``poisson_p_values(w, E) <= level``.

    The conditional tail ``P(X >= w | X >= 1)`` grows with ``E`` (a zero-truncated Poisson
    is stochastically increasing in its mean), so ``p <= level`` exactly when ``E <= E*(w)``:
    a filter over many pairs compares each expected weight with its weight's ``E*`` instead
    of evaluating a tail per pair. ``E*`` is found by bisection to about ``1e-15`` relative,
    once per level for the weights under ``CRITICAL_TABLE_WEIGHTS`` and once per distinct
    larger weight; ``-1`` where no ``E`` passes (``w <= 1`` and ``level < 1``), ``inf`` where
    every ``E`` does (``level >= 1``). ``O(n)`` plus the distinct large weights' bisections.
    """
    observed = np.asarray(observed)
    if level >= 1:
        return np.full(observed.shape, np.inf)
    table = _critical_table(float(level))
    large = observed >= table.size
    out = table[np.where(large, 0, observed)]
    if large.any():
        weights, where = np.unique(observed[large], return_inverse=True)
        out[large] = _bisect_critical(weights.astype(np.float64), level)[where]
    return out


@functools.lru_cache(maxsize=8)
def _critical_table(level: float) -> np.ndarray:
    table = np.full(CRITICAL_TABLE_WEIGHTS, -1.0)
    table[2:] = _bisect_critical(np.arange(2, CRITICAL_TABLE_WEIGHTS, dtype=np.float64), level)
    table.flags.writeable = False
    return table


def _bisect_critical(weights: np.ndarray, level: float) -> np.ndarray:
    """``E*`` for weights of at least 2 and ``level < 1``, by bisection on ``log E``."""
    low = np.full(weights.size, 1e-300)  # p(w, 1e-300) is 0 for w >= 2
    high = weights.copy()
    while (over := poisson_p_values(weights, high) <= level).any():
        high[over] *= 2.0
    for _ in range(200):
        middle = np.sqrt(low * high)
        passes = poisson_p_values(weights, middle) <= level
        low = np.where(passes, middle, low)
        high = np.where(passes, high, middle)
        if (high / low - 1.0 < 1e-15).all():
            break
    return low
