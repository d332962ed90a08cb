"""The dashboard's ASGI app: Streamlit's own server (``st.App``) with the security headers.

``rallypoint dashboard`` runs ``streamlit run`` on this file; Streamlit finds the ``app``
below and serves ``app.py`` through it, with :class:`~rallypoint.dashboard.headers.SecurityHeaders`
in front of every route (pages, scripts, components, media).
"""

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from rallypoint.dashboard.headers import SecurityHeaders

app = st.App(str(Path(__file__).with_name("app.py")), middleware=[Middleware(SecurityHeaders)])
