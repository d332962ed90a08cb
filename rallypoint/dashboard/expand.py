"""Expand: the interaction context of chosen accounts, k hops out, from Neo4j or from the lake.

What it computes
    The accounts within ``hops`` hops of the seeds, where one hop joins two accounts that
    acted on the same **object** — a post (written, reposted, replied to, quoted or reacted
    to), a link, a hashtag, a media item — or where one mentioned the other: the property
    graph's account → post → object ← post ← account path (``rallypoint.neo4j.model``). The
    result, :class:`Context`, holds

    * ``touches``: one row per (account, object) — what each account of the context did to
      what, the object's ``kind`` (``post``, ``url``, ``hashtag``, ``media``, ``account``
      for a mention);
    * ``accounts``: each account with its hop (0 for a seed) and how many objects it shares
      with the rest of the context;
    * ``edges``: the accounts projected onto each other — two accounts joined by the number
      of objects both touched (``weight``) and the commonest kind among them (``main_type``,
      e.g. ``shared hashtag``), in the columns the network figure draws;
    * ``n_nodes``: the expanded node count. From Neo4j it is the nodes
      :func:`rallypoint.neo4j.explore.expand` returned (accounts, posts, links, hashtags,
      media); from the lake the accounts and the objects that join at least two of them.

Sources
    With a Neo4j server configured the search runs there (read transactions only, through
    ``explore.expand``) and its graph is turned into the same touches; otherwise — or when
    Neo4j cannot answer — it runs on the lake's touch index (:mod:`rallypoint.touch_index`,
    built for new partitions first): per hop, the frontier's objects (what the frontier's
    records touched, looked up by author), then every touch of one of them (looked up by
    object key). Each lookup reads only the index's row groups that may hold what it asks for.

Cap
    ``max_nodes`` bounds the result (a hashtag used by half the platform would bring in half
    the platform): accounts are added hop by hop, those sharing most objects with the
    frontier first, as many as keep the accounts and their joining objects within the cap
    (every prefix's node count in one pass, over prefixes read a growing few at a time, see
    ``_fit``); ``truncated`` says when some were left out.

Complexity: from the lake, per hop, the touches of the frontier's objects and of the candidates
(the row groups holding them), not the lake's size; the projection is a self-join of the
touches on the object key, bounded by the cap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import networkx as nx
import numpy as np
import polars as pl

from rallypoint import touch_index
from rallypoint.lake import Lake

__all__ = ["DEFAULT_HOPS", "DEFAULT_MAX_NODES", "Context", "expand_from_lake", "expand_from_neo4j",
           "touches_from_graph"]

DEFAULT_HOPS = 1
#: What a browser can still draw.
DEFAULT_MAX_NODES = 3000
#: The object kinds, as the projected edges name them.
KIND_LABELS = {"post": "shared post", "url": "shared link", "hashtag": "shared hashtag", "media": "shared media",
               "account": "mention"}
#: An object touched by more accounts than this joins too many to say anything (a trending tag):
#: it still counts as a node, but it is not projected into account pairs.
MAX_PAIRS_PER_OBJECT = 60
#: How the node counts name each object kind.
PLURALS = {"post": "posts", "url": "links", "hashtag": "hashtags", "media": "media"}
LABEL_PLURALS = {"Account": "accounts", "Post": "posts", "Url": "links", "Hashtag": "hashtags", "Media": "media"}
_TOUCH_SCHEMA = {"account_id": pl.String, "key": pl.String, "kind": pl.String}


@dataclass(frozen=True)
class Context:
    """An expand's result (see the module docstring)."""

    seeds: tuple[str, ...]
    hops: int
    source: str
    touches: pl.DataFrame
    accounts: pl.DataFrame
    edges: pl.DataFrame
    n_nodes: int
    kinds: dict[str, int]
    truncated: bool

    @property
    def n_accounts(self) -> int:
        return self.accounts.height


