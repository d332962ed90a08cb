"""Mark the phrases a lexicon matched inside an evidence text, safely as HTML.

The text is HTML-escaped first by :func:`rallypoint.dashboard.safe.html` (posts are untrusted input), then every occurrence of
a matched phrase, case-insensitively and longest phrase first so that overlapping
phrases mark the longer one, is wrapped in ``<mark>``.
"""

from __future__ import annotations

import re

from rallypoint.dashboard.safe import html


def highlight(text: str | None, phrases: list[str] | None) -> str:
    """``text`` as HTML with each of ``phrases`` wrapped in ``<mark>``."""
    escaped = html(text)
    wanted = sorted({html(p) for p in phrases or [] if p and p.strip()}, key=len, reverse=True)
    if not wanted:
        return escaped
    pattern = re.compile("|".join(re.escape(p) for p in wanted), re.IGNORECASE)
    return pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped)
