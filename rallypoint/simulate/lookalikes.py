"""Organic look-alikes: benign behaviour that resembles coordination or mobilization.

These are the classic false positives of coordination detection (Pacheco et al.
2021; Giglietto et al.'s CooRnet, whose "coordinated link sharing" also catches
news outlets and page networks) and must not be flagged:

* :class:`ViralPosts` -- an ordinary account's post reposted by thousands over
  hours (log-normal delays, median 2.5 h).
* :class:`NewsDesk` -- news outlets posting links that many people share, and
  news-aggregator bots re-sharing every outlet post within seconds (benign
  automation: tight timing, no mobilization).
* :class:`Fandom` -- fans reposting their idol within minutes, with fan text and
  the same hashtags, including a concert announced with a city and a day; fans style and
  leet-spell their words (``st4n``, mathematical bold) as often as a stealthy campaign masks its.
* :class:`LawfulProtests` -- an organization announcing a permitted, peaceful
  protest (place, date, logistics) shared organically at slow, diverse times.
* :class:`Politicians` -- high-profile accounts posting about the election and
  being reposted organically; they belong to no campaign.
* :class:`VolunteerDays` -- a food bank inviting its volunteers to dated volunteer days
  with a bus ("who's coming?") and a different handful of them pledging each time
  ("I'll be there", "conta comigo"): the answered calls of a stealthy campaign, lawful.
* :class:`ChainMessages` -- a civic notice with a date and a place (a water cut, a closed
  bridge) that ordinary accounts copy and paste with a small edit or two, one copy each,
  hours apart and now and then within minutes of a friend's: near-duplicate texts that
  ``co_text`` groups as it groups a campaign's copies of its call, with no coordination.
* :class:`LiveEvents` -- a TV show or a match: many people post the same hashtag
  within two or three hours and repost each other's lines within minutes (a burst
  of co-hashtag activity with no mobilization).

Each class plans its accounts on the :class:`~rallypoint.simulate.accounts.AccountBook`
and later yields bounded batches. Volumes follow the world's record budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import polars as pl

from rallypoint.simulate import phrases
from rallypoint.simulate.accounts import AccountBook, handles, old_creation_times
from rallypoint.simulate.cascade import mixed_actions, originals, responses
from rallypoint.simulate.context import WorldContext
from rallypoint.simulate.events import POST, QUOTE, REPLY, REPOST, Batch, record_ids
from rallypoint.simulate.organic import media_hashes
from rallypoint.simulate.texts import (
    MASKED_SHARE,
    date_phrase,
    fill,
    masked,
    near_duplicate,
    pick,
    place_name,
    random_slug,
)
from rallypoint.simulate.timing import DAY, HOUR, UTC_OFFSET, diurnal_times, lognormal_delays

VIRAL_TEXT = {
    "en": "my grandma just learned emojis and sent me this at 6am 😭😭",
    "pt": "meu cachorro aprendeu a abrir a geladeira e agora é isso kkkkkk",
    "es": "mi abuela descubrió los stickers y no para de mandarme esto 😂",
}


def _lists(values) -> pl.Series:
    return pl.Series([v if v is None else list(v) for v in values], dtype=pl.List(pl.String))


def response_delays(batch: Batch, posts: Batch) -> np.ndarray:
    """Seconds between each targeted response in ``batch`` and its original in ``posts``."""
    targeted = batch.target != 0
    where = np.searchsorted(posts.number, batch.target[targeted])
    return batch.ts[targeted] - posts.ts[where]


def _iso_day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


class ViralPosts:
    """A few posts by ordinary accounts that thousands repost over hours."""

    name = "viral_posts"
    SHARE_OF_BUDGET = 0.05

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator) -> None:
        self.langs = ["en", "pt", "es"]
        self.authors = np.concatenate([ctx.organic.sample(rng, 1, "x", lang) for lang in self.langs])
        self.ts = ctx.start + (rng.uniform(0.1, 0.6, len(self.langs)) * ctx.days * DAY).astype(np.int64)
        n_x = int((ctx.organic.platforms == "x").sum())
        self.n_reposts = int(min(ctx.budget * self.SHARE_OF_BUDGET / len(self.langs), 0.9 * n_x))
        self.summary: list[dict] = []

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for(self.name)
        acc = ctx.accounts
        posts = originals(ctx.ids, accounts_idx=self.authors, ts=self.ts,
                          text=[VIRAL_TEXT[lang] for lang in self.langs], media=_lists([[h] for h in media_hashes(rng, 3)]),
                          lang=self.langs)
        ctx.add_cover(posts.number, posts.account, posts.ts)
        yield posts
        for i in range(len(self.langs)):
            everyone = ctx.organic.sample(rng, self.n_reposts, "x")  # distinct accounts
            reposts, first, last = 0, ctx.end, ctx.start
            for part in chunks(len(everyone), ctx.chunk_rows):
                actors = everyone[part]
                n = len(actors)
                actions = mixed_actions(rng, n, {REPOST: 0.9, REPLY: 0.06, QUOTE: 0.04})
                batch = responses(ctx.ids, target_numbers=posts.number, target_accounts=posts.account,
                                  target_ts=posts.ts, which=np.full(n, i), actors=actors,
                                  delays=lognormal_delays(rng, n, 2.5 * HOUR, 1.0, 30), actions=actions, end=ctx.end,
                                  text=_replies_text(ctx, rng, actors, actions), accounts=acc)
                reposts += int((batch.action == REPOST).sum())
                if len(batch):
                    first, last = min(first, int(batch.ts.min())), max(last, int(batch.ts.max()))
                yield batch
            self.summary.append({"number": int(posts.number[i]), "account": int(self.authors[i]),
                                 "lang": self.langs[i], "timestamp": _iso(self.ts[i]), "reposts": reposts,
                                 "span_hours": max(0.0, (last - first) / HOUR)})

    def manifest(self, ctx: WorldContext) -> list[dict]:
        return [_with_ids(ctx, s) for s in self.summary]


def chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of ``range(n)`` of at most ``size`` (bounded batches for big groups)."""
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _replies_text(ctx: WorldContext, rng: np.random.Generator, actors: np.ndarray, actions: np.ndarray) -> pl.Series:
    """Ordinary reply/quote text in each responder's language; null for reposts."""
    langs = ctx.organic.langs[actors - ctx.organic.indices[0]]
    text = pl.Series([None] * len(actors), dtype=pl.String)
    for lang, composer in ctx.organic.composers.items():
        mask = (langs == lang) & ((actions == REPLY) | (actions == QUOTE))
        if mask.any():
            composed = composer.compose(rng, len(actors))
            text = pl.select(pl.when(pl.Series(mask)).then(composed).otherwise(text)).to_series()
    return text


