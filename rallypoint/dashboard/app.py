"""The Streamlit script every page runs first (served by ``server.py``; ``rallypoint dashboard`` starts it).

The lake comes from ``$RALLYPOINT_LAKE``, Neo4j from ``$RALLYPOINT_NEO4J_URI`` and the
sign-in mode from ``$RALLYPOINT_AUTH``, all set by :func:`rallypoint.dashboard.launch.run_dashboard`.
Nothing is drawn before :func:`rallypoint.dashboard.session.require` has found who is signed in.
"""

from __future__ import annotations

import streamlit as st

from rallypoint.dashboard import navigation, session
from rallypoint.dashboard.data import lake_from_env
from rallypoint.dashboard.views.common import log_state

st.set_page_config(page_title="rallypoint — triage", layout="wide", initial_sidebar_state="expanded")
# st.stop() ends a run with nobody signed in; it returns only without a Streamlit run (a process that
# re-imports this script as __main__, e.g. a spawned Dask worker after AppTest), where nothing is drawn
if session.require(lake_from_env()) is not None:
    log_state(lake_from_env())
    navigation.PAGES.update(
        queue=st.Page("screens/queue.py", title="Triage queue", url_path="queue", default=True),
        cluster=st.Page("screens/cluster.py", title="Cluster", url_path="cluster"),
        account=st.Page("screens/account.py", title="Account", url_path="account"),
        search=st.Page("screens/search.py", title="Search", url_path="search"),
        places=st.Page("screens/places.py", title="Places and dates", url_path="places"),
        health=st.Page("screens/health.py", title="Data health", url_path="health"),
        alerts=st.Page("screens/alerts.py", title="Alerts", url_path="alerts"),
        team=st.Page("screens/team.py", title="Team and audit log", url_path="team"),
    )
    st.navigation(list(navigation.PAGES.values())).run()
