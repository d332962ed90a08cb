"""``co_media``: accounts that post the same image or video (same hash) within the window.

Target: each element of ``media`` (hashes, e.g. perceptual hashes) of authored records.
CooRTweet's image-hash co-sharing (the German election example). Cost: ``O(total hashes)``.
"""

from __future__ import annotations

import pyarrow as pa

from rallypoint.detectors.coaction.shares import AUTHORING_ACTIONS, from_list_column, rows_with_action

TYPE = "co_media"


def share_events(records: pa.Table) -> pa.Table:
    """One share event per distinct media hash of each authored record."""
    return from_list_column(rows_with_action(records, AUTHORING_ACTIONS, "media"), "media")
