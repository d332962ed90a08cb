"""The dashboard's pages: listed once in navigation.PAGES, each a script in views/ that draws only as a page."""

from __future__ import annotations

import ast
from pathlib import Path
from urllib.parse import parse_qs

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

import rallypoint.dashboard
from rallypoint.dashboard.navigation import PAGES, address, address_expr, page

DASHBOARD = Path(rallypoint.dashboard.__file__).parent


def test_every_page_script_is_listed_once_and_every_listed_script_exists():
    scripts = {spec.script for spec in PAGES.values()}
    on_disk = {f"views/{f.name}" for f in (DASHBOARD / "views").glob("*_page.py")}
    assert scripts == on_disk
    assert len({spec.url_path for spec in PAGES.values()}) == len(PAGES)
    assert page("cluster") == "views/cluster_page.py"


def test_a_page_draws_only_when_streamlit_runs_it():
    for spec in PAGES.values():
        tree = ast.parse((DASHBOARD / spec.script).read_text())
        last = tree.body[-1]
        assert isinstance(last, ast.If) and ast.unparse(last.test) == "__name__ == '__main__'", spec.script
        calls = [n for n in tree.body if isinstance(n, ast.Expr)]
        assert calls == [] or all(isinstance(c.value, ast.Constant) for c in calls), spec.script  # docstring only


def test_no_pages_directory_beside_the_app():
    # Streamlit would run a pages/ folder's scripts itself (its first multipage layout), past app.py's sign-in
    assert not (DASHBOARD / "pages").exists()
    assert not (DASHBOARD / "screens").exists()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=5), st.text())
def test_a_page_address_built_by_polars_opens_the_same_ids_as_address(ids, run):
    """Any id (hostile characters, spaces, ``&``, ``#``, ``%``, newlines, accents) comes back exactly from the
    address :func:`address_expr` builds, as from the one :func:`address` builds."""
    ids = [i.replace("\x00", "") for i in ids]  # the lake's ids are text; NUL cannot be a query value
    built = pl.DataFrame({"account_id": ids}).select(
        address_expr("account", run=run.replace("\x00", ""), account=pl.col("account_id")))[:, 0].to_list()
    for account, made in zip(ids, built, strict=True):
        path, query = made.split("?", 1)
        assert path == PAGES["account"].url_path and "#" not in made and " " not in made
        assert parse_qs(query, keep_blank_values=True, strict_parsing=False) == parse_qs(
            address("account", run=run.replace("\x00", ""), account=account).split("?", 1)[1], keep_blank_values=True)
        assert parse_qs(query, keep_blank_values=True).get("account", [""]) == [account] or account == ""
