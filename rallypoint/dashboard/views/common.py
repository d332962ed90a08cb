"""Pieces every page shares: the lake, the run chooser, how an account is named, status badges."""

from __future__ import annotations

import streamlit as st

from rallypoint.dashboard import warm
from rallypoint.dashboard.data import chain_state, lake_from_env
from rallypoint.dashboard.palette import STATUS_COLOURS
from rallypoint.dashboard.safe import html, md
from rallypoint.lake import Lake

#: How the tables head the lake's columns (``column_config``): words an analyst reads, not field names.
COLUMN_LABELS = {"account_id": "account id", "account_name": "handle", "n_actions": "actions",
                 "n_accounts": "accounts", "run_id": "run", "cluster_id": "cluster", "target_id": "target id",
                 "account_created_at": "created", "background_count": "in the lake"}


def lake() -> Lake:
    return lake_from_env()


def choose_run(current_lake: Lake) -> str | None:
    """The run the analyst looks at: the ``run`` query parameter, else the newest; chosen in the sidebar."""
    runs = list(reversed(current_lake.run_ids()))
    if not runs:
        return None
    wanted = st.query_params.get("run")
    if wanted and wanted not in runs:  # a stale or mistyped link: say so rather than open another run
        st.warning(f"This lake has no detection run “{md(wanted)}”; showing the newest run, {md(runs[0])}.")
    if wanted not in runs:
        wanted = runs[0]
    run_id = st.sidebar.selectbox(
        "Detection run", runs, index=runs.index(wanted), key="run_choice",
        help="Runs are listed newest first; a run is one `rallypoint detect`.",
    )
    if st.query_params.get("run") != run_id:
        st.query_params["run"] = run_id
    warm.warm_run(str(current_lake.root), run_id)  # its biggest networks, in the background, once per version
    return run_id


def account_label(account_id: str, name: str | None) -> str:
    """An account as every page names it: ``handle (id)``, or the id alone when it has no handle.
    Text, not escaped: the caller passes it through ``md`` or ``html`` for where it lands."""
    return f"{name} ({account_id})" if name else account_id


def status_badge(status: str, carried: bool = False, from_run: str | None = None, jaccard: float | None = None) -> str:
    """HTML for a triage status: a coloured pill with the word in it (never colour alone)."""
    colour = STATUS_COLOURS.get(status, "#7F7F7F")
    text = status.upper()
    if carried and from_run:
        text += f" (carried over from run {from_run}, member overlap J={jaccard:.2f})"
    return (
        f'<span style="background:{colour};color:white;padding:2px 8px;border-radius:10px;'
        f'font-size:0.85em;font-weight:600">{html(text)}</span>'
    )


def no_runs_message(current_lake: Lake) -> None:
    st.info(
        f"The lake at {md(current_lake.root)} has no detection runs yet. Run rallypoint detect \\-\\-lake "
        f"{md(current_lake.root)} and reload; the Data health page shows what was ingested."
    )


def log_state(current_lake: Lake) -> None:
    """The triage log's hash chain, checked, in the sidebar of every page."""
    state = chain_state(current_lake)
    if state.ok:
        st.sidebar.caption(f"Triage log: hash chain intact ({state.rows:,} rows).")
    else:
        st.sidebar.error(f"Triage log: hash chain BROKEN at row {state.broken_seq:d} (see Team and audit log).")
