"""A cluster's activity timeline as the cluster page shows it, read and drawn once per run and lake version.

The Activity timeline tab first shows the timeline as a picture drawn on the server
(:func:`rallypoint.dashboard.timeline.timeline_picture`): a browser's first plotly chart loads
and parses plotly's JavaScript, which cost the tab's first view about a second; the interactive
figure is one toggle away. The members' actions in the cluster's active window (two days each
side), its bursts and the dates it names are the same for both drawings (:func:`timeline_inputs`).
The picture lives in Streamlit's resource cache, shared by every session and by the server's
warm-up (:mod:`rallypoint.dashboard.warm`), which draws those of the newest run's largest clusters.

Complexity: reading the members' actions (cached by :func:`rallypoint.dashboard.data.interactions_of`),
then ``O(bins + bursts + days)`` drawing; at most :data:`MAX_TIMELINES` pictures are kept.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import streamlit as st

from rallypoint.dashboard.data import interactions_of, run_table
from rallypoint.dashboard.timeline import timeline_picture
from rallypoint.lake import Lake

__all__ = ["MAX_TIMELINES", "cluster_timeline_picture", "timeline_inputs"]

#: Timeline pictures kept in memory, across sessions (each some 20 kB).
MAX_TIMELINES = 32
#: The window read around a cluster's activity, each side.
PAD = np.timedelta64(2, "D")


def timeline_inputs(root: str, row: dict, member_ids: tuple[str, ...], actions_version: int
                    ) -> tuple[pl.DataFrame, list[dict] | None, list[dict]]:
    """The members' actions in the cluster's window, its bursts and the (date, place) pairs it names."""
    actions = interactions_of(root, member_ids, actions_version)
    if row["first_ts"] is not None:
        actions = actions.filter(pl.col("timestamp").is_between(row["first_ts"] - PAD, row["last_ts"] + PAD))
    mobilization = row["mobilization"] or {}
    date_places = mobilization.get("top_date_places") or [{"date": d, "place": ""} for d in mobilization.get("dates") or []]
    return actions, row["bursts"], date_places


@st.cache_resource(max_entries=MAX_TIMELINES, show_spinner=False)
def cluster_timeline_picture(root: str, run_id: str, cluster_id: str, member_ids: tuple[str, ...], version: float,
                             actions_version: int) -> bytes:
    """The PNG of the cluster's timeline (``version``: the run's; ``actions_version``: the lake's interactions)."""
    del version  # part of the cache key only
    clusters = run_table(Lake(root), run_id, "clusters")
    row = clusters.filter(pl.col("cluster_id") == cluster_id).row(0, named=True)
    return timeline_picture(*timeline_inputs(root, row, member_ids, actions_version))
