"""``co_reply``: accounts that reply to the same post within the window.

Target: ``target_id`` of ``reply`` records — the QUT toolkit's co-reply (many
accounts answering one post at once: a reply swarm or pile-on).
Cost: ``O(n)`` in the records.
"""

from __future__ import annotations

import pyarrow as pa

from rallypoint.detectors.coaction.shares import from_column, rows_with_action

TYPE = "co_reply"
ACTIONS: tuple[str, ...] = ("reply",)


def share_events(records: pa.Table) -> pa.Table:
    """One share event per reply, targeting the post replied to."""
    rows = rows_with_action(records, ACTIONS, "target_id")
    return from_column(rows, rows["target_id"])
