"""The team page's script (st.navigation runs it); the drawing lives in views/team_page.py."""

from rallypoint.dashboard.views.team_page import render

render()
