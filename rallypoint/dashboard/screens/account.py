"""The account page's script (st.navigation runs it); the drawing lives in views/account_page.py."""

from rallypoint.dashboard.views.account_page import render

render()
