"""The alerts page's script (st.navigation runs it); the drawing lives in views/alerts_page.py."""

from rallypoint.dashboard.views.alerts_page import render

render()
