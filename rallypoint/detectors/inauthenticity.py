"""Are a cluster's accounts who they seem? Cues of inauthenticity, each against the lake's background.

What it computes
    Per cluster, four cues, each a share of its members in excess of what the lake's
    own accounts show (0 when no more than the background):

    ``created_burst``  members created within :data:`BURST_DAYS` days of each other:
        the densest such window of the members' creation dates holds ``k`` of ``n``;
        ``p0`` is the share of the lake's accounts created in that same window; the cue
        is ``(k/n - p0) / (1 - p0)`` when the binomial tail ``P(X >= k; n, p0)``, times the
        number of windows the lake's creation dates span (the densest window was searched
        for, not named in advance: a scan statistic's Bonferroni bound), is below
        :data:`SIGNIFICANCE`, else 0 (sock-puppet and troll-farm accounts are made in
        batches: Ferrara et al. 2016, "The rise of social bots"; Twitter's 2018 IRA
        disclosures).
    ``young``  members created less than :data:`YOUNG_DAYS` days before their first
        action in the run, in excess of the lake's share of such accounts (same test).
    ``no_life``  members whose actions are mostly (>= :data:`INSIDE_SHARE`, two thirds) the
        cluster's own co-actions: accounts that exist for the campaign, with no everyday
        life around it.
    ``regular``  members (>= :data:`MIN_GAPS` gaps) whose gaps between actions vary
        little (coefficient of variation < :data:`REGULAR_CV`): people act in bursts
        (Barabási 2005, heavy-tailed gaps, CV well above 1); a scheduler does not
        (Chavoshi et al. 2016, DeBot), in excess of the lake's share; read only in clusters
        whose accounts are new (identity > 0), where it can matter.

    ``identity = max(created_burst, young)`` (who the accounts are),
    ``behaviour = max(no_life, regular)`` (how they act), and
    ``inauthenticity_score = sqrt(identity * behaviour)``: both must be there. A wave of
    newcomers who then use the platform normally is young but lives (behaviour ~0); a
    fandom lives inside its idol's posts but its accounts are years old (identity ~0);
    neither is inauthentic.

    The lake's background comes from its accounts (a deterministic hash sample of whole accounts, about
    :data:`BACKGROUND_ROWS` records, on large lakes).

Evidence
    One row per member and cue it shows (kinds in :data:`KINDS`): ``id`` is the member's
    first co-action in the cluster, ``target`` its creation date, ``text`` the numbers.

Complexity
    One group-by over the background sample and the members' records, a sort of them by
    (account, time) for the gaps, and for the densest creation windows one sort of the
    members by (cluster, creation date) and one binary search: no loop over clusters.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pyarrow as pa
from scipy.stats import binom

from rallypoint.schema import INAUTHENTICITY_EVIDENCE_KINDS

BURST_DAYS = 7
YOUNG_DAYS = 30
INSIDE_SHARE = 2 / 3
REGULAR_CV = 0.5
MIN_GAPS = 5
SIGNIFICANCE = 1e-3
BACKGROUND_ROWS = 500_000
KINDS = INAUTHENTICITY_EVIDENCE_KINDS
_IN_BURST, _YOUNG, _NO_LIFE, _REGULAR = KINDS
_DAY_US = 86_400 * 1_000_000

#: Per-cluster columns :func:`cluster_inauthenticity` returns (besides ``cluster_id``).
COLUMNS = {
    "inauthenticity_score": pl.Float64, "created_burst_score": pl.Float64, "young_score": pl.Float64,
    "no_life_score": pl.Float64, "regular_score": pl.Float64,
    "n_created_in_burst": pl.Int64, "burst_window_start": pl.Date, "burst_background_share": pl.Float64,
    "burst_p_value": pl.Float64, "n_young": pl.Int64, "young_background_share": pl.Float64,
    "n_no_life": pl.Int64, "n_regular": pl.Int64, "regular_background_share": pl.Float64,
}


def _account_activity(records: pl.DataFrame) -> pl.DataFrame:
    """Per account: created (µs), first action (µs), actions, and the coefficient of variation of its gaps."""
    # sorted on the account's 64-bit hash, not its string (the sort's cost); a collision of two
    # accounts' hashes would only merge two accounts' gaps
    ordered = records.select("account_id", key=pl.col("account_id").hash(seed=0),
                             t=pl.col("timestamp").dt.epoch("us"),
                             created=pl.col("account_created_at").dt.epoch("us")).sort("key", "t")
    # a gap is a difference to the row before within the same account (no window per account)
    gaps = pl.when(pl.col("key") == pl.col("key").shift(1)).then(pl.col("t").diff()).cast(pl.Float64)
    return ordered.with_columns(gap=gaps).group_by("key").agg(
        pl.col("account_id").first(),
        created=pl.col("created").min(),
        first=pl.col("t").min(),
        n_actions=pl.len().cast(pl.Int64),
        n_gaps=pl.col("gap").drop_nulls().len().cast(pl.Int64),
        cv=pl.col("gap").drop_nulls().std() / pl.col("gap").drop_nulls().mean(),
    ).drop("key")


def _records_of(records: pa.Table, accounts: pl.Series) -> pl.DataFrame:
    """The records (account, time, creation) of ``accounts``."""
    import pyarrow.compute as pc

    wanted = pa.array(accounts.unique().to_list(), pa.string())
    columns = records.select(["account_id", "timestamp", "account_created_at"])
    return pl.from_arrow(columns.filter(pc.is_in(columns.column("account_id"), value_set=wanted)))


def _background(records: pa.Table) -> tuple[np.ndarray, float, float]:
    """The lake's sorted creation times (µs), share of young accounts and share of regular ones."""
    columns = records.select(["account_id", "timestamp", "account_created_at"])
    step = max(1, math.ceil(columns.num_rows / BACKGROUND_ROWS))
    if step > 1:  # whole accounts, the same ones every run; only the ids are hashed in polars
        keep = pl.from_arrow(columns.column("account_id")).hash(seed=0) % step == 0
        columns = columns.filter(keep.to_arrow())
    accounts = _account_activity(pl.from_arrow(columns))
    created = accounts["created"].drop_nulls().sort().to_numpy()
    known = accounts.drop_nulls("created")
    young = float(((known["first"] - known["created"]) < YOUNG_DAYS * _DAY_US).mean()) if known.height else 0.0
    active = accounts.filter(pl.col("n_gaps") >= MIN_GAPS)
    regular = float((active["cv"].fill_nan(1.0) < REGULAR_CV).mean()) if active.height else 0.0
    return created, young, regular


