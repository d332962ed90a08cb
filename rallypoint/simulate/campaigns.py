"""Planted campaigns, the ground truth: mobilization networks and an amplification ring.

A **mobilization campaign** (kind ``mobilization``) is a set of accounts -- many
created shortly before the campaign starts, plus one high-profile seeder -- that
calls people to a place on a date. It acts in *waves*: an originator (the seeder
or a core member) posts a call (date, landmark, logistics, money, code words,
fraud narrative; escalating language as the date nears, see
:meth:`rallypoint.simulate.texts.CampaignVoice.call`), and members respond within
seconds to minutes by reposting it, posting near-duplicates that carry the same
link and flyer, quoting or replying. Waves thicken towards the date (a burst,
in the sense of Kleinberg 2002). *Loud* campaigns are large, fast and many-waved;
*stealthy* ones are small, slower (minutes), have few waves, fewer members per
wave, more code words and more everyday cover activity. This is the co-action
signature that CooRnet (Giglietto et al. 2020) and Pacheco et al. (2021) detect:
the same targets, within a short window, more often than chance.

An **amplification ring** (kind ``amplification``) is a set of bots that repost
and quote each other's election-fraud claims within seconds, all the time, with no
place or date.

Members also act like everyone else (posts, reposts of popular posts) so that
coordination, not mere presence, is what gives them away.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from rallypoint.errors import RallypointError
from rallypoint.simulate.accounts import AccountBook, handles, old_creation_times, organic_followers
from rallypoint.simulate.cascade import mixed_actions, originals, responses
from rallypoint.simulate.context import WorldContext
from rallypoint.simulate.events import POST, QUOTE, REPLY, REPOST, Batch, concat_batches
from rallypoint.simulate.quiet import CodedCampaign, FundraisingRing
from rallypoint.simulate.texts import CampaignVoice, near_duplicate, pick, place_name, random_slug, ring_text
from rallypoint.simulate.timing import DAY, HOUR, UTC_OFFSET, diurnal_times, lognormal_delays

SEEDER_NAMES = {
    "en": ["RealMarkBrenner", "CoachDaleHollis", "PastorRickLane", "TheRealSandyK"],
    "pt": ["PastorJoelMattos", "CapitaoRenanBR", "DeputadoAltairR", "TiaNenaOficial"],
    "es": ["ElTanoVidela", "DrFedericoLaprida", "LaNegraPatria", "ComisarioRuiz"],
}


@dataclass(frozen=True)
class CampaignSpec:
    """One planted campaign of the mix."""

    campaign_id: str
    kind: str  # mobilization | amplification
    lang: str
    loudness: str  # loud | stealthy | coded | textfree
    platform: str
    event_date: str  # the day called for (moved inside the world if the world is too short)
    base_size: int  # members in a 5,000-account world


DEFAULT_MIX: tuple[CampaignSpec, ...] = (
    CampaignSpec("m1-en-loud", "mobilization", "en", "loud", "x", "2023-01-06", 60),
    CampaignSpec("m2-pt-loud", "mobilization", "pt", "loud", "x", "2023-01-08", 70),
    CampaignSpec("m3-es-loud", "mobilization", "es", "loud", "facebook", "2023-01-07", 50),
    CampaignSpec("m4-en-stealthy", "mobilization", "en", "stealthy", "x", "2023-01-05", 18),
    CampaignSpec("m5-pt-stealthy", "mobilization", "pt", "stealthy", "telegram", "2023-01-07", 20),
    CampaignSpec("a1-en-ring", "amplification", "en", "loud", "x", "", 35),
    # no lexicon knows these (rallypoint.simulate.quiet): invented code words, a language
    # without a lexicon, and a ring posting nothing but fundraising links
    CampaignSpec("m6-en-coded", "mobilization", "en", "coded", "x", "2023-01-07", 40),
    CampaignSpec("m7-de-coded", "mobilization", "de", "coded", "x", "2023-01-06", 40),
    CampaignSpec("m8-en-fundring", "mobilization", "en", "textfree", "x", "", 25),
)
MIX_WORDS = ("mobilization", "amplification", "loud", "stealthy", "coded", "textfree", "en", "pt", "es", "de")


def parse_mix(campaigns: str) -> list[CampaignSpec]:
    """The campaigns named by ``campaigns``: "default", "none", or a comma list.

    List words select from the default mix by kind (mobilization, amplification),
    loudness (loud, stealthy, coded, textfree) or language (en, pt, es, de); a spec is kept if any word
    selects it ("mobilization,amplification" is the default mix).
    """
    text = (campaigns or "default").strip().lower()
    if text in ("default", "all"):
        return list(DEFAULT_MIX)
    if text == "none":
        return []
    words = [w.strip() for w in text.split(",") if w.strip()]
    unknown = [w for w in words if w not in MIX_WORDS]
    if unknown:
        raise RallypointError(
            f"unknown campaign kind {unknown[0]!r}; use default, none, or a comma list of {', '.join(MIX_WORDS)}."
        )
    return [s for s in DEFAULT_MIX if {s.kind, s.loudness if s.kind == "mobilization" else "", s.lang} & set(words)]


def _recent_creation(rng: np.random.Generator, n: int, campaign_start: int, share: float, world_start: int) -> np.ndarray:
    """Creation times: ``share`` made 1 hour to 3 weeks before the campaign starts, the rest years old."""
    created = old_creation_times(rng, n, world_start, 0.0)
    recent = rng.random(n) < share
    created[recent] = campaign_start - rng.integers(HOUR, 21 * DAY, int(recent.sum()))
    return created


#: Every member takes part in at least this many waves (fewer when the campaign has fewer).
MIN_WAVES_PER_MEMBER = 2


def wave_participation(rng: np.random.Generator, join_p: np.ndarray, n_waves: int) -> np.ndarray:
    """Which members join which wave: ``(n_waves, n_members)`` booleans.

    Each member joins each wave with its ``join_p``, and a member drawn into fewer than
    :data:`MIN_WAVES_PER_MEMBER` waves is added to random further waves: a labelled member
    who never acted with the campaign would be no member in any data a detector (or an
    analyst) could see, and would only measure the dice.
    """
    joined = rng.random((n_waves, len(join_p))) < join_p
    need = min(MIN_WAVES_PER_MEMBER, n_waves)
    for member in np.flatnonzero(joined.sum(axis=0) < need):
        free = np.flatnonzero(~joined[:, member])
        extra = need - int(joined[:, member].sum())
        joined[rng.choice(free, size=extra, replace=False), member] = True
    return joined


class MobilizationCampaign:
    """A network calling people to a place and a date, in waves that burst towards it."""

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator, spec: CampaignSpec) -> None:
        self.spec = spec
        self.stealthy = spec.loudness == "stealthy"
        day = int(datetime.fromisoformat(spec.event_date).replace(tzinfo=UTC).timestamp())
        day = int(np.clip(day, ctx.start + DAY, ctx.end - DAY))  # a short world still holds the date
        self.event_ts = day + (13 - UTC_OFFSET[spec.lang]) * HOUR
        lead_days = 8 if self.stealthy else 10
        self.campaign_start = max(ctx.start, self.event_ts - lead_days * DAY)
        n = max(6, int(round(spec.base_size * ctx.member_scale)))
        recent_share = 0.4 if self.stealthy else 0.8
        activist = rng.random(n) < (0.2 if self.stealthy else 0.6)
        names = np.where(activist, handles(rng, n, spec.lang, "activist"), handles(rng, n, spec.lang))
        self.members = book.add(
            names=names, platform=spec.platform, lang=spec.lang,
            created_at=_recent_creation(rng, n, self.campaign_start, recent_share, ctx.start),
            followers=np.where(activist, rng.lognormal(3.5, 1.0, n), organic_followers(rng, n)).astype(np.int64),
            weight=1.0,
        )
        self.seeder = book.add(
            names=[pick(rng, SEEDER_NAMES[spec.lang])], platform=spec.platform, lang=spec.lang,
            created_at=old_creation_times(rng, 1, ctx.start, 0.0), followers=int(rng.lognormal(13, 0.6)),
            weight=1.0, high_profile=True,
        )[0]
        self.voice = CampaignVoice(rng, spec.lang, self.stealthy)
        self.channel = {"telegram": f"tg_{random_slug(rng, 6)}_{spec.lang}",
                        "facebook": f"fb_group_{random_slug(rng, 6)}"}.get(spec.platform)
        self.summary: dict = {}

    @property
    def all_members(self) -> np.ndarray:
        return np.concatenate([self.members, [self.seeder]])

    def _wave_times(self, rng: np.random.Generator) -> np.ndarray:
        span = self.event_ts - self.campaign_start
        if self.stealthy:
            u = rng.beta(1.6, 1.0, int(rng.integers(5, 9)))
            return np.sort(self.campaign_start + (u * span * 0.97).astype(np.int64))
        early = self.campaign_start + (rng.beta(2.0, 1.2, 6) * span * 0.8).astype(np.int64)
        final = self.event_ts - rng.integers(HOUR, min(48 * HOUR, span), 9)  # the burst before the date
        return np.sort(np.concatenate([early, final]))

    def _level(self, ts: int) -> int:
        days_left = (self.event_ts - ts) / DAY
        level = 0 if days_left > 5 else 1 if days_left > 2 else 2 if days_left > 0.6 else 3
        return min(level, 2) if self.stealthy else level

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for("campaign", self.spec.campaign_id)
        created = ctx.accounts.created_at
        core = self.members[: max(2, len(self.members) // 5)]
        # Loud: most members join every wave. Stealthy: a committed third joins most waves,
        # the rest now and then.
        join_p = np.full(len(self.all_members), 0.85)
        if self.stealthy:
            join_p[:] = 0.3
            join_p[: max(3, len(self.members) // 3)] = 0.8
            join_p[-1] = 0.8  # the seeder
        wave_times = self._wave_times(rng)
        joined = wave_participation(rng, join_p, len(wave_times))
        n_waves = 0
        wave_records = 0
        delays_all: list[np.ndarray] = []
        for wave_ts, joining in zip(wave_times, joined, strict=True):
            wave_ts = int(wave_ts)
            by_seeder = rng.random() < (0.25 if self.stealthy else 0.35)
            originator = self.seeder if by_seeder else int(pick(rng, core))
            if created[originator] >= wave_ts:
                originator = self.seeder
            text = self.voice.call(rng, wave_ts, self.event_ts, self._level(wave_ts))
            mention = None
            if originator != self.seeder and rng.random() < 0.4:  # core members tag the seeder
                mention = [ctx.accounts.ids[int(self.seeder)]]
                text = f"@{ctx.accounts.names[int(self.seeder)]} {text}"
            url = pick(rng, self.voice.links) if rng.random() < (0.3 if self.stealthy else 0.55) else None
            flyer = pick(rng, self.voice.flyers) if rng.random() < 0.35 else None
            post = originals(ctx.ids, accounts_idx=[originator], ts=[wave_ts], text=[text],
                             urls=[[url] if url else None], media=[[flyer] if flyer else None],
                             hashtags=[self.voice.hashtags_in(text) or None], channel_id=[self.channel],
                             mentions=[mention])
            joins = self.all_members[joining & (self.all_members != originator)]
            n = len(joins)
            mix = {REPOST: 0.4, POST: 0.3, QUOTE: 0.15, REPLY: 0.15} if self.stealthy else \
                {REPOST: 0.55, POST: 0.3, QUOTE: 0.1, REPLY: 0.05}
            actions = mixed_actions(rng, n, mix)
            delays = (lognormal_delays(rng, n, 150, 1.0, 10, HOUR) if self.stealthy
                      else lognormal_delays(rng, n, 25, 0.8, 2, 600))
            texts = [near_duplicate(rng, text, self.spec.lang) if a == POST
                     else self.voice.support(rng, wave_ts, self.event_ts) if a in (QUOTE, REPLY) else None
                     for a in actions]
            shares_post = actions == POST
            wave = responses(
                ctx.ids, target_numbers=post.number, target_accounts=post.account, target_ts=post.ts,
                which=np.zeros(n, np.int64), actors=joins, delays=delays, actions=actions, end=ctx.end,
                created_at=created, text=texts,
                urls=[[url] if (url and s) else None for s in shares_post],
                media=[[flyer] if (flyer and s) else None for s in shares_post],
                hashtags=[(self.voice.hashtags_in(t) or None) if (t and s) else None for t, s in zip(texts, shares_post, strict=True)],
                channel_id=[self.channel] * n, accounts=ctx.accounts,
                mentions=[mention if a == POST else [ctx.accounts.ids[int(originator)]] if a == REPLY else None
                          for a in actions],
            )
            reach = self._organic_reach(ctx, rng, post) if originator == self.seeder else None
            batch = concat_batches([post, wave] + ([reach] if reach is not None else []))
            n_waves += 1
            wave_records += len(post) + len(wave)
            delays_all.append(wave.ts - wave_ts)
            yield batch
        if not self.stealthy and self.spec.platform == "x":
            yield from self._reply_raids(ctx, rng)
        yield self._cover(ctx, rng)
        delays = np.concatenate(delays_all) if delays_all else np.zeros(0)
        self.summary = {"waves": n_waves, "wave_records": wave_records,
                        "median_response_s": float(np.median(delays)) if len(delays) else None}

    def _reply_raids(self, ctx: WorldContext, rng: np.random.Generator, n_raids: int = 2) -> Iterator[Batch]:
        """Members flood the replies of a prominent post in their language within minutes."""
        numbers, authors, cover_ts = ctx.cover()
        prominent = (ctx.accounts.high_profile.to_numpy()[authors]
                     & (ctx.accounts.lang.to_numpy()[authors] == self.spec.lang)
                     & (cover_ts >= self.campaign_start) & (cover_ts < self.event_ts))
        candidates = np.flatnonzero(prominent)
        for target in rng.choice(candidates, size=min(n_raids, len(candidates)), replace=False):
            raiders = self.all_members[rng.random(len(self.all_members)) < 0.6]
            n = len(raiders)
            start_delay = int(rng.lognormal(np.log(20 * 60), 0.5))
            delays = start_delay + lognormal_delays(rng, n, 60, 0.9, 1, HOUR)
            base = self.voice.raid_reply(rng)
            texts = [near_duplicate(rng, base, self.spec.lang) if rng.random() < 0.5 else self.voice.raid_reply(rng)
                     for _ in range(n)]
            yield responses(ctx.ids, target_numbers=numbers, target_accounts=authors, target_ts=cover_ts,
                            which=np.full(n, target), actors=raiders, delays=delays,
                            actions=np.full(n, REPLY, np.int8), end=ctx.end, created_at=ctx.accounts.created_at,
                            text=texts, accounts=ctx.accounts)

    def _organic_reach(self, ctx: WorldContext, rng: np.random.Generator, post: Batch) -> Batch | None:
        """Ordinary followers of the seeder who repost a call hours later (not members)."""
        k = int(rng.poisson(12 * ctx.member_scale))
        if k == 0:
            return None
        actors = ctx.organic.sample(rng, k, self.spec.platform, self.spec.lang)
        return responses(ctx.ids, target_numbers=post.number, target_accounts=post.account, target_ts=post.ts,
                         which=np.zeros(len(actors), np.int64), actors=actors,
                         delays=lognormal_delays(rng, len(actors), 90 * 60, 1.1, 60),
                         actions=np.full(len(actors), REPOST, np.int8), end=ctx.end, accounts=ctx.accounts,
                         channel_id=ctx.organic.home_channels(actors) if self.spec.platform == "telegram" else None)

    def _cover(self, ctx: WorldContext, rng: np.random.Generator) -> Batch:
        """Everyday posts and reposts of popular x posts, as any account makes."""
        return everyday_cover(ctx, rng, self.all_members, 2.5 if self.stealthy else 1.0, self.spec.lang,
                              self.spec.platform, self.channel if self.spec.platform == "telegram" else None)

    def labels(self, ctx: WorldContext) -> list[tuple[str, str, str]]:
        return [(ctx.accounts.ids[int(a)], self.spec.campaign_id, self.spec.kind) for a in self.all_members]

    def manifest(self, ctx: WorldContext) -> dict:
        return {
            "campaign_id": self.spec.campaign_id, "kind": self.spec.kind, "lang": self.spec.lang,
            "loudness": self.spec.loudness, "platform": self.spec.platform, "size": len(self.all_members),
            "event_date": datetime.fromtimestamp(self.event_ts, UTC).date().isoformat(),
            "event_time": datetime.fromtimestamp(self.event_ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "campaign_start": datetime.fromtimestamp(self.campaign_start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "place": place_name(self.voice.place), "city": self.voice.city, "code_word": self.voice.code,
            "hashtags": self.voice.hashtags, "links": self.voice.links, "media": self.voice.flyers,
            "money": {"fund": self.voice.fund, "pix": self.voice.pix if self.spec.lang == "pt" else None,
                      "alias": self.voice.alias if self.spec.lang == "es" else None},
            "channel_id": self.channel, "seeding_account_id": ctx.accounts.ids[int(self.seeder)],
            **self.summary,
        }


def everyday_cover(ctx: WorldContext, rng: np.random.Generator, members: np.ndarray, per_day: float, lang: str,
                   platform: str, channel: str | None = None) -> Batch:
    """Ordinary activity of campaign members: own chatter and (on x) reposts of popular posts."""
    created = ctx.accounts.created_at
    n = ctx.per_day(per_day * len(members))
    actors = rng.choice(members, n)
    repost = (rng.random(n) < 0.5) if platform == "x" else np.zeros(n, dtype=bool)
    numbers, authors, cover_ts = ctx.cover()
    if not len(numbers):
        repost[:] = False
    own = actors[~repost]
    own_ts = diurnal_times(rng, len(own), ctx.start, ctx.days, UTC_OFFSET[lang])
    alive = created[own] < own_ts
    own, own_ts = own[alive], own_ts[alive]
    posts = originals(ctx.ids, accounts_idx=own, ts=own_ts, text=ctx.organic.composers[lang].compose(rng, len(own)),
                      channel_id=[channel] * len(own) if channel else None)
    parts = [posts]
    reposters = actors[repost]
    if len(reposters):
        which = rng.integers(0, len(numbers), len(reposters))
        parts.append(responses(ctx.ids, target_numbers=numbers, target_accounts=authors, target_ts=cover_ts, which=which,
                               actors=reposters, delays=lognormal_delays(rng, len(reposters), 40 * 60, 1.3, 30),
                               actions=np.full(len(reposters), REPOST, np.int8), end=ctx.end, created_at=created,
                               accounts=ctx.accounts))
    return concat_batches(parts)


class AmplificationRing:
    """Bots that repost and quote each other's election-fraud claims within seconds."""

    SOURCES_PER_DAY = 10
    RING_TAGS = ["StopTheSteal", "ElectionFraud", "AuditNow", "DoNotCertify", "RiggedElection"]

    def __init__(self, ctx: WorldContext, book: AccountBook, rng: np.random.Generator, spec: CampaignSpec) -> None:
        self.spec = spec
        n = max(8, int(round(spec.base_size * ctx.member_scale)))
        self.members = book.add(
            names=handles(rng, n, spec.lang, "activist"), platform=spec.platform, lang=spec.lang,
            created_at=ctx.start - rng.integers(2 * DAY, 60 * DAY, n),
            followers=rng.lognormal(4.0, 1.0, n).astype(np.int64), weight=1.0,
        )
        self.proof_links = [f"https://rumble.com/v{random_slug(rng, 6)}-proof.html" for _ in range(3)]
        self.summary: dict = {}

    def batches(self, ctx: WorldContext) -> Iterator[Batch]:
        rng = ctx.rng_for("campaign", self.spec.campaign_id)
        n_sources = ctx.per_day(self.SOURCES_PER_DAY)
        ts = np.sort(diurnal_times(rng, n_sources, ctx.start, ctx.days, UTC_OFFSET[self.spec.lang]))
        authors = rng.choice(self.members, n_sources)
        texts = [ring_text(rng, self.spec.lang) for _ in range(n_sources)]
        tags = [[str(t) for t in rng.choice(self.RING_TAGS, int(rng.integers(1, 3)), replace=False)]
                for _ in range(n_sources)]
        links = [[pick(rng, self.proof_links)] if rng.random() < 0.25 else None for _ in range(n_sources)]
        texts = [t + " " + " ".join("#" + h for h in tg) for t, tg in zip(texts, tags, strict=True)]
        sources = originals(ctx.ids, accounts_idx=authors, ts=ts, text=texts, hashtags=tags, urls=links)
        participate = rng.random((n_sources, len(self.members))) < 0.75
        which, pos = np.nonzero(participate)
        actors = self.members[pos]
        n = len(which)
        actions = mixed_actions(rng, n, {REPOST: 0.7, QUOTE: 0.3})
        quote_text = [ring_text(rng, self.spec.lang) if a == QUOTE else None for a in actions]
        amplified = responses(ctx.ids, target_numbers=sources.number, target_accounts=sources.account, target_ts=sources.ts,
                              which=which, actors=actors, delays=lognormal_delays(rng, n, 6, 0.7, 1, 120),
                              actions=actions, end=ctx.end, text=quote_text, accounts=ctx.accounts)
        yield concat_batches([sources, amplified])
        yield everyday_cover(ctx, rng, self.members, 0.5, self.spec.lang, self.spec.platform)
        targeted = amplified.target != 0
        delays = amplified.ts[targeted] - sources.ts[np.searchsorted(sources.number, amplified.target[targeted])]
        self.summary = {"sources": n_sources, "amplifications": len(amplified),
                        "median_response_s": float(np.median(delays)) if len(delays) else None}

    def labels(self, ctx: WorldContext) -> list[tuple[str, str, str]]:
        return [(ctx.accounts.ids[int(a)], self.spec.campaign_id, self.spec.kind) for a in self.members]

    def manifest(self, ctx: WorldContext) -> dict:
        return {"campaign_id": self.spec.campaign_id, "kind": self.spec.kind, "lang": self.spec.lang,
                "loudness": self.spec.loudness, "platform": self.spec.platform, "size": len(self.members),
                "event_date": None, "place": None, "seeding_account_id": None, "hashtags": self.RING_TAGS,
                "links": self.proof_links, **self.summary}


def plan_campaign(ctx: WorldContext, book: AccountBook, spec: CampaignSpec):
    rng = ctx.rng_for("plan", spec.campaign_id)
    if spec.kind == "amplification":
        return AmplificationRing(ctx, book, rng, spec)
    if spec.loudness == "coded":
        return CodedCampaign(ctx, book, rng, spec)
    if spec.loudness == "textfree":
        return FundraisingRing(ctx, book, rng, spec)
    return MobilizationCampaign(ctx, book, rng, spec)


__all__ = ["DEFAULT_MIX", "AmplificationRing", "CampaignSpec", "MobilizationCampaign", "parse_mix", "plan_campaign"]
