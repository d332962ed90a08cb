"""Text generation for the simulated world: organic chatter, campaign calls, variants.

* :class:`OrganicComposer` builds millions of ordinary posts by vectorized
  concatenation of opener + body + closer + emoji drawn from expanded banks
  (:mod:`rallypoint.simulate.phrases`), so organic text is varied and cheap.
* :func:`date_phrase` names an event day the way people do, relative to when the
  post is written: absolute ("January 6", "dia 8", "8 de enero") or relative
  ("tomorrow", "this Saturday", "amanhã", "este sábado", "on the 6th") only when
  the relative form is true at that moment.
* :class:`CampaignVoice` writes one campaign's calls to action: date, place,
  logistics, money, code words, fraud narrative and an escalation level that the
  caller raises as the date approaches. :func:`near_duplicate` makes the slightly
  edited copies members post within seconds of each other.
* :func:`typo` adds human noise (swapped, dropped or doubled letters, lost accents,
  shouting); :func:`masked` writes a few words the ways accounts dodge word filters.
"""

from __future__ import annotations

import random
import re
import unicodedata
import zlib
from datetime import UTC, datetime

import numpy as np
import polars as pl

from rallypoint.simulate import phrases

DAY = 86_400


def pick(rng: np.random.Generator, options):
    """One element of ``options``, uniformly."""
    return options[int(rng.integers(0, len(options)))]


def capitalize_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def typo(rng: np.random.Generator, text: str) -> str:
    """``text`` with one human slip: swapped/dropped/doubled letter, no accents, or caps."""
    kind = int(rng.integers(0, 6))
    if kind == 0:
        return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    if kind == 1:
        return text.upper() if len(text) < 90 else text
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    if len(letters) < 4:
        return text
    i = letters[int(rng.integers(1, len(letters) - 1))]
    if kind == 2 and i + 1 < len(text) and text[i + 1].isalpha():
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if kind == 3:
        return text[:i] + text[i + 1:]
    if kind == 4:
        return text[:i] + text[i] + text[i:]
    return text.lower()


