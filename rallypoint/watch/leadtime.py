"""Lead time: how long before its event day each planted campaign first alerted.

What it computes
    :func:`replay_lead_times` replays a simulated world through the watcher as if its
    data arrived over time: every ``step`` (default 6 hours) from the first day, one
    :meth:`~rallypoint.watch.watcher.Watcher.cycle` sees only the records before that
    moment, over the sliding horizon. The replay runs in a scratch lake whose
    interactions are the given lake's (a symbolic link), so the given lake gets no runs,
    tracks or alerts.

    Each alert is attributed to the campaign most of its cluster's members belong to
    (``labels.csv``; unlisted accounts are organic). A campaign's *lead time* is the
    hours from its first alert's moment to 00:00 UTC of its event day (``world.json``'s
    ``event_date``, written by ``rallypoint simulate``): positive is early. Loud
    mobilization campaigns must lead by at least 72 hours, stealthy ones by 24
    (:data:`REQUIRED_LEAD_HOURS`); every alert on a mostly organic cluster is listed.

Complexity
    One full detect per step: ``days × 24 / step_hours`` detects over the horizon.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from rallypoint.detectors.evaluate import read_labels
from rallypoint.errors import InputError
from rallypoint.lake import Lake
from rallypoint.watch.rules import load_rules
from rallypoint.watch.sinks import read_alerts
from rallypoint.watch.tracks import read_tracks
from rallypoint.watch.watcher import Watcher, WatchOptions, parse_duration

__all__ = ["REQUIRED_LEAD_HOURS", "ORGANIC", "replay_lead_times", "render_lead_times"]

#: The least lead a mobilization campaign's first alert must have, by loudness (hours).
REQUIRED_LEAD_HOURS = {"loud": 72.0, "stealthy": 24.0}
ORGANIC = "organic"


def _world(path: Path) -> dict[str, Any]:
    try:
        world = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read the world's metadata {path} (rallypoint simulate writes world.json): {exc}.") \
            from None
    if not isinstance(world, dict) or not isinstance(world.get("campaigns"), list):
        raise InputError(f"{path} has no list of campaigns; it is not a world.json from rallypoint simulate.")
    return world


def alert_campaigns(alerts: pl.DataFrame, tracks: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """``alerts`` with the campaign (or ``organic``) most of each alert's cluster belongs to."""
    members = tracks.select("run_id", "cluster_id", "members").explode("members").rename({"members": "account_id"})
    votes = (
        alerts.select("alert_id", "run_id", "cluster_id")
        .join(members, on=["run_id", "cluster_id"])
        .join(labels.select("account_id", "campaign_id"), on="account_id", how="left")
        .with_columns(pl.col("campaign_id").fill_null(ORGANIC))
        .group_by("alert_id", "campaign_id").agg(pl.len().alias("n"))
        .sort(["alert_id", "n", "campaign_id"], descending=[False, True, False])
        .group_by("alert_id", maintain_order=True).first()
    )
    return alerts.join(votes.select("alert_id", "campaign_id"), on="alert_id", how="left").with_columns(
        pl.col("as_of").str.to_datetime(time_zone="UTC"))


