"""The dashboard in a real browser: headless Chromium against `rallypoint dashboard`.

The server is the real command (`python -m rallypoint.cli dashboard`) on a free
localhost port, started and stopped here, behind sign-in (an analyst account made for
the test signs in through the sign-in page); the 2,000-member measurement runs with
``--no-auth``. Every request the page makes is checked:
one that leaves localhost fails the test (the dashboard must work offline). Each
page is saved under ``test-output/screenshots/``.

Chromium must be at /usr/bin/chromium (`make chromium`); if it is not, these tests
fail rather than skip, so a green run always means the browser really ran.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import networkx as nx
import numpy as np
import pytest

from rallypoint.lake import Lake

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
TIMINGS = REPO / "test-output" / "timings.json"
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the dashboard exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the dashboard did not answer at {url} within {timeout} s")


def _tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process ``root`` and all its descendants (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        pid = int(stat.parent.name)
        parent[pid], cpu[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {root}, [root]
    while frontier:
        children = [p for p, pp in parent.items() if pp in frontier and p not in tree]
        tree.update(children)
        frontier = children
    return sum(cpu.get(p, 0.0) for p in tree)


class CpuClock:
    """Wall seconds and CPU seconds of the browser (this process's children) and the server since start."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid
        self.restart()

    def restart(self) -> None:
        self.wall = time.monotonic()
        self.browser = _tree_cpu_seconds(os.getpid()) - time.process_time()
        self.server = _tree_cpu_seconds(self.server_pid)

    def read(self) -> dict:
        return {"wall_s": round(time.monotonic() - self.wall, 2),
                "browser_cpu_s": round(_tree_cpu_seconds(os.getpid()) - time.process_time() - self.browser, 2),
                "server_cpu_s": round(_tree_cpu_seconds(self.server_pid) - self.server, 2)}


#: The password of the accounts the browser tests create (``add_users``).
PASSWORD = "a browser test password"
#: A queue card: an ``<article>`` in the page's HTML block of cards (``st.html``).
CARD = '[data-testid="stHtml"] article.rp-card'
#: The analyst the tests on the simulated world sign in as.
ANALYST = "browser-analyst"


def add_users(lake: Path, users: dict[str, str]) -> None:
    """Create dashboard accounts (name -> role) in ``lake``, as `rallypoint users add` does."""
    from rallypoint.dashboard.accounts import AccountStore

    store = AccountStore(Lake(lake).triage_path)
    for name, role in users.items():
        store.add_user(name, role, PASSWORD, "cli:browser-test")


def sign_in(pg, url: str, name: str = ANALYST, password: str = PASSWORD, then: str = "/") -> None:
    """Sign in through the sign-in page, then wait for the page it leads to (``then``)."""
    from urllib.parse import quote

    pg.goto(f"{url}/signin?next={quote(then, safe='')}")
    pg.fill("#name", name)
    pg.fill("#password", password)
    pg.click("button[type=submit]")
    settle(pg)


@contextlib.contextmanager
def dashboard_server(lake: Path, *options: str):
    """`rallypoint dashboard` on ``lake`` at a free localhost port; yields its URL and pid; stopped on exit."""
    port = _free_port()
    env = dict(os.environ, RALLYPOINT_PSEUDONYM_KEY="a-browser-test-key-of-32-characters")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rallypoint.cli", "dashboard", "--lake", str(lake), "--port", str(port), *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A small simulated world through the real pipeline (simulate -> ingest -> detect)."""
    from dashboard_fixtures import simulated_lake

    return simulated_lake(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def server(world):
    add_users(world["lake"], {ANALYST: "analyst"})
    with dashboard_server(world["lake"]) as (url, _):
        yield url


@pytest.fixture(scope="module")
def big_lake(tmp_path_factory) -> dict:
    """The fixture lake with a 2,000-member cluster, for the interactivity measurement."""
    from dashboard_fixtures import big_cluster_lake

    return big_cluster_lake(tmp_path_factory.mktemp("big-lake"))


@pytest.fixture(scope="module")
def big_server(big_lake):
    with dashboard_server(big_lake["lake"], "--no-auth") as (url, pid):
        yield url, pid


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}; install it with `make chromium`.")
    # posts carry emoji; without a colour emoji font the screenshots show empty boxes
    if not EMOJI_FONT.exists():
        pytest.fail(f"The emoji font is missing at {EMOJI_FONT}; install it with `make chromium`.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _outside(url: str) -> bool:
    return not url.startswith(("data:", "blob:", "about:")) and (urlparse(url).hostname or "") not in LOCAL_HOSTS


@pytest.fixture
def page(browser):
    """A fresh page; any request leaving localhost is aborted and fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []

    def guard(route):
        if _outside(route.request.url):
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", guard)
    context.on("websocket", lambda ws: outside.append(ws.url) if _outside(ws.url) else None)
    pg = context.new_page()
    yield pg
    context.close()
    assert not outside, f"the dashboard fetched from outside localhost: {outside}"


@pytest.fixture
def watched_page(browser):
    """A fresh page whose requests are watched, not intercepted; any leaving localhost fails the test.

    For timing: Playwright's request interception (``route``) turns the browser's cache off, so
    every reload would fetch and compile all of Streamlit's scripts again, as no analyst's browser does.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []
    context.on("request", lambda request: outside.append(request.url) if _outside(request.url) else None)
    context.on("websocket", lambda ws: outside.append(ws.url) if _outside(ws.url) else None)
    pg = context.new_page()
    yield pg
    context.close()
    assert not outside, f"the dashboard fetched from outside localhost: {outside}"


def settle(pg, timeout: float = 60_000) -> None:
    """Wait until Streamlit has run the script and the page has drawn every element."""
    pg.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)
    pg.wait_for_function(
        """() => document.querySelectorAll('[data-testid="stSkeleton"], [data-testid="stAppSkeleton"]').length === 0
              && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(c => c.querySelector('.main-svg'))""",
        timeout=timeout,
    )
    pg.wait_for_timeout(200)
    pg.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)


