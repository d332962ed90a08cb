"""Plan and stream a whole synthetic world: organic life, look-alikes, planted campaigns.

:func:`simulate_world` is what ``rallypoint simulate`` calls. It plans every
account first (memory linear in accounts), then streams the records group by group
in batches of at most ``chunk_rows`` records (memory bounded by the batch, never by
the world), writes them as ``interactions-NNNN.jsonl.gz`` shards, and finally
writes ``labels.csv`` (the ground truth) and ``world.json`` (what was planted,
group by group, so tests can check each one). A seed always gives the same files.

The record budget is ``records`` if given, else ``accounts * days`` (one action per
account per day on average). Look-alike groups take fixed shares of the budget;
campaigns have sizes that grow with the square root of the population; everyday
organic activity fills the rest.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from rallypoint.errors import RallypointError
from rallypoint.schema import ACTIONS
from rallypoint.simulate.accounts import AccountBook
from rallypoint.simulate.campaigns import parse_mix, plan_campaign
from rallypoint.simulate.context import WorldContext
from rallypoint.simulate.events import Batch, batch_frame, split_batch
from rallypoint.simulate.lookalikes import (
    ChainMessages,
    Fandom,
    LawfulProtests,
    LiveEvents,
    NewsDesk,
    Politicians,
    ViralPosts,
    VolunteerDays,
)
from rallypoint.simulate.organic import OrganicPopulation
from rallypoint.simulate.quiet import CharityDrive, NewcomerWave, SupportersClub
from rallypoint.simulate.writer import SHARD_PATTERN, ShardedJsonlWriter

MIN_ACCOUNTS = 300
#: Records per generated batch: peak memory grows with it, and larger batches gain nothing.
CHUNK_ROWS = 50_000
RECORDS_PER_ACCOUNT_DAY = 1.0


class World:
    """A planned world: its accounts, its groups, and a stream of its record batches."""

    def __init__(self, *, accounts: int = 5000, days: int = 14, seed: int = 1, records: int | None = None,
                 campaigns: str = "default") -> None:
        _check(accounts, days, seed, records)
        specs = parse_mix(campaigns)
        budget = int(records) if records is not None else int(accounts * days * RECORDS_PER_ACCOUNT_DAY)
        book = AccountBook()
        ctx = WorldContext(seed=seed, days=days, budget=budget,
                           member_scale=float(np.clip(math.sqrt(accounts / 5000), 0.5, 8.0)), organic=None)
        ctx.organic = OrganicPopulation(book, ctx.rng_for("plan", "organic"), accounts, ctx.start)
        self.viral = ViralPosts(ctx, book, ctx.rng_for("plan", "viral"))
        self.news = NewsDesk(ctx, book, ctx.rng_for("plan", "news"))
        self.fandom = Fandom(ctx, book, ctx.rng_for("plan", "fandom"))
        self.protests = LawfulProtests(ctx, book, ctx.rng_for("plan", "protests"))
        self.politicians = Politicians(ctx, book, ctx.rng_for("plan", "politicians"))
        self.live = LiveEvents(ctx, book, ctx.rng_for("plan", "live"))
        self.charity = CharityDrive(ctx, book, ctx.rng_for("plan", "charity"))
        self.newcomers = NewcomerWave(ctx, book, ctx.rng_for("plan", "newcomers"))
        self.supporters = SupportersClub(ctx, book, ctx.rng_for("plan", "supporters"))
        self.campaigns = [plan_campaign(ctx, book, spec) for spec in specs]
        # planned after the campaigns, so that adding it left their accounts as they were
        self.volunteers = VolunteerDays(ctx, book, ctx.rng_for("plan", "volunteers"))
        self.chains = ChainMessages(ctx, book, ctx.rng_for("plan", "chains"))
        ctx.accounts = book.freeze(ctx.rng_for("plan", "account-ids"))
        ctx.organic.finish(ctx.accounts)
        self.ctx = ctx
        self.campaign_mix = campaigns
        self.records_generated = 0

    def batches(self, chunk_rows: int = CHUNK_ROWS) -> Iterator[Batch]:
        """Every record of the world, in batches of at most ``chunk_rows`` rows."""
        ctx = self.ctx
        ctx.chunk_rows = chunk_rows
        groups = [self.viral, self.news, self.fandom, self.protests, self.politicians, self.live, self.charity,
                  self.newcomers, self.supporters, self.volunteers, self.chains]
        sources = [g.batches(ctx) for g in groups] + [c.batches(ctx) for c in self.campaigns]
        for source in sources:
            for batch in source:
                for part in split_batch(batch, chunk_rows):
                    self.records_generated += len(part)
                    yield part
        remaining = max(0, ctx.budget - self.records_generated)
        if remaining:
            for batch in ctx.organic.batches(ctx.accounts, ctx.ids, remaining, chunk_rows, ctx.start, ctx.days,
                                             ctx.rng_for):
                for part in split_batch(batch, chunk_rows):
                    self.records_generated += len(part)
                    yield part

    def frames(self, chunk_rows: int = CHUNK_ROWS) -> Iterator[pl.DataFrame]:
        """The world's canonical records as JSON-ready polars frames of <= ``chunk_rows`` rows."""
        for batch in self.batches(chunk_rows):
            yield batch_frame(batch, self.ctx.accounts)

    def labels(self) -> list[tuple[str, str, str]]:
        return [row for c in self.campaigns for row in c.labels(self.ctx)]

    def manifest(self) -> dict:
        """What was planted, group by group (complete after :meth:`batches` ran)."""
        ctx = self.ctx
        return {
            "seed": ctx.seed, "days": ctx.days, "accounts": len(ctx.organic.indices),
            "accounts_total": len(ctx.accounts), "records_target": ctx.budget,
            "start": _iso(ctx.start), "end": _iso(ctx.end), "campaign_mix": self.campaign_mix,
            "campaigns": [c.manifest(ctx) for c in self.campaigns],
            "lookalikes": {
                "viral_posts": self.viral.manifest(ctx),
                "news_outlets": self.news.manifest_outlets(ctx),
                "news_aggregator_bots": self.news.manifest_bots(ctx),
                "fandoms": self.fandom.manifest(ctx),
                "lawful_protests": self.protests.manifest(ctx),
                "politicians": self.politicians.manifest(ctx),
                "live_events": self.live.manifest(ctx),
                "charity_drives": self.charity.manifest(ctx),
                "newcomer_waves": self.newcomers.manifest(ctx),
                "supporters_clubs": self.supporters.manifest(ctx),
                "volunteer_days": self.volunteers.manifest(ctx),
                "chain_messages": self.chains.manifest(ctx),
            },
        }


