"""A cluster's subgraph, its interaction context and an account's ego network, as networkx graphs.

These are the graphs researchers export and the dashboard draws:

* ``cluster_subgraph``: a run's cluster — its members (nodes, with the members table's columns)
  and the coordination edges between them (the run's edges table: weight, distinct shared
  targets, coordination types, first and last co-action, strength against the null model) —
  optionally with the ``hops``-hop context from the interaction graph.
* the *interaction graph* links two accounts when one reposted, replied to, quoted or reacted to
  the other (``target_account_id``) or mentioned it; an edge's ``interactions`` counts those
  records in both directions and ``actions`` says which kinds (``repost:3,mention:1``).
  The k-hop context adds every account within k interaction steps of the seeds and every
  interaction edge that has an end closer than k (a breadth-first search, Kleinberg-style
  neighbourhood; the last ring's edges among themselves are left out, as usual for ego networks).
* ``ego_network``: that context around one account, from Neo4j when a URI is given, else from
  the lake.

Attribute conventions (so GraphML/GEXF get typed columns that open in Gephi): scalar values only;
timestamps are ISO 8601 UTC strings such as ``2021-01-05T14:03:00Z``; lists are joined with
commas; missing values are left out rather than written as empty.

Complexity: a cluster subgraph reads three run tables and filters them column-wise (O(run
size)); each hop of context is one streaming pass over the lake's four interaction columns
(O(records), memory O(batch + context edges)).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import networkx as nx
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.errors import LakeError
from rallypoint.lake import Lake

#: Interaction actions, as the interaction graph names them.
INTERACTION_ACTIONS = ("repost", "reply", "quote", "reaction", "mention")
MEMBER_ATTRIBUTES = ("platform", "account_name", "high_profile", "followers", "account_created_at",
                     "role", "n_actions", "degree", "strength", "first_ts")
EDGE_ATTRIBUTES = ("weight", "n_shared", "strength", "p_value", "expected_weight", "first_ts", "last_ts")


def readable(value: Any) -> Any:
    """A value GraphML and GEXF can type: timestamps become ISO strings, lists comma-joined text."""
    if isinstance(value, datetime):
        text = value.isoformat().replace("+00:00", "Z")
        return text
    if hasattr(value, "iso_format"):  # neo4j.time.DateTime and friends
        return value.iso_format().replace("+00:00", "Z")
    if isinstance(value, list | tuple):
        return ",".join(str(readable(v)) for v in value)
    return value


def _attrs(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: readable(row[name]) for name in names if row.get(name) is not None}


def _as_lake(lake: str | os.PathLike[str] | Lake) -> Lake:
    return (lake if isinstance(lake, Lake) else Lake(lake)).require()


def pick_cluster(clusters: pa.Table, cluster_id: str | None, run_id: str) -> dict[str, Any]:
    """The named cluster, or the top-scored one (ties broken by cluster id)."""
    if len(clusters) == 0:
        raise LakeError(f"Run {run_id} has no clusters to export.")
    if cluster_id is None:
        order = clusters.sort_by([("score", "descending"), ("cluster_id", "ascending")])
        return order.slice(0, 1).to_pylist()[0]
    match = clusters.filter(pc.equal(clusters["cluster_id"], str(cluster_id)))
    if len(match) == 0:
        some = ", ".join(clusters["cluster_id"].to_pylist()[:5])
        raise LakeError(f"Run {run_id} has no cluster {cluster_id!r} (its clusters include {some}).")
    return match.slice(0, 1).to_pylist()[0]


def cluster_subgraph(lake: str | os.PathLike[str] | Lake, run_id: str = "latest",
                     cluster_id: str | None = None, hops: int = 0) -> nx.Graph:
    """The cluster's members and coordination edges (plus ``hops`` of interaction context).

    ``cluster_id=None`` takes the run's top-scored cluster. Nodes are account ids with
    ``member=True``, ``cluster_id``, ``role`` and the members table's columns; edges carry
    ``kind="coordination"``, ``weight``, ``n_shared``, ``types``, ``type_weights`` and the
    edges table's other columns. The graph's own attributes name the run, cluster and score.
    """
    if hops < 0:
        raise LakeError("--hops must be zero or a positive number of interaction steps.")
    lake = _as_lake(lake)
    run = lake.resolve_run(run_id)
    cluster = pick_cluster(lake.read_run_table(run, "clusters"), cluster_id, run)
    members = lake.read_run_table(run, "members")
    members = members.filter(pc.equal(members["cluster_id"], cluster["cluster_id"]))
    member_ids = members["account_id"]
    edges = lake.read_run_table(run, "edges")
    inside = pc.and_(pc.is_in(edges["account_a"], value_set=member_ids.combine_chunks()),
                     pc.is_in(edges["account_b"], value_set=member_ids.combine_chunks()))
    edges = edges.filter(inside)

    graph = nx.Graph(run_id=run, cluster_id=cluster["cluster_id"], score=float(cluster["score"]),
                     flagged=bool(cluster["flagged"]), hops=int(hops))
    for row in members.to_pylist():
        graph.add_node(row["account_id"], member=True, cluster_id=row["cluster_id"],
                       **_attrs(row, MEMBER_ATTRIBUTES))
    for row in edges.to_pylist():
        types = row["types"] or []
        graph.add_edge(row["account_a"], row["account_b"], kind="coordination",
                       types=",".join(t["type"] for t in types),
                       type_weights=",".join(f"{t['type']}:{t['weight']}" for t in types),
                       **_attrs(row, EDGE_ATTRIBUTES))
    if hops:
        add_interaction_context(graph, lake, set(graph.nodes), hops)
    return graph


# --- the interaction graph, streamed from the lake ---------------------------------------
def _interaction_pairs(batch: pa.Table) -> pa.Table:
    """(src, dst, action) for every account-to-account interaction in a batch of records."""
    targeted = batch.filter(pc.and_(pc.is_valid(batch["target_account_id"]),
                                    pc.not_equal(batch["target_account_id"], batch["account_id"])))
    direct = pa.table({"src": targeted["account_id"], "dst": targeted["target_account_id"],
                       "action": targeted["action"]})
    mentions = batch["mentions"]
    parents = pc.list_parent_indices(mentions)
    mentioned = pa.table({"src": pc.take(batch["account_id"], parents), "dst": pc.list_flatten(mentions)})
    mentioned = mentioned.filter(pc.and_(pc.is_valid(mentioned["dst"]),
                                         pc.not_equal(mentioned["dst"], mentioned["src"])))
    mentioned = mentioned.append_column("action", pa.array(["mention"] * len(mentioned), pa.string()))
    return pa.concat_tables([direct.cast(mentioned.schema), mentioned])


def _lake_batches(lake: Lake, columns: list[str], batch_size: int = 65_536,
                  description: str = "scanning the lake") -> Iterator[pa.Table]:
    """The lake's records, ``columns`` only, one batch at a time (a progress bar on a terminal)."""
    import pyarrow.dataset as ds
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from rallypoint.schema import LAKE_SCHEMA

    files = lake.interaction_files()
    if not files:
        return
    dataset = ds.dataset([str(f) for f in files], schema=LAKE_SCHEMA, format="parquet")
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                  disable=not console.is_terminal, transient=True) as progress:
        task = progress.add_task(description, total=dataset.count_rows())
        for batch in dataset.to_batches(columns=columns, batch_size=batch_size):
            yield pa.Table.from_batches([batch])
            progress.advance(task, batch.num_rows)