def cluster_inauthenticity(records: pa.Table, members: pl.DataFrame, evidence: pl.DataFrame,
                           coaction_prefix: str = "coaction:") -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per cluster the cues and ``inauthenticity_score`` (:data:`COLUMNS`), and their evidence rows.

    ``records``: the run's records (``account_id``, ``timestamp``, ``account_created_at``);
    ``members``: ``cluster_id``, ``account_id`` and, when the caller has them (the
    pipeline's account facts), ``account_created_at``, ``n_actions``, ``first_ts``;
    ``evidence``: the co-action evidence rows (``cluster_id``, ``id``, ``account_id``,
    ``timestamp``, ``kind``).

    The members' rhythm (the gaps between their actions: a sort of their records) is read
    only for clusters whose accounts are new (burst or young): elsewhere identity is 0 and
    so is the score, whatever the rhythm, and at scale members hold most records.
    """
    created_bg, young_bg, regular_bg = _background(records)
    windows = max(1.0, (created_bg[-1] - created_bg[0]) / (BURST_DAYS * _DAY_US)) if created_bg.size else 1.0
    if not {"account_created_at", "n_actions", "first_ts"} <= set(members.columns):
        facts = _account_activity(_records_of(records, members["account_id"]))
        members = members.select("cluster_id", "account_id").join(
            facts.select("account_id", "n_actions", account_created_at="created", first_ts="first"),
            on="account_id", how="left")
    people = members.select(
        pl.col("cluster_id").cast(pl.Int64), "account_id", "n_actions",
        created=pl.col("account_created_at").cast(pl.Datetime("us", "UTC")).dt.epoch("us"),
        first=pl.col("first_ts").cast(pl.Datetime("us", "UTC")).dt.epoch("us"),
    ).with_columns(young=((pl.col("first") - pl.col("created")) < YOUNG_DAYS * _DAY_US).fill_null(False),
                   no_life=pl.lit(False), regular=pl.lit(False))
    identity, _ = _cluster_scores(people, created_bg, young_bg, regular_bg, windows)
    new = identity.filter((pl.col("created_burst_score") > 0) | (pl.col("young_score") > 0))["cluster_id"]
    coactions = evidence.filter(pl.col("kind").str.starts_with(coaction_prefix))
    inside = coactions.group_by("cluster_id", "account_id").agg(n_inside=pl.col("id").n_unique().cast(pl.Int64))
    first = coactions.sort("timestamp", "id").group_by("cluster_id", "account_id").agg(
        pl.col("id").first(), pl.col("timestamp").first())
    mine = people.filter(pl.col("cluster_id").is_in(new.implode()))
    gaps = _account_activity(_records_of(records, mine["account_id"])).select("account_id", "n_gaps", "cv")
    people = (people.join(inside, on=["cluster_id", "account_id"], how="left")
              .join(first, on=["cluster_id", "account_id"], how="left")
              .join(gaps, on="account_id", how="left").with_columns(pl.col("n_inside").fill_null(0)))
    people = people.with_columns(
        no_life=(pl.col("n_actions") > 0) & (pl.col("n_inside") >= INSIDE_SHARE * pl.col("n_actions")),
        regular=pl.col("cluster_id").is_in(new.implode()) & (pl.col("n_gaps") >= MIN_GAPS)
        & (pl.col("cv").fill_nan(1.0) < REGULAR_CV),
    ).with_columns(pl.col("no_life", "regular").fill_null(False))
    frame, window_lo = _cluster_scores(people, created_bg, young_bg, regular_bg, windows)
    in_burst = (people.join(window_lo, on="cluster_id", how="inner")
                .filter(pl.col("created").is_between(pl.col("_lo"), pl.col("_lo") + BURST_DAYS * _DAY_US,
                                                     closed="left"))
                .drop("_lo").with_columns(kind=pl.lit(_IN_BURST)))
    cues = [people.filter(pl.col(col)).with_columns(kind=pl.lit(kind))
            for col, kind in (("young", _YOUNG), ("no_life", _NO_LIFE), ("regular", _REGULAR))]
    return frame, _evidence_rows(pl.concat([in_burst, *cues], how="diagonal_relaxed"))


def _excess_columns(k: np.ndarray, n: np.ndarray, p0: np.ndarray, tests: float = 1.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``(k/n - p0) / (1 - p0)`` where ``k`` of ``n`` is significantly above ``p0`` (the binomial
    tail times ``tests``, the windows searched, below :data:`SIGNIFICANCE`), else 0; and those p-values."""
    p0 = np.clip(p0, 1e-6, 1 - 1e-9)
    p_value = np.where(k > 0, np.minimum(1.0, binom.sf(k - 1, np.maximum(n, 1), p0) * tests), 1.0)
    share = np.where(n > 0, k / np.maximum(n, 1), 0.0)
    return np.where((p_value < SIGNIFICANCE) & (k > 0), np.maximum(0.0, (share - p0) / (1 - p0)), 0.0), p_value


def _cluster_scores(people: pl.DataFrame, created_bg: np.ndarray, young_bg: float, regular_bg: float,
                    windows: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every cluster's cues at once (a large run has tens of thousands of clusters): the scores
    frame, and each bursting cluster's window start (``cluster_id``, ``_lo``)."""
    counts = people.group_by("cluster_id").agg(
        n=pl.len().cast(pl.Int64), n_young=pl.col("young").sum().cast(pl.Int64),
        n_no_life=pl.col("no_life").sum().cast(pl.Int64), n_regular=pl.col("regular").sum().cast(pl.Int64),
    ).sort("cluster_id")
    # the densest window: members sorted by (cluster, creation); for each, how many of its
    # cluster were created in the BURST_DAYS from it, by one search over a composite key
    dated = people.drop_nulls("created").select("cluster_id", "created").sort("cluster_id", "created")
    cluster = dated["cluster_id"].to_numpy()
    created = dated["created"].to_numpy() // 1_000_000  # seconds: the composite key stays in int64
    offset = created - (created.min() if created.size else 0)
    stride = int(offset.max() if offset.size else 0) + BURST_DAYS * 86_400 + 1
    code = np.unique(cluster, return_inverse=True)[1].astype(np.int64)
    key = code * stride + offset
    ahead = np.searchsorted(key, key + BURST_DAYS * 86_400, side="left") - np.arange(key.size)
    size = dated.group_by("cluster_id").len().sort("cluster_id")
    best = (pl.DataFrame({"cluster_id": cluster, "k": ahead, "_lo": dated["created"].to_numpy()})
            .join(size, on="cluster_id").filter(pl.col("len") >= 3)
            .sort(["cluster_id", "k", "_lo"], descending=[False, True, False])
            .unique("cluster_id", keep="first", maintain_order=True).drop("len"))
    frame = counts.join(best, on="cluster_id", how="left").with_columns(pl.col("k").fill_null(0))
    lo = frame["_lo"].fill_null(0).to_numpy()
    if created_bg.size:
        inside = np.searchsorted(created_bg, lo + BURST_DAYS * _DAY_US) - np.searchsorted(created_bg, lo)
        p0 = np.where(frame["_lo"].is_null().to_numpy(), 0.0, inside / created_bg.size)
    else:
        p0 = np.zeros(frame.height)
    n, k = frame["n"].to_numpy(), frame["k"].to_numpy()
    burst, p_value = _excess_columns(k, n, p0, windows)
    burst = np.where(frame["_lo"].is_null().to_numpy() | (created_bg.size == 0), 0.0, burst)
    young, _ = _excess_columns(frame["n_young"].to_numpy(), n, np.full(n.size, young_bg))
    regular, _ = _excess_columns(frame["n_regular"].to_numpy(), n, np.full(n.size, regular_bg))
    no_life = np.where(n > 0, frame["n_no_life"].to_numpy() / np.maximum(n, 1), 0.0)
    identity, behaviour = np.maximum(burst, young), np.maximum(no_life, regular)
    scores = frame.select(
        "cluster_id",
        inauthenticity_score=pl.Series(np.sqrt(identity * behaviour)), created_burst_score=pl.Series(burst),
        young_score=pl.Series(young), no_life_score=pl.Series(no_life), regular_score=pl.Series(regular),
        n_created_in_burst=pl.when(pl.Series(burst) > 0).then(pl.col("k")).otherwise(0).cast(pl.Int64),
        burst_window_start=pl.from_epoch(pl.col("_lo"), time_unit="us").dt.date(),
        burst_background_share=pl.Series(p0, dtype=pl.Float64), burst_p_value=pl.Series(p_value, dtype=pl.Float64),
        n_young="n_young", young_background_share=pl.lit(young_bg, pl.Float64), n_no_life="n_no_life",
        n_regular="n_regular", regular_background_share=pl.lit(regular_bg, pl.Float64),
    ).cast({"cluster_id": pl.Int64, **COLUMNS})
    bursting = frame.filter(pl.Series(burst > 0)).select("cluster_id", "_lo")
    return scores, bursting


def _evidence_rows(cues: pl.DataFrame) -> pl.DataFrame:
    """Evidence rows (``EVIDENCE_SCHEMA`` columns) of per-member cues."""
    if "kind" not in cues.columns:
        cues = cues.head(0).with_columns(kind=pl.lit(None, pl.String))
    created = pl.from_epoch(pl.col("created"), time_unit="us").dt.strftime("%Y-%m-%d")
    age_days = ((pl.col("first") - pl.col("created")) / _DAY_US).round(0).cast(pl.Int64)
    text = (
        pl.when(pl.col("kind") == _IN_BURST).then(pl.format("created {} with other members of the cluster", created))
        .when(pl.col("kind") == _YOUNG).then(pl.format("created {}, {} days before its first action in the run",
                                                         created, age_days))
        .when(pl.col("kind") == _NO_LIFE).then(pl.format("{} of its {} actions are this cluster's co-actions",
                                                         pl.col("n_inside"), pl.col("n_actions")))
        .otherwise(pl.format("{} gaps between its actions, coefficient of variation {}", pl.col("n_gaps"),
                             pl.col("cv").round(2)))
    )
    return cues.filter(pl.col("id").is_not_null()).select(
        pl.col("cluster_id").cast(pl.Int64), "id", "account_id",
        pl.col("timestamp").cast(pl.Datetime("us", "UTC")), "kind",
        target=created, text=text, matched=pl.lit(None, pl.List(pl.String)))


__all__ = ["COLUMNS", "KINDS", "cluster_inauthenticity"]
