"""The work done on one partition of share events (every share of a target in one partition).

``coact_partition`` turns share events into
  * ``pair rows``: per (type, target, account_a, account_b) the number of co-share
    pairs and their first/last times — summed over partitions by a groupby;
  * ``share stats``: per (type, target, account) the shares ``n``, the shares that
    are part of a co-share pair ``n_in_pair`` (CooRTweet's participation) and the
    target's chance ``q`` of the null model — what the null model's join needs;
  * figures: pairs in window, formed, capped, targets capped.

``pair_actions`` re-pairs a partition's shares and keeps those that form a pair of
a kept edge (the evidence behind edges). Both are pure functions of their partition:
the local path calls them once on everything, the Dask plan once per partition
after a shuffle on (type, target).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from rallypoint.detectors import null_model as nm
from rallypoint.detectors.coaction.pairs import group_pair_counts, iter_pairs, window_ends

#: Share events as partitions carry them: type code, target, account, record id, time (µs).
SHARE_COLUMNS = {"kind": pl.Int32, "target": pl.String, "account_id": pl.String, "id": pl.String, "time": pl.Int64}
PAIR_ROW_SCHEMA = {
    "kind": pl.Int32, "target": pl.String, "account_a": pl.String, "account_b": pl.String,
    "pairs": pl.Int64, "first": pl.Int64, "last": pl.Int64,
}
SHARE_STATS_SCHEMA = {
    "kind": pl.Int32, "target": pl.String, "account_id": pl.String,
    "n": pl.Int64, "n_in_pair": pl.Int64, "q": pl.Float64,
}
FIGURES = ("pairs_in_window", "pairs_formed", "pairs_capped", "targets_capped", "cap_lowered")
#: At most this many pairs are formed per partition: beyond it the cap is lowered for the
#: partition (memory grows with the distinct pairs formed; 20M pairs stay within a few GB).
DEFAULT_PAIR_BUDGET = 20_000_000


def cap_within_budget(partners: np.ndarray, cap: int | None, budget: int) -> int | None:
    """The largest cap ``k <= cap`` with ``sum(min(partners, k)) <= budget`` (``cap`` if it fits)."""
    if (np.minimum(partners, cap) if cap else partners).sum() <= budget:
        return cap
    lo, hi = 1, int(cap) if cap else int(partners.max())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if np.minimum(partners, mid).sum() <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


class _Sorted:
    """A partition's shares sorted by (type, target, time) with integer codes."""

    def __init__(self, shares: pl.DataFrame) -> None:
        # target codes need no order (categorical codes, made dense); account codes follow
        # string order so that min/max of codes is account_a < account_b
        frame = shares.with_row_index("row").with_columns(
            account=(pl.col("account_id").rank("dense").cast(pl.Int64) - 1),
            group=(
                (pl.col("kind").cast(pl.Int64) * (1 << 32)
                 + pl.col("target").cast(pl.Categorical).to_physical().cast(pl.Int64))
                .rank("dense").cast(pl.Int64) - 1
            ),
        ).sort("group", "time", "account", "row")
        self.frame = frame
        self.groups = frame.select("group", "kind", "target").unique("group")
        self.kind = frame["kind"].to_numpy().astype(np.int64)
        self.group = frame["group"].to_numpy()
        self.account = frame["account"].to_numpy()
        self.time = frame["time"].to_numpy()
        self.n_groups = int(self.group[-1]) + 1 if len(self.group) else 0
        # account code -> id; codes follow string order, so min/max of codes is a < b
        self.account_table = frame.select("account", "account_id").unique("account").sort("account")
        self.accounts = self.account_table["account_id"]


