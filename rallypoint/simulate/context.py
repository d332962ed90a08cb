"""What every group generator of a world shares: clock, budget, ids, accounts, random streams."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from rallypoint.simulate.events import IdSpace
from rallypoint.simulate.timing import DAY

#: The simulated world begins on Monday 26 December 2022, 00:00 UTC, so a 14-day
#: world spans the weeks before 6 and 8 January.
WORLD_START = 1_672_012_800


@dataclass
class WorldContext:
    seed: int
    days: int
    budget: int  # records the whole world aims at
    member_scale: float  # campaign and group sizes relative to a 5,000-account world
    organic: object  # OrganicPopulation
    start: int = WORLD_START
    ids: IdSpace = field(default_factory=IdSpace)
    accounts: object = None  # AccountTable once frozen
    # x posts that anyone may repost for cover: (record numbers, authors, times)
    cover_posts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.start + self.days * DAY

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
