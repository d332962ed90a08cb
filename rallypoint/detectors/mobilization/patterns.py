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

Folding also undoes the ways accounts write a word so that a filter misses it and a reader
does not (:func:`unmask`): styled letters (fullwidth, mathematical bold or script, circled)
become their plain letters; inside a word that mixes scripts, Cyrillic and Greek look-alikes
(``mаrch`` with a Cyrillic ``а``) become the Latin letters they imitate, as Unicode's
confusable-detection guidance (UTS #39, mixed-script confusables) suggests; inside a word,
digits and symbols standing for letters (``m@rch``, ``r4lly``, ``st0p the st3al``) become those
letters; invisible characters inside a word (zero-width spaces and joiners, soft hyphens) are
taken out and the word's end is padded with spaces, so every later character keeps its place.
A word wholly in another script, a number, a time or an ordinal ("1st", "10am") is left alone.

Cost: linear in the phrase or text length.
"""

from __future__ import annotations

import re
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


def _styled_table() -> dict[str, str]:
    """Styled letter (fullwidth, mathematical, circled, small capital ...) -> its plain lower-case
    letter, and fullwidth or mathematical digits -> digits; the ordinal marks (ª, º) stay."""
    table = {}
    for code in range(0x80, 0x20000):
        ch = chr(code)
        plain = unicodedata.normalize("NFKC", ch).lower()
        if len(plain) != 1 or not plain.isascii() or not plain.isalnum() or ch in ACCENTS or ch in "ªº":
            continue
        name = unicodedata.name(ch, "")
        if plain.isalpha() or name.startswith(("FULLWIDTH", "MATHEMATICAL")):
            table[ch] = plain
    return table


ACCENTS: dict[str, str] = _accent_table()
STYLED: dict[str, str] = _styled_table()
_FOLD = str.maketrans(ACCENTS | STYLED)

#: Lower-case Cyrillic and Greek letters drawn like a Latin one: replaced only inside a word
#: that also has Latin letters, so Russian or Greek words stay what they are.
LOOKALIKES: dict[str, str] = dict(zip("асеорхуіјѕԁһԛԝӏѵαορνικυχεϲϳ", "aceopxyijsdhqwlvaopvikuxecj", strict=True))
#: Digits and symbols written for letters inside a word.
LEET: dict[str, str] = {"@": "a", "4": "a", "3": "e", "1": "i", "0": "o", "$": "s", "5": "s", "7": "t"}
#: Characters that draw nothing (Unicode category Cf: zero-width space and joiners, soft
#: hyphen, direction marks, byte-order mark): inside a word they split it for a regex only.
INVISIBLE: frozenset[str] = frozenset(chr(c) for c in (*range(0x80, 0x20000), *range(0xE0000, 0xE0080))
                                      if unicodedata.category(chr(c)) == "Cf")  # planes 0, 1 and the tags


def _char_class(chars) -> str:
    """A regex class of ``chars`` written literally (none of them is special in a class), which
    Python's ``re`` and Rust's ``regex`` read alike."""
    return "[" + "".join(sorted(chars)) + "]"


_MASK = _char_class(set(LOOKALIKES) | INVISIBLE)
INVISIBLE_CLASS = _char_class(INVISIBLE)
_SYMBOL = _char_class(LEET)
_WORD_CHAR = f"(?:[a-z0-9@$]|{_MASK})"
#: Rows that may hold a masked word (a cheap test run over the whole column first): a word with
#: a Latin letter and a look-alike or invisible character, a symbol between letters, a leading $.
_MASKED = (f"[a-z]{_WORD_CHAR}*{_MASK}|{_MASK}{_WORD_CHAR}*[a-z]|[a-z]{_SYMBOL}{{1,2}}[a-z]"
           f"|(?:^|[^a-z0-9@$])\\$[a-z]")
#: A link, to its first space (Python's ``re`` counts U+001C-U+001F as spaces, Rust's ``regex`` does not).
_LINK = "(?:https?://|www\\.)[^\\s\x1c-\x1f]+"
#: A word that may be masked, or a link (matched first so that its letters are left alone).
_WORD = re.compile(f"{_LINK}|{_WORD_CHAR}+")
#: The links :data:`_WORD` takes for links (those that start no word), blanked before the
#: row test: a link's random letters and digits look masked and would send most rows of real
#: data, where links are common, through Python for nothing.
_LINK_ALONE = f"(^|[^a-z0-9@${_MASK[1:-1]}]){_LINK}"


def _unmask_word(word: str, domain_follows: bool) -> str:
    letters = sum(ch.isascii() and ch.isalpha() for ch in word)
    if not letters:
        return word
    chars = [LOOKALIKES.get(ch, ch) for ch in word]
    if word[0] == "$" and len(word) > 1 and chars[1].isalpha():
        chars[0] = "s"
    i = 1
    while i < len(chars) - 1:
        run = 1 if chars[i] in LEET else 0
        if run and chars[i + 1] in LEET and i + 2 < len(chars):
            run = 2
        ends = chars[i - 1].isascii() and chars[i - 1].isalpha() and chars[i + run].isascii() and chars[i + run].isalpha()
        if run and ends and not (domain_follows and "@" in chars[i : i + run]):
            chars[i : i + run] = [LEET[ch] for ch in chars[i : i + run]]
        i += max(run, 1)
    kept = [ch for ch in chars if ch not in INVISIBLE]
    return "".join(kept) + " " * (len(chars) - len(kept))


def unmask(folded: str) -> str:
    """``folded`` (lower case, accents off) with its masked words written plainly (see the
    module docstring); the same length: invisible characters taken out of a word are made up
    by spaces at the word's end. O(len(text))."""
    def plain(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.startswith(("http", "www.")) or not any(ch.isascii() and ch.isalpha() for ch in word):
            return word
        rest = folded[match.end() : match.end() + 2]
        return _unmask_word(word, len(rest) == 2 and rest[0] == "." and rest[1].isalpha())

    return _WORD.sub(plain, folded)


def written_span(original: str, start: int, length: int) -> str:
    """The span of ``original`` (NFC) that folded into ``length`` characters at ``start``: those
    characters and the invisible ones among them, which folding took out of their words."""
    end, seen = start, 0
    while seen < length and end < len(original):
        seen += original[end] not in INVISIBLE
        end += 1
    return original[start:end]


def masked_rows(folded: pl.Series) -> pl.Series:
    """The positions of the rows of ``folded`` that may hold a masked word outside a link: the
    rows :func:`fold_expr` reads with Python. O(total length), in Rust."""
    return folded.str.replace_all(_LINK_ALONE, "${1} ").str.contains(_MASKED).fill_null(False).arg_true()


def _unmask_series(folded: pl.Series) -> pl.Series:
    """:func:`unmask` on the rows of ``folded`` that may hold a masked word, the others as they are."""
    rows = masked_rows(folded)
    if rows.len() == 0:
        return folded
    return folded.scatter(rows, pl.Series([unmask(text) for text in folded.gather(rows)], dtype=pl.String))


def fold(text: str) -> str:
    """Python twin of :func:`fold_expr`: lower case, accents and styles off, masked words
    unmasked, other non-ASCII -> space."""
    folded = unmask(unicodedata.normalize("NFC", text).lower().translate(_FOLD))
    return "".join(ch if ch.isascii() else " " for ch in folded)


def fold_expr(text: pl.Expr) -> pl.Expr:
    """The folded text column (see the module docstring), vectorised but for the rows that
    may hold a masked word."""
    lowered = text.str.normalize("NFC").str.to_lowercase()
    plain = lowered.str.replace_many(list(ACCENTS | STYLED), list((ACCENTS | STYLED).values()))
    return plain.map_batches(_unmask_series, return_dtype=pl.String).str.replace_all(r"[^\x00-\x7F]", " ")


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
