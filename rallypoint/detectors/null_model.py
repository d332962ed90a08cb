"""Chance is not coordination: how many co-share pairs two accounts would form by timing alone.

The model (a label-permutation null, computed exactly instead of by sampling)
    Keep every target exactly as it was shared — how many shares it got (``n_t``)
    and at which times — and shuffle *which account* made which of those shares.
    Under that shuffle any two of the target's shares are a random pair of its
    ``n_t`` share times, so the chance that they fall within the window is

        q_t = C_t / (n_t (n_t - 1) / 2)

    where ``C_t`` is the number of in-window pairs among the target's share times
    (counted exactly by ``pairs.window_ends``, never capped). Accounts ``a`` and
    ``b`` with ``n_at`` and ``n_bt`` shares of target ``t`` then expect
    ``n_at * n_bt * q_t`` co-share pairs on it, and over every target both shared

        E_ab = sum_t n_at * n_bt * q_t        (``expected_weight``)

    The observed weight ``W_ab`` is compared with a Poisson tail,
    ``p = P(X >= W_ab)`` with ``X ~ Poisson(E_ab)``, and ``strength = W_ab / E_ab``.

What it keeps and what it kills
    A post shared by 100k accounts over ten hours has a small ``q_t``, but two given
    sharers meeting in one window on it is exactly what timing predicts; one such
    meeting is never enough at a strict level, and pairs meeting on *many* targets are
    kept. A target whose every share falls inside one window (``q_t = 1``) explains
    its own co-shares fully: the pair's edge then rests on its other targets. This is
    the model's blind spot by design — organic look-alikes that are truly
    synchronised (fandoms, news bots) and campaigns acting only on their own posts
    are told apart later by the score, which rests on mobilization evidence.

Assumptions
    Shares of different targets are independent; a pair's co-shares on one target are
    counted as independent events (the Poisson approximation of a sum of Bernoulli
    trials, conservative when ``q_t`` is large); the cap (``pairs.py``) can only
    lower ``W_ab``, so capped edges are judged conservatively.

Cost
    ``O(n + sum over candidate edges of the targets of the edge's first account)``
    (one hash join of the candidate edges with each endpoint's targets).

References: the permutation reasoning of Pacheco et al. (2021), "Uncovering
Coordinated Networks on Social Media" (ICWSM), and CooRnet's/CooRTweet's premise
that chance co-shares do not repeat (Giglietto et al. 2020).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

NULL_MODELS: tuple[str, ...] = ("permutation", "none")


def target_chance(n_shares: np.ndarray, in_window_pairs: np.ndarray) -> np.ndarray:
    """``q_t``: the chance that two of a target's shares, picked at random, fall within the window."""
    all_pairs = n_shares.astype(np.float64) * (n_shares - 1) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(all_pairs > 0, in_window_pairs / all_pairs, 0.0)
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


def poisson_p_values(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``P(X >= observed)`` for ``X ~ Poisson(expected)``; 1 when nothing was observed."""
    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    p = stats.poisson.sf(observed - 1, np.maximum(expected, 1e-300))
    return np.where(observed > 0, p, 1.0)
