"""Saved Cypher views: named, parameterized, read-only queries for researchers.

A view is a Cypher query saved under a name with a description and typed parameters, in a TOML
file (``rallypoint/neo4j/views.toml`` ships the built-in ones; a researcher's own files go in
a folder named by ``--views`` or ``$RALLYPOINT_VIEWS``)::

    [views.shared_targets]
    description = "Posts both accounts reposted, replied to, quoted or reacted to."
    cypher = '''
    MATCH (:Account {id: $a})-[:POSTED]->(:Post)-[r]->(t:Post)<-[s]-(:Post)<-[:POSTED]-(:Account {id: $b})
    WHERE type(r) = type(s) RETURN t.platform AS platform, t.id AS post, type(r) AS how
    '''
    params.a = { type = "string" }
    params.b = { type = "string" }
    params.limit = { type = "int", default = 50 }

Running one is sealed as ``export --cypher`` is (``rallypoint.graph.export.sealed_plan``): the
values travel as Cypher parameters, never pasted into the text; the plan (``EXPLAIN``) must be
a read-only query without LOAD CSV, administration commands, procedures outside the allowlist or
plugin functions; and it runs in a READ transaction, so the server refuses any write as well.
Rows come back as plain values (a node as its key and properties, a relationship as its type
and end keys, a path as its node keys, a time as ISO text), at most ``limit`` of them.

Complexity: loading reads the TOML files once; a run is one ``EXPLAIN`` and the query itself.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rallypoint.errors import Neo4jError, ViewError

__all__ = ["BUILTIN_VIEWS", "DEFAULT_ROW_LIMIT", "View", "ViewError", "load_views", "parse_params", "run_view"]

#: The views rallypoint ships.
BUILTIN_VIEWS = Path(__file__).with_name("views.toml")
#: The rows a run returns unless told otherwise: what a terminal or a notebook can still read.
DEFAULT_ROW_LIMIT = 1000
#: Parameter types a view may declare, and how a command-line value becomes one.
PARAM_TYPES = {"string": str, "int": int, "float": float, "bool": bool}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TRUE, _FALSE = frozenset({"true", "yes", "1"}), frozenset({"false", "no", "0"})


@dataclass(frozen=True)
class Param:
    """A declared parameter: its type and, if it is optional, its default."""

    name: str
    type: str
    default: Any = None
    required: bool = True

    def convert(self, text: str) -> Any:
        """A command-line value as this parameter's type; a bad one is one ViewError sentence."""
        if self.type == "bool":
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
        else:
            try:
                return PARAM_TYPES[self.type](text)
            except ValueError:
                pass
        raise ViewError(f"The parameter {self.name} takes a value of type {self.type}, not {text!r}.")


@dataclass(frozen=True)
class View:
    """A saved view, validated once when it is loaded (``from_table``)."""

    name: str
    description: str
    cypher: str
    params: tuple[Param, ...]
    source: Path

    @classmethod
    def from_table(cls, name: str, table: Any, source: Path) -> View:
        where = f"The view {name!r} in {source}"
        if not _NAME.match(name):
            raise ViewError(f"{where} needs a name of lower-case letters, digits and underscores.")
        if not isinstance(table, dict):
            raise ViewError(f"{where} must be a table with a description, cypher and params.")
        unknown = set(table) - {"description", "cypher", "params"}
        if unknown:
            raise ViewError(f"{where} has unknown keys: {', '.join(sorted(unknown))}.")
        cypher, description = table.get("cypher"), table.get("description", "")
        if not isinstance(cypher, str) or not cypher.strip():
            raise ViewError(f"{where} has no cypher query.")
        if not isinstance(description, str):
            raise ViewError(f"{where} has a description that is not text.")
        declared = table.get("params", {})
        if not isinstance(declared, dict):
            raise ViewError(f"{where} must declare params as a table.")
        params = []
        for pname, spec in declared.items():
            if not isinstance(spec, dict) or spec.get("type") not in PARAM_TYPES or set(spec) - {"type", "default"}:
                raise ViewError(f"{where} declares the parameter {pname!r} without a type of "
                                f"{', '.join(PARAM_TYPES)} (and optionally a default).")
            if not _NAME.match(pname):
                raise ViewError(f"{where} has a parameter name that is not lower-case letters, digits and underscores.")
            kind = PARAM_TYPES[spec["type"]]
            if "default" in spec and not (isinstance(spec["default"], kind)
                                          and not (kind is int and isinstance(spec["default"], bool))):
                raise ViewError(f"{where} gives the parameter {pname!r} a default that is not of type {spec['type']}.")
            params.append(Param(pname, spec["type"], spec.get("default"), "default" not in spec))
        return cls(name=name, description=description.strip(), cypher=cypher.strip(), params=tuple(params),
                   source=source)

    def bind(self, values: Mapping[str, str]) -> dict[str, Any]:
        """The Cypher parameters from command-line text: converted, defaults filled, unknown names refused."""
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise ViewError(f"The view {self.name} has no parameter {unknown[0]!r} "
                            f"(it takes: {', '.join(declared) or 'none'}).")
        missing = [p.name for p in self.params if p.required and p.name not in values]
        if missing:
            raise ViewError(f"The view {self.name} needs --param {missing[0]}=... ({self.usage()}).")
        return {p.name: p.convert(values[p.name]) if p.name in values else p.default for p in self.params}

    def usage(self) -> str:
        return " ".join(f"{p.name}=<{p.type}>" if p.required else f"[{p.name}={p.default}]" for p in self.params)


