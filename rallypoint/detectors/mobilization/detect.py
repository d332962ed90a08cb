"""Per-text mobilization signals: which posts call people to a place and a date, and how.

What it computes, for every text (row of the input, same order):

``call_to_action``
    An explicit call to gather ("take to the streets", "às ruas", "a las calles"), or an
    invitation ("join us", "venham", "únete") together with a place from the gazetteer, a
    word for a gathering (rally, ato, marcha) or a code word (which names the event). Announcing a lawful march is a call to
    action; reporting that people marched is not (no invitation); "see you at the stadium
    this Saturday" is not (no gathering, no gazetteer place). A call needs none of the
    loud words when a date and a gazetteer place come with logistics ("the wedding is on
    for 5 January at the Ellipse, rooms for Thursday at the group rate"). An invitation
    question with a date ("who's coming to the wedding on the 5th?", "quem vai na festa dia
    7?") is a dated invitation, and a call once a pledge answers it (:mod:`.pledges`): alone
    it is what ordinary accounts ask too ("alguien va al Congreso a ver la sesión? 22/10").
``dated_invitation``
    A text that invites (a call to action, an invitation or an invitation question) and
    names a date: what a pledge answers (:mod:`.pledges`).
``pledge``
    A promise to attend ("I'll be there", "conta comigo", "cuenten conmigo"): alone it is
    nothing, a fan says it too; as a reply to a dated invitation it answers a call.
``logistics``
    Organising the trip or paying for it: buses, caravans, carpools, lodging, pick-up
    points, money collection (pix keys, vaquinha, colecta, crowdfunding links).
``escalation``
    Violence, weapons, threats to officials, calls to take buildings or power by force —
    unless a negation stands right before or after the phrase ("no weapons", "não vamos
    invadir").
``delegitimization``
    Claims that the election was stolen or rigged, with the same negation rule
    ("no evidence the election was stolen" does not count).
``code_word``
    A configured code word ("Festa da Selma").
``peaceful``
    Marks of a lawful announcement ("peacefully", "permit"); reported, not a harm signal.
``dates``, ``places``
    Resolved ISO dates (:mod:`.dates`) and canonical gazetteer names.
``matched``, ``matched_<signal>``
    The phrases as written, for highlighting and evidence.

How
    Every signal is one regular expression run by polars over the whole text column
    (Rust ``regex``, vectorised); Python runs only on the rows a pattern hit: the negation
    check for escalation and delegitimization, and date resolution. Languages are not
    separated: every lexicon applies to every text, because language tags are often
    missing or wrong and mobilization posts mix languages; the ``lang`` column only chooses
    the order of numeric dates (1/6). Cost: O(total text length x patterns) in Rust, plus
    O(hits) in Python.
"""

from __future__ import annotations

import re

import polars as pl
import pyarrow as pa

from rallypoint.errors import RallypointError

from .dates import URL_PATTERN, DateGrammar
from .lexicon import Lexicons, load_lexicons
from .patterns import INVISIBLE_CLASS, fold_expr, written_span

#: The signals a text is flagged with (the evidence kinds, plus ``peaceful``).
FLAGS: tuple[str, ...] = ("call_to_action", "logistics", "escalation", "delegitimization", "code_word", "peaceful",
                          "dated_invitation", "pledge")
MATCHED_KINDS: tuple[str, ...] = ("call_to_action", "logistics", "escalation", "delegitimization", "code_word")
_STRINGS = pa.list_(pa.string())

SIGNALS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        *(pa.field(flag, pa.bool_(), nullable=False) for flag in FLAGS),
        pa.field("dates", _STRINGS),
        pa.field("places", _STRINGS),
        pa.field("matched", _STRINGS),
        *(pa.field(f"matched_{kind}", _STRINGS) for kind in MATCHED_KINDS),
    ]
)
_NEGATABLE = ("escalation", "delegitimization")
_SCANNED = ("call_to_action", "invitation", "gathering", "logistics", "escalation", "delegitimization", "peaceful",
            "invitation_question", "pledge")


class SignalInputError(RallypointError):
    """The table given to the text-signal detector lacks what it needs."""


class _Compiled:
    """Patterns built once per lexicon object."""

    def __init__(self, lex: Lexicons) -> None:
        self.signal = {kind: lex.signal_pattern(kind) for kind in _SCANNED}
        self.signal["code_word"] = lex.signal_pattern("code_word")
        self.python = {kind: re.compile(self.signal[kind]) for kind in _NEGATABLE}
        self.place = lex.place_pattern()
        self.acronym = lex.acronym_pattern()
        self.negation_before, self.negation_after = lex.negation_patterns()
        self.dates = DateGrammar(lex.dates)


