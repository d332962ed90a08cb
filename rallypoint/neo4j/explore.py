"""Exploring the graph in Neo4j: the interaction context around accounts, and how two clusters connect.

Both read Neo4j only, in READ transactions of fixed, parameterized statements (no caller text
is ever part of a query), and return a ``networkx.MultiDiGraph`` keyed like the export's
``cypher_subgraph`` (an account by its id, a post as ``platform:id``, ``#tag``, ``media:hash``, a
URL as itself), so the dashboard and the exporters take it as they take an export.

* ``expand(accounts, hops=2)``: a breadth-first search over the interaction relationships the
  loader writes (``model.RELATIONSHIP_TYPES``), in both directions, from the accounts.
  One *hop* is one account-to-account step of interaction, which in the property graph is up
  to four relationships (account -> post -> shared post, link, tag or media <- post <- account;
  a mention is two); so ``hops`` account hops search ``4 * hops`` relationship steps. It stops
  adding nodes at ``max_nodes`` (the graph's ``truncated`` attribute says so): a hashtag used by
  half the platform would otherwise bring in half the platform. Cost: one query per step,
  each O(edges leaving the frontier) capped by the room left; then one query for the nodes.
* ``shortest_connection(run_id, cluster_a, cluster_b)``: the shortest chain of interactions
  between any member of one cluster and any member of the other (Cypher ``shortestPath`` per
  member pair, ``max_length`` relationships at most), or an empty graph when there is none
  within that length. Cost: O(|A| * |B|) bounded breadth-first searches on the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import networkx as nx

from rallypoint.errors import Neo4jError
from rallypoint.graph.export import _graph_objects, _node_attributes, _node_key
from rallypoint.graph.subgraph import readable
from rallypoint.neo4j.connection import open_driver
from rallypoint.neo4j.model import RELATIONSHIP_TYPES

__all__ = ["DEFAULT_MAX_NODES", "INTERACTIONS", "expand", "shortest_connection"]

#: The relationship types an expand or a connection follows: the interactions the loader writes.
INTERACTIONS = "|".join(rel for rel, _, _ in RELATIONSHIP_TYPES)
#: The expand's default cap: what a browser can still draw.
DEFAULT_MAX_NODES = 3000
MAX_HOPS = 4
MAX_PATH_LENGTH = 12

SEED_NODES = "UNWIND $ids AS account_id MATCH (a:Account {id: account_id}) RETURN id(a) AS node"
# id() is deprecated in Cypher 5 but valid; the sessions below turn its notice off (rallypoint.neo4j.connection).
# Each statement answers with ONE record of parallel lists (collect()s over the same rows line
# up): a record per row would cost the driver a message and a decode each, more than the search.
EXPAND_STEP = f"""
UNWIND $frontier AS node
MATCH (n)-[r:{INTERACTIONS}]-(m) WHERE id(n) = node
WITH r, m LIMIT $limit
RETURN collect(id(r)) AS rel, collect(type(r)) AS type, collect(id(startNode(r))) AS src,
       collect(id(endNode(r))) AS dst, collect(id(m)) AS other
"""
# Properties travel as key/value pairs and a post's ts as [epoch seconds, nanoseconds] (a list,
# so that collect() keeps a missing one as [null, null]): the driver's DateTime decoding would
# cost more than the whole search.
NODES = """
MATCH (n) WHERE id(n) IN $nodes
RETURN collect(id(n)) AS node, collect(elementId(n)) AS element_id, collect(labels(n)) AS labels,
       collect([k IN keys(n) WHERE k <> 'ts' | [k, n[k]]]) AS props,
       collect([n.ts.epochSeconds, n.ts.nanosecond]) AS ts
"""


class _Found(dict):
    """A node as ``export._node_key`` and ``_node_attributes`` read one: its properties, labels, element id."""

    def __init__(self, labels: list[str], element_id: str, props: dict[str, Any]) -> None:
        super().__init__(props)
        self.labels = frozenset(labels)
        self.element_id = element_id


def _timestamp(seconds: int, nanos: int) -> str:
    """Epoch seconds and nanoseconds as ``readable`` writes a Neo4j DateTime in UTC."""
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def _connection_query(max_length: int) -> str:
    return f"""
MATCH (a:Account)-[:MEMBER_OF]->(:Cluster {{run_id: $run_id, id: $cluster_a}})
MATCH (b:Account)-[:MEMBER_OF]->(:Cluster {{run_id: $run_id, id: $cluster_b}})
WITH a, b WHERE a <> b
MATCH p = shortestPath((a)-[:{INTERACTIONS}*..{int(max_length)}]-(b))
RETURN p ORDER BY length(p) LIMIT 1
"""


SHARED_MEMBERS = """
MATCH (a:Account)-[:MEMBER_OF]->(:Cluster {run_id: $run_id, id: $cluster_a})
MATCH (a)-[:MEMBER_OF]->(:Cluster {run_id: $run_id, id: $cluster_b})
RETURN a LIMIT 1
"""


def _read(uri: str | None, user: str | None, password: str | None, work, driver=None) -> Any:
    """``work`` in one READ transaction: on ``driver`` if given (kept open by the caller), else a new one's."""
    from neo4j import READ_ACCESS

    if driver is None:
        with open_driver(uri, user, password) as own:
            return _read(uri, user, password, work, own)
    with driver.session(default_access_mode=READ_ACCESS,
                        notifications_disabled_classifications=["DEPRECATION"]) as session:
        return session.execute_read(work)


