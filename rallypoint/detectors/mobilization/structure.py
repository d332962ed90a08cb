"""A call to gather recognized by its structure, whatever its words.

What it computes
    ``structural_call`` for a text that names **a date**, **a time of day** and **a where
    or a how**: a gazetteer place, logistics (the lexicons' transport, lodging or money
    phrases) or a money / logistics link (:mod:`rallypoint.detectors.links`). "Coaches
    leave the club house at 7:30am on January 7, book here <form>" and "Angeltour am
    07.01. um 6 Uhr, Anmeldung <form>" are structural calls; "January 7, great game" is
    not (no time), nor is "meet at 6pm" (no date). No call-to-action phrase is needed,
    so a campaign that writes in code words, or in a language rallypoint has no lexicon
    for, is still seen; lawful calls (a supporters' club, a protest with a permit) are
    structural calls too, which is why the score weighs them with who makes them
    (:mod:`rallypoint.detectors.inauthenticity`), never alone.

    Dates are the lexicons' (``dates`` of the text signals) plus dotted day-first dates
    ("7.1.", "07.01.2023"), the written form of most of continental Europe, resolved to
    the year nearest the post. Times of day: ``18:30``, ``6am``, ``6 p.m.``, ``14h``,
    ``14h30``, ``6 Uhr``. Both are read with the links removed (a URL's digits are
    no date).

Complexity
    A few Rust regular expressions over the texts (polars), O(total text length).
"""

from __future__ import annotations

import polars as pl

#: Times of day, in the forms most languages write them (folded to lower case first).
TIME_OF_DAY = (
    r"\b(?:[01]?\d|2[0-3]):[0-5]\d\b"
    r"|\b(?:1[0-2]|0?[1-9])(?::[0-5]\d)?\s?(?:am|pm|a\.m\.|p\.m\.)"
    r"|\b(?:[01]?\d|2[0-3])h(?:[0-5]\d)?\b"
    r"|\b(?:[01]?\d|2[0-3])\s(?:h|uhr|hrs|heures|horas)\b"
)
#: Dotted day-first dates: 7.1. / 07.01.2023 (not inside a longer number).
DOTTED_DATE = r"(?:^|[^\d.])(0?[1-9]|[12]\d|3[01])\.(0?[1-9]|1[0-2])\.((?:19|20)\d\d)?(?:[^\d]|$)"
_URL = r"(?:https?://|www\.)\S+"


def dotted_dates(text: pl.Expr, posted: pl.Expr) -> pl.Expr:
    """ISO dates of the first dotted date in ``text`` (a list of at most one), the year
    nearest the post (``posted``, a Datetime) when none is written."""
    parts = text.str.extract_groups(DOTTED_DATE)
    day, month = parts.struct.field("1").cast(pl.Int32), parts.struct.field("2").cast(pl.Int32)
    year = posted.dt.year().cast(pl.Int32)
    # "3.1." written on 28 December is next year's; "28.12." written on 3 January last year's
    month_then = posted.dt.month().cast(pl.Int32)
    nearest = (pl.when(month - month_then > 6).then(year - 1).when(month_then - month > 6).then(year + 1)
               .otherwise(year))
    year = pl.coalesce(parts.struct.field("3").cast(pl.Int32), nearest)
    # an impossible date (31.02.) is no date: parsed leniently to null, never an error
    iso = pl.format("{}-{}-{}", year.cast(pl.String), month.cast(pl.String).str.zfill(2),
                    day.cast(pl.String).str.zfill(2)).str.to_date("%Y-%m-%d", strict=False)
    return pl.when(iso.is_not_null()).then(pl.concat_list([iso.cast(pl.String)])).otherwise(
        pl.lit([], pl.List(pl.String)))


def structural_calls(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with ``structural_call`` (bool) and ``matched_structural_call`` (the time and
    dotted date found) added, and dotted dates added to ``dates``.

    ``frame`` has ``text``, ``timestamp``, and from the text signals ``dates``, ``places``,
    ``logistics``; optionally ``money_link`` and ``logistics_link`` (links module). Only the
    texts with a where or a how are read for times and dotted dates: the others cannot be
    calls, and the regular expressions cost as much as the lexicons'.
    """
    links = [pl.col(c).fill_null(False) for c in ("money_link", "logistics_link") if c in frame.columns]
    where_or_how = pl.any_horizontal(pl.col("places").list.len() > 0, pl.col("logistics").fill_null(False), *links)
    indexed = frame.with_row_index("_row")
    candidates = indexed.filter(where_or_how)
    plain = pl.col("text").fill_null("").str.replace_all(_URL, " ").str.to_lowercase()
    read = candidates.select("_row", "timestamp", "dates", _plain=plain).with_columns(
        _times=pl.col("_plain").str.extract_all(TIME_OF_DAY),
        _dotted=pl.col("_plain").str.extract(DOTTED_DATE, 0).str.strip_chars(" ,;:()"),
        _dotted_iso=dotted_dates(pl.col("_plain"), pl.col("timestamp")),
    ).select(
        "_row",
        _dates=pl.concat_list([pl.col("dates").fill_null(pl.lit([], pl.List(pl.String))), "_dotted_iso"]).list.unique(
            maintain_order=True),
        structural_call=(pl.col("dates").list.len() + pl.col("_dotted_iso").list.len() > 0)
        & (pl.col("_times").list.len() > 0),
        matched_structural_call=pl.concat_list([
            pl.col("_times").list.head(1),
            pl.when(pl.col("_dotted").is_not_null()).then(pl.concat_list([pl.col("_dotted")]))
            .otherwise(pl.lit([], pl.List(pl.String)))]),
    )
    empty = pl.lit([], pl.List(pl.String))
    out = indexed.join(read, on="_row", how="left").sort("_row")
    return out.with_columns(
        dates=pl.coalesce("_dates", "dates"),
        structural_call=pl.col("structural_call").fill_null(False),
        matched_structural_call=pl.when(pl.col("structural_call").fill_null(False))
        .then(pl.col("matched_structural_call")).otherwise(empty),
    ).drop("_row", "_dates")


__all__ = ["DOTTED_DATE", "TIME_OF_DAY", "dotted_dates", "structural_calls"]
