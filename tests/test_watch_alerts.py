"""Alert rules from TOML, the append-only alert log, and a webhook that fails (retried, logged, never lost)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from rallypoint.errors import InputError
from rallypoint.lake import Lake
from rallypoint.watch.rules import RULE_KINDS, load_rules
from rallypoint.watch.sinks import WEBHOOK_LOG, AlertLog, Webhook, read_alerts


def _alert(i: int) -> dict:
    return {"alert_id": f"id{i}", "rule": "flagged", "sentence": f"New flagged network {i} <b>not html</b>",
            "numbers": {"score": 0.5}, "link": "http://localhost:8501/cluster?run=r&cluster=c", "track_id": "t00001",
            "run_id": "r", "cluster_id": "c", "as_of": "2023-01-01T00:00:00+00:00",
            "raised_at": "2023-01-01T00:00:00+00:00"}


# --- rules -------------------------------------------------------------------------
def test_the_shipped_rules_enable_every_rule_with_numbers():
    rules = load_rules()
    assert set(rules.settings) == set(RULE_KINDS)
    assert rules["growth"]["min_joined"] >= 1 and rules["date_near"]["days"] >= 1
    assert rules.cluster_link("r1", "c0003") == "http://localhost:8501/cluster?run=r1&cluster=c0003"


def test_a_rules_file_overrides_and_disables(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('dashboard_url = "https://triage.example.org/"\n[rules.date_near]\ndays = 7\n'
                    '[rules.burst]\nenabled = false\n')
    rules = load_rules(path)
    assert rules["date_near"]["days"] == 7 and not rules.enabled("burst")
    assert rules["growth"] == load_rules()["growth"]  # untouched rules keep their defaults
    assert rules.cluster_link("r", "c").startswith("https://triage.example.org/cluster?")


@pytest.mark.parametrize("text", [
    "[rules.growth\n",  # not TOML
    "[rules.grwoth]\nmin_joined = 3\n",  # unknown rule
    "[rules.growth]\nmin_joined = -1\n",  # below its least value
    "[rules.growth]\nmin_joined = 'ten'\n",  # not a number
    "[rules.date_near]\ndays = 2.5\n",  # not an integer
    "[rules.growth]\nmin_jioned = 3\n",  # unknown setting
    "dashboard_url = 'javascript:alert(1)'\n",
])
def test_a_bad_rules_file_is_one_clear_error(tmp_path, text):
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_rules(path)
    assert "\n" not in str(err.value)


# --- the log -------------------------------------------------------------------------
def test_the_log_is_append_only_and_writes_an_id_once(tmp_path):
    lake = Lake(tmp_path).ensure()
    log = AlertLog(lake)
    assert [a["alert_id"] for a in log.append([_alert(1), _alert(2)])] == ["id1", "id2"]
    before = log.path.read_bytes()
    assert [a["alert_id"] for a in log.append([_alert(2), _alert(3), _alert(3)])] == ["id3"]
    assert log.path.read_bytes().startswith(before)
    with log.path.open("a") as handle:  # a torn line from a crash mid-append
        handle.write('{"alert_id": "id9", "rule"')
    log.append([_alert(4)])
    assert read_alerts(lake)["alert_id"].to_list() == ["id1", "id2", "id3", "id4"]


# --- the webhook -------------------------------------------------------------------
class _Endpoint:
    """A local HTTP server answering 500 to the first ``fail`` POSTs, then 204."""

    def __init__(self, fail: int) -> None:
        self.fail, self.received, self.attempts = fail, [], 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.attempts += 1
                if endpoint.attempts <= endpoint.fail:
                    self.send_response(500)
                else:
                    endpoint.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _log(lake: Lake) -> list[dict]:
    return [json.loads(line) for line in (Path(lake.root) / WEBHOOK_LOG).read_text().splitlines()]


def test_a_failing_webhook_is_retried_then_delivered(tmp_path):
    lake = Lake(tmp_path).ensure()
    endpoint = _Endpoint(fail=2)
    pauses = []
    try:
        counts = Webhook(endpoint.url, attempts=4, pause_s=0.5).deliver(lake, [_alert(1)], sleep=pauses.append)
    finally:
        endpoint.close()
    assert counts == {"delivered": 1, "failed": 0}
    assert endpoint.attempts == 3 and endpoint.received == [_alert(1)]
    assert pauses == [0.5, 1.0]  # the pause doubles
    assert [(e["attempt"], e["outcome"]) for e in _log(lake)] == [(1, "retrying"), (2, "retrying"), (3, "delivered")]


def test_a_webhook_that_keeps_failing_is_logged_and_the_alert_sent_later(tmp_path):
    lake = Lake(tmp_path).ensure()
    endpoint = _Endpoint(fail=10**6)
    lines = []
    try:
        counts = Webhook(endpoint.url, attempts=3, pause_s=0).deliver(lake, [_alert(1), _alert(2)], say=lines.append)
    finally:
        endpoint.close()
    assert counts == {"delivered": 0, "failed": 2} and endpoint.attempts == 6
    failed = [e for e in _log(lake) if e["outcome"] == "failed"]
    assert [e["alert_id"] for e in failed] == ["id1", "id2"] and all("500" in e["error"] for e in failed)
    assert len(lines) == 2 and "pending" in lines[0]

    # the endpoint recovers: the next cycle sends both, and only those not delivered yet
    endpoint = _Endpoint(fail=0)
    try:
        hook = Webhook(endpoint.url, attempts=3, pause_s=0)
        assert hook.deliver(lake, [_alert(1), _alert(2)]) == {"delivered": 2, "failed": 0}
        assert hook.deliver(lake, [_alert(1), _alert(2), _alert(3)]) == {"delivered": 1, "failed": 0}
    finally:
        endpoint.close()
    assert [a["alert_id"] for a in endpoint.received] == ["id1", "id2", "id3"]


def test_an_unreachable_webhook_is_logged_not_raised(tmp_path):
    lake = Lake(tmp_path).ensure()
    endpoint = _Endpoint(fail=0)
    url = endpoint.url
    endpoint.close()  # nothing listens there now
    counts = Webhook(url, attempts=2, pause_s=0, timeout_s=2).deliver(lake, [_alert(1)])
    assert counts == {"delivered": 0, "failed": 1}
    assert _log(lake)[-1]["outcome"] == "failed"


def test_a_webhook_url_must_be_http(tmp_path):
    with pytest.raises(InputError):
        Webhook("file:///etc/passwd")
