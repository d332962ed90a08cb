"""Export a subgraph for researchers: GraphML, GEXF, CSV or Parquet, with a manifest.

``export_subgraph`` is what ``rallypoint export`` runs. The graph comes from the lake (a run's
cluster, ``rallypoint.graph.subgraph.cluster_subgraph``) or from Neo4j (``--cypher``: a read-only
query whose nodes, relationships and paths become the graph). ``write_subgraph`` writes any
networkx graph in one of the formats, which the dashboard uses for its download button.

Files (in the folder ``out``):

* ``graphml``: ``subgraph.graphml`` (typed ``<key>`` declarations: int, double, boolean, string);
* ``gexf``: ``subgraph.gexf`` (GEXF 1.2, typed attributes, node labels; opens in Gephi);
* ``csv``: ``nodes.csv`` (``id`` + attributes) and ``edges.csv`` (``source``, ``target`` + attributes);
* ``parquet``: ``nodes.parquet`` and ``edges.parquet`` (timestamps typed as UTC timestamps);
* always ``manifest.json``: run id, cluster, parameters, node and edge counts, each file's rows,
  size and SHA-256, and with ``--pseudonymize`` the key's fingerprint (never the key).

Pseudonymizing (``rallypoint.graph.pseudonymize``) replaces node ids that are accounts or posts
and the ``account_name``/``name`` attributes by keyed HMAC-SHA256 pseudonyms before anything is
written; labels become the pseudonyms. Every file appears by an atomic rename and the manifest is
written last, so a folder with a manifest is complete.

Complexity: O(nodes + edges) to convert and write, plus the cost of building the graph.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint import __version__
from rallypoint.errors import Neo4jError, RallypointError
from rallypoint.graph.pseudonymize import Pseudonymizer, text_replacer
from rallypoint.graph.subgraph import cluster_subgraph, readable
from rallypoint.lake import LATEST, Lake, write_json_atomic, write_parquet_atomic

FORMATS = ("graphml", "gexf", "csv", "parquet")
#: Node attributes that hold an account's name and are pseudonymized with it.
NAME_ATTRIBUTES = ("account_name", "name")
#: Attributes holding timestamps as ISO strings; Parquet gets them back as timestamps.
TIMESTAMP_SUFFIXES = ("_ts", "_at")


class ExportError(RallypointError):
    """The export cannot be done as asked."""


class WriteQueryRefused(ExportError):
    """A --cypher query would change the graph."""


class SealedQueryRefused(ExportError):
    """A --cypher query would reach files, the network or a procedure outside the allowlist."""


#: Plan operators that read files or URLs, or run code outside plain graph reading. ``LoadCSV``
#: reads ``file:///`` paths and fetches URLs (so a query can leak a server file to any host).
REFUSED_OPERATORS = frozenset({"LoadCSV", "TransactionApply", "TransactionForeach"})
#: Operator-name prefixes refused: administration commands (SHOW/TERMINATE ...) and system calls
#: (writes, schema changes included, are refused by the plan's query type).
REFUSED_OPERATOR_PREFIXES = ("Show", "Terminate", "SystemProcedureCall")
#: Procedures a research query may call: read-only schema look-ups, nothing that reaches out.
ALLOWED_PROCEDURES = frozenset({"db.labels", "db.relationshipTypes", "db.propertyKeys",
                                "db.schema.visualization", "db.schema.nodeTypeProperties",
                                "db.schema.relTypeProperties"})


def _operators(plan) -> Iterator[tuple[str, str]]:
    """(operator type without its ``@database`` suffix, its details) of every operator of a plan."""
    stack = [plan]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        node = node if isinstance(node, dict) else dict(node)
        args = node.get("args") or {}
        yield str(node.get("operatorType", "")).split("@", 1)[0], str(args.get("Details", ""))
        stack.extend(node.get("children") or [])


def custom_functions(session) -> frozenset[str]:
    """Names of the server's functions that are not built into Cypher (plugins such as APOC)."""
    try:
        rows = session.run("SHOW FUNCTIONS YIELD name, isBuiltIn WHERE NOT isBuiltIn RETURN name").data()
    except Exception:  # noqa: BLE001 - an older server or no rights: no plugin functions to look for
        return frozenset()
    return frozenset(r["name"] for r in rows)


