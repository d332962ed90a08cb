"""Untrusted text stays text: the one place values from data, URLs or users are escaped.

Everything the dashboard shows was written by the accounts under investigation (post
texts, names, ids), by whoever crafted a link (``?cluster=``, ``?account=``) or by a
colleague (notes, comments). Streamlit renders ``st.markdown``, captions, titles, alerts
and widget labels as Markdown, with Streamlit's own extensions (``:red[...]`` colours,
Material-icon and emoji shortcodes, ``$math$``), and GitHub's autolinks; so a
``![](http://host/px.png)`` in a handle would make the analyst's browser call that host.

Two escapes, for the two places a value can land:

- :func:`md` for Markdown (titles, captions, alerts, labels, ``st.markdown``): every ASCII
  punctuation character is backslash-escaped (CommonMark lets any of them be, and an
  escaped character is always literal text: no link, image, emphasis, heading, list,
  table, HTML tag, entity, directive or math), newlines become hard line breaks (no new
  block can start), and every ``:`` or ``@`` followed by a letter, digit, sign or ``/``, and
  the ``www`` of ``www.``, are followed by a word joiner (U+2060, invisible), because emoji shortcodes and GitHub's autolinks
  (``http://...``, ``www.``, e-mail addresses) are found in the text *after* parsing, where
  an escape no longer counts. Prose ("note: ...") keeps its colons as they are; a URL, a
  time or an address copied from the page carries the joiners, and the tables
  (``st.dataframe``) show values exactly.
- :func:`html` for the HTML the app builds itself (the evidence list, badges, the queue's
  cards, drawn with ``st.html``): HTML
  escaping, newlines as ``<br>`` so a blank line cannot end the HTML block and drop back
  into Markdown, and the same word joiners (Streamlit rewrites Material-icon shortcodes in
  the whole source before parsing, HTML included). :func:`html_expr` HTML-escapes a whole
  column, for plotly's labels (which take a subset of HTML, links included).

And for HTML no Streamlit reads, for an address in an attribute, and for plain text:

- :func:`html_file` for an HTML file the app writes (the case pack): :func:`html` without the
  word joiners, which only Streamlit's rewriting needs, so a URL copied out of the file is the
  URL in the data.
- :func:`attr` for an attribute value the app built itself (a link's address, whose values from
  the data :mod:`rallypoint.dashboard.navigation` percent-encodes): HTML-escaped and nothing
  else, since a joiner or a revealed code point would change the address.
- :func:`text_expr`, a column as shown, revealed but not escaped: for the network picture's
  labels (matplotlib draws plain text) and for measuring a label at the length it is drawn.

All but :func:`attr` *reveal* the invisible characters a value carries (Unicode category Cf:
zero-width spaces and joiners, soft hyphens, the right-to-left override that shows ``gpj.exe`` as
``exe.jpg``): each is shown as its code point, ``[U+200B]``, because accounts use them to split a
word past a filter or to make a handle look like another, and an analyst must see that they are
there. The tables (``st.dataframe``) show values exactly, invisible characters included.

Views never put a data value into Markdown or HTML except through :func:`md` and :func:`html`
(and an address into an attribute through :func:`attr`), and ``tests/test_dashboard_safe.py``
reads the views' source to hold them to it. The app draws no link taken from data (a post's
URLs are shown as text).

Complexity: one regular-expression pass over the value, ``O(len(value))``.
"""

from __future__ import annotations

import html as _html
import re
import string

import polars as pl

from rallypoint.detectors.mobilization.patterns import INVISIBLE

__all__ = ["attr", "html", "html_expr", "html_file", "md", "text_expr"]

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
#: Where text-level rewriting (done after parsing, where escapes no longer count) could still
#: start: a shortcode or URL scheme at a colon, an e-mail autolink at an ``@``, a ``www.`` autolink.
_BREAK_AFTER = re.compile(r"(?<=[:@])(?=[\w+\-/])|(?<=www)(?=\.)", re.IGNORECASE)
_NEWLINES = re.compile(r"\r\n?|\n")
_WORD_JOINER = "\u2060"
#: HTML's special characters, in the order they must be replaced (``&`` first).
_HTML_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;"))


#: Each invisible character (Unicode Cf) -> its code point, shown; the word joiners this module
#: adds itself come after.
_REVEAL = {ord(ch): f"[U+{ord(ch):04X}]" for ch in INVISIBLE}


def _as_text(value: object) -> str:
    return "" if value is None else str(value).translate(_REVEAL)


def md(value: object) -> str:
    """``value`` as Markdown that shows exactly its text (see the module docstring)."""
    escaped = _PUNCTUATION.sub(r"\\\1", _BREAK_AFTER.sub(_WORD_JOINER, _as_text(value)))
    # a hard break (backslash at the end of a line) keeps every line inside the same paragraph
    return _NEWLINES.sub("\\\\\n", escaped)


def html(value: object) -> str:
    """``value`` as HTML text (escaped, newlines as ``<br>``, the same word joiners as :func:`md`)."""
    # Streamlit rewrites Material-icon shortcodes in the whole source, HTML included
    return _html_text(_BREAK_AFTER.sub(_WORD_JOINER, _as_text(value)))


def html_file(value: object) -> str:
    """``value`` as text in an HTML file the app writes: :func:`html` without the word joiners."""
    return _html_text(_as_text(value))


def _html_text(text: str) -> str:
    return _NEWLINES.sub("<br>", _html.escape(text, quote=True))


def attr(value: object) -> str:
    """``value``, an address the app built, as an HTML attribute value: escaped exactly, nothing added."""
    return _html.escape("" if value is None else str(value), quote=True)


def text_expr(column: str | pl.Expr) -> pl.Expr:
    """A string column as the dashboard shows it, unescaped: its invisible characters revealed as
    :func:`html` reveals them, as a polars expression (a drawing's labels, measured as they are drawn)."""
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.cast(pl.String).fill_null("").str.replace_many([chr(c) for c in _REVEAL], list(_REVEAL.values()))


def html_expr(column: str | pl.Expr) -> pl.Expr:
    """A string column HTML-escaped, its invisible characters shown as :func:`html` shows them, as a
    polars expression (plotly's hover and node labels are HTML)."""
    expr = text_expr(column)
    for char, entity in _HTML_ENTITIES:
        expr = expr.str.replace_all(char, entity, literal=True)
    return expr

