"""The search page's script (st.navigation runs it); the drawing lives in views/search_page.py."""

from rallypoint.dashboard.views.search_page import render

render()