def _iso(ts) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_ids(ctx: WorldContext, summary: dict) -> dict:
    """A summary with record numbers and account indices replaced by their visible ids."""
    out = dict(summary)
    if "number" in out:
        out["post_id"] = record_ids(np.array([out.pop("number")], dtype=np.uint64))[0]
    if "account" in out:
        out["account_id"] = ctx.accounts.ids[int(out.pop("account"))]
    return out


class NewsDesk:
    """News outlets posting links, people sharing them, and aggregator bots re-sharing in seconds."""

    name = "news"
    SHARE_OF_BUDGET = 0.04
    POSTS_PER_DAY = 8

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator) -> None:
        self.outlets: list[dict] = []
        names, langs = [], []
        for lang, bank in phrases.NEWS.items():
            for title, domain in bank["outlets"]:
                self.outlets.append({"name": title, "domain": domain, "lang": lang})
                names.append(domain.split(".")[0])
                langs.append(lang)
        n = len(names)
        self.outlet_idx = book.add(names=names, platform="x", lang=np.asarray(langs, dtype=object),
                                   created_at=ctx.start - rng.integers(8, 14, n) * 365 * DAY,
                                   followers=rng.integers(200_000, 5_000_000, n), weight=1.0, high_profile=True)
        n_bots = max(6, int(round(8 * ctx.member_scale)))
        self.bot_langs = np.asarray(["en", "pt", "es"], dtype=object)[np.arange(n_bots) % 3]
        self.bot_idx = book.add(names=handles(rng, n_bots, self.bot_langs, "bot"), platform="x", lang=self.bot_langs,
                                created_at=ctx.start - rng.integers(200, 2000, n_bots) * DAY,
                                followers=rng.integers(300, 6000, n_bots), weight=1.0)
        self.outlet_langs = np.asarray(langs, dtype=object)
        self.summary: dict = {}

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for(self.name)
        per_outlet = ctx.per_day(self.POSTS_PER_DAY)
        author = np.repeat(self.outlet_idx, per_outlet)
        author_lang = np.repeat(self.outlet_langs, per_outlet)
        ts = np.concatenate([diurnal_times(rng, per_outlet, ctx.start, ctx.days, UTC_OFFSET[lang])
                             for lang in self.outlet_langs])
        headlines, urls = [], []
        for k in range(len(author)):
            lang = author_lang[k]
            bank = phrases.NEWS[lang]
            slots = {name: pick(rng, values) for name, values in bank["slots"].items()}
            headlines.append(fill(pick(rng, bank["headlines"]), **slots))
            domain = self.outlets[k // per_outlet]["domain"]
            day = datetime.fromtimestamp(int(ts[k]), UTC)
            urls.append(f"https://{domain}/{day:%Y/%m/%d}/{random_slug(rng, 10)}")
        posts = originals(ctx.ids, accounts_idx=author, ts=ts, text=[f"{h} {u}" for h, u in zip(headlines, urls, strict=True)],
                          urls=_lists([[u] for u in urls]))
        ctx.add_cover(posts.number, posts.account, posts.ts)
        yield posts

        # Aggregator bots: each re-shares most posts of its language within seconds.
        bot_which, bot_actor = [], []
        for b, lang in zip(self.bot_idx, self.bot_langs, strict=True):
            mine = np.flatnonzero((author_lang == lang) & (rng.random(len(author)) < 0.8))
            bot_which.append(mine)
            bot_actor.append(np.full(len(mine), b))
        which = np.concatenate(bot_which)
        actors = np.concatenate(bot_actor)
        n = len(which)
        actions = mixed_actions(rng, n, {REPOST: 0.5, POST: 0.5})
        bot_text = [f"{headlines[w]} {urls[w]} #news" if a == POST else None for w, a in zip(which, actions, strict=True)]
        bot_urls = _lists([[urls[w]] if a == POST else None for w, a in zip(which, actions, strict=True)])
        bots = responses(ctx.ids, target_numbers=posts.number, target_accounts=posts.account, target_ts=posts.ts,
                         which=which, actors=actors, delays=lognormal_delays(rng, n, 8, 0.7, 1, 120), actions=actions,
                         end=ctx.end, text=bot_text, urls=bot_urls, accounts=ctx.accounts)
        delays = response_delays(bots, posts)
        yield bots

        # People share the links (own post with the url) or repost, over hours.
        n_share = int(ctx.budget * self.SHARE_OF_BUDGET)
        popularity = rng.pareto(1.3, len(author)) + 0.05
        popularity /= popularity.sum()
        comments = phrases.NEWS_SHARE
        people_shares = 0
        for part in chunks(n_share, ctx.chunk_rows):
            n = part.stop - part.start
            which = rng.choice(len(author), size=n, p=popularity)
            lang_of = author_lang[which]
            actors = np.empty(n, dtype=np.int64)
            for lang in ("en", "pt", "es"):
                mask = lang_of == lang
                actors[mask] = ctx.organic.sample(rng, int(mask.sum()), "x", lang, replace=True, by_activity=True)
            actions = mixed_actions(rng, n, {REPOST: 0.5, POST: 0.45, REPLY: 0.05})
            share_text = [None if a == REPOST else (pick(rng, comments[lang_of[i]]) + " " + urls[w]).strip()
                          for i, (w, a) in enumerate(zip(which, actions, strict=True))]
            share_urls = _lists([[urls[w]] if a == POST else None for w, a in zip(which, actions, strict=True)])
            people = responses(ctx.ids, target_numbers=posts.number, target_accounts=posts.account, target_ts=posts.ts,
                               which=which, actors=actors, delays=lognormal_delays(rng, n, 90 * 60, 1.1, 20),
                               actions=actions, end=ctx.end, text=share_text, urls=share_urls, accounts=ctx.accounts)
            people_shares += len(people)
            yield people
        self.summary = {
            "outlets": [{**o, "account": int(a), "posts": per_outlet} for o, a in zip(self.outlets, self.outlet_idx, strict=True)],
            "bots": {"accounts": [int(b) for b in self.bot_idx], "shares": len(bots),
                     "median_delay_s": float(np.median(delays)) if len(delays) else None},
            "people_shares": people_shares,
        }

    def manifest_outlets(self, ctx: WorldContext) -> list[dict]:
        return [_with_ids(ctx, o) for o in self.summary["outlets"]]

    def manifest_bots(self, ctx: WorldContext) -> list[dict]:
        bots = self.summary["bots"]
        return [{"account_ids": [ctx.accounts.ids[i] for i in bots["accounts"]], "shares": bots["shares"],
                 "median_delay_s": bots["median_delay_s"], "kind": "news_aggregator"}]


class Fandom:
    """An idol and the fans who repost every post within minutes."""

    name = "fandom"
    POSTS_PER_DAY = 4

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator) -> None:
        self.idol = book.add(names=[phrases.IDOL["handle"]], platform="x", lang="en",
                             created_at=ctx.start - 9 * 365 * DAY, followers=21_000_000, weight=1.0, high_profile=True)[0]
        n_x = int((ctx.organic.platforms == "x").sum())
        self.fans = ctx.organic.sample(rng, int(np.clip(0.02 * n_x, 30, 3000)), "x")
        self.summary: dict = {}

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for(self.name)
        idol = phrases.IDOL
        n_posts = ctx.per_day(self.POSTS_PER_DAY)
        ts = np.sort(diurnal_times(rng, n_posts, ctx.start, ctx.days, -5))
        concert_day = datetime.fromtimestamp(ctx.end - DAY, UTC).day
        texts = [masked(fill(pick(rng, idol["posts"]), song=pick(rng, idol["songs"]), city=pick(rng, idol["cities"]),
                             day=str(concert_day)), MASKED_SHARE) for _ in range(n_posts)]
        posts = originals(ctx.ids, accounts_idx=np.full(n_posts, self.idol), ts=ts, text=texts,
                          hashtags=_lists([[pick(rng, idol["hashtags"])] for _ in range(n_posts)]),
                          media=_lists([[h] if rng.random() < 0.5 else None for h in media_hashes(rng, n_posts)]))
        yield posts
        participate = rng.random((n_posts, len(self.fans))) < 0.75
        which, fan_pos = np.nonzero(participate)
        actors = self.fans[fan_pos]
        n = len(which)
        actions = mixed_actions(rng, n, {REPOST: 0.72, QUOTE: 0.18, REPLY: 0.10})
        text = [None if a == REPOST else _fan_text(rng) for a in actions]
        reposts = responses(ctx.ids, target_numbers=posts.number, target_accounts=posts.account, target_ts=posts.ts,
                            which=which, actors=actors, delays=lognormal_delays(rng, n, 150, 1.0, 5, 3 * HOUR),
                            actions=actions, end=ctx.end, text=text, accounts=ctx.accounts)
        yield reposts
        # Fans also post fan text with the tour hashtags on their own.
        n_own = ctx.per_day(0.3 * len(self.fans))
        own_actors = rng.choice(self.fans, n_own)
        own = originals(ctx.ids, accounts_idx=own_actors, ts=diurnal_times(rng, n_own, ctx.start, ctx.days, -5),
                        text=[_fan_text(rng) for _ in range(n_own)],
                        hashtags=_lists([[pick(rng, idol["hashtags"])] for _ in range(n_own)]))
        yield own
        delays = response_delays(reposts, posts)
        self.summary = {"idol": int(self.idol), "fans": [int(f) for f in self.fans], "idol_posts": n_posts,
                        "fan_reposts": int((reposts.action == REPOST).sum()),
                        "median_delay_s": float(np.median(delays)) if len(delays) else None}

    def manifest(self, ctx: WorldContext) -> list[dict]:
        s = self.summary
        return [{"idol_account_id": ctx.accounts.ids[s["idol"]], "fan_account_ids": [ctx.accounts.ids[f] for f in s["fans"]],
                 "idol_posts": s["idol_posts"], "fan_reposts": s["fan_reposts"], "median_delay_s": s["median_delay_s"]}]


