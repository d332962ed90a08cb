"""The dashboard's ASGI app: Streamlit's own server (``st.App``) behind sign-in and security headers.

``rallypoint dashboard`` runs ``streamlit run`` on this file; Streamlit finds the ``app``
below and serves ``app.py`` through it. In front of every route:

- :class:`~rallypoint.dashboard.headers.SecurityHeaders` (Content-Security-Policy and friends);
- :class:`SignInGate` (``password`` mode): without a valid session cookie a page request is
  sent to ``/signin``, and the app's WebSocket, media, components and uploads are refused,
  so nothing of the lake reaches a browser that has not signed in. Streamlit's static
  scripts and its health check stay open (they hold no data).

``/signin`` is a plain HTML form (no script) posting back to itself: it checks the
request comes from this origin, signs in through :class:`~rallypoint.dashboard.accounts.AccountStore`
(rate-limited, Argon2) and sets the session cookie (HttpOnly, SameSite=Lax, Secure when
served over HTTPS). ``/signout`` ends the session and clears the cookie.

Once the server runs, :mod:`rallypoint.dashboard.warm` prepares the first pages in a background
thread (imports, the newest run's tables, its largest networks); sign-in never waits for it.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from rallypoint.dashboard import warm
from rallypoint.dashboard.accounts import AccountStore, SignInRefused
from rallypoint.dashboard.env import LAKE_ENV
from rallypoint.dashboard.headers import SecurityHeaders
from rallypoint.dashboard.safe import attr, html
from rallypoint.dashboard.session import COOKIE, settings

__all__ = ["SignInGate", "app"]

#: Paths served without a session: the sign-in page and what Streamlit's page needs before it connects.
OPEN_PREFIXES = ("/signin", "/signout", "/static/", "/_stcore/health", "/_stcore/host-config", "/favicon.png",
                 "/manifest.json")
#: Longest accepted sign-in form body (a name and a password).
MAX_FORM_BYTES = 4096


def _store() -> AccountStore:
    return AccountStore(Path(os.environ[LAKE_ENV]) / "triage.sqlite", settings())


def _cookie(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar = SimpleCookie()
            jar.load(value.decode("latin-1"))
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


def _local_next(target: str | None) -> str:
    """Where to go after signing in: a path on this server only (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class SignInGate:
    """ASGI middleware: only a browser with a valid session reaches the app (``password`` mode)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket") or settings().mode != "password" \
                or scope["path"].startswith(OPEN_PREFIXES) or _store().identity(_cookie(scope)) is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # the connect message; closing before accepting refuses the handshake
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["method"] == "GET" and not scope["path"].startswith(("/_stcore/", "/media/", "/component/")):
            target = scope["path"] + (f"?{scope['query_string'].decode('latin-1')}" if scope["query_string"] else "")
            response: Response = RedirectResponse(f"/signin?{urlencode({'next': target})}", status_code=303)
        else:
            response = Response("Sign in first.", status_code=401, media_type="text/plain")
        await response(scope, receive, send)


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>rallypoint — sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;background:#f6f6f6;margin:0}}
main{{max-width:360px;margin:12vh auto;background:#fff;padding:28px 32px;border-radius:10px;
box-shadow:0 1px 4px rgba(0,0,0,.15)}}h1{{font-size:1.4em;margin:0 0 6px}}p{{color:#444}}
label{{display:block;margin:14px 0 4px;font-weight:600}}input{{width:100%;box-sizing:border-box;padding:8px;
font-size:1em;border:1px solid #999;border-radius:6px}}button{{margin-top:18px;width:100%;padding:10px;
font-size:1em;background:#0072B2;color:#fff;border:0;border-radius:6px}}
.error{{background:#fdecea;color:#8a1c12;padding:8px 10px;border-radius:6px}}</style></head>
<body><main><h1>rallypoint</h1><p>Sign in to the triage dashboard.</p>{message}
<form method="post" action="/signin"><input type="hidden" name="next" value="{next}">
<label for="name">Name</label><input id="name" name="name" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></main></body></html>"""


def _page(message: str = "", next_path: str = "/", status: int = 200) -> HTMLResponse:
    shown = f'<p class="error" role="alert">{html(message)}</p>' if message else ""
    return HTMLResponse(_PAGE.format(message=shown, next=attr(_local_next(next_path))), status_code=status,
                        headers={"Cache-Control": "no-store"})


def _same_origin(request: Request) -> bool:
    """A form post from this server's own page (login CSRF): its Origin, else Referer, names this host."""
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    return bool(source) and urlsplit(source).netloc == request.headers.get("host")


async def signin(request: Request) -> Response:
    if request.method == "GET":
        return _page(next_path=request.query_params.get("next", "/"))
    body = await request.body()
    if len(body) > MAX_FORM_BYTES or not _same_origin(request):
        return _page("This sign-in did not come from this dashboard's own page.", status=403)
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    next_path = _local_next(form.get("next"))
    address = request.client.host if request.client else "unknown"
    try:
        token = _store().sign_in(form.get("name", "").strip(), form.get("password", ""), address)
    except SignInRefused as exc:
        status = 429 if "Too many" in str(exc) else 401
        return _page(str(exc), next_path, status)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")
    return response


async def signout(request: Request) -> Response:
    _store().sign_out(request.cookies.get(COOKIE))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@asynccontextmanager
async def _lifespan(_app):
    """Once Streamlit's runtime (and its caches) runs: warm the dashboard in the background (``warm.py``)."""
    warm.start(os.environ[LAKE_ENV])
    yield


app = st.App(
    str(Path(__file__).with_name("app.py")),
    lifespan=_lifespan,
    routes=[Route("/signin", signin, methods=["GET", "POST"]), Route("/signout", signout, methods=["GET", "POST"])],
    middleware=[Middleware(SecurityHeaders), Middleware(SignInGate)],
)