def sealed_plan(plan, functions: frozenset[str] = frozenset(), subject: str = "The --cypher query") -> None:
    """Refuse a query plan (from ``EXPLAIN``) that reaches beyond reading the graph.

    The check is on the planned operators, never on the query text (which can hide a clause
    in comments, escapes or string building): ``LoadCSV`` (server files and URLs), procedure
    calls outside ``ALLOWED_PROCEDURES``, subqueries in transactions, administration commands,
    and any plugin function named in an operator's details. ``subject`` starts the refusal's sentence.
    """
    for operator, details in _operators(plan):
        if operator in REFUSED_OPERATORS or operator.startswith(REFUSED_OPERATOR_PREFIXES):
            what = "LOAD CSV (server files and URLs)" if operator == "LoadCSV" else f"the {operator} operation"
            raise SealedQueryRefused(f"{subject} is refused: it uses {what}, and research queries may "
                                     "only read the graph.")
        if "ProcedureCall" in operator:
            name = re.match(r"\s*([\w.`]+)", details)
            called = name.group(1).replace("`", "") if name else "?"
            if called not in ALLOWED_PROCEDURES:
                raise SealedQueryRefused(
                    f"{subject} is refused: it calls the procedure {called}, which research queries may not "
                    f"call (allowed: {', '.join(sorted(ALLOWED_PROCEDURES))}).")
        for function in functions:
            if re.search(rf"(?<![\w.]){re.escape(function)}\s*\(", details):
                raise SealedQueryRefused(
                    f"{subject} is refused: it calls the plugin function {function}, which research "
                    "queries may not call.")


# --- tables from a graph -------------------------------------------------------------------
def graph_tables(graph: nx.Graph) -> tuple[pa.Table, pa.Table]:
    """The graph as a nodes table (``id`` + attributes) and an edges table (``source``, ``target`` + ...)."""
    node_rows = [{"id": str(node), **data} for node, data in graph.nodes(data=True)]
    edge_rows = [{"source": str(a), "target": str(b), **data} for a, b, data in graph.edges(data=True)]
    return _table(node_rows, ["id"]), _table(edge_rows, ["source", "target"])


def _table(rows: list[dict[str, Any]], leading: list[str]) -> pa.Table:
    columns = list(leading)
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    return pa.table({c: pa.array([row.get(c) for row in rows]) if rows else pa.array([], pa.string())
                     for c in columns})


def _typed_timestamps(table: pa.Table) -> pa.Table:
    for i, name in enumerate(table.column_names):
        if name.endswith(TIMESTAMP_SUFFIXES) and pa.types.is_string(table.schema.field(i).type):
            try:
                parsed = pc.strptime(pc.replace_substring(table[name], "Z", "+0000"),
                                     format="%Y-%m-%dT%H:%M:%S%z", unit="us", error_is_null=True)
            except pa.ArrowInvalid:
                continue
            table = table.set_column(i, name, parsed.cast(pa.timestamp("us", tz="UTC")))
    return table


# --- pseudonyms -----------------------------------------------------------------------------
def pseudonymize_graph(graph: nx.Graph, pseudonyms: Pseudonymizer,
                       known_accounts: dict[str, str | None] | None = None) -> nx.Graph:
    """A copy whose account/post ids and names are keyed pseudonyms (see module docstring).

    Free text (a cluster's ``reasons``, any string attribute) has the ids and names of the
    graph's accounts, and of ``known_accounts`` (id -> name, e.g. the run's members), replaced
    by their pseudonyms too, so a high-profile member's name never leaves in a sentence.
    """

    def kind_of(node: Any, data: dict[str, Any]) -> str | None:
        labels = str(data.get("labels", ""))
        if "Post" in labels.split(","):
            return "post"
        if "labels" not in data or "Account" in labels.split(","):
            return "acct"  # lake graphs' nodes are all accounts
        return None

    mapping, kinds = {}, {}
    for node, data in graph.nodes(data=True):
        kinds[node] = kind_of(node, data)
        mapping[node] = pseudonyms(str(node), kinds[node]) if kinds[node] else node
    copy = nx.relabel_nodes(graph, mapping, copy=True)
    for original, node in mapping.items():
        data = copy.nodes[node]
        for name in NAME_ATTRIBUTES:
            if data.get(name) is not None:
                data[name] = pseudonyms(str(data[name]), "name")
        if kinds[original] and data.get("native_id") is not None:
            # a Neo4j node's own id property (account or post id) goes the way of its key
            data["native_id"] = pseudonyms(str(data["native_id"]), kinds[original])
        data["label"] = node
    for key in ("ego",):
        if key in copy.graph:
            copy.graph[key] = pseudonyms(str(copy.graph[key]), "acct")
    replace = text_replacer(_text_mapping(graph, kinds, pseudonyms, known_accounts or {}))
    handled = {*NAME_ATTRIBUTES, "native_id", "label", "labels"}
    for _, data in copy.nodes(data=True):
        _replace_in_attrs(data, replace, handled)
    for *_, data in copy.edges(data=True):
        _replace_in_attrs(data, replace, handled)
    _replace_in_attrs(copy.graph, replace, {"ego"})
    return copy


