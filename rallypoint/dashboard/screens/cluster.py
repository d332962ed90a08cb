"""The cluster page's script (st.navigation runs it); the drawing lives in views/cluster_page.py."""

from rallypoint.dashboard.views.cluster_page import render

render()