def _fan_text(rng: np.random.Generator) -> str:
    """A fan's line; fans style and leet-spell their words as often as a stealthy campaign masks its."""
    idol = phrases.IDOL
    text = fill(pick(rng, idol["fan"]), song=pick(rng, idol["songs"]), tag="#" + pick(rng, idol["hashtags"]))
    return masked(text, MASKED_SHARE)


class LawfulProtests:
    """Organizations announcing permitted, peaceful protests, shared slowly by many."""

    name = "lawful_protests"
    SHARE_OF_BUDGET = 0.012

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator) -> None:
        self.langs = list(phrases.PROTEST)
        orgs = [phrases.PROTEST[lang]["org"] for lang in self.langs]
        n = len(orgs)
        self.org_idx = book.add(names=[handle for _, handle in orgs], platform="x", lang=np.asarray(self.langs, dtype=object),
                                created_at=old_creation_times(rng, n, ctx.start, 0.0),
                                followers=rng.integers(15_000, 90_000, n), weight=1.0)
        event_day = np.clip(np.round(ctx.days * np.array([0.85, 0.8, 0.9])), 1, max(1, ctx.days - 1)).astype(np.int64)
        self.event_ts = ctx.start + event_day * DAY + (14 - np.array([UTC_OFFSET[lang] for lang in self.langs])) * HOUR
        self.summary: list[dict] = []

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for(self.name)
        for i, lang in enumerate(self.langs):
            bank = phrases.PROTEST[lang]
            event = int(self.event_ts[i])
            first = max(ctx.start, event - 7 * DAY)
            ts = np.sort(rng.integers(first, event - HOUR, 5))
            texts = [fill(pick(rng, bank["announce"]), org=bank["org"][0], cause=bank["cause"], at_place=bank["place"][1],
                          date=date_phrase(rng, lang, int(t), event)) for t in ts]
            posts = originals(ctx.ids, accounts_idx=np.full(len(ts), self.org_idx[i]), ts=ts, text=texts,
                              hashtags=_lists([[bank["org"][1].split("_")[0]]] * len(ts)))
            yield posts
            n_total = int(ctx.budget * self.SHARE_OF_BUDGET / len(self.langs))
            delay_parts, sharers, n_shares = [], [], 0
            for part in chunks(n_total, ctx.chunk_rows):
                n = part.stop - part.start
                actors = ctx.organic.sample(rng, n, "x", lang, replace=True, by_activity=True)
                actions = mixed_actions(rng, n, {REPOST: 0.6, POST: 0.25, REPLY: 0.15})
                which = rng.integers(0, len(ts), n)
                text = [None if a == REPOST else fill(pick(rng, bank["share"]),
                                                       date=date_phrase(rng, lang, int(ts[w]), event))
                        for a, w in zip(actions, which, strict=True)]
                shares = responses(ctx.ids, target_numbers=posts.number, target_accounts=posts.account,
                                   target_ts=posts.ts, which=which, actors=actors,
                                   delays=lognormal_delays(rng, n, 3 * HOUR, 1.2, 60), actions=actions, end=ctx.end,
                                   text=text, accounts=ctx.accounts)
                delay_parts.append(response_delays(shares, posts))
                sharers.append(np.unique(shares.account))
                n_shares += len(shares)
                yield shares
            delays = np.concatenate(delay_parts) if delay_parts else np.zeros(0)
            distinct = len(np.unique(np.concatenate(sharers))) if sharers else 0
            self.summary.append({"account": int(self.org_idx[i]), "organization": bank["org"][0], "lang": lang,
                                 "cause": bank["cause"], "place": place_name(bank["place"][0]), "city": bank["city"],
                                 "event_date": _iso_day(event), "announcements": len(ts), "shares": n_shares,
                                 "distinct_sharers": distinct,
                                 "median_delay_s": float(np.median(delays)) if len(delays) else None})

    def manifest(self, ctx: WorldContext) -> list[dict]:
        return [_with_ids(ctx, s) for s in self.summary]