def _as_graph(nodes: dict[str, Any], relationships: dict[str, Any], **attrs: Any) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph(**attrs)
    keys = {element_id: _node_key(node) for element_id, node in nodes.items()}
    for element_id, node in nodes.items():
        graph.add_node(keys[element_id], labels=",".join(sorted(node.labels)), **_node_attributes(node))
    for rel in relationships.values():
        ends = [keys.get(end.element_id) for end in (rel.start_node, rel.end_node)]
        if None in ends:
            continue
        graph.add_edge(ends[0], ends[1], key=rel.element_id, kind=rel.type,
                       **{k: readable(v) for k, v in dict(rel).items() if k != "kind"})
    return graph


def expand(accounts: Iterable[str], neo4j_uri: str | None = None, *, hops: int = 2,
           max_nodes: int = DEFAULT_MAX_NODES, user: str | None = None,
           password: str | None = None, driver=None) -> nx.MultiDiGraph:
    """The interaction context within ``hops`` account hops of ``accounts`` (see the module docstring).

    Nodes carry ``labels`` and their properties (an account's ``id`` as ``native_id``) and
    ``seed=True`` for the given accounts; edges carry ``kind`` (the relationship type). The
    graph's attributes: ``hops``, ``max_nodes``, ``truncated``. Accounts the graph lacks are
    left out; none at all gives an empty graph. ``driver`` (a connected ``neo4j.Driver``, e.g.
    the dashboard's) saves opening a connection per call.
    """
    seeds = sorted({str(a) for a in accounts})
    if not 1 <= hops <= MAX_HOPS:
        raise Neo4jError(f"An expand takes 1 to {MAX_HOPS} hops, not {hops}.")
    if max_nodes < 1:
        raise Neo4jError("An expand needs room for at least one node.")

    def work(tx):
        kept = [r["node"] for r in tx.run(SEED_NODES, ids=seeds)][:max_nodes]
        seen, rels, frontier, truncated = set(kept), {}, kept, False
        for _ in range(4 * hops):
            room = max_nodes - len(seen)
            if not frontier or room <= 0:
                truncated = truncated or bool(frontier)
                break
            # rows beyond twice the room would mostly name nodes there is no room for
            limit = 2 * room + 100
            step = tx.run(EXPAND_STEP, frontier=frontier, limit=limit).single(strict=True)
            reached = []
            for rel, kind, src, dst, other in zip(step["rel"], step["type"], step["src"], step["dst"],
                                                  step["other"], strict=True):
                if other not in seen:
                    if len(seen) >= max_nodes:
                        truncated = True
                        continue
                    seen.add(other)
                    reached.append(other)
                rels[rel] = (kind, src, dst)
            truncated = truncated or len(step["rel"]) >= limit
            frontier = reached
        found = tx.run(NODES, nodes=sorted(seen)).single(strict=True)
        return zip(found["node"], found["element_id"], found["labels"], found["props"], found["ts"],
                   strict=True), rels, truncated

    found, rels, truncated = _read(neo4j_uri, user, password, work, driver)
    graph = nx.MultiDiGraph(hops=hops, max_nodes=max_nodes, truncated=truncated)
    keys = {}
    for node_id, element_id, labels, pairs, (ts_s, ts_ns) in found:
        props = dict(pairs)
        if ts_s is not None:
            props["ts"] = _timestamp(ts_s, ts_ns)
        node = _Found(labels, element_id, props)
        keys[node_id] = key = _node_key(node)
        graph.add_node(key, labels=",".join(sorted(node.labels)), **_node_attributes(node),
                       seed="Account" in node.labels and props.get("id") in seeds)
    for rel, (kind, src, dst) in rels.items():
        if src in keys and dst in keys:
            graph.add_edge(keys[src], keys[dst], key=str(rel), kind=kind)
    return graph


def shortest_connection(run_id: str, cluster_a: str, cluster_b: str, neo4j_uri: str | None = None, *,
                        max_length: int = 8, user: str | None = None, password: str | None = None) -> nx.MultiDiGraph:
    """The shortest chain of interactions joining two clusters of a run, as a path graph.

    The graph's ``length`` is the number of relationships (0 when the clusters share a member,
    ``None`` when nothing joins them within ``max_length``); its nodes and edges are the path's,
    the two end accounts marked ``end=True``.
    """
    if not 1 <= max_length <= MAX_PATH_LENGTH:
        raise Neo4jError(f"A connection is searched up to 1 to {MAX_PATH_LENGTH} relationships long, "
                         f"not {max_length}.")
    params = {"run_id": str(run_id), "cluster_a": str(cluster_a), "cluster_b": str(cluster_b)}

    def work(tx):
        shared = tx.run(SHARED_MEMBERS, params).single()
        if shared is not None:
            return [shared["a"]], 0
        record = tx.run(_connection_query(max_length), params).single()
        return (None, None) if record is None else (record["p"], len(record["p"]))

    found, length = _read(neo4j_uri, user, password, work)
    nodes: dict[str, Any] = {}
    relationships: dict[str, Any] = {}
    _graph_objects(found, nodes, relationships)
    graph = _as_graph(nodes, relationships, run_id=str(run_id), cluster_a=str(cluster_a),
                      cluster_b=str(cluster_b), length=length)
    if found is not None:
        ends = [found[0]] if length == 0 else [found.start_node, found.end_node]
        for end in ends:
            graph.nodes[_node_key(end)]["end"] = True
    return graph
