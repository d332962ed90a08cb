"""The coordination graph: co-action edges between accounts, with their null-model figures.

What it computes
    For each co-action type (one module each: ``co_repost``, ``co_link``, ...) the
    share events; every pair of shares of the same target by two different accounts
    within the window (``pairs.py``); per account pair an edge whose ``weight`` is the
    number of such co-share pairs and ``n_shared`` the number of distinct targets
    (CooRTweet's and the QUT toolkit's weight), with per-type counts and first/last
    times; CooRTweet's minimum-participation rule; and the null model's expected
    weight, p-value and strength (``rallypoint.detectors.null_model``).

Minimum participation (CooRTweet 2.x, ``detect_groups``), applied per co-action type
    1. accounts with fewer than ``min_participation`` share events of a type are
       dropped from that type before pairs are formed;
    2. after pairing, an account *participates* with the number of its share events
       of that type that are part of at least one co-share pair; a co-share pair is
       kept when at least one of its two accounts participates ``min_participation``
       times.
    ``min_participation=1`` keeps every pair (the QUT toolkit's behaviour). Per type,
    as CooRTweet's multi-modal recipe runs ``detect_groups`` once per type (URLs,
    image hashes) and then merges the results into one network.

Cost
    ``O(n log n)`` for the sort, ``O(n log m + P)`` for the pairs (``P`` pairs formed,
    at most ``n * max_pairs_per_share``), ``O(P)`` hash aggregation, plus the null
    model's join. Memory is bounded by the pair chunk size, not by ``P``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from rallypoint.detectors import null_model as nm
from rallypoint.detectors.coaction import (
    co_hashtags,
    co_link,
    co_media,
    co_mention,
    co_reply,
    co_repost,
    co_text,
)
from rallypoint.detectors.coaction.pairs import group_pair_counts, iter_pairs, window_ends
from rallypoint.detectors.coaction.shares import SHARE_SCHEMA
from rallypoint.detectors.window import AUTO, estimate_window, parse_window
from rallypoint.errors import RallypointError
from rallypoint.schema import EDGES_SCHEMA, TIMESTAMP

#: Every co-action type, in the order they are reported.
COACTION_TYPES: tuple[str, ...] = (
    "co_repost",
    "co_link",
    "co_text",
    "co_reply",
    "co_mention",
    "co_hashtags",
    "co_media",
)
_MODULES = {
    m.TYPE: m for m in (co_repost, co_link, co_text, co_reply, co_mention, co_hashtags, co_media)
}
#: Default cap: a share is paired with at most this many later shares of the same target
#: inside one window. It bites only on targets shared more than this many times within
#: one window (a post reposted by thousands of accounts in a minute).
DEFAULT_MAX_PAIRS_PER_SHARE = 1000

#: Columns of ``CoactionResult.actions``.
ACTIONS_SCHEMA = pa.schema(
    [
        pa.field("type", pa.string()),
        pa.field("target", pa.string()),
        pa.field("account_id", pa.string()),
        pa.field("id", pa.string()),
        pa.field("timestamp", TIMESTAMP),
    ]
)
#: The record columns the detectors read.
RECORD_COLUMNS: tuple[str, ...] = (
    "id", "account_id", "timestamp", "action", "target_id", "text",
    "urls", "hashtags", "mentions", "media",
)


class CoactionError(RallypointError):
    """Bad arguments to the co-action detectors."""


@dataclass
class CoactionResult:
    """Edges (``EDGES_SCHEMA``), the actions behind them, the windows used and run figures."""

    edges: pa.Table
    actions: pa.Table
    window_seconds: dict[str, float]
    stats: dict[str, Any] = field(default_factory=dict)


def build_coaction_edges(
    records,
    types: Iterable[str] | str | None = COACTION_TYPES,
    window: str | int | float = "auto",
    min_participation: int = 2,
    null_model: str = "permutation",
    significance: float = 0.01,
    max_pairs_per_share: int | None = DEFAULT_MAX_PAIRS_PER_SHARE,
    text_threshold: float = 0.8,
    seed: int = 0,
    null_jitter: float = nm.DEFAULT_JITTER,
) -> CoactionResult:
    """Build the co-action graph of ``records`` (a pyarrow Table or a Dask DataFrame, LAKE_SCHEMA columns).

    ``types``: co-action types (a sequence or a comma list); ``window``: ``"auto"``, a
    duration such as ``"60s"``, or seconds; ``min_participation``: CooRTweet's rule
    (1 keeps every pair); ``null_model``: ``"permutation"`` or ``"none"``;
    ``significance``: edges are kept when ``p_value <= significance`` (ignored with
    ``"none"``); ``max_pairs_per_share``: the cap (``None`` disables it);
    ``text_threshold``: Jaccard threshold of ``co_text``; ``seed``: MinHash seed;
    ``null_jitter``: the null model's time scale, in windows (see ``null_model``).
    """
    started = time.perf_counter()
    type_list = _check_types(types)
    parsed_window = parse_window(window)
    if null_model not in nm.NULL_MODELS:
        raise CoactionError(f"The null model {null_model!r} is not one of {', '.join(nm.NULL_MODELS)}.")
    if not isinstance(min_participation, int | np.integer) or min_participation < 1:
        raise CoactionError(f"min_participation must be a whole number >= 1, not {min_participation!r}.")
    if not 0 < significance <= 1:
        raise CoactionError(f"significance must be in (0, 1], not {significance!r}.")
    if max_pairs_per_share is not None and max_pairs_per_share < 1:
        raise CoactionError(f"max_pairs_per_share must be >= 1 or None, not {max_pairs_per_share!r}.")

    table = _as_table(records)
    shares = _share_events(table, type_list, text_threshold=text_threshold, seed=seed)
    stats: dict[str, Any] = {"records": table.num_rows, "share_events": shares.height}

    # CooRTweet step 1: accounts with too few share events (of a type) never pair (in it).
    if min_participation > 1:
        active = shares.group_by("kind", "account_id").len().filter(pl.col("len") >= min_participation)
        shares = shares.join(active.select("kind", "account_id"), on=["kind", "account_id"], how="semi")
    stats["share_events_after_prefilter"] = shares.height

    encoded = _encode(shares, type_list)
    windows = _windows(encoded, type_list, parsed_window)
    window_us = np.array([round(windows[t] * 1e6) for t in type_list], dtype=np.int64)

    ends = window_ends(encoded.group, encoded.time, window_us[encoded.kind])
    aggregated, in_pair, pair_stats = _aggregate_pairs(encoded, ends, max_pairs_per_share)
    stats.update(pair_stats)

    # CooRTweet step 2: keep pairs where at least one account participates enough (per type).
    if min_participation > 1 and aggregated.height:
        n_acc = encoded.n_accounts
        participation = np.bincount(
            encoded.kind[in_pair].astype(np.int64) * n_acc + encoded.account[in_pair],
            minlength=len(type_list) * n_acc,
        )
        enough = participation >= min_participation
        kind = aggregated["kind"].to_numpy().astype(np.int64) * n_acc
        aggregated = aggregated.filter(
            pl.Series(enough[kind + aggregated["a"].to_numpy()] | enough[kind + aggregated["b"].to_numpy()])
        )

    per_type = (
        aggregated.group_by("kind", "a", "b")
        .agg(
            weight=pl.col("pairs").sum(),
            n_shared=pl.len(),
            first=pl.col("first").min(),
            last=pl.col("last").max(),
        )
        .sort("kind", "a", "b")
    )
    if null_model == "permutation" and per_type.height:
        jitter_us = np.round(window_us * null_jitter).astype(np.int64)
        within_jitter = group_pair_counts(
            encoded.group, window_ends(encoded.group, encoded.time, jitter_us[encoded.kind]), encoded.n_groups
        )
        chance = nm.target_chance(encoded.group_sizes, within_jitter, null_jitter)
        share_counts = pl.DataFrame(
            {"kind": encoded.kind, "group": encoded.group, "account": encoded.account}
        ).group_by("kind", "group", "account").agg(n=pl.len())
        per_type = per_type.with_columns(nm.expected_pairs(per_type, share_counts, chance))
    else:
        per_type = per_type.with_columns(expected_weight=pl.lit(None, dtype=pl.Float64))

    edges = _edges(per_type, encoded, type_list, null_model, significance)
    stats.update(
        {
            "candidate_edges": int(per_type.select("a", "b").unique().height),
            "edges": edges.num_rows,
            "per_type_edges": {
                type_list[k]: int(n)
                for k, n in per_type.group_by("kind").len().sort("kind").iter_rows()
            },
            "null_model": null_model,
            "null_jitter": null_jitter if null_model != "none" else None,
            "significance": significance if null_model != "none" else None,
            "max_pairs_per_share": max_pairs_per_share,
            "min_participation": min_participation,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    actions = _actions(edges, encoded, windows, type_list, max_pairs_per_share)
    return CoactionResult(edges=edges, actions=actions, window_seconds=windows, stats=stats)


# --- steps -------------------------------------------------------------------------


def _check_types(types: Iterable[str] | str | None) -> list[str]:
    if types is None:
        return list(COACTION_TYPES)
    if isinstance(types, str):
        types = [t.strip() for t in types.split(",") if t.strip()]
    chosen = list(dict.fromkeys(types))
    unknown = [t for t in chosen if t not in _MODULES]
    if unknown or not chosen:
        raise CoactionError(
            f"Unknown co-action type {', '.join(unknown) or '(none given)'}; choose from {', '.join(COACTION_TYPES)}."
        )
    return [t for t in COACTION_TYPES if t in chosen]


def _as_table(records) -> pa.Table:
    """A pyarrow Table of the record columns the detectors read (computing a Dask frame)."""
    if isinstance(records, pa.Table):
        table = records
    elif hasattr(records, "compute"):
        columns = [c for c in RECORD_COLUMNS if c in records.columns]
        table = pa.Table.from_pandas(records[columns].compute(), preserve_index=False)
    else:
        raise CoactionError(
            f"Records must be a pyarrow Table or a Dask DataFrame, not {type(records).__name__}."
        )
    missing = [c for c in ("id", "account_id", "timestamp", "action") if c not in table.column_names]
    if missing:
        raise CoactionError(f"The records lack the column(s) {', '.join(missing)}.")
    for name in RECORD_COLUMNS:
        if name not in table.column_names:
            kind = pa.list_(pa.string()) if name in ("urls", "hashtags", "mentions", "media") else pa.string()
            table = table.append_column(name, pa.nulls(table.num_rows, kind))
    return table.set_column(
        table.schema.get_field_index("timestamp"), "timestamp", table["timestamp"].cast(TIMESTAMP)
    )


def _share_events(table: pa.Table, type_list: Sequence[str], text_threshold: float, seed: int) -> pl.DataFrame:
    frames = []
    for kind, name in enumerate(type_list):
        module = _MODULES[name]
        if name == co_text.TYPE:
            events = module.share_events(table, threshold=text_threshold, seed=seed)
        else:
            events = module.share_events(table)
        frame = pl.from_arrow(events.cast(SHARE_SCHEMA))
        frames.append(frame.with_columns(kind=pl.lit(kind, dtype=pl.Int32)))
    if not frames:
        return pl.from_arrow(SHARE_SCHEMA.empty_table()).with_columns(kind=pl.lit(0, dtype=pl.Int32))
    return pl.concat(frames)


@dataclass
class _Encoded:
    """Share events as sorted integer arrays (sorted by group, then time)."""

    kind: np.ndarray  # type index per share
    group: np.ndarray  # (type, target) code per share, 0..n_groups-1
    account: np.ndarray  # account code; code order is string order, so a < b holds for codes
    time: np.ndarray  # int64 microseconds
    frame: pl.DataFrame  # the sorted share events with their codes (for evidence)
    accounts: pl.Series  # account id by code
    group_kind: np.ndarray  # type index by group code
    group_target: pl.Series  # target by group code
    group_sizes: np.ndarray  # shares per group

    @property
    def n_groups(self) -> int:
        return len(self.group_kind)

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)


def _encode(shares: pl.DataFrame, type_list: Sequence[str]) -> _Encoded:
    frame = shares.with_columns(
        account=pl.col("account_id").rank("dense").cast(pl.Int64) - 1,
        time=pl.col("timestamp").dt.epoch("us"),
    )
    groups = frame.select("kind", "target").unique().sort("kind", "target").with_row_index("group")
    frame = (
        frame.join(groups, on=["kind", "target"])
        .with_columns(pl.col("group").cast(pl.Int64))
        .sort("group", "time", "account", "id")
    )
    accounts = frame.select("account", "account_id").unique("account").sort("account")["account_id"]
    group_sizes = np.bincount(frame["group"].to_numpy(), minlength=groups.height)
    return _Encoded(
        kind=frame["kind"].to_numpy(),
        group=frame["group"].to_numpy(),
        account=frame["account"].to_numpy(),
        time=frame["time"].to_numpy(),
        frame=frame,
        accounts=accounts,
        group_kind=groups["kind"].to_numpy(),
        group_target=groups["target"],
        group_sizes=group_sizes,
    )


def _windows(encoded: _Encoded, type_list: Sequence[str], window: float | str) -> dict[str, float]:
    if window != AUTO:
        return {t: float(window) for t in type_list}
    out = {}
    for kind, name in enumerate(type_list):
        mask = encoded.kind == kind
        out[name] = estimate_window(encoded.group[mask], encoded.time[mask])
    return out


def _aggregate_pairs(
    encoded: _Encoded, ends: np.ndarray, max_pairs_per_share: int | None
) -> tuple[pl.DataFrame, np.ndarray, dict[str, Any]]:
    """Form the capped pairs chunk by chunk and sum them per (type, account pair, target)."""
    n = len(encoded.group)
    partners = ends - np.arange(1, n + 1, dtype=np.int64)
    in_pair = np.zeros(n, dtype=bool)
    parts = []
    formed = 0
    for chunk in iter_pairs(ends, max_pairs_per_share):
        i, j = chunk.first, chunk.second
        # different accounts only: an account reposting a post twice is no co-action
        keep = encoded.account[i] != encoded.account[j]
        i, j = i[keep], j[keep]
        formed += i.size
        in_pair[i] = True
        in_pair[j] = True
        acc_i, acc_j = encoded.account[i], encoded.account[j]
        parts.append(
            pl.DataFrame(
                {
                    "kind": encoded.kind[i],
                    "group": encoded.group[i],
                    "a": np.minimum(acc_i, acc_j),
                    "b": np.maximum(acc_i, acc_j),
                    "t_i": encoded.time[i],
                    "t_j": encoded.time[j],
                }
            )
            .group_by("kind", "group", "a", "b")
            .agg(pairs=pl.len(), first=pl.col("t_i").min(), last=pl.col("t_j").max())
        )
    if parts:
        aggregated = (
            pl.concat(parts)
            .group_by("kind", "group", "a", "b")
            .agg(pl.col("pairs").sum(), pl.col("first").min(), pl.col("last").max())
        )
    else:
        aggregated = pl.DataFrame(
            schema={"kind": pl.Int32, "group": pl.Int64, "a": pl.Int64, "b": pl.Int64,
                    "pairs": pl.UInt32, "first": pl.Int64, "last": pl.Int64}
        )
    capped = np.maximum(partners - (max_pairs_per_share or np.iinfo(np.int64).max), 0)
    stats = {
        "pairs_in_window": int(partners.sum()),
        "pairs_formed": int(formed),
        "pairs_capped": int(capped.sum()),
        "targets_capped": int(np.unique(encoded.group[capped > 0]).size),
    }
    return aggregated, in_pair, stats


def _edges(
    per_type: pl.DataFrame,
    encoded: _Encoded,
    type_list: Sequence[str],
    null_model: str,
    significance: float,
) -> pa.Table:
    """Per-type rows -> one EDGES_SCHEMA row per account pair, null-model figures, significance."""
    if per_type.height == 0:
        return EDGES_SCHEMA.empty_table()
    names = np.array(list(type_list), dtype=object)
    rows = per_type.with_columns(
        type=pl.Series(names[per_type["kind"].to_numpy()], dtype=pl.String),
        first_ts=pl.from_epoch("first", time_unit="us").dt.replace_time_zone("UTC"),
        last_ts=pl.from_epoch("last", time_unit="us").dt.replace_time_zone("UTC"),
        weight=pl.col("weight").cast(pl.Int64),
        n_shared=pl.col("n_shared").cast(pl.Int64),
    )
    edges = (
        rows.sort("a", "b", "kind")
        .group_by("a", "b", maintain_order=True)
        .agg(
            types=pl.struct("type", "weight", "n_shared", "first_ts", "last_ts"),
            weight_total=pl.col("weight").sum(),
            n_shared_total=pl.col("n_shared").sum(),
            first_ts=pl.col("first_ts").min(),
            last_ts=pl.col("last_ts").max(),
            expected_weight=pl.col("expected_weight").sum(),
        )
        .rename({"weight_total": "weight", "n_shared_total": "n_shared"})
    )
    weight = edges["weight"].to_numpy().astype(np.float64)
    if null_model == "none":
        edges = edges.with_columns(
            expected_weight=pl.lit(None, dtype=pl.Float64),
            p_value=pl.lit(None, dtype=pl.Float64),
            strength=pl.Series(weight),
        )
    else:
        expected = edges["expected_weight"].to_numpy()
        with np.errstate(divide="ignore"):
            strength = np.where(expected > 0, weight / np.maximum(expected, 1e-300), np.inf)
        edges = edges.with_columns(
            p_value=pl.Series(nm.poisson_p_values(weight, expected)),
            strength=pl.Series(strength),
        ).filter(pl.col("p_value") <= significance)
    edges = edges.with_columns(
        account_a=encoded.accounts.gather(edges["a"]), account_b=encoded.accounts.gather(edges["b"])
    ).sort("account_a", "account_b")
    return edges.select(EDGES_SCHEMA.names).to_arrow().cast(EDGES_SCHEMA)


def _actions(
    edges: pa.Table,
    encoded: _Encoded,
    windows: dict[str, float],
    type_list: Sequence[str],
    max_pairs_per_share: int | None,
) -> pa.Table:
    """The share events that form at least one co-share pair of a kept edge (of its type).

    A second, cheap pass: only the shares of accounts with a kept edge are paired again.
    """
    if edges.num_rows == 0:
        return ACTIONS_SCHEMA.empty_table()
    index = {name: k for k, name in enumerate(encoded.accounts.to_list())}
    kept_types = (
        pl.from_arrow(edges.select(["account_a", "account_b", "types"]))
        .explode("types")
        .select(
            a=pl.col("account_a").replace_strict(index, return_dtype=pl.Int64),
            b=pl.col("account_b").replace_strict(index, return_dtype=pl.Int64),
            kind=pl.col("types").struct.field("type").replace_strict(
                {name: k for k, name in enumerate(type_list)}, return_dtype=pl.Int64
            ),
        )
    )
    involved = np.zeros(encoded.n_accounts, dtype=bool)
    involved[kept_types["a"].to_numpy()] = True
    involved[kept_types["b"].to_numpy()] = True
    rows = np.flatnonzero(involved[encoded.account])
    window_us = np.array([round(windows[t] * 1e6) for t in type_list], dtype=np.int64)
    group, account, t, kind = (encoded.group[rows], encoded.account[rows], encoded.time[rows], encoded.kind[rows])
    ends = window_ends(group, t, window_us[kind])
    hit = np.zeros(rows.size, dtype=bool)
    n_acc = encoded.n_accounts
    kept_keys = np.sort(
        (kept_types["kind"].to_numpy() * n_acc + kept_types["a"].to_numpy()) * n_acc
        + kept_types["b"].to_numpy()
    )
    for chunk in iter_pairs(ends, max_pairs_per_share):
        i, j = chunk.first, chunk.second
        lo, hi = np.minimum(account[i], account[j]), np.maximum(account[i], account[j])
        keys = (kind[i].astype(np.int64) * n_acc + lo) * n_acc + hi
        pos = np.clip(np.searchsorted(kept_keys, keys), 0, len(kept_keys) - 1)
        match = (kept_keys[pos] == keys) & (lo != hi)
        hit[i[match]] = True
        hit[j[match]] = True
    chosen = encoded.frame[rows[hit]]
    names = np.array(list(type_list), dtype=object)
    out = chosen.with_columns(type=pl.Series(names[chosen["kind"].to_numpy()], dtype=pl.String))
    out = out.select(ACTIONS_SCHEMA.names)
    return out.to_arrow().cast(ACTIONS_SCHEMA)