def shot(pg, name: str) -> Path:
    """Save the whole page: Streamlit scrolls inside its main block, so grow the viewport to fit it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = pg.viewport_size
    height = pg.evaluate(
        """() => Math.max(...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]')]
                              .map(e => e.scrollHeight), document.body.scrollHeight)"""
    )
    pg.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 9000)})
    pg.wait_for_timeout(800)  # plotly redraws to the new size
    pg.screenshot(path=str(path), full_page=True)
    pg.set_viewport_size(size)
    return path


def test_queue_ranks_flagged_clusters_with_reasons(page, server, world):
    sign_in(page, server)
    page.get_by_role("heading", name="Triage queue").wait_for()
    top = world["top_cluster"]
    first_card = page.locator(CARD, has_text=re.compile(r"#1 · ")).first
    assert top in first_card.inner_text()
    assert page.get_by_text("Mobilization:").count() >= 1
    shot(page, "01-queue")


def test_queue_filters_live_in_the_url_and_a_shared_link_restores_them(page, server, world):
    sign_in(page, server, then=f"/?run={world['run']}")
    page.get_by_text("Flagged only").click()
    page.get_by_label("Search id, reason, place or date").fill(world["top_cluster"])
    page.get_by_label("Search id, reason, place or date").press("Enter")
    settle(page)
    page.wait_for_url(re.compile(r"flagged_only=false"))
    page.wait_for_url(re.compile(rf"q={world['top_cluster']}"))
    shared = page.url
    page.context.clear_cookies()
    page.goto("about:blank")
    page.goto(shared)  # a new session that has only the link: it signs in first, then lands on the link
    page.wait_for_url(re.compile(r"/signin\?next="))
    sign_in(page, server, then=shared.removeprefix(server))
    assert page.url == shared
    assert not page.get_by_role("checkbox", name="Flagged only").is_checked()
    assert page.get_by_label("Search id, reason, place or date").input_value() == world["top_cluster"]
    cards = page.locator(CARD, has_text=re.compile(r"#\d+ · "))
    assert cards.count() >= 1 and world["top_cluster"] in cards.first.inner_text()
    shot(page, "01b-queue-filtered-from-a-link")


def test_decision_on_the_top_cluster_survives_a_reload(page, server, world):
    sign_in(page, server)
    page.get_by_role("link", name="Open cluster →").first.click()
    settle(page)
    top = world["top_cluster"]
    page.get_by_role("heading", name=f"Cluster {top}").wait_for()
    page.get_by_text("Dismiss (false positive)").click()
    assert page.get_by_label("Your name").count() == 0  # the signed-in user decides, no name is typed
    note = f"Checked the evidence posts at {time.time():.0f}: a news-sharing pattern."
    page.get_by_label("Note: why (required)").fill(note)
    page.get_by_role("button", name="Record decision").click()
    settle(page)
    page.get_by_text(f"Recorded: dismissed by {ANALYST}.").wait_for()
    page.reload()
    settle(page)
    page.get_by_text("DISMISSED", exact=True).first.wait_for()
    assert page.get_by_text(note).count() >= 1
    assert page.get_by_text(re.compile(rf"DISMISSED by {ANALYST}: ")).count() == 1  # the history names the user
    shot(page, "02-cluster-after-decision")
    # the other sections are lazy tabs: each is drawn when opened, and ?tab= names it
    for letter, tab in zip("bcdef", ("Activity timeline", "Evidence posts", "Members and shared targets", "Expand",
                                     "Export"),
                           strict=True):
        page.get_by_role("tab", name=tab).click()
        settle(page)
        page.wait_for_url(re.compile(r"tab="))
        shot(page, f"02{letter}-cluster-{tab.split()[0].lower()}")
    page.goto(f"{server}/")
    settle(page)
    first_card = page.locator(CARD, has_text=re.compile(r"#1 · ")).first
    assert top in first_card.inner_text() and "DISMISSED" in first_card.inner_text()


#: JavaScript: the network's plotly graph div, once plotly has drawn every trace (WebGL or SVG).
NETWORK_READY = """key => { const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
    return !!(gd && gd._fullData && gd._fullData.length && gd._fullLayout && gd._fullLayout._plots
              && (gd.querySelector('.gl-canvas-context') || gd.querySelectorAll('path.point').length)); }"""
#: JavaScript: the network picture (an image component's frame) has its image loaded, sized and listening for clicks.
PICTURE_READY = """key => { const frame = document.querySelector(`.st-key-${key} iframe`);
    const img = frame && frame.contentDocument && frame.contentDocument.getElementById('image');
    return !!(img && img.complete && img.naturalWidth > 0 && img.onmousedown && frame.getBoundingClientRect().height > 100); }"""
#: JavaScript: page position and shown width of the network picture.
PICTURE_BOX = """key => { const frame = document.querySelector(`.st-key-${key} iframe`);
    const img = frame.contentDocument.getElementById('image');
    const f = frame.getBoundingClientRect(), i = img.getBoundingClientRect();
    return {x: f.left + i.left, y: f.top + i.top, width: i.width}; }"""
#: JavaScript: page coordinates of the first point of the first trace named like ``name`` in the network.
POINT_XY = """([key, name]) => { const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
    const trace = gd._fullData.find(t => t.name.startsWith(name)); const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const box = gd.getBoundingClientRect();
    return {x: box.left + xa._offset + xa.l2p(trace.x[0]), y: box.top + ya._offset + ya.l2p(trace.y[0]),
            account: trace.customdata[0]}; }"""


def _record_timings(name: str, figures: dict) -> None:
    """Add ``figures`` under ``name`` to test-output/timings.json (measured, never asserted)."""
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    recorded = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    recorded[name] = figures | {"load_average_1_5_15": [round(v, 2) for v in os.getloadavg()],
                                "cpus": os.cpu_count(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    TIMINGS.write_text(json.dumps(recorded, indent=2) + "\n")


def _lone_account(big_lake: dict):
    """The big cluster's picture as the server draws it, and the account farthest from any other in it
    (so a click on it can only mean that account) with its pixel position."""
    from rallypoint.dashboard.cluster_network import cluster_picture
    from rallypoint.dashboard.data import run_version

    lake = Lake(big_lake["lake"])
    run, big = big_lake["run"], big_lake["big_cluster"]
    picture = cluster_picture(str(lake.root), run, big, run_version(lake, run))
    xy = picture.xy
    gaps = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    np.fill_diagonal(gaps, np.inf)
    lone = int(gaps.min(axis=1).argmax())
    return picture, picture.accounts[lone], xy[lone]


def _open_account(account: str) -> re.Pattern:
    """The link to ``account``'s page below the network: its handle and id, or its id alone."""
    return re.compile(rf"^Open account (\S.* \({re.escape(account)}\)|{re.escape(account)}) →$")


