"""``co_link``: accounts that share the same normalised URL within the window.

Target: each element of ``urls`` (the ingest normalises URLs; ``urls_original`` keeps
them as written) in records that author content (post, reply, quote). This is
CooRnet's coordinated link sharing (Giglietto et al. 2020) and the QUT toolkit's
co-link. Cost: ``O(total URLs)``.
"""

from __future__ import annotations

import pyarrow as pa

from rallypoint.detectors.coaction.shares import AUTHORING_ACTIONS, from_list_column, rows_with_action

TYPE = "co_link"


def share_events(records: pa.Table) -> pa.Table:
    """One share event per distinct URL of each authored record."""
    return from_list_column(rows_with_action(records, AUTHORING_ACTIONS, "urls"), "urls")
