"""The co-action network alone: edges for researchers, no communities and no scores.

What it computes
    The same co-action edges ``detect`` builds (:func:`build_coaction_edges`: two accounts
    acting on the same target within the window, counted as co-share pairs the way
    CooRTweet and the QUT coordination-network-toolkit count them — Pacheco et al. 2021;
    CooRnet), written as one file. It is the job those tools do, for researchers who bring
    their own community detection or statistics.

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
plus the pairs formed — and ``O(E)`` to write.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.detectors.coaction.build import (
    COACTION_TYPES,
    DEFAULT_MAX_PAIRS_PER_SHARE,
    RECORD_COLUMNS,
    CoactionError,
    CoactionResult,
    build_coaction_edges,
)
from rallypoint.lake import Lake, parse_time, write_parquet_atomic

__all__ = ["NETWORK_FORMATS", "NetworkOptions", "NetworkResult", "coaction_network", "network_edges"]

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
        unknown = [t for t in self.types if t not in COACTION_TYPES]
        if not self.types or unknown:
            raise CoactionError(f"Unknown co-action type(s) {unknown or '(none)'}; known: {', '.join(COACTION_TYPES)}.")

    @property
    def max_pairs_per_share(self) -> int | None:
        return None if self.exact else DEFAULT_MAX_PAIRS_PER_SHARE


@dataclass
class NetworkResult:
    """The edges written, where, and how they were built."""

    edges: pa.Table
    path: Path
    fmt: str
    options: NetworkOptions
    window_seconds: dict[str, float]
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def n_accounts(self) -> int:
        if self.edges.num_rows == 0:
            return 0
        return len(pc.unique(pa.concat_arrays([self.edges["account_a"].combine_chunks(),
                                               self.edges["account_b"].combine_chunks()])))


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
    result = network_edges(records, options)
    del records
    edges = result.edges
    _write(edges, out, chosen)
    return NetworkResult(edges, out, chosen, options, {k: float(v) for k, v in result.window_seconds.items()},
                         dict(result.stats), time.perf_counter() - started)


def network_edges(records: pa.Table, options: NetworkOptions) -> CoactionResult:
    """The co-action edges of ``records`` (``RECORD_COLUMNS``) with ``options``, unwritten."""
    return build_coaction_edges(
        records, types=options.types, window=options.window, min_participation=options.min_participation,
        null_model=options.null_model, significance=options.significance,
        max_pairs_per_share=options.max_pairs_per_share,
    )


def _write(edges: pa.Table, out: Path, fmt: str) -> None:
    """Write ``edges`` whole to a temporary file beside ``out``, then rename it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        write_parquet_atomic(out, edges)
        return
    tmp = out.with_name(f".{out.name}.tmp")
    # flat formats carry each edge's types as one "co_repost|co_link" string
    import polars as pl

    flat = pl.from_arrow(edges).with_columns(
        types=pl.col("types").list.eval(pl.element().struct.field("type")).list.join("|"))
    try:
        if fmt == "csv":
            flat.write_csv(tmp)
        else:
            import networkx as nx

            graph = nx.Graph()
            stamps = [c for c in ("first_ts", "last_ts") if c in flat.columns]
            flat = flat.with_columns(pl.col(stamps).dt.to_string("%Y-%m-%dT%H:%M:%S%.6f%z"))
            attributes = [c for c in flat.columns if c not in ("account_a", "account_b")]
            graph.add_edges_from(
                (a, b, {k: v for k, v in zip(attributes, rest, strict=True) if v is not None})
                for a, b, *rest in flat.select("account_a", "account_b", *attributes).iter_rows())
            (nx.write_graphml if fmt == "graphml" else nx.write_gexf)(graph, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
