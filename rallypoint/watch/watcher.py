"""The watcher: detect over a sliding horizon whenever the lake changes, track, alert.

One :meth:`Watcher.cycle`:

1. notices what changed: a fingerprint of the committed interaction files (names,
   sizes, modification times); nothing new, nothing to do;
2. runs ``detect`` (:func:`rallypoint.detectors.pipeline.detect_run`, the library
   function the ``detect`` command calls) over ``[end - horizon, end)``, where
   ``end`` is the day after the newest partition (or the replay's ``as_of``);
3. links the run to the one before (:mod:`rallypoint.watch.tracks`) and appends its
   rows to ``LAKE/tracks.parquet``;
4. applies the rules (:mod:`rallypoint.watch.alerts`) and appends new alerts to
   ``LAKE/alerts.jsonl``, then sends every alert the webhook has not accepted yet.

State lives in the lake (``LAKE/watch/state.json``, written atomically). Before a
detect starts, the run's id is recorded as *pending*; a watcher killed at any step
finds it on restart and finishes that run's steps (each is idempotent: a run's
track rows replace themselves, alert ids are deterministic and the log drops one it
holds), so a restart never raises an alert twice. A run whose detect never
finished is discarded, as ``detect`` discards it, and the cycle starts over.

Each detect is a full one over the horizon: co-action over unchanged partitions is
not reused (docs/watch.md says why and what that costs).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from rallypoint.detectors.options import DetectOptions
from rallypoint.errors import InputError, RallypointError
from rallypoint.lake import Lake, write_json_atomic
from rallypoint.watch.alerts import run_alerts
from rallypoint.watch.rules import Rules, load_rules
from rallypoint.watch.sinks import AlertLog, Webhook
from rallypoint.watch.tracks import TrackingOptions, append_tracks, link_run, read_tracks

__all__ = ["STATE_FILE", "CycleResult", "WatchOptions", "Watcher", "parse_duration"]

STATE_FILE = Path("watch") / "state.json"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | timedelta, name: str) -> timedelta:
    """``90s``, ``15m``, ``6h``, ``14d`` as a timedelta; anything else is one clear error."""
    if isinstance(text, timedelta):
        value = text
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", str(text))
        if not match:
            raise InputError(f"--{name} must be a duration such as 90s, 15m, 6h or 14d, not {text!r}.")
        value = timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    if value <= timedelta(0):
        raise InputError(f"--{name} must be longer than zero, not {text!r}.")
    return value


@dataclass(frozen=True)
class WatchOptions:
    """Everything a watcher needs, validated once."""

    horizon: timedelta = timedelta(days=14)
    every: timedelta = timedelta(minutes=15)
    rules: Rules = field(default_factory=load_rules)
    webhook: Webhook | None = None
    tracking: TrackingOptions = field(default_factory=TrackingOptions)
    #: every cycle's detect options (default: detect's own, with the loose groups, which early
    #: warning needs and a batch run may spare); since, until and the run's name are the cycle's
    detect: DetectOptions = field(default_factory=lambda: DetectOptions(loose_groups=True))

    @classmethod
    def from_cli(cls, every: str = "15m", horizon: str = "14d", rules: str | Path | None = None,
                 webhook: str | None = None, **detect: Any) -> WatchOptions:
        return cls(horizon=parse_duration(horizon, "horizon"), every=parse_duration(every, "every"),
                   rules=load_rules(rules), webhook=Webhook(webhook) if webhook else None,
                   detect=DetectOptions(**{"loose_groups": True, **detect}))


@dataclass
class CycleResult:
    run_id: str
    as_of: datetime
    clusters: int
    flagged: int
    alerts: list[dict[str, Any]]
    resumed: bool = False

    def render(self) -> str:
        head = (f"run {self.run_id}{' (resumed)' if self.resumed else ''}: data to {self.as_of:%Y-%m-%d %H:%M} UTC, "
                f"{self.clusters} clusters, {self.flagged} flagged, {len(self.alerts)} new alert(s)")
        return "\n".join([head, *(f"  ALERT [{a['rule']}] {a['sentence']} {a['link']}" for a in self.alerts)])


class Watcher:
    """Watches one lake; ``say`` receives one line per thing it does."""

    def __init__(self, lake: str | Path | Lake, options: WatchOptions | None = None,
                 say: Callable[[str], None] = lambda _: None, show_progress: bool | None = False) -> None:
        self.lake = lake if isinstance(lake, Lake) else Lake(lake)
        self.lake.require()
        self.options = options or WatchOptions()
        self.say = say
        self.show_progress = show_progress
        self.state_path = Path(self.lake.root) / STATE_FILE

    # --- state ------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        import json

        if not self.state_path.exists():
            return {}
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            raise InputError(f"The watch state {self.state_path} is unreadable; move it away to start afresh.") from None

    def _save(self, **changes: Any) -> dict[str, Any]:
        state = self.state() | changes
        write_json_atomic(self.state_path, state)
        return state

    def fingerprint(self) -> str:
        """Changes whenever an ingest commits, rewrites or removes an interaction file."""
        digest = hashlib.sha256()
        for f in self.lake.interaction_files():
            stat = f.stat()
            digest.update(f"{f.relative_to(self.lake.interactions_dir)}\x1f{stat.st_size}\x1f{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()

    def _horizon_end(self) -> datetime:
        days = [f.parent.name.removeprefix("date=") for f in self.lake.interaction_files()]
        if not days:
            raise InputError(f"The lake at {self.lake.root} holds no interactions to watch yet.")
        return datetime.strptime(max(days), "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)

    def _next_run_id(self, state: dict[str, Any]) -> str:
        serial = int(state.get("serial", 0)) + 1
        # the time first, so `--run latest` is the newest; the serial orders runs of the same second
        return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-watch{serial:06d}"

    # --- one cycle ----------------------------------------------------------------
    def cycle(self, as_of: datetime | None = None) -> CycleResult | None:
        """Detect, track and alert once if the lake changed (always, with ``as_of``); None if nothing new."""
        resumed = self.resume()
        state = self.state()
        fingerprint = self.fingerprint() + (f"@{as_of.isoformat()}" if as_of else "")
        if as_of is None and fingerprint == state.get("fingerprint"):
            return resumed
        end = as_of or self._horizon_end()
        since = end - self.options.horizon
        run_id = self._next_run_id(state)
        self._save(pending={"run_id": run_id, "fingerprint": fingerprint}, serial=int(state.get("serial", 0)) + 1)
        self.say(f"detecting over {since:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC as run {run_id}")
        from rallypoint.detectors.pipeline import detect_run

        detect_run(self.lake, self.options.detect, since=since, until=as_of, run_id=run_id,
                   show_progress=self.show_progress)
        return self._finish(run_id, fingerprint)

    def resume(self) -> CycleResult | None:
        """Finish the steps of a run a killed watcher left pending; discard it if its detect never ended."""
        pending = self.state().get("pending")
        if not pending:
            return None
        run_id = pending["run_id"]
        if not (self.lake.runs_dir / run_id / "run.json").exists():
            self.say(f"run {run_id} was interrupted before its detect finished; it is discarded")
            self.lake.discard_unfinished_runs()
            self._save(pending=None)
            return None
        self.say(f"resuming run {run_id}: its detect had finished, linking and alerting")
        result = self._finish(run_id, pending["fingerprint"])
        result.resumed = True
        return result

    def _finish(self, run_id: str, fingerprint: str) -> CycleResult:
        summary = self.lake.read_run_json(run_id)
        until = summary["parameters"].get("until")
        as_of = datetime.fromisoformat(until) if until else datetime.fromisoformat(summary["input"]["last_ts"])
        clusters = pl.from_arrow(self.lake.read_run_table(run_id, "clusters"))
        members = pl.from_arrow(self.lake.read_run_table(run_id, "members"))

        tracks = read_tracks(self.lake)
        earlier = tracks.filter(pl.col("run_id") != run_id)
        rows = link_run(earlier, run_id, as_of, clusters, members, self.options.tracking)
        append_tracks(self.lake, rows)
        previous_run = earlier.sort("as_of", "run_id")["run_id"][-1] if earlier.height else None
        previous = earlier.filter(pl.col("run_id") == previous_run) if previous_run else earlier.clear()
        previous_clusters = (pl.from_arrow(self.lake.read_run_table(previous_run, "clusters"))
                             if previous_run and (self.lake.runs_dir / previous_run / "run.json").exists()
                             else clusters.clear())
        ever_flagged = set(earlier.filter(pl.col("flagged"))["track_id"].to_list())
        # a flagged track's birth, split or merge is worth a line; unflagged ones churn every run
        notable = rows.filter((pl.col("event") != "continued") & pl.col("flagged"))
        for e in notable.to_dicts():
            related = f" ({'from' if e['event'] == 'split' else 'with'} {', '.join(e['related_tracks'])})" \
                if e["related_tracks"] else ""
            self.say(f"track {e['track_id']}: {e['event']}{related}, cluster {e['cluster_id']}, "
                     f"{e['n_accounts']} accounts, score {e['score']:.2f}")

        alerts = run_alerts(self.options.rules, rows, previous, clusters, members, previous_clusters,
                            ever_flagged, float(summary.get("threshold", 0.0)))
        log = AlertLog(self.lake)
        written = log.append(alerts)
        if self.options.webhook is not None:
            counts = self.options.webhook.deliver(self.lake, log.all(), say=self.say)
            if counts["delivered"] or counts["failed"]:
                self.say(f"webhook: {counts['delivered']} delivered, {counts['failed']} pending")
        self._save(pending=None, fingerprint=fingerprint, last_run=run_id, as_of=as_of.isoformat())
        result = CycleResult(run_id=run_id, as_of=as_of, clusters=clusters.height,
                             flagged=int(clusters["flagged"].sum()), alerts=written)
        self.say(result.render())
        return result

    # --- the loop -----------------------------------------------------------------
    def run_forever(self, stop: threading.Event) -> None:
        """Cycle now and then every ``options.every`` until ``stop`` is set (SIGTERM sets it)."""
        self.say(f"watching {self.lake.root} every {self.options.every}, horizon {self.options.horizon}")
        while not stop.is_set():
            try:
                if self.cycle() is None:
                    self.say("no new partitions")
            except RallypointError as exc:  # e.g. no data in the horizon yet: said, and tried again next time
                self.say(f"this cycle failed: {exc}")
            if stop.wait(self.options.every.total_seconds()):
                break
        self.say("stopped")
