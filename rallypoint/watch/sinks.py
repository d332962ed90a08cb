"""Where alerts go: an append-only JSON Lines log in the lake, and a webhook.

``LAKE/alerts.jsonl`` is the record: one alert per line, appended and flushed to
disk, never rewritten; an alert whose id is already in it is not written again,
which is what makes a restarted watcher's recomputed run silent. The webhook is
delivery on top: each alert is POSTed as JSON to the user's URL, retried with a
growing pause, and every attempt's outcome is appended to
``LAKE/watch/webhook.jsonl``. An alert the webhook never accepted stays pending
and is sent again at the next cycle, so a failing endpoint loses nothing.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from rallypoint.errors import InputError
from rallypoint.lake import Lake

__all__ = ["ALERTS_FILE", "WEBHOOK_LOG", "AlertLog", "Webhook", "read_alerts"]

ALERTS_FILE = "alerts.jsonl"
WEBHOOK_LOG = Path("watch") / "webhook.jsonl"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The file's JSON objects; a torn or foreign line (a crash mid-append) is skipped alone."""
    if not path.exists():
        return []
    out = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def _append_jsonl(path: Path, objects: Iterable[dict[str, Any]]) -> None:
    lines = "".join(json.dumps(o, ensure_ascii=False, default=str) + "\n" for o in objects)
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        if handle.tell() and not path.read_bytes().endswith(b"\n"):
            handle.write("\n")  # a torn last line from a crash stays alone on its line
        handle.write(lines)
        handle.flush()
        os.fsync(handle.fileno())


def read_alerts(lake: Lake) -> pl.DataFrame:
    """Every alert in ``alerts.jsonl``, oldest first (``numbers`` kept as JSON text)."""
    rows = [
        {"alert_id": str(a.get("alert_id")), "rule": str(a.get("rule")), "sentence": str(a.get("sentence")),
         "link": str(a.get("link")), "track_id": str(a.get("track_id")), "run_id": str(a.get("run_id")),
         "cluster_id": str(a.get("cluster_id")), "as_of": str(a.get("as_of")), "raised_at": str(a.get("raised_at")),
         "numbers": json.dumps(a.get("numbers"), ensure_ascii=False, default=str)}
        for a in _read_jsonl(Path(lake.root) / ALERTS_FILE) if a.get("alert_id")
    ]
    schema = dict.fromkeys(("alert_id", "rule", "sentence", "link", "track_id", "run_id", "cluster_id",
                            "as_of", "raised_at", "numbers"), pl.String)
    return pl.DataFrame(rows, schema=schema)


class AlertLog:
    """``LAKE/alerts.jsonl``: append-only; an id already in it is never written twice."""

    def __init__(self, lake: Lake) -> None:
        self.path = Path(lake.root) / ALERTS_FILE

    def ids(self) -> set[str]:
        return {str(a["alert_id"]) for a in _read_jsonl(self.path) if "alert_id" in a}

    def all(self) -> list[dict[str, Any]]:
        return [a for a in _read_jsonl(self.path) if "alert_id" in a]

    def append(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write the alerts not yet in the log; returns those written."""
        seen = self.ids()
        fresh = []
        for alert in alerts:
            if alert["alert_id"] not in seen:
                seen.add(alert["alert_id"])
                fresh.append(alert)
        _append_jsonl(self.path, fresh)
        return fresh


@dataclass(frozen=True)
class Webhook:
    """POST each alert as JSON to ``url``; ``attempts`` tries with a doubling pause from ``pause_s``."""

    url: str
    attempts: int = 4
    pause_s: float = 1.0
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise InputError(f"The webhook must be an http(s) address, not {self.url!r}.")
        if self.attempts < 1 or self.pause_s < 0 or self.timeout_s <= 0:
            raise InputError("The webhook needs at least one attempt, a pause of 0 s or more and a positive timeout.")

    def _post(self, alert: dict[str, Any]) -> None:
        body = json.dumps(alert, ensure_ascii=False, default=str).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "rallypoint-watch"})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            if not 200 <= response.status < 300:
                raise urllib.error.HTTPError(self.url, response.status, response.reason, response.headers, None)

    def deliver(self, lake: Lake, alerts: list[dict[str, Any]], say: Callable[[str], None] = lambda _: None,
                sleep: Callable[[float], None] = time.sleep) -> dict[str, int]:
        """Send the alerts the webhook has not accepted yet; log every attempt's outcome."""
        log_path = Path(lake.root) / WEBHOOK_LOG
        delivered = {e["alert_id"] for e in _read_jsonl(log_path) if e.get("outcome") == "delivered"}
        counts = {"delivered": 0, "failed": 0}
        for alert in alerts:
            if alert["alert_id"] in delivered:
                continue
            error = None
            for attempt in range(1, self.attempts + 1):
                try:
                    self._post(alert)
                    error = None
                except urllib.error.HTTPError as exc:
                    error = f"HTTP {exc.code} {exc.reason}"
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    error = f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}"
                outcome = "delivered" if error is None else ("failed" if attempt == self.attempts else "retrying")
                _append_jsonl(log_path, [{"alert_id": alert["alert_id"], "attempt": attempt, "outcome": outcome,
                                          "error": error, "at": datetime.now(UTC).isoformat()}])
                if error is None:
                    break
                if attempt < self.attempts:
                    sleep(self.pause_s * 2 ** (attempt - 1))
            if error is None:
                counts["delivered"] += 1
            else:
                counts["failed"] += 1
                say(f"webhook: alert {alert['alert_id']} not accepted after {self.attempts} attempts ({error}); "
                    "it stays pending and is sent again at the next cycle")
        return counts
