"""Co-action edges: accounts that act on the same targets within a short window.

One module per co-action type turns canonical records into share events
(``co_repost``, ``co_link``, ``co_text``, ``co_reply``, ``co_mention``,
``co_hashtags``, ``co_media``); ``pairs`` forms the near-in-time pairs without
quadratic blow-up; ``build`` aggregates them into the coordination graph
(``EDGES_SCHEMA``) with CooRTweet's minimum participation and the null model of
``rallypoint.detectors.null_model``.

    from rallypoint.detectors.coaction import CoactionOptions, build_coaction_edges
    result = build_coaction_edges(records, CoactionOptions(types=("co_repost",), window="60s"))
    result.edges, result.actions_frame, result.window_seconds, result.stats
"""

from rallypoint.detectors.coaction.build import (
    ACTION_ORDER,
    ACTIONS_SCHEMA,
    RECORD_COLUMNS,
    CoactionResult,
    CodedEvents,
    build_coaction_edges,
)
from rallypoint.detectors.coaction.options import (
    COACTION_TYPES,
    DEFAULT_MAX_PAIRS_PER_SHARE,
    DEFAULT_PAIR_BUDGET,
    CoactionError,
    CoactionOptions,
)

__all__ = [
    "ACTION_ORDER",
    "ACTIONS_SCHEMA",
    "COACTION_TYPES",
    "DEFAULT_MAX_PAIRS_PER_SHARE",
    "DEFAULT_PAIR_BUDGET",
    "RECORD_COLUMNS",
    "CoactionError",
    "CoactionOptions",
    "CoactionResult",
    "CodedEvents",
    "build_coaction_edges",
]