class Politicians:
    """High-profile politicians in no campaign, posting about the election, reposted organically."""

    name = "politicians"
    SHARE_OF_BUDGET = 0.03
    POSTS_PER_DAY = 3

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator) -> None:
        people = [(lang, title, handle) for lang, rows in phrases.POLITICIANS.items() for title, handle in rows]
        self.langs = np.asarray([p[0] for p in people], dtype=object)
        n = len(people)
        self.idx = book.add(names=[p[2] for p in people], platform="x", lang=self.langs,
                            created_at=old_creation_times(rng, n, ctx.start, 0.0),
                            followers=rng.integers(100_000, 3_000_000, n), weight=1.0, high_profile=True)
        self.titles = [p[1] for p in people]
        self.summary: list[dict] = []

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for(self.name)
        per = ctx.per_day(self.POSTS_PER_DAY)
        author = np.repeat(self.idx, per)
        lang_of = np.repeat(self.langs, per)
        ts = np.concatenate([diurnal_times(rng, per, ctx.start, ctx.days, UTC_OFFSET[lang]) for lang in self.langs])
        texts = [fill(pick(rng, phrases.POLITICIAN_POSTS[lang]), city=pick(rng, phrases.POLITICIAN_POSTS["cities"][lang]))
                 for lang in lang_of]
        posts = originals(ctx.ids, accounts_idx=author, ts=ts, text=texts)
        ctx.add_cover(posts.number, posts.account, posts.ts)
        yield posts
        popularity = rng.pareto(1.5, len(author)) + 0.1
        popularity /= popularity.sum()
        received = np.zeros(len(ctx.accounts), dtype=np.int64)
        for part in chunks(int(ctx.budget * self.SHARE_OF_BUDGET), ctx.chunk_rows):
            n = part.stop - part.start
            which = rng.choice(len(author), size=n, p=popularity)
            actors = np.empty(n, dtype=np.int64)
            for lang in ("en", "pt", "es"):
                mask = lang_of[which] == lang
                actors[mask] = ctx.organic.sample(rng, int(mask.sum()), "x", lang, replace=True, by_activity=True)
            actions = mixed_actions(rng, n, {REPOST: 0.8, REPLY: 0.15, QUOTE: 0.05})
            reposts = responses(ctx.ids, target_numbers=posts.number, target_accounts=posts.account, target_ts=posts.ts,
                                which=which, actors=actors, delays=lognormal_delays(rng, n, 90 * 60, 1.2, 20),
                                actions=actions, end=ctx.end, text=_replies_text(ctx, rng, actors, actions),
                                accounts=ctx.accounts)
            np.add.at(received, reposts.target_account[reposts.action == REPOST], 1)
            yield reposts
        for i, a in enumerate(self.idx):
            self.summary.append({"account": int(a), "name": self.titles[i], "lang": self.langs[i], "posts": per,
                                 "reposts_received": int(received[a])})

    def manifest(self, ctx: WorldContext) -> list[dict]:
        return [_with_ids(ctx, s) for s in self.summary]