def replay_lead_times(
    lake: str | Path | Lake,
    labels: str | Path,
    world: str | Path | None = None,
    step: str = "6h",
    horizon: str = "14d",
    rules: str | Path | None = None,
    keep: str | Path | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Replay the lake's world step by step through the watcher; per-campaign lead times."""
    source = lake if isinstance(lake, Lake) else Lake(lake)
    source.require()
    labels_path = Path(labels)
    world_meta = _world(Path(world) if world else labels_path.with_name("world.json"))
    label_frame = read_labels(labels_path)
    step_td, horizon_td = parse_duration(step, "step"), parse_duration(horizon, "horizon")
    days = sorted({f.parent.name.removeprefix("date=") for f in source.interaction_files()})
    if not days:
        raise InputError(f"The lake at {source.root} holds no interactions to replay.")
    start = datetime.strptime(days[0], "%Y-%m-%d").replace(tzinfo=UTC)
    end = datetime.strptime(days[-1], "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)

    scratch = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="rallypoint-replay-"))
    if keep and scratch.exists() and any(scratch.iterdir()):
        raise InputError(f"The replay folder {scratch} is not empty; give a new or empty folder.")
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        (scratch / "interactions").symlink_to(source.interactions_dir.resolve(), target_is_directory=True)
        watcher = Watcher(scratch, WatchOptions(horizon=horizon_td, rules=load_rules(rules)), say=say)
        moment = start + step_td
        while moment <= end:
            watcher.cycle(as_of=moment)
            moment += step_td
        replay = Lake(scratch)
        alerts = alert_campaigns(read_alerts(replay), read_tracks(replay), label_frame)
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)

    first = alerts.sort("as_of").group_by("campaign_id", maintain_order=True).first()
    by_campaign = {r["campaign_id"]: r for r in first.to_dicts()}
    campaigns = []
    for c in world_meta["campaigns"]:
        hit = by_campaign.get(c["campaign_id"])
        event = c.get("event_date")
        lead = None
        if hit is not None and event:
            lead = (datetime.fromisoformat(event).replace(tzinfo=UTC) - hit["as_of"]).total_seconds() / 3600
        required = REQUIRED_LEAD_HOURS.get(c.get("loudness")) if c.get("kind") == "mobilization" else None
        campaigns.append({
            "campaign_id": c["campaign_id"], "kind": c.get("kind"), "loudness": c.get("loudness"),
            "event_date": event, "first_alert": hit["as_of"].isoformat() if hit else None,
            "lead_hours": lead, "required_hours": required,
            "met": None if required is None else (lead is not None and lead >= required),
            "rule": hit["rule"] if hit else None, "sentence": hit["sentence"] if hit else None,
        })
    organic = alerts.filter(pl.col("campaign_id") == ORGANIC).sort("as_of")
    return {
        "replay": {"start": start.isoformat(), "end": end.isoformat(), "step_hours": step_td.total_seconds() / 3600,
                   "horizon_days": horizon_td.total_seconds() / 86400, "alerts": alerts.height,
                   "kept_in": str(scratch) if keep else None},
        "campaigns": campaigns,
        "organic_alerts": [{"as_of": r["as_of"].isoformat(), "rule": r["rule"], "track_id": r["track_id"],
                            "sentence": r["sentence"]} for r in organic.to_dicts()],
    }


def render_lead_times(report: dict[str, Any]) -> str:
    """The report as lines a person reads."""
    r = report["replay"]
    lines = [f"replayed {r['start'][:16]} .. {r['end'][:16]} every {r['step_hours']:g} h "
             f"(horizon {r['horizon_days']:g} days): {r['alerts']} alerts",
             f"{'campaign':<18} {'kind':<22} {'event day':<11} {'first alert (UTC)':<17} {'lead h':>7} {'needs':>6}  met"]
    for c in report["campaigns"]:
        kind = f"{c['kind']}/{c['loudness']}" if c["loudness"] else str(c["kind"])
        lead = f"{c['lead_hours']:.0f}" if c["lead_hours"] is not None else "-"
        needs = f"{c['required_hours']:.0f}" if c["required_hours"] is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[c["met"]]
        alerted = (c["first_alert"] or "never")[:16]
        lines.append(f"{c['campaign_id']:<18} {kind:<22} {c['event_date'] or '-':<11} {alerted:<17} {lead:>7} {needs:>6}  {met}")
    organic = report["organic_alerts"]
    lines.append(f"organic clusters that alerted: {len(organic)}")
    lines += [f"  {o['as_of'][:16]} [{o['rule']}] {o['sentence']}" for o in organic]
    return "\n".join(lines)
