"""Dates a post names, resolved against the post's own time: absolute, numeric, relative, year rollover."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pytest

from rallypoint.detectors.mobilization import detect_text_signals, load_lexicons
from rallypoint.detectors.mobilization.dates import DateGrammar
from rallypoint.detectors.mobilization.patterns import fold

LEX = load_lexicons()
GRAMMAR = DateGrammar(LEX.dates)


def dates_in(text: str, posted: str, lang: str | None = None) -> list[str]:
    return [m.iso for m in GRAMMAR.find(fold(text), date.fromisoformat(posted), lang)]


# 2 January 2021 is a Saturday; 5 January 2023 a Thursday.
@pytest.mark.parametrize(
    ("text", "posted", "lang", "expected"),
    [
        # absolute, every language
        ("January 6", "2020-12-20", "en", "2021-01-06"),
        ("Jan. 6th, 2021", "2020-12-20", "en", "2021-01-06"),
        ("the 6th of January", "2020-12-20", "en", "2021-01-06"),
        ("6 de janeiro", "2020-12-20", "pt", "2021-01-06"),
        ("dia 8 de janeiro de 2023", "2022-12-01", "pt", "2023-01-08"),
        ("8 de enero", "2022-12-30", "es", "2023-01-08"),
        ("el día 8 de enero", "2022-12-30", "es", "2023-01-08"),
        # numeric: month first in English, day first in Portuguese and Spanish
        ("1/6", "2020-12-20", "en", "2021-01-06"),
        ("8/1", "2022-12-30", "pt", "2023-01-08"),
        ("8/1/2023", "2022-11-30", "es", "2023-01-08"),
        # a day alone: the next such day, rolling into the next month and year
        ("dia 8", "2023-01-05", "pt", "2023-01-08"),
        ("dia 8", "2022-12-30", "pt", "2023-01-08"),
        ("on the 6th", "2020-12-30", "en", "2021-01-06"),
        ("el día 8", "2023-01-05", "es", "2023-01-08"),
        # weekdays: this/on = next occurrence, today included; next = strictly after today
        ("this Saturday", "2021-01-02", "en", "2021-01-02"),
        ("next Saturday", "2021-01-02", "en", "2021-01-09"),
        ("on Wednesday", "2021-01-02", "en", "2021-01-06"),
        ("neste domingo", "2023-01-05", "pt", "2023-01-08"),
        ("no domingo", "2023-01-05", "pt", "2023-01-08"),
        ("domingo que vem", "2023-01-08", "pt", "2023-01-15"),
        ("este sábado", "2023-01-05", "es", "2023-01-07"),
        ("el próximo domingo", "2023-01-05", "es", "2023-01-08"),
        # relative words
        ("tomorrow", "2021-01-05", "en", "2021-01-06"),
        ("amanhã", "2023-01-07", "pt", "2023-01-08"),
        ("mañana", "2023-01-07", "es", "2023-01-08"),
        ("hoje", "2023-01-08", "pt", "2023-01-08"),
        ("pasado mañana", "2023-01-06", "es", "2023-01-08"),
    ],
)
def test_dates_resolve_against_the_post(text, posted, lang, expected):
    assert dates_in(text, posted, lang) == [expected]


def test_year_rolls_over_to_the_nearest_occurrence():
    assert dates_in("January 6", "2020-12-28") == ["2021-01-06"]  # a week ahead, not a year back
    assert dates_in("January 6", "2021-01-07") == ["2021-01-06"]  # yesterday, not next year
    assert dates_in("amanhã", "2022-12-31") == ["2023-01-01"]
    assert dates_in("neste domingo", "2022-12-30") == ["2023-01-01"]


def test_numeric_dates_without_a_language_are_kept_only_when_unambiguous():
    assert dates_in("1/6", "2020-12-20", None) == []  # 6 January or 1 June?
    assert dates_in("25/12", "2020-12-20", None) == ["2020-12-25"]  # only day first is a date
    assert dates_in("6/6", "2021-05-20", None) == ["2021-06-06"]


def test_iso_dates_count_but_dates_inside_links_do_not():
    assert dates_in("Ato em 2023-01-08 na Esplanada", "2023-01-01", "pt") == ["2023-01-08"]
    assert dates_in("Leiam https://jornal.com.br/2023/01/08/abc", "2023-01-08", "pt") == []
    table = pa.table({"id": ["1"], "text": ["Refuerzan la seguridad https://diario.com.ar/2023/01/02/x"], "lang": ["es"]})
    assert detect_text_signals(table, LEX)["dates"].to_pylist() == [[]]


def test_this_morning_is_not_tomorrow():
    assert dates_in("esta mañana fui al mercado", "2023-01-07", "es") == []
    assert dates_in("nos vemos por la mañana", "2023-01-07", "es") == []


def test_impossible_dates_and_plain_numbers_are_ignored():
    assert dates_in("31 de fevereiro", "2023-01-05", "pt") == []
    assert dates_in("13/13", "2023-01-05", "pt") == []
    assert dates_in("we were 8 people, 24 hours", "2023-01-05", "en") == []


def test_relative_dates_use_the_post_time_in_the_chosen_time_zone():
    # 02:00 UTC on 8 January is still 7 January in Brasília (UTC-3): "amanhã" is the 8th there
    table = pa.table(
        {
            "id": ["1"],
            "text": ["Todos à Esplanada amanhã"],
            "lang": ["pt"],
            "timestamp": pa.array([datetime.fromisoformat("2023-01-08T02:00:00+00:00")], pa.timestamp("us", tz="UTC")),
        }
    )
    assert detect_text_signals(table, LEX)["dates"].to_pylist() == [["2023-01-09"]]
    assert detect_text_signals(table, LEX, timezone="America/Sao_Paulo")["dates"].to_pylist() == [["2023-01-08"]]


def test_without_a_timestamp_only_dates_with_a_year_resolve():
    table = pa.table({"id": ["1", "2"], "text": ["Todos à Esplanada amanhã", "Ato em 8 de janeiro de 2023"]})
    assert detect_text_signals(table, LEX)["dates"].to_pylist() == [[], ["2023-01-08"]]
