"""One cluster: why it was flagged, who is in it, what they shared, when, and the decisions."""

from __future__ import annotations

import json

import polars as pl
import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from rallypoint.dashboard import navigation
from rallypoint.dashboard.accounts import AccountStore
from rallypoint.dashboard.casepack import file_stem
from rallypoint.dashboard.cluster_network import (
    cluster_figure,
    cluster_network,
    cluster_picture,
    strongest_edges,
)
from rallypoint.dashboard.cluster_timeline import cluster_timeline_picture, timeline_inputs
from rallypoint.dashboard.data import (
    account_names,
    clusters_with_status,
    decisions,
    events,
    interactions_version,
    records_by_id,
    run_table,
    run_version,
)
from rallypoint.dashboard.evidence_groups import group_evidence
from rallypoint.dashboard.exporting import FORMATS, Download, export_case_pack, export_cluster
from rallypoint.dashboard.highlight import highlight
from rallypoint.dashboard.network import selected_accounts
from rallypoint.dashboard.network_picture import PICTURE_ABOVE, accounts_at, with_rings
from rallypoint.dashboard.palette import OKABE_ITO
from rallypoint.dashboard.queue import REASON_LABELS, mobilization_summary, time_span
from rallypoint.dashboard.safe import html, md
from rallypoint.dashboard.session import identity
from rallypoint.dashboard.timeline import timeline_figure
from rallypoint.dashboard.triage import DECISIONS, Decision, TriageError, TriageStore
from rallypoint.dashboard.views import expand_section
from rallypoint.dashboard.views.common import (
    COLUMN_LABELS,
    account_label,
    choose_run,
    lake,
    no_runs_message,
    status_badge,
)
from rallypoint.detectors.evidence import kind_label
from rallypoint.detectors.scoring import REASON_CATEGORIES, order_reasons, reason_category
from rallypoint.errors import RallypointError
from rallypoint.lake import Lake
from rallypoint.schema import SIGNAL_EVIDENCE_KINDS

#: The score's components, named for what they measure (rallypoint.detectors.scoring.component_scores).
COMPONENTS = {
    "coordination_score": "coordination beyond chance",
    "escalation_score": "threats or stolen-election claims",
    "mobilization_score": "calls to a date and place",
    "structure_score": "calls by structure alone",
    "link_score": "money or logistics links",
    "inauthenticity_score": "inauthentic accounts",
    "burst_score": "co-actions in bursts",
    "growth_score": "newly created accounts",
}


def _score_bars(row: dict) -> str:
    """The score's components (0–1) as HTML bars with their values written beside them.

    Plain HTML rather than a chart: a plotly chart here loads and starts plotly's JavaScript
    (seconds of browser CPU without a GPU) on every cluster page, even when the network is a picture.
    """
    rows = "".join(
        f"<tr><td style='padding:1px 8px 1px 0;border:none;white-space:nowrap'>{COMPONENTS[c]}</td>"
        # a full bar takes 85% of the cell, so the value beside it stays on the same line
        f"<td style='width:100%;padding:1px 0;border:none;white-space:nowrap'><div style='background:{OKABE_ITO['blue']};"
        f"height:14px;width:{85 * min(max(v, 0.0), 1.0):.1f}%;display:inline-block;vertical-align:middle'></div>"
        f"<span style='padding-left:6px'>{v:.2f}</span></td></tr>"
        for c, v in ((c, float(row.get(c) or 0.0)) for c in COMPONENTS)
    )
    return (f"<div style='font-size:0.9em'><b>Score {row['score']:.2f} and its components (0–1)</b>"
            f"<table style='width:100%;border:none;margin-top:4px'>{rows}</table></div>")