def _compiled(lex: Lexicons) -> _Compiled:
    cached = getattr(lex, "_compiled", None)
    if cached is None:
        cached = _Compiled(lex)
        object.__setattr__(lex, "_compiled", cached)
    return cached


def _string_lists(values: list[list[str]]) -> pl.Series:
    """A list<string> Series from Python lists (through Arrow: much faster than polars' own path)."""
    series = pl.from_arrow(pa.array(values, type=pa.list_(pa.string())))
    assert isinstance(series, pl.Series)
    return series


def _not_negated(folded: str, regex: re.Pattern[str], compiled: _Compiled) -> list[str]:
    """The phrases ``regex`` finds in ``folded`` that no negation cue cancels."""
    kept = []
    for match in regex.finditer(folded):
        before = folded[max(0, match.start() - 60) : match.start()]
        after = folded[match.end() : match.end() + 60]
        if compiled.negation_before.search(before) or compiled.negation_after.search(after):
            continue
        kept.append(match.group(0))
    return kept


def detect_text_signals(table: pa.Table, lexicons: Lexicons | None = None, *, timezone: str = "UTC") -> pa.Table:
    """Mobilization signals for every row of ``table`` (same rows, same order).

    Parameters
    ----------
    table
        pyarrow Table with ``id`` and ``text``; optional ``lang`` (chooses the order of
        numeric dates), ``timestamp`` (relative dates are resolved against it; without it
        only dates with a year resolve) and ``urls`` (scanned for crowdfunding links).
    lexicons
        From :func:`~.lexicon.load_lexicons` (default: the built-in ones).
    timezone
        IANA zone in which a post's "today" is reckoned (default UTC).

    Returns
    -------
    pyarrow Table of :data:`SIGNALS_SCHEMA`.
    """
    if isinstance(table, pl.DataFrame):
        table = table.to_arrow()
    missing = {"id", "text"} - set(table.column_names)
    if missing:
        raise SignalInputError(f"Text signals need the columns id and text; the table lacks {', '.join(sorted(missing))}.")
    lex = lexicons if lexicons is not None else load_lexicons()
    compiled = _compiled(lex)
    wanted = [c for c in ("id", "text", "lang", "timestamp", "urls") if c in table.column_names]
    frame = pl.from_arrow(table.select(wanted))
    assert isinstance(frame, pl.DataFrame)
    frame = frame.with_columns(pl.col("id").cast(pl.String), pl.col("text").cast(pl.String).fill_null(""))
    if "lang" not in frame.columns:
        frame = frame.with_columns(lang=pl.lit(None, pl.String))
    frame = frame.with_columns(_post_date=_post_dates(frame, timezone), _folded=fold_expr(pl.col("text")))
    scan = pl.col("_folded")
    if "urls" in frame.columns:
        scan = pl.concat_str([scan, fold_expr(pl.col("urls").list.join(" "))], separator="\n", ignore_nulls=True)

    hits = frame.with_row_index("_row").select(
        "_row",
        "id",
        "text",
        "_folded",
        "lang",
        "_post_date",
        *(scan.str.extract_all(compiled.signal[kind]).fill_null([]).alias(kind) for kind in compiled.signal),
        scan.str.extract_all(compiled.place).fill_null([]).alias("_place_text"),
        pl.col("text").str.extract_all(compiled.acronym).fill_null([]).alias("_acronyms"),
        pl.col("_folded")
        .str.replace_all(URL_PATTERN, " ")
        .str.extract_all(compiled.dates.pattern)
        .fill_null([])
        .alias("_date_text"),
    )
    # most texts match no pattern: the per-row work below reads only the rows that did
    found = [*compiled.signal, "_place_text", "_acronyms", "_date_text"]
    hits = hits.filter(pl.any_horizontal(pl.col(c).list.len() > 0 for c in found))
    hits = _drop_negated(hits, compiled)
    hits = _with_places(hits, lex)
    hits = _with_dates(hits, compiled)

    has = {kind: pl.col(kind).list.len() > 0 for kind in (*compiled.signal, "places")}
    # a code word names the event, so it counts as a gathering word
    has_date = pl.col("dates").list.len() > 0
    call = (has["call_to_action"] | (has["invitation"] & (has["places"] | has["gathering"] | has["code_word"]))
            # a quiet call: where and when with how; a question asking who comes is chatter as
            # often ("alguien va al Congreso a ver la sesión? 22/10") until a pledge answers it
            | (has_date & has["places"] & has["logistics"]))
    flags = hits.select(
        "_row",
        "id",
        call_to_action=call,
        logistics=has["logistics"],
        escalation=has["escalation"],
        delegitimization=has["delegitimization"],
        code_word=has["code_word"],
        peaceful=has["peaceful"],
        dated_invitation=has_date & (call | has["invitation"] | has["invitation_question"]),
        pledge=has["pledge"],
        dates=pl.col("dates"),
        places=pl.col("places"),
    )
    matched = _matched_as_written(hits, flags["call_to_action"])
    out = pl.concat([flags, matched], how="horizontal").drop("id")
    # every row back in its place; a row nothing matched in has no flag and empty lists
    empty = pl.lit([], pl.List(pl.String))
    out = frame.select("id").with_row_index("_row").join(out, on="_row", how="left", maintain_order="left").select(
        "id", *(pl.col(flag).fill_null(False) for flag in FLAGS),
        *(pl.col(name).fill_null(empty) for name in SIGNALS_SCHEMA.names if name != "id" and name not in FLAGS))
    return out.to_arrow().select(SIGNALS_SCHEMA.names).cast(SIGNALS_SCHEMA)