def lake_interactions(lake: Lake, seeds: set[str], hops: int) -> tuple[pa.Table, set[str]]:
    """Interaction edges within ``hops`` of the seeds, aggregated per (src, dst, action).

    Returns the edge table (src, dst, action, count) and the nodes reached. Scan h keeps the
    records touching ring h (accounts at distance h) but no account closer than h, so no record
    is counted twice.
    """
    closer: set[str] = set()
    ring = set(seeds)
    found: list[pa.Table] = []
    for hop in range(hops):
        ring_values = pa.array(sorted(ring), pa.string())
        closer_values = pa.array(sorted(closer), pa.string())
        parts = []
        for batch in _lake_batches(lake, ["account_id", "target_account_id", "mentions", "action"],
                                   description=f"interactions, hop {hop + 1} of {hops}"):
            pairs = _interaction_pairs(batch)
            touches = pc.or_(pc.is_in(pairs["src"], value_set=ring_values),
                             pc.is_in(pairs["dst"], value_set=ring_values))
            earlier = pc.or_(pc.is_in(pairs["src"], value_set=closer_values),
                             pc.is_in(pairs["dst"], value_set=closer_values))
            pairs = pairs.filter(pc.and_(touches, pc.invert(earlier)))
            if len(pairs):
                parts.append(pairs.group_by(["src", "dst", "action"], use_threads=False)
                             .aggregate([([], "count_all")]))
        if not parts:
            break
        hop_edges = pa.concat_tables(parts)
        found.append(hop_edges)
        reached = set(hop_edges["src"].to_pylist()) | set(hop_edges["dst"].to_pylist())
        closer |= ring
        ring = reached - closer
    schema = pa.schema([("src", pa.string()), ("dst", pa.string()), ("action", pa.string()),
                        ("count_all", pa.int64())])
    if not found:
        return schema.empty_table(), set(seeds)
    edges = pa.concat_tables(found).group_by(["src", "dst", "action"], use_threads=False) \
        .aggregate([("count_all", "sum")]).rename_columns(["src", "dst", "action", "count"])
    return edges, closer | ring


