"""Zooming the network picture to one sub-group of a cluster, and back.

The picture drawn on the server cannot be zoomed by the browser as the plotly figure can;
instead the analyst picks a view — the whole network or one of its sub-groups
(:func:`rallypoint.dashboard.structure.sub_groups`) — and the picture is drawn again for
that box, with the handles that now fit. Moving from one group to the next pans.
``O(V)`` per view (numpy over the positions).
"""

from __future__ import annotations

import numpy as np

from rallypoint.dashboard.network_picture import zoom_box

__all__ = ["MAX_VIEWS", "WHOLE", "view_box", "views"]

#: The whole network's view.
WHOLE = -1
#: Sub-groups offered as views, biggest first (the rest are seen in the whole network).
MAX_VIEWS = 15


def views(group: np.ndarray, isolated: bool) -> dict[int, str]:
    """The views to offer: ``WHOLE`` and each of the biggest sub-groups, with a label saying its size.

    ``isolated`` says whether the last group holds the accounts without an edge inside the cluster.
    """
    sizes = np.bincount(group) if len(group) else np.zeros(0, dtype=np.int64)
    if len(sizes) < 2:
        return {WHOLE: "the whole network"}
    last = len(sizes) - 1
    shown = [g for g in range(len(sizes)) if sizes[g] > 1 or (isolated and g == last)][:MAX_VIEWS]
    return {WHOLE: "the whole network"} | {
        int(g): (f"accounts with no edge to another member ({sizes[g]:,})" if isolated and g == last
                 else f"sub-group {g + 1} ({sizes[g]:,} accounts)")
        for g in shown
    }


def view_box(positions: np.ndarray, group: np.ndarray, view: int) -> tuple[float, float, float, float] | None:
    """The layout box of ``view`` (``None`` for the whole network)."""
    if view == WHOLE or not len(group):
        return None
    return zoom_box(positions, np.flatnonzero(group == view))
