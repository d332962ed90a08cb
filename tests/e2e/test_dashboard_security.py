"""The dashboard a team can trust, in a real browser: hostile text, sign-in, sessions, roles.

A crafted lake (``dashboard_fixtures.hostile_lake``) puts Markdown images and links,
headings, HTML, ``javascript:`` URLs and Streamlit shortcodes into a cluster's id,
reasons, places, targets, types, platforms, member names, evidence texts and one
account id; the tests add more through URL parameters, a decision's note and a
comment. Every payload points at a local *bait* server that logs each request it gets:
the tests assert every payload is shown as its own text, no element the payloads
describe exists (image, link, heading, script), the bait server got **zero** requests,
and Playwright's log of the browser's requests names only the dashboard itself.

The server is `rallypoint dashboard` behind sign-in; viewer, analyst and admin accounts
are made for the test. Screenshots go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import http.server
import re
import sqlite3
import threading
import urllib.request
from urllib.parse import quote, urlparse

import pytest
from dashboard_fixtures import hostile_lake
from test_dashboard_browser import (  # noqa: F401  (browser is a fixture used by name)
    CARD,
    PASSWORD,
    add_users,
    browser,
    dashboard_server,
    settle,
    shot,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

USERS = {"vera": "viewer", "anna": "analyst", "adam": "admin", "rita": "analyst", "eddy": "viewer"}
WORD_JOINER = "\u2060"


class Bait:
    """A local HTTP server that logs every request: the address every payload points at."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the standard library's name)
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()
                self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def bait():
    server = Bait()
    yield server
    server.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, bait):
    lake = hostile_lake(tmp_path_factory.mktemp("hostile"), bait.url)
    add_users(lake["lake"], USERS)
    return lake


@pytest.fixture(scope="module")
def app(hostile):
    with dashboard_server(hostile["lake"]) as (url, _):
        yield url