def _view_files(folders: Iterable[str | os.PathLike[str]]) -> list[Path]:
    files = [BUILTIN_VIEWS]
    for folder in folders:
        path = Path(folder)
        if not path.is_dir():
            raise ViewError(f"The views folder {path} does not exist.")
        files.extend(sorted(path.glob("*.toml")))
    return files


def load_views(folders: Iterable[str | os.PathLike[str]] | None = None) -> tuple[dict[str, View], list[str]]:
    """The built-in views and those of the TOML files in ``folders`` (default ``$RALLYPOINT_VIEWS``).

    Returns the views by name and one sentence per view or file that could not be loaded (a
    malformed view is left out alone, never the others). A later file's view replaces an
    earlier one of the same name, so a researcher can refine a built-in view.
    """
    if folders is None:
        folders = [f for f in os.environ.get("RALLYPOINT_VIEWS", "").split(os.pathsep) if f]
    views: dict[str, View] = {}
    problems: list[str] = []
    for path in _view_files(folders):
        try:
            tables = tomllib.loads(path.read_text(encoding="utf-8")).get("views", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            problems.append(f"The views file {path} is not valid TOML ({str(exc).splitlines()[0]}).")
            continue
        if not isinstance(tables, dict):
            problems.append(f"The views file {path} must hold [views.NAME] tables.")
            continue
        for name, table in tables.items():
            try:
                views[name] = View.from_table(name, table, path)
            except ViewError as exc:
                problems.append(str(exc))
    return views, problems


def parse_params(pairs: Iterable[str]) -> dict[str, str]:
    """``k=v`` strings (``--param``) as a dict; the value may hold ``=``."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ViewError(f"A view parameter is given as NAME=VALUE, not {pair!r}.")
        values[name.strip()] = value
    return values


def plain(value: Any) -> Any:
    """A Neo4j value as plain JSON-able data (see the module docstring)."""
    from neo4j.graph import Node, Path, Relationship

    from rallypoint.graph.export import _node_attributes, _node_key
    from rallypoint.graph.subgraph import readable

    if isinstance(value, Node):
        return {"key": _node_key(value), "labels": sorted(value.labels),
                **{k: plain(v) for k, v in _node_attributes(value).items()}}
    if isinstance(value, Relationship):
        return {"type": value.type, "start": _node_key(value.start_node), "end": _node_key(value.end_node),
                **{k: plain(v) for k, v in dict(value).items()}}
    if isinstance(value, Path):
        return [_node_key(node) for node in value.nodes]
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(readable(value))


def run_view(view: View, values: Mapping[str, str], neo4j_uri: str | None = None, *,
             limit: int = DEFAULT_ROW_LIMIT, user: str | None = None, password: str | None = None,
             driver=None) -> dict[str, Any]:
    """Run ``view`` with ``values`` (command-line text) on the server, sealed and read-only.

    Returns ``{"view", "params", "columns", "rows", "truncated"}``: at most ``limit`` rows, each a
    list of plain values in the order of ``columns``. A view that would write, read files or the
    network, or call a procedure outside the allowlist is refused before it runs (WriteQueryRefused,
    SealedQueryRefused); a query the server rejects is one sentence.
    """
    from neo4j import READ_ACCESS
    from neo4j.exceptions import ClientError

    from rallypoint.graph.export import WriteQueryRefused, custom_functions, sealed_plan
    from rallypoint.neo4j.connection import _first_line, open_driver

    if limit < 1:
        raise ViewError("A view returns at least one row; --limit must be positive.")
    params = view.bind(values)

    def work(tx):
        plan = tx.run(f"EXPLAIN {view.cypher}", params).consume()
        sealed_plan(plan.plan, functions, subject=f"The view {view.name}")
        if plan.query_type != "r":
            raise WriteQueryRefused(f"The view {view.name} would write to the graph; views must be read-only.")
        result = tx.run(view.cypher, params)
        rows, truncated = [], False
        for record in result:
            if len(rows) == limit:
                truncated = True
                break
            rows.append([plain(v) for v in record.values()])
        return list(result.keys()), rows, truncated

    def run(drv):
        with drv.session(default_access_mode=READ_ACCESS) as session:
            nonlocal functions
            functions = custom_functions(session)
            return session.execute_read(work)

    functions: frozenset[str] = frozenset()
    try:
        if driver is not None:
            columns, rows, truncated = run(driver)
        else:
            with open_driver(neo4j_uri, user, password) as own:
                columns, rows, truncated = run(own)
    except ClientError as exc:
        if "AccessMode" in (exc.code or "") or "write" in (exc.message or "").lower():
            raise WriteQueryRefused(f"The view {view.name} would write to the graph; views must be "
                                    "read-only.") from exc
        raise Neo4jError(f"Neo4j refused the view {view.name}: {_first_line(exc)}.") from exc
    return {"view": view.name, "params": params, "columns": columns, "rows": rows, "truncated": truncated}
