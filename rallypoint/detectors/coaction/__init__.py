"""Co-action edges: accounts that act on the same targets within a short window.

One module per co-action type turns canonical records into share events
(``co_repost``, ``co_link``, ``co_text``, ``co_reply``, ``co_mention``,
``co_hashtags``, ``co_media``); ``pairs`` forms the near-in-time pairs without
quadratic blow-up; ``build`` aggregates them into the coordination graph
(``EDGES_SCHEMA``) with CooRTweet's minimum participation and the null model of
``rallypoint.detectors.null_model``.

    from rallypoint.detectors.coaction import build_coaction_edges, COACTION_TYPES
    result = build_coaction_edges(records, types=("co_repost",), window="60s")
    result.edges, result.actions, result.window_seconds, result.stats
"""

from rallypoint.detectors.coaction.build import (
    ACTION_ORDER,
    ACTIONS_SCHEMA,
    COACTION_TYPES,
    DEFAULT_MAX_PAIRS_PER_SHARE,
    RECORD_COLUMNS,
    CoactionError,
    CoactionResult,
    CodedEvents,
    build_coaction_edges,
    check_options,
    check_pair_budget,
)

__all__ = [
    "ACTION_ORDER",
    "ACTIONS_SCHEMA",
    "COACTION_TYPES",
    "DEFAULT_MAX_PAIRS_PER_SHARE",
    "RECORD_COLUMNS",
    "CoactionError",
    "CoactionResult",
    "CodedEvents",
    "build_coaction_edges",
    "check_options",
    "check_pair_budget",
]