_LEET = {"a": "4", "e": "3", "o": "0", "i": "1", "s": "5", "t": "7"}
_CYRILLIC = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445", "y": "\u0443"}
_BOLD = {c: chr(0x1D41A + i) for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")} | {
    c: chr(0x1D400 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


def _masked_word(chooser: random.Random, word: str) -> str:
    style = chooser.randrange(4)
    if style == 0:  # letters as digits, now and then the first or the last one too
        spots = [i for i, c in enumerate(word) if c.lower() in _LEET]
        inner = [i for i in spots if 0 < i < len(word) - 1]
        chosen = chooser.sample(inner or spots, min(len(inner or spots), chooser.randrange(1, 3))) if spots else []
        if chooser.random() < 0.25 and spots:
            chosen.append(chooser.choice([spots[0], spots[-1]]))
        return "".join(_LEET[c.lower()] if i in chosen else c for i, c in enumerate(word))
    if style == 1:  # a Cyrillic letter drawn like the Latin one
        spots = [i for i, c in enumerate(word) if c in _CYRILLIC]
        if not spots:
            return word
        at = chooser.choice(spots)
        return word[:at] + _CYRILLIC[word[at]] + word[at + 1:]
    if style == 2:  # a zero-width space or a soft hyphen inside
        at = chooser.randrange(1, len(word))
        return word[:at] + chooser.choice(["\u200b", "\u00ad", "\u200d"]) + word[at:]
    return "".join(_BOLD.get(c, c) for c in word)  # mathematical bold


def masked(text: str, share: float) -> str:
    """``text``, or for ``share`` of texts one or two of its words of four letters or more written
    the ways accounts dodge word filters: letters as digits (``r4lly``), a Cyrillic look-alike
    letter, a zero-width character inside, or mathematical bold. Chosen from the text's own hash,
    so a world's random streams are not touched (a world with masking differs only in those words).
    """
    chooser = random.Random(zlib.crc32(text.encode()))
    if chooser.random() >= share:
        return text
    links = [m.span() for m in re.finditer(r"(?:https?://|www\.)\S+", text)]
    words = [m for m in re.finditer(r"[A-Za-z]{4,}", text) if not any(a <= m.start() < b for a, b in links)]
    if not words:
        return text
    for match in sorted(chooser.sample(words, min(len(words), chooser.randrange(1, 3))), key=lambda m: -m.start()):
        text = text[:match.start()] + _masked_word(chooser, match.group(0)) + text[match.end():]
    return text


_TAILS = {
    "en": [" (day {n})", " since {h}am", ", {n}/10", " for the {n}th time", " at {h}:{mm}", " with {n} people", " {n} min in"],
    "pt": [" (dia {n})", " desde as {h}h", ", nota {n}", " pela {n}ª vez", " às {h}:{mm}", " com {n} pessoas", " há {n} min"],
    "es": [" (día {n})", " desde las {h}", ", {n}/10", " por {n}ª vez", " a las {h}:{mm}", " con {n} personas", " hace {n} min"],
}


class OrganicComposer:
    """Vectorized ordinary posts in one language."""

    def __init__(self, lang: str) -> None:
        bank = phrases.ORGANIC[lang]
        bodies: list[str] = []
        for template in bank["bodies"]:
            slots = [name for name in bank["slots"] if "{" + name + "}" in template]
            expansions = [template]
            for name in slots:
                expansions = [e.replace("{" + name + "}", value) for e in expansions for value in bank["slots"][name]]
            bodies.extend(expansions)
        rng = np.random.default_rng(len(bodies))
        bodies.extend(typo(rng, b) for b in list(bodies)[::4])
        self.openers = pl.Series(bank["openers"], dtype=pl.String)
        self.bodies = pl.Series(bodies, dtype=pl.String)
        self.closers = pl.Series(bank["closers"], dtype=pl.String)
        self.emojis = pl.Series(bank["emojis"], dtype=pl.String)
        # Small specifics people add (a time, a count, a day), so whole posts rarely repeat.
        tails = [""] * 300
        for template in _TAILS[lang]:
            tails.extend(template.format(n=int(rng.integers(2, 40)), h=int(rng.integers(1, 12)),
                                         mm=f"{int(rng.integers(0, 60)):02d}") for _ in range(60))
        self.tails = pl.Series(tails, dtype=pl.String)
        self.hashtags = bank["hashtags"]

    def compose(self, rng: np.random.Generator, n: int) -> pl.Series:
        """``n`` posts; combinations number in the millions, so repeats are rare."""

        def draw(pool: pl.Series) -> pl.Series:
            return pool.gather(pl.Series(rng.integers(0, len(pool), n)))

        return pl.select(
            pl.concat_str([draw(self.openers), draw(self.bodies), draw(self.tails), draw(self.closers),
                           draw(self.emojis)])
        ).to_series().alias("text")


def ordinal_en(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def date_phrase(rng: np.random.Generator, lang: str, post_ts: int, event_ts: int) -> str:
    """How a person writing at ``post_ts`` names the day of ``event_ts`` (both UTC seconds).

    Relative forms are used only when true: "today"/"tomorrow" on the day itself or
    the day before, "this <weekday>" within the coming six days.
    """
    post = datetime.fromtimestamp(post_ts, UTC).date()
    event = datetime.fromtimestamp(event_ts, UTC).date()
    days_ahead = (event - post).days
    month = phrases.MONTHS[lang][event.month - 1]
    weekday = phrases.WEEKDAYS[lang][event.weekday()]
    d = event.day
    if lang == "en":
        absolute = [f"on {month} {d}", f"{month} {ordinal_en(d)}", f"on {event.month}/{d}", f"on the {ordinal_en(d)}",
                    f"{month[:3]} {d}"]
        this_day = [f"this {weekday}", f"on {weekday}", f"{weekday} the {ordinal_en(d)}"]
    elif lang == "pt":
        article = "neste" if event.weekday() >= 5 else "nesta"
        absolute = [f"no dia {d}", f"dia {d}", f"em {d} de {month}", f"no dia {d}/{event.month:02d}", f"dia {d} de {month}"]
        this_day = [f"{article} {weekday}", f"{weekday} dia {d}", f"{article} {weekday}, dia {d}"]
    else:
        absolute = [f"el {d} de {month}", f"el {d}", f"el día {d}", f"el {d}/{event.month}", f"este {d} de {month}"]
        this_day = [f"este {weekday}", f"el {weekday} {d}", f"este {weekday} {d}"]
    options = list(absolute)
    if days_ahead == 0:
        options += phrases.TODAY[lang] * 3
    elif days_ahead == 1:
        options += phrases.TOMORROW[lang] * 3
    if 0 < days_ahead <= 6:
        options += this_day * 2
    return pick(rng, options)


def _fill(template: str, slots: dict[str, str]) -> str:
    for key, value in slots.items():
        template = template.replace("{" + key + "}", value)
        template = template.replace("{" + key.capitalize() + "}", capitalize_first(value))
    return template


def place_name(place: str) -> str:
    """A landmark's name without its article ("the Capitol" -> "Capitol")."""
    for article in ("the ", "el ", "la ", "o ", "a "):
        if place.lower().startswith(article):
            return place[len(article):]
    return place


def random_slug(rng: np.random.Generator, n: int = 8) -> str:
    alphabet = "abcdefghijkmnopqrstuvwxyz23456789"
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), n))


