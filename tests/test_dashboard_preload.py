"""The page's HTML preloads the script chunks of the widgets its first view draws (preload.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from rallypoint.dashboard.preload import PAGE_WIDGETS, PreloadChunks, _static_dir, chunk_links, preload_html


def test_the_queue_widgets_chunks_are_found_in_streamlits_bundle_and_exist():
    static = _static_dir()
    links = chunk_links(static, PAGE_WIDGETS["queue"])
    assert links, "the bundle's layout was not recognised: the queue would load its chunks one batch at a time"
    assert links[0].startswith("Html.")  # the cards' component first
    index = (static / "index.html").read_text()
    for name in links:
        assert (static / "static" / "js" / name).is_file()
        assert f"/{name}" not in index  # only what the page does not already preload
    assert len(set(links)) == len(links)
    names = {name.split(".")[0] for name in links}
    assert {"Selectbox", "Slider", "DateInput", "Multiselect", "NumberInput", "moment"} <= names


def test_an_unknown_bundle_layout_adds_nothing(tmp_path: Path):
    (tmp_path / "static" / "js").mkdir(parents=True)
    (tmp_path / "index.html").write_text('<html><head><script type="module" crossorigin '
                                         'src="./static/js/index.x.js"></script></head></html>')
    (tmp_path / "static" / "js" / "index.x.js").write_text("console.log(1)")
    page = (tmp_path / "index.html").read_bytes()
    assert chunk_links(tmp_path, ("Html",)) == ()
    assert preload_html(page, ("Html",), tmp_path) == page


def _get(path: str) -> tuple[int, dict[str, str], bytes]:
    """``GET path`` through the middleware in front of a small app serving Streamlit's page."""
    page = (_static_dir() / "index.html").read_bytes()

    async def index(_request):
        return HTMLResponse(page, headers={"etag": '"abc"'})

    async def text(_request):
        return PlainTextResponse("</head>")

    app = PreloadChunks(Starlette(routes=[Route("/", index), Route("/cluster", index), Route("/notes.txt", text)]))
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [], "scheme": "http", "server": ("127.0.0.1", 80), "root_path": "", "http_version": "1.1"}
    asyncio.run(app(scope, receive, send))
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def test_the_middleware_rewrites_only_the_queues_html_page():
    first = chunk_links(_static_dir(), PAGE_WIDGETS["queue"])[0]
    status, headers, body = _get("/")
    assert status == 200
    assert f'<link rel="modulepreload" crossorigin href="./static/js/{first}">'.encode() in body
    assert int(headers["content-length"]) == len(body)
    assert "etag" not in headers  # the body is no longer the file's
    _, headers, body = _get("/cluster")  # no list for that page: served as Streamlit wrote it
    assert first.encode() not in body and headers["etag"] == '"abc"'
    assert _get("/notes.txt")[2] == b"</head>"