def expand_from_lake(lake: Lake | str, seeds: list[str], *, hops: int = DEFAULT_HOPS,
                     max_nodes: int = DEFAULT_MAX_NODES) -> Context:
    """The seeds' context from the lake's touch index (see the module docstring)."""
    lake = lake if isinstance(lake, Lake) else Lake(lake)
    _check(seeds, hops, max_nodes)
    index = touch_index.ensure(lake)
    found = pl.DataFrame({"account_id": sorted(set(seeds)), "hop": [0] * len(set(seeds))},
                         schema={"account_id": pl.String, "hop": pl.Int64})
    mine = index.by_authors(found["account_id"]).join(found.select("account_id"), on="account_id", how="semi")
    found = found.join(mine.select("account_id").unique(), on="account_id", how="semi")  # seeds the lake knows
    touched, frontier, truncated = mine, mine, False
    for hop in range(1, hops + 1):
        # the frontier's objects (its accounts among them: who mentions one touches it)
        keys = frontier.select("key").unique()
        around = index.by_keys(keys["key"])
        # a prefix of k candidates brings at least k nodes: those past the cap's room can never fit
        grown = _candidates(around, found, keys).head(max(0, max_nodes - found.height) + 1)
        if hop < hops:
            # every object of the candidates will be the next frontier: count them all against the cap
            def around_of(first: pl.DataFrame) -> pl.DataFrame:
                return index.by_authors(first["account_id"]).join(first, on="account_id", how="semi")
        else:
            def around_of(first: pl.DataFrame, around: pl.DataFrame = around) -> pl.DataFrame:
                return around.join(first, on="account_id", how="semi")
        grown, frontier, cut = _fit(found, touched, grown, around_of, max_nodes)
        truncated = truncated or cut
        if not grown.height:
            break
        found = pl.concat([found, grown.select("account_id", pl.lit(hop, dtype=pl.Int64).alias("hop"))])
        touched = pl.concat([touched, frontier]).unique()
        if cut:
            break
    touched = touched.join(found.select("account_id"), on="account_id", how="semi")
    found = found.join(index.names(found["account_id"]), on="account_id", how="left")
    joining = _joining(touched)
    kinds = {"accounts": found.height} | {PLURALS[k]: n for k, n in joining.group_by("kind").len()
                                          .sort("len", descending=True).iter_rows() if k != "account"}
    return _context(tuple(sorted(set(seeds))), hops, "lake", touched, found, _node_count(found, joining), kinds,
                    truncated)


def _node_count(found: pl.DataFrame, joining: pl.DataFrame) -> int:
    """Accounts and the objects joining them (a mention joins two accounts directly: no node of its own)."""
    return found.height + joining.filter(pl.col("kind") != "account").height


