"""The health page's script (st.navigation runs it); the drawing lives in views/health_page.py."""

from rallypoint.dashboard.views.health_page import render

render()
