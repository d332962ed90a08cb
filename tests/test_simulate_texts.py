"""Simulated texts: varied organic chatter, near-duplicate campaign copies, calls that escalate."""

from __future__ import annotations

from datetime import UTC, datetime
from difflib import SequenceMatcher

import numpy as np
import pytest

from rallypoint.simulate import phrases
from rallypoint.simulate.texts import CampaignVoice, OrganicComposer, near_duplicate, place_name, typo


def word_jaccard(a: str, b: str) -> float:
    x, y = set(a.lower().split()), set(b.lower().split())
    return len(x & y) / len(x | y)


@pytest.mark.parametrize("lang", ["en", "pt", "es"])
def test_organic_posts_rarely_repeat(lang):
    texts = OrganicComposer(lang).compose(np.random.default_rng(1), 20_000).to_list()
    assert len(set(texts)) > 0.9 * len(texts)
    assert all(t.strip() for t in texts)


@pytest.mark.parametrize("lang", ["en", "pt", "es"])
def test_near_duplicates_stay_close_to_the_original_but_vary(lang):
    rng = np.random.default_rng(2)
    voice = CampaignVoice(rng, lang, stealthy=False)
    event = int(datetime(2023, 1, 8, 16, tzinfo=UTC).timestamp())
    for _ in range(50):
        original = voice.call(rng, event - 3 * 86_400, event, level=1)
        copies = [near_duplicate(rng, original, lang) for _ in range(20)]
        assert np.mean([word_jaccard(original, c) for c in copies]) > 0.6
        assert len(set(copies)) > 1


def test_typos_change_little_but_change_something():
    rng = np.random.default_rng(3)
    text = "Everyone to the Capitol on January 6, buses leaving Ohio at 3am"
    slips = [typo(rng, text) for _ in range(300)]
    for slipped in slips:
        assert abs(len(slipped) - len(text)) <= 1
        assert SequenceMatcher(None, slipped.lower(), text.lower()).ratio() > 0.95
    assert sum(s != text for s in slips) > 0.8 * len(slips)


@pytest.mark.parametrize("lang", ["en", "pt", "es"])
def test_calls_escalate_as_the_date_nears(lang):
    rng = np.random.default_rng(4)
    voice = CampaignVoice(rng, lang, stealthy=False)
    event = int(datetime(2023, 1, 8, 16, tzinfo=UTC).timestamp())
    strongest = [s.lower() for s in phrases.CAMPAIGN[lang]["escalation"][3]]

    def share_strongest(level: int) -> float:
        calls = [voice.call(rng, event - 86_400, event, level).lower() for _ in range(300)]
        return np.mean([any(s.rstrip(".") in c for s in strongest) for c in calls])

    assert share_strongest(0) < 0.05 < 0.5 < share_strongest(3)


@pytest.mark.parametrize("lang", ["en", "pt", "es"])
def test_calls_name_the_campaign_place_and_mostly_carry_logistics_or_money_sometimes(lang):
    rng = np.random.default_rng(5)
    voice = CampaignVoice(rng, lang, stealthy=False)
    event = int(datetime(2023, 1, 6, 18, tzinfo=UTC).timestamp())
    calls = [voice.call(rng, event - 2 * 86_400, event, level=1) for _ in range(400)]
    place = place_name(voice.place).lower()
    assert np.mean([place in c.lower() for c in calls]) > 0.4
    logistics_words = {"en": ["bus", "carpool", "caravan", "rooms", "hotel", "rides", "vans", "train"],
                       "pt": ["ônibus", "caravana", "hospedagem", "alimentação", "transporte", "carona"],
                       "es": ["micros", "caravana", "alojamiento", "colectivos", "traslado"]}[lang]
    share_logistics = np.mean([any(w in c.lower() for w in logistics_words) for c in calls])
    assert 0.2 < share_logistics < 0.7
    money = [voice.fund, voice.pix, voice.alias][{"en": 0, "pt": 1, "es": 2}[lang]]
    assert 0.05 < np.mean([money in c or voice.fund in c for c in calls]) < 0.6


def test_stealthy_voices_use_code_words_more_and_hashtags_less():
    rng = np.random.default_rng(6)
    event = int(datetime(2023, 1, 8, 16, tzinfo=UTC).timestamp())
    loud, stealthy = CampaignVoice(rng, "pt", stealthy=False), CampaignVoice(rng, "pt", stealthy=True)

    def shares(voice):
        calls = [voice.call(rng, event - 3 * 86_400, event, 1) for _ in range(400)]
        return (np.mean([voice.code.lower() in c.lower() for c in calls]), np.mean(["#" in c for c in calls]))

    (loud_code, loud_tags), (quiet_code, quiet_tags) = shares(loud), shares(stealthy)
    assert quiet_code > 2 * loud_code
    assert quiet_tags < loud_tags
