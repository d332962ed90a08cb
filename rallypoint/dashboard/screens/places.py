"""The places-and-dates page's script (st.navigation runs it); the drawing lives in views/places_page.py."""

from rallypoint.dashboard.views.places_page import render

render()
