"""Organic life: the ordinary population and its posts, reposts, replies, quotes, reactions.

The population is split into communities by platform and language (people repost
within their platform, mostly within their language). Activity is heavy-tailed
(Pareto account weights), posts follow the daily rhythm, and each derived action
picks its original by a heavy-tailed popularity (Pareto, boosted by the author's
followers), then happens a log-normal delay later (median 40 minutes, minutes to
hours) -- the cascade shape reported for retweets. Telegram accounts post in their
channel; some Facebook posts are in groups.

Generation is in independent batches of at most ``chunk_rows`` records, each with
its own random stream (seed, batch index), so memory is bounded by the batch and
output is deterministic for a seed. Cost is O(records).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from rallypoint.simulate import phrases
from rallypoint.simulate.accounts import (
    LANG_SHARES,
    PLATFORM_SHARES,
    AccountBook,
    AccountTable,
    activity_weights,
    handles,
    old_creation_times,
    organic_followers,
)
from rallypoint.simulate.events import POST, QUOTE, REACTION, REPLY, REPOST, Batch, IdSpace, concat_batches
from rallypoint.simulate.texts import OrganicComposer
from rallypoint.simulate.timing import DAY, UTC_OFFSET, diurnal_times, lognormal_delays

#: Share of organic records per action.
ACTION_MIX = {"post": 0.38, "repost": 0.42, "reply": 0.12, "quote": 0.04, "reaction": 0.04}
REPOST_DELAY_MEDIAN_S = 40 * 60
REPOST_DELAY_SIGMA = 1.3


@dataclass
class Community:
    platform: str
    lang: str
    members: np.ndarray  # account indices
    p: np.ndarray  # activity weights normalized


class OrganicPopulation:
    """Plans the ordinary accounts and generates their everyday activity."""

    def __init__(self, book: AccountBook, rng: np.random.Generator, n: int, start: int) -> None:
        platforms = rng.choice(list(PLATFORM_SHARES), size=n, p=list(PLATFORM_SHARES.values()))
        langs = rng.choice(list(LANG_SHARES), size=n, p=list(LANG_SHARES.values()))
        self.weights = activity_weights(rng, n)
        self.indices = book.add(
            names=handles(rng, n, langs.astype(object)),
            platform=platforms.astype(object), lang=langs.astype(object),
            created_at=old_creation_times(rng, n, start), followers=organic_followers(rng, n),
            weight=self.weights,
        )
        self.platforms = platforms
        self.langs = langs
        # Telegram users talk in channels; each belongs to one home channel.
        n_channels = max(3, int((platforms == "telegram").sum() // 40))
        self.telegram_channels = np.asarray([f"tg_{w}_{k}" for k, w in enumerate(
            rng.choice(["noticias", "grupo", "amigos", "news", "chat", "canal", "comunidad"], n_channels))], dtype=object)
        self.home_channel = rng.integers(0, n_channels, n)
        self.facebook_groups = np.asarray([f"fb_group_{k}" for k in range(max(3, n // 500))], dtype=object)
        self.composers = {lang: OrganicComposer(lang) for lang in LANG_SHARES}
        self.communities: list[Community] = []

    def finish(self, accounts: AccountTable) -> None:
        """Build the communities (platform x language) once the account table is frozen."""
        for platform in PLATFORM_SHARES:
            for lang in LANG_SHARES:
                mask = (self.platforms == platform) & (self.langs == lang)
                if mask.sum() >= 2:
                    w = self.weights[mask]
                    self.communities.append(Community(platform, lang, self.indices[mask], w / w.sum()))

    def sample(self, rng: np.random.Generator, k: int, platform: str | None = "x", lang: str | None = None,
               replace: bool = False, by_activity: bool = False) -> np.ndarray:
        """``k`` organic accounts (of a platform/language), without replacement unless asked."""
        mask = np.ones(len(self.indices), dtype=bool)
        if platform is not None:
            mask &= self.platforms == platform
        if lang is not None:
            mask &= self.langs == lang
        pool = self.indices[mask]
        if not replace:
            k = min(k, len(pool))
        p = None
        if by_activity:
            w = self.weights[mask]
            p = w / w.sum()
        return rng.choice(pool, size=k, replace=replace, p=p)

    def home_channels(self, actors: np.ndarray) -> pl.Series:
        """Home Telegram channel of organic accounts."""
        return pl.Series(self.telegram_channels[self.home_channel[actors - self.indices[0]]].tolist(), dtype=pl.String)

    def batches(self, accounts: AccountTable, ids: IdSpace, n_records: int, chunk_rows: int,
                start: int, days: int, rng_for) -> Iterator[Batch]:
        """Everyday activity, about ``n_records`` records, in batches of <= ``chunk_rows``."""
        n_batches = max(1, -(-n_records // chunk_rows))
        sizes = np.full(n_batches, n_records // n_batches)
        sizes[: n_records % n_batches] += 1
        total_weight = np.array([len(c.members) for c in self.communities], dtype=float)
        share = total_weight / total_weight.sum()
        for b, size in enumerate(sizes):
            rng = rng_for("organic", b)
            per_community = rng.multinomial(int(size), share)
            parts = [self._community_batch(rng, accounts, ids, c, int(k), start, days)
                     for c, k in zip(self.communities, per_community, strict=True) if k > 0]
            yield concat_batches(parts)

    def _community_batch(self, rng: np.random.Generator, accounts: AccountTable, ids: IdSpace, c: Community,
                         n: int, start: int, days: int) -> Batch:
        end = start + days * DAY
        n_post = max(1, int(round(n * ACTION_MIX["post"])))
        n_derived = max(0, n - n_post)
        authors = rng.choice(c.members, size=n_post, p=c.p)
        post_ts = diurnal_times(rng, n_post, start, days, UTC_OFFSET[c.lang])
        post_numbers = ids.take(n_post)
        # Heavy-tailed popularity, boosted by audience: a few posts collect most reposts.
        followers = accounts.followers.to_numpy()[authors]
        popularity = (rng.pareto(1.1, n_post) + 0.01) * np.sqrt(followers + 10)
        targets = rng.choice(n_post, size=n_derived, p=popularity / popularity.sum())
        actors = rng.choice(c.members, size=n_derived, p=c.p)
        self_acts = actors == authors[targets]
        actors[self_acts] = rng.choice(c.members, size=int(self_acts.sum()))
        derived_ts = post_ts[targets] + lognormal_delays(rng, n_derived, REPOST_DELAY_MEDIAN_S, REPOST_DELAY_SIGMA, 3)
        kept = derived_ts < end
        targets, actors, derived_ts = targets[kept], actors[kept], derived_ts[kept]
        n_derived = len(targets)
        mix = np.array([ACTION_MIX[a] for a in ("repost", "reply", "quote", "reaction")])
        action = np.array([REPOST, REPLY, QUOTE, REACTION], dtype=np.int8)[rng.choice(4, n_derived, p=mix / mix.sum())]
        if c.platform != "facebook":  # reactions are a Facebook thing in exports
            action[action == REACTION] = REPOST
        if c.platform == "telegram":  # Telegram has forwards and replies, no quotes
            action[action == QUOTE] = REPOST

        composer = self.composers[c.lang]
        post_text = composer.compose(rng, n_post)
        post = Batch(
            number=post_numbers, account=authors, ts=post_ts, action=np.full(n_post, POST, np.int8),
            text=post_text, urls=_links(rng, n_post, 0.12), hashtags=_tags(rng, n_post, 0.15, composer.hashtags),
            media=_media(rng, n_post, 0.08), channel_id=self._channels(rng, c, authors),
        )
        writes_text = (action == REPLY) | (action == QUOTE)
        derived_text = pl.select(
            pl.when(pl.Series(writes_text)).then(composer.compose(rng, n_derived)).otherwise(None)
        ).to_series()
        target_accounts = authors[targets]
        mention_ids = accounts.ids.gather(pl.Series(target_accounts))
        mentions = pl.select(
            pl.when(pl.Series(action == REPLY)).then(pl.concat_list([mention_ids])).otherwise(None)
        ).to_series()
        derived = Batch(
            number=ids.take(n_derived), account=actors, ts=derived_ts, action=action,
            target=post_numbers[targets], target_account=target_accounts, text=derived_text, mentions=mentions,
            channel_id=self._channels(rng, c, actors),
        )
        return concat_batches([post, derived])

    def _channels(self, rng: np.random.Generator, c: Community, actors: np.ndarray):
        if c.platform == "telegram":
            return self.home_channels(actors)
        if c.platform == "facebook":
            in_group = rng.random(len(actors)) < 0.4
            groups = self.facebook_groups[rng.integers(0, len(self.facebook_groups), len(actors))]
            return pl.Series(np.where(in_group, groups, None).tolist(), dtype=pl.String)
        return None


def _as_lists(values: pl.Series, present: np.ndarray) -> pl.Series:
    return pl.select(pl.when(pl.Series(present)).then(pl.concat_list([values])).otherwise(None)).to_series()


def _links(rng: np.random.Generator, n: int, share: float) -> pl.Series:
    """Links to popular sites with mostly distinct paths, on ``share`` of the rows."""
    domains = pl.Series(phrases.POPULAR_DOMAINS).gather(pl.Series(rng.integers(0, len(phrases.POPULAR_DOMAINS), n)))
    paths = pl.Series(rng.integers(0, 10**9, n)).cast(pl.String)
    urls = pl.select(pl.concat_str([pl.lit("https://"), domains, pl.lit("/"), paths])).to_series()
    return _as_lists(urls, rng.random(n) < share)


def _tags(rng: np.random.Generator, n: int, share: float, pool: list[str]) -> pl.Series:
    tags = pl.Series(pool).gather(pl.Series(rng.integers(0, len(pool), n)))
    return _as_lists(tags, rng.random(n) < share)


def media_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 64-bit perceptual-hash-like hex strings."""
    return np.char.mod("%016x", rng.integers(0, 2**62, n, dtype=np.int64)).astype(object)


def _media(rng: np.random.Generator, n: int, share: float) -> pl.Series:
    return _as_lists(pl.Series(media_hashes(rng, n), dtype=pl.String), rng.random(n) < share)
