"""Campaigns no lexicon catches, and the lawful groups that look like them.

The planted campaigns of :mod:`rallypoint.simulate.campaigns` speak words the
detectors' lexicons know. Real campaigns change their words once they are watched
(the Brazilian "Festa da Selma" was a code) and move money and logistics as bare
links. These groups test the evidence that does not depend on knowing the words:

Campaigns (labelled ``mobilization``):

* :class:`CodedCampaign` -- a mobilization written in invented euphemisms (ordinary
  leisure words standing for the gathering: "the fishing trip"), with a date, a
  meeting point, a time of day, bus seats and a sign-up link; most members created in
  the three weeks before it starts, little everyday life. In English (``m6``) and in
  German (``m7``), a language rallypoint ships no lexicon for.
* :class:`FundraisingRing` -- accounts all created on one day that post no text at
  all, only the same fundraising links (tracking parameters, a shortener), in bursts
  every six hours, within seconds of each other.

Organic look-alikes (unlabelled; must stay unflagged):

* :class:`CharityDrive` -- an animal shelter's appeals with a donation link, shared
  within minutes by long-standing ordinary accounts (money links, coordination, no
  harm).
* :class:`NewcomerWave` -- accounts created within a few days of each other (a
  platform migration) who welcome each other within minutes and then live ordinary
  lives (a creation burst that is not inauthentic).
* :class:`SupportersClub` -- a football supporters' club filling coaches to an away
  game: a date, a place, a time, seats and a booking link, shared within a minute by
  its long-standing members (a lawful call with logistics).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np

from rallypoint.simulate import phrases
from rallypoint.simulate.accounts import AccountBook, handles, old_creation_times, organic_followers
from rallypoint.simulate.cascade import mixed_actions, originals, responses
from rallypoint.simulate.context import WorldContext
from rallypoint.simulate.events import POST, QUOTE, REPLY, REPOST, Batch, concat_batches
from rallypoint.simulate.texts import date_phrase, fill, pick, random_slug
from rallypoint.simulate.timing import DAY, HOUR, diurnal_times, lognormal_delays

#: Local UTC offsets of the languages these groups speak.
OFFSETS = {"en": -5, "de": 1}


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dotted_date(rng: np.random.Generator, post_ts: int, event_ts: int) -> str:
    """A German writer's date: "7.1.", "07.01.2023" or "Samstag, 7.1." (day first, dotted)."""
    event = datetime.fromtimestamp(event_ts, UTC).date()
    weekday = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"][event.weekday()]
    return pick(rng, [f"{event.day}.{event.month}.", f"{event.day:02d}.{event.month:02d}.{event.year}",
                      f"{weekday}, {event.day}.{event.month}."])


def _with_utm(rng: np.random.Generator, url: str) -> str:
    """The link as people paste it: often with a click-tracking parameter."""
    if rng.random() < 0.5:
        return url
    return f"{url}?utm_source={pick(rng, ['tg', 'wa', 'share', 'copy'])}&utm_medium=social"


def _cover(ctx: WorldContext, rng: np.random.Generator, members: np.ndarray, per_day: float, lang: str) -> Batch:
    """Everyday life: own posts and reposts of popular posts, at ``per_day`` per member."""
    created = ctx.accounts.created_at
    n = max(1, int(per_day * len(members) * ctx.days))
    actors = rng.choice(members, n)
    repost = rng.random(n) < 0.5
    numbers, authors, cover_ts = ctx.cover()
    if not len(numbers):
        repost[:] = False
    own = actors[~repost]
    own_ts = diurnal_times(rng, len(own), ctx.start, ctx.days, OFFSETS[lang])
    alive = created[own] < own_ts
    own, own_ts = own[alive], own_ts[alive]
    text = (ctx.organic.composers[lang].compose(rng, len(own)) if lang in ctx.organic.composers
            else [" ".join(pick(rng, part) for part in phrases.GERMAN_COVER[:2]) + pick(rng, phrases.GERMAN_COVER[2])
                  for _ in range(len(own))])
    parts = [originals(ctx.ids, accounts_idx=own, ts=own_ts, text=text)]
    reposters = actors[repost]
    if len(reposters):
        parts.append(responses(ctx.ids, target_numbers=numbers, target_accounts=authors, target_ts=cover_ts,
                               which=rng.integers(0, len(numbers), len(reposters)), actors=reposters,
                               delays=lognormal_delays(rng, len(reposters), 40 * 60, 1.3, 30),
                               actions=np.full(len(reposters), REPOST, np.int8), end=ctx.end, created_at=created,
                               accounts=ctx.accounts))
    return concat_batches(parts)