def _candidates(touches: pl.DataFrame, found: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """The accounts of ``touches`` not yet ``found``, most objects shared with the frontier's ``keys`` first."""
    return (touches.join(keys, on="key", how="semi").join(found.select("account_id"), on="account_id", how="anti")
            .group_by("account_id").agg(pl.col("key").n_unique().alias("shared"))
            .sort(["shared", "account_id"], descending=[True, False]))


#: The first prefix of candidates whose touches ``_fit`` reads, and how much each next one grows.
FIRST_PREFIX, PREFIX_GROWTH = 64, 4


def _fit(found: pl.DataFrame, touched: pl.DataFrame, grown: pl.DataFrame,
         around_of: Callable[[pl.DataFrame], pl.DataFrame], max_nodes: int
         ) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    """The longest strongest-first prefix of ``grown`` whose accounts and joining objects fit in ``max_nodes``,
    its accounts' touches (``around_of(prefix)`` gives a prefix's), and whether some candidates were left out.

    The node count of a prefix depends on its own touches only, and only grows with its length: prefixes of
    ``FIRST_PREFIX``, then ``PREFIX_GROWTH`` times longer, are read until one overflows the cap (or all fit),
    so an expand that fits few of many candidates reads few touches. Within a prefix, each candidate is ranked
    by its place (1, 2, …; the found accounts 0): an object joins the context once its second account is in,
    so ``k`` candidates hold ``found + k`` accounts and the objects whose second-lowest rank is at most ``k``.
    """
    length = FIRST_PREFIX
    while True:
        first = grown.head(length).select("account_id")
        around = around_of(first)
        nodes = _prefix_nodes(found, touched, first, around)
        if nodes[-1] > max_nodes:
            taken = first.head(max(0, int((nodes <= max_nodes).sum()) - 1))
            return grown.head(taken.height), around.join(taken, on="account_id", how="semi"), True
        if first.height == grown.height:
            return grown, around, False
        length *= PREFIX_GROWTH


def _prefix_nodes(found: pl.DataFrame, touched: pl.DataFrame, first: pl.DataFrame, around: pl.DataFrame
                  ) -> np.ndarray:
    """The node count of every prefix ``0..len(first)`` of the candidates ``first`` (see ``_fit``)."""
    ranked = first.with_columns(pl.int_range(1, first.height + 1, dtype=pl.Int64).alias("rank"))
    ranks = pl.concat([touched.select("account_id", "key", "kind", pl.lit(0, dtype=pl.Int64).alias("rank")),
                       around.join(ranked, on="account_id").select("account_id", "key", "kind", "rank")])
    second = (ranks.filter(pl.col("kind") != "account").unique(["account_id", "key", "kind"])
              .group_by("key", "kind").agg(pl.len().alias("accounts"), pl.col("rank").bottom_k(2).max().alias("second"))
              .filter(pl.col("accounts") >= 2)["second"].sort().to_numpy())
    prefix = np.arange(first.height + 1)
    return found.height + prefix + np.searchsorted(second, prefix, side="right")


def _joining(touches: pl.DataFrame) -> pl.DataFrame:
    """The objects at least two accounts touched (the ones that join them): key, kind, accounts."""
    return (touches.group_by("key", "kind").agg(pl.col("account_id").n_unique().alias("accounts"))
            .filter(pl.col("accounts") >= 2))


def _check(seeds: list[str], hops: int, max_nodes: int) -> None:
    from rallypoint.errors import RallypointError

    if not seeds:
        raise RallypointError("Choose at least one account to expand from.")
    if not 1 <= hops <= 3:
        raise RallypointError(f"An expand takes 1 to 3 hops, not {hops}.")
    if max_nodes < 1:
        raise RallypointError("An expand needs room for at least one node.")


def _context(seeds: tuple[str, ...], hops: int, source: str, touches: pl.DataFrame, found: pl.DataFrame,
             n_nodes: int, kinds: dict[str, int], truncated: bool) -> Context:
    edges = project(touches)
    strength = pl.concat([edges.select(pl.col("account_a").alias("account_id"), "weight"),
                          edges.select(pl.col("account_b").alias("account_id"), "weight")]).group_by("account_id").agg(
        pl.col("weight").sum().alias("shared"))
    accounts = (found.join(strength, on="account_id", how="left").with_columns(pl.col("shared").fill_null(0))
                .sort(["hop", "shared", "account_id"], descending=[False, True, False]))
    return Context(seeds, hops, source, touches, accounts, edges, n_nodes, kinds, truncated)


def project(touches: pl.DataFrame) -> pl.DataFrame:
    """Account pairs that touched the same objects: ``account_a < account_b``, ``weight`` (objects shared),
    ``n_shared`` (the same), ``main_type`` (the commonest kind shared), ``type_list`` (every kind with its count).

    Objects touched by more than ``MAX_PAIRS_PER_OBJECT`` accounts are left out of the pairs.
    """
    empty = pl.DataFrame(schema={"account_a": pl.String, "account_b": pl.String, "weight": pl.Int64,
                                 "n_shared": pl.Int64, "main_type": pl.String, "type_list": pl.String})
    if not touches.height:
        return empty
    narrow = touches.select("account_id", "key", "kind").unique().filter(
        pl.col("account_id").n_unique().over("key").is_between(2, MAX_PAIRS_PER_OBJECT))
    if not narrow.height:
        return empty
    pairs = (narrow.join(narrow.select(pl.col("account_id").alias("other"), "key"), on="key")
             .filter(pl.col("account_id") < pl.col("other"))
             .group_by("account_id", "other", "kind").agg(pl.len().alias("n"))
             .with_columns(pl.len().over("account_id", "other").alias("kinds"),
                           (pl.col("kind").replace_strict(KIND_LABELS)).alias("main_type"))
             .with_columns((pl.col("main_type") + pl.lit(" ") + pl.col("n").cast(pl.String)).alias("type_list")))
    # most pairs share one kind of object: only the others are grouped (the strongest kind first)
    single = pairs.filter(pl.col("kinds") == 1).select("account_id", "other", pl.col("n").alias("weight"),
                                                       "main_type", "type_list")
    several = (pairs.filter(pl.col("kinds") > 1).sort(["n", "kind"], descending=[True, False])
               .group_by("account_id", "other", maintain_order=True)
               .agg(pl.col("n").sum().alias("weight"), pl.col("main_type").first(), "type_list")
               .with_columns(pl.col("type_list").list.join(", ")))
    return (pl.concat([single, several])
            .select(pl.col("account_id").alias("account_a"), pl.col("other").alias("account_b"),
                    pl.col("weight").cast(pl.Int64), pl.col("weight").cast(pl.Int64).alias("n_shared"),
                    "main_type", "type_list")
            .sort(["weight", "account_a", "account_b"], descending=[True, False, False]))


#: The relationship kinds of ``explore.expand``'s graph, and the object kind each one reaches.
_OBJECT_OF = {"REPOSTED": "post", "REPLIED_TO": "post", "QUOTED": "post", "REACTED_TO": "post",
              "LINKS_TO": "url", "TAGGED": "hashtag", "ATTACHES": "media", "MENTIONS": "account"}


def touches_from_graph(graph: nx.MultiDiGraph) -> pl.DataFrame:
    """The (account, object) touches in ``explore.expand``'s graph: an account touches the posts it
    wrote and what those posts repost, reply to, quote, react to, link, tag, attach or mention."""
    rows = [(u, v, d.get("kind")) for u, v, d in graph.edges(data=True)]
    edges = pl.DataFrame(rows, schema={"src": pl.String, "dst": pl.String, "rel": pl.String}, orient="row")
    authors = edges.filter(pl.col("rel") == "POSTED").select(pl.col("src").alias("account_id"),
                                                            pl.col("dst").alias("post"))
    own = authors.select("account_id", pl.col("post").alias("key"), pl.lit("post").alias("kind"))
    reached = (edges.filter(pl.col("rel").is_in(list(_OBJECT_OF)))
               .join(authors, left_on="src", right_on="post")
               .select("account_id", pl.col("dst").alias("key"), pl.col("rel").replace_strict(_OBJECT_OF).alias("kind")))
    # every account touches itself, so a mention (an account as the object) joins the two
    accounts = [n for n, labels in graph.nodes(data="labels") if "Account" in str(labels or "").split(",")]
    selves = pl.concat([pl.Series("account_id", accounts, dtype=pl.String), authors["account_id"],
                        reached.filter(pl.col("kind") == "account")["key"].rename("account_id")]).unique().to_frame()
    selves = selves.select("account_id", pl.col("account_id").alias("key"), pl.lit("account").alias("kind"))
    return pl.concat([own, reached, selves]).unique().cast(_TOUCH_SCHEMA)


def expand_from_neo4j(uri: str, seeds: list[str], *, hops: int = DEFAULT_HOPS,
                      max_nodes: int = DEFAULT_MAX_NODES, driver=None) -> Context:
    """The seeds' context from Neo4j (``explore.expand``, read transactions only)."""
    from rallypoint.neo4j.explore import expand

    _check(seeds, hops, max_nodes)
    graph = expand(seeds, uri, hops=hops, max_nodes=max_nodes, driver=driver)
    labels = dict(graph.nodes(data="labels"))
    accounts = [n for n, lab in labels.items() if "Account" in str(lab).split(",")]
    seed_set = {n for n, s in graph.nodes(data="seed") if s}
    hop = _account_hops(graph, seed_set)
    names = dict(graph.nodes(data="name"))
    found = pl.DataFrame({"account_id": accounts, "hop": [hop.get(a, hops) for a in accounts],
                          "account_name": [names.get(a) for a in accounts]},
                         schema={"account_id": pl.String, "hop": pl.Int64, "account_name": pl.String})
    kinds = (pl.DataFrame({"label": list(labels.values())}, schema={"label": pl.String})
             .with_columns(pl.col("label").replace_strict(LABEL_PLURALS, default="other nodes")).group_by("label").len()
             .sort("len", descending=True))
    return _context(tuple(sorted(set(seeds))), hops, "neo4j", touches_from_graph(graph), found, graph.number_of_nodes(),
                    dict(kinds.iter_rows()), bool(graph.graph.get("truncated")))


def _account_hops(graph: nx.MultiDiGraph, seeds: set[str]) -> dict[str, int]:
    """Each account's hop from the seeds: relationship steps over the undirected graph, four to a hop."""
    if not seeds:
        return {}
    steps = nx.multi_source_dijkstra_path_length(graph.to_undirected(as_view=True), seeds)
    return {n: -(-d // 4) for n, d in steps.items()}
