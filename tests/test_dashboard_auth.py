"""Sign-in and roles: accounts, sessions that expire, rate limits, and what each role may do.

The account store is tested directly; the roles through AppTest on the fixture lake,
signed in as the browser would be (a session token from a real sign-in).
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dashboard_fixtures import NEW_RUN, write_fixture_lake
from test_dashboard_app import PASSWORD, open_app, sign_in_as, texts, warnings

from rallypoint.dashboard import navigation
from rallypoint.dashboard.accounts import AccountStore, AuthSettings, Identity, SignInRefused
from rallypoint.dashboard.launch import streamlit_command
from rallypoint.dashboard.triage import TriageStore
from rallypoint.errors import RallypointError

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_sign_in_unless_asked(monkeypatch):
    monkeypatch.setenv("RALLYPOINT_AUTH", "none")


@pytest.fixture
def store(tmp_path) -> AccountStore:
    s = AccountStore(tmp_path / "triage.sqlite")
    s.add_user("ana", "analyst", PASSWORD, "cli:root")
    return s


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return write_fixture_lake(tmp_path_factory.mktemp("auth-lake"))


# --- the account store ------------------------------------------------------------------
def test_passwords_are_stored_as_argon2id_hashes_only(store):
    with sqlite3.connect(store.path) as con:
        (stored,) = con.execute("SELECT password_hash FROM users WHERE name = 'ana'").fetchone()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PASSWORD not in store.path.read_bytes().decode("latin-1")
    events = TriageStore(store.path).events(("user_added",))
    assert events.select("subject", "actor").rows() == [("ana", "cli:root")] and PASSWORD not in events["payload"][0]


def test_a_right_password_gives_a_session_and_a_wrong_one_does_not(store):
    token = store.sign_in("ana", PASSWORD, "10.0.0.1", now=T0)
    assert store.identity(token, now=T0) == Identity("ana", "analyst", "password")
    with sqlite3.connect(store.path) as con:  # only the token's hash is kept
        assert token not in {r[0] for r in con.execute("SELECT token_sha256 FROM sessions")}
    for name, password in (("ana", "not the password!"), ("nobody", PASSWORD), ("ana", "")):
        with pytest.raises(SignInRefused, match="^Wrong name or password.$"):
            store.sign_in(name, password, "10.0.0.1", now=T0)
    assert store.identity("forged-token") is None and store.identity(None) is None


def test_sessions_expire_when_idle_or_old_and_end_on_sign_out(store):
    idle = AuthSettings().idle_minutes
    token = store.sign_in("ana", PASSWORD, "a", now=T0)
    assert store.identity(token, now=T0 + timedelta(minutes=idle - 1)) is not None  # use keeps it alive
    assert store.identity(token, now=T0 + timedelta(minutes=2 * idle - 2)) is not None
    assert store.identity(token, now=T0 + timedelta(minutes=3 * idle)) is None  # idle too long
    assert store.identity(token, now=T0 + timedelta(minutes=2 * idle - 1)) is None  # and gone for good
    old = store.sign_in("ana", PASSWORD, "a", now=T0)
    for minutes in range(20, 12 * 60, 20):  # used all day, still ends after max_hours
        assert store.identity(old, now=T0 + timedelta(minutes=minutes)) is not None
    assert store.identity(old, now=T0 + timedelta(hours=12, minutes=1)) is None
    third = store.sign_in("ana", PASSWORD, "a")
    store.sign_out(third)
    assert store.identity(third) is None


def test_failed_sign_ins_are_rate_limited_by_name_and_then_refuse_the_right_password(store):
    limit = AuthSettings().max_failures
    for _ in range(limit):
        with pytest.raises(SignInRefused, match="Wrong"):
            store.sign_in("ana", "guess guess guess", "10.0.0.9", now=T0)
    with pytest.raises(SignInRefused, match="Too many failed sign-ins"):
        store.sign_in("ana", PASSWORD, "10.0.0.10", now=T0 + timedelta(minutes=1))
    later = T0 + timedelta(minutes=AuthSettings().window_minutes + 1)
    assert store.identity(store.sign_in("ana", PASSWORD, "10.0.0.10", now=later), now=later) is not None


def test_failed_sign_ins_are_rate_limited_by_address_across_names(store):
    for i in range(4 * AuthSettings().max_failures):
        with pytest.raises(SignInRefused, match="Wrong"):
            store.sign_in(f"guess{i}", "x" * 12, "203.0.113.5", now=T0)
    with pytest.raises(SignInRefused, match="Too many"):
        store.sign_in("ana", PASSWORD, "203.0.113.5", now=T0)
    assert store.sign_in("ana", PASSWORD, "198.51.100.1", now=T0)


def test_roles_changes_and_disabling_apply_at_once_and_are_logged(store):
    token = store.sign_in("ana", PASSWORD, "a")
    store.set_role("ana", "viewer", "cli:root")
    assert store.identity(token).role == "viewer" and not store.identity(token).can("decide")
    store.disable("ana", "cli:root")
    assert store.identity(token) is None
    with pytest.raises(SignInRefused):
        store.sign_in("ana", PASSWORD, "a")
    kinds = TriageStore(store.path).events()["kind"].to_list()
    assert kinds == ["user_added", "sign_in", "role_changed", "user_disabled"]


@pytest.mark.parametrize(("role", "allowed"), [
    ("viewer", {"read", "export_pseudonymized"}),
    ("analyst", {"read", "export_pseudonymized", "decide", "comment", "assign"}),
    ("admin", {"read", "export_pseudonymized", "decide", "comment", "assign", "export_real", "manage_users"}),
])
def test_what_each_role_may_do(role, allowed):
    from rallypoint.dashboard.accounts import PERMISSIONS

    who = Identity("x", role, "password")
    assert {a for a in PERMISSIONS if who.can(a)} == allowed


def test_bad_users_and_passwords_are_one_sentence(store):
    for args, message in ((("ana", "viewer", PASSWORD), "already a user"), (("bo", "boss", PASSWORD), "role must be"),
                          (("bo", "viewer", "short"), "at least 12"), (("b o", "viewer", PASSWORD), "without spaces")):
        with pytest.raises(RallypointError, match=message):
            store.add_user(*args, actor="cli:root")


def test_users_add_reads_the_password_from_stdin_never_an_argument(tmp_path):
    lake = write_fixture_lake(tmp_path / "lake").lake
    run = [sys.executable, "-m", "rallypoint.cli", "users", "add", "ada", "--role", "admin", "--lake", str(lake.root)]
    done = subprocess.run([*run, "--password-stdin"], input=PASSWORD + "\n", capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert AccountStore(lake.triage_path).sign_in("ada", PASSWORD, "a")
    refused = subprocess.run([*run[:5], "bo", *run[6:]], capture_output=True, text=True, cwd=REPO, timeout=120,
                             stdin=subprocess.DEVNULL)
    assert refused.returncode == 2 and "--password-stdin" in refused.stderr
    assert subprocess.run([*run, "--password", PASSWORD], capture_output=True, cwd=REPO).returncode == 2


def test_no_auth_only_on_localhost(tmp_path):
    lake = write_fixture_lake(tmp_path / "lake").lake
    _, env = streamlit_command(lake.root, auth="none")
    assert env["RALLYPOINT_AUTH"] == "none"
    with pytest.raises(RallypointError, match="--no-auth is for one person"):
        streamlit_command(lake.root, address="0.0.0.0", auth="none")
    assert streamlit_command(lake.root, address="0.0.0.0")[1]["RALLYPOINT_AUTH"] == "password"


# --- the pages, by role ---------------------------------------------------------------
def test_without_a_session_no_page_shows_any_data(lake, monkeypatch):
    monkeypatch.setenv("RALLYPOINT_AUTH", "password")
    for page in ("queue", "cluster", "account", "health", "team"):
        at = open_app(lake.lake, monkeypatch, page if page != "queue" else None)
        assert texts(at.title) == ["Sign-in required"], page
        assert not at.dataframe and not at.get("plotly_chart") and not at.sidebar.selectbox
        assert not any("r2-c" in t for t in texts(at.markdown) + texts(at.caption))


def test_an_expired_session_is_refused_on_the_next_interaction(lake, monkeypatch):
    at = open_app(lake.lake, monkeypatch, role="analyst")
    assert texts(at.title) == ["Triage queue"]
    with sqlite3.connect(lake.lake.triage_path) as con:
        con.execute("UPDATE sessions SET created_at = '2000-01-01T00:00:00+00:00'")
    at.run()
    assert texts(at.title) == ["Sign-in required"] and "session has expired" in warnings(at)[0]


def test_a_viewer_reads_but_cannot_decide_export_real_ids_or_manage_users(lake, monkeypatch):
    cluster = lake.clusters["mobilization"][0]
    at = open_app(lake.lake, monkeypatch, "cluster", role="viewer", run=NEW_RUN, cluster=cluster)
    assert texts(at.title) == [f"Cluster {cluster}"]
    assert not at.get("form_submit_button") and any("viewers read" in t for t in texts(at.info))
    at.query_params["tab"] = "Export"
    at.run()
    assert at.checkbox(key="export_pseudo").disabled and at.checkbox(key="export_pseudo").value
    at.switch_page(navigation.page("team")).run()
    assert any("only admins manage users" in t for t in texts(at.info)) and not at.get("form_submit_button")
    assert "Signed in as **viewer-1** (viewer)" in texts(at.sidebar.caption)


def test_an_admin_manages_users_and_sees_the_audit_log(lake, monkeypatch):
    at = open_app(lake.lake, monkeypatch, "team", role="admin")
    assert "hash chain is intact" in texts(at.success)[0]
    at.text_input(key="new_user_name").input("cy")
    at.selectbox(key="new_user_role").set_value("analyst")
    at.text_input(key="new_user_password").input(PASSWORD)
    next(b for b in at.get("form_submit_button") if b.label == "Add user").click().run()
    assert AccountStore(lake.lake.triage_path).user("cy")["role"] == "analyst"
    assert "user_added" in at.dataframe[-1].value["kind"].to_list()


def test_opening_an_account_is_logged_once_per_session(lake, monkeypatch):
    account = lake.high_profile_account
    at = open_app(lake.lake, monkeypatch, "account", role="analyst", account=account)
    at.run()
    views = TriageStore(lake.lake.triage_path).events(("view_account",))
    assert views.filter(views["actor"] == "analyst-1").select("subject", "run_id").rows() == [(account, NEW_RUN)]


def test_no_auth_says_so_on_every_page(lake, monkeypatch):
    for page in ("queue", "cluster", "account", "health", "team"):
        at = open_app(lake.lake, monkeypatch, page if page != "queue" else None)
        assert texts(at.warning)[0].startswith("Sign-in is off (--no-auth)"), page


def test_sign_in_as_helper_gives_distinct_names(lake, monkeypatch):
    assert sign_in_as(lake.lake, monkeypatch, "viewer", "vera") == "vera"


def test_the_container_serves_the_dashboard_behind_sign_in():
    dockerfile = (REPO / "Dockerfile").read_text()
    launcher = re.search(r"'exec (rallypoint dashboard [^']*)'", dockerfile)
    assert launcher and "--address 0.0.0.0" in launcher.group(1) and "auth" not in launcher.group(1)
    assert 'NEO4J_USER="${NEO4J_DASHBOARD_USER:-$NEO4J_USER}"' in dockerfile
    compose = (REPO / "docker-compose.yml").read_text()
    assert 'command: ["dashboard-container"]' in compose and "RALLYPOINT_AUTH" not in compose
    assert ".env" in (REPO / ".gitignore").read_text().split()


def test_identity_provider_accounts_map_to_roles_by_e_mail(store):
    store.add_user("ana@example.org", "analyst", None, "cli:root", method="oidc")
    assert store.oidc_identity("ana@example.org") == Identity("ana@example.org", "analyst", "oidc")
    assert store.oidc_identity("ana") is None and store.oidc_identity("eve@example.org") is None
    assert store.oidc_identity(None) is None
    with pytest.raises(SignInRefused):  # an identity-provider account has no password here
        store.sign_in("ana@example.org", PASSWORD, "a")
    store.disable("ana@example.org", "cli:root")
    assert store.oidc_identity("ana@example.org") is None


def test_oidc_mode_offers_the_identity_providers_sign_in_and_no_data(lake, monkeypatch):
    monkeypatch.setenv("RALLYPOINT_AUTH", "oidc")
    at = open_app(lake.lake, monkeypatch)
    assert texts(at.title) == ["Sign-in required"]
    assert [b.label for b in at.button] == ["Sign in with your organization"]
    assert not at.dataframe and not any("r2-c" in t for t in texts(at.markdown))


def test_the_case_pack_is_pseudonymized_for_an_analyst_and_a_choice_for_an_admin(tmp_path, monkeypatch):
    import io
    import json
    import zipfile

    import polars as pl

    fixture = write_fixture_lake(tmp_path / "lake")
    cluster = fixture.clusters["mobilization"][0]
    members = pl.from_arrow(fixture.lake.read_run_table(NEW_RUN, "members")).filter(pl.col("cluster_id") == cluster)
    monkeypatch.setenv("RALLYPOINT_PSEUDONYM_KEY", "a-unit-test-key-of-32-characters")

    def pack(at) -> tuple[str, dict]:
        at.button(key="casepack_prepare").click().run()
        assert not at.exception, [e.value for e in at.exception]
        download = at.session_state["casepack_ready"]
        with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
            names = archive.namelist()
            page = archive.read(next(n for n in names if n.endswith(".html"))).decode()
            manifest = json.loads(archive.read(next(n for n in names if n.endswith("manifest.json"))))
        files = {n.rsplit("/", 1)[-1] for n in names}
        assert set(manifest["sha256"]) <= files
        # the caption names the files the zip holds
        caption = next(re.sub(r"\\(.)", r"\1", c.value) for c in at.caption if c.value.startswith("One zip: "))
        assert files and all(f in caption for f in files), (files, caption)
        return page, manifest

    at = open_app(fixture.lake, monkeypatch, "cluster", role="analyst", run=NEW_RUN, cluster=cluster, tab="Export")
    assert not [r for r in at.radio if r.key == "casepack_accounts"]
    page, manifest = pack(at)
    assert manifest["pseudonymized"] is True and not any(a in page for a in members["account_id"])
    at = open_app(fixture.lake, monkeypatch, "cluster", role="admin", run=NEW_RUN, cluster=cluster, tab="Export")
    at.radio(key="casepack_accounts").set_value("plain").run()
    page, manifest = pack(at)
    assert manifest["pseudonymized"] is False and all(a in page for a in members["account_id"].head(20))
    assert any(b.label.startswith("Download ") for b in at.get("download_button"))
    exports = TriageStore(fixture.lake.triage_path).events(("export",))
    assert exports.select("actor", "actor_role", "subject").rows() == [("analyst-1", "analyst", cluster),
                                                                      ("admin-1", "admin", cluster)]
    assert [(json.loads(p)["format"], json.loads(p)["pseudonymized"]) for p in exports["payload"]] == [
        ("casepack", True), ("casepack", False)]
    with pytest.raises(RallypointError, match="pseudonymized accounts only"):
        from rallypoint.dashboard.exporting import export_case_pack
        export_case_pack(fixture.lake, NEW_RUN, cluster, False, Identity("vi", "viewer", "password"), pdf=False)