class CodedCampaign:
    """A mobilization in invented euphemisms, with date, meeting point, time, seats and sign-up link."""

    COVER_PER_DAY = 0.3

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator, spec) -> None:
        self.spec = spec
        self.lang = spec.lang
        day = int(datetime.fromisoformat(spec.event_date).replace(tzinfo=UTC).timestamp())
        day = int(np.clip(day, ctx.start + DAY, ctx.end - DAY))
        self.event_ts = day + (12 - OFFSETS[self.lang]) * HOUR
        self.campaign_start = max(ctx.start, self.event_ts - 9 * DAY)
        n = max(6, int(round(spec.base_size * ctx.member_scale)))
        created = old_creation_times(rng, n, ctx.start, 0.0)
        fresh = rng.random(n) < 0.8
        created[fresh] = self.campaign_start - rng.integers(HOUR, 21 * DAY, int(fresh.sum()))
        self.members = book.add(names=handles(rng, n, "en"), platform=spec.platform, lang=self.lang,
                                created_at=created, followers=organic_followers(rng, n) // 4, weight=1.0)
        self.bank = phrases.CODED[self.lang]
        self.code = pick(rng, self.bank["code"])
        self.meet = pick(rng, self.bank["meet"])
        self.links = [f"https://forms.gle/{random_slug(rng, 12)}", f"https://t.me/+{random_slug(rng, 16)}"]
        self.flyer = f"{int(rng.integers(0, 2**62)):016x}"
        self.summary: dict = {}

    def _date(self, rng: np.random.Generator, post_ts: int) -> str:
        if self.lang == "de":
            return _dotted_date(rng, post_ts, self.event_ts)
        return date_phrase(rng, self.lang, post_ts, self.event_ts)

    def _call(self, rng: np.random.Generator, post_ts: int, link: str) -> str:
        return fill(pick(rng, self.bank["call"]), code=self.code, meet=self.meet, date=self._date(rng, post_ts),
                    time=pick(rng, self.bank["time"]), seats=str(int(rng.integers(4, 40))), link=link)

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for("campaign", self.spec.campaign_id)
        created = ctx.accounts.created_at
        span = self.event_ts - self.campaign_start
        waves = np.sort(np.concatenate([
            self.campaign_start + (rng.beta(2.0, 1.2, 5) * span * 0.8).astype(np.int64),
            self.event_ts - rng.integers(HOUR, min(48 * HOUR, span), 6)]))
        joined = rng.random((len(waves), len(self.members))) < 0.8
        delays_all = []
        for wave_ts, joining in zip(waves, joined, strict=True):
            wave_ts = int(wave_ts)
            alive = self.members[created[self.members] < wave_ts]
            if not len(alive):
                continue
            originator = int(pick(rng, alive))
            link = _with_utm(rng, pick(rng, self.links))
            text = self._call(rng, wave_ts, link)
            post = originals(ctx.ids, accounts_idx=[originator], ts=[wave_ts], text=[text], urls=[[link]],
                             media=[[self.flyer]] if rng.random() < 0.4 else None)
            joins = self.members[joining & (self.members != originator)]
            n = len(joins)
            actions = mixed_actions(rng, n, {REPOST: 0.5, POST: 0.3, REPLY: 0.2})
            texts = [self._call(rng, wave_ts, link) if a == POST else pick(rng, self.bank["support"]) if a == REPLY
                     else None for a in actions]
            wave = responses(ctx.ids, target_numbers=post.number, target_accounts=post.account, target_ts=post.ts,
                             which=np.zeros(n, np.int64), actors=joins,
                             delays=lognormal_delays(rng, n, 40, 0.9, 3, 900), actions=actions, end=ctx.end,
                             created_at=created, text=texts, urls=[[link] if a == POST else None for a in actions],
                             accounts=ctx.accounts)
            delays_all.append(wave.ts - wave_ts)
            yield concat_batches([post, wave])
        yield _cover(ctx, rng, self.members, self.COVER_PER_DAY, self.lang)
        delays = np.concatenate(delays_all) if delays_all else np.zeros(0)
        self.summary = {"waves": len(waves), "median_response_s": float(np.median(delays)) if len(delays) else None}

    def labels(self, ctx: WorldContext) -> list[tuple[str, str, str]]:
        return [(ctx.accounts.ids[int(a)], self.spec.campaign_id, self.spec.kind) for a in self.members]

    def manifest(self, ctx: WorldContext) -> dict:
        return {"campaign_id": self.spec.campaign_id, "kind": self.spec.kind, "lang": self.lang,
                "loudness": self.spec.loudness, "platform": self.spec.platform, "size": len(self.members),
                "event_date": _iso(self.event_ts)[:10], "campaign_start": _iso(self.campaign_start),
                "place": self.meet, "code_word": self.code, "links": self.links, "media": [self.flyer],
                "seeding_account_id": None, **self.summary}


class FundraisingRing:
    """Accounts created on one day posting only fundraising links, in bursts every six hours."""

    BURST_EVERY = 6 * HOUR

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator, spec) -> None:
        self.spec = spec
        n = max(8, int(round(spec.base_size * ctx.member_scale)))
        self.ring_start = ctx.start + max(1, ctx.days // 3) * DAY
        birthday = self.ring_start - int(rng.integers(2, 6)) * DAY
        self.members = book.add(names=handles(rng, n, "en"), platform=spec.platform, lang=spec.lang,
                                created_at=birthday + rng.integers(0, DAY, n), followers=rng.integers(0, 30, n),
                                weight=1.0)
        slug = random_slug(rng, 10)
        self.links = [f"https://www.givesendgo.com/{slug}", f"https://www.paypal.me/{random_slug(rng, 8)}",
                      f"https://bit.ly/{random_slug(rng, 7)}"]
        self.summary: dict = {}

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for("campaign", self.spec.campaign_id)
        bursts = np.arange(self.ring_start, ctx.end - HOUR, self.BURST_EVERY) + rng.integers(0, 120)
        parts = []
        for burst_ts in bursts:
            link = pick(rng, self.links)
            posting = self.members[rng.random(len(self.members)) < 0.8]
            ts = int(burst_ts) + lognormal_delays(rng, len(posting), 20, 0.7, 1, 180)
            parts.append(originals(ctx.ids, accounts_idx=posting, ts=ts,
                                   urls=[[_with_utm(rng, link)] for _ in range(len(posting))]))
        batch = concat_batches(parts)
        self.summary = {"bursts": len(bursts), "posts": len(batch)}
        yield batch

    def labels(self, ctx: WorldContext) -> list[tuple[str, str, str]]:
        return [(ctx.accounts.ids[int(a)], self.spec.campaign_id, self.spec.kind) for a in self.members]

    def manifest(self, ctx: WorldContext) -> dict:
        return {"campaign_id": self.spec.campaign_id, "kind": self.spec.kind, "lang": self.spec.lang,
                "loudness": self.spec.loudness, "platform": self.spec.platform, "size": len(self.members),
                "event_date": None, "place": None, "links": self.links, "seeding_account_id": None,
                "created_from": _iso(int(ctx.accounts.created_at[self.members].min())), **self.summary}


class CharityDrive:
    """A shelter's donation appeals, shared within minutes by long-standing ordinary accounts."""

    name = "charity_drive"
    APPEALS = 6

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator) -> None:
        org, handle = phrases.CHARITY["org"]
        self.org = book.add(names=[handle], platform="x", lang="en", created_at=old_creation_times(rng, 1, ctx.start, 0.0),
                            followers=int(rng.integers(5_000, 40_000)), weight=1.0)[0]
        self.sharers = ctx.organic.sample(rng, max(10, int(round(35 * ctx.member_scale))), "x", "en")
        self.link = f"https://www.gofundme.com/f/{random_slug(rng, 10)}-shelter-roof"
        self.summary: dict = {}

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for(self.name)
        bank = phrases.CHARITY
        ts = np.sort(diurnal_times(rng, self.APPEALS, ctx.start, ctx.days, OFFSETS["en"]))
        texts = [fill(pick(rng, bank["appeal"]), link=self.link) for _ in ts]
        posts = originals(ctx.ids, accounts_idx=np.full(len(ts), self.org), ts=ts, text=texts,
                          urls=[[_with_utm(rng, self.link)] for _ in ts])
        which, pos = np.nonzero(rng.random((len(ts), len(self.sharers))) < 0.7)
        actors = self.sharers[pos]
        actions = mixed_actions(rng, len(actors), {REPOST: 0.5, POST: 0.5})
        shares = responses(ctx.ids, target_numbers=posts.number, target_accounts=posts.account, target_ts=posts.ts,
                           which=which, actors=actors, delays=lognormal_delays(rng, len(actors), 120, 1.0, 10, 1800),
                           actions=actions, end=ctx.end,
                           text=[fill(pick(rng, bank["share"]), link=self.link) if a == POST else None for a in actions],
                           urls=[[_with_utm(rng, self.link)] if a == POST else None for a in actions],
                           accounts=ctx.accounts)
        self.summary = {"appeals": len(ts), "shares": len(shares)}
        yield concat_batches([posts, shares])

    def manifest(self, ctx: WorldContext) -> list[dict]:
        return [{"account_id": ctx.accounts.ids[int(self.org)], "link": self.link,
                 "sharer_account_ids": [ctx.accounts.ids[int(a)] for a in self.sharers], **self.summary}]


