"""Preload the scripts of the widgets a page draws, from the page's first response.

Streamlit's page (``index.html``) preloads only its core bundle. The code of each widget
(a select box, a slider, a date input, an HTML block...) is a separate script chunk that the
browser requests only once the first element of that type arrives over the WebSocket, and a
browser fetches at most six at a time from one HTTP/1.1 server: on a fresh browser the queue's
cards waited for about fifty chunks requested one batch after another, after the first
elements had already arrived. This module adds a ``<link rel="modulepreload">`` for each chunk
the page's widgets need (and the chunks those import), so they load while the core bundle
starts and the WebSocket connects.

The chunk names carry a content hash that changes with every Streamlit release, so they are
found when the server starts: the core bundle (named in ``index.html``) holds the list of
chunk files and, for each widget, the lazy import of its file with the indices of the chunks
it depends on (the bundler's ``__vite__mapDeps``). When that layout is not found (another
release, another bundler), nothing is added and the page loads as Streamlit serves it.

:class:`PreloadChunks` is the ASGI middleware that rewrites the page's HTML; it touches no
other response. Complexity: one parse of the bundle (about 0.5 MB) per process; a page
response is rewritten in time linear in its size.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from rallypoint.dashboard.navigation import PAGES

__all__ = ["PAGE_WIDGETS", "PreloadChunks", "chunk_links", "preload_html"]

#: The Streamlit front-end components each page draws on its first view, by page name
#: (:data:`rallypoint.dashboard.navigation.PAGES`); the names are those of the chunk files.
PAGE_WIDGETS: dict[str, tuple[str, ...]] = {
    "queue": ("Html", "Selectbox", "Radio", "Slider", "Checkbox", "DateInput", "TextInput", "Multiselect",
              "Metric", "NumberInput"),
}

_ENTRY = re.compile(r'<script type="module" crossorigin src="\./static/js/([^"]+\.js)"></script>')
_PRELOADED = re.compile(r'<link rel="modulepreload" crossorigin href="\./static/js/([^"]+\.js)">')
_FILES = re.compile(r"m\.f=\[([^\]]*)\]")
_LAZY = re.compile(r"import\(`\./(([A-Za-z0-9_]+)\.[A-Za-z0-9_-]+\.js)`\),__vite__mapDeps\(\[([0-9,]*)\]\)")


def _static_dir() -> Path:
    import streamlit

    return Path(streamlit.__file__).parent / "static"


@functools.cache
def chunk_links(static_dir: Path, widgets: tuple[str, ...]) -> tuple[str, ...]:
    """The chunk files (under ``static/js/``) that ``widgets`` load, in the order of ``widgets``,
    without those ``index.html`` preloads already; empty when the bundle's layout is not found."""
    try:
        index = (static_dir / "index.html").read_text(encoding="utf-8")
        entry = _ENTRY.search(index)
        bundle = (static_dir / "static" / "js" / entry.group(1)).read_text(encoding="utf-8") if entry else ""
    except OSError:
        return ()
    files_match = _FILES.search(bundle)
    if not files_match:
        return ()
    files = [f.strip().strip('"').removeprefix("./") for f in files_match.group(1).split(",")]
    deps = {name: (own, [int(i) for i in indices.split(",") if i])
            for own, name, indices in _LAZY.findall(bundle)}
    seen = set(_PRELOADED.findall(index)) | {entry.group(1)}
    links: list[str] = []
    for widget in widgets:
        if widget not in deps:
            continue
        own, indices = deps[widget]
        for name in [own, *(files[i] for i in indices if i < len(files))]:
            if name not in seen:
                seen.add(name)
                links.append(name)
    return tuple(links)


def preload_html(page: bytes, widgets: tuple[str, ...], static_dir: Path | None = None) -> bytes:
    """``page`` (Streamlit's ``index.html``) with a ``modulepreload`` link for each chunk of ``widgets``."""
    links = chunk_links(static_dir or _static_dir(), widgets)
    if not links or b"</head>" not in page:
        return page
    tags = "".join(f'<link rel="modulepreload" crossorigin href="./static/js/{name}">' for name in links)
    return page.replace(b"</head>", tags.encode("utf-8") + b"</head>", 1)


#: URL path (without its slashes) -> the widgets of that page's first view; "" is the default page.
_BY_PATH = {path: PAGE_WIDGETS[name] for i, (name, spec) in enumerate(PAGES.items()) if name in PAGE_WIDGETS
            for path in ((spec.url_path, "") if i == 0 else (spec.url_path,))}


class PreloadChunks:
    """ASGI middleware: the HTML page of each path in :data:`PAGE_WIDGETS` gets its chunks preloaded.

    Only a ``GET`` answered with uncompressed ``text/html`` is rewritten (its length fixed, its
    validators dropped, since the body is no longer the file's); everything else passes through.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        widgets = _BY_PATH.get(scope.get("path", "").strip("/")) if scope["type"] == "http" else None
        if widgets is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        start: dict | None = None
        body: list[bytes] = []

        async def rewrite(message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in headers:
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                page = preload_html(b"".join(body), widgets)
                kept = [(k, v) for k, v in start.get("headers", [])
                        if k.lower() not in (b"content-length", b"etag", b"last-modified")]
                await send(start | {"headers": [*kept, (b"content-length", str(len(page)).encode())]})
                message = {"type": "http.response.body", "body": page, "more_body": False}
            await send(message)

        await self.app(scope, receive, rewrite)
