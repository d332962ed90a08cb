"""``co_repost``: accounts that repost or quote the same original post within the window.

Target: ``target_id`` of ``repost`` and ``quote`` records. This is the QUT
coordination-network-toolkit's co-retweet and CooRTweet's default object (the
retweeted tweet); Pacheco et al. (2021) use the same co-retweet trace.
Cost: ``O(n)`` in the records.
"""

from __future__ import annotations

import pyarrow as pa

from rallypoint.detectors.coaction.shares import from_column, rows_with_action

TYPE = "co_repost"
ACTIONS: tuple[str, ...] = ("repost", "quote")


def share_events(records: pa.Table) -> pa.Table:
    """One share event per repost or quote, targeting the original post."""
    rows = rows_with_action(records, ACTIONS, "target_id")
    return from_column(rows, rows["target_id"])
