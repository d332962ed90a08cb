"""The triage queue: a run's clusters ranked by score, filtered and paginated.

All filtering is columnar (polars expressions over the run's ``clusters`` table),
so a run with 10,000 clusters filters in milliseconds; the page then draws only
the rows of one page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from rallypoint.detectors.scoring import order_reasons, reason_category

#: The queue's views: everything by score, or the clusters that are coordinated but carry no
#: harm evidence (never flagged: coordination alone is not harm), by coordination and inauthenticity.
VIEWS = {"queue": "Triage queue (by score)", "no_harm": "Coordinated, no harm evidence"}


@dataclass(frozen=True)
class QueueFilters:
    """What the analyst narrowed the queue to. Empty tuples mean "any"."""

    view: str = "queue"
    flagged_only: bool = True
    min_score: float = 0.0
    since: date | None = None  # clusters active on or after this day
    until: date | None = None  # clusters active on or before this day
    types: tuple[str, ...] = ()  # any of these coordination types
    statuses: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    search: str = ""  # a substring of the cluster id, a reason, a place or a date
    assignee: str | None = None  # only clusters assigned to this user ("my queue")


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def _any_in(column: str, wanted: tuple[str, ...]) -> pl.Expr:
    """True where the list column shares at least one element with ``wanted``."""
    return pl.col(column).list.set_intersection(pl.lit(list(wanted), dtype=pl.List(pl.String))).list.len() > 0


def filter_queue(clusters: pl.DataFrame, filters: QueueFilters) -> pl.DataFrame:
    """The clusters that pass ``filters``, highest score first (then ``order_score``, then larger first).

    ``clusters`` is the run's clusters table with a ``status`` column
    (:func:`rallypoint.dashboard.carryover.with_status`) and, to filter by assignee, an
    ``assignee`` column (:func:`rallypoint.dashboard.data.clusters_with_status`). A cluster passes the
    date range when its activity ``[first_ts, last_ts]`` overlaps it.
    """
    conditions: list[pl.Expr] = [pl.col("score") >= filters.min_score]
    if filters.view == "no_harm":
        harm = pl.col("harm_score") if "harm_score" in clusters.columns else pl.col("score")
        conditions.append(~pl.col("flagged") & (harm.fill_null(0.0) == 0))
    elif filters.flagged_only:
        conditions.append(pl.col("flagged"))
    if filters.since is not None:
        conditions.append(pl.col("last_ts") >= _day_start(filters.since))
    if filters.until is not None:
        conditions.append(pl.col("first_ts") < _day_start(filters.until + timedelta(days=1)))
    if filters.types:
        conditions.append(_any_in("types", filters.types))
    if filters.platforms:
        conditions.append(_any_in("platforms", filters.platforms))
    if filters.langs:
        conditions.append(_any_in("langs", filters.langs))
    if filters.statuses:
        conditions.append(pl.col("status").is_in(list(filters.statuses)))
    if filters.assignee is not None:
        conditions.append(pl.col("assignee") == filters.assignee)
    if filters.search.strip():
        needle = filters.search.strip().lower()
        haystack = pl.concat_str(
            [
                pl.col("cluster_id"),
                pl.col("reasons").list.join(" "),
                pl.col("mobilization").struct.field("places").list.join(" "),
                pl.col("mobilization").struct.field("dates").list.join(" "),
            ],
            separator=" ",
            ignore_nulls=True,
        ).str.to_lowercase()
        conditions.append(haystack.str.contains(needle, literal=True))
    # after the score, the run's order_score: coordination and inauthenticity (runs before it had none)
    order = ["score", "order_score"] if "order_score" in clusters.columns else ["score"]
    return clusters.filter(pl.all_horizontal(conditions).fill_null(False)).sort(
        [*order, "n_accounts", "cluster_id"], descending=[True] * len(order) + [True, False]
    )


def filter_options(clusters: pl.DataFrame) -> dict[str, list[str]]:
    """The distinct values of each list column, for the filter widgets."""
    def distinct(column: str) -> list[str]:
        return sorted(v for v in clusters[column].explode().drop_nulls().unique().to_list() if v)

    return {c: distinct(c) for c in ("types", "platforms", "langs")}


def n_pages(n_rows: int, page_size: int) -> int:
    """Pages needed for ``n_rows`` (at least one, so an empty queue has page 1)."""
    return max(1, math.ceil(n_rows / page_size))


def page(frame: pl.DataFrame, number: int, page_size: int) -> pl.DataFrame:
    """Rows of page ``number`` (1-based); a number past the end gives the last page."""
    number = min(max(1, number), n_pages(frame.height, page_size))
    return frame.slice((number - 1) * page_size, page_size)


def mobilization_summary(mobilization: dict | None) -> str:
    """One line naming the dates and places a cluster calls people to, with shares."""
    if not mobilization:
        return "no mobilization signals"
    parts = []
    pairs = mobilization.get("top_date_places") or []
    if pairs:
        parts.append("; ".join(
            f"{p['place'] or 'no place'}{' on ' + p['date'] if p['date'] else ' (no date)'} ({p['count']}×)"
            for p in pairs[:3]
        ))
    else:
        dates, places = mobilization.get("dates") or [], mobilization.get("places") or []
        if dates or places:
            parts.append(f"dates {', '.join(dates[:3]) or '—'}; places {', '.join(places[:3]) or '—'}")
    shares = [
        (label, mobilization.get(key))
        for label, key in (
            ("calls to action", "call_to_action_share"),
            ("logistics", "logistics_share"),
            ("escalation", "escalation_share"),
        )
    ]
    share_text = ", ".join(f"{label} {value:.0%}" for label, value in shares if value)
    if share_text:
        parts.append(f"{share_text} of {mobilization.get('n_texts') or 0} texts")
    return " · ".join(parts) if parts else "no mobilization signals"


def time_span(first_ts: datetime | None, last_ts: datetime | None) -> str:
    """``2021-01-02 14:00 → 2021-01-06 18:30 UTC (4.2 days)``."""
    if first_ts is None or last_ts is None:
        return "—"
    days = (last_ts - first_ts).total_seconds() / 86400
    length = f"{days:.1f} days" if days >= 1 else f"{days * 24:.1f} hours"
    return f"{first_ts:%Y-%m-%d %H:%M} → {last_ts:%Y-%m-%d %H:%M} UTC ({length})"


#: How each kind of reason is headed (rallypoint.detectors.scoring.REASON_CATEGORIES).
REASON_LABELS = {"harm": "Harm", "mobilization": "Mobilization", "coordination": "Coordination",
                 "formula": "Score formula"}


def card_reasons(reasons: list[str], n: int = 3) -> list[tuple[str, str]]:
    """A card's ``n`` reasons as ``(category, sentence)``: the strongest of each kind, harm first, then
    mobilization and coordination, filled up with the next ones in that order (the formulas stay on
    the cluster page)."""
    ordered = [(reason_category(r), r) for r in order_reasons(reasons)]
    ordered = [(c, r) for c, r in ordered if c != "formula"]
    leads = {}
    for category, reason in ordered:
        leads.setdefault(category, reason)
    picked = [(c, leads[c]) for c in ("harm", "mobilization", "coordination") if c in leads][:n]
    rest = [item for item in ordered if item not in picked]
    return sorted(picked + rest[:n - len(picked)], key=ordered.index)
