"""The co-action network alone: edges for researchers, no communities and no scores.

What it computes
    The same co-action edges ``detect`` builds (:func:`build_coaction_edges`: two accounts
    acting on the same target within the window, counted as co-share pairs the way
    CooRTweet and the QUT coordination-network-toolkit count them — Pacheco et al. 2021;
    CooRnet), written as one file. It is the job those tools do, for researchers who bring
    their own community detection or statistics. The edges are written as they are formed,
    a bucket of account pairs at a time (Parquet row groups, CSV lines): the file, not the
    process, holds the network (the graph formats are built whole by networkx).

    ``exact=True`` lifts the per-share cap, so every pair within the window is formed and
    the network equals the peers' on any input, heavy tails included; the pairs are formed
    partition by partition and their sums spilled to disk (``spill.py``), so memory stays
    bounded by the pair budget, not by the pairs. The default (``exact=False``) keeps
    detect's cap and says in ``stats`` how many pairs and targets were capped.

Output formats, chosen by ``fmt`` or the file's extension: ``parquet`` (the run's
``edges.parquet`` schema: ``account_a < account_b``, ``weight``, ``n_shared``, ``types`` with
per-type figures, ``first_ts``, ``last_ts``, and with the null model ``expected_weight``,
``p_value``, ``strength``), ``csv`` (the same, ``types`` as ``co_repost|co_link``), ``graphml``
and ``gexf`` (accounts as nodes, the csv's columns as edge attributes).

Complexity: that of :func:`build_coaction_edges` — ``O(n log n)`` for ``n`` share events
plus the pairs formed — and ``O(E)`` to write; memory that of one bucket's edges, not ``E``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from rallypoint.detectors.coaction.build import RECORD_COLUMNS, CoactionResult, build_coaction_edges
from rallypoint.detectors.coaction.options import DEFAULT_MAX_PAIRS_PER_SHARE, CoactionError, CoactionOptions
from rallypoint.lake import Lake, parquet_writer_atomic, parse_time
from rallypoint.schema import EDGES_SCHEMA

__all__ = ["NETWORK_FORMATS", "NetworkOptions", "NetworkResult", "coaction_network", "network_edges", "write_network"]

NETWORK_FORMATS = ("parquet", "csv", "graphml", "gexf")


@dataclass(frozen=True)
class NetworkOptions:
    """How the network is built; validated once, here.

    ``types``: co-action types; ``window``: a duration (``"60s"``) or ``"auto"``;
    ``min_participation``: CooRTweet's rule (1 gives the QUT toolkit's pairs);
    ``null_model``: ``"none"`` (every co-share pair, as the peers) or ``"permutation"``
    (only pairs timing alone does not explain); ``exact``: no per-share cap.
    """

    types: tuple[str, ...] = ("co_repost",)
    window: str = "60s"
    min_participation: int = 2
    null_model: str = "none"
    significance: float = 0.01
    exact: bool = False
    since: str | datetime | None = None
    until: str | datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", parse_time(self.since, "since"))
        object.__setattr__(self, "until", parse_time(self.until, "until"))
        self.coaction()

    def coaction(self) -> CoactionOptions:
        """The co-action build these options ask for (validated when made)."""
        return CoactionOptions(types=self.types, window=self.window, min_participation=self.min_participation,
                               null_model=self.null_model, significance=self.significance,
                               max_pairs_per_share=None if self.exact else DEFAULT_MAX_PAIRS_PER_SHARE)


@dataclass
class NetworkResult:
    """What was written, where, and how the edges were built (they are in the file, not here)."""

    path: Path
    fmt: str
    options: NetworkOptions
    window_seconds: dict[str, float]
    n_edges: int
    #: accounts in at least one edge
    n_accounts: int
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _format_of(out: Path, fmt: str | None) -> str:
    chosen = (fmt or out.suffix.lstrip(".")).lower()
    if chosen not in NETWORK_FORMATS:
        raise CoactionError(f"The network format {chosen or '(none)'!r} is not one of {', '.join(NETWORK_FORMATS)}; "
                            "give --format or a file ending in one of them.")
    return chosen


def coaction_network(lake: str | os.PathLike[str] | Lake, out: str | os.PathLike[str],
                     options: NetworkOptions | None = None, *, fmt: str | None = None) -> NetworkResult:
    """Build the co-action network of ``lake`` with ``options`` and write it to ``out``."""
    options = options or NetworkOptions()
    out = Path(out)
    chosen = _format_of(out, fmt)
    lake = (lake if isinstance(lake, Lake) else Lake(lake)).require()
    started = time.perf_counter()
    records = lake.read_interactions_arrow(columns=list(RECORD_COLUMNS), since=options.since, until=options.until)
    # handed over in a list: co-action lets the records go once coded (no name here keeps them)
    result = write_network([records], out, options, fmt=chosen)
    result.seconds = time.perf_counter() - started
    return result


def write_network(records: pa.Table | list[pa.Table], out: str | os.PathLike[str],
                  options: NetworkOptions | None = None, *, fmt: str | None = None) -> NetworkResult:
    """The co-action edges of ``records`` (``RECORD_COLUMNS``; or a one-item list holding them,
    which is emptied so that the records can go once coded) written to ``out`` as they are
    formed, atomically: a failed run leaves no file there."""
    options = options or NetworkOptions()
    out = Path(out)
    chosen = _format_of(out, fmt)
    started = time.perf_counter()
    if isinstance(records, list):
        records = records.pop()
    with _edge_writer(out, chosen) as sink:
        result = network_edges(records, options, edge_sink=sink)
    return NetworkResult(out, chosen, options, {k: float(v) for k, v in result.window_seconds.items()},
                         result.stats["edges"], result.stats["edge_accounts"], dict(result.stats),
                         time.perf_counter() - started)


def network_edges(records: pa.Table, options: NetworkOptions,
                  edge_sink: Callable[[pa.Table], None] | None = None) -> CoactionResult:
    """The co-action edges of ``records`` (``RECORD_COLUMNS``) with ``options``, unwritten (or
    handed to ``edge_sink`` as they are formed: ``build_coaction_edges``)."""
    return build_coaction_edges(records, options.coaction(), edge_sink=edge_sink)


@contextmanager
def _edge_writer(out: Path, fmt: str) -> Iterator[Callable[[pa.Table], None]]:
    """A sink for edge tables (``EDGES_SCHEMA``) writing ``out`` in ``fmt``: a temporary file
    beside it, renamed into place when the block ends, removed if it fails."""
    if fmt == "parquet":
        with parquet_writer_atomic(out, EDGES_SCHEMA) as writer:
            yield writer.write_table
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if fmt == "csv":
            with tmp.open("wb") as file:
                header = [True]

                def write_csv(edges: pa.Table) -> None:
                    _flat(edges).write_csv(file, include_header=header.pop() if header else False)

                yield write_csv
                if header:  # no edge: the header alone
                    _flat(EDGES_SCHEMA.empty_table()).write_csv(file)
        else:
            import networkx as nx

            graph = nx.Graph()

            def add_edges(edges: pa.Table) -> None:
                flat = _flat(edges)
                stamps = [c for c in ("first_ts", "last_ts") if c in flat.columns]
                flat = flat.with_columns(pl.col(stamps).dt.to_string("%Y-%m-%dT%H:%M:%S%.6f%z"))
                attributes = [c for c in flat.columns if c not in ("account_a", "account_b")]
                graph.add_edges_from(
                    (a, b, {k: v for k, v in zip(attributes, rest, strict=True) if v is not None})
                    for a, b, *rest in flat.select("account_a", "account_b", *attributes).iter_rows())

            yield add_edges
            (nx.write_graphml if fmt == "graphml" else nx.write_gexf)(graph, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _flat(edges: pa.Table) -> pl.DataFrame:
    """Edges for the flat formats: each edge's types as one "co_repost|co_link" string."""
    return pl.from_arrow(edges).with_columns(
        types=pl.col("types").list.eval(pl.element().struct.field("type")).list.join("|"))
