"""The triage queue: flagged clusters ranked by score, with filters and pages."""

from __future__ import annotations

import polars as pl
import streamlit as st

from rallypoint.dashboard import navigation
from rallypoint.dashboard.data import clusters_with_status, run_table
from rallypoint.dashboard.queue import (
    REASON_LABELS,
    VIEWS,
    QueueFilters,
    card_reasons,
    filter_options,
    filter_queue,
    mobilization_summary,
    n_pages,
    page,
    time_span,
)
from rallypoint.dashboard.safe import attr, html, md
from rallypoint.dashboard.session import identity
from rallypoint.dashboard.triage import STATUSES
from rallypoint.dashboard.views.common import account_label, choose_run, lake, no_runs_message, status_badge

PAGE_SIZES = (10, 25, 50, 100)


#: Every filter and the page are bound to a URL query parameter named by its key
#: (``?min_score=0.5&status=unreviewed&q=Capitol``), so a filtered queue is a link an
#: analyst can share and reopen; values at their default stay out of the URL.
BOUND = {"bind": "query-params"}


#: The rarer filters, behind "More filters" (their widgets' keys, which are also their URL parameters):
#: each widget is an element the browser loads code for and draws, so the first view shows only the common
#: ones. A link that sets one of them opens the toggle, so a shared filtered queue filters as it did.
MORE_FILTERS = ("active", "type", "platform", "lang")


def _filters(clusters: pl.DataFrame) -> QueueFilters:
    with st.container(border=True):
        view = st.radio("View", list(VIEWS), format_func=VIEWS.get, horizontal=True, key="view", **BOUND,
                        help="Coordinated, no harm evidence: clusters never flagged (coordination alone is not "
                             "harm), ordered by coordination strength and inauthenticity.")
        c1, c2, c3 = st.columns([1.2, 1.4, 2])
        min_score = c1.slider("Minimum score", 0.0, 1.0, 0.0, 0.05, key="min_score", **BOUND)
        flagged_only = c1.checkbox("Flagged only", value=True, key="flagged_only", **BOUND,
                                   help="Clusters at or above the run's threshold.")
        search = c2.text_input("Search id, reason, place or date", key="q", **BOUND)
        mine = c2.checkbox("My queue: assigned to me", key="mine", **BOUND)
        statuses = c3.multiselect("Triage status", list(STATUSES), key="status", **BOUND)
        more = c3.toggle("More filters: dates, type, platform, language", key="more_filters",
                         value=any(name in st.query_params for name in MORE_FILTERS),
                         help="Active between two days, coordination type, platform, language. Hiding them clears them.")
        since = until = None
        types = platforms = langs = []
        if more:
            options = filter_options(clusters)
            first, last = clusters["first_ts"].min(), clusters["last_ts"].max()
            d1, d2, d3, d4 = st.columns([1.4, 1, 1, 1])
            dates = d1.date_input("Active between (UTC)", value=(first.date(), last.date()) if first else (),
                                  key="active", help="Clusters whose activity overlaps these days.", **BOUND)
            if isinstance(dates, tuple | list) and len(dates) == 2:
                since, until = dates
            types = d2.multiselect("Coordination type", options["types"], key="type", **BOUND)
            platforms = d3.multiselect("Platform", options["platforms"], key="platform", **BOUND)
            langs = d4.multiselect("Language", options["langs"], key="lang", **BOUND)
        st.caption("The filters are in the page's address: copy it to share this filtered queue.")
    return QueueFilters(view=view, flagged_only=flagged_only, min_score=min_score, since=since, until=until,
                        types=tuple(types), statuses=tuple(statuses), platforms=tuple(platforms),
                        langs=tuple(langs), search=search, assignee=identity().name if mine else None)


#: A card's box, as Streamlit draws a bordered container (the card is HTML, not a container).
CARD_STYLE = "border:1px solid rgba(49,51,63,0.2);border-radius:0.5rem;padding:calc(1em - 1px);margin:0 0 1rem"


