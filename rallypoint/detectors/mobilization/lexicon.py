"""Load the mobilization lexicons: built-in English, Portuguese and Spanish, a gazetteer, code words, plus user files.

One job: read JSON (or TOML) lexicon files, check them, merge them, and compile each
signal's phrases into one pattern (:mod:`.patterns`). Users extend the built-in lists by
passing their own files, in the same format; everything in a user file is *added*
(lists are appended, month and weekday names merged).

A file may hold any of these top-level keys (see ``rallypoint/detectors/lexicons/`` and
``docs/signals.md``):

``lang``, ``about``
    Informative.
``signals``
    ``{kind: [phrase, ...]}`` for the kinds in :data:`LEXICON_KINDS`.
``negation``
    ``{"before": [...], "after": [...]}``: cues that cancel an escalation or
    delegitimization phrase when they stand just before or just after it.
``dates``
    Month, weekday and relative-day words and the numeric order (see :mod:`.dates`).
``places``
    ``[{name, aliases, case_sensitive_aliases, country, kind, lat, lon}]`` (the gazetteer;
    ``lat``/``lon`` in WGS84 degrees, both or neither).
``code_words``
    ``[{phrase, meaning}]``.

Cost: linear in the size of the files; a Rust-side compile check of every pattern.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from rallypoint.errors import RallypointError

from .patterns import alternation, fold, match_key, phrase_pattern

#: Kinds of phrases a lexicon lists under ``signals``.
LEXICON_KINDS: tuple[str, ...] = (
    "call_to_action",  # an explicit call to gather, enough on its own
    "invitation",  # "join us", "venham": a call to action only with a place or a gathering word
    "gathering",  # rally, ato, marcha: the kind of event
    "logistics",
    "escalation",
    "delegitimization",
    "peaceful",  # "peacefully", "permit": marks a lawful announcement (reported, not scored against)
    "invitation_question",  # "who's coming ...?", "quem vai ...?": a call when it names a date or a place
    "pledge",  # "I'll be there", "conta comigo": an answer promising to attend
)
BUILTIN_FILES: tuple[str, ...] = ("en.json", "pt.json", "es.json", "gazetteer.json", "code_words.json")
_TOP_KEYS = {"lang", "about", "signals", "negation", "dates", "places", "code_words"}
#: The date words' tables (word -> number) and lists; ``relative_exclusions`` are phrases the
#: grammar skips ("esta mañana" is this morning), not date words.
_DATE_TABLE_KEYS = ("months", "weekdays", "relative_days")
_DATE_WORD_LIST_KEYS = ("weekday_this", "weekday_next", "weekday_next_after", "day_only", "day_month_joiners")
_DATE_LIST_KEYS = ("relative_exclusions", *_DATE_WORD_LIST_KEYS)


class LexiconError(RallypointError):
    """A lexicon file cannot be read or holds an unusable entry."""


@dataclass(frozen=True)
class Place:
    name: str
    aliases: tuple[str, ...]
    case_sensitive_aliases: tuple[str, ...] = ()
    country: str | None = None
    kind: str | None = None
    #: WGS84 degrees, for the dashboard's map (generic places have none).
    lat: float | None = None
    lon: float | None = None


@dataclass
class DateWords:
    """Words the date grammar is built from, merged over languages."""

    months: dict[str, int] = field(default_factory=dict)
    weekdays: dict[str, int] = field(default_factory=dict)
    relative_days: dict[str, int] = field(default_factory=dict)
    relative_exclusions: list[str] = field(default_factory=list)
    weekday_this: list[str] = field(default_factory=list)
    weekday_next: list[str] = field(default_factory=list)
    weekday_next_after: list[str] = field(default_factory=list)
    day_only: list[str] = field(default_factory=list)
    day_month_joiners: list[str] = field(default_factory=list)
    #: language code -> "month_first" or "day_first" for numeric dates like 1/6
    numeric_order: dict[str, str] = field(default_factory=dict)

    def phrases(self) -> list[str]:
        """Every word and phrase that makes a date: months, weekdays, "tomorrow", "this", "next"..."""
        return [phrase for key in (*_DATE_TABLE_KEYS, *_DATE_WORD_LIST_KEYS) for phrase in getattr(self, key)]


@dataclass
class Lexicons:
    """Merged lexicons and the patterns compiled from them."""

    signals: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in LEXICON_KINDS})
    negation_before: list[str] = field(default_factory=list)
    negation_after: list[str] = field(default_factory=list)
    dates: DateWords = field(default_factory=DateWords)
    places: list[Place] = field(default_factory=list)
    code_words: list[dict[str, str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    # --- compiled patterns -------------------------------------------------------------
    def signal_pattern(self, kind: str) -> str:
        """One pattern matching any phrase of ``kind`` (or ``code_word``)."""
        phrases = [c["phrase"] for c in self.code_words] if kind == "code_word" else self.signals[kind]
        return alternation([phrase_pattern(p) for p in phrases], [len(p) for p in phrases])

    def place_pattern(self) -> str:
        """One pattern (over folded text) matching any place name or alias; longer aliases first."""
        aliases = [a for p in self.places for a in (p.name.split(",")[0], *p.aliases)]
        return alternation([phrase_pattern(a) for a in aliases], [len(a) for a in aliases])

    def acronym_pattern(self) -> str:
        """One pattern (over the original text) matching the case-sensitive aliases as written."""
        aliases = [a for p in self.places for a in p.case_sensitive_aliases]
        return alternation([phrase_pattern(a, case_sensitive=True) for a in aliases], [len(a) for a in aliases])

    def place_of(self, matched: str) -> str | None:
        """The canonical place name for a matched alias (None if no place claims it)."""
        return self._place_lookup().get(matched)

    def _place_lookup(self) -> _PlaceLookup:
        if not hasattr(self, "_lookup"):
            object.__setattr__(self, "_lookup", _PlaceLookup(self.places))
        return self._lookup  # type: ignore[attr-defined]

    def negation_patterns(self) -> tuple[re.Pattern[str], re.Pattern[str]]:
        """Cues just before a phrase (matched against the text before it) and just after it."""
        before = alternation([phrase_pattern(p) for p in self.negation_before])
        after = alternation([phrase_pattern(p) for p in self.negation_after])
        # a cue reaches over at most two words, and never over punctuation ("se não ouvirem, vai ser na marra")
        return (
            re.compile(before + r"(?:[ \t]+[^\s,.;:!?]+){0,2}[ \t]*$"),
            re.compile(r"^[ \t]*(?:[^\s,.;:!?]+[ \t]+){0,2}?" + after),
        )


class _PlaceLookup:
    """Matched alias text -> canonical name.

    A literal alias is found by its key (lower case, no accents, letters and digits);
    only a text no key explains is tried against each alias as a pattern (aliases may
    be regular expressions), longest alias first. Compiled lazily, cached per text.
    """

    def __init__(self, places: list[Place]) -> None:
        self.places = places
        self.by_key: dict[str, str] = {}
        for place in places:
            for alias in (place.name.split(",")[0], *place.aliases, *place.case_sensitive_aliases):
                self.by_key.setdefault(match_key(alias), place.name)
        self._patterns: list[tuple[re.Pattern[str], str, bool]] | None = None
        self.cache: dict[str, str | None] = {}

    def _alias_patterns(self) -> list[tuple[re.Pattern[str], str, bool]]:
        if self._patterns is None:
            entries = [
                (alias, case_sensitive, place.name)
                for place in self.places
                for aliases, case_sensitive in (((place.name.split(",")[0], *place.aliases), False),
                                                (place.case_sensitive_aliases, True))
                for alias in aliases
            ]
            entries.sort(key=lambda entry: -len(entry[0]))
            self._patterns = [
                (re.compile(phrase_pattern(alias, case_sensitive=cs)), name, cs)
                for alias, cs, name in entries
            ]
        return self._patterns

    def get(self, matched: str) -> str | None:
        if matched not in self.cache:
            name = self.by_key.get(match_key(matched))
            if name is None:
                name = next(
                    (n for pattern, n, cs in self._alias_patterns() if pattern.fullmatch(matched if cs else fold(matched))),
                    None,
                )
            self.cache[matched] = name
        return self.cache[matched]


# --- loading -------------------------------------------------------------------------------


def _read(path: Path | Any, label: str) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise LexiconError(f"Cannot read the lexicon file {label}: {error.strerror or error}.") from error
    try:
        data = tomllib.loads(raw.decode("utf-8")) if str(label).endswith(".toml") else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise LexiconError(f"The lexicon file {label} is not valid {'TOML' if str(label).endswith('.toml') else 'JSON'}: {error}.") from error
    if not isinstance(data, dict):
        raise LexiconError(f"The lexicon file {label} must hold an object with keys such as 'signals' or 'places'.")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise LexiconError(
            f"The lexicon file {label} has unknown key(s) {sorted(unknown)}; known keys are {sorted(_TOP_KEYS)}."
        )
    return data


def _compile_error(patterns: list[str]) -> str | None:
    """Why Python or Rust (polars) cannot compile one of ``patterns`` together, or None."""
    try:
        for pattern in patterns:
            re.compile(pattern)
        if patterns:
            pl.Series([""]).str.contains("|".join(patterns))
    except (re.error, pl.exceptions.ComputeError) as error:
        return next(
            (line.strip() for line in str(error).splitlines() if line.strip().startswith("error:")),
            str(error).splitlines()[0],
        )
    return None


def _coordinates(entry: dict, where: str) -> dict[str, float | None]:
    """A place's ``lat`` and ``lon``: both numbers within range, or both absent."""
    lat, lon = entry.get("lat"), entry.get("lon")
    if lat is None and lon is None:
        return {"lat": None, "lon": None}
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon))
    if not numbers or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise LexiconError(f"The coordinates of {where} must be 'lat' (-90 to 90) and 'lon' (-180 to 180), both numbers.")
    return {"lat": float(lat), "lon": float(lon)}


