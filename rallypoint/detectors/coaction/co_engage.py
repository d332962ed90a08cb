"""``co_engage``: accounts that engage with the same post — repost, quote or reply — within the window.

Target: ``target_id`` of ``repost``, ``quote`` and ``reply`` records, whatever the
kind of engagement. ``co_repost`` and ``co_reply`` each see one way of answering a
post; a small network that answers its own calls by whichever means (one member
reposts, another quotes with "I'll be there", a third replies "bus from Ohio is
full") meets in neither often enough to stand out, and meets here on every call.
It is the co-engagement trace of Pacheco et al. (2021), who pool the ways of acting
on one object into one bipartite account–object graph before projecting it.

Window: by default a conversation-scale window (``build.ENGAGE_WINDOW_SECONDS``,
15 minutes) rather than the seconds of the fast types, because answering takes
people minutes; the null model (``null_model``), not the window, decides what
chance explains.
Cost: ``O(n)`` in the records.
"""

from __future__ import annotations

import pyarrow as pa

from rallypoint.detectors.coaction.shares import from_column, rows_with_action

TYPE = "co_engage"
ACTIONS: tuple[str, ...] = ("repost", "quote", "reply")


def share_events(records: pa.Table) -> pa.Table:
    """One share event per repost, quote or reply, targeting the post engaged with."""
    rows = rows_with_action(records, ACTIONS, "target_id")
    return from_column(rows, rows["target_id"])
