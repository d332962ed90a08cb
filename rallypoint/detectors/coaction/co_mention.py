"""``co_mention``: accounts that mention the same account within the window.

Target: each element of ``mentions`` of authored records (lower-cased, so handles
match whatever their case) — the pile-on against an official, a journalist, a
judge. Cost: ``O(total mentions)``.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.detectors.coaction.shares import AUTHORING_ACTIONS, from_list_column, rows_with_action

TYPE = "co_mention"


def share_events(records: pa.Table) -> pa.Table:
    """One share event per distinct mentioned account of each authored record."""
    rows = rows_with_action(records, AUTHORING_ACTIONS, "mentions")
    return from_list_column(rows, "mentions", transform=pc.utf8_lower)
