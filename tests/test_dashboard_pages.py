"""The dashboard's pages: listed once in navigation.PAGES, each a script in views/ that draws only as a page."""

from __future__ import annotations

import ast
from pathlib import Path

import rallypoint.dashboard
from rallypoint.dashboard.navigation import PAGES, page

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
