"""The simulated accounts: one columnar table for the whole world.

Accounts are planned before any record is generated. Groups (organic population,
news outlets, bots, fans, campaign members, ...) are appended to an
:class:`AccountBook`, which hands back the index range of each group; generators
refer to accounts by index only. :meth:`AccountBook.freeze` turns the book into an
:class:`AccountTable` of polars columns that :func:`rallypoint.simulate.events.batch_frame`
gathers from. Memory is linear in the number of accounts, never in records.

Account ids are a bijective scramble (odd multiplier modulo 2**44) of a seeded
shuffle of the index, so nothing in an id tells which group an account belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from rallypoint.simulate.events import TIME_FORMAT

DAY = 86_400
PLATFORM_SHARES = {"x": 0.78, "telegram": 0.12, "facebook": 0.10}
LANG_SHARES = {"en": 0.45, "pt": 0.35, "es": 0.20}

_ACCOUNT_MULTIPLIER = np.uint64(0x5851F42D4C957F2D)
_ACCOUNT_MASK = np.uint64((1 << 44) - 1)
_ACCOUNT_OFFSET = np.uint64(10**13)

# Pieces of handles, by language; handles are built by vectorized concatenation.
_FIRST = {
    "en": ["mike", "jess", "tom", "sarah", "dave", "amy", "chris", "kate", "josh", "emily", "ryan", "lauren",
           "brian", "megan", "kevin", "rachel", "matt", "nicole", "jake", "hannah", "bill", "linda", "gary", "deb"],
    "pt": ["joao", "maria", "ana", "pedro", "lucas", "julia", "gabriel", "mariana", "rafael", "camila", "bruno",
           "leticia", "felipe", "beatriz", "thiago", "larissa", "carlos", "fernanda", "paulo", "renata", "zeca", "bia"],
    "es": ["juan", "lucia", "diego", "sofia", "mateo", "valentina", "santiago", "camila", "martin", "florencia",
           "nicolas", "agustina", "pablo", "carla", "javier", "romina", "andres", "paula", "facundo", "ines"],
}
_LAST = {
    "en": ["smith", "jones", "miller", "davis", "garcia", "wilson", "moore", "taylor", "clark", "hall", "young",
           "king", "wright", "hill", "green", "baker", "nelson", "carter", "reed", "cook", "fan", "dad", "mom", "x"],
    "pt": ["silva", "santos", "souza", "oliveira", "lima", "pereira", "costa", "rodrigues", "almeida", "nunes",
           "carvalho", "gomes", "ribeiro", "martins", "rocha", "barbosa", "araujo", "melo", "br", "rj", "sp"],
    "es": ["gomez", "rodriguez", "fernandez", "lopez", "martinez", "perez", "sanchez", "romero", "diaz", "alvarez",
           "torres", "ruiz", "acosta", "benitez", "medina", "herrera", "ok", "ar", "mx", "cl"],
}
_SEPARATORS = ["", "_", ".", "", "_"]
# Handles typical of freshly made activist accounts; used for part of the campaign members.
_ACTIVIST = {
    "en": ["patriot", "wethepeople", "freedom", "maga", "liberty", "truth", "eagle", "ultra", "stopthe", "american"],
    "pt": ["patriota", "brasil", "verdeamarelo", "intervencao", "direita", "conservador", "acordabrasil", "mito"],
    "es": ["patriota", "libertad", "republica", "argentino", "despierta", "soberano", "verdad", "nacion"],
}
_BOT = ["news", "headlines", "daily", "breaking", "update", "feed", "wire", "digest"]


@dataclass(frozen=True)
class AccountTable:
    """Frozen account columns (polars Series gathered per batch) plus numpy helpers."""

    ids: pl.Series
    names: pl.Series
    platform: pl.Series
    lang: pl.Series
    created_at: np.ndarray  # int64 epoch seconds
    created_at_iso: pl.Series
    followers: pl.Series
    high_profile: pl.Series
    weight: np.ndarray  # relative activity, heavy-tailed

    def __len__(self) -> int:
        return len(self.ids)


class AccountBook:
    """Collects account groups, then freezes them into an :class:`AccountTable`."""

    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []
        self.size = 0

    def add(self, *, names, platform, lang, created_at, followers, weight, high_profile=False) -> np.ndarray:
        """Append len(names) accounts; scalars broadcast. Returns their indices."""
        n = len(names)
        part = {
            "names": np.asarray(names, dtype=object),
            "platform": _broadcast(platform, n, object),
            "lang": _broadcast(lang, n, object),
            "created_at": _broadcast(created_at, n, np.int64),
            "followers": _broadcast(followers, n, np.int64),
            "weight": _broadcast(weight, n, np.float64),
            "high_profile": _broadcast(high_profile, n, bool),
        }
        self._parts.append(part)
        indices = np.arange(self.size, self.size + n, dtype=np.int64)
        self.size += n
        return indices

    def freeze(self, rng: np.random.Generator) -> AccountTable:
        """The table; ids are a seeded shuffle of the indices, scrambled, so groups get no id pattern."""

        def cat(key: str) -> np.ndarray:
            return np.concatenate([p[key] for p in self._parts])

        n = self.size
        with np.errstate(over="ignore"):
            shuffled = rng.permutation(n).astype(np.uint64) + np.uint64(1)
            scrambled = ((shuffled * _ACCOUNT_MULTIPLIER) & _ACCOUNT_MASK) + _ACCOUNT_OFFSET
        created_at = cat("created_at")
        platform = cat("platform")
        lang = cat("lang")
        return AccountTable(
            ids=pl.Series("account_id", scrambled).cast(pl.String),
            names=pl.Series("account_name", cat("names").tolist(), dtype=pl.String),
            platform=pl.Series("platform", platform.tolist(), dtype=pl.String),
            lang=pl.Series("lang", lang.tolist(), dtype=pl.String),
            created_at=created_at,
            created_at_iso=pl.from_epoch(pl.Series(created_at), time_unit="s").dt.strftime(TIME_FORMAT),
            followers=pl.Series("followers", cat("followers")),
            high_profile=pl.Series("high_profile", cat("high_profile")),
            weight=cat("weight"),
        )


def _broadcast(value, n: int, dtype) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    return np.full(n, arr.item(), dtype=dtype) if arr.ndim == 0 else arr


def handles(rng: np.random.Generator, n: int, lang: str | np.ndarray, style: str = "person") -> np.ndarray:
    """``n`` handles in the manner of ``style`` (person, activist, bot) for ``lang``.

    Vectorized: pieces are drawn with numpy and joined by polars; duplicates are
    allowed (names are not keys, ids are).
    """
    langs = np.full(n, lang, dtype=object) if isinstance(lang, str) else np.asarray(lang, dtype=object)
    out = np.empty(n, dtype=object)
    for code in ("en", "pt", "es"):
        mask = langs == code
        k = int(mask.sum())
        if not k:
            continue
        if style == "bot":
            first = np.asarray(_BOT, dtype=object)[rng.integers(0, len(_BOT), k)]
            second = np.asarray(["now", "24", "hub", "bot", "live", "today"], dtype=object)[rng.integers(0, 6, k)]
        elif style == "activist":
            first = np.asarray(_ACTIVIST[code], dtype=object)[rng.integers(0, len(_ACTIVIST[code]), k)]
            second = np.asarray(_FIRST[code], dtype=object)[rng.integers(0, len(_FIRST[code]), k)]
        else:
            first = np.asarray(_FIRST[code], dtype=object)[rng.integers(0, len(_FIRST[code]), k)]
            second = np.asarray(_LAST[code], dtype=object)[rng.integers(0, len(_LAST[code]), k)]
        sep = np.asarray(_SEPARATORS, dtype=object)[rng.integers(0, len(_SEPARATORS), k)]
        digits = rng.integers(0, 10_000, k)
        digits_text = np.where(rng.random(k) < 0.65, digits.astype(str).astype(object), "")
        if style == "activist":
            digits_text = np.where(rng.random(k) < 0.5, (rng.integers(1, 99, k)).astype(str).astype(object),
                                   np.asarray(["1776", "2022", "1822", "17", "22", "76"], dtype=object)[rng.integers(0, 6, k)])
        out[mask] = pl.select(
            pl.concat_str([pl.Series(first), pl.Series(sep), pl.Series(second), pl.Series(digits_text)])
        ).to_series().to_numpy()
    return out


def old_creation_times(rng: np.random.Generator, n: int, world_start: int, recent_share: float = 0.03) -> np.ndarray:
    """Creation times of ordinary accounts: mostly years old, a few made in the last month."""
    years_old = rng.uniform(0.3, 14.0, n)
    created = world_start - (years_old * 365.25 * DAY).astype(np.int64)
    recent = rng.random(n) < recent_share
    created[recent] = world_start - rng.integers(1 * DAY, 30 * DAY, int(recent.sum()))
    return created


def organic_followers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Follower counts: log-normal with a long tail (median ~ 150)."""
    return np.minimum(rng.lognormal(5.0, 1.6, n), 5e6).astype(np.int64)


def activity_weights(rng: np.random.Generator, n: int) -> np.ndarray:
    """Relative activity: Pareto (alpha 1.6), so a few accounts act far more than most."""
    return rng.pareto(1.6, n) + 0.05