def lead_reasons(reasons: list[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``reasons`` as ``(category, sentence)``, split into the leads and the others.

    The leads are the strongest reason of each kind, in the order harm, mobilization,
    coordination, score formula (:func:`rallypoint.detectors.scoring.order_reasons` puts the
    strongest of each kind first); for the formulas, the score's own, which the scorer writes
    last, since it combines the others. The others keep that order.
    """
    ordered = [(reason_category(r), r) for r in order_reasons(reasons)]
    lead: dict[str, int] = {}  # category -> position in ordered
    for i, (category, _) in enumerate(ordered):
        if category == "formula" or category not in lead:
            lead[category] = i
    chosen = [lead[c] for c in REASON_CATEGORIES if c in lead]
    return [ordered[i] for i in chosen], [item for i, item in enumerate(ordered) if i not in chosen]


def _reasons(reasons: list[str]) -> None:
    """The why first: the strongest reason of each kind, the others folded below them."""
    leads, others = lead_reasons(reasons)
    if not leads:
        st.markdown("_no reasons recorded_")
        return
    st.markdown("\n".join(f"- **{REASON_LABELS[c]}:** {md(r)}" for c, r in leads))
    if others:
        with st.expander(f"The other {len(others):,} reasons (harm, mobilization, coordination, score formulas)"):
            st.markdown("\n".join(f"{i:d}. **{REASON_LABELS[c]}:** {md(r)}" for i, (c, r) in enumerate(others, 1)))


def _pick_cluster(clusters: pl.DataFrame, run_id: str) -> str | None:
    wanted = st.query_params.get("cluster")
    ids = clusters.sort("score", descending=True)["cluster_id"].to_list()
    if not ids:
        return None
    index = ids.index(wanted) if wanted in ids else 0
    if wanted and wanted not in ids:
        st.warning(f"Run {md(run_id)} has no cluster “{md(wanted)}”; showing its top cluster.")
    chosen = st.sidebar.selectbox("Cluster (by score)", ids, index=index, key=f"cluster_choice_{run_id}_{wanted}")
    if st.query_params.get("cluster") != chosen:
        st.query_params["cluster"] = chosen
    return chosen


def _triage(current: Lake, run_id: str, row: dict, member_ids: list[str]) -> None:
    st.subheader("Triage")
    st.markdown(
        "Status: " + status_badge(row["status"], row["carried"], row.get("from_run"), row.get("jaccard")),
        unsafe_allow_html=True,
    )
    if row["status"] != "unreviewed":
        st.caption(f"by {md(row.get('analyst'))} at {row.get('decided_at'):%Y-%m-%d %H:%M} UTC: “{md(row.get('note'))}”")
    if message := st.session_state.pop("triage_saved", None):
        st.success(md(message))
    who = identity()
    if not who.can("decide"):
        st.info(f"You are signed in as a {md(who.role)}: viewers read; analysts and admins record decisions.")
    else:
        # widget keys per cluster and per recorded decision: a note never follows the analyst to
        # another cluster, and both fields start empty again once a decision is recorded
        form_id = f"{run_id}_{row['cluster_id']}_{st.session_state.get('triage_round', 0)}"
        with st.form("triage_form"):
            verb = st.radio("Decision", list(DECISIONS), horizontal=True, key=f"triage_decision_{form_id}", index=None,
                            format_func=lambda v: {"confirm": "Confirm (coordinated mobilization)",
                                                   "dismiss": "Dismiss (false positive)",
                                                   "escalate": "Escalate"}[v])
            note = st.text_area("Note: why (required)", key=f"triage_note_{form_id}", height=90)
            st.caption(f"Recorded as {md(who.name)} ({md(who.role)}), the signed-in user.")
            submitted = st.form_submit_button("Record decision", type="primary")
        if submitted and verb is None:
            st.error("Choose a decision first: confirm, dismiss or escalate.")
        elif submitted:
            try:
                TriageStore(current.triage_path).record(
                    Decision(run_id, row["cluster_id"], verb, note, who.name, tuple(member_ids), who.role)
                )
            except TriageError as exc:
                st.error(md(exc))
            else:
                st.session_state["triage_saved"] = f"Recorded: {DECISIONS[verb]} by {who.name}."
                st.session_state["triage_round"] = st.session_state.get("triage_round", 0) + 1
                st.rerun()
    same = (pl.col("run_id") == run_id) & (pl.col("cluster_id") == row["cluster_id"])
    if row.get("carried"):  # the earlier decision this cluster's status comes from
        same = same | ((pl.col("run_id") == row["from_run"]) & (pl.col("cluster_id") == row["from_cluster"]))
    history = decisions(current).filter(same)
    st.markdown("**Triage history** (append-only; newest first)")
    if history.height:
        st.markdown("\n".join(
            f"- {t:%Y-%m-%d %H:%M} UTC · **{md(status.upper())}** by {md(analyst)}"
            f"{'' if (run, cluster) == (run_id, row['cluster_id']) else f' (run {md(run)}, cluster {md(cluster)})'}:"
            f" {md(note)}"
            for t, status, analyst, note, run, cluster in history.sort("decision_id", descending=True).select(
                "decided_at", "status", "analyst", "note", "run_id", "cluster_id").iter_rows()
        ))
    else:
        st.caption("No decision yet on this cluster or the same network in an earlier run.")
    _assignment(current, run_id, row)
    _comments(current, run_id, row["cluster_id"])


def _assignment(current: Lake, run_id: str, row: dict) -> None:
    """Who works on this cluster; analysts and admins hand it to a colleague (or to nobody)."""
    st.markdown("**Assigned to**")
    if row.get("assignee"):
        st.caption(f"{md(row['assignee'])} (by {md(row['assigned_by'])} at {row['assigned_at']:%Y-%m-%d %H:%M} UTC)")
    else:
        st.caption("Nobody yet.")
    who = identity()
    if not who.can("assign"):
        return
    team = [u["name"] for u in AccountStore(current.triage_path).users()
            if not u["disabled"] and u["role"] in ("analyst", "admin")]
    if who.name not in team:
        team.insert(0, who.name)
    with st.form("assign_form", border=False):
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        choice = c1.selectbox("Assign to", ["", *team], key="assign_to",
                              format_func=lambda n: n or "nobody (unassign)")
        if c2.form_submit_button("Assign"):
            TriageStore(current.triage_path).assign(run_id, row["cluster_id"], choice, who.name, who.role)
            st.session_state["triage_saved"] = f"Assigned to {choice}." if choice else "Unassigned."
            st.rerun()


def _comments(current: Lake, run_id: str, cluster_id: str) -> None:
    """The cluster's comment thread, oldest first; analysts and admins add to it."""
    thread = events(current, "comment").filter((pl.col("run_id") == run_id) & (pl.col("subject") == cluster_id))
    st.markdown(f"**Comments** ({thread.height:,})")
    for at, actor, role, payload in thread.select("at", "actor", "actor_role", "payload").iter_rows():
        with st.container(border=True):
            st.caption(f"{md(actor)} ({md(role)}) · {at:%Y-%m-%d %H:%M} UTC")
            st.markdown(md(json.loads(payload).get("text")))
    who = identity()
    if not who.can("comment"):
        return
    with st.form("comment_form", clear_on_submit=True):
        text = st.text_area("Add a comment", key="comment_text", height=70)
        if st.form_submit_button("Post comment"):
            try:
                TriageStore(current.triage_path).comment(run_id, cluster_id, text, who.name, who.role)
            except TriageError as exc:
                st.error(md(exc))
            else:
                st.rerun()


def _learned_terms(current: Lake, run_id: str, cluster_id: str) -> None:
    """The terms this cluster taught (``terms.parquet``), each one a form away from the lexicon."""
    from rallypoint.detectors.promoted import KINDS, add_term

    terms = run_table(current, run_id, "terms")
    taught = terms.filter(pl.col("clusters").list.contains(cluster_id)) if terms.height else terms
    if taught.height == 0:
        return
    st.markdown("**Learned terms** (pushed far more than the lake; promote one to match it in every later run)")
    st.dataframe(taught.select("term", "language", "statistic", "count", "background_count"), hide_index=True,
                 height=min(36 * (taught.height + 1), 250), column_config=COLUMN_LABELS)
    if message := st.session_state.pop("term_promoted", None):
        st.success(md(message))
    who = identity()
    if not who.can("decide"):
        st.caption("Analysts and admins can promote a term into the lexicon.")
        return
    with st.form("promote_term"):
        a, b = st.columns([2, 1])
        term = a.selectbox("Term", taught["term"].to_list(), key="promote_term_choice")
        kind = b.selectbox("As", KINDS, index=KINDS.index("code_word"), key="promote_term_kind")
        st.caption(f"Recorded in the lexicon's history as {md(who.name)}, the signed-in user.")
        submitted = st.form_submit_button("Promote into the lexicon")
    if submitted:
        lang = taught.filter(pl.col("term") == term)["language"].first()
        try:
            result = add_term(current, term, kind, lang, by=who.name)
        except RallypointError as exc:
            st.error(md(exc))
        else:
            st.session_state["term_promoted"] = (f"“{term}” {'added' if result['added'] else 'was already there'}; "
                                                 f"lexicon version {result['version']}.")
            st.rerun()


#: Evidence groups per page of the evidence tab (all shown, no scroll box), and accounts named per group.
GROUPS_PER_PAGE = 10
ACCOUNTS_PER_GROUP = 5


def _evidence(current: Lake, evidence: pl.DataFrame, members: pl.DataFrame, run_id: str, cluster_id: str) -> None:
    """The evidence grouped by identical or near-identical text, filtered by kind and words, paged."""
    st.subheader("Evidence posts")
    if evidence.height == 0:
        st.caption("The run recorded no evidence posts for this cluster.")
        return
    counts = evidence["kind"].value_counts().sort("count", descending=True)
    kinds = counts["kind"].to_list()
    default = [k for k in kinds if k in SIGNAL_EVIDENCE_KINDS] or kinds  # the signals before plain co-actions
    chosen = st.multiselect(
        "Kinds", kinds, default=default, key="evidence_kinds",
        format_func=lambda k: f"{kind_label(k)} ({dict(zip(kinds, counts['count'].to_list(), strict=True))[k]})",
    )
    search = st.text_input("Search the evidence texts", key=f"evidence_search_{run_id}_{cluster_id}")
    groups = group_evidence(evidence.filter(pl.col("kind").is_in(chosen)), search=search.strip() or None)
    pages = max(1, -(-groups.height // GROUPS_PER_PAGE))
    number = st.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1,
                             key=f"evidence_page_{run_id}_{cluster_id}_{search}_{'|'.join(chosen)}")
    shown = groups.slice((int(number) - 1) * GROUPS_PER_PAGE, GROUPS_PER_PAGE)
    names = dict(members.select("account_id", pl.col("account_name").fill_null("")).iter_rows())
    # the posts a cluster pushed are often by accounts outside it: their handles come from the lake
    shown_accounts = shown["account_ids"].list.head(ACCOUNTS_PER_GROUP).explode().drop_nulls().unique().sort()
    outside = tuple(a for a in shown_accounts.to_list() if not names.get(a))
    names |= account_names(str(current.root), outside, interactions_version(current))

    def who(account_ids: list[str]) -> str:
        named = [account_label(a, names.get(a)) for a in account_ids[:ACCOUNTS_PER_GROUP]]
        more = len(account_ids) - ACCOUNTS_PER_GROUP
        return ", ".join(named) + (f" and {more:,} more" if more > 0 else "")

    rows = shown.select("text", "n_posts", "n_accounts", "first_ts", "last_ts", "kinds", "account_ids",
                        "matched").iter_rows()
    st.caption(f"Groups {min((int(number) - 1) * GROUPS_PER_PAGE + 1, groups.height):,}–"  # "0–0 of 0" when none
               f"{min(int(number) * GROUPS_PER_PAGE, groups.height):,} of {groups.height:,} groups of identical or "
               f"near-identical texts: {int(groups['n_posts'].sum()):,} of the cluster's "
               f"{evidence['id'].n_unique():,} evidence posts, of the kinds chosen above; the most repeated first; "
               "highlighted: the phrases the lexicons matched.")
    # every group of the page in full, as one HTML block (no Markdown step: the texts are the accounts'):
    # a scroll box of fixed height showed about three groups at a time
    st.html("".join(
        f"<div style='padding:6px 0;border-bottom:1px solid #ddd'><small><b>{n_posts:,} post"
        f"{'s' if n_posts != 1 else ''} by {n_accounts:,} account{'s' if n_accounts != 1 else ''}</b> · "
        f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC · "
        f"<span style='color:{OKABE_ITO['vermillion']}'>{html(', '.join(map(kind_label, kind_list)))}</span><br>"
        f"by {html(who(accounts))}</small><br>{highlight(text, matched)}</div>"
        for text, n_posts, n_accounts, first, last, kind_list, accounts, matched in rows
    ) or "<i>No evidence group matches these kinds and words.</i>")
    if shown.height:
        first_accounts = shown["account_ids"].list.head(ACCOUNTS_PER_GROUP).explode().drop_nulls().unique(
            maintain_order=True).head(10).to_list()
        st.markdown("**Open an account of these groups**")
        cols = st.columns(2)
        for i, account_id in enumerate(first_accounts):
            label = account_label(account_id, names.get(account_id))
            cols[i % 2].page_link(navigation.page("account"), label=f"{md(label)} →",
                                  query_params={"run": run_id, "account": account_id})


def _export(current: Lake, run_id: str, cluster_id: str) -> None:
    st.subheader("Export this cluster's subgraph")
    c1, c2, c3 = st.columns([2, 1, 1])  # wide enough for "GraphML (Gephi, igraph, networkx)"
    fmt = c1.selectbox("Format", list(FORMATS), key="export_format", format_func=FORMATS.get)
    who = identity()
    real_allowed = who.can("export_real")
    pseudonymize = c2.checkbox("Pseudonymize accounts", value=True, key="export_pseudo", disabled=not real_allowed,
                               help="Account ids and names replaced by keyed hashes (the key is the server's). "
                                    + ("" if real_allowed else "Only admins export real account ids."))
    if c3.button("Prepare download", key="export_prepare"):
        try:
            st.session_state["export_ready"] = export_cluster(current, run_id, cluster_id, fmt,
                                                              pseudonymize or not real_allowed, who)
        except RallypointError as exc:
            st.error(md(exc))
    ready = _offer_prepared("export_ready", f"{run_id}_{cluster_id}", "export_download")
    if ready is not None:
        counts = ready.manifest.get("counts", {})
        st.caption(f"{md(counts.get('nodes', '?'))} accounts, {md(counts.get('edges', '?'))} edges; "
                   + (f"pseudonymized with key id {md(ready.manifest.get('key_id'))}" if ready.manifest.get("pseudonymized")
                      else "real account ids") + "; the zip holds the same files as rallypoint export and its manifest; "
                   "the export is recorded in the triage log.")


def _offer_prepared(state_key: str, prefix: str, download_key: str) -> Download | None:
    """The file prepared under ``state_key`` offered for download when it is this cluster's
    (its name starts with ``prefix``); returns it, or ``None`` when there is none."""
    ready = st.session_state.get(state_key)
    if ready is None or not ready.file_name.startswith(prefix):
        return None
    st.download_button(f"Download {md(ready.file_name)} ({len(ready.data):,} bytes)", ready.data,
                       file_name=ready.file_name, mime=ready.mime, key=download_key)
    return ready


def _case_pack(current: Lake, run_id: str, cluster_id: str) -> None:
    """The case pack: admins choose plain or pseudonymized accounts, everyone else gets pseudonyms."""
    st.subheader("Case pack for a policy or legal team")
    stem = file_stem(cluster_id)  # the names the files in the zip have
    st.caption(f"One zip: {md(stem + '.html')} (summary, every reason, the evidence grouped, members, network "
               f"picture, timeline, decision history), {md(stem + '.pdf')} where Chromium prints it, and "
               f"{md(stem + '.manifest.json')} with their SHA-256.")
    who = identity()
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    if who.can("export_real"):
        pseudonymize = c1.radio("Accounts", ["pseudonymized", "plain"], horizontal=True, key="casepack_accounts",
                                format_func={"pseudonymized": "Pseudonymized (keyed hashes)",
                                             "plain": "Plain account ids and handles"}.get) == "pseudonymized"
    else:
        pseudonymize = True
        c1.caption(f"Your role ({md(who.role)}) exports pseudonymized accounts only; plain ids need an admin.")
    if c2.button("Prepare case pack", key="casepack_prepare"):
        with st.spinner("Writing the case pack…"):
            try:
                st.session_state["casepack_ready"] = export_case_pack(current, run_id, cluster_id, pseudonymize, who)
            except RallypointError as exc:
                st.error(md(exc))
    ready = _offer_prepared("casepack_ready", f"{run_id}_{cluster_id}_", "casepack_download")
    if ready is not None:
        files = ", ".join(sorted(ready.manifest.get("sha256", {})))
        st.caption(f"Holds {md(files)}; " + ("accounts pseudonymized with key id "
                                             f"{md(ready.manifest.get('key_id'))}" if ready.manifest.get("pseudonymized")
                                             else "plain account ids") + "; recorded in the triage log as an export.")


#: The page's sections below the summary. Only the open one runs and is drawn (lazy tabs bound to
#: ``?tab=``): a 2,000-member cluster's network, timeline, tables and evidence drawn at once cost
#: the browser seconds; the network tab alone is interactive in about one.
TABS = ("Network", "Activity timeline", "Evidence posts", "Members and shared targets", "Expand", "Export")


@st.fragment
def _network(root: str, run_id: str, cluster_id: str, version: float) -> None:
    """The network and the accounts clicked in it; a click reruns only this fragment.

    Above ``PICTURE_ABOVE`` accounts the network first comes as a picture drawn on the server
    (clicks and dragged boxes mapped back to accounts): the interactive figure costs the browser
    seconds there, the picture milliseconds. The toggle brings the interactive figure.
    """
    network = cluster_network(root, run_id, cluster_id, version)
    members = network.members
    interactive = members.height <= PICTURE_ABOVE or st.toggle(
        "Interactive network (hover labels, zoom, lasso)", key=f"interactive_{run_id}_{cluster_id}",
        help=f"Above {PICTURE_ABOVE:,} accounts the network is first shown as a picture: the interactive "
             "figure takes the browser seconds to draw.")
    if interactive:
        event = st.plotly_chart(
            cluster_figure(root, run_id, cluster_id, version), key=f"network_{run_id}_{cluster_id}",
            on_select="rerun", selection_mode=("points", "lasso", "box"),
            config={"displaylogo": False, "scrollZoom": True},
        )
        picked = selected_accounts(event)
    else:
        st.caption(f"A picture of the network ({members.height:,} accounts): click an account, or drag a box "
                   "around several, to list them below; zoom to a sub-group below. Hover labels and free zoom "
                   "are in the interactive network (toggle above).")
        offered = network.views()
        view = st.selectbox("Zoom to", list(offered), format_func=offered.get, key=f"zoom_{run_id}_{cluster_id}")
        picture = cluster_picture(root, run_id, cluster_id, version, view)
        key = f"network_picture_{run_id}_{cluster_id}_{view}"
        # the selection is the component's last value: ring those accounts in the picture shown
        picked = accounts_at(picture, st.session_state.get(key))
        clicked = streamlit_image_coordinates(with_rings(picture, picked), key=key, width="stretch",
                                              click_and_drag=True, cursor="crosshair")
        picked = accounts_at(picture, clicked)
    # the Expand tab starts from the accounts selected here
    st.session_state[expand_section.PICKED_KEY.format(run_id=run_id, cluster_id=cluster_id)] = picked
    # full-width tables: side by side they cut off their last columns
    if picked:
        st.markdown(f"**Selected accounts ({len(picked):,})**")
        st.dataframe(
            members.filter(pl.col("account_id").is_in(picked)).select(*MEMBER_COLUMNS),
            hide_index=True, key="network_selected", width="stretch", column_config=MEMBER_LABELS,
        )
        name = members.filter(pl.col("account_id") == picked[0])["account_name"].first()
        st.page_link(navigation.page("account"),
                     label=f"Open account {md(account_label(picked[0], name))} →",
                     query_params={"run": run_id, "account": picked[0]})
    else:
        st.caption("Click a node, or lasso several (toolbar), to see the accounts here." if interactive
                   else "Click an account in the picture, or drag a box around several, to see them here.")
    # a table on the first view loads Streamlit's table code in the browser (about 0.3 CPU s): on request only
    if st.toggle("Strongest edges: the 200 heaviest, with their numbers", key=f"strongest_{run_id}_{cluster_id}"):
        st.markdown("*co-shares* = times the two accounts acted on the same target within the window (the edge "
                    "weight); *distinct targets* = how many different targets; *observed/expected* = co-shares over "
                    "what chance timing would produce (the null model)")
        st.dataframe(
            strongest_edges(root, run_id, cluster_id, version),
            hide_index=True, height=220, width="stretch", key="strongest_edges",
        )


def _timeline(current: Lake, run_id: str, row: dict, member_ids: list[str], version: float) -> None:
    # a picture first: the interactive chart loads plotly's JavaScript, about a second of a browser's first view
    interactive = st.toggle("Interactive timeline (hover labels, zoom)", key="timeline_interactive",
                            help="Draws the same chart with plotly in the browser: hover a bar for its count, "
                                 "drag to zoom into a day.")
    root, members = str(current.root), tuple(member_ids)
    with st.spinner("Reading the accounts' actions…"):  # shown only if it takes a while (not from the cache)
        if interactive:
            figure = timeline_figure(*timeline_inputs(root, row, members, interactions_version(current)))
            st.plotly_chart(figure, key="timeline_chart")
            return
        picture = cluster_timeline_picture(root, run_id, row["cluster_id"], members, version,
                                           interactions_version(current))
    st.image(picture, width="stretch")


#: Where a platform's post can be opened from its id alone (others need more than the id).
POST_ADDRESSES = {"x": "https://x.com/i/web/status/{id}", "twitter": "https://x.com/i/web/status/{id}"}


def shared_targets(current: Lake, row: dict) -> pl.DataFrame:
    """The cluster's top targets, the posts among them with their author, time, text and address."""
    targets = pl.DataFrame(row["top_targets"] or [], schema={"kind": pl.String, "target": pl.String, "count": pl.Int64})
    posts = targets.filter(pl.col("kind") == "post")["target"].unique().sort().to_list()
    found = records_by_id(str(current.root), tuple(posts), interactions_version(current))
    address = pl.col("platform").replace_strict(POST_ADDRESSES, default=None)
    found = found.select(
        pl.col("id").alias("target"),
        pl.coalesce(pl.col("account_name") + pl.lit(" (") + pl.col("account_id") + pl.lit(")"),
                    pl.col("account_id")).alias("author"),
        pl.col("timestamp").alias("posted_at"), "text",
        # shown as text (never a link drawn from data); only an all-digit id makes an address
        pl.when(pl.col("id").str.contains(r"^\d+$")).then(address.str.replace("{id}", pl.col("id"), literal=True))
        .alias("original"),
    )
    return (targets.join(found, on="target", how="left").sort("count", descending=True)
            .select("kind", "count", "text", "author", "posted_at", "target", "original"))  # the text first: read before ids


#: The members tables' columns: the handle first (what an analyst reads), then what tells a new or
#: bought account (creation date, followers, first action), the role and numbers, the id last.
MEMBER_COLUMNS = ("account_name", "account_created_at", "followers", "first_ts", "role", "high_profile", "n_actions",
                  "degree", "strength", "account_id")
MEMBER_LABELS = COLUMN_LABELS | {"first_ts": "first action", "high_profile": "high-profile"}


def _members_and_targets(current: Lake, row: dict, members: pl.DataFrame) -> None:
    # one above the other, full width: side by side the members table cut off its last columns
    st.subheader("Members")
    roles = members["role"].value_counts().sort("count", descending=True)
    st.caption(" · ".join(f"{md(r)}: {n:,}" for r, n in roles.iter_rows()) + " (by strength, strongest first; "
               "strength = sum of the account's edge weights inside the cluster, degree = its co-action partners)")
    st.dataframe(
        members.select(*MEMBER_COLUMNS),
        column_config=MEMBER_LABELS,
        hide_index=True, width="stretch", height=300, key="members_table",
    )
    st.subheader("Top shared targets")
    st.caption("The posts, links, hashtags, mentions, media and texts the members acted on most, with how often; "
               "a post with its author, time and text when the lake holds it, and its address where the platform's "
               "id makes one.")
    st.dataframe(shared_targets(current, row), hide_index=True, width="stretch", key="targets_table",
                 column_config={"text": st.column_config.TextColumn("text", width="large")})


def render() -> None:
    current = lake()
    run_id = choose_run(current)
    if run_id is None:
        st.title("Cluster")
        no_runs_message(current)
        return
    clusters = clusters_with_status(current, run_id)
    cluster_id = _pick_cluster(clusters, run_id)
    if cluster_id is None:
        st.title("Cluster")
        st.info("This run found no clusters.")
        return
    row = clusters.filter(pl.col("cluster_id") == cluster_id).row(0, named=True)
    root, version = str(current.root), run_version(current, run_id)
    members = cluster_network(root, run_id, cluster_id, version).members
    st.title(f"Cluster {md(cluster_id)}")
    st.markdown(
        f"Score **{row['score']:.2f}** ({'flagged' if row['flagged'] else 'not flagged'}) · "
        f"**{row['n_accounts']:,}** accounts · {row['n_edges']:,} co-action edges · "
        f"types {md(', '.join(row['types'] or []))} · {md(time_span(row['first_ts'], row['last_ts']))} &nbsp; "
        + status_badge(row["status"], row["carried"], row.get("from_run"), row.get("jaccard")),
        unsafe_allow_html=True,
    )
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Why it was flagged" if row["flagged"] else f"Not flagged: why it scored {row['score']:.2f}")
        _reasons(row["reasons"] or [])
        st.markdown(f"**Mobilization:** {md(mobilization_summary(row['mobilization']))}")
        high_profile = row["high_profile_accounts"] or []
        names = dict(members.filter(pl.col("account_id").is_in(high_profile))  # only their rows, not all members
                     .select("account_id", "account_name").iter_rows())
        hp = [account_label(a, names.get(a)) for a in high_profile]
        st.markdown(f"**High-profile members** (scored by the same rules): {md(', '.join(hp)) or 'none'}")
        st.markdown(_score_bars(row), unsafe_allow_html=True)
        _learned_terms(current, run_id, cluster_id)
    with right:
        _triage(current, run_id, row, members["account_id"].to_list())

    network, timeline, evidence, people, context, export = st.tabs(list(TABS), key="tab", bind="query-params")
    with network:
        if network.open:
            st.subheader("Network of members")
            _network(root, run_id, cluster_id, version)
    with timeline:
        if timeline.open:
            st.subheader("Activity timeline")
            _timeline(current, run_id, row, members["account_id"].to_list(), version)
    with evidence:
        if evidence.open:
            _evidence(current, run_table(current, run_id, "evidence").filter(pl.col("cluster_id") == cluster_id), members,
                      run_id, cluster_id)
    with people:
        if people.open:
            _members_and_targets(current, row, members)
    with context:
        if context.open:
            expand_section.render(current, run_id, cluster_id, members)
    with export:
        if export.open:
            _case_pack(current, run_id, cluster_id)
            _export(current, run_id, cluster_id)


if __name__ == "__main__":  # run by st.navigation as a page (navigation.py)
    render()
