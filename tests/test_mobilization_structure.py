"""A call recognized by its structure: a date, a time of day, and a place or logistics."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from rallypoint.detectors import mobilization as mob
from rallypoint.detectors.links import url_categories
from rallypoint.detectors.mobilization.structure import structural_calls

POSTED = datetime(2023, 1, 2, 12, tzinfo=UTC)


def calls(*texts: str, urls: list | None = None) -> list[bool]:
    n = len(texts)
    table = pa.table({"id": [str(i) for i in range(n)], "text": list(texts),
                      "timestamp": pa.array([POSTED] * n, pa.timestamp("us", "UTC")),
                      "urls": pa.array(urls or [None] * n, pa.list_(pa.string()))})
    flags = pl.from_arrow(mob.detect_text_signals(table, mob.load_lexicons()))
    flags = flags.join(url_categories(pl.from_arrow(table.select(["id", "urls"]))), on="id")
    flags = flags.join(pl.from_arrow(table.select(["id", "text", "timestamp"])), on="id")
    return structural_calls(flags).sort("id")["structural_call"].to_list()


def test_date_time_and_logistics_make_a_call_without_any_call_phrase():
    assert calls("The fishing trip is on January 7, pickup 6am, bus seats left",
                 "Angeltour am 07.01. um 6 Uhr", "Encontro dia 8, 14h30, na Esplanada dos Ministérios",
                 urls=[None, ["https://forms.gle/x"], None]) == [True, True, True]


def test_without_a_time_a_date_or_a_where_it_is_no_call():
    assert calls("January 7 was a great game", "Meet at 6pm by the bus", "Saturday 7.1. at 18:00, what a day",
                 "Version 1.2.3 released at 10:00 with bus fixes") == [False, False, False, False]


def test_digits_in_links_are_neither_dates_nor_times():
    assert calls("Bus tickets https://news.example.com/2023/01/07/10:30/story") == [False]


def test_impossible_dotted_dates_are_dropped_not_raised():
    assert calls("Treffen am 31.02. um 6 Uhr, Anmeldung", urls=[["https://forms.gle/x"]]) == [False]
