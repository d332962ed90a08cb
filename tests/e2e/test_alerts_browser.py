"""The Alerts page in a real browser: alerts from `rallypoint watch`, acknowledged by an analyst."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from test_dashboard_browser import (  # noqa: F401 (fixtures)
    ANALYST,
    add_users,
    browser,
    dashboard_server,
    page,
    settle,
    shot,
    sign_in,
)

from rallypoint.dashboard.triage import TriageStore
from rallypoint.lake import Lake
from rallypoint.watch.sinks import read_alerts
from rallypoint.watch.watcher import Watcher

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def watched_lake(tmp_path_factory):
    """A small world watched as its data arrived: four daily runs, their tracks and alerts."""
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.simulate import simulate_world

    root = tmp_path_factory.mktemp("watched")
    simulate_world(root / "data", accounts=1500, days=14, seed=11)
    ingest_sources(sorted((root / "data").glob("interactions-*")), root / "lake", show_progress=False)
    watcher = Watcher(root / "lake")
    for day in range(4):
        watcher.cycle(as_of=datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=day))
    return root / "lake"


def test_alerts_page_lists_alerts_and_an_analyst_acknowledges_one(page, watched_lake):  # noqa: F811
    alerts = read_alerts(Lake(watched_lake))
    assert alerts.height >= 3
    add_users(watched_lake, {ANALYST: "analyst"})
    with dashboard_server(watched_lake) as (url, _):
        sign_in(page, url, then="/alerts")
        page.get_by_role("heading", name="Alerts").first.wait_for()
        metrics = page.locator('[data-testid="stMetricValue"]')
        assert metrics.nth(0).inner_text().strip() == str(alerts.height)  # all open
        assert metrics.nth(1).inner_text().strip() == "0"
        shot(page, "06-alerts")

        page.get_by_text("Escalate", exact=True).click()
        assert page.get_by_label("Your name").count() == 0  # recorded as the signed-in analyst
        page.get_by_label("Note: what you did or concluded (required)").fill("Sent to the platform's threat team.")
        page.get_by_role("button", name="Acknowledge").click()
        settle(page)
        page.get_by_text(re.compile(rf"Acknowledged: escalated by {ANALYST}")).wait_for()
        open_after = int(page.locator('[data-testid="stMetricValue"]').nth(0).inner_text().strip())
        assert open_after < alerts.height
        assert int(page.locator('[data-testid="stMetricValue"]').nth(1).inner_text()) == alerts.height - open_after
        shot(page, "06b-alerts-after-acknowledgement")

        decision = TriageStore(Lake(watched_lake).triage_path).decisions().row(-1, named=True)
        assert decision["status"] == "escalated" and decision["analyst"] == ANALYST

        page.get_by_role("link", name=re.compile(r"^Open cluster .* →$")).first.click()
        settle(page)
        page.get_by_role("heading", name=re.compile(r"^Cluster c\d+")).first.wait_for()
        assert "/cluster" in page.url and "run=" in page.url
