"""Find the dates a post names and resolve them to calendar dates against the post's own time.

One job: "January 6", "6 de janeiro", "dia 8", "8 de enero", "1/6" (absolute) and "on the
6th", "this Saturday", "tomorrow", "amanhã", "neste domingo", "mañana" (relative) become ISO
dates. The words come from the lexicons (:class:`~.lexicon.DateWords`), the grammar from
here, as one regular expression valid in both Python ``re`` and Rust ``regex`` — polars
uses it to pick, over the whole column, the few rows that name a date; only those rows
are resolved in Python.

Links are blanked before the scan: the date in a news URL is the article's, not an event's.

Resolution rules (``post`` is the post's date in the chosen time zone):

* day and month without a year: the year that puts the date nearest to ``post`` (so a
  post of 28 Dec 2020 saying "January 6" means 2021-01-06, and one of 7 Jan 2021 saying
  "January 6" means yesterday); with a year (4 or 2 digits): as written;
* ISO ``2023-01-08`` (or with ``/``): as written;
* numeric ``a/b``: month first for languages whose lexicon says ``month_first`` (en),
  day first for ``day_first`` (pt, es); when the post's language is unknown only an
  unambiguous reading is kept (one reading invalid, or day equal to month);
* a day alone ("dia 8", "on the 6th"): the first such day on or after ``post``;
* "this/on/este/neste <weekday>": the next such weekday, today included; "next/próximo
  <weekday>", "<weekday> que vem": the next one after today;
* relative words ("tomorrow", "amanhã", "mañana"): ``post`` plus their offset in days,
  except where an exclusion covers the word ("esta mañana" is this morning).

Cost: one regex scan per text that names a date; O(matches) per such text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from .lexicon import DateWords
from .patterns import alternation, match_key, phrase_pattern

_PLACEHOLDER = "\x00"
#: Links, blanked before dates are looked for (polars and Python use the same pattern).
URL_PATTERN = r"(?:https?://|www\.)\S+"
URL = re.compile(URL_PATTERN)
_ORDINAL = r"(?:st|nd|rd|th|º|°|ª|o)?"


def _words(phrases: list[str]) -> str:
    return alternation([phrase_pattern(p) for p in phrases])


def _template(template: str, group: str) -> str:
    """A ``{day}`` template as a pattern with the day captured as ``group``."""
    pattern = phrase_pattern(template.replace("{day}", _PLACEHOLDER))
    day = rf"(?P<{group}>[0-3]?\d)" + (r"\b" if template.rstrip().endswith("{day}") else "")
    return pattern.replace(_PLACEHOLDER, day)


@dataclass
class DateMatch:
    text: str  # the phrase as written
    iso: str  # the resolved date


class DateGrammar:
    """The date pattern built from the lexicons' words, and the rules that resolve its matches."""

    def __init__(self, words: DateWords) -> None:
        self.words = words
        self.months = {match_key(k): v for k, v in words.months.items()}
        self.weekdays = {match_key(k): v for k, v in words.weekdays.items()}
        self.relative = {match_key(k): v for k, v in words.relative_days.items()}
        month = _words(list(words.months))
        join = _words(words.day_month_joiners)
        prefixes = [t.split("{day}")[0].strip() for t in words.day_only if t.split("{day}")[0].strip()]
        prefix = _words(prefixes)
        year = r"(?P<{}>\d{{4}}|'?\d{{2}})\b"
        alternatives = [
            # 6 de janeiro (de 2023) / the 6th of January / 8 de enero
            rf"(?P<a1>(?:{prefix}\s+)?\b(?P<a1d>[0-3]?\d){_ORDINAL}\s+(?:{join}\s+)?(?P<a1m>{month})\.?"
            rf"(?:,?\s+(?:{join}\s+)?{year.format('a1y')})?)",
            # January 6(th)(, 2021)
            rf"(?P<a2>(?P<a2m>{month})\.?\s+(?P<a2d>[0-3]?\d)(?:st|nd|rd|th)?\b(?:,?\s+{year.format('a2y')})?)",
            # 2023-01-08, 2023/01/08
            r"(?P<i>\b(?P<iy>\d{4})[-/.](?P<im>\d{1,2})[-/.](?P<id>\d{1,2})\b)",
            # 1/6, 8/1/2023
            r"(?P<n>\b(?P<n1>\d{1,2})/(?P<n2>\d{1,2})(?:/(?P<n3>\d{4}|\d{2}))?\b)",
        ]
        self.day_only_groups = []
        for k, template in enumerate(words.day_only):
            alternatives.append(f"(?P<do{k}>{_template(template, f'd{k}')})")
            self.day_only_groups.append((f"do{k}", f"d{k}"))
        weekday = _words(list(words.weekdays))
        this, nxt, after = _words(words.weekday_this), _words(words.weekday_next), _words(words.weekday_next_after)
        alternatives.append(
            rf"(?P<w>(?:(?P<wt>{this})|(?P<wn>{nxt}))\s+(?P<wd>{weekday})(?:\s+(?P<wa>{after}))?"
            rf"|(?P<wd2>{weekday})\s+(?P<wa2>{after}))"
        )
        # an exclusion ("esta mañana" = this morning) is matched, so that it hides the relative
        # word inside it, and then resolves to nothing
        if words.relative_exclusions:
            alternatives.append(f"(?P<x>{_words(words.relative_exclusions)})")
        alternatives.append(f"(?P<r>{_words(list(words.relative_days))})")
        self.pattern = "|".join(alternatives)
        self.regex = re.compile(self.pattern)
        self._cache: dict[tuple[str, date | None, str | None], date | None] = {}

    def numeric_order(self, lang: str | None) -> str | None:
        """``month_first``, ``day_first`` or None (unknown language) for a language code like ``pt-BR``."""
        return self.words.numeric_order.get((lang or "").split("-")[0].split("_")[0].lower())

    def find(self, text: str, post: date | None, lang: str | None) -> list[DateMatch]:
        """Every date the *folded* ``text`` (:func:`~.patterns.fold`) names, resolved against ``post``.

        Without ``post`` only dates with a year resolve. ``DateMatch.text`` is the folded phrase.
        """
        found = []
        for match in self.regex.finditer(URL.sub(" ", text)):
            resolved = self.resolve(match.group(0), post, lang)
            if resolved is not None:
                found.append(DateMatch(match.group(0), resolved.isoformat()))
        return found

    def resolve(self, phrase: str, post: date | None, lang: str | None) -> date | None:
        """The date one matched (folded) phrase names; cached, as phrases and post dates repeat."""
        order = self.numeric_order(lang)
        key = (phrase, post, order)
        if key not in self._cache:
            match = self.regex.fullmatch(phrase)
            self._cache[key] = self._resolve(match, post, order) if match else None
        return self._cache[key]

    def _resolve(self, match: re.Match[str], post: date | None, order: str | None) -> date | None:
        kind = match.lastgroup
        if kind in ("a1", "a2"):
            month = self.months.get(match_key(match.group(f"{kind}m")))
            return _day_month(int(match.group(f"{kind}d")), month, _year(match.group(f"{kind}y")), post)
        if kind == "i":
            return _day_month(int(match.group("id")), int(match.group("im")), int(match.group("iy")), post)
        if kind == "n":
            return self._numeric(match, post, order)
        if kind == "w":
            return self._weekday(match, post)
        if kind == "x":
            return None
        if kind == "r":
            offset = self.relative.get(match_key(match.group("r")))
            return post + timedelta(days=offset) if post and offset is not None else None
        for outer, inner in self.day_only_groups:
            if kind == outer:
                return _next_day_of_month(int(match.group(inner)), post)
        return None

    def _numeric(self, match: re.Match[str], post: date | None, order: str | None) -> date | None:
        a, b, year = int(match.group("n1")), int(match.group("n2")), _year(match.group("n3"))
        month_first = _day_month(b, a, year, post)
        day_first = _day_month(a, b, year, post)
        if order == "month_first":
            return month_first
        if order == "day_first":
            return day_first
        if month_first is None or day_first is None or month_first == day_first:
            return month_first or day_first
        return None  # ambiguous without a language

    def _weekday(self, match: re.Match[str], post: date | None) -> date | None:
        if post is None:
            return None
        name = match.group("wd") or match.group("wd2")
        weekday = self.weekdays.get(match_key(name))
        if weekday is None:
            return None
        strictly_after = bool(match.group("wn") or match.group("wa") or match.group("wa2"))
        ahead = (weekday - post.weekday()) % 7
        if strictly_after and ahead == 0:
            ahead = 7
        return post + timedelta(days=ahead)


def _year(text: str | None) -> int | None:
    if not text:
        return None
    digits = text.lstrip("'")
    return int(digits) + 2000 if len(digits) == 2 else int(digits)


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _day_month(day: int, month: int | None, year: int | None, post: date | None) -> date | None:
    """A day and month, in ``year`` if given, else in the year nearest to ``post`` (future wins ties)."""
    if month is None or not 1 <= month <= 12:
        return None
    if year is not None:
        return _valid(year, month, day)
    if post is None:
        return None
    candidates = [d for y in (post.year - 1, post.year, post.year + 1) if (d := _valid(y, month, day))]
    if not candidates:
        return None
    return min(candidates, key=lambda d: (abs((d - post).days), d < post))


def _next_day_of_month(day: int, post: date | None) -> date | None:
    """The first date on or after ``post`` whose day of the month is ``day``."""
    if post is None or not 1 <= day <= 31:
        return None
    year, month = post.year, post.month
    for _ in range(13):
        candidate = _valid(year, month, day)
        if candidate and candidate >= post:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None