@pytest.fixture
def page(browser, app, bait):  # noqa: F811
    """A fresh page whose every request is logged; any request not to the dashboard fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    context.on("websocket", lambda ws: requests.append(ws.url))
    pg = context.new_page()
    yield pg
    context.close()
    origin = urlparse(app).netloc
    outside = [u for u in requests if not u.startswith(("data:", "blob:", "about:")) and urlparse(u).netloc != origin]
    assert not outside, f"the browser requested something outside the dashboard: {outside}"
    assert not bait.hits, f"the bait server was called: {bait.hits}"
    assert requests  # the log did record the dashboard's own requests


#: JavaScript: what the payloads would have made of themselves had they been rendered.
RENDERED = """bait => ({
  images: [...document.querySelectorAll('img, image, source, video, audio, iframe, embed, object')]
            .map(e => e.src || e.href?.baseVal || e.data || '').filter(s => s.includes(bait)),
  links: [...document.querySelectorAll('a')].map(a => a.getAttribute('href') || '')
            .filter(h => h.includes(bait) || h.toLowerCase().startsWith('javascript') || h.includes('autolink')),
  headings: [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => h.innerText)
            .filter(t => t.includes('Heading payload')),
  bold: [...document.querySelectorAll('b, strong')].map(b => b.innerText).filter(t => t.includes('bold payload')),
  scripts: [...document.querySelectorAll('script')]
            .filter(s => s.src.includes(bait) || s.textContent.includes('alert(')).length,
  text: document.body.innerText,
})"""


def rendered(pg, bait) -> dict:
    found = pg.evaluate(RENDERED, bait.url)
    found["text"] = found["text"].replace(WORD_JOINER, "")
    return found


def assert_shown_as_text(pg, bait, payloads: list[str], where: str) -> None:
    found = rendered(pg, bait)
    for kind in ("images", "links", "headings", "bold"):
        assert not found[kind], f"{where}: a payload was rendered as {kind}: {found[kind]}"
    assert found["scripts"] == 0, f"{where}: a payload's script is on the page"
    missing = [p for p in payloads if p not in found["text"]]
    assert not missing, f"{where}: not shown as text: {missing}"


def test_every_hostile_payload_is_shown_as_text_and_nothing_leaves_the_app(page, app, hostile, bait):
    payloads = list(hostile["payloads"].values())
    cluster = hostile["cluster"]
    with urllib.request.urlopen(f"{app}/signin") as response:
        policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data: blob:" in policy

    sign_in(page, app, "anna", then="/?flagged_only=false")
    assert_shown_as_text(page, bait, [cluster, *payloads[:3]], "queue")
    shot(page, "10-hostile-queue")

    page.goto(f"{app}/cluster?cluster={quote(cluster, safe='')}")
    settle(page)
    page.get_by_role("heading", name=re.compile(r"^Cluster c1!")).wait_for()  # word joiners inside
    # the strongest reason of each kind is shown, the others folded: unfold them to read every payload
    page.get_by_text(re.compile(r"^The other \d+ reasons")).click()
    settle(page)
    assert_shown_as_text(page, bait, [cluster, *payloads], "cluster page")
    # a note and a comment written by a colleague are hostile too
    note = f"Note ![n]({bait.url}/note.png) [re-login]({bait.url}/note-link) <img src={bait.url}/n.png>"
    comment = f"# Heading payload in a comment :red[x] {bait.url}/comment"
    page.get_by_text("Confirm (coordinated mobilization)").click()  # no decision is preselected
    page.get_by_label("Note: why (required)").fill(note)
    page.get_by_role("button", name="Record decision").click()
    settle(page)
    page.get_by_text("Recorded: confirmed by anna.").wait_for()
    page.get_by_label("Add a comment").fill(comment)
    page.get_by_role("button", name="Post comment").click()
    settle(page)
    assert_shown_as_text(page, bait, [cluster, note, comment], "cluster page after a note and a comment")
    assert "CONFIRMED by anna: " + note in rendered(page, bait)["text"]  # the decision names the signed-in user
    shot(page, "11-hostile-cluster-with-note-and-comment")

    page.get_by_role("tab", name="Evidence posts").click()
    settle(page)
    assert_shown_as_text(page, bait, payloads, "evidence posts")
    # the evidence grouped by text: each group headed "N posts by M accounts"
    posts = page.locator('[data-testid="stHtml"]', has_text=re.compile(r"\d+ posts? by \d")).last.inner_text()
    for payload in payloads[1:]:  # each post's text exactly (the HTML the app builds)
        assert payload in posts.replace(WORD_JOINER, ""), payload
    shot(page, "12-hostile-evidence")
    page.get_by_role("tab", name="Network").click()
    settle(page)
    shot(page, "12b-hostile-network")

    crafted = f"![x]({bait.url}/url.png)**[Click to re-login]({bait.url}/login)**"
    page.goto(f"{app}/cluster?cluster={quote(crafted, safe='')}")
    settle(page)
    assert_shown_as_text(page, bait, [crafted], "a crafted ?cluster= link")
    warning = page.locator('[data-testid="stAlert"]', has_text="has no cluster").inner_text()
    assert crafted in warning.replace(WORD_JOINER, "")
    shot(page, "13-hostile-cluster-link")

    for account in (hostile["account"], f"<img src={bait.url}/acct.png>![a]({bait.url}/a.png)"):
        page.goto(f"{app}/account?account={quote(account, safe='')}")
        settle(page)
        assert_shown_as_text(page, bait, [], "account page")
        assert page.get_by_label("Search an account (id or name)").input_value() == account
    shot(page, "14-hostile-account")
    page.wait_for_timeout(1500)  # anything late would still reach the bait server before the check


def test_sign_in_refuses_a_wrong_password_then_lands_where_the_link_pointed(page, app, hostile, bait):
    target = f"/cluster?cluster={quote(hostile['cluster'], safe='')}"
    page.goto(app + target)
    page.wait_for_url(re.compile(r"/signin\?next="))
    assert page.locator("body").inner_text().count("r2-c") == 0  # no data before sign-in
    page.fill("#name", "anna")
    page.fill("#password", "not the password at all")
    page.click("button[type=submit]")
    page.get_by_role("alert").wait_for()
    assert page.get_by_role("alert").inner_text() == "Wrong name or password."
    shot(page, "15-sign-in-wrong-password")
    page.fill("#name", "anna")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    settle(page)
    assert page.url.startswith(app + target)  # the link it was sent from (the app adds &run=)
    page.get_by_text("Signed in as anna (analyst)").wait_for()
    # nobody can open the app's connection without a session
    with pytest.raises(Exception):  # noqa: B017 (the refused handshake's error type is the library's)
        urllib.request.urlopen(f"{app}/_stcore/stream")
    assert urllib.request.urlopen(f"{app}/_stcore/health").status == 200


def test_failed_sign_ins_are_rate_limited(page, app):
    for _ in range(5):
        page.goto(f"{app}/signin")
        page.fill("#name", "rita")
        page.fill("#password", "guessing again and again")
        page.click("button[type=submit]")
        page.get_by_role("alert").wait_for()
    page.fill("#name", "rita")
    page.fill("#password", PASSWORD)  # the right password, too late
    page.click("button[type=submit]")
    page.get_by_role("alert").wait_for()
    assert page.get_by_role("alert").inner_text().startswith("Too many failed sign-ins")
    shot(page, "16-sign-in-rate-limited")


def test_an_expired_session_stops_the_page_and_sends_a_reload_to_sign_in(page, app, hostile):
    sign_in(page, app, "eddy")
    page.get_by_role("heading", name="Triage queue").wait_for()
    with sqlite3.connect(hostile["lake"] / "triage.sqlite") as con:
        con.execute("UPDATE sessions SET last_seen = '2000-01-01T00:00:00+00:00' WHERE name = 'eddy'")
    page.get_by_text("Flagged only").click()  # the next interaction checks the session again
    settle(page)
    page.get_by_role("heading", name="Sign-in required").wait_for()
    assert page.get_by_text("your session has expired").count() == 1
    assert page.locator(CARD, has_text=re.compile(r"#1 · ")).count() == 0
    shot(page, "17-session-expired")
    page.reload()
    page.wait_for_url(re.compile(r"/signin"))
    sign_in(page, app, "eddy")
    page.get_by_role("button", name="Sign out").click()
    settle(page)
    page.reload()
    page.wait_for_url(re.compile(r"/signin"))


def _cluster_page(page, app, hostile, tab: str = "") -> None:
    page.goto(f"{app}/cluster?cluster={quote(hostile['cluster'], safe='')}{'&tab=' + tab if tab else ''}")
    settle(page)


def test_a_viewer_reads_but_cannot_decide_comment_assign_export_real_ids_or_manage_users(page, app, hostile):
    sign_in(page, app, "vera")
    _cluster_page(page, app, hostile)
    page.get_by_text("Signed in as vera (viewer)").wait_for()
    page.get_by_text("viewers read; analysts and admins record decisions").wait_for()
    for button in ("Record decision", "Post comment", "Assign"):
        assert page.get_by_role("button", name=button).count() == 0
    shot(page, "18-viewer-cluster")
    _cluster_page(page, app, hostile, "Export")
    assert page.get_by_role("checkbox", name="Pseudonymize accounts").is_disabled()
    assert page.get_by_role("checkbox", name="Pseudonymize accounts").is_checked()
    page.goto(f"{app}/team")
    settle(page)
    page.get_by_text("only admins manage users").wait_for()
    assert page.get_by_role("button", name="Add user").count() == 0


def test_an_analyst_decides_and_assigns_but_cannot_export_real_ids_or_manage_users(page, app, hostile):
    sign_in(page, app, "anna")
    _cluster_page(page, app, hostile)
    page.get_by_text("Recorded as anna (analyst), the signed-in user.").wait_for()
    page.get_by_label("Assign to").click()
    page.keyboard.type("adam")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Assign").click()
    settle(page)
    page.get_by_text("Assigned to adam.").wait_for()
    _cluster_page(page, app, hostile, "Export")
    assert page.get_by_role("checkbox", name="Pseudonymize accounts").is_disabled()
    page.goto(f"{app}/team")
    settle(page)
    page.get_by_text("only admins manage users").wait_for()
    shot(page, "19-analyst-team-page")


def test_an_admin_manages_users_exports_real_ids_and_reads_the_audit_log(page, app, hostile):
    sign_in(page, app, "adam", then="/?mine=true&flagged_only=false")
    cards = page.locator(CARD, has_text=re.compile(r"#\d+ · "))
    text = page.evaluate("document.body.innerText").replace(WORD_JOINER, "")
    assert text.count("Assigned to: adam") == cards.count() and "Assigned to: nobody" not in text
    assert cards.count() >= 1  # the analyst's test (run before this one) assigned a cluster to adam
    shot(page, "20-admin-my-queue")
    _cluster_page(page, app, hostile, "Export")
    assert page.get_by_role("checkbox", name="Pseudonymize accounts").is_enabled()
    page.goto(f"{app}/team")
    settle(page)
    page.get_by_text("hash chain is intact").wait_for()
    page.get_by_label("New user's name").fill("newcomer")
    page.get_by_label("Password (12 characters or more)").fill(PASSWORD)
    page.get_by_role("button", name="Add user").click()
    settle(page)
    page.get_by_text("Added newcomer (viewer).").wait_for()
    page.get_by_role("heading", name="Recent events").wait_for()
    shot(page, "21-admin-team-and-audit-log")
    from rallypoint.dashboard.triage import TriageStore

    log = TriageStore(hostile["lake"] / "triage.sqlite")
    assert log.verify().ok
    assert ("user_added", "newcomer", "adam") in log.events(("user_added",)).select("kind", "subject", "actor").rows()
