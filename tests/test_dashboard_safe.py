"""Untrusted text stays text: the escaping helper, and a check that every view uses it.

The check reads the views' source (``ast``): every Streamlit call that renders Markdown
(``st.markdown``, captions, titles, alerts, widget labels and help) may only be given
text built from constants, numbers formatted with a format spec, and values passed
through :func:`rallypoint.dashboard.safe.md` / :func:`~rallypoint.dashboard.safe.html`
(or the few builders that use them); ``st.html``, which has no Markdown step, only values
passed through :func:`~rallypoint.dashboard.safe.html`, and in an attribute (``href="..."``)
only addresses passed through :func:`~rallypoint.dashboard.safe.attr`. A data field put straight
into such a call fails the test with its file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polars as pl
import pytest

import rallypoint.dashboard
from rallypoint.dashboard import navigation
from rallypoint.dashboard.highlight import highlight
from rallypoint.dashboard.safe import attr, html, html_expr, html_file, md, text_expr

DASHBOARD = Path(rallypoint.dashboard.__file__).parent
#: Payloads an account under investigation could write into a post, a name or an id.
PAYLOADS = [
    "![px](http://198.51.100.7/px.png)",
    "[Click to re-login](https://evil.example/login)",
    "**bold** _it_ ~~strike~~ `code`",
    "# Heading\n\n## Second\n- item\n1. first\n> quote\n---",
    "<img src=http://198.51.100.7/x.png onerror=alert(1)><script>alert(1)</script>",
    "<a href=\"javascript:alert(1)\">x</a> javascript:alert(1)",
    ":red[alarm] :material/warning: :smile: :+1: :color[x]{foreground=red}",
    "$x^2$ $$y$$ | a | b |\n|---|---|",
    "www.evil.example http://evil.example/path &amp; &#60;b&#62;",
    "line one\nline two\r\n\n\n    indented code",
]

#: Streamlit calls whose text (first argument or these keywords) is rendered as Markdown.
MARKDOWN_CALLS = {
    "markdown", "write", "caption", "title", "header", "subheader", "info", "warning", "error", "success",
    "toast", "expander", "metric", "button", "download_button", "link_button", "checkbox", "toggle", "radio",
    "selectbox", "multiselect", "text_input", "text_area", "number_input", "slider", "date_input",
    "form_submit_button", "popover", "page_link", "tabs",
}
#: Calls whose first argument is not text (page_link's is the page; its label is a keyword).
FIRST_ARG_NOT_TEXT = {"page_link"}
TEXT_KEYWORDS = {"label", "body", "help"}
#: Functions that return escaped text or HTML built only from escaped values and numbers.
SAFE_FUNCTIONS = {"md", "html", "highlight", "status_badge", "_score_bars", "signed_in_banner"}
#: ``st.html`` shows its body as HTML with no Markdown step, so only HTML escaping makes data safe there
#: (``highlight`` escapes through ``html`` and adds only ``<mark>`` tags).
HTML_SAFE_FUNCTIONS = {"html", "status_badge", "highlight"}
#: The views' own functions that build HTML for ``st.html``: each of their ``return`` values is checked as
#: ``st.html``'s body is, and a call to them then counts as escaped.
HTML_BUILDERS = {"_card"}
#: A constant that ends where an attribute's quoted value starts (``href="``).
ATTRIBUTE_START = re.compile(r"""=\s*["']$""")


def _safe(node: ast.AST, functions: set[str] = SAFE_FUNCTIONS) -> bool:
    """Whether ``node`` can only produce escaped or constant text (see the module docstring)."""
    match node:
        case ast.Constant():
            return True
        case ast.JoinedStr(values=values):
            return all(_safe_part(v, functions, _opens_attribute(before))
                       for before, v in zip([None, *values[:-1]], values, strict=True))
        case ast.Call(func=ast.Name(id=name)) if name in functions:
            return True
        case ast.Call(func=ast.Attribute(attr="join", value=ast.Constant()), args=[arg]):
            return isinstance(arg, ast.GeneratorExp | ast.ListComp) and _safe(arg.elt, functions) or (
                isinstance(arg, ast.List | ast.Tuple) and all(_safe(e, functions) for e in arg.elts))
        case ast.BinOp(op=ast.Add(), left=left, right=right):
            return _safe(left, functions) and _safe(right, functions)
        case ast.IfExp(body=body, orelse=orelse):
            return _safe(body, functions) and _safe(orelse, functions)
        case ast.BoolOp(values=values):
            return all(_safe(v, functions) for v in values)
        case ast.List(elts=elts) | ast.Tuple(elts=elts):
            return all(_safe(e, functions) for e in elts)
        case ast.Call(func=ast.Name(id="list"), args=[ast.Name(id=name)]) if name.isupper():
            return True  # a module constant (e.g. the tab names)
        case ast.Name(id=name) | ast.Subscript(value=ast.Name(id=name)) if name.isupper():
            return True
    return False


