"""Lexicons are data: the built-in files are valid, users extend them with their own files, bad files are refused clearly."""

from __future__ import annotations

import json
import re

import polars as pl
import pyarrow as pa
import pytest

from rallypoint.detectors.mobilization import LexiconError, detect_text_signals, load_lexicons
from rallypoint.detectors.mobilization.lexicon import BUILTIN_FILES, _check_patterns, _merge, _read
from rallypoint.detectors.mobilization.patterns import fold, phrase_pattern
from rallypoint.errors import RallypointError


def flags(text: str, lex) -> dict:
    return detect_text_signals(pa.table({"id": ["1"], "text": [text]}), lex).to_pylist()[0]


def test_every_builtin_entry_compiles_in_python_and_in_polars():
    from importlib import resources

    folder = resources.files("rallypoint.detectors") / "lexicons"
    checked: list[tuple[str, str]] = []
    lex = load_lexicons(builtin=False)
    for name in BUILTIN_FILES:
        _merge(lex, _read(folder / name, name), name, checked)
    assert len(checked) > 500
    _check_patterns(checked)  # raises on the first bad entry


def test_builtin_lexicons_cover_three_languages_a_gazetteer_and_code_words():
    lex = load_lexicons()
    assert {"en", "pt", "es"} <= set(lex.dates.numeric_order)
    names = {p.name for p in lex.places}
    for place in ("US Capitol, Washington DC", "Praça dos Três Poderes, Brasília", "Plaza de Mayo, Buenos Aires",
                  "Zócalo, Ciudad de México", "Supremo Tribunal Federal, Brasília", "Texas State Capitol, Austin"):
        assert place in names
    assert any("selma" in c["phrase"] for c in lex.code_words)


def test_a_user_file_adds_code_words_places_and_phrases(tmp_path):
    before = load_lexicons()
    assert not flags("Churrasco do Zé no Parque da Cidade", before)["code_word"]
    extra = tmp_path / "mine.json"
    extra.write_text(
        json.dumps(
            {
                "code_words": [{"phrase": "churrasco do zé", "meaning": "our event"}],
                "places": [{"name": "Parque da Cidade, Brasília", "aliases": ["Parque da Cidade"]}],
                "signals": {"logistics": ["van (sai|saindo)"]},
            }
        ),
        encoding="utf-8",
    )
    lex = load_lexicons([extra])
    got = flags("Churrasco do Ze no Parque da Cidade, van saindo às 7", lex)
    assert got["code_word"] and got["logistics"]
    assert got["places"] == ["Parque da Cidade, Brasília"]
    assert lex.sources[-1] == str(extra)
    # the built-ins are still there
    assert flags("Fraude nas urnas!", lex)["delegitimization"]


def test_a_user_file_may_be_toml(tmp_path):
    extra = tmp_path / "mine.toml"
    extra.write_text('[[code_words]]\nphrase = "picnic at the lake"\nmeaning = "test"\n', encoding="utf-8")
    assert flags("Picnic at the lake on Saturday", load_lexicons([extra]))["code_word"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "not valid JSON"),
        ('{"signals": {"violence": ["x"]}}', "unknown signal 'violence'"),
        ('{"colours": []}', "unknown key"),
        ('{"signals": {"logistics": "buses"}}', "must be a list"),
        ('{"signals": {"logistics": ["(unclosed"]}}', "not a valid pattern: '\\(unclosed'"),
        ('{"places": [{"aliases": ["x"]}]}', "needs a 'name'"),
        ('{"dates": {"numeric_order": "year_first", "lang": "xx"}}', "must be 'month_first' or 'day_first'"),
    ],
)
def test_a_bad_user_file_is_refused_in_one_sentence_naming_it(tmp_path, content, words):
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(LexiconError, match=words) as caught:
        load_lexicons([bad])
    assert isinstance(caught.value, RallypointError)
    assert "bad.json" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_user_file_is_refused(tmp_path):
    with pytest.raises(LexiconError, match="Cannot read"):
        load_lexicons([tmp_path / "nope.json"])


# --- phrase patterns ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("phrase", "text", "matches"),
    [
        ("ônibus", "Onibus lotado", True),
        ("onibus", "ÔNIBUS lotado", True),
        ("fraude nas urnas", "#FraudeNasUrnas", True),
        ("festa da selma", "festa_da_selma", True),
        ("rally", "rallying cry", False),  # whole words only
        ("rally", "Rally!", True),
        ("mañana", "manana", True),
    ],
)
def test_phrases_ignore_case_accents_and_hashtag_glue_but_match_whole_words(phrase, text, matches):
    pattern = phrase_pattern(phrase)
    assert bool(re.search(pattern, fold(text))) is matches
    assert pl.Series([fold(text)]).str.contains(pattern).item() is matches  # Rust agrees with Python


def test_folding_keeps_every_character_in_place():
    text = "Todos à PRAÇA 🇧🇷 amanhã"
    assert len(fold(text)) == len(text)
    assert fold(text) == "todos a praca    amanha"