def _picture_click(pg, key: str, picture, xy) -> dict:
    """Page coordinates of picture pixel ``xy`` as the page shows the picture (scaled to the column)."""
    box = pg.evaluate(PICTURE_BOX, key)
    scale = box["width"] / picture.width
    return {"x": box["x"] + xy[0] * scale, "y": box["y"] + xy[1] * scale}


def _network_ready(pg, key: str) -> None:
    pg.wait_for_function(NETWORK_READY, arg=key, timeout=60_000)


def _picture_ready(pg, key: str) -> None:
    pg.wait_for_function(PICTURE_READY, arg=key, timeout=60_000)


def test_large_cluster_is_interactive_and_clicks_select_accounts(watched_page, big_server, big_lake):
    page = watched_page
    url, server_pid = big_server
    big, run = big_lake["big_cluster"], big_lake["run"]
    key, picture_key = f"network_{run}_{big}", f"network_picture_{run}_{big}_-1"
    address = f"{url}/cluster?run={run}&cluster={big}"
    page.goto(address)  # the first view reads, lays out and draws the cluster (cached afterwards)
    settle(page, timeout=120_000)
    _picture_ready(page, picture_key)
    clock = CpuClock(server_pid)
    # what an analyst does: click the cluster's link in the queue (a plain link: the page loads anew)
    queue = f"{url}/?run={run}&flagged_only=false&q={big}"
    from_queue = []
    for _ in range(3):  # the machine is shared: several runs show the spread
        page.goto(queue)
        settle(page)
        page.wait_for_timeout(1000)
        clock.restart()
        page.get_by_role("link", name="Open cluster →").first.click()
        _picture_ready(page, picture_key)
        from_queue.append(clock.read())
    reloads = []
    for _ in range(3):
        page.wait_for_timeout(1000)
        clock.restart()
        page.goto(address)
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
        served = clock.read()["wall_s"]
        _picture_ready(page, picture_key)
        reloads.append(clock.read() | {"script_done_s": served})
    # for comparison, the same page without the network (the Export tab open): what the rest of the page costs
    without_network = []
    for _ in range(3):
        page.wait_for_timeout(1000)
        clock.restart()
        page.goto(f"{address}&tab=Export")
        page.get_by_role("button", name="Prepare download").wait_for(timeout=60_000)
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
        without_network.append(clock.read())
    page.goto(address)
    _picture_ready(page, picture_key)
    settle(page)
    shot(page, "03-cluster-2000-members")
    # a click on the picture lists the account under it
    picture, account, xy = _lone_account(big_lake)
    page.locator(f".st-key-{picture_key}").scroll_into_view_if_needed()
    point = _picture_click(page, picture_key, picture, xy)
    clock.restart()
    page.mouse.click(point["x"], point["y"])
    page.get_by_text("Selected accounts (1)").wait_for(timeout=30_000)
    page.get_by_role("link", name=_open_account(account)).wait_for(timeout=30_000)
    picture_click = clock.read()
    settle(page)
    shot(page, "03b-cluster-2000-members-picture-click")
    # the interactive figure, one toggle away: drawn, and a node click lists its account
    clock.restart()
    page.get_by_text("Interactive network (hover labels, zoom, lasso)").click()
    _network_ready(page, key)
    interactive = clock.read()
    settle(page)
    page.locator(f".st-key-{key}").scroll_into_view_if_needed()
    point = page.evaluate(POINT_XY, [key, "seeder"])
    page.mouse.move(point["x"], point["y"])  # plotly picks the point under the pointer on hover
    page.wait_for_timeout(300)
    clock.restart()
    page.mouse.click(point["x"], point["y"])
    page.get_by_role("link", name=_open_account(point["account"])).wait_for(timeout=30_000)
    node_click = clock.read()
    _record_timings("cluster_2000_members", {
        "what": "a 2,000-member cluster page with its data cached, until the network (a picture drawn on the "
                "server) is shown and clickable: after a click on the cluster's link in the queue "
                "and after a full reload (and, for comparison, a reload with the Export tab open); a click on the picture until its account is listed; the toggle to the "
                "interactive plotly figure until it is drawn; a node click in it until its account is listed "
                "(wall and CPU seconds)",
        "from_queue": from_queue, "reloads": reloads, "reloads_export_tab_no_network": without_network,
        "picture_click": picture_click,
        "interactive_toggle": interactive, "interactive_node_click": node_click,
    })
    print(f"\n2,000-member cluster page from the queue (data cached): {from_queue}"
          f"\nafter reload: {reloads}\nreload with the Export tab (no network): {without_network}"
          f"\npicture click: {picture_click}\ninteractive toggle: {interactive}"
          f"\ninteractive node click: {node_click}\nload average {os.getloadavg()}")
    settle(page)
    shot(page, "03c-cluster-2000-members-interactive-selected")


