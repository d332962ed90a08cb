"""What every group generator of a world shares: clock, budget, ids, accounts, random streams."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from rallypoint.simulate.events import IDS_PER_SEED, SEED_ID_RANGES, IdSpace
from rallypoint.simulate.timing import DAY

#: Every simulated world ends on Monday 9 January 2023, 00:00 UTC, so it covers the
#: days before 6 and 8 January; a 14-day world starts on 26 December 2022.
WORLD_END = 1_673_222_400


@dataclass
class WorldContext:
    seed: int
    days: int
    budget: int  # records the whole world aims at
    member_scale: float  # campaign and group sizes relative to a 5,000-account world
    organic: object  # OrganicPopulation
    chunk_rows: int = 50_000  # largest batch a generator builds at once
    ids: IdSpace = field(default_factory=IdSpace)
    accounts: object = None  # AccountTable once frozen
    # x posts that anyone may repost for cover: (record numbers, authors, times)
    cover_posts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    @property
    def end(self) -> int:
        return WORLD_END

    def __post_init__(self) -> None:
        # each seed numbers its records in its own range, so two seeds' worlds never share an id
        # (their records can be ingested into one lake without "already in the lake" losses)
        self.ids = IdSpace(first=1 + (self.seed % SEED_ID_RANGES) * IDS_PER_SEED)

    @property
    def start(self) -> int:
        return WORLD_END - self.days * DAY

    def per_day(self, rate: float) -> int:
        """How many of something happening ``rate`` times a day happen in the whole world.

        Worlds thinner than 1,000 records a day slow every fixed-rate group down in
        proportion, so that ``records`` still roughly holds (at least once a day).
        """
        thinning = min(1.0, self.budget / self.days / 1000)
        return max(self.days, int(rate * thinning * self.days))

    def rng_for(self, *names: object) -> np.random.Generator:
        """An independent, reproducible random stream for a named part of the world."""
        keys = [zlib.crc32(str(n).encode()) for n in names]
        return np.random.default_rng(np.random.SeedSequence([self.seed, *keys]))

    def add_cover(self, numbers: np.ndarray, authors: np.ndarray, ts: np.ndarray) -> None:
        self.cover_posts.append((np.asarray(numbers), np.asarray(authors), np.asarray(ts)))

    def cover(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.cover_posts:
            empty = np.zeros(0, np.int64)
            return empty.astype(np.uint64), empty, empty
        return tuple(np.concatenate(parts) for parts in zip(*self.cover_posts, strict=True))  # type: ignore[return-value]
