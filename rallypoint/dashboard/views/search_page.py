"""Lake-wide search: records, the accounts behind them and their clusters, linked to their pages.

The engine is :func:`rallypoint.lake_search.search_lake` (DuckDB over the Parquet partitions);
this page only asks and draws. Texts are shown in tables (values exactly, never Markdown): the
accounts once each, with a link column to their pages; every link label goes through
:func:`rallypoint.dashboard.safe.md`.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from rallypoint.dashboard import navigation
from rallypoint.dashboard.data import interactions_version
from rallypoint.dashboard.safe import md
from rallypoint.dashboard.views.common import COLUMN_LABELS, choose_run, lake
from rallypoint.errors import RallypointError
from rallypoint.lake_search import search_lake

#: Records fetched per search (newest first), rows per page, and cluster links drawn.
LIMIT = 1000
PAGE_SIZE = 50
MAX_LINKS = 20


#: The accounts table's link column: the account's page (the address is the app's, the id an encoded value in it).
ACCOUNT_LINK = st.column_config.LinkColumn("page", display_text="open →", width="small",
                                           help="The account's page: its clusters across runs, actions and ego-network.")

#: The handle column at a set width, so the link beside it sits where a reader (or a test) expects it.
HANDLE = st.column_config.TextColumn("handle", width="medium")


def account_rows(accounts: pl.DataFrame, clusters: pl.DataFrame, run_id: str | None) -> pl.DataFrame:
    """One row per account found, in the order found (most hits first): its handle, the address of its
    page, hits, the clusters of ``run_id`` that hold it ("in no cluster" when none), first and last hit,
    and its id (last: the handle is what an analyst reads; the link beside it, not cut off by a half-width table)."""
    held = clusters.group_by("account_id").agg(pl.col("cluster_id").unique().sort().str.join(", ").alias("clusters"))
    return (accounts.join(held, on="account_id", how="left", maintain_order="left")
            .select("account_name",
                    navigation.address_expr("account", run=run_id or "", account=pl.col("account_id")).alias("page"),
                    "hits", pl.col("clusters").fill_null("in no cluster"), "first_ts", "last_ts", "account_id"))


@st.cache_data(max_entries=16, show_spinner="Searching the lake…")
def _search(root: str, query: str, run_id: str | None, version: float) -> tuple[dict[str, pl.DataFrame], bool, float]:
    """The search's three tables as polars frames, cached per lake version (only the query varies)."""
    del version  # part of the cache key only
    found = search_lake(root, query, run_id=run_id, limit=LIMIT)
    tables = {name: pl.from_arrow(getattr(found, name)) for name in ("records", "accounts", "clusters")}
    return tables, found.truncated, found.seconds


def render() -> None:
    st.title("Search the lake")
    current = lake()
    run_id = choose_run(current)
    query = st.text_input("Search: an account id, @handle, #hashtag, domain or link, or words of a text",
                          value=st.query_params.get("query", ""), key="lake_q",
                          help="Case and accents are ignored: “brasilia” finds “Brasília”.")
    if st.query_params.get("query", "") != query:
        st.query_params["query"] = query
    if not query.strip():
        st.caption("Type a query above: “#stopthesteal”, “@some_handle”, “example.org”, or a few words.")
        return
    try:
        tables, truncated, seconds = _search(str(current.root), query.strip(), run_id, interactions_version(current))
    except RallypointError as exc:
        st.error(md(exc))
        return
    records, accounts, clusters = tables["records"], tables["accounts"], tables["clusters"]
    st.caption(f"{records.height:,}{'+' if truncated else ''} records from {accounts.height:,} accounts "
               f"in {seconds:.2f} s" + (f" (the newest {LIMIT:,} shown)" if truncated else "") + ".")
    if records.height == 0:
        st.info("Nothing in the lake matches this query.")
        return

    st.subheader("Records")
    pages = max(1, -(-records.height // PAGE_SIZE))
    number = st.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1,
                             key=f"search_page_{query}")
    shown = records.slice((int(number) - 1) * PAGE_SIZE, PAGE_SIZE)
    # the text right after who posted it and when, wide: it is what the analyst reads
    st.dataframe(shown.select("timestamp", "account_name", "text", "action", "platform", "hashtags", "urls",
                              "account_id", "id", "target_id"),
                 column_config=COLUMN_LABELS | {"text": st.column_config.TextColumn("text", width="large")},
                 hide_index=True, width="stretch", height=min(36 * (shown.height + 1), 420), key="search_records")

    left, right = st.columns(2)
    with left:
        st.subheader(f"Accounts ({accounts.height:,})")
        st.dataframe(account_rows(accounts, clusters, run_id),
                     column_config=COLUMN_LABELS | {"first_ts": "first hit", "last_ts": "last hit", "page": ACCOUNT_LINK,
                                                    "account_name": HANDLE},
                     hide_index=True, width="stretch", height=min(36 * (accounts.height + 1), 400),
                     key="search_accounts")
    with right:
        by_cluster = (clusters.group_by("cluster_id").agg(pl.len().alias("accounts"))
                      .sort(["accounts", "cluster_id"], descending=[True, False]))
        st.subheader(f"Clusters ({by_cluster.height:,})")
        if by_cluster.height == 0:
            st.caption(f"None of these accounts is in a cluster of run {md(run_id or 'none')}.")
        else:
            st.caption(f"The clusters of run {md(run_id)} that hold these accounts, most of them first.")
        for cluster_id, n in by_cluster.head(MAX_LINKS).iter_rows():
            st.page_link(navigation.page("cluster"), label=f"Cluster {md(cluster_id)}: {n:,} of these accounts →",
                         query_params={"run": run_id or "", "cluster": cluster_id})


if __name__ == "__main__":  # run by st.navigation as a page (navigation.py)
    render()