_FRAUD_ENDINGS = {"en": [".", "!", "!!", ". Period."], "pt": [".", "!", "!!", ". Ponto final."],
                  "es": [".", "!", "!!", ". Punto."]}


#: The share of a stealthy campaign's texts, and of fans' texts, with masked words.
MASKED_SHARE = 0.35


class CampaignVoice:
    """The recurring words, links and keys of one mobilization campaign."""

    def __init__(self, rng: np.random.Generator, lang: str, stealthy: bool) -> None:
        bank = phrases.CAMPAIGN[lang]
        self.lang = lang
        self.stealthy = stealthy
        self.bank = bank
        self.place, self.at_place = pick(rng, bank["places"])
        self.city = bank["city"][0]
        self.origins = [pick(rng, bank["origins"]) for _ in range(3)]
        self.code = pick(rng, bank["code"])
        self.hashtags = [str(t) for t in rng.choice(bank["hashtags"], size=3, replace=False)]
        slug = random_slug(rng)
        if lang == "en":
            self.fund = f"https://www.givesendgo.com/{slug}"
        elif lang == "pt":
            self.fund = f"https://www.vakinha.com.br/{int(rng.integers(1_000_000, 9_999_999))}"
        else:
            self.fund = f"https://mpago.la/{slug[:6]}"
        self.pix = pick(rng, [f"{pick(rng, ['patriota', 'caravana', 'onibus'])}{int(rng.integers(10, 99))}@gmail.com",
                              f"+55 61 9{int(rng.integers(10_000_000, 99_999_999))}"])
        self.alias = f"{pick(rng, ['patria', 'caravana', 'micros'])}.{pick(rng, ['libre', 'unida', 'fuerte'])}.mp"
        self.links = [self.fund, f"https://t.me/+{random_slug(rng, 16)}",
                      f"https://forms.gle/{random_slug(rng, 12)}"]
        self.flyers = [f"{int(v):016x}" for v in rng.integers(0, 2**62, 3)]

    def _slots(self, rng: np.random.Generator, post_ts: int, event_ts: int) -> dict[str, str]:
        return {
            "date": date_phrase(rng, self.lang, post_ts, event_ts), "place": self.place, "at_place": self.at_place,
            "city": pick(rng, self.bank["city"]), "time": pick(rng, self.bank["time"]), "origin": pick(rng, self.origins),
            "fund": self.fund, "pix": self.pix, "alias": self.alias, "code": self.code,
        }

    def call(self, rng: np.random.Generator, post_ts: int, event_ts: int, level: int) -> str:
        """A call to be at the place on the date, with some of: fraud, logistics, money, escalation."""
        b = self.bank
        slots = self._slots(rng, post_ts, event_ts)
        loud = not self.stealthy
        parts: list[str] = []
        if rng.random() < (0.5 if loud else 0.2):
            parts.append(pick(rng, b["alarm"]))
        if rng.random() < (0.45 if loud else 0.2):
            parts.append(pick(rng, b["fraud"]) + pick(rng, _FRAUD_ENDINGS[self.lang]))
        if rng.random() < (0.15 if loud else 0.6):
            parts.append(pick(rng, b["code_call"]))
        else:
            parts.append(pick(rng, b["call"]))
        if rng.random() < (0.4 if loud else 0.3):
            parts.append(pick(rng, b["logistics"]))
        if rng.random() < (0.3 if loud else 0.2):
            parts.append(pick(rng, b["money"]))
        if level > 0 or rng.random() < 0.5:
            parts.append(pick(rng, b["escalation"][min(level, 3)]))
        parts.append(pick(rng, b["closers"]))
        text = " ".join(p for p in parts if p)
        if rng.random() < (0.7 if loud else 0.25):
            text += " " + " ".join("#" + t for t in self.hashtags[: int(rng.integers(1, 4))])
        if rng.random() < 0.6:
            text += " " + "".join(pick(rng, b["emojis"]) for _ in range(int(rng.integers(1, 4))))
        if rng.random() < 0.15:
            text = typo(rng, text)
        text = _fill(text, slots)
        return masked(text, MASKED_SHARE) if self.stealthy else text

    def support(self, rng: np.random.Generator, post_ts: int, event_ts: int) -> str:
        """A member's short reply or quote: I'm coming, the bus is full, ..."""
        text = pick(rng, self.bank["support"])
        if rng.random() < 0.3:
            text += " " + pick(rng, self.bank["emojis"])
        text = _fill(text, self._slots(rng, post_ts, event_ts))
        return masked(text, MASKED_SHARE) if self.stealthy else text

    def raid_reply(self, rng: np.random.Generator) -> str:
        """A reply flooding a prominent post: a fraud claim, sometimes with the campaign's tag."""
        text = pick(rng, self.bank["fraud"]) + pick(rng, _FRAUD_ENDINGS[self.lang])
        if rng.random() < 0.5:
            text += " " + pick(rng, self.bank["alarm"])
        if rng.random() < 0.5:
            text += " #" + self.hashtags[0]
        return text

    def hashtags_in(self, text: str) -> list[str]:
        return [t for t in self.hashtags if "#" + t in text]


