"""The app's pages, registered by ``app.py`` each run, so a page can link to another."""

from __future__ import annotations

from typing import Any

PAGES: dict[str, Any] = {}


def page(name: str) -> Any:
    """The ``st.Page`` registered as ``name`` (``queue``, ``cluster``, ``account``, ``search``, ...)."""
    return PAGES[name]