def test_account_page_shows_clusters_actions_and_ego_network(page, server, world):
    account = world["account"]
    sign_in(page, server, then=f"/account?account={account}")
    page.get_by_role("heading", name="Clusters across runs").wait_for()
    page.get_by_role("heading", name=re.compile("Ego-network")).wait_for()
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
    shot(page, "04-account")


def test_data_health_lists_ingests_rejections_and_runs(page, server, world):
    sign_in(page, server, then="/health")
    page.get_by_role("heading", name="Detection runs").wait_for()
    page.get_by_role("heading", name="Ingests").wait_for()
    # the world's hand-edited file has three broken records: they are counted by reason
    page.get_by_role("heading", name="Rejected records, by reason").wait_for()
    assert page.get_by_text("Nothing was rejected.").count() == 0
    assert page.locator('[data-testid="stMetricValue"]').nth(3).inner_text().strip() == "3"
    shot(page, "05-data-health")


def test_export_downloads_a_pseudonymized_graphml_file(page, server, world, tmp_path):
    sign_in(page, server, then=f"/cluster?run={world['run']}&cluster={world['top_cluster']}&tab=Export")
    page.get_by_role("button", name="Prepare download").click()
    settle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile(r"Download .*graphml\.zip")).click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    lake = Lake(world["lake"])
    members = lake.read_run_table(world["run"], "members")
    accounts = [a for a, c in zip(members["account_id"].to_pylist(), members["cluster_id"].to_pylist(), strict=True)
                if c == world["top_cluster"]]
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
        graph = nx.read_graphml(io.BytesIO(archive.read(next(n for n in names if n.endswith("subgraph.graphml")))))
        manifest = json.loads(archive.read(next(n for n in names if n.endswith("manifest.json"))))
    assert graph.number_of_nodes() == len(accounts) and manifest["cluster_id"] == world["top_cluster"]
    assert manifest["pseudonymized"] and not set(graph.nodes) & set(accounts)  # pseudonymized by default


