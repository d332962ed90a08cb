"""The Streamlit entry point: ``streamlit run app.py`` (``rallypoint dashboard`` does it).

The lake comes from ``$RALLYPOINT_LAKE`` and Neo4j from ``$RALLYPOINT_NEO4J_URI``,
both set by :func:`rallypoint.dashboard.launch.run_dashboard`.
"""

from __future__ import annotations

import streamlit as st

from rallypoint.dashboard import navigation

st.set_page_config(page_title="rallypoint — triage", layout="wide", initial_sidebar_state="expanded")

navigation.PAGES.update(
    queue=st.Page("screens/queue.py", title="Triage queue", url_path="queue", default=True),
    cluster=st.Page("screens/cluster.py", title="Cluster", url_path="cluster"),
    account=st.Page("screens/account.py", title="Account", url_path="account"),
    health=st.Page("screens/health.py", title="Data health", url_path="health"),
    alerts=st.Page("screens/alerts.py", title="Alerts", url_path="alerts"),
)
st.navigation(list(navigation.PAGES.values())).run()
