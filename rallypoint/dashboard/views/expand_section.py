"""The cluster page's Expand tab: the chosen accounts' interaction context, and how two clusters connect."""

from __future__ import annotations

import networkx as nx
import polars as pl
import streamlit as st

from rallypoint.dashboard import navigation
from rallypoint.dashboard.data import interactions_version, neo4j_uri_from_env, run_table
from rallypoint.dashboard.expand import (
    DEFAULT_HOPS,
    DEFAULT_MAX_NODES,
    MAX_PAIRS_PER_OBJECT,
    Context,
    expand_from_lake,
    expand_from_neo4j,
)
from rallypoint.dashboard.network import network_figure
from rallypoint.dashboard.network_picture import PICTURE_ABOVE, network_picture
from rallypoint.dashboard.safe import md
from rallypoint.dashboard.structure import structure
from rallypoint.dashboard.views.common import COLUMN_LABELS, account_label
from rallypoint.errors import RallypointError
from rallypoint.lake import Lake

#: Seeds offered by default when nothing is selected in the network: the strongest members.
DEFAULT_SEEDS = 5
#: What a context edge is: two accounts that touched the same objects (not a co-action within a window).
EDGE_NOUN = "pairs sharing a post, link, hashtag, media or mention"
#: A context account without an edge came in through an object too widely shared to draw as pairs.
ALONE_NOUN = (f"accounts joined only through a post, link, hashtag or media with more than "
              f"{MAX_PAIRS_PER_OBJECT} sharers (drawn as no pair)")
#: Where a selection made in the network tab is kept for this tab (per run and cluster).
PICKED_KEY = "picked_{run_id}_{cluster_id}"


@st.cache_data(max_entries=8, show_spinner="Expanding…")
def expanded(root: str, seeds: tuple[str, ...], hops: int, max_nodes: int, version: float,
             neo4j_uri: str | None) -> tuple[Context, str | None]:
    """The context (cached per lake version), and why Neo4j was not used when it was configured."""
    del version
    if neo4j_uri:
        try:
            return expand_from_neo4j(neo4j_uri, list(seeds), hops=hops, max_nodes=max_nodes), None
        except Exception as exc:  # the lake answers whenever Neo4j cannot
            return expand_from_lake(Lake(root), list(seeds), hops=hops, max_nodes=max_nodes), type(exc).__name__
    return expand_from_lake(Lake(root), list(seeds), hops=hops, max_nodes=max_nodes), None


@st.cache_resource(max_entries=4, show_spinner="Drawing the context…")
def context_drawing(root: str, seeds: tuple[str, ...], hops: int, max_nodes: int, version: float,
                    neo4j_uri: str | None, run_id: str, cluster_id: str):
    """The context's accounts and its figure (a PNG above ``PICTURE_ABOVE`` accounts), drawn once per request:
    laying out thousands of accounts on every rerun of the tab would cost seconds each time."""
    context, _ = expanded(root, seeds, hops, max_nodes, version, neo4j_uri)
    current = Lake(root)
    all_members = run_table(current, run_id, "members")
    nodes = context_nodes(context, all_members.filter(pl.col("cluster_id") == cluster_id), all_members, cluster_id)
    if not context.edges.height:
        return nodes, None
    # one structure (backbone, sub-groups, layout) for the drawing: computing it again inside the drawing
    # would repeat the Leiden and spanning-tree passes on the context's graph
    shape = structure(nodes["account_id"].to_list(), context.edges)
    if nodes.height > PICTURE_ABOVE:
        return nodes, network_picture(nodes, context.edges, shape.positions, edge_noun=EDGE_NOUN,
                                      alone_noun=ALONE_NOUN, shape=shape,
                                      selected=context.seeds).png
    return nodes, network_figure(nodes, context.edges, shape.positions, selected=set(context.seeds), height=520,
                                 edge_noun=EDGE_NOUN, alone_noun=ALONE_NOUN, shape=shape)