def _top_members_hashtag_and_domain(world: dict) -> tuple[str, str]:
    """The hashtag and the link domain the top cluster's members used most (what an analyst would search)."""
    import polars as pl

    lake = Lake(world["lake"])
    members = pl.from_arrow(lake.read_run_table(world["run"], "members")).filter(
        pl.col("cluster_id") == world["top_cluster"])
    records = pl.from_arrow(lake.read_interactions_table(columns=["account_id", "hashtags", "urls"])).join(
        members.select("account_id"), on="account_id", how="semi")
    tag = records["hashtags"].explode().drop_nulls().value_counts(sort=True)["hashtags"][0]
    domain = (records["urls"].explode().drop_nulls().str.extract(r"^[a-z]+://(?:www\.)?([^/:?#]+)", 1)
              .drop_nulls().value_counts(sort=True)["urls"][0])
    return tag, domain


#: The search page's accounts table (the second table: the records come first).
ACCOUNTS_TABLE = '[data-testid="stDataFrame"] >> nth=1'


def _open_first_account_link(pg):
    """Click the first account's link ("open →", right of the handle column, 200 px wide) in the search
    page's accounts table (a canvas: its cells are not elements) and return the page it opens."""
    grid = pg.locator(ACCOUNTS_TABLE)
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    x, y = box["x"] + 200 + 25, box["y"] + 35 + 17  # the header row is 35 px high, a row 35 px
    pg.mouse.move(x, y)
    pg.wait_for_timeout(300)
    with pg.context.expect_page(timeout=30_000) as opened:
        pg.mouse.click(x, y)
    account = opened.value
    account.wait_for_load_state()
    settle(account)
    return account