class NewcomerWave:
    """Accounts created within days of each other who welcome each other, then live ordinary lives."""

    name = "newcomer_wave"
    ACTIONS_PER_DAY = 1.5

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator) -> None:
        n = max(10, int(round(40 * ctx.member_scale)))
        first = ctx.start - 2 * DAY
        self.members = book.add(names=handles(rng, n, "en"), platform="x", lang="en",
                                created_at=first + rng.integers(0, 5 * DAY, n), followers=organic_followers(rng, n) // 8,
                                weight=1.0)
        self.summary: dict = {}

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for(self.name)
        bank = phrases.NEWCOMERS
        created = ctx.accounts.created_at
        intro_ts = np.maximum(created[self.members], ctx.start) + rng.integers(HOUR, 2 * DAY, len(self.members))
        intros = originals(ctx.ids, accounts_idx=self.members, ts=intro_ts,
                           text=[pick(rng, bank["intro"]) for _ in self.members],
                           hashtags=[[bank["hashtag"]] for _ in self.members])
        which, pos = np.nonzero(rng.random((len(self.members), len(self.members))) < 0.3)
        actors = self.members[pos]
        actions = mixed_actions(rng, len(actors), {REPOST: 0.6, REPLY: 0.4})
        welcomes = responses(ctx.ids, target_numbers=intros.number, target_accounts=intros.account,
                             target_ts=intros.ts, which=which, actors=actors,
                             delays=lognormal_delays(rng, len(actors), 300, 1.2, 20, 6 * HOUR), actions=actions,
                             end=ctx.end, created_at=created,
                             text=[pick(rng, bank["welcome"]) if a == REPLY else None for a in actions],
                             accounts=ctx.accounts)
        yield concat_batches([intros, welcomes])
        yield _cover(ctx, rng, self.members, self.ACTIONS_PER_DAY, "en")
        self.summary = {"intros": len(intros), "welcomes": len(welcomes)}

    def manifest(self, ctx: WorldContext) -> list[dict]:
        return [{"account_ids": [ctx.accounts.ids[int(a)] for a in self.members],
                 "created_from": _iso(int(ctx.accounts.created_at[self.members].min())),
                 "created_to": _iso(int(ctx.accounts.created_at[self.members].max())), **self.summary}]


