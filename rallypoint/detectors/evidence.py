"""Evidence rows: the records behind every number in a cluster's reasons.

What it computes
    Rows of ``EVIDENCE_SCHEMA`` for each cluster:

    * ``coaction:<type>`` — every co-share action of a member on a target that at least
      one *other member of the same cluster* acted on within the co-action window
      (inclusive), taken from the co-action stage's ``actions`` (the shares that formed
      its kept pairs). These rows are what "k of n accounts reposted the same t posts
      within w s of another member" counts: k distinct ``account_id``, t distinct
      ``target``.
    * ``call_to_action``, ``logistics``, ``escalation``, ``delegitimization``,
      ``code_word`` — one row per text the cluster pushed (a member's co-action record,
      or the post members reposted or replied to) that the mobilization lexicons
      flagged for that signal, with the ``matched`` phrases for highlighting;
      ``structural_call`` (a date, a time and a where or how:
      :mod:`rallypoint.detectors.mobilization.structure`) and ``money_link``,
      ``logistics_link``, ``petition_link`` (the link domains matched:
      :mod:`rallypoint.detectors.links`) likewise, text or no text; ``learned_term``
      (a term another flagged cluster taught, :mod:`rallypoint.detectors.terms`, in
      ``matched``); ``target``
      is the text's thread (the post a reply or quote answers, else the text's own id),
      and the reasons count threads: distinct ``target``.

How
    Co-actions are joined to cluster membership, sorted by (cluster, type, target,
    time, account), as integers in the strings' order, and an action is kept when the
    previous or the next action of the same target in the cluster is by another account
    and within the window — a sorted neighbour test, O(A log A) for A actions, no pairs
    formed. (When one account acts twice in a row on a target its second action is
    judged against the first; that can only drop an action, never keep one that has no
    partner in the window.)
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from rallypoint.arrays import sorted_codes
from rallypoint.detectors.scoring import COACTION_VERBS
from rallypoint.schema import EVIDENCE_SCHEMA, INAUTHENTICITY_EVIDENCE_KINDS, SIGNAL_EVIDENCE_KINDS

COACTION_PREFIX = "coaction:"
#: Every evidence kind with the words an analyst reads for it, taken from where each kind is
#: defined: the signals and the inauthenticity cues (rallypoint.schema), the co-action types
#: (the reasons' verbs and nouns, rallypoint.detectors.scoring).
KIND_LABELS: dict[str, str] = {
    **SIGNAL_EVIDENCE_KINDS,
    **INAUTHENTICITY_EVIDENCE_KINDS,
    **{COACTION_PREFIX + t: f"co-action: {verb} the same {noun}" for t, (verb, noun) in COACTION_VERBS.items()},
}
#: Co-action types whose target is a post with an author (the author acted first).
ORIGIN_TYPES = ["co_repost", "co_reply", "co_engage"]


def empty_evidence() -> pl.DataFrame:
    """No evidence rows; ``cluster_id`` is the community number (Int64) until the run is written."""
    return pl.from_arrow(EVIDENCE_SCHEMA.empty_table()).with_columns(pl.col("cluster_id").cast(pl.Int64))


def coaction_evidence(actions: pa.Table | pl.DataFrame, membership: pl.DataFrame,
                      window_seconds: dict[str, float] | float) -> pl.DataFrame:
    """Co-action evidence rows for the clusters in ``membership`` (``account_id``, ``cluster_id``).

    ``actions`` has ``type``, ``target``, ``account_id``, ``id``, ``timestamp``;
    ``window_seconds`` is the co-action window, one for all types or one per type.
    """
    acts = actions if isinstance(actions, pl.DataFrame) else pl.from_arrow(actions)
    if acts.height == 0 or membership.height == 0:
        return empty_evidence()
    # an action without a type or target partners no one: it is left out before the codes
    acts = acts.select("type", "target", "account_id", "id", "timestamp").drop_nulls(["type", "target"])
    # the sort is by integers in the strings' order: (cluster, type, target) one number and
    # (time, account) another; strings sorted, and compared row to row, cost most of this stage
    types, type_code = sorted_codes(acts["type"])
    targets, target_code = sorted_codes(acts["target"])
    windows = window_seconds if isinstance(window_seconds, dict) else dict.fromkeys(types, window_seconds)
    window_of_type = pl.Series([round(windows[t] * 1e6) if t in windows else None for t in types], dtype=pl.Int64)
    acts = acts.with_columns(type_code=type_code, target_code=target_code, window_us=window_of_type.gather(type_code))
    members = membership.select("account_id", "cluster_id").sort("account_id").with_row_index("member")
    n_types, n_targets, n_members = types.len(), targets.len(), members.height
    joined = acts.join(members, on="account_id", how="inner").with_columns(
        group=(pl.col("cluster_id") * n_types + pl.col("type_code")) * n_targets + pl.col("target_code"),
        order=pl.col("timestamp").rank("dense").cast(pl.Int64) * n_members + pl.col("member"),
    ).sort("group", "order")
    window = pl.duration(microseconds=pl.col("window_us"))

    # the rows are sorted by group: a neighbour is in the same group when its number is equal
    def neighbour(offset: int) -> pl.Expr:
        apart = (pl.col("timestamp") - pl.col("timestamp").shift(offset)).abs()
        return ((pl.col("group") == pl.col("group").shift(offset)) & (apart <= window)
                & (pl.col("member").shift(offset) != pl.col("member"))).fill_null(False)

    partnered = neighbour(1) | neighbour(-1)
    kept = joined.filter(partnered)
    return kept.select(
        "cluster_id",
        "id",
        "account_id",
        "timestamp",
        kind=pl.lit(COACTION_PREFIX) + pl.col("type"),
        target=pl.col("target"),
        text=pl.lit(None, pl.String),
        matched=pl.lit(None, pl.List(pl.String)),
    ).pipe(_cast)


def signal_evidence(signals: pl.DataFrame) -> pl.DataFrame:
    """Mobilization evidence rows from per-text signals of the clusters' texts.

    ``signals`` has ``cluster_id``, ``id``, ``account_id``, ``timestamp``, ``text``, a
    boolean column per kind in :data:`SIGNAL_EVIDENCE_KINDS` and ``matched_<kind>`` (phrases).
    """
    if signals.height == 0:
        return empty_evidence()
    parts = [
        signals.filter(pl.col(kind).fill_null(False)).select(
            "cluster_id",
            "id",
            "account_id",
            "timestamp",
            kind=pl.lit(kind),
            target=pl.col("thread") if "thread" in signals.columns else pl.col("id"),
            text=pl.col("text"),
            matched=pl.col(f"matched_{kind}"),
        )
        for kind in SIGNAL_EVIDENCE_KINDS
        if kind in signals.columns
    ]
    return pl.concat([_cast(p) for p in parts]) if parts else empty_evidence()


def _cast(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("timestamp").cast(pl.Datetime("us", "UTC")),
        pl.col("matched").cast(pl.List(pl.String)),
        pl.col("text").cast(pl.String),
        pl.col("target").cast(pl.String),
    ).select(EVIDENCE_SCHEMA.names)


def evidence_counts(evidence: pl.DataFrame) -> pl.DataFrame:
    """Per cluster, what the reasons count: co-action accounts/targets/actions per type, texts per signal.

    Returns ``cluster_id``, ``coaction`` (list of {type, n_accounts, n_targets,
    n_actions}), ``n_coactions`` and ``n_<kind>`` for every signal kind.
    """
    is_coaction = pl.col("kind").str.starts_with(COACTION_PREFIX)
    coaction = (
        evidence.filter(is_coaction)
        .with_columns(type=pl.col("kind").str.strip_prefix(COACTION_PREFIX))
        .group_by("cluster_id", "type")
        .agg(
            n_accounts=pl.col("account_id").n_unique().cast(pl.Int64),
            n_targets=pl.col("target").n_unique().cast(pl.Int64),
            n_actions=pl.len().cast(pl.Int64),
        )
        .group_by("cluster_id")
        .agg(
            coaction=pl.struct("type", "n_accounts", "n_targets", "n_actions"),
            n_coactions=pl.col("n_actions").sum().cast(pl.Int64),
        )
    )
    signals = (
        evidence.filter(~is_coaction)
        .group_by("cluster_id")
        .agg(
            [
                pl.col("target").fill_null(pl.col("id")).filter(pl.col("kind") == kind).n_unique()
                .cast(pl.Int64).alias(f"n_{kind}")
                for kind in SIGNAL_EVIDENCE_KINDS
            ]
        )
    )
    return coaction.join(signals, on="cluster_id", how="full", coalesce=True)


def kind_label(kind: str) -> str:
    """The words for an evidence ``kind`` (:data:`KIND_LABELS`); a kind without them as it is."""
    return KIND_LABELS.get(kind, kind)