def _searched_accounts(world: dict, query: str) -> set[str]:
    """The accounts the lake search finds for ``query`` (the library, not the page)."""
    from rallypoint.lake_search import search_lake

    return set(search_lake(world["lake"], query, run_id=world["run"]).accounts["account_id"].to_pylist())


def test_search_finds_a_hashtag_and_a_domain_and_links_their_clusters(page, server, world):
    tag, domain = _top_members_hashtag_and_domain(world)
    sign_in(page, server, then="/search")
    page.get_by_role("heading", name="Search the lake").wait_for()
    box = page.get_by_label(re.compile("^Search: an account id"))
    for query, name in ((f"#{tag.upper()}", "hashtag"), (domain, "domain")):  # case does not matter
        box.fill(query)
        box.press("Enter")
        settle(page)
        page.get_by_role("heading", name=re.compile(r"^Accounts \(\d+\)")).wait_for()
        # the page draws as the script runs: wait for the last section, the clusters, to be drawn
        page.get_by_role("heading", name=re.compile(r"^Clusters \(\d+\)")).wait_for()
        settle(page)
        assert page.get_by_text(re.compile(r"^\d[\d,]*\+? records from \d[\d,]* accounts in ")).count() == 1
        cluster_link = page.get_by_role("link", name=re.compile(rf"^Cluster {world['top_cluster']}: "))
        cluster_link.first.wait_for(timeout=30_000)
        assert cluster_link.count() == 1, f"the top cluster is not among the clusters found by {query}"
        # the accounts are listed once, in a table whose link column opens an account's page
        assert page.get_by_role("link", name=re.compile(r"hits →$")).count() == 0
        shot(page, f"06{'ab'[name == 'domain']}-search-{name}")
        account = _open_first_account_link(page)
        account.get_by_role("heading", name="Clusters across runs").wait_for()
        opened = parse_qs(urlparse(account.url).query)
        assert opened["run"] == [world["run"]] and opened["account"][0] in _searched_accounts(world, query)
        account.close()
    cluster_link.click()
    settle(page)
    page.get_by_role("heading", name=f"Cluster {world['top_cluster']}").wait_for()


