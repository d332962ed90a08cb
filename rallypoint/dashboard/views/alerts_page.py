"""Alerts from ``rallypoint watch``: what changed about flagged networks, and who acknowledged it.

The alerts come from ``LAKE/alerts.jsonl``; an analyst acknowledges one by recording a
triage decision on its cluster (:func:`rallypoint.watch.acknowledge.acknowledge`). Every
alert text is shown as text: it quotes account names, which the accounts wrote.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from rallypoint.dashboard import navigation
from rallypoint.dashboard.data import decisions, tracks
from rallypoint.dashboard.safe import md
from rallypoint.dashboard.session import identity
from rallypoint.dashboard.triage import DECISIONS, TriageError
from rallypoint.dashboard.views.common import lake
from rallypoint.watch.acknowledge import acknowledge, with_acknowledgements
from rallypoint.watch.sinks import read_alerts

#: Shown at once, newest first; the log keeps every alert.
SHOWN = 500


def _label(row: dict) -> str:
    sentence = row["sentence"] if len(row["sentence"]) <= 110 else row["sentence"][:107] + "…"
    return f"{row['as_of'][:16].replace('T', ' ')} · {row['rule']} · {sentence}"


def render() -> None:
    st.title("Alerts")
    current = lake()
    alerts = read_alerts(current)
    if alerts.height == 0:
        st.info(f"No alerts yet. rallypoint watch \\-\\-lake {md(current.root)} raises them as new data arrives "
                "(docs/watch.md); they are kept in LAKE/alerts.jsonl.")
        return
    alerts = with_acknowledgements(alerts, decisions(current), tracks(current)).sort(
        ["as_of", "raised_at"], descending=True)
    open_alerts = alerts.filter(pl.col("acknowledged_by").is_null())
    cols = st.columns(3)
    cols[0].metric("Open", f"{open_alerts.height:,}")
    cols[1].metric("Acknowledged", f"{alerts.height - open_alerts.height:,}")
    cols[2].metric("Tracks alerting", f"{alerts['track_id'].n_unique():,}")
    show_all = st.toggle("Show acknowledged alerts too", value=False, key="alerts_show_all")
    shown = (alerts if show_all else open_alerts).head(SHOWN)
    table = shown.select(
        pl.col("as_of").str.slice(0, 16).str.replace("T", " ").alias("data to (UTC)"), "rule", "sentence",
        pl.col("track_id").alias("track"), pl.col("cluster_id").alias("cluster"),
        pl.when(pl.col("acknowledged_by").is_null()).then(pl.lit("open"))
        .otherwise(pl.format("{} by {}", pl.col("decision"), pl.col("acknowledged_by"))).alias("status"),
    )
    st.dataframe(table, hide_index=True, width="stretch", key="alerts_table",
                 column_config={"sentence": st.column_config.TextColumn("alert", width="large")})

    st.subheader("Acknowledge an alert")
    if message := st.session_state.pop("alert_acknowledged", None):
        st.success(md(message))
    if open_alerts.height == 0:
        st.caption("Every alert has been acknowledged.")
        return
    rows = {r["alert_id"]: r for r in open_alerts.head(SHOWN).to_dicts()}
    # keyed by alert id, so an acknowledged alert leaving the list never leaves a stale choice behind
    chosen = rows[st.selectbox("Open alert", list(rows), format_func=lambda a: _label(rows[a]), key="alert_choice")]
    st.text(chosen["sentence"])
    st.page_link(navigation.page("cluster"), label=f"Open cluster {md(chosen['cluster_id'])} of run {md(chosen['run_id'])} →",
                 query_params={"run": chosen["run_id"], "cluster": chosen["cluster_id"]})
    who = identity()
    if not who.can("decide"):
        st.info(f"You are signed in as a {md(who.role)}: analysts and admins acknowledge alerts.")
        return
    with st.form("alert_ack_form"):
        verb = st.radio("Decision on its cluster", list(DECISIONS), horizontal=True, key="alert_ack_decision",
                        format_func=lambda v: {"confirm": "Confirm (coordinated mobilization)",
                                               "dismiss": "Dismiss (false positive)", "escalate": "Escalate"}[v])
        note = st.text_area("Note: what you did or concluded (required)", key="alert_ack_note", height=80)
        st.caption(f"Recorded as {md(who.name)} ({md(who.role)}), the signed-in user.")
        submitted = st.form_submit_button("Acknowledge", type="primary")
    if submitted:
        try:
            acknowledge(current, chosen, verb, who.name, note, who.role)
        except TriageError as exc:
            st.error(md(exc))
        else:
            st.session_state["alert_acknowledged"] = (
                f"Acknowledged: {DECISIONS[verb]} by {who.name} on cluster {chosen['cluster_id']}; "
                "the decision is in the triage log and covers the track's earlier alerts too.")
            st.session_state.pop("alert_ack_note", None)
            st.rerun()


if __name__ == "__main__":  # run by st.navigation as a page (navigation.py)
    render()