class LiveEvents:
    """Live-tweeting: a show or a match makes many people post one hashtag within hours."""

    name = "live_events"
    SHARE_OF_BUDGET = 0.03

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator) -> None:
        self.events: list[tuple[str, int, int]] = []  # (lang, start, end)
        for lang, spec in phrases.LIVE.items():
            for day in range(ctx.days):
                midnight = ctx.start + day * DAY
                if datetime.fromtimestamp(midnight, UTC).weekday() in spec["days"]:
                    begin = midnight + int((spec["local_start_h"] - UTC_OFFSET[lang]) * HOUR)
                    end = min(begin + int(spec["hours"] * HOUR), ctx.end)
                    if begin < end:
                        self.events.append((lang, begin, end))
        self.summary: list[dict] = []

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        if not self.events:
            return
        rng = ctx.rng_for(self.name)
        per_event = max(20, int(ctx.budget * self.SHARE_OF_BUDGET / len(self.events)))
        for lang, begin, end in self.events:
            spec = phrases.LIVE[lang]
            n_posts = int(per_event * 0.8)
            authors = ctx.organic.sample(rng, n_posts, "x", lang, replace=True, by_activity=True)
            ts = begin + (rng.beta(2.0, 2.0, n_posts) * (end - begin)).astype(np.int64)
            lines = [pick(rng, spec["texts"]) for _ in range(n_posts)]
            texts = [f"{line} #{spec['hashtag']}" if rng.random() < 0.7 else f"#{spec['hashtag']} {line}" for line in lines]
            posts = originals(ctx.ids, accounts_idx=authors, ts=ts, text=texts,
                              hashtags=_lists([[spec["hashtag"]]] * n_posts))
            yield posts
            n_reposts = per_event - n_posts
            popularity = rng.pareto(1.2, n_posts) + 0.05
            reposts = responses(ctx.ids, target_numbers=posts.number, target_accounts=posts.account, target_ts=posts.ts,
                                which=rng.choice(n_posts, n_reposts, p=popularity / popularity.sum()),
                                actors=ctx.organic.sample(rng, n_reposts, "x", lang, replace=True, by_activity=True),
                                delays=lognormal_delays(rng, n_reposts, 90, 1.0, 2, HOUR),
                                actions=np.full(n_reposts, REPOST, np.int8), end=ctx.end, accounts=ctx.accounts)
            yield reposts
            self.summary.append({"lang": lang, "hashtag": spec["hashtag"], "start": _iso(begin), "end": _iso(end),
                                 "posts": n_posts, "reposts": len(reposts),
                                 "distinct_accounts": int(len(np.unique(np.concatenate([authors, reposts.account]))))})

    def manifest(self, ctx: WorldContext) -> list[dict]:
        return list(self.summary)