def test_the_why_comes_first_and_evidence_is_grouped_with_handles(page, server, world):
    import polars as pl

    from rallypoint.detectors.scoring import order_reasons, reason_category

    lake = Lake(world["lake"])
    clusters = pl.from_arrow(lake.read_run_table(world["run"], "clusters"))
    top = clusters.filter(pl.col("cluster_id") == world["top_cluster"]).row(0, named=True)
    harm = [r for r in order_reasons(top["reasons"]) if reason_category(r) == "harm"]
    sign_in(page, server, then=f"/?run={world['run']}")
    page.get_by_role("heading", name="Triage queue").wait_for()
    reasons = page.locator(f"{CARD} ul").first.inner_text()
    shot(page, "07a-queue-why-first")
    if harm:  # the card's first reason is the cluster's strongest harm reason
        assert reasons.strip().startswith(f"Harm: {harm[0][:40]}"), reasons
    else:
        assert reasons.strip().startswith(("Mobilization: ", "Coordination: ")), reasons
    page.goto(f"{server}/cluster?run={world['run']}&cluster={world['top_cluster']}&tab=Evidence+posts")
    settle(page)
    page.get_by_role("heading", name="Why it was flagged").wait_for()
    # the page's why: the strongest reason of each kind, harm first; the others folded below
    why = page.locator('[data-testid="stMarkdownContainer"] ul',
                       has_text=re.compile(r"(Harm|Mobilization|Coordination|Score formula): ")).first
    lines = [line.replace("\u2060", "") for line in why.inner_text().split("\n") if line.strip()]
    heads = [line.split(":")[0] for line in lines]
    assert heads == [h for h in ("Harm", "Mobilization", "Coordination", "Score formula") if h in heads], heads
    if harm:
        assert lines[0].startswith(f"Harm: {harm[0][:40]}"), lines
    folded = page.get_by_text(re.compile(r"^The other (\d+) reasons"))
    assert int(re.match(r"The other (\d+)", folded.inner_text()).group(1)) == len(top["reasons"]) - len(lines)
    caption = page.get_by_text(re.compile(r"^Groups \d[\d,]*–\d[\d,]* of \d[\d,]* groups of identical or near-identical texts"))
    caption.wait_for()
    first, last, total = map(int, re.match(r"Groups (\d+)–(\d+) of (\d+)", caption.inner_text().replace(",", "")).groups())
    groups = page.locator("div", has_text=re.compile(r"^\d[\d,]* posts? by \d")).first
    assert groups.count() == 1
    members = pl.from_arrow(lake.read_run_table(world["run"], "members")).filter(
        pl.col("cluster_id") == world["top_cluster"])
    named = [f"{n} ({a})" for a, n in members.select("account_id", "account_name").iter_rows() if n]
    evidence = page.locator('[data-testid="stHtml"]', has_text=re.compile(r"posts? by \d")).first.inner_text()
    assert any(n in evidence.replace("\u2060", "") for n in named), "no account shown with its handle"
    # the page's groups are all there, each in full (not three at a time in a scroll box)
    assert first == 1 and last == min(total, 10)
    assert len(re.findall(r"\d[\d,]* posts? by \d[\d,]* accounts?", evidence)) == last
    shot(page, "07-cluster-evidence-grouped")
    unflagged = clusters.filter(~pl.col("flagged")).sort("score", descending=True)
    if unflagged.height:
        page.goto(f"{server}/cluster?run={world['run']}&cluster={unflagged['cluster_id'][0]}")
        settle(page)
        page.get_by_role("heading", name=re.compile(r"^Not flagged: why it scored ")).wait_for()
        assert page.get_by_role("heading", name="Why it was flagged").count() == 0
        shot(page, "07b-cluster-not-flagged")
    page.goto(f"{server}/cluster?run=20990101T000000Z-nosuch&cluster=nope")
    settle(page)
    page.get_by_text(re.compile(r"This lake has no detection run “20990101T000000Z-nosuch”")).wait_for()
    page.get_by_text(re.compile(r"has no cluster “nope”")).wait_for()
    shot(page, "07c-cluster-unknown-link")


def test_the_case_pack_downloads_pseudonymized_for_an_analyst(page, server, world, tmp_path):
    sign_in(page, server, then=f"/cluster?run={world['run']}&cluster={world['top_cluster']}&tab=Export")
    page.get_by_text("exports pseudonymized accounts only; plain ids need an admin").wait_for()
    page.get_by_role("button", name="Prepare case pack").click()
    settle(page, timeout=180_000)
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile(r"Download .*casepack_pseudonymized\.zip")).click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
        html_page = archive.read(next(n for n in names if n.endswith(".html"))).decode()
        manifest = json.loads(archive.read(next(n for n in names if n.endswith("manifest.json"))))
    lake = Lake(world["lake"])
    members = lake.read_run_table(world["run"], "members")
    accounts = [a for a, c in zip(members["account_id"].to_pylist(), members["cluster_id"].to_pylist(), strict=True)
                if c == world["top_cluster"]]
    assert manifest["cluster_id"] == world["top_cluster"] and manifest["pseudonymized"]
    assert accounts and not any(a in html_page for a in accounts)
    # the caption names the files the zip holds
    caption = page.get_by_text(re.compile(r"^One zip: ")).inner_text().replace("\u2060", "")
    files = {n.rsplit("/", 1)[-1] for n in names}
    assert files and all(f in caption for f in files), (files, caption)
    shot(page, "08-cluster-case-pack")