def _check(accounts: int, days: int, seed: int, records: int | None) -> None:
    if not isinstance(accounts, int | np.integer) or accounts < MIN_ACCOUNTS:
        raise RallypointError(f"--accounts must be a whole number of at least {MIN_ACCOUNTS}, got {accounts!r}.")
    if not isinstance(days, int | np.integer) or not 2 <= days <= 366:
        raise RallypointError(f"--days must be between 2 and 366, got {days!r}.")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise RallypointError(f"--seed must be a non-negative whole number, got {seed!r}.")
    if records is not None and (not isinstance(records, int | np.integer) or records < 1000):
        raise RallypointError(f"--records must be at least 1000 when given, got {records!r}.")


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(TextColumn("simulate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, disable=not console.is_terminal)


def simulate_world(out: Path, *, accounts: int = 5000, days: int = 14, seed: int = 1, records: int | None = None,
                   campaigns: str = "default", chunk_rows: int = CHUNK_ROWS, records_per_file: int = 1_000_000) -> dict:
    """Write a synthetic world with planted campaigns to ``out``; return a summary.

    Parameters: ``accounts`` organic accounts (campaign, outlet, bot and politician
    accounts come on top); ``days`` of activity ending 2023-01-09 00:00 UTC; ``seed``;
    ``records`` the approximate number of records (default ``accounts * days``);
    ``campaigns`` "default", "none" or a comma list of kinds/loudness/languages;
    ``chunk_rows`` the largest batch held in memory; ``records_per_file`` the shard size.

    Writes ``interactions-NNNN.jsonl.gz``, ``labels.csv`` and ``world.json``.
    Time and memory: O(records) time, memory O(accounts + chunk_rows).
    """
    out = Path(out)
    world = World(accounts=accounts, days=days, seed=seed, records=records, campaigns=campaigns)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RallypointError(f"cannot create the output folder {out}: {exc.strerror}.") from exc
    for stale in [*out.glob(SHARD_PATTERN), *out.glob(".interactions-*.tmp")]:
        stale.unlink()
    writer = ShardedJsonlWriter(out, records_per_file=records_per_file)
    per_action: Counter[str] = Counter()
    try:
        with _progress() as progress:
            task = progress.add_task("records", total=world.ctx.budget)
            for batch in world.batches(chunk_rows):
                writer.write(batch_frame(batch, world.ctx.accounts))
                codes, counts = np.unique(batch.action, return_counts=True)
                per_action.update({ACTIONS[int(c)]: int(k) for c, k in zip(codes, counts, strict=True)})
                progress.update(task, advance=len(batch))
    except BaseException:
        writer.abort()
        raise
    files = writer.close()
    labels = world.labels()
    buffer = io.StringIO()
    csv_writer = csv.writer(buffer, lineterminator="\n")
    csv_writer.writerow(["account_id", "campaign_id", "kind"])
    csv_writer.writerows(labels)
    _write_text_atomic(out / "labels.csv", buffer.getvalue())
    manifest = world.manifest()
    manifest["records_written"] = writer.records
    manifest["files"] = [f.name for f in files]
    import json

    _write_text_atomic(out / "world.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    return {
        "out": str(out), "files": [f.name for f in files] + ["labels.csv", "world.json"],
        "records": writer.records, "records_by_action": dict(sorted(per_action.items())),
        "accounts": len(world.ctx.accounts), "labelled_accounts": len(labels),
        "campaigns": [{"campaign_id": c["campaign_id"], "kind": c["kind"], "lang": c["lang"],
                       "loudness": c["loudness"], "size": c["size"]} for c in manifest["campaigns"]],
        "lookalikes": {k: len(v) for k, v in manifest["lookalikes"].items()},
    }


__all__ = ["World", "simulate_world"]