def context_nodes(context: Context, members: pl.DataFrame, all_members: pl.DataFrame, cluster_id: str
                  ) -> pl.DataFrame:
    """One row per context account in the columns the network figure draws; its ``role`` says where it is:
    a chosen account, in this cluster, in another cluster of the run, or in none."""
    other = all_members.filter(pl.col("cluster_id") != cluster_id).select("account_id").unique()
    strength = pl.concat([context.edges.select(pl.col("account_a").alias("account_id"), "weight"),
                          context.edges.select(pl.col("account_b").alias("account_id"), "weight")]).group_by(
        "account_id").agg(pl.col("weight").sum().cast(pl.Float64).alias("strength"), pl.len().alias("degree"))
    return (context.accounts.join(strength, on="account_id", how="left").with_columns(
        pl.when(pl.col("account_id").is_in(list(context.seeds))).then(pl.lit("chosen"))
        .when(pl.col("account_id").is_in(members["account_id"].implode())).then(pl.lit("this cluster"))
        .when(pl.col("account_id").is_in(other["account_id"].implode())).then(pl.lit("another cluster"))
        .otherwise(pl.lit("in no cluster")).alias("role"),
        pl.lit(False).alias("high_profile"), pl.col("shared").alias("n_actions"),
        pl.col("strength").fill_null(0.0), pl.col("degree").fill_null(0)))


def strongest_first(members: pl.DataFrame) -> pl.DataFrame:
    """The members by strength, ties by id: the seeds offered first, the same on every page and in the warm-up."""
    return members.sort(["strength", "account_id"], descending=[True, False], nulls_last=True)


def prepare_default(root: str, run_id: str, cluster_id: str, members: pl.DataFrame) -> None:
    """Expand and draw the tab's default request (the strongest members, one hop, the default cap) into the
    caches the tab reads, as a press of Expand with nothing selected would: for the server's warm-up."""
    current = Lake(root)
    seeds = tuple(sorted(strongest_first(members)["account_id"].head(DEFAULT_SEEDS).to_list()))
    context_drawing(root, seeds, DEFAULT_HOPS, DEFAULT_MAX_NODES, interactions_version(current),
                    neo4j_uri_from_env(), run_id, cluster_id)


def render(current: Lake, run_id: str, cluster_id: str, members: pl.DataFrame) -> None:
    """The Expand tab: choose accounts and hops, expand, draw the context, list who is outside."""
    neo4j_uri = neo4j_uri_from_env()
    st.subheader("Expand: the interaction context of chosen accounts")
    st.caption("Accounts within k hops of the chosen ones, a hop joining two accounts that acted on the same post "
               "(wrote, reposted, replied to, quoted, reacted to), link, hashtag or media, or that mentioned each other"
               + (f"; from Neo4j at {md(neo4j_uri)} (read only)." if neo4j_uri else
                  "; from the lake (start the dashboard with --neo4j to search the graph database)."))
    picked = st.session_state.get(PICKED_KEY.format(run_id=run_id, cluster_id=cluster_id)) or []
    strongest = strongest_first(members)
    names = dict(strongest.select("account_id", pl.col("account_name").fill_null("")).iter_rows())
    default = [a for a in picked if a in names] or strongest["account_id"].head(DEFAULT_SEEDS).to_list()
    with st.form(f"expand_{run_id}_{cluster_id}", border=False):
        seeds = st.multiselect("Accounts (those selected in the network, else the strongest members)",
                               strongest["account_id"].to_list(), default=default, key=f"expand_seeds_{run_id}_{cluster_id}",
                               format_func=lambda a: account_label(a, names.get(a)))
        c1, c2, c3 = st.columns([1, 1, 1], vertical_alignment="bottom")
        hops = c1.radio("Hops", [1, 2], index=DEFAULT_HOPS - 1, horizontal=True, key=f"expand_hops_{run_id}_{cluster_id}")
        cap = c2.number_input("At most this many nodes", 100, 10_000, DEFAULT_MAX_NODES, step=500,
                              key=f"expand_cap_{run_id}_{cluster_id}")
        asked = c3.form_submit_button("Expand", type="primary")
    state = f"expand_asked_{run_id}_{cluster_id}"
    if asked:
        st.session_state[state] = (tuple(sorted(seeds)), int(hops), int(cap))
    request = st.session_state.get(state)
    if request is None:
        st.caption("Choose accounts and press Expand.")
    elif not request[0]:
        st.warning("Choose at least one account to expand from.")
    else:
        try:
            context, failed = expanded(str(current.root), *request, interactions_version(current), neo4j_uri)
        except RallypointError as exc:
            st.error(md(exc))
        else:
            if failed:
                st.warning(f"Neo4j could not answer ({md(failed)}); expanded from the lake instead.")
            nodes, drawing = context_drawing(str(current.root), *request, interactions_version(current), neo4j_uri,
                                             run_id, cluster_id)
            _show(context, nodes, drawing, run_table(current, run_id, "members"), run_id, cluster_id)
    _connection(current, run_id, cluster_id, neo4j_uri)


