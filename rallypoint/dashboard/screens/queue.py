"""The queue page's script (st.navigation runs it); the drawing lives in views/queue_page.py."""

from rallypoint.dashboard.views.queue_page import render

render()