def _opens_attribute(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(ATTRIBUTE_START.search(node.value))


def _safe_part(part: ast.AST, functions: set[str], in_attribute: bool = False) -> bool:
    if isinstance(part, ast.Constant):
        return True
    assert isinstance(part, ast.FormattedValue)
    if part.format_spec is not None and part.conversion == -1:
        return True  # a number or a date with a format spec: a string there would raise
    if in_attribute:  # an address through attr (text escaping would change it), or a module constant
        return part.conversion == -1 and (isinstance(part.value, ast.Call) and isinstance(part.value.func, ast.Name)
                                          and part.value.func.id == "attr"
                                          or isinstance(part.value, ast.Name) and part.value.id.isupper())
    return part.conversion == -1 and _safe(part.value, functions)


def unsafe_markdown_calls(source: str, filename: str) -> list[str]:
    """``file:line: call`` for every Markdown-rendering call given text that is not provably escaped."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in MARKDOWN_CALLS):
            continue
        texts = [] if node.func.attr in FIRST_ARG_NOT_TEXT else node.args[:1]
        texts += [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS]
        found += [f"{filename}:{node.lineno}: {node.func.attr}({ast.unparse(t)[:80]})" for t in texts if not _safe(t)]
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "html":
            found += [f"{filename}:{node.lineno}: html({ast.unparse(t)[:80]})" for t in node.args[:1]
                      if not _safe(t, HTML_SAFE_FUNCTIONS | HTML_BUILDERS)]
        if isinstance(node, ast.FunctionDef) and node.name in HTML_BUILDERS:
            found += [f"{filename}:{r.lineno}: {node.name} returns {ast.unparse(r.value)[:80]}"
                      for r in ast.walk(node) if isinstance(r, ast.Return)
                      and (r.value is None or not _safe(r.value, HTML_SAFE_FUNCTIONS))]
    return found


def view_sources() -> list[Path]:
    """Every module that draws: the views, and the sign-in check that draws on every page."""
    return sorted((DASHBOARD / "views").glob("*.py")) + [DASHBOARD / "session.py"]


def test_every_view_renders_data_through_the_escaping_helper():
    assert len(view_sources()) >= 4
    problems = [p for f in view_sources() for p in unsafe_markdown_calls(f.read_text(), f.name)]
    assert not problems, "data rendered as Markdown:\n" + "\n".join(problems)


@pytest.mark.parametrize("line", [
    'st.markdown(f"Name: {row[\'account_name\']}")',
    'st.caption(f"by {analyst}")',
    'st.warning("No cluster " + wanted)',
    'st.title(cluster_id)',
    'st.page_link(page, label=f"Open account {account} →")',
    'st.selectbox(f"Cluster {name}", ids)',
    'st.markdown("".join(f"<b>{acc}</b>" for acc in accounts), unsafe_allow_html=True)',
    'st.html(f"<b>{row[\'cluster_id\']}</b>")',
    'st.html(f"<li>{md(reason)}</li>")',  # Markdown escaping is not HTML escaping
    'c1.checkbox("x", help=f"about {note}")',
    'st.markdown(f"{md(a) if a else b}")',
    'st.html(f\'<a href="{html(link)}">open</a>\')',  # text escaping in an address adds joiners to it
    'st.html(f"<b>{attr(name)}</b>")',  # attribute escaping in text reveals nothing
    'st.html(f"<p>{html_file(text)}</p>")',  # no word joiners: Streamlit rewrites shortcodes in st.html
])
def test_the_check_catches_a_data_field_rendered_as_markdown(line):
    assert unsafe_markdown_calls(line, "view.py"), line


@pytest.mark.parametrize("line", [
    'st.markdown(f"Score **{row[\'score\']:.2f}** · {md(row[\'cluster_id\'])}")',
    'st.caption(f"{shown.height:,} of {md(name)} · {t:%Y-%m-%d}")',
    'st.markdown("\\n".join(f"- {md(r)}" for r in reasons) or "_none_")',
    'st.markdown("Status: " + status_badge(s), unsafe_allow_html=True)',
    'st.html(f"<b>#{rank:d} · {html(cid)}</b>" + "".join(f"<li>{LABELS[c]}: {html(r)}</li>" for c, r in rs))',
    'st.html(f\'<a href="{attr(link)}" style="{CARD_STYLE}">{html(name)}</a>\')',
])
def test_the_check_accepts_escaped_text(line):
    assert not unsafe_markdown_calls(line, "view.py"), line


def test_the_check_follows_a_views_html_builder_into_what_it_returns():
    escaped = 'def _card(row):\n    return f"<article>{html(row[\'id\'])}</article>"\nst.html("".join(_card(r) for r in rows))'
    assert not unsafe_markdown_calls(escaped, "view.py")
    raw = escaped.replace("{html(row[\'id\'])}", "{row[\'id\']}")
    assert unsafe_markdown_calls(raw, "view.py") == ["view.py:2: _card returns f\"<article>{row['id']}</article>\""]


# --- the helper ------------------------------------------------------------------------
def _markdown_to_text(escaped: str) -> str:
    """What CommonMark shows for an escaped string: backslash escapes and hard breaks undone."""
    return re.sub(r"\\\n", "\n", re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", escaped)).replace("\u2060", "")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_md_escapes_every_markdown_construct_and_keeps_the_text(payload):
    escaped = md(payload)
    # every ASCII punctuation character is escaped, so none can open a construct
    bare = re.sub(r"\\[!-/:-@\[-`{-~]", "", escaped.replace("\\\n", "\n"))  # escapes and hard breaks removed
    assert not re.search(r"[!-/:-@\[-`{-~]", bare)
    assert "\n\n" not in escaped  # no blank line: no new block
    for code in re.findall(r":[\w+-]+:|https?://|www\.", payload):  # broken by an invisible word joiner
        assert code not in escaped.replace("\\", "")
    assert _markdown_to_text(escaped) == payload.replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_html_escapes_tags_and_keeps_newlines_inside_the_block(payload):
    escaped = html(payload)
    assert "<" not in escaped.replace("<br>", "") and ">" not in escaped.replace("<br>", "")
    assert "\n" not in escaped and "\r" not in escaped
    assert ":material/" not in escaped and ":smile:" not in escaped  # Streamlit rewrites these in HTML too


def test_autolinks_and_shortcodes_are_broken_by_invisible_joiners():
    shown = md("http://a.example www.b.example c@d.example :smile:").replace("\\", "")
    for literal in ("http://", "www.", "@d", ":smile:"):
        assert literal not in shown
    assert shown.replace("\u2060", "") == "http://a.example www.b.example c@d.example :smile:"
    assert md(None) == "" and html(None) == ""


def test_highlight_escapes_the_text_and_marks_matched_phrases():
    out = highlight("<script>Be there</script> on Jan 6\n\n# x", ["Be there", "<script>"])
    assert out.startswith("<mark>&lt;script&gt;</mark><mark>Be there</mark>") and "<br><br># x" in out


def test_html_expr_escapes_a_column_for_plotly_labels():
    frame = pl.DataFrame({"name": ['<a href="javascript:x">n</a>', None]})
    got = frame.select(html_expr("name"))[:, 0].to_list()
    assert got == ["&lt;a href=&quot;javascript:x&quot;&gt;n&lt;/a&gt;", ""]


def test_invisible_characters_from_the_data_are_shown_by_their_code_points():
    """A zero-width space splitting a word past a filter, a right-to-left override turning a name
    around: the analyst sees that they are there (tables still show values exactly)."""
    assert _markdown_to_text(md("ma\u200brch")) == "ma[U+200B]rch"
    assert html("\u202egpj.exe") == "[U+202E]gpj.exe"
    assert "\u200b" not in highlight("T@ke to the str\u200beets", ["str\u200beets"])
    assert "<mark>str[U+200B]eets</mark>" in highlight("T@ke to the str\u200beets", ["str\u200beets"])
    # plotly's labels and hover texts (a column at a time) show them alike
    assert pl.DataFrame({"name": ["ma\u200brch", "\u202egpj.exe"]}).select(html_expr("name"))[:, 0].to_list() == [
        "ma[U+200B]rch", "[U+202E]gpj.exe"]
    # and a drawing's plain-text labels alike, revealed but not escaped
    assert pl.DataFrame({"name": ["<b>\u200b</b>", None]}).select(text_expr("name"))[:, 0].to_list() == [
        "<b>[U+200B]</b>", ""]


def test_an_address_in_an_attribute_is_escaped_exactly():
    """A run id may hold ``www.`` (``[A-Za-z0-9._-]``): the word joiner html() puts into text there would
    make the queue card's link open another run."""
    link = navigation.address("cluster", run="www.run-1", cluster="c0001")
    assert attr(link) == "cluster?run=www.run-1&amp;cluster=c0001"
    assert "\u2060" in html(link)
    assert attr('"><script>') == "&quot;&gt;&lt;script&gt;" and attr(None) == ""


@pytest.mark.parametrize("payload", [*PAYLOADS, "\u202egpj.exe ma\u200brch"])
def test_an_html_file_gets_the_apps_html_without_its_joiners(payload):
    """The case pack is read by no Streamlit: escaped and revealed alike, a URL in it left as it is."""
    assert html_file(payload) == html(payload).replace("\u2060", "")
    assert "\u2060" not in html_file(payload) and "\u200b" not in html_file(payload)