_MATCH_PARTS: dict[str, tuple[str, ...]] = {
    "call_to_action": ("call_to_action", "invitation", "invitation_question", "gathering", "_place_text", "_date_text"),
    "logistics": ("logistics",),
    "escalation": ("escalation",),
    "delegitimization": ("delegitimization",),
    "code_word": ("code_word",),
    "peaceful": ("peaceful",),
    "pledge": ("pledge",),
    "where_when": ("_place_text", "_date_text"),  # in ``matched`` even without a call to action
}


def _matched_as_written(hits: pl.DataFrame, is_call: pl.Series) -> pl.DataFrame:
    """``matched`` and ``matched_<kind>`` in the original spelling, columnar.

    Folding keeps every character in place (after NFC), so a phrase found at offset ``i``
    of the folded text is the slice at ``i`` of the original, longer by the invisible
    characters folding took out of its words; where the lengths differ (rare lower-casing
    that adds characters) the folded phrase is kept.
    """
    kinds = list(_MATCH_PARTS)
    per_kind = hits.select(
        "_row",
        "_acronyms",
        **{kind: pl.concat_list(list(parts)).list.unique(maintain_order=True) for kind, parts in _MATCH_PARTS.items()},
    ).with_columns(
        call_to_action=pl.when(is_call).then(pl.col("call_to_action")).otherwise(pl.lit([], pl.List(pl.String)))
    )
    long = pl.concat(
        [
            per_kind.select("_row", pl.lit(kind).alias("kind"), pl.col(kind).alias("phrase")).explode("phrase")
            for kind in kinds
        ]
    ).drop_nulls("phrase")
    texts = hits.select("_row", "_folded", _nfc=pl.col("text").str.normalize("NFC"))
    located = (
        long.with_row_index("_order")
        .join(texts, on="_row", how="left")
        .with_columns(_at=pl.col("_folded").str.find(pl.col("phrase"), literal=True))
        .with_columns(_at=pl.when(pl.col("_nfc").str.len_chars() == pl.col("_folded").str.len_chars())
                      .then(pl.col("_at")))
    )
    # a phrase's span also holds the invisible characters folding took out of its words
    invisible = pl.col("_nfc").str.contains(INVISIBLE_CLASS) & pl.col("_at").is_not_null()
    sliced = located.filter(~invisible).with_columns(
        phrase=pl.when(pl.col("_at").is_not_null())
        .then(pl.col("_nfc").str.slice(pl.col("_at"), pl.col("phrase").str.len_chars()))
        .otherwise(pl.col("phrase"))
    )
    walked = located.filter(invisible)
    walked = walked.with_columns(phrase=pl.Series(
        [written_span(text, at, len(phrase)) for text, at, phrase in walked.select("_nfc", "_at", "phrase").iter_rows()],
        dtype=pl.String))
    written = (
        pl.concat([sliced, walked])
        .sort("_order")
        .group_by("_row", "kind", maintain_order=True)
        .agg("phrase")
    )
    empty = pl.lit([], pl.List(pl.String))
    result = per_kind.select("_row", "_acronyms", *(empty.alias(k) for k in kinds))
    for kind in kinds:
        part = written.filter(pl.col("kind") == kind).select("_row", pl.col("phrase").alias(kind))
        if part.height:
            result = result.update(part, on="_row")
    # acronyms (STF, DC) are matched on the original text already
    result = result.with_columns(
        where_when=pl.concat_list("where_when", "_acronyms"),
        call_to_action=pl.when(is_call).then(pl.concat_list("call_to_action", "_acronyms")).otherwise(empty),
    )
    all_matched = pl.concat_list([k for k in kinds if k != "call_to_action"] + ["call_to_action"])
    return result.select(
        matched=all_matched.list.unique(maintain_order=True),
        **{f"matched_{k}": pl.col(k).list.unique(maintain_order=True) for k in MATCHED_KINDS},
    )


