"""rallypoint: find coordinated networks that organize offline mobilization, with reasons.

The public face of the library; the ``rallypoint`` command is a thin layer over it::

    import rallypoint

    rallypoint.simulate_world("world", accounts=2000, days=10, seed=1)
    rallypoint.ingest_sources(["world"], "lake")          # -> IngestSummary
    run = rallypoint.detect("lake")                        # -> DetectResult
    run = rallypoint.detect("lake", rallypoint.DetectOptions(window="60s", threshold=0.4))
    rallypoint.evaluate("lake", run.run_id, "world/labels.csv")
    rallypoint.export_subgraph("lake", fmt="gexf", out="cluster.gexf")
    rallypoint.search_lake("lake", "#stopthesteal")        # -> SearchResult

Names are imported on first use, so ``import rallypoint`` stays light (no numpy, no
allocator change) for programs that need only part of it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

#: public name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    # the lake
    "Lake": ("rallypoint.lake", "Lake"),
    # operations, in the order data flows through them
    "simulate_world": ("rallypoint.simulate", "simulate_world"),
    # ``ingest_sources``, not ``ingest``: the subpackage ``rallypoint.ingest`` takes that name
    "ingest_sources": ("rallypoint.ingest.pipeline", "ingest_sources"),
    "RecordRules": ("rallypoint.ingest.validate", "RecordRules"),
    "check_lake": ("rallypoint.lakecheck", "check_lake"),
    "quarantine": ("rallypoint.lakecheck", "quarantine"),
    "IngestSummary": ("rallypoint.ingest.summary", "IngestSummary"),
    "detect": ("rallypoint.detectors.pipeline", "detect_run"),
    "DetectOptions": ("rallypoint.detectors.options", "DetectOptions"),
    "DETECT_OBJECTIVES": ("rallypoint.detectors.options", "OBJECTIVES"),
    "detect_option_help": ("rallypoint.detectors.options", "option_help"),
    "DetectResult": ("rallypoint.detectors.pipeline", "DetectResult"),
    "evaluate": ("rallypoint.detectors.evaluate", "evaluate_run"),
    "render_evaluation": ("rallypoint.detectors.evaluate", "render_evaluation"),
    "Watcher": ("rallypoint.watch.watcher", "Watcher"),
    "WatchOptions": ("rallypoint.watch.watcher", "WatchOptions"),
    "replay_lead_times": ("rallypoint.watch.leadtime", "replay_lead_times"),
    "render_lead_times": ("rallypoint.watch.leadtime", "render_lead_times"),
    "add_term": ("rallypoint.detectors.promoted", "add_term"),
    "coaction_network": ("rallypoint.detectors.coaction.network", "coaction_network"),
    "NetworkOptions": ("rallypoint.detectors.coaction.network", "NetworkOptions"),
    "NetworkResult": ("rallypoint.detectors.coaction.network", "NetworkResult"),
    "search_lake": ("rallypoint.lake_search", "search_lake"),
    "terminal_safe": ("rallypoint.lake_search", "terminal_safe"),
    "SearchResult": ("rallypoint.lake_search", "SearchResult"),
    "export_subgraph": ("rallypoint.graph.export", "export_subgraph"),
    "build_case_pack": ("rallypoint.dashboard.casepack", "build_case_pack"),
    "load_into_neo4j": ("rallypoint.neo4j.loaders", "load_lake_into_neo4j"),
    "load_missing_into_neo4j": ("rallypoint.neo4j.loaders", "load_missing_into_neo4j"),
    "bulk_load": ("rallypoint.neo4j.bulk", "bulk_load"),
    "prefer_bulk": ("rallypoint.neo4j.bulk", "prefer_bulk"),
    "LocalServer": ("rallypoint.neo4j.bulk", "LocalServer"),
    "write_import_csv": ("rallypoint.neo4j.bulk", "write_import_csv"),
    "create_constraints": ("rallypoint.neo4j.bulk", "create_constraints"),
    "load_views": ("rallypoint.neo4j.views", "load_views"),
    "run_view": ("rallypoint.neo4j.views", "run_view"),
    "parse_view_params": ("rallypoint.neo4j.views", "parse_params"),
    "run_dashboard": ("rallypoint.dashboard.launch", "run_dashboard"),
    # the dashboard's accounts and its hash-chained triage log
    "account_store": ("rallypoint.dashboard.accounts", "account_store"),
    "TriageStore": ("rallypoint.dashboard.triage", "TriageStore"),
    "append_event": ("rallypoint.dashboard.triage", "append_event"),
    "verify_triage_log": ("rallypoint.dashboard.triage", "verify"),
    "run_demo": ("rallypoint.demo", "run_demo"),
    # errors: every one a user can meet is a RallypointError with one clear sentence
    "RallypointError": ("rallypoint.errors", "RallypointError"),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'rallypoint' has no attribute {name!r}") from None
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
