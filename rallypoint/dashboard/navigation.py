"""The app's pages: each one a script in ``views/`` that ``st.navigation`` runs, listed once here.

``app.py`` hands :data:`PAGES` to ``st.navigation``; a page links to another with
``st.page_link(page("cluster"), ...)``, the script's path (Streamlit finds a registered page
by it), inside its own HTML with :func:`address`, or in a table's link column with
:func:`address_expr` (one address per row, built by polars). Each ``views/*_page.py`` draws only when
Streamlit runs it as a page (``__name__ == "__main__"``), so its helpers can be imported without
drawing.
"""

from __future__ import annotations

import string
from typing import NamedTuple
from urllib.parse import quote, urlencode

import polars as pl


class PageSpec(NamedTuple):
    """One page: its script (relative to ``app.py``), title and URL path."""

    script: str
    title: str
    url_path: str


#: name -> page; the first is the default page (the app's root URL).
PAGES: dict[str, PageSpec] = {
    "queue": PageSpec("views/queue_page.py", "Triage queue", "queue"),
    "cluster": PageSpec("views/cluster_page.py", "Cluster", "cluster"),
    "account": PageSpec("views/account_page.py", "Account", "account"),
    "search": PageSpec("views/search_page.py", "Search", "search"),
    "places": PageSpec("views/places_page.py", "Places and dates", "places"),
    "health": PageSpec("views/health_page.py", "Data health", "health"),
    "alerts": PageSpec("views/alerts_page.py", "Alerts", "alerts"),
    "team": PageSpec("views/team_page.py", "Team and audit log", "team"),
}


def page(name: str) -> str:
    """The script of the page called ``name``, as ``st.page_link`` and ``st.switch_page`` take it."""
    return PAGES[name].script


def address(name: str, **query: str) -> str:
    """The page called ``name`` as a link's address, relative to the app's root (so it holds behind
    a proxy's path prefix), its query encoded: for links drawn inside HTML, where ``st.page_link``
    cannot go. Following one loads the page anew (a new session), as opening it in a new tab does."""
    return f"{PAGES[name].url_path}?{urlencode(query)}" if query else PAGES[name].url_path


#: The ASCII characters a query value must not carry raw: all but letters, digits and ``-._~``
#: (RFC 3986's unreserved), ``%`` first so the escapes made after it are not escaped again.
_UNRESERVED = set(string.ascii_letters + string.digits + "-._~")
_ESCAPED = "%" + "".join(chr(c) for c in range(128) if chr(c) not in _UNRESERVED | {"%"})


def quote_expr(values: pl.Expr) -> pl.Expr:
    """A string column percent-encoded as a URL's query value, as a polars expression: every ASCII
    character but letters, digits and ``-._~`` escaped, as :func:`urllib.parse.quote` with ``safe=""``
    does them (other characters stay; the browser encodes them as UTF-8). One literal replacement per
    escaped character (62), each a pass over the column: ``O(62 · n)`` for ``n`` characters."""
    for char in _ESCAPED:
        values = values.str.replace_all(char, quote(char, safe=""), literal=True)
    return values


def address_expr(name: str, **query: str | pl.Expr) -> pl.Expr:
    """:func:`address` for every row: the page called ``name`` with ``query``, each value a string
    or a string expression (an id column), encoded. For ``st.column_config.LinkColumn``: the address
    is the app's own page; a value from the data is only ever an encoded query value in it."""
    parts: list[pl.Expr] = []
    for i, (key, value) in enumerate(query.items()):
        encoded = quote_expr(pl.lit(value) if isinstance(value, str) else value.cast(pl.String))
        parts += [pl.lit(("?" if i == 0 else "&") + quote(key, safe="") + "="), encoded]
    return pl.concat_str([pl.lit(PAGES[name].url_path), *parts])


def st_pages() -> list:
    """:data:`PAGES` as ``st.Page`` objects for ``st.navigation`` (inside a Streamlit run)."""
    import streamlit as st

    return [st.Page(spec.script, title=spec.title, url_path=spec.url_path, default=i == 0)
            for i, spec in enumerate(PAGES.values())]


__all__ = ["PAGES", "PageSpec", "address", "address_expr", "page", "quote_expr", "st_pages"]