def _post_dates(frame: pl.DataFrame, timezone: str) -> pl.Expr:
    if "timestamp" not in frame.columns:
        return pl.lit(None, pl.Date)
    dtype = frame.schema["timestamp"]
    if not isinstance(dtype, pl.Datetime):
        raise SignalInputError(f"Text signals need timestamp as a timestamp column, got {dtype}.")
    stamp = pl.col("timestamp")
    if dtype.time_zone is None:
        stamp = stamp.dt.replace_time_zone("UTC")
    try:
        pl.select(pl.lit(0).cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(timezone))
    except pl.exceptions.PolarsError as error:
        raise SignalInputError(f"Unknown time zone {timezone!r} for resolving dates.") from error
    return stamp.dt.convert_time_zone(timezone).dt.date()


def _drop_negated(hits: pl.DataFrame, compiled: _Compiled) -> pl.DataFrame:
    """Escalation and delegitimization phrases minus those a negation cue cancels (Python on hit rows only)."""
    for kind in _NEGATABLE:
        subset = hits.filter(pl.col(kind).list.len() > 0).select("_row", "_folded")
        if subset.height == 0:
            continue
        kept = [_not_negated(text, compiled.python[kind], compiled) for text in subset["_folded"]]
        update = pl.DataFrame({"_row": subset["_row"], kind: _string_lists(kept)})
        hits = hits.update(update, on="_row")
    return hits


def _with_places(hits: pl.DataFrame, lex: Lexicons) -> pl.DataFrame:
    """Canonical place names for the aliases found (one lookup per distinct alias text)."""
    found = pl.concat_list("_place_text", "_acronyms")
    distinct = hits.select(found.explode().drop_nulls().unique()).to_series().to_list()
    mapping = {alias: lex.place_of(alias) for alias in distinct}
    mapping = {alias: name for alias, name in mapping.items() if name is not None}
    canonical = pl.element().replace_strict(mapping, default=None, return_dtype=pl.String)
    return hits.with_columns(places=found.list.eval(canonical).list.drop_nulls().list.unique(maintain_order=True))


def _with_dates(hits: pl.DataFrame, compiled: _Compiled) -> pl.DataFrame:
    """Resolved dates per row, and the date phrases that resolved (Python once per distinct phrase and day)."""
    found = (
        hits.select("_row", "_date_text", "_post_date", "lang")
        .explode("_date_text")
        .drop_nulls("_date_text")
        .with_row_index("_order")
    )
    distinct = found.select("_date_text", "_post_date", "lang").unique()
    resolved = [
        compiled.dates.resolve(phrase, post, lang)
        for phrase, post, lang in zip(distinct["_date_text"], distinct["_post_date"], distinct["lang"], strict=True)
    ]
    distinct = distinct.with_columns(
        _iso=pl.Series([d.isoformat() if d else None for d in resolved], dtype=pl.String)
    )
    per_row = (
        found.join(distinct, on=["_date_text", "_post_date", "lang"], how="left", nulls_equal=True)
        .drop_nulls("_iso")
        .sort("_order")
        .group_by("_row", maintain_order=True)
        .agg(dates=pl.col("_iso").unique(maintain_order=True), _date_text=pl.col("_date_text"))
    )
    empty = pl.lit([], pl.List(pl.String))
    hits = hits.with_columns(dates=empty, _date_text=empty)
    return hits.update(per_row, on="_row") if per_row.height else hits


__all__ = ["FLAGS", "SIGNALS_SCHEMA", "SignalInputError", "detect_text_signals"]