def lake_account_attributes(lake: Lake, accounts: set[str]) -> dict[str, dict[str, Any]]:
    """Each account's platform, name, high-profile flag and followers, from its newest record."""
    wanted = pa.array(sorted(accounts), pa.string())
    parts = []
    columns = ["account_id", "timestamp", "platform", "account_name", "high_profile", "followers"]
    for batch in _lake_batches(lake, columns, description="account details"):
        part = batch.filter(pc.is_in(batch["account_id"], value_set=wanted))
        if len(part):
            parts.append(part)
    if not parts:
        return {}
    table = pa.concat_tables(parts).sort_by([("account_id", "ascending"), ("timestamp", "ascending")])
    latest = table.group_by(["account_id"], use_threads=False).aggregate(
        [(c, "last") for c in ("platform", "account_name", "high_profile", "followers")])
    return {row["account_id"]: {k.removesuffix("_last"): v for k, v in row.items()
                                if k != "account_id" and v is not None}
            for row in latest.to_pylist()}


def _merge_interactions(graph: nx.Graph, edges: pa.Table) -> None:
    """Add interaction counts to the graph as undirected edges (coordination edges keep their kind)."""
    per_pair: dict[tuple[str, str], dict[str, int]] = {}
    for row in edges.to_pylist():
        a, b = sorted((row["src"], row["dst"]))
        actions = per_pair.setdefault((a, b), {})
        actions[row["action"]] = actions.get(row["action"], 0) + row["count"]
    for (a, b), actions in per_pair.items():
        summary = {"interactions": sum(actions.values()),
                   "actions": ",".join(f"{k}:{actions[k]}" for k in INTERACTION_ACTIONS if k in actions)}
        if graph.has_edge(a, b):
            graph.edges[a, b].update(summary)
        else:
            graph.add_edge(a, b, kind="interaction", weight=summary["interactions"], **summary)


def add_interaction_context(graph: nx.Graph, lake: Lake, seeds: set[str], hops: int) -> nx.Graph:
    """Add the ``hops``-hop interaction context of ``seeds`` from the lake to ``graph``, in place."""
    edges, reached = lake_interactions(lake, seeds, hops)
    context = reached - set(graph.nodes)
    for account, attrs in lake_account_attributes(lake, context).items():
        graph.add_node(account, **{k: readable(v) for k, v in attrs.items()})
    for account in context:
        graph.add_node(account)
        graph.nodes[account].setdefault("member", False)
        graph.nodes[account].setdefault("role", "context")
    _merge_interactions(graph, edges)
    return graph


