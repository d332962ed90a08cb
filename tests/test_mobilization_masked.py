"""Words written to slip past a filter (leet, look-alike letters, styled letters, invisible
characters) are read as the words they imitate; numbers, links, e-mail addresses and words wholly
in another script are not touched, and folding still keeps every character in place."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rallypoint.detectors.mobilization import detect_text_signals
from rallypoint.detectors.mobilization.patterns import INVISIBLE, LOOKALIKES, fold, fold_expr, phrase_pattern

ZWSP, SHY = "\u200b", "\u00ad"
CYRILLIC_A, GREEK_O = "\u0430", "\u03bf"


@pytest.mark.parametrize(
    ("phrase", "text"),
    [
        ("march", "M@RCH on"),
        ("rally", "the r4lly"),
        ("stop the steal", "st0p the st3al"),
        ("stop the steal", "$top the $teal"),
        ("patriot", "p4tr10t"),
        ("march", f"m{CYRILLIC_A}rch"),
        ("to the capitol", f"to the c{CYRILLIC_A}pit{GREEK_O}l"),
        ("march", f"ma{ZWSP}rch"),
        ("take to the streets", f"take to the stre{SHY}ets"),
        ("march", "\U0001d426\U0001d41a\U0001d42b\U0001d41c\U0001d421"),  # mathematical bold
        ("march", "ｍａｒｃｈ"),  # fullwidth
        ("fraude nas urnas", "Fr4ude n4s urn4s"),
        ("às ruas", "às ru4s"),
        ("a las calles", "a l@s c@lles"),
    ],
)
def test_a_masked_word_matches_the_phrase_it_imitates(phrase, text):
    pattern = phrase_pattern(phrase)
    assert re.search(pattern, fold(text)), (phrase, fold(text))
    assert pl.Series([text]).to_frame("t").select(fold_expr(pl.col("t")).str.contains(pattern)).item()


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("1st 2nd 3rd 10am 5pm 6th 1/6 2023-01-06", "1st 2nd 3rd 10am 5pm 6th 1/6 2023-01-06"),  # dates, times
        ("R$50 US$ 20 $5", "r$50 us$ 20 $5"),  # money
        ("patriota42@gmail.com caravana@gmail.com", "patriota42@gmail.com caravana@gmail.com"),  # e-mail
        ("https://ex.com/st0rm-the-c4pitol", "https://ex.com/st0rm-the-c4pitol"),  # a link's slug
        ("mp3 covid19 g20 web3", "mp3 covid19 g20 web3"),  # digits at a word's end
        ("сор хор", "       "),  # wholly Cyrillic words stay foreign (-> spaces), not Latin "cop", "xop"
        ("1º de maio", "1  de maio"),  # the ordinal mark stays what it was
    ],
)
def test_numbers_links_addresses_and_foreign_words_are_left_alone(text, folded):
    assert fold(text) == folded


def test_a_masked_call_is_a_call_and_its_evidence_is_the_text_as_written():
    plain = "Everyone to the Capitol on January 6! Take to the streets, bring your friends"
    masked = f"Ev3ry0ne to the C{CYRILLIC_A}pitol on January 6! T@ke to the str{ZWSP}eets, bring your friends"
    table = pa.table({"id": ["plain", "masked"], "text": [plain, masked],
                      "timestamp": pa.array([datetime(2021, 1, 2, tzinfo=UTC)] * 2, pa.timestamp("us", "UTC"))})
    rows = {r["id"]: r for r in detect_text_signals(table).to_pylist()}
    for key in ("call_to_action", "places", "dates"):
        assert rows["masked"][key] == rows["plain"][key], key
    assert rows["masked"]["call_to_action"] and rows["masked"]["places"] == ["US Capitol, Washington DC"]
    for phrase in rows["masked"]["matched"]:
        assert phrase in masked  # a span of the original, invisible characters and all
    assert f"T@ke to the str{ZWSP}eets" in rows["masked"]["matched"]


@pytest.mark.parametrize(
    "text",
    [
        "gg n00b, r4id t0night at 9, bring p0tions",  # gamers' leet
        "\U0001d4fc\U0001d4ee\U0001d4ee \U0001d502\U0001d4f8\U0001d4fe at the stadium on saturday",  # a fan's script
        "h1n1 and covid19 cases rise, w3c publishes b2b rules",  # words with digits in them
    ],
)
def test_organic_leet_and_styled_text_is_no_call(text):
    row = detect_text_signals(pa.table({"id": ["1"], "text": [text]})).to_pylist()[0]
    assert not row["call_to_action"] and not row["delegitimization"], row


_ALPHABET = st.sampled_from(list("abcdemnorstz019@$4357 .-_/:#!") + list(LOOKALIKES) + sorted(INVISIBLE)[:12]
                            + ["à", "Ç", "É", "ｍ", "\U0001d41a", "🇧", "👩", "м", "л", "\u0301"]
                            + ["https://", "HTTP://", "www.", "t.co/", "\x1c", "\u2003"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_python_and_polars_fold_alike_and_keep_the_length(text):
    folded = fold(text)
    assert len(folded) == len(unicodedata.normalize("NFC", text).lower())
    assert folded.isascii()
    assert pl.Series([text]).to_frame("t").select(fold_expr(pl.col("t"))).item() == folded


def test_the_simulators_masked_calls_read_back_but_for_first_and_last_letters():
    """The simulator masks as accounts do, now and then at a word's first or last letter, which
    folding does not read back: most masked calls fold to their plain text, not all."""
    import numpy as np

    from rallypoint.simulate.texts import MASKED_SHARE, CampaignVoice, masked

    rng = np.random.default_rng(1)
    calls = [CampaignVoice(rng, lang, stealthy=False).call(rng, 1_672_531_200, 1_673_000_000, 1)
             for lang in ("en", "pt", "es") for _ in range(200)]
    pairs = [(call, masked(call, 1.0)) for call in calls]
    changed = [(call, m) for call, m in pairs if m != call]
    assert len(changed) > 0.9 * len(calls)
    read_back = sum(fold(m).replace(" ", "") == fold(call).replace(" ", "") for call, m in changed) / len(changed)
    assert 0.85 < read_back < 1.0
    share = sum(masked(call, MASKED_SHARE) != call for call in calls) / len(calls)
    assert abs(share - MASKED_SHARE) < 0.08