def _strings(value: Any, where: str, checked: list[tuple[str, str]] | None) -> list[str]:
    """``value`` as a list of non-empty phrases; each is queued on ``checked`` for :func:`_check_patterns`."""
    if not isinstance(value, list):
        raise LexiconError(f"{where} must be a list of phrases.")
    for phrase in value:
        if not isinstance(phrase, str) or not phrase.strip():
            raise LexiconError(f"{where} has an entry that is not a non-empty string: {phrase!r}.")
        if checked is not None:
            checked.append((where, phrase))
    return list(value)


def _check_patterns(checked: list[tuple[str, str]]) -> None:
    """Every queued phrase compiles in Python and in Rust (polars); ``{day}`` stands for a day number.

    One compile for the lot in the usual case; phrase by phrase only to name a bad one.
    """

    def patterns(phrase: str) -> list[str]:
        phrase = phrase.replace("{day}", "1")
        return [phrase_pattern(phrase), phrase_pattern(phrase, case_sensitive=True)]

    if _compile_error(["|".join(p for _, phrase in checked for p in patterns(phrase))]) is None:
        return
    for where, phrase in checked:
        reason = _compile_error(patterns(phrase))
        if reason is not None:
            raise LexiconError(f"{where} has an entry that is not a valid pattern: {phrase!r} ({reason}).")