# --- an account's ego network --------------------------------------------------------------
NEO4J_INTERACTIONS = """
UNWIND $ring AS account_id
MATCH (a:Account {id: account_id})-[:POSTED]->(:Post)-[r:REPOSTED|REPLIED_TO|QUOTED|REACTED_TO]->(:Post)
      <-[:POSTED]-(b:Account)
WHERE a <> b
RETURN a.id AS src, b.id AS dst, type(r) AS action, count(*) AS count
UNION ALL
UNWIND $ring AS account_id
MATCH (a:Account)-[:POSTED]->(:Post)-[r:REPOSTED|REPLIED_TO|QUOTED|REACTED_TO]->(:Post)
      <-[:POSTED]-(b:Account {id: account_id})
WHERE a <> b AND NOT a.id IN $ring
RETURN a.id AS src, b.id AS dst, type(r) AS action, count(*) AS count
UNION ALL
UNWIND $ring AS account_id
MATCH (a:Account {id: account_id})-[:POSTED]->(:Post)-[:MENTIONS]->(b:Account)
WHERE a <> b
RETURN a.id AS src, b.id AS dst, 'MENTIONS' AS action, count(*) AS count
UNION ALL
UNWIND $ring AS account_id
MATCH (a:Account)-[:POSTED]->(:Post)-[:MENTIONS]->(b:Account {id: account_id})
WHERE a <> b AND NOT a.id IN $ring
RETURN a.id AS src, b.id AS dst, 'MENTIONS' AS action, count(*) AS count
"""
NEO4J_ACTION_NAMES = {"REPOSTED": "repost", "REPLIED_TO": "reply", "QUOTED": "quote",
                      "REACTED_TO": "reaction", "MENTIONS": "mention"}
NEO4J_ACCOUNTS = """
UNWIND $ids AS account_id
MATCH (a:Account {id: account_id})
RETURN a.id AS id, a.platform AS platform, a.name AS account_name, a.high_profile AS high_profile,
       a.followers AS followers
"""


def _neo4j_interactions(session, seeds: set[str], hops: int) -> tuple[pa.Table, set[str], dict]:
    closer: set[str] = set()
    ring = set(seeds)
    rows: list[dict[str, Any]] = []
    for _ in range(hops):
        def work(tx, ring=ring, closer=closer):
            return [r.data() for r in tx.run(NEO4J_INTERACTIONS, ring=sorted(ring))
                    if r["src"] not in closer and r["dst"] not in closer]

        found = session.execute_read(work)
        if not found:
            break
        rows.extend(found)
        reached = {r["src"] for r in found} | {r["dst"] for r in found}
        closer |= ring
        ring = reached - closer
    nodes = closer | ring
    accounts = session.execute_read(lambda tx: {r["id"]: r.data() for r in tx.run(NEO4J_ACCOUNTS,
                                                                                  ids=sorted(nodes))})
    for row in rows:
        row["action"] = NEO4J_ACTION_NAMES[row["action"]]
    table = pa.Table.from_pylist(rows, schema=pa.schema([("src", pa.string()), ("dst", pa.string()),
                                                         ("action", pa.string()), ("count", pa.int64())]))
    return table, nodes, accounts


def ego_network(lake: str | os.PathLike[str] | Lake | None, account_id: str, *, hops: int = 1,
                neo4j_uri: str | None = None, user: str | None = None,
                password: str | None = None) -> nx.Graph:
    """The interaction graph within ``hops`` steps of one account, from Neo4j if a URI is given.

    The centre has ``ego=True``; every node carries ``platform``, ``account_name``,
    ``high_profile`` and ``followers`` where known; edges carry ``interactions`` (records in both
    directions) and ``actions``. From the lake this is ``hops`` streaming passes; from Neo4j
    ``hops`` read-only queries over the POSTED/REPOSTED/.../MENTIONS paths the loader wrote.
    """
    if hops < 1:
        raise LakeError("An ego network needs at least one hop.")
    graph = nx.Graph(ego=account_id, hops=int(hops))
    if neo4j_uri:
        from rallypoint.neo4j.connection import open_driver

        with open_driver(neo4j_uri, user, password) as driver, driver.session() as session:
            edges, nodes, accounts = _neo4j_interactions(session, {account_id}, hops)
        for node in nodes:
            attrs = {k: v for k, v in accounts.get(node, {}).items() if k != "id" and v is not None}
            graph.add_node(node, **attrs)
    else:
        if lake is None:
            raise LakeError("An ego network needs a lake or a Neo4j URI.")
        lake = _as_lake(lake)
        edges, nodes = lake_interactions(lake, {account_id}, hops)
        attributes = lake_account_attributes(lake, nodes)
        for node in nodes:
            graph.add_node(node, **{k: readable(v) for k, v in attributes.get(node, {}).items()})
    graph.add_node(account_id)
    for node in graph.nodes:
        graph.nodes[node]["ego"] = node == account_id
    _merge_interactions(graph, edges)
    return graph