def coact_partition(
    shares: pl.DataFrame,
    window_us: np.ndarray,
    max_pairs_per_share: int | None,
    jitter: float | None,
    pair_budget: int = DEFAULT_PAIR_BUDGET,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """Pair rows, share stats and figures for one partition (see the module docstring).

    ``window_us``: the window per type code, in microseconds; ``jitter``: the null
    model's scale in windows, or ``None`` for no null model (``q`` is then null);
    ``pair_budget``: when the cap would still form more pairs than this, the cap is
    lowered for this partition until it does not (``cap_lowered`` reports the cap used).
    """
    if shares.height == 0:
        return (
            pl.DataFrame(schema=PAIR_ROW_SCHEMA),
            pl.DataFrame(schema=SHARE_STATS_SCHEMA),
            dict.fromkeys(FIGURES, 0),
        )
    s = _Sorted(shares)
    windows = window_us[s.kind]
    ends = window_ends(s.group, s.time, windows)
    partners = ends - np.arange(1, len(ends) + 1, dtype=np.int64)
    requested = max_pairs_per_share
    max_pairs_per_share = cap_within_budget(partners, max_pairs_per_share, pair_budget)

    in_pair = np.zeros(len(ends), dtype=bool)
    # one int64 key per (target, account pair): group * n^2 + a * n + b with a < b codes in
    # string order — 4 numeric columns per row instead of 3 keys, no strings until the end
    n_acc = len(s.accounts)
    one_key = s.n_groups * n_acc * n_acc < 2**63
    keys = ["key"] if one_key else ["group", "pair"]
    parts = []
    formed = 0
    for chunk in iter_pairs(ends, max_pairs_per_share):
        i, j = chunk.first, chunk.second
        # different accounts only: an account reposting a post twice is no co-action
        keep = s.account[i] != s.account[j]
        i, j = i[keep], j[keep]
        formed += i.size
        in_pair[i] = True
        in_pair[j] = True
        acc_i, acc_j = s.account[i], s.account[j]
        pair = np.minimum(acc_i, acc_j) * n_acc + np.maximum(acc_i, acc_j)
        del acc_i, acc_j, keep
        cols = {"key": s.group[i] * (n_acc * n_acc) + pair} if one_key else {"group": s.group[i], "pair": pair}
        del pair
        parts.append(
            pl.DataFrame({**cols, "t_i": s.time[i], "t_j": s.time[j]})
            .group_by(keys)
            .agg(pairs=pl.len().cast(pl.Int64), first=pl.col("t_i").min(), last=pl.col("t_j").max())
        )
        del cols, i, j, chunk
    if parts:
        agg = (
            pl.concat(parts, rechunk=False)
            .group_by(keys)
            .agg(pl.col("pairs").sum(), pl.col("first").min(), pl.col("last").max())
        )
        del parts
        if one_key:
            key = agg["key"].to_numpy()
            group, pair = key // (n_acc * n_acc), key % (n_acc * n_acc)
            del key
        else:
            group, pair = agg["group"].to_numpy(), agg["pair"].to_numpy()
        # codes -> strings only on the unique rows, by position (tables are indexed by code)
        groups = s.groups.sort("group")
        rows = pl.DataFrame(
            {
                "kind": groups["kind"].gather(group),
                "target": groups["target"].gather(group),
                "account_a": s.accounts.gather(pair // n_acc),
                "account_b": s.accounts.gather(pair % n_acc),
                "pairs": agg["pairs"],
                "first": agg["first"],
                "last": agg["last"],
            }
        )
        del agg, group, pair
    else:
        rows = pl.DataFrame(schema=PAIR_ROW_SCHEMA)
    groups = s.groups

    sizes = np.bincount(s.group, minlength=s.n_groups)
    if jitter is None:
        chance = np.full(s.n_groups, np.nan)
    else:
        jitter_ends = window_ends(s.group, s.time, np.round(windows * jitter).astype(np.int64))
        chance = nm.target_chance(sizes, group_pair_counts(s.group, jitter_ends, s.n_groups), jitter)
    stats = (
        pl.DataFrame({"group": s.group, "account": s.account, "in_pair": in_pair})
        .group_by("group", "account")
        .agg(n=pl.len().cast(pl.Int64), n_in_pair=pl.col("in_pair").sum().cast(pl.Int64))
        .join(groups.with_columns(q=pl.Series(chance).fill_nan(None)), on="group")
        .join(s.account_table, on="account")
        .select(list(SHARE_STATS_SCHEMA))
    )
    capped = np.maximum(partners - max_pairs_per_share, 0) if max_pairs_per_share else np.zeros(1, np.int64)
    figures = {
        "pairs_in_window": int(partners.sum()),
        "pairs_formed": int(formed),
        "pairs_capped": int(capped.sum()),
        "targets_capped": int(np.unique(s.group[capped > 0]).size) if max_pairs_per_share else 0,
        # 0 when the requested cap was used, else the lower cap the pair budget imposed
        "cap_lowered": 0 if max_pairs_per_share == requested else int(max_pairs_per_share),
    }
    return rows.cast(PAIR_ROW_SCHEMA), stats.cast(SHARE_STATS_SCHEMA), figures


def pair_actions(
    shares: pl.DataFrame,
    kept: pl.DataFrame,
    window_us: np.ndarray,
    max_pairs_per_share: int | None,
) -> pl.DataFrame:
    """The shares of this partition that form a co-share pair of a kept (type, account_a, account_b).

    ``kept``: columns ``kind``, ``account_a``, ``account_b``. Returns the share columns.
    """
    involved = pl.concat([kept.select("kind", account_id="account_a"), kept.select("kind", account_id="account_b")])
    shares = shares.join(involved.unique(), on=["kind", "account_id"], how="semi")
    if shares.height == 0:
        return pl.DataFrame(schema=SHARE_COLUMNS)
    s = _Sorted(shares)
    code = {name: k for k, name in enumerate(s.accounts.to_list())}
    known = s.accounts.implode()
    kept = kept.filter(pl.col("account_a").is_in(known) & pl.col("account_b").is_in(known))
    n_acc = len(code)
    kept_keys = np.sort(
        (kept["kind"].to_numpy().astype(np.int64) * n_acc + kept["account_a"].replace_strict(code).to_numpy())
        * n_acc
        + kept["account_b"].replace_strict(code).to_numpy()
    )
    hit = np.zeros(len(s.group), dtype=bool)
    if kept_keys.size:
        ends = window_ends(s.group, s.time, window_us[s.kind])
        for chunk in iter_pairs(ends, max_pairs_per_share):
            i, j = chunk.first, chunk.second
            lo, hi = np.minimum(s.account[i], s.account[j]), np.maximum(s.account[i], s.account[j])
            keys = (s.kind[i] * n_acc + lo) * n_acc + hi
            pos = np.minimum(np.searchsorted(kept_keys, keys), kept_keys.size - 1)
            match = (kept_keys[pos] == keys) & (lo != hi)
            hit[i[match]] = True
            hit[j[match]] = True
    return s.frame.filter(pl.Series(hit)).select(list(SHARE_COLUMNS))


def merge_figures(figures: list[dict[str, Any]]) -> dict[str, int]:
    """Sum the partitions' figures (``cap_lowered``: the lowest cap any partition used)."""
    out = {k: int(sum(f[k] for f in figures)) for k in FIGURES if k != "cap_lowered"}
    lowered = [f["cap_lowered"] for f in figures if f["cap_lowered"]]
    out["cap_lowered"] = min(lowered) if lowered else 0
    return out