def _merge(lex: Lexicons, data: dict[str, Any], label: str, checked: list[tuple[str, str]] | None) -> None:
    for kind, phrases in (data.get("signals") or {}).items():
        if kind not in lex.signals:
            raise LexiconError(f"The lexicon file {label} names an unknown signal {kind!r}; known: {list(LEXICON_KINDS)}.")
        lex.signals[kind].extend(_strings(phrases, f"{label} signals.{kind}", checked))
    negation = data.get("negation") or {}
    lex.negation_before.extend(_strings(negation.get("before", []), f"{label} negation.before", checked))
    lex.negation_after.extend(_strings(negation.get("after", []), f"{label} negation.after", checked))
    _merge_dates(lex.dates, data.get("dates") or {}, data.get("lang"), label, checked)
    for number, entry in enumerate(data.get("places") or [], start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise LexiconError(f"Place {number} in {label} needs a 'name' (and 'aliases').")
        where = f"{label} place {entry['name']!r}"
        lex.places.append(
            Place(
                name=entry["name"],
                aliases=tuple(_strings(entry.get("aliases", []), where, checked)),
                case_sensitive_aliases=tuple(_strings(entry.get("case_sensitive_aliases", []), where, checked)),
                country=entry.get("country"),
                kind=entry.get("kind"),
                **_coordinates(entry, where),
            )
        )
    for number, entry in enumerate(data.get("code_words") or [], start=1):
        if isinstance(entry, str):
            entry = {"phrase": entry}
        if not isinstance(entry, dict) or "phrase" not in entry:
            raise LexiconError(f"Code word {number} in {label} needs a 'phrase'.")
        _strings([entry["phrase"]], f"{label} code word {number}", checked)
        lex.code_words.append({"phrase": entry["phrase"], "meaning": str(entry.get("meaning", ""))})
    lex.sources.append(label)


def _merge_dates(
    words: DateWords, dates: dict[str, Any], lang: str | None, label: str, checked: list[tuple[str, str]] | None
) -> None:
    for key in _DATE_TABLE_KEYS:
        table = dates.get(key) or {}
        if not isinstance(table, dict) or not all(isinstance(v, int) for v in table.values()):
            raise LexiconError(f"{label} dates.{key} must map words to whole numbers.")
        _strings(list(table), f"{label} dates.{key}", checked)
        getattr(words, key).update({k.casefold(): v for k, v in table.items()})
    for key in _DATE_LIST_KEYS:
        getattr(words, key).extend(_strings(dates.get(key, []), f"{label} dates.{key}", checked))
    order = dates.get("numeric_order")
    if order is not None:
        if order not in ("month_first", "day_first"):
            raise LexiconError(f"{label} dates.numeric_order must be 'month_first' or 'day_first', not {order!r}.")
        if not lang:
            raise LexiconError(f"{label} sets dates.numeric_order, so it must say which 'lang' it is for.")
        words.numeric_order[lang] = order


def load_lexicons(extra_paths: tuple[str | Path, ...] | list[str | Path] = (), *, builtin: bool = True) -> Lexicons:
    """The built-in lexicons (en, pt, es, gazetteer, code words) plus the user files ``extra_paths``.

    User files (JSON, or TOML when the name ends in ``.toml``) use the built-in format and
    add to it. Raises :class:`LexiconError` (one sentence naming the file and entry) on a
    file that cannot be read or an entry that is not a valid pattern.
    """
    lex = Lexicons()
    if builtin:
        folder = resources.files("rallypoint.detectors") / "lexicons"
        for name in BUILTIN_FILES:
            _merge(lex, _read(folder / name, f"lexicons/{name}"), f"lexicons/{name}", None)  # checked by tests
    for path in extra_paths:
        path = Path(path)
        checked: list[tuple[str, str]] = []
        _merge(lex, _read(path, str(path)), str(path), checked)
        _check_patterns(checked)
    return lex