def _show(context: Context, nodes: pl.DataFrame, drawing, all_members: pl.DataFrame, run_id: str,
          cluster_id: str) -> None:
    kinds = ", ".join(f"{n:,} {k}" for k, n in context.kinds.items())
    st.markdown(f"**Expanded: {context.n_nodes:,} nodes** ({md(kinds)}) within {context.hops:d} hop"
                f"{'s' if context.hops > 1 else ''} of {len(context.seeds):,} account"
                f"{'s' if len(context.seeds) > 1 else ''}, from {'Neo4j' if context.source == 'neo4j' else 'the lake'}"
                + (" — stopped at the cap: the accounts sharing most were kept" if context.truncated else ""))
    if isinstance(drawing, bytes):
        st.image(drawing, width="stretch")
    elif drawing is not None:
        st.plotly_chart(drawing, key=f"expand_chart_{run_id}_{cluster_id}",
                        config={"displaylogo": False, "scrollZoom": True})
    else:
        st.caption("The chosen accounts share no post, link, hashtag or media with any other account.")
    outside = nodes.filter(pl.col("role").is_in(["another cluster", "in no cluster"]))
    st.markdown(f"**Accounts outside this cluster** ({outside.height:,}; most shared first)")
    clusters = all_members.select("account_id", "cluster_id").group_by("account_id").agg(
        pl.col("cluster_id").unique().sort().str.join(", ").alias("clusters"))
    st.dataframe(outside.join(clusters, on="account_id", how="left").select(
        "account_name", "role", pl.col("clusters").fill_null("none"), "hop", pl.col("shared").alias("objects shared"),
        "account_id")
        .sort("objects shared", descending=True).head(500), hide_index=True, width="stretch", height=260,
        column_config=COLUMN_LABELS, key=f"expand_outside_{run_id}_{cluster_id}")
    first = outside.sort("shared", descending=True).select("account_id", "account_name").head(1).rows()
    if first:
        account_id, name = first[0]
        st.page_link(navigation.page("account"), label=f"Open account {md(account_label(account_id, name))} →",
                     query_params={"run": run_id, "account": account_id})


def _connection(current: Lake, run_id: str, cluster_id: str, neo4j_uri: str | None) -> None:
    """How are these two clusters connected: the shortest chain of interactions (Neo4j only)."""
    st.subheader("How is this cluster connected to another?")
    if not neo4j_uri:
        st.caption("The shortest chain of interactions between two clusters is searched in Neo4j: start the "
                   "dashboard with --neo4j URI (and load the run with `rallypoint graph`).")
        return
    clusters = run_table(current, run_id, "clusters").filter(pl.col("cluster_id") != cluster_id).sort(
        "score", descending=True)
    with st.form(f"connect_{run_id}_{cluster_id}", border=False):
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        other = c1.selectbox("The other cluster (by score)", clusters["cluster_id"].head(200).to_list(),
                             key=f"connect_other_{run_id}_{cluster_id}")
        asked = c2.form_submit_button("Find the shortest connection")
    if not asked or other is None:
        return
    from rallypoint.neo4j.explore import shortest_connection

    try:
        path = shortest_connection(run_id, cluster_id, other, neo4j_uri)
    except Exception as exc:  # one sentence, never a traceback
        st.warning(f"Neo4j could not answer ({md(type(exc).__name__)}).")
        return
    length = path.graph.get("length")
    if length is None:
        st.info(f"No chain of interactions joins cluster {md(cluster_id)} and cluster {md(other)} within the "
                "searched length, or the run is not in Neo4j.")
        return
    if length == 0:
        st.success(f"Clusters {md(cluster_id)} and {md(other)} share an account: {md(next(iter(path.nodes)))}.")
        return
    ends = [n for n, end in path.nodes(data="end") if end]
    steps = nx.shortest_path(path.to_undirected(as_view=True), ends[0], ends[-1])
    st.success(f"Connected in {length:d} relationship steps:")
    st.dataframe(pl.DataFrame({"step": list(range(len(steps))), "node": [str(n) for n in steps],
                               "kind": [str(path.nodes[n].get("labels", "")) for n in steps]}),
                 hide_index=True, width="stretch", key=f"connect_path_{run_id}_{cluster_id}")
