"""Data health: what was ingested, what was rejected and why, and every run's parameters."""

from __future__ import annotations

import json

import plotly.express as px
import polars as pl
import streamlit as st

from rallypoint.dashboard.data import ingest_logs, rejected_by_reason, runs_overview
from rallypoint.dashboard.palette import OKABE_ITO
from rallypoint.dashboard.safe import md
from rallypoint.dashboard.views.common import lake

#: The ingest log's counts (docs/ingest.md): records read (bad ones included), new rows written,
#: duplicates skipped (already in the lake or repeated in the batch), records rejected.
INGEST_COLUMNS = ("read", "written", "duplicates", "rejected")


def _scalar(value) -> object:
    return value if isinstance(value, str | int | float | bool) or value is None else json.dumps(value, default=str)


def render() -> None:
    st.title("Data health")
    current = lake()
    st.caption(f"Lake: {md(current.root)}")

    st.subheader("Ingests")
    logs = ingest_logs(current)
    if not logs:
        st.info("No ingest log yet (`rallypoint ingest` writes one per run into LAKE/ingests/).")
    else:
        rows = [{k: _scalar(v) for k, v in log.items() if not isinstance(v, dict | list)} for log in logs]
        frame = pl.DataFrame(rows, infer_schema_length=None)
        front = [c for c in ("ingest_id", *INGEST_COLUMNS) if c in frame.columns]
        st.dataframe(frame.select(front + [c for c in frame.columns if c not in front]), hide_index=True,
                     width="stretch", key="ingests_table")
        totals = {c: sum(int(log.get(c) or 0) for log in logs) for c in INGEST_COLUMNS}
        cols = st.columns(len(INGEST_COLUMNS))
        for col, (name, value) in zip(cols, totals.items(), strict=True):
            col.metric(f"Records {md(name)}" if name != "duplicates" else "Duplicates skipped", f"{value:,}")
        for log in logs:
            sources = log.get("sources")
            if isinstance(sources, list) and sources:
                with st.expander(f"Sources of ingest {md(log.get('ingest_id', log['_file']))}"):
                    st.dataframe(pl.DataFrame([{k: _scalar(v) for k, v in s.items()} for s in sources]),
                                 hide_index=True, width="stretch")

    st.subheader("Rejected records, by reason")
    rejected = rejected_by_reason(current)
    if rejected.height == 0:
        st.caption("Nothing was rejected.")
    else:
        by_reason = rejected.group_by("reason").agg(pl.col("records").sum()).sort("records")
        fig = px.bar(by_reason.to_pandas(), x="records", y="reason", orientation="h", text="records",
                     color_discrete_sequence=[OKABE_ITO["vermillion"]],
                     labels={"records": "rejected records", "reason": "reason"},
                     title="Why records were rejected (kept in LAKE/rejected/ with their source and line)")
        fig.update_layout(height=170 + 45 * by_reason.height, plot_bgcolor="white", margin={"l": 10, "r": 10},
                          yaxis={"automargin": True, "dtick": 1}, xaxis={"dtick": max(1, -(-int(by_reason["records"].max()) // 8)),  # whole records
                                 "rangemode": "tozero"})
        st.plotly_chart(fig, key="rejected_chart")
        st.dataframe(rejected, hide_index=True, width="stretch", key="rejected_table")

    st.subheader("Detection runs")
    runs = runs_overview(current)
    if not runs:
        st.info("No detection run yet.")
        return
    flat = [
        {"run_id": r["run_id"]}
        | {f"{k}.{kk}" if isinstance(v, dict) else k: _scalar(vv if isinstance(v, dict) else v)
           for k, v in r.items() if k != "run_id"
           for kk, vv in (v.items() if isinstance(v, dict) else [(None, v)])}
        for r in runs
    ]
    table = pl.DataFrame(flat, infer_schema_length=None)
    front = [c for c in ("run_id", "finished", "threshold") if c in table.columns]
    front += sorted(c for c in table.columns if c.startswith("counts."))
    front += sorted(c for c in table.columns if c.startswith("parameters."))
    table = table.select(front + [c for c in table.columns if c not in front])
    st.dataframe(table, hide_index=True, width="stretch", key="runs_table")
    for run in runs[:5]:
        with st.expander(f"run.json of {md(run['run_id'])}"):
            st.json(run, expanded=1)


if __name__ == "__main__":  # run by st.navigation as a page (navigation.py)
    render()
