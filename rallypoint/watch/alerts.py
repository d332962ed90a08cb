"""Alerts: what changed about a flagged network between two runs, said in one sentence.

What it computes
    :func:`run_alerts` applies the enabled :class:`~rallypoint.watch.rules.Rules` to one
    watched run, given its track rows (:mod:`rallypoint.watch.tracks`) and the rows of
    the run before. Only *flagged* clusters raise alerts. Each alert is a sentence with
    its numbers, those numbers again as fields, and the link to the cluster page.

    An alert's id is a hash of what it is about — the rule, the track and the fact
    (the date named, the account that joined, the burst's start, the run it grew in) —
    so the same fact seen again in a later run, or by a restarted watcher recomputing a
    run, has the same id, and a sink that already holds the id drops it.

Complexity
    Linear in the run's flagged clusters and their members (hash joins; the per-cluster
    work is a handful of list comparisons on a few flagged clusters).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from rallypoint.watch.rules import Rules

__all__ = ["ALERT_FIELDS", "alert_id", "run_alerts"]

#: The fields of one alert, as written to ``alerts.jsonl`` and sent to the webhook.
ALERT_FIELDS = ("alert_id", "rule", "sentence", "numbers", "link", "track_id", "run_id", "cluster_id",
                "as_of", "raised_at")


def alert_id(rule: str, track_id: str, fact: str) -> str:
    return hashlib.sha256(f"{rule}\x1f{track_id}\x1f{fact}".encode()).hexdigest()[:20]


def _when(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _cluster_words(row: dict[str, Any]) -> str:
    return f"cluster {row['cluster_id']}, {row['n_accounts']} accounts, score {row['score']:.2f}"


def _date_place_pairs(mobilization: dict | None) -> list[tuple[str | None, str | None, int]]:
    return [(p["date"], p["place"], int(p["count"] or 0)) for p in (mobilization or {}).get("top_date_places") or []]


def _place_of(mobilization: dict | None, day: str) -> str | None:
    for d, place, _ in _date_place_pairs(mobilization):
        if d == day and place:
            return place
    return None


def run_alerts(
    rules: Rules,
    rows: pl.DataFrame,
    previous: pl.DataFrame,
    clusters: pl.DataFrame,
    members: pl.DataFrame,
    previous_clusters: pl.DataFrame,
    ever_flagged: set[str],
    threshold: float,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The alerts of one run, oldest rule first.

    ``rows`` are the run's track rows; ``previous`` the rows of the run before (empty on
    the first); ``clusters`` and ``members`` the run's tables; ``previous_clusters`` the
    run before's clusters; ``ever_flagged`` the tracks flagged in any earlier run.
    """
    raised_at = (now or datetime.now(UTC)).isoformat()
    flagged = rows.filter(pl.col("flagged")).join(
        clusters.select("cluster_id", "mobilization", "bursts"), on="cluster_id", how="left")
    if flagged.height == 0:
        return []
    before = previous.join(previous_clusters.select("cluster_id", "mobilization"), on="cluster_id", how="left") \
        if previous.height else previous.with_columns(pl.lit(None).alias("mobilization"))
    before_by_track = {r["track_id"]: r for r in before.to_dicts()}
    high = members.filter(pl.col("high_profile").fill_null(False)).select(
        "cluster_id", "account_id", "account_name")
    alerts: list[dict[str, Any]] = []

    def add(rule: str, row: dict, fact: str, sentence: str, numbers: dict[str, Any]) -> None:
        alerts.append({
            "alert_id": alert_id(rule, row["track_id"], fact), "rule": rule, "sentence": sentence,
            "numbers": numbers, "link": rules.cluster_link(row["run_id"], row["cluster_id"]),
            "track_id": row["track_id"], "run_id": row["run_id"], "cluster_id": row["cluster_id"],
            "as_of": row["as_of"].isoformat(), "raised_at": raised_at,
        })

    for row in flagged.sort("score", descending=True).to_dicts():
        track, mob = row["track_id"], row["mobilization"] or {}
        prior = before_by_track.get(track)
        first_flag = track not in ever_flagged
        dates, places = list(mob.get("dates") or []), list(mob.get("places") or [])
        if rules.enabled("flagged") and first_flag:
            # the two most named pairs with a date and a place (else what there is), each said once
            pairs = _date_place_pairs(mob)
            pairs = [p for p in pairs if p[0] and p[1]] or pairs
            named = list(dict.fromkeys(" at ".join(x for x in (d, p) if x) for d, p, _ in pairs))[:2]
            called = f"; its calls name {' and '.join(named)}" if named else ""
            n_high = high.filter(pl.col("cluster_id") == row["cluster_id"]).height
            add("flagged", row, "flagged",
                f"New flagged network: {_cluster_words(row)} (threshold {threshold:.2f}), track {track}"
                f"{called}; {n_high} high-profile account{'s' if n_high != 1 else ''} in it.",
                {"score": row["score"], "threshold": threshold, "n_accounts": row["n_accounts"],
                 "dates": dates, "places": places, "high_profile": n_high})
        if rules.enabled("date_near"):
            days = rules["date_near"]["days"]
            today = row["as_of"].astimezone(UTC).date()
            for day in dates:
                try:
                    ahead = (date.fromisoformat(day) - today).days
                except ValueError:
                    continue
                if 0 <= ahead <= days:
                    place = _place_of(mob, day)
                    add("date_near", row, f"date:{day}",
                        f"Track {track} ({_cluster_words(row)}) calls people to {day}"
                        f"{f' at {place}' if place else ''}, {ahead} day{'s' if ahead != 1 else ''} after its data "
                        f"ends ({_when(row['as_of'])}).",
                        {"date": day, "place": place, "days_ahead": ahead, "rule_days": days,
                         "score": row["score"], "n_accounts": row["n_accounts"]})
        if prior is None or first_flag:
            continue  # the rules below compare with the track's earlier, flagged self
        if rules.enabled("growth"):
            settings = rules["growth"]
            joined, growth = int(row["joined"] or 0), float(row["growth"] or 0.0)
            if joined >= settings["min_joined"] and growth >= settings["min_growth"]:
                add("growth", row, f"as_of:{row['as_of'].isoformat()}",
                    f"Track {track} grew from {prior['n_accounts']} to {row['n_accounts']} accounts "
                    f"(+{100 * growth:.0f} %, {joined} joined, {row['left']} left) since run {prior['run_id']}; "
                    f"now {_cluster_words(row)}.",
                    {"before": prior["n_accounts"], "after": row["n_accounts"], "joined": joined,
                     "left": row["left"], "growth": growth, "min_joined": settings["min_joined"],
                     "min_growth": settings["min_growth"]})
        if rules.enabled("burst"):
            level = rules["burst"]["min_level"]
            for burst in row["bursts"] or []:
                if burst["start"] is not None and burst["start"] >= prior["as_of"] and burst["level"] >= level:
                    add("burst", row, f"burst:{burst['start'].isoformat()}",
                        f"Track {track} ({_cluster_words(row)}) burst at level {burst['level']} from "
                        f"{_when(burst['start'])} to {_when(burst['end'])}, after the previous run's data ended.",
                        {"level": burst["level"], "start": burst["start"].isoformat(),
                         "end": burst["end"].isoformat(), "min_level": level})
        if rules.enabled("new_date_place"):
            old = prior.get("mobilization") or {}
            new_dates = sorted(set(dates) - set(old.get("dates") or []))
            new_places = sorted(set(places) - set(old.get("places") or []))
            for kind, values in (("date", new_dates), ("place", new_places)):
                for value in values:
                    add("new_date_place", row, f"{kind}:{value}",
                        f"Track {track} ({_cluster_words(row)}) names a new {kind} in its calls: {value} "
                        f"(its calls in run {prior['run_id']} named {len(old.get(kind + 's') or [])} "
                        f"{kind}{'s' if len(old.get(kind + 's') or []) != 1 else ''}).",
                        {kind: value, f"earlier_{kind}s": list(old.get(kind + "s") or [])})
        if rules.enabled("high_profile"):
            joined_ids = set(row["members"]) - set(prior["members"])
            for account in high.filter((pl.col("cluster_id") == row["cluster_id"])
                                       & pl.col("account_id").is_in(list(joined_ids))).to_dicts():
                name = account["account_name"] or account["account_id"]
                add("high_profile", row, f"account:{account['account_id']}",
                    f"High-profile account {name} (id {account['account_id']}) joined track {track} "
                    f"({_cluster_words(row)}).",
                    {"account_id": account["account_id"], "account_name": account["account_name"]})
    return alerts
