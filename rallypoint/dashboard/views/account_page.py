"""One account: its clusters in every run, its actions, its ego-network.

Opening an account is access to personal data: the first view of each account in a
browser session is an event in the triage log (who, when, which account, which run).
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from rallypoint.dashboard import navigation
from rallypoint.dashboard.data import (
    clusters_with_status,
    interactions_of,
    interactions_version,
    neo4j_uri_from_env,
    run_table,
)
from rallypoint.dashboard.ego import ego_edges, ego_edges_from_neo4j, ego_nodes
from rallypoint.dashboard.network import layout, network_figure
from rallypoint.dashboard.safe import md
from rallypoint.dashboard.session import identity
from rallypoint.dashboard.triage import TriageStore
from rallypoint.dashboard.views.common import COLUMN_LABELS, account_label, choose_run, lake, no_runs_message
from rallypoint.lake import Lake


def account_matches(current: Lake, query: str, limit: int = 50) -> pl.DataFrame:
    """Accounts in any run's members whose id or name contains ``query`` (case-insensitive)."""
    needle = query.strip().lower()
    frames = [run_table(current, r, "members").select("account_id", "account_name") for r in current.run_ids()]
    if not frames or not needle:
        return pl.DataFrame(schema={"account_id": pl.String, "account_name": pl.String})
    every = pl.concat(frames).unique("account_id")
    hits = every.filter(
        pl.col("account_id").str.to_lowercase().str.contains(needle, literal=True)
        | pl.col("account_name").fill_null("").str.to_lowercase().str.contains(needle, literal=True)
    )
    # exact id first, then shorter ids (closer matches)
    return hits.sort([pl.col("account_id").str.to_lowercase() != needle, pl.col("account_id").str.len_chars(),
                      "account_id"]).head(limit)


def clusters_of_account(current: Lake, account_id: str) -> pl.DataFrame:
    """Every run's clusters that hold ``account_id``, with role, score and status; newest run first."""
    rows = []
    for run_id in reversed(current.run_ids()):
        members = run_table(current, run_id, "members").filter(pl.col("account_id") == account_id)
        if members.height == 0:
            continue
        clusters = clusters_with_status(current, run_id).select("cluster_id", "score", "flagged", "n_accounts", "status")
        rows.append(members.select("cluster_id", "role", "n_actions", "degree").join(clusters, on="cluster_id")
                    .with_columns(pl.lit(run_id).alias("run_id")))
    columns = ["run_id", "cluster_id", "role", "score", "flagged", "status", "n_accounts", "n_actions", "degree"]
    if not rows:
        return pl.DataFrame(schema={c: pl.String for c in columns})
    return pl.concat(rows).select(columns)


def _log_view(current: Lake, run_id: str, account_id: str) -> None:
    """Record the first view of ``account_id`` in this browser session (reruns are not new views)."""
    seen = st.session_state.setdefault("_accounts_viewed", set())
    if account_id not in seen:
        who = identity()
        TriageStore(current.triage_path).append_event("view_account", account_id, who.name, {}, run_id=run_id,
                                                      actor_role=who.role)
        seen.add(account_id)


def render() -> None:
    st.title("Account")
    current = lake()
    run_id = choose_run(current)
    if run_id is None:
        no_runs_message(current)
        return
    query = st.text_input("Search an account (id or name)", value=st.query_params.get("account", ""),
                          key="account_search")
    matches = account_matches(current, query)
    if not query.strip():
        st.caption("Type part of an account id or handle (accounts in any run's clusters), or an exact account id.")
        return
    if matches.height == 0:  # an account in no cluster: an exact id still finds its actions
        exact = interactions_of(str(current.root), (query.strip(),), interactions_version(current), limit=1)
        if exact.height == 0:
            st.warning(f"No account in the runs' clusters matches “{md(query)}”, and no record in the lake has that id.")
            return
        matches = pl.DataFrame({"account_id": [query.strip()], "account_name": [None]}, schema=matches.schema)
        st.caption("This account is in no cluster of any run; its actions and ego-network follow.")
    ids = matches["account_id"].to_list()
    names = dict(matches.iter_rows())
    account_id = st.selectbox("Account", ids, key="account_pick",
                              format_func=lambda a: account_label(a, names.get(a)))
    if st.query_params.get("account") != account_id:
        st.query_params["account"] = account_id
    _log_view(current, run_id, account_id)

    st.subheader("Clusters across runs")
    clusters = clusters_of_account(current, account_id)
    if clusters.height:
        st.dataframe(clusters, hide_index=True, width="stretch", key="account_clusters", column_config=COLUMN_LABELS)
    else:
        st.caption("This account is in no cluster of any run.")
    for run, cluster in clusters.select("run_id", "cluster_id").head(5).iter_rows():
        st.page_link(navigation.page("cluster"), label=f"Open cluster {md(cluster)} of run {md(run)} →",
                     query_params={"run": run, "cluster": cluster})

    st.subheader("Actions")
    actions = interactions_of(str(current.root), (account_id,), interactions_version(current), limit=500)
    st.caption(f"{actions.height:,} most recent actions in the lake (up to 500).")
    st.dataframe(actions.select("timestamp", "action", "platform", "target_id", "text", "hashtags", "urls"),
                 hide_index=True, width="stretch", height=260, key="account_actions", column_config=COLUMN_LABELS)

    st.subheader(f"Ego-network in run {md(run_id)}")
    st.caption("Co-action edges of this account and among its neighbours; colour = role in the run's clusters"
               " (black ring: this account).")
    neo4j_uri = neo4j_uri_from_env()
    if neo4j_uri:
        try:
            edges = ego_edges_from_neo4j(neo4j_uri, account_id)
            st.caption(f"Interactions from Neo4j at {md(neo4j_uri)}: reposts, replies, quotes, reactions, mentions;"
                       " edge weight = interactions.")
        except Exception as exc:  # the lake is the fallback whenever Neo4j cannot answer
            st.warning(f"Neo4j could not answer ({md(type(exc).__name__)}); showing the lake's edges instead.")
            edges = ego_edges(run_table(current, run_id, "edges"), account_id)
    else:
        edges = ego_edges(run_table(current, run_id, "edges"), account_id)
    if edges.height == 0:
        st.caption("This account has no co-action edge in this run.")
        return
    nodes = ego_nodes(edges, account_id, run_table(current, run_id, "members"))
    positions = layout(nodes["account_id"].to_list(), edges)
    st.plotly_chart(network_figure(nodes, edges, positions, selected={account_id}, height=480), key="ego_chart")


if __name__ == "__main__":  # run by st.navigation as a page (navigation.py)
    render()