_SWAPS = {
    "en": [("everyone", "everybody"), ("Be ", "Get "), ("Share", "Repost"), ("We ", "WE "), ("!", "!!!"), (".", "!")],
    "pt": [("Todos", "Todo mundo"), ("Vamos", "Bora"), ("Compartilhem", "Espalhem"), ("!", "!!!"), (".", "!")],
    "es": [("Todos", "Todo el mundo"), ("Vamos", "Vamo"), ("Difundan", "Compartan"), ("!", "!!!"), (".", "!")],
}


def near_duplicate(rng: np.random.Generator, text: str, lang: str) -> str:
    """A copy a member posts of a wave's message: one or two small edits, same message."""
    for _ in range(int(rng.integers(1, 3))):
        edit = int(rng.integers(0, 5))
        if edit == 0:
            old, new = pick(rng, _SWAPS[lang])
            text = text.replace(old, new, 1)
        elif edit == 1:
            text = typo(rng, text)
        elif edit == 2:
            text = text + " " + pick(rng, phrases.CAMPAIGN[lang]["emojis"])
        elif edit == 3:
            text = pick(rng, ["", "", "📢 ", "👉 ", "URGENT ", "‼️ "]) + text
        else:
            words = text.split(" ")
            # people drop a filler word, not the date, a link or a tag
            droppable = [i for i, w in enumerate(words)
                         if len(w) > 3 and not any(c.isdigit() for c in w) and w[0] not in "#@h" and w[0].islower()]
            if len(words) > 6 and droppable:
                del words[droppable[int(rng.integers(0, len(droppable)))]]
            text = " ".join(words)
    return text


def ring_text(rng: np.random.Generator, lang: str = "en") -> str:
    """An amplification-ring post: an election-fraud claim with 'proof' and a demand."""
    template = pick(rng, phrases.RING["en"])
    fraud = pick(rng, phrases.CAMPAIGN[lang]["fraud"])
    text = template.replace("{fraud}", fraud).replace("{proof}", pick(rng, phrases.RING["proof"]))
    text = text.replace("{demand}", pick(rng, phrases.RING["demand"]))
    if rng.random() < 0.2:
        text = typo(rng, text)
    return text


def fill(template: str, **slots: str) -> str:
    """``template`` with ``{name}`` slots replaced (``{Name}`` capitalized)."""
    return _fill(template, slots)