class VolunteerDays:
    """A food bank's dated volunteer days with a bus, each answered by a few of its volunteers."""

    name = "volunteer_days"
    DAYS_PER_LANG = 5

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator) -> None:
        self.langs = list(phrases.VOLUNTEERS)
        orgs = [phrases.VOLUNTEERS[lang]["org"] for lang in self.langs]
        self.org_idx = book.add(names=[handle for _, handle in orgs], platform="x",
                                lang=np.asarray(self.langs, dtype=object),
                                created_at=old_creation_times(rng, len(orgs), ctx.start, 0.0),
                                followers=rng.integers(2_000, 20_000, len(orgs)), weight=1.0)
        self.volunteers = [ctx.organic.sample(rng, max(8, int(round(25 * ctx.member_scale))), "x", lang)
                           for lang in self.langs]
        self.summary: list[dict] = []

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for(self.name)
        for i, lang in enumerate(self.langs):
            bank, volunteers = phrases.VOLUNTEERS[lang], self.volunteers[i]
            ts = np.sort(diurnal_times(rng, self.DAYS_PER_LANG, ctx.start, ctx.days, UTC_OFFSET[lang]))
            day = ts + rng.integers(2, 6, len(ts)) * DAY  # the volunteer day, a few days after its invitation
            texts = [fill(pick(rng, bank["invite"]), date=date_phrase(rng, lang, int(t), int(d)), origin=bank["origin"])
                     for t, d in zip(ts, day, strict=True)]
            posts = originals(ctx.ids, accounts_idx=np.full(len(ts), self.org_idx[i]), ts=ts, text=texts)
            # a committed third answers most invitations, the rest now and then
            join_p = np.where(np.arange(len(volunteers)) < len(volunteers) // 3, 0.8, 0.3)
            which, pos = np.nonzero(rng.random((len(ts), len(volunteers))) < join_p)
            actors = volunteers[pos]
            actions = mixed_actions(rng, len(actors), {REPLY: 0.6, REPOST: 0.4})
            replies = responses(ctx.ids, target_numbers=posts.number, target_accounts=posts.account,
                                target_ts=posts.ts, which=which, actors=actors,
                                delays=lognormal_delays(rng, len(actors), 40 * 60, 1.0, 60, 12 * HOUR),
                                actions=actions, end=ctx.end, accounts=ctx.accounts,
                                text=[pick(rng, bank["pledge"]) if a == REPLY else None for a in actions])
            yield posts
            yield replies
            self.summary.append({"account": int(self.org_idx[i]), "organization": bank["org"][0], "lang": lang,
                                 "volunteer_days": [_iso_day(int(d)) for d in day], "answers": len(replies),
                                 "volunteers": [int(v) for v in volunteers]})

    def manifest(self, ctx: WorldContext) -> list[dict]:
        return [{**_with_ids(ctx, {k: v for k, v in s.items() if k != "volunteers"}),
                 "volunteer_account_ids": [ctx.accounts.ids[v] for v in s["volunteers"]]} for s in self.summary]


class ChainMessages:
    """Civic notices that ordinary accounts copy and paste, each with an edit or two, once each."""

    name = "chain_messages"
    #: copies of each notice in a 5,000-account world
    COPIES = 60
    #: copies made within minutes of another copy (a friend's, seen in a group chat)
    NEAR_SHARE = 0.3

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator) -> None:
        self.langs = list(phrases.CHAINS)
        n = max(12, int(round(self.COPIES * ctx.member_scale)))
        self.copiers = [ctx.organic.sample(rng, n, "x", lang) for lang in self.langs]
        self.summary: list[dict] = []

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for(self.name)
        for lang, copiers in zip(self.langs, self.copiers, strict=True):
            first = int(diurnal_times(rng, 1, ctx.start, max(1, ctx.days - 3), UTC_OFFSET[lang])[0])
            day = first + int(rng.integers(2, 4)) * DAY
            notice = fill(pick(rng, phrases.CHAINS[lang]), date=date_phrase(rng, lang, first, day),
                          place=pick(rng, phrases.CHAIN_PLACES[lang]))
            delays = lognormal_delays(rng, len(copiers), 3 * HOUR, 1.2, 60, 2 * DAY)
            near = rng.random(len(copiers)) < self.NEAR_SHARE
            # a near copy follows another copy by a minute or two, as a friend's forward does
            delays[near] = rng.choice(delays[~near], int(near.sum())) + lognormal_delays(rng, int(near.sum()), 90,
                                                                                          0.8, 10, 900)
            ts = first + delays
            alive = (ts < ctx.end) & (ctx.accounts.created_at[copiers] < ts)
            texts = [near_duplicate(rng, notice, lang) for _ in range(int(alive.sum()))]
            yield originals(ctx.ids, accounts_idx=copiers[alive], ts=ts[alive], text=texts,
                            lang=[lang] * int(alive.sum()))
            self.summary.append({"lang": lang, "notice": notice, "first": _iso(first), "copies": int(alive.sum()),
                                 "copiers": [int(a) for a in copiers[alive]]})

    def manifest(self, ctx: WorldContext) -> list[dict]:
        return [{**{k: v for k, v in s.items() if k != "copiers"},
                 "copier_account_ids": [ctx.accounts.ids[a] for a in s["copiers"]]} for s in self.summary]