def _card(rank: int, row: dict, run_id: str, names: dict[str, str]) -> str:
    """One card as an ``<article>``: its box, text and link (its text through ``safe.html``, its address
    through ``safe.attr``)."""
    hp = [account_label(a, names.get(a)) for a in row["high_profile_accounts"] or []]
    reasons = card_reasons(row["reasons"] or [])
    link = navigation.address("cluster", run=run_id, cluster=row["cluster_id"])
    return (
        f'<article class="rp-card" style="{CARD_STYLE}"><div><b>#{rank:d} · {html(row["cluster_id"])}</b> — '
        f"score <b>{row['score']:.2f}</b> · {row['n_accounts']:,} accounts · {row['n_edges']:,} edges · "
        f"{html(', '.join(row['types'] or []) or 'no type')} · {html(', '.join(row['platforms'] or []))} "
        f"&nbsp; {status_badge(row['status'], row['carried'], row.get('from_run'), row.get('jaccard'))}<br>"
        f"<b>Active:</b> {html(time_span(row['first_ts'], row['last_ts']))}<br>"
        f"<b>Mobilization:</b> {html(mobilization_summary(row['mobilization']))}<br>"
        f"<b>High-profile members:</b> {html(', '.join(hp)) if hp else 'none'}<br>"
        f"<b>Assigned to:</b> {html(row.get('assignee')) if row.get('assignee') else 'nobody'}</div>"
        + ("<ul style=\"margin:0.4em 0 0\">" + "".join(
            f"<li><b>{REASON_LABELS[c]}:</b> {html(r)}</li>" for c, r in reasons)
           + "</ul>" if reasons else "<div><i>no reasons recorded</i></div>")
        + f'<p style="margin:0.4em 0 0"><a href="{attr(link)}" target="_self">Open cluster →</a></p></article>'
    )


def render() -> None:
    st.title("Triage queue")
    current = lake()
    run_id = choose_run(current)
    if run_id is None:
        no_runs_message(current)
        return
    clusters = clusters_with_status(current, run_id)
    run = current.read_run_json(run_id)
    threshold = run.get("threshold", run.get("parameters", {}).get("threshold"))
    st.caption(
        f"Run **{md(run_id)}**: {clusters.height:,} clusters, {int(clusters['flagged'].sum()):,} flagged"
        + (f" (score ≥ {md(threshold)})" if threshold is not None else "")
        + ". Ranked by score (mobilization and harm evidence, with coordination strength as its multiplier; each cluster page shows the components). "
        "High-profile accounts are scored by the same rules as everyone."
    )
    if clusters.height == 0:
        st.info("This run found no clusters.")
        return
    filters = _filters(clusters)
    shown = filter_queue(clusters, filters)
    counts = shown["status"].value_counts()
    by_status = dict(zip(counts["status"].to_list(), counts["count"].to_list(), strict=True))
    m = st.columns(5)
    m[0].metric("Clusters shown", f"{shown.height:,}")
    for col, status in zip(m[1:], STATUSES, strict=True):
        col.metric(md(status.capitalize()), f"{by_status.get(status, 0):,}")
    p1, p2, _ = st.columns([1, 1, 4])
    size = p1.selectbox("Per page", PAGE_SIZES, key="per_page", **BOUND)
    pages = n_pages(shown.height, size)
    number = p2.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1, key="page", **BOUND)
    if shown.height == 0 and filters.flagged_only and not clusters["flagged"].any():
        st.info(f"This run flagged no cluster: all {clusters.height:,} scored below the threshold. "
                "Untick “Flagged only” to review them.")
        return
    if shown.height == 0:
        st.warning("No cluster matches these filters.")
        return
    offset = (int(number) - 1) * size
    # high-profile members are named with their handle, as on the cluster page (a few rows only)
    names = dict(run_table(current, run_id, "members").filter(pl.col("high_profile").fill_null(False))
                 .select("account_id", pl.col("account_name").fill_null("")).unique("account_id").iter_rows())
    # the page's cards in one HTML block: Markdown is parsed in the browser, and each element (a bordered
    # container, a page link, an HTML block) is a component of its own: 100 cards of those were most of
    # the browser's work on the queue
    st.html("".join(_card(offset + i + 1, row, run_id, names)
                    for i, row in enumerate(page(shown, int(number), size).iter_rows(named=True))))


if __name__ == "__main__":  # run by st.navigation as a page (navigation.py)
    render()
