"""Places and dates: where and when the clusters' calls ask people to gather, each linked to its clusters."""

from __future__ import annotations

import polars as pl
import streamlit as st

from rallypoint.dashboard import navigation
from rallypoint.dashboard.data import run_table
from rallypoint.dashboard.places import calendar_figure, called, dates_of, map_figure, places_of
from rallypoint.dashboard.safe import md
from rallypoint.dashboard.views.common import choose_run, lake, no_runs_message

#: Cluster links drawn per chosen place or day (strongest first).
MAX_LINKS = 20


def _picked(event) -> list[str]:
    """The place or day names clicked or box-selected in a chart (their ``customdata``)."""
    selection = (event or {}).get("selection", {}) if isinstance(event, dict) else getattr(event, "selection", {})
    points = selection.get("points", []) if isinstance(selection, dict) else []
    return list(dict.fromkeys(str(p["customdata"]) for p in points if p.get("customdata") is not None))


def _links(run_id: str, clusters: pl.DataFrame, chosen: list[str], rows: pl.DataFrame, what: str) -> None:
    """Links to the clusters that name the ``chosen`` places or days, strongest first."""
    ids = rows.filter(pl.col(what).is_in(chosen))["clusters"].explode().unique(maintain_order=True).to_list()
    shown = clusters.filter(pl.col("cluster_id").is_in(ids)).sort("score", descending=True).head(MAX_LINKS)
    st.markdown(f"**Clusters calling to {md(', '.join(chosen))}** ({len(ids):,}; strongest first)")
    for cluster, score, n, flagged in shown.select("cluster_id", "score", "n_accounts", "flagged").iter_rows():
        st.page_link(navigation.page("cluster"),
                     label=f"Cluster {md(cluster)}: score {score:.2f}{' (flagged)' if flagged else ''}, {n:,} accounts →",
                     query_params={"run": run_id, "cluster": cluster})


def render() -> None:
    st.title("Places and dates")
    current = lake()
    run_id = choose_run(current)
    if run_id is None:
        no_runs_message(current)
        return
    clusters = run_table(current, run_id, "clusters")
    flagged_only = st.toggle("Flagged clusters only", value=True, key="places_flagged_only")
    shown = clusters.filter(pl.col("flagged")) if flagged_only else clusters
    calls = called(shown)
    places, dates = places_of(calls), dates_of(calls)
    st.caption(f"The places and dates the texts of {shown.height:,} cluster{'s' if shown.height != 1 else ''} "
               f"call people to ({calls['cluster_id'].n_unique():,} name at least one): click a place or a day "
               "(or drag a box round several) to list its clusters.")
    if not calls.height:
        st.info("No cluster of this run names a place or a date" + (" among the flagged ones." if flagged_only
                                                                     else "."))
        return

    located = places["lat"].is_not_null().sum()
    st.subheader(f"Map ({located:,} of {places.height:,} places located)")
    event = st.plotly_chart(map_figure(places), key=f"places_map_{run_id}_{flagged_only}", on_select="rerun",
                            selection_mode=("points", "box"), config={"displaylogo": False, "scrollZoom": True})
    nowhere = places.filter(pl.col("lat").is_null())["place"].to_list()
    if nowhere:
        st.caption(f"Without coordinates (generic or not in the gazetteer): {md(', '.join(nowhere))}.")
    chosen = _picked(event) or [st.selectbox("Place", places["place"].to_list(), key=f"place_choice_{run_id}")]
    _links(run_id, shown, chosen, places, "place")
    st.dataframe(places.select("place", "country", "kind", pl.col("n_clusters").alias("clusters"), "texts",
                               pl.col("dates").list.join(", ").alias("dates"),
                               pl.col("clusters").list.head(10).list.join(", ").alias("clusters (strongest first)")),
                 hide_index=True, width="stretch", height="auto", key="places_table")

    st.subheader(f"Calendar ({dates.height:,} called days)")
    if not dates.height:
        st.caption("The texts name places but no date.")
        return
    event = st.plotly_chart(calendar_figure(dates), key=f"dates_calendar_{run_id}_{flagged_only}",
                            on_select="rerun", selection_mode=("points", "box"), config={"displaylogo": False})
    chosen = _picked(event) or [st.selectbox("Day", dates["date"].to_list(), key=f"date_choice_{run_id}")]
    _links(run_id, shown, chosen, dates, "date")
    st.dataframe(dates.select("date", pl.col("n_clusters").alias("clusters"), "texts", pl.col("places").list.join(", ").alias("places"),
                              pl.col("clusters").list.head(10).list.join(", ").alias("clusters (strongest first)")),
                 hide_index=True, width="stretch", height="auto", key="dates_table")


if __name__ == "__main__":  # run by st.navigation as a page (navigation.py)
    render()
