"""Who is using the dashboard, checked again on every script run.

``app.py`` calls :func:`require` before any page draws: it finds the identity (a
session cookie's account, an OpenID Connect sign-in through ``st.login``, or the local
user of a ``--no-auth`` dashboard), stops the page with one sentence when there is none
or the session has expired, and shows who is signed in (and, without sign-in, a banner
saying so) on every page. Views ask :func:`identity` who acts and ``identity().can(...)``
what they may do. The server in front (:mod:`rallypoint.dashboard.server`) already
refuses the app to a browser without a valid session; this check is the second lock and
the one that notices a session expiring while the page is open.
"""

from __future__ import annotations

import os

import streamlit as st

from rallypoint.dashboard.accounts import AccountStore, AuthSettings, Identity, local_identity
from rallypoint.dashboard.env import AUTH_ENV
from rallypoint.dashboard.safe import md
from rallypoint.lake import Lake

__all__ = ["COOKIE", "OIDC_PROVIDER", "identity", "require", "session_token", "settings"]

#: The HttpOnly cookie holding the session token (set by the server's /signin route).
COOKIE = "rallypoint_session"
#: The ``[auth.NAME]`` provider of ``.streamlit/secrets.toml`` that ``st.login`` uses in ``oidc`` mode.
OIDC_PROVIDER = os.environ.get("RALLYPOINT_OIDC_PROVIDER") or None
_KEY = "_rallypoint_identity"


def settings() -> AuthSettings:
    return AuthSettings(mode=os.environ.get(AUTH_ENV, "password"))


def session_token() -> str | None:
    """The session cookie the browser sent when it opened this session's connection."""
    token = st.context.cookies.get(COOKIE)
    return token if isinstance(token, str) else None


def _find(lake: Lake, mode: str) -> Identity | None:
    if mode == "none":
        return local_identity()
    store = AccountStore(lake.triage_path, settings())
    if mode == "oidc":
        return store.oidc_identity(st.user.get("email")) if _oidc_signed_in() else None
    return store.identity(session_token())


def _oidc_signed_in() -> bool:
    """Whether ``st.login`` signed someone in (``st.user`` lacks the key until [auth] is configured)."""
    return bool(st.user.get("is_logged_in", False))


def require(lake: Lake) -> Identity | None:
    """The signed-in identity, after drawing who it is; stops the page when nobody is signed in.

    ``None`` only where ``st.stop()`` cannot stop (no Streamlit run): the caller draws nothing then.
    """
    mode = settings().mode
    who = _find(lake, mode)
    st.session_state.pop(_KEY, None)
    if who is None:
        st.title("Sign-in required")
        if mode == "oidc":
            if _oidc_signed_in():
                st.error(f"{md(st.user.get('email'))} has no role on this dashboard; an admin adds it with "
                         "rallypoint users add EMAIL \\-\\-oidc \\-\\-role viewer\\|analyst\\|admin.")
            elif st.button("Sign in with your organization", type="primary"):
                st.login(OIDC_PROVIDER) if OIDC_PROVIDER else st.login()
        else:
            st.warning("You are not signed in, or your session has expired. Reload the page to sign in again.")
        st.stop()
        return None
    st.session_state[_KEY] = who
    if who.method == "none":
        st.warning(f"Sign-in is off (\\-\\-no\\-auth): this dashboard is for one person on this machine only; "
                   f"everything is recorded as {md(who.name)}.")
    with st.sidebar:
        st.caption(f"Signed in as **{md(who.name)}** ({md(who.role)})")
        if who.method != "none" and st.button("Sign out", key="sign_out"):
            if who.method == "oidc":
                st.logout()
            AccountStore(lake.triage_path, settings()).sign_out(session_token())
            st.session_state.pop(_KEY, None)
            st.rerun()
    return who


def identity() -> Identity:
    """The identity :func:`require` found in this script run."""
    return st.session_state[_KEY]
