"""Score a cluster from its evidence, and say why in sentences with numbers.

What it computes
    Five components, each in 0..1, from facts about a cluster (:data:`FACT_COLUMNS`):

    ``coordination_score``  how far the members' co-actions exceed what timing alone
        explains: ``log10(observed / expected co-share pairs) / log10(100)``, clipped —
        1 at a hundred times chance. ``expected`` is the null model's (the co-action
        stage's time-shuffling permutation test, after Pacheco et al. 2021's insistence
        on a baseline of "what coincidence gives"). Without a null model the mean
        co-share weight per edge stands in for the ratio.
    Every ``*_share`` below is the lower end of the share's 95 % Wilson score interval
    (Wilson 1927), not the raw share: two alarming texts among six are weak evidence,
    two hundred among six hundred are not.

    ``mobilization_score``  calls to act, made concrete:
        ``min(1, call_to_action_share / 0.2) * (0.5 + 0.3 * where_when + 0.2 * min(1, logistics_share / 0.1))``
        where ``where_when`` is 1 when a date *and* a place are named together by at
        least two texts, 0.5 when only a date or only a place is named, else 0.
    ``escalation_score``  harm narratives: ``max(min(1, escalation_share / 0.1),
        min(1, delegitimization_share / 0.5))`` — threats and calls to force, or claims
        that the election was stolen (the amplification rings' payload).
    ``burst_score``  the share of the cluster's co-actions that fall inside its
        activity bursts (Kleinberg 2002, the signals module).
    ``growth_score``  the share of members created less than :data:`NEW_ACCOUNT_DAYS`
        days before their first action in the run.

    ``narrative``  how far the calls come inside a stolen-election narrative or behind a
        code word: ``max(min(1, delegitimization_share / 0.05), min(1, code_word_share / 0.05),
        0.5 * min(1, learned_term_share / 0.05))`` — a learned term (a word other flagged
        clusters pushed far more than the lake, :mod:`rallypoint.detectors.terms`) is weak
        evidence, half a code word (not stored; the harm reason states it).
    ``inauthenticity_score``  whether the members are who they seem: accounts created in
        a burst or young when they act, *and* living only inside the cluster's co-actions
        or acting on a schedule, each against the lake's background
        (:mod:`rallypoint.detectors.inauthenticity`).
    ``structure_score``  gathering calls recognized by their structure, whatever their
        words (a date, a time of day and a place or logistics:
        :mod:`rallypoint.detectors.mobilization.structure`): ``min(1, structural_call_share / 0.2)``.
    ``link_score``  money or logistics travelling as links (crowdfunding and payment
        pages, sign-up forms, transport, group invites: :mod:`rallypoint.detectors.links`),
        text or no text: ``min(1, max(money_link_share, logistics_link_share) / 0.1)``.

    The score rests on harm, with coordination as its multiplier::

        quiet = inauthenticity_score * max(structure_score, link_score)
        harm  = 1 - (1 - 0.5 * (1 + narrative) * mobilization_score) * (1 - escalation_score) * (1 - quiet)
        score = coordination_score * harm * (0.7 + 0.15 * burst_score + 0.15 * growth_score)

    ``quiet`` is the evidence that needs no lexicon: a call by its structure, or money and
    sign-ups pushed as links, counts as harm only as far as the accounts pushing it are
    inauthentic; a supporters' club filling coaches or a charity drive shared by people
    with lives of their own makes the same calls and links, and is no harm.

    so coordination alone (a fandom, a news aggregator) scores 0, however inauthentic; a call to a place
    and date alone counts half (lawful protests make them too), and fully when it is
    made inside an election-fraud narrative or behind a code word (6 and 8 January
    were both); escalation or an election-delegitimization narrative pushed in
    lockstep counts fully. A cluster is
    ``flagged`` when ``score >= threshold`` (default :data:`DEFAULT_THRESHOLD`), which
    the run records in ``run.json``.

    ``order_score = coordination_score * (0.5 + 0.5 * inauthenticity_score)`` orders the
    queue after ``score``: clusters without harm evidence (score 0) come by how strongly
    and how inauthentically they are coordinated, not in a wall of 0.00; it never flags.

    Nothing about who the members are enters the score: ``high_profile`` accounts are
    listed (``high_profile_accounts``) and mentioned in the reasons, never weighted.

Complexity
    O(clusters) vectorised for the components; the reasons are one short loop per
    cluster (clusters, not records).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from rallypoint.detectors.options import DEFAULT_THRESHOLD

#: Observed/expected co-shares at which coordination_score reaches 1.
COORDINATION_SATURATION = 100.0
CALL_TO_ACTION_SATURATION = 0.2
LOGISTICS_SATURATION = 0.1
ESCALATION_SATURATION = 0.1
DELEGITIMIZATION_SATURATION = 0.5
MOBILIZATION_ALONE_WEIGHT = 0.5
#: Share (Wilson lower bound) of a cluster's posts with a fraud claim or a code word at
#: which its calls count fully.
NARRATIVE_SATURATION = 0.05
BASE_WEIGHT, BURST_WEIGHT, GROWTH_WEIGHT = 0.7, 0.15, 0.15
STRUCTURE_SATURATION = 0.2
#: How much a learned term (rallypoint.detectors.terms) counts in the narrative, against a code word's 1.
LEARNED_TERM_WEIGHT = 0.5
LINK_SATURATION = 0.1
#: An unflagged cluster's place in the queue: coordination, lifted by inauthenticity up to twice.
ORDER_BASE = 0.5
#: The score's formula as run.json records it, written from the constants above.
SCORE_FORMULA = (
    f"score = coordination * harm * ({BASE_WEIGHT:g} + {BURST_WEIGHT:g} * bursts + {GROWTH_WEIGHT:g} * growth); "
    f"harm = 1 - (1 - {MOBILIZATION_ALONE_WEIGHT:g} * (1 + narrative) * mobilization) * (1 - escalation) * (1 - quiet); "
    f"narrative = max(min(1, delegitimization_share / {NARRATIVE_SATURATION:g}), "
    f"min(1, code_word_share / {NARRATIVE_SATURATION:g}), "
    f"{LEARNED_TERM_WEIGHT:g} * min(1, learned_term_share / {NARRATIVE_SATURATION:g})); "
    "quiet = inauthenticity * max(structure, link); "
    f"order_score = coordination * ({ORDER_BASE:g} + {1 - ORDER_BASE:g} * inauthenticity)"
)
NEW_ACCOUNT_DAYS = 30
#: Text shares enter the score as the lower end of their 95 % Wilson interval.
WILSON_Z = 1.96

#: What :func:`score_clusters` needs per cluster (a Polars frame, one row per cluster).
FACT_COLUMNS: dict[str, str] = {
    "cluster_id": "the cluster",
    "n_accounts": "members",
    "observed_weight": "co-share pairs on the cluster's internal edges",
    "expected_weight": "what the null model expects for them (null without a null model)",
    "n_internal_edges": "edges inside the cluster",
    "coaction": "list of {type, n_accounts, n_targets, n_actions} from the co-action evidence",
    "n_coactions": "co-action evidence rows",
    "n_coactions_in_bursts": "of which inside the cluster's bursts",
    "bursts": "list of {start, end, level}",
    "n_threads": "posts the members pushed (a post with its replies and quotes), read for mobilization signals",
    "n_call_to_action": "texts with a call to action (evidence rows)",
    "n_logistics": "texts with logistics",
    "n_escalation": "texts with escalation",
    "n_delegitimization": "texts with election-delegitimization claims",
    "n_code_word": "texts with code words",
    "top_date_places": "list of {date, place, count}",
    "n_new_accounts": "members created < NEW_ACCOUNT_DAYS days before they first acted",
    "n_structural_call": "texts that are a call by their structure (date, time, place or logistics)",
    "n_money_link": "posts with a money link (crowdfunding, payment)",
    "n_logistics_link": "posts with a logistics link (sign-up form, transport, lodging, group invite)",
    "n_petition_link": "posts with a petition link (reported, not scored)",
    "inauthenticity_score": "inauthenticity.cluster_inauthenticity's score and its cues' columns",
    "high_profile_accounts": "list of member ids flagged high_profile",
}

#: What a reason is evidence of, in the order an analyst reads them: the harm (threats, the
#: election-fraud narrative), the mobilization (calls, logistics), the coordination, the formulas.
REASON_CATEGORIES = ("harm", "mobilization", "coordination", "formula")
#: signal column -> (what the posts do, in the reason's words; the reason's category).
SIGNAL_REASONS: dict[str, tuple[str, str]] = {
    "n_escalation": ("escalate (threats, calls to force or to storm a place)", "harm"),
    "n_delegitimization": ("claim the election was stolen or rigged", "harm"),
    "n_code_word": ("use code words", "harm"),
    "n_call_to_action": ("call people to act", "mobilization"),
    "n_logistics": ("give logistics (travel, lodging, what to bring)", "mobilization"),
    "n_structural_call": ("are calls by their structure: a date, a time of day and a place or logistics", "mobilization"),
    "n_money_link": ("carry a money link (crowdfunding, payment)", "mobilization"),
    "n_logistics_link": ("carry a logistics link (sign-up form, transport, lodging, group invite)", "mobilization"),
    "n_petition_link": ("carry a petition link", "mobilization"),
}
LEARNED_TERMS_WHAT = "use terms"
#: The formula sentences start with these words.
FORMULA_PREFIXES = ("Evidence without a lexicon ", "Harm ", "Score ")
_NAMED_PLACE = re.compile(r"^\d+ texts name ")
_LEARNED_TERMS = re.compile(rf"^\d+ of \d+ posts the cluster pushed {LEARNED_TERMS_WHAT} ")
_LEADING_COUNT = re.compile(r"^(\d+) of \d+ ")

#: co-action type -> (verb, noun) for the reasons and the evidence's labels.
COACTION_VERBS = {
    "co_repost": ("reposted", "post"),
    "co_link": ("shared", "link"),
    "co_text": ("posted", "near-identical text"),
    "co_hashtags": ("used", "hashtag set"),
    "co_mention": ("mentioned", "account"),
    "co_media": ("attached", "image"),
    "co_reply": ("replied to", "post"),
    "co_engage": ("reposted, quoted or replied to", "post"),
}


def _share(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    return pl.when(denominator > 0).then(numerator / denominator).otherwise(0.0)


def wilson_lower(count: pl.Expr, total: pl.Expr, z: float = WILSON_Z) -> pl.Expr:
    """Lower end of the Wilson score interval of ``count / total`` (0 when ``total`` is 0).

    The share we are 95 % sure of: 2 texts of 6 give 0.10, 200 of 600 give 0.30.
    """
    n = total.cast(pl.Float64)
    p = _share(count.cast(pl.Float64), n)
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt()
    # no count is exactly 0: the formula's rounding left ~1e-17, which outranked true zeros in the queue
    return pl.when((n > 0) & (count > 0)).then(((centre - spread) / (1 + z2 / n)).clip(0.0, 1.0)).otherwise(0.0)


#: Facts a caller may leave out (0 when absent): the evidence that needs no lexicon.
OPTIONAL_FACTS: dict[str, pl.Expr] = {
    "n_structural_call": pl.lit(0, pl.Int64), "n_money_link": pl.lit(0, pl.Int64),
    "n_logistics_link": pl.lit(0, pl.Int64), "n_petition_link": pl.lit(0, pl.Int64),
    "inauthenticity_score": pl.lit(0.0, pl.Float64), "n_learned_term": pl.lit(0, pl.Int64),
}


def component_scores(facts: pl.DataFrame) -> pl.DataFrame:
    """The components and the score, as columns added to ``facts``."""
    facts = facts.with_columns(**{k: v for k, v in OPTIONAL_FACTS.items() if k not in facts.columns})
    ratio = pl.when(pl.col("expected_weight") > 0).then(
        pl.col("observed_weight") / pl.col("expected_weight")
    ).otherwise(_share(pl.col("observed_weight").cast(pl.Float64), pl.col("n_internal_edges")))
    coordination = (ratio.log10() / np.log10(COORDINATION_SATURATION)).clip(0.0, 1.0).fill_nan(0.0)

    n_threads = pl.col("n_threads")
    call = (wilson_lower(pl.col("n_call_to_action"), n_threads) / CALL_TO_ACTION_SATURATION).clip(0.0, 1.0)
    logistics = (wilson_lower(pl.col("n_logistics"), n_threads) / LOGISTICS_SATURATION).clip(0.0, 1.0)
    where_when = pl.col("where_when")
    mobilization = call * (0.5 + 0.3 * where_when + 0.2 * logistics)

    escalation = pl.max_horizontal(
        (wilson_lower(pl.col("n_escalation"), n_threads) / ESCALATION_SATURATION).clip(0.0, 1.0),
        (wilson_lower(pl.col("n_delegitimization"), n_threads) / DELEGITIMIZATION_SATURATION).clip(0.0, 1.0),
    )
    burst = _share(pl.col("n_coactions_in_bursts"), pl.col("n_coactions"))
    growth = _share(pl.col("n_new_accounts"), pl.col("n_accounts"))

    scored = facts.with_columns(
        coordination_ratio=ratio,
        where_when=_where_when(facts["top_date_places"]),
    ).with_columns(
        coordination_score=coordination,
        mobilization_score=mobilization,
        escalation_score=escalation,
        burst_score=burst,
        growth_score=growth,
    )
    # a call made inside a stolen-election narrative, or behind a code word, is no lawful
    # protest's call: it counts up to fully instead of half
    narrative = pl.max_horizontal(
        wilson_lower(pl.col("n_delegitimization"), n_threads) / NARRATIVE_SATURATION,
        wilson_lower(pl.col("n_code_word"), n_threads) / NARRATIVE_SATURATION,
        # a term learned from another flagged cluster is a code word no one confirmed: weak evidence
        LEARNED_TERM_WEIGHT * (wilson_lower(pl.col("n_learned_term"), n_threads) / NARRATIVE_SATURATION).clip(0.0, 1.0),
    ).clip(0.0, 1.0)
    scored = scored.with_columns(narrative_score=narrative)
    inauthenticity = pl.col("inauthenticity_score").fill_null(0.0)
    structure = (wilson_lower(pl.col("n_structural_call"), n_threads) / STRUCTURE_SATURATION).clip(0.0, 1.0)
    link = (pl.max_horizontal(wilson_lower(pl.col("n_money_link"), n_threads),
                              wilson_lower(pl.col("n_logistics_link"), n_threads)) / LINK_SATURATION).clip(0.0, 1.0)
    scored = scored.with_columns(inauthenticity_score=inauthenticity, structure_score=structure, link_score=link)
    quiet = pl.col("inauthenticity_score") * pl.max_horizontal("structure_score", "link_score")
    scored = scored.with_columns(quiet_score=quiet)
    call_weight = MOBILIZATION_ALONE_WEIGHT * (1 + pl.col("narrative_score"))
    harm = 1 - ((1 - call_weight * pl.col("mobilization_score")) * (1 - pl.col("escalation_score"))
                * (1 - pl.col("quiet_score")))
    lift = BASE_WEIGHT + BURST_WEIGHT * pl.col("burst_score") + GROWTH_WEIGHT * pl.col("growth_score")
    return scored.with_columns(harm_score=harm).with_columns(
        score=(pl.col("coordination_score") * pl.col("harm_score") * lift).clip(0.0, 1.0),
        order_score=pl.col("coordination_score") * (ORDER_BASE + (1 - ORDER_BASE) * pl.col("inauthenticity_score")),
    )


def _where_when(top_date_places: pl.Series) -> pl.Series:
    """1 if a date and a place are named together by >= 2 texts, 0.5 if only one of them, else 0."""
    values = []
    for rows in top_date_places.to_list():
        rows = [r for r in (rows or []) if (r.get("count") or 0) >= 2]
        both = any(r.get("date") and r.get("place") for r in rows)
        either = any(r.get("date") or r.get("place") for r in rows)
        values.append(1.0 if both else 0.5 if either else 0.0)
    return pl.Series("where_when", values, dtype=pl.Float64)


def score_clusters(facts: pl.DataFrame, threshold: float = DEFAULT_THRESHOLD,
                   window_seconds: dict[str, float] | None = None, names: dict[int, str] | None = None
                   ) -> pl.DataFrame:
    """Components, ``score``, ``flagged`` and ``reasons`` for every cluster in ``facts``;
    ``names`` (cluster number -> its name in the run) names the clusters a learned term came from."""
    scored = component_scores(facts).with_columns(flagged=pl.col("score") >= threshold)
    reasons = [cluster_reasons(row, threshold, window_seconds, names) for row in scored.iter_rows(named=True)]
    return scored.with_columns(reasons=pl.Series("reasons", reasons, dtype=pl.List(pl.String)))


def inauthenticity_reasons(row: dict[str, Any], n: int) -> list[str]:
    """The inauthenticity cues' sentences, each with the lake's background beside it."""
    from rallypoint.detectors import inauthenticity as ia

    out = []
    if row.get("created_burst_score"):
        start = row["burst_window_start"]
        out.append(
            f"{row['n_created_in_burst']} of {n} accounts were created within {ia.BURST_DAYS} days from {start}, "
            f"where {100 * row['burst_background_share']:.1f} % of the lake's accounts were "
            f"(binomial p = {row['burst_p_value']:.1e}, corrected for the windows searched)."
        )
    if row.get("young_score"):
        out.append(
            f"{row['n_young']} of {n} accounts were less than {ia.YOUNG_DAYS} days old when they first acted, "
            f"against {100 * row['young_background_share']:.1f} % of the lake's accounts."
        )
    if row.get("n_no_life"):
        out.append(
            f"{row['n_no_life']} of {n} accounts did at least {100 * ia.INSIDE_SHARE:.0f} % of their actions in this "
            "cluster's co-actions (no everyday life around them)."
        )
    if row.get("regular_score"):
        out.append(
            f"{row['n_regular']} of {n} accounts act at regular intervals (gaps' coefficient of variation below "
            f"{ia.REGULAR_CV:g}), against {100 * row['regular_background_share']:.1f} % of the lake's accounts."
        )
    if row.get("inauthenticity_score") and "created_burst_score" in row:
        identity = max(row["created_burst_score"] or 0, row["young_score"] or 0)
        behaviour = max(row["no_life_score"] or 0, row["regular_score"] or 0)
        out.append(
            f"Inauthenticity {row['inauthenticity_score']:.2f} = sqrt(who they are {identity:.2f} x "
            f"how they act {behaviour:.2f})."
        )
    return out


def _fmt_ratio(ratio: float) -> str:
    if ratio >= 10:
        return f"{ratio:,.0f}x"
    return f"{ratio:.1f}x"


def _fmt_time(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def cluster_reasons(row: dict[str, Any], threshold: float, window_seconds: dict[str, float] | None,
                    names: dict[int, str] | None = None) -> list[str]:
    """Sentences with the numbers behind a cluster's score, each checkable in the run tables."""
    reasons: list[str] = []
    n = row["n_accounts"]
    window_seconds = window_seconds or {}
    chance = (
        f", {_fmt_ratio(row['coordination_ratio'])} what timing explains"
        if row.get("expected_weight") and row["expected_weight"] > 0
        else ""
    )
    # ties in a fixed order (by type), so the same run gives the same sentences
    for entry in sorted(row["coaction"] or [], key=lambda e: (-e["n_actions"], e["type"])):
        verb, noun = COACTION_VERBS.get(entry["type"], (f"co-acted ({entry['type']}) on", "target"))
        nouns = noun if entry["n_targets"] == 1 else f"{noun}s"
        window = window_seconds.get(entry["type"])
        within = f" within {window:g} s of another member" if window else ""
        reasons.append(
            f"{entry['n_accounts']} of {n} accounts {verb} the same {entry['n_targets']} {nouns}{within}{chance}."
        )
        chance = ""  # say the null-model ratio once, after the main co-action type
    n_threads = row["n_threads"]
    for column, (what, _) in SIGNAL_REASONS.items():
        if row.get(column):
            reasons.append(f"{row[column]} of {n_threads} posts the cluster pushed (each with its replies and quotes) {what}.")
    if row.get("n_learned_term"):
        taught = row.get("learned_terms") or []
        shown = ", ".join(f"\"{t['term']}\" ({t['n']}, learned from cluster {(names or {}).get(t['teacher'], t['teacher'])})"
                          for t in taught[:3])
        reasons.append(f"{row['n_learned_term']} of {n_threads} posts the cluster pushed {LEARNED_TERMS_WHAT} other flagged "
                       f"clusters pushed far more than the lake: {shown}.")
    named = sorted(row["top_date_places"] or [], key=lambda r: -(r.get("count") or 0))
    if named and (named[0].get("count") or 0) >= 2:
        top = named[0]
        where = " at ".join(x for x in (top.get("date"), top.get("place")) if x)
        reasons.append(f"{top['count']} texts name {where}.")
    bursts = row["bursts"] or []
    if row["n_coactions_in_bursts"]:
        n_top = sum(1 for b in bursts if b["level"] == 1)
        top_level = max(b["level"] for b in bursts)
        reasons.append(
            f"{row['n_coactions_in_bursts']} of {row['n_coactions']} co-actions fell inside {n_top} "
            f"burst{'s' if n_top != 1 else ''} of activity (Kleinberg level up to {top_level})."
        )
    if row.get("main_burst_accounts") and row.get("main_burst_start") is not None:
        gap = row.get("median_member_gap_s")
        apart = f", a median {gap:.0f} s apart" if gap is not None else ""
        reasons.append(
            f"{row['main_burst_accounts']} of {row['n_coaction_accounts']} co-acting members acted in the main burst "
            f"({_fmt_time(row['main_burst_start'])} to {_fmt_time(row['main_burst_end'])}){apart}."
        )
    if row.get("top_target") and row.get("top_target_count"):
        _, noun = COACTION_VERBS.get(row["top_target_type"], ("", "target"))
        burst = (
            f", {row['top_target_in_bursts']} of them in bursts, the main one from "
            f"{_fmt_time(row['top_target_burst_start'])} to {_fmt_time(row['top_target_burst_end'])}"
            if row.get("top_target_in_bursts") and row.get("top_target_burst_start") is not None
            else ""
        )
        reasons.append(
            f"The most co-shared {noun} ({row['top_target']}) drew {row['top_target_count']} co-actions "
            f"by members{burst}."
        )
    if row["n_new_accounts"]:
        reasons.append(
            f"{row['n_new_accounts']} of {n} accounts were created less than {NEW_ACCOUNT_DAYS} days "
            "before they first acted here."
        )
    reasons.extend(inauthenticity_reasons(row, n))
    high_profile = row["high_profile_accounts"] or []
    if high_profile:
        names = row.get("high_profile_names") or high_profile
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        reasons.append(
            f"{len(high_profile)} high-profile member{'s' if len(high_profile) != 1 else ''} "
            f"({shown}), scored by the same rules as everyone."
        )
    if row.get("quiet_score"):
        reasons.append(
            f"Evidence without a lexicon {row['quiet_score']:.2f} = inauthenticity {row['inauthenticity_score']:.2f} x "
            f"max(structural calls {row['structure_score']:.2f}, money or logistics links {row['link_score']:.2f})."
        )
    if row["mobilization_score"] > 0 or row.get("quiet_score"):
        reasons.append(
            f"Harm {row['harm_score']:.2f} = 1 - (1 - {MOBILIZATION_ALONE_WEIGHT:g} x (1 + narrative {row['narrative_score']:.2f}) x "
            f"mobilization {row['mobilization_score']:.2f}) x (1 - escalation {row['escalation_score']:.2f}) x "
            f"(1 - without a lexicon {row.get('quiet_score') or 0:.2f}); "
            "narrative: the calls come with election-fraud claims, code words or (at half weight) learned terms."
        )
    reasons.append(
        f"Score {row['score']:.2f} = coordination {row['coordination_score']:.2f} x harm "
        f"{row['harm_score']:.2f} x ({BASE_WEIGHT:g} + {BURST_WEIGHT:g} x bursts {row['burst_score']:.2f} + "
        f"{GROWTH_WEIGHT:g} x growth "
        f"{row['growth_score']:.2f}); flagged at {threshold:g} or more."
    )
    return order_reasons(reasons)


def reason_category(reason: str) -> str:
    """The kind of evidence a reason sentence states, one of :data:`REASON_CATEGORIES`.

    The sentences are this module's own: a formula starts with its name, a signal sentence
    ends with its :data:`SIGNAL_REASONS` wording; everything else is about coordination.
    """
    if reason.startswith(FORMULA_PREFIXES):
        return "formula"
    body = reason.rstrip(".")
    for what, category in SIGNAL_REASONS.values():
        if body.endswith(what):
            return category
    if _LEARNED_TERMS.match(reason) or _NAMED_PLACE.match(reason):
        return "mobilization"
    return "coordination"


def order_reasons(reasons: list[str]) -> list[str]:
    """``reasons`` harm first, then mobilization, coordination and the formulas; within harm and
    mobilization the sentence counting more posts first, otherwise in the order given (stable)."""
    def key(item: tuple[int, str]) -> tuple[int, int, int]:
        index, reason = item
        category = reason_category(reason)
        count = _LEADING_COUNT.match(reason)
        weight = -int(count.group(1)) if count and category in ("harm", "mobilization") else 0
        return REASON_CATEGORIES.index(category), weight, index
    return [reason for _, reason in sorted(enumerate(reasons), key=key)]