def test_the_network_names_accounts_and_expand_counts_the_context(page, server, world):
    import polars as pl

    from rallypoint.dashboard.expand import expand_from_lake

    lake = Lake(world["lake"])
    run, top = world["run"], world["top_cluster"]
    members = pl.from_arrow(lake.read_run_table(run, "members")).filter(pl.col("cluster_id") == top)
    sign_in(page, server, then=f"/cluster?run={run}&cluster={top}")
    page.get_by_role("heading", name="Network of members").wait_for()
    _network_ready(page, f"network_{run}_{top}")
    # accounts are written by their handles where they fit, not by ids
    labels = page.locator(f".st-key-network_{run}_{top} .textpoint text").all_text_contents()  # SVG: no innerText
    handles = set(members["account_name"].drop_nulls().to_list())
    assert handles & {t.strip() for t in labels}, f"no handle among the network's labels {labels[:10]}"
    assert not set(members["account_id"].to_list()) & {t.strip() for t in labels if t.strip() not in handles}
    shot(page, "09-cluster-network-labelled")
    # expand the five strongest members: the page states the expanded node count, as the library finds it
    page.get_by_role("tab", name="Expand").click()
    settle(page)
    page.get_by_role("button", name="Expand").click()
    said = page.get_by_text(re.compile(r"^Expanded: [\d,]+ nodes")).first
    said.wait_for(timeout=120_000)
    settle(page, timeout=120_000)
    seeds = members.sort("strength", descending=True, nulls_last=True)["account_id"].head(5).to_list()
    context = expand_from_lake(lake, seeds, hops=1)
    count = int(re.match(r"Expanded: ([\d,]+) nodes", said.inner_text()).group(1).replace(",", ""))
    assert count == context.n_nodes > len(seeds)
    assert page.get_by_text(re.compile(r"^Accounts outside this cluster \(")).count() == 1
    # every chosen account is named on the drawing, by its handle
    named = page.locator(f".st-key-expand_chart_{run}_{top} .annotation-text").all_text_contents()
    handles = dict(members.select("account_id", pl.col("account_name").fill_null("")).iter_rows())
    assert {handles[a] or a for a in seeds} <= {t.strip() for t in named}, named
    shot(page, "10-cluster-expand")


def test_places_and_dates_map_and_calendar_link_their_clusters(page, server, world):
    import polars as pl

    from rallypoint.dashboard.places import called, places_of

    lake = Lake(world["lake"])
    run = world["run"]
    clusters = pl.from_arrow(lake.read_run_table(run, "clusters")).filter(pl.col("flagged"))
    places = places_of(called(clusters))
    assert places.height, "the simulated world's flagged clusters name no place"
    sign_in(page, server, then=f"/places?run={run}")
    page.get_by_role("heading", name="Places and dates").wait_for()
    settle(page)
    page.get_by_role("heading", name=re.compile(r"^Map \(\d+ of \d+ places located\)")).wait_for()
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 2  # the map and the calendar
    located = places.drop_nulls("lat").row(0, named=True)
    map_labels = " ".join(page.locator('[data-testid="stPlotlyChart"]').first.locator(".textpoint text").all_text_contents())
    assert located["place"].split(",")[0] in map_labels
    shot(page, "11-places-and-dates")
    first = places.row(0, named=True)
    link = page.get_by_role("link", name=re.compile(rf"^Cluster {re.escape(first['clusters'][0])}: score"))
    assert link.count() >= 1
    link.first.click()
    settle(page)
    page.get_by_role("heading", name=f"Cluster {first['clusters'][0]}").wait_for()


def test_a_large_network_zooms_to_a_sub_group(watched_page, big_server, big_lake):
    page = watched_page
    url, _ = big_server
    big, run = big_lake["big_cluster"], big_lake["run"]
    page.goto(f"{url}/cluster?run={run}&cluster={big}")
    settle(page, timeout=120_000)
    _picture_ready(page, f"network_picture_{run}_{big}_-1")
    shot(page, "12a-large-network-picture")
    box = page.get_by_label("Zoom to")  # a searchable select: type the view's name, Enter picks it
    box.click()
    page.keyboard.type("sub-group 1 (")
    page.keyboard.press("Enter")
    settle(page, timeout=120_000)
    _picture_ready(page, f"network_picture_{run}_{big}_0")
    assert page.locator(f".st-key-network_picture_{run}_{big}_-1").count() == 0
    shot(page, "12b-large-network-zoomed")
