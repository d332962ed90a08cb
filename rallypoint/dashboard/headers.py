"""Security headers on every response of the dashboard's server.

A Content-Security-Policy tells the browser to load scripts, styles, images, fonts,
frames and connections from the dashboard's own origin only, so even a data field that
escaped :mod:`rallypoint.dashboard.safe` cannot make the analyst's browser call out
(a tracking pixel in a post, a script in a name). ``'unsafe-inline'`` styles are needed
by Streamlit's styling library and ``'unsafe-eval'`` by its bundled chart code; neither
lets anything load from elsewhere. No other site is sent the referrer (the app keeps it, so
its own sign-in form carries its Origin), the app cannot be framed
by another site, and MIME types are not sniffed.

The headers are added by an ASGI middleware (:class:`SecurityHeaders`) in front of
Streamlit's own server (``st.App``, see :mod:`rallypoint.dashboard.server`).
"""

from __future__ import annotations

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "SecurityHeaders"]

#: Everything from the dashboard's origin (``'self'``, which covers its own WebSocket), nothing else.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "media-src 'self' data: blob:",
    "frame-src 'self' blob: data:",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Cross-Origin-Opener-Policy": "same-origin",
}

_ENCODED = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every HTTP response (replacing any the app set)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in _ENCODED}
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = message | {"headers": headers + _ENCODED}
            await send(message)

        await self.app(scope, receive, send_with_headers)