class SupportersClub:
    """A supporters' club filling coaches to an away game, its posts shared within a minute by members."""

    name = "supporters_club"

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator) -> None:
        club, handle = phrases.SUPPORTERS["club"]
        self.club = book.add(names=[handle], platform="x", lang="en",
                             created_at=old_creation_times(rng, 1, ctx.start, 0.0),
                             followers=int(rng.integers(3_000, 20_000)), weight=1.0)[0]
        self.members = ctx.organic.sample(rng, max(10, int(round(30 * ctx.member_scale))), "x", "en")
        self.match_ts = ctx.end - int(max(1, ctx.days // 5)) * DAY + 15 * HOUR
        self.link = f"https://forms.gle/{random_slug(rng, 12)}"
        self.summary: dict = {}

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for(self.name)
        bank = phrases.SUPPORTERS
        first = max(ctx.start, self.match_ts - 8 * DAY)
        ts = np.sort(rng.integers(first, self.match_ts - 12 * HOUR, 5))
        texts = [fill(pick(rng, bank["away"]), date=date_phrase(rng, "en", int(t), self.match_ts),
                      time=pick(rng, bank["time"]), seats=str(int(rng.integers(5, 50))), link=self.link) for t in ts]
        posts = originals(ctx.ids, accounts_idx=np.full(len(ts), self.club), ts=ts, text=texts,
                          urls=[[_with_utm(rng, self.link)] for _ in ts])
        which, pos = np.nonzero(rng.random((len(ts), len(self.members))) < 0.8)
        actors = self.members[pos]
        actions = mixed_actions(rng, len(actors), {REPOST: 0.6, REPLY: 0.25, QUOTE: 0.15})
        shares = responses(ctx.ids, target_numbers=posts.number, target_accounts=posts.account, target_ts=posts.ts,
                           which=which, actors=actors, delays=lognormal_delays(rng, len(actors), 60, 1.0, 5, 1200),
                           actions=actions, end=ctx.end,
                           text=[None if a == REPOST else pick(rng, bank["share"]) for a in actions],
                           accounts=ctx.accounts)
        self.summary = {"posts": len(ts), "shares": len(shares), "match_date": _iso(self.match_ts)[:10]}
        yield concat_batches([posts, shares])

    def manifest(self, ctx: WorldContext) -> list[dict]:
        return [{"account_id": ctx.accounts.ids[int(self.club)], "link": self.link,
                 "member_account_ids": [ctx.accounts.ids[int(a)] for a in self.members], **self.summary}]


__all__ = ["CharityDrive", "CodedCampaign", "FundraisingRing", "NewcomerWave", "SupportersClub"]