def _text_mapping(graph: nx.Graph, kinds: dict, pseudonyms: Pseudonymizer,
                  known_accounts: dict[str, str | None]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for account, name in known_accounts.items():
        mapping[str(account)] = pseudonyms(str(account), "acct")
        if name:
            mapping[str(name)] = pseudonyms(str(name), "name")
    for node, data in graph.nodes(data=True):
        if kinds.get(node) == "acct":
            mapping[str(node)] = pseudonyms(str(node), "acct")
            if data.get("native_id") is not None:
                mapping[str(data["native_id"])] = pseudonyms(str(data["native_id"]), "acct")
        for name in NAME_ATTRIBUTES:
            if kinds.get(node) and data.get(name):
                mapping[str(data[name])] = pseudonyms(str(data[name]), "name")
    return mapping


def _replace_in_attrs(data: dict[str, Any], replace, skip: set[str]) -> None:
    for key, value in list(data.items()):
        if key in skip:
            continue
        if isinstance(value, str):
            data[key] = replace(value)
        elif isinstance(value, list | tuple):
            data[key] = [replace(v) if isinstance(v, str) else v for v in value]


# --- writing --------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _clean_for_xml(graph: nx.Graph) -> nx.Graph:
    """A copy with missing values dropped and every value a str, int, float or bool."""
    copy = graph.copy()
    for _, data in copy.nodes(data=True):
        _clean_attrs(data)
    for *_, data in copy.edges(data=True):
        _clean_attrs(data)
    for key in list(copy.graph):
        if copy.graph[key] is None:
            del copy.graph[key]
        else:
            copy.graph[key] = readable(copy.graph[key])
    return copy


def _clean_attrs(data: dict[str, Any]) -> None:
    for key in list(data):
        value = readable(data[key])
        if value is None:
            del data[key]
        elif not isinstance(value, str | int | float | bool):
            data[key] = str(value)
        else:
            data[key] = value


def _write_atomic(path: Path, writer) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    writer(tmp)
    os.replace(tmp, path)


def write_subgraph(graph: nx.Graph, fmt: str, out: str | os.PathLike[str], *, key: str | bytes | None = None,
                   pseudonymize: bool | None = None,
                   parameters: dict[str, Any] | None = None,
                   known_accounts: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Write ``graph`` as ``fmt`` into the folder ``out`` with a ``manifest.json``; returns the manifest.

    ``pseudonymize`` defaults to "a key was given"; with ``pseudonymize=True`` and no key the key
    comes from ``$RALLYPOINT_PSEUDONYM_KEY``. ``parameters`` are recorded in the manifest (a
    ``cypher`` query only as its SHA-256 when pseudonymized). ``known_accounts`` (id -> name)
    are pseudonymized inside free text as well (``pseudonymize_graph``).
    """
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"The export path {out} is a file; give a folder for the export.")
    pseudonymize = key is not None if pseudonymize is None else pseudonymize
    key_id = None
    parameters = dict(parameters or {})
    if pseudonymize:
        pseudonyms = Pseudonymizer(key)
        graph = pseudonymize_graph(graph, pseudonyms, known_accounts)
        key_id = pseudonyms.key_id
        # a query names ids and names in its literals: only its fingerprint is kept
        for holder in (graph.graph, parameters):
            if holder.get("cypher"):
                holder["cypher_sha256"] = hashlib.sha256(str(holder.pop("cypher")).encode()).hexdigest()
    else:
        graph = graph.copy()
        for node, data in graph.nodes(data=True):
            data.setdefault("label", str(data.get("account_name") or data.get("name") or node))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"Cannot create the export folder {out} ({exc.strerror or exc}).") from None

    files: list[dict[str, Any]] = []
    n_nodes, n_edges = graph.number_of_nodes(), graph.number_of_edges()
    if fmt in ("graphml", "gexf"):
        path = out / f"subgraph.{fmt}"
        clean = _clean_for_xml(graph)
        if fmt == "graphml":
            _write_atomic(path, lambda p: nx.write_graphml(clean, p, named_key_ids=True))
        else:
            _write_atomic(path, lambda p: nx.write_gexf(clean, p, version="1.2draft"))
        files.append({"name": path.name, "nodes": n_nodes, "edges": n_edges})
    else:
        nodes, edges = graph_tables(graph)
        for name, table in (("nodes", nodes), ("edges", edges)):
            path = out / f"{name}.{fmt}"
            if fmt == "csv":
                import pyarrow.csv as pacsv

                _write_atomic(path, lambda p, t=table: pacsv.write_csv(t, p))
            else:
                write_parquet_atomic(path, _typed_timestamps(table))
            files.append({"name": path.name, "rows": len(table)})
    for entry in files:
        path = out / entry["name"]
        entry["bytes"] = path.stat().st_size
        entry["sha256"] = _sha256(path)

    manifest = {
        "rallypoint_version": __version__,
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "format": fmt,
        "run_id": graph.graph.get("run_id"),
        "cluster_id": graph.graph.get("cluster_id"),
        "parameters": parameters,
        "pseudonymized": bool(pseudonymize),
        "key_id": key_id,
        "counts": {"nodes": n_nodes, "edges": n_edges},
        "files": files,
    }
    write_json_atomic(out / "manifest.json", manifest)
    return manifest


def subgraph_zip(graph: nx.Graph, fmt: str, *, key: str | bytes | None = None,
                 pseudonymize: bool | None = None, parameters: dict[str, Any] | None = None,
                 name: str = "rallypoint-export") -> tuple[bytes, str]:
    """The export of ``graph`` (its files and manifest) as a zip archive in memory, and a file name.

    For download buttons: ``st.download_button(data=data, file_name=file_name, mime="application/zip")``.
    """
    import io
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory(prefix="rallypoint-export-") as tmp:
        manifest = write_subgraph(graph, fmt, tmp, key=key, pseudonymize=pseudonymize, parameters=parameters)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for entry in [*manifest["files"], {"name": "manifest.json"}]:
                archive.write(Path(tmp) / entry["name"], f"{name}/{entry['name']}")
    return buffer.getvalue(), f"{name}-{fmt}.zip"


# --- from Neo4j -----------------------------------------------------------------------------
def _node_key(node) -> str:
    labels = set(node.labels)
    props = node._properties if hasattr(node, "_properties") else dict(node)
    if "Account" in labels and "id" in props:
        return str(props["id"])
    if "Post" in labels and "id" in props:
        return f"{props.get('platform')}:{props['id']}"
    if "Url" in labels and "url" in props:
        return str(props["url"])
    if "Hashtag" in labels and "tag" in props:
        return f"#{props['tag']}"
    if "Media" in labels and "hash" in props:
        return f"media:{props['hash']}"
    if "Cluster" in labels and "id" in props:
        return f"cluster:{props.get('run_id')}:{props['id']}"
    return node.element_id


def _graph_objects(value, nodes: dict, relationships: dict) -> None:
    from neo4j.graph import Node, Path, Relationship

    if isinstance(value, Node):
        nodes[value.element_id] = value
    elif isinstance(value, Relationship):
        relationships[value.element_id] = value
    elif isinstance(value, Path):
        for node in value.nodes:
            nodes[node.element_id] = node
        for rel in value.relationships:
            relationships[rel.element_id] = rel
    elif isinstance(value, list | tuple):
        for item in value:
            _graph_objects(item, nodes, relationships)
    elif isinstance(value, dict):
        for item in value.values():
            _graph_objects(item, nodes, relationships)


def cypher_subgraph(cypher: str, neo4j_uri: str | None, *, parameters: dict[str, Any] | None = None,
                    user: str | None = None, password: str | None = None) -> nx.MultiDiGraph:
    """The nodes, relationships and paths a read-only Cypher query returns, as a MultiDiGraph.

    The query runs in a READ transaction with ``parameters`` bound as Cypher parameters (never
    pasted into the text); Neo4j itself refuses writes in a read transaction, and the query's
    plan (``EXPLAIN``) is checked first so a write query is refused before anything runs.
    """
    from neo4j.exceptions import ClientError, CypherSyntaxError

    parameters = dict(parameters or {})
    refused = ("The --cypher query would write to the graph; export queries must be read-only "
               "(MATCH ... RETURN).")

    def work(tx):
        plan = tx.run(f"EXPLAIN {cypher}", parameters).consume()
        sealed_plan(plan.plan, functions)
        if plan.query_type != "r":
            raise WriteQueryRefused(refused)
        nodes: dict[str, Any] = {}
        relationships: dict[str, Any] = {}
        for record in tx.run(cypher, parameters):
            for value in record.values():
                _graph_objects(value, nodes, relationships)
        return nodes, relationships

    from rallypoint.neo4j.connection import open_driver

    with open_driver(neo4j_uri, user, password) as driver, driver.session() as session:
        functions = custom_functions(session)
        try:
            nodes, relationships = session.execute_read(work)
        except CypherSyntaxError as exc:
            raise ExportError(f"The --cypher query is not valid Cypher: {_first_line(exc)}.") from exc
        except ClientError as exc:
            if "AccessMode" in (exc.code or "") or "write" in (exc.message or "").lower():
                raise WriteQueryRefused(refused) from exc
            raise Neo4jError(f"Neo4j refused the --cypher query: {_first_line(exc)}.") from exc
    if not nodes and not relationships:
        raise ExportError("The --cypher query returned no nodes, relationships or paths to export.")

    graph = nx.MultiDiGraph(cypher=cypher, run_id=parameters.get("run_id"),
                            cluster_id=parameters.get("cluster_id"))
    keys = {element_id: _node_key(node) for element_id, node in nodes.items()}
    for element_id, node in nodes.items():
        graph.add_node(keys[element_id], labels=",".join(sorted(node.labels)), **_node_attributes(node))
    for rel in relationships.values():
        ends = []
        for end in (rel.start_node, rel.end_node):
            key = keys.get(end.element_id) or (_node_key(end) if end.labels else end.element_id)
            if key not in graph:
                graph.add_node(key, **_node_attributes(end))
            ends.append(key)
        graph.add_edge(ends[0], ends[1], key=rel.element_id, kind=rel.type,
                       **{k: readable(v) for k, v in dict(rel).items() if k != "kind"})
    return graph


def _node_attributes(node) -> dict[str, Any]:
    """A Neo4j node's properties as attributes; its ``id`` becomes ``native_id``.

    GEXF writers take an ``id`` attribute as the node's XML id and tables have an ``id`` column
    for the node key, so the property must not be called ``id``.
    """
    attributes = {k: readable(v) for k, v in dict(node).items() if k != "labels"}
    if "id" in attributes:
        attributes["native_id"] = attributes.pop("id")
    return attributes


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0].rstrip(".")


# --- the command ------------------------------------------------------------------------------
def export_subgraph(lake: str | os.PathLike[str] | Lake, *, run_id: str = LATEST, cluster_id: str | None = None,
                    fmt: str, out: str | os.PathLike[str], pseudonymize: bool = False, hops: int = 0,
                    cypher: str | None = None, neo4j_uri: str | None = None, key: str | bytes | None = None,
                    user: str | None = None, password: str | None = None) -> dict[str, Any]:
    """Export a run's cluster (top-scored by default) or a ``--cypher`` query's result; returns the manifest.

    With ``cypher``, ``$run_id`` and ``$cluster_id`` are available to the query as parameters
    (``run_id`` resolved against the lake when it has runs).
    """
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if pseudonymize:
        Pseudonymizer(key)  # a missing key is refused before any work is done
    lake = lake if isinstance(lake, Lake) else Lake(lake)
    parameters: dict[str, Any] = {"run": run_id, "cluster": cluster_id, "hops": hops,
                                  "pseudonymize": pseudonymize}
    known: dict[str, str | None] = {}
    if cypher:
        has_runs = lake.root.exists() and lake.run_ids()
        resolved = lake.resolve_run(run_id) if has_runs else run_id
        parameters.update(cypher=cypher, source="neo4j")
        graph = cypher_subgraph(cypher, neo4j_uri, parameters={"run_id": resolved, "cluster_id": cluster_id},
                                user=user, password=password)
        graph.graph["run_id"] = resolved
        if pseudonymize and has_runs:  # the run's members may be named in a Cluster node's reasons
            members = lake.read_run_table(resolved, "members").select(["account_id", "account_name"])
            known = dict(zip(members["account_id"].to_pylist(), members["account_name"].to_pylist(), strict=True))
    else:
        parameters["source"] = "lake"
        graph = cluster_subgraph(lake, run_id, cluster_id, hops)
    return write_subgraph(graph, fmt, out, key=key, pseudonymize=pseudonymize, parameters=parameters,
                          known_accounts=known)
