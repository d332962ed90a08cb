"""Turn lexicon phrases into regular expressions over *folded* text, and fold text the same way.

One job. Texts are matched after folding: lower case, accents removed, every other
non-ASCII character (emoji, other scripts) replaced by a space — one character for one,
so a span in the folded text is the same span in the original. Phrases are folded the
same way, so "Fraude nas URNAS", "fraude nas urnas" and "#FraudeNasUrnas" all match
"fraude nas urnas", and "onibus" matches "ônibus". Folding is what makes the scan fast:
on ASCII text and ASCII patterns Rust's regex engine (which polars runs over whole
columns) stays on its DFA, where Unicode case folding and Unicode word boundaries would
push it to a much slower engine.

Patterns use the syntax that both Python ``re`` and Rust ``regex`` accept (no
look-arounds, no backreferences), so one pattern serves the vectorised scan and the
per-row follow-up alike. Rules, outside escapes:

* the phrase is folded (letters inside character classes too);
* a space also matches ``_``, ``-`` or nothing (hashtags and handles glue words);
* ``\\b`` is added at an end of the phrase that is a word character (or a group), so
  phrases match whole words; an end that is punctuation (``#``, ``.``) gets none.

Case-sensitive aliases (acronyms such as ``DC`` or ``STF``) are not folded; they are
matched against the original text.

Cost: linear in the phrase or text length.
"""

from __future__ import annotations

import unicodedata

import polars as pl

WORD_GAP = r"[\s_\-]*"
#: A word boundary; on folded (ASCII) text the ASCII and Unicode ones agree.
BOUNDARY = r"\b"


def strip_accents(text: str) -> str:
    """``text`` without combining marks ("Praça" -> "Praca"); length may change."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _accent_table() -> dict[str, str]:
    """Accented Latin letter -> its ASCII base letter, for every such letter up to U+024F."""
    table = {}
    for code in range(0xC0, 0x250):
        ch = chr(code)
        base = strip_accents(ch)
        if base != ch and len(base) == 1 and base.isascii():
            table[ch] = base
    return table


ACCENTS: dict[str, str] = _accent_table()
_FOLD = str.maketrans(ACCENTS)


def fold(text: str) -> str:
    """Python twin of :func:`fold_expr`: lower case, accents off, other non-ASCII -> space."""
    folded = unicodedata.normalize("NFC", text).lower().translate(_FOLD)
    return "".join(ch if ch.isascii() else " " for ch in folded)


def fold_expr(text: pl.Expr) -> pl.Expr:
    """The folded text column (see the module docstring), vectorised."""
    lowered = text.str.normalize("NFC").str.to_lowercase()
    return lowered.str.replace_many(list(ACCENTS), list(ACCENTS.values())).str.replace_all(r"[^\x00-\x7F]", " ")


def match_key(text: str) -> str:
    """A lookup key for a matched phrase: folded, letters and digits only."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def _fold_pattern(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif pattern.startswith("(?", i):
            end = i + 2
            while end < len(pattern) and pattern[end] not in ":)>":
                end += 1
            out.append(pattern[i : end + 1])
            i = end + 1
        elif ch == " ":
            out.append(WORD_GAP)
            i += 1
        else:
            out.append(fold(ch) if not ch.isascii() else ch.lower())
            i += 1
    return "".join(out)


def _word_edge(ch: str) -> bool:
    return ch.isalnum() or ch in "()[]_"


def phrase_pattern(phrase: str, *, case_sensitive: bool = False) -> str:
    """The regex for one lexicon entry (see the module docstring for the rules)."""
    phrase = phrase.strip()
    body = phrase.replace(" ", WORD_GAP) if case_sensitive else _fold_pattern(strip_accents(phrase))
    tail = phrase.rstrip("?*+")
    left = BOUNDARY if phrase and _word_edge(phrase[0]) else ""
    right = BOUNDARY if tail and _word_edge(tail[-1]) and not tail.endswith("\\.") else ""
    return f"{left}(?:{body}){right}"


def alternation(patterns: list[str], raw_lengths: list[int] | None = None) -> str:
    """One pattern matching any of ``patterns``, longest phrase tried first (leftmost-first engines)."""
    lengths = raw_lengths or [len(p) for p in patterns]
    order = sorted(range(len(patterns)), key=lambda k: -lengths[k])
    body = "(?:" + "|".join(patterns[k] for k in order) + ")" if patterns else r"(?:\b\B)"  # \b\B: nothing
    return body
