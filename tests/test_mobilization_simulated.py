"""Recall on a simulated world's campaign texts and precision on its organic texts.

The lexicons were written from domain knowledge, not from the simulator's phrase banks
(``rallypoint/simulate/phrases.py``); this checks that they carry over. Campaign texts are
the members' texts that carry their campaign's link, flyer image or hashtag (members also
chat about ordinary things). Thresholds sit well below what was measured (docs/signals.md)
so that a change that breaks recall or precision fails, and a new seed does not.
"""

from __future__ import annotations

import polars as pl
import pytest

from rallypoint.detectors.mobilization import detect_text_signals, load_lexicons
from rallypoint.simulate import World

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world():
    sim = World(accounts=1500, days=14, seed=5)
    records = pl.concat(list(sim.frames(50_000)), how="diagonal_relaxed").filter(pl.col("text").is_not_null())
    records = records.with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))
    signals = pl.from_arrow(
        detect_text_signals(records.select("id", "text", "lang", "timestamp", "urls").to_arrow(), load_lexicons())
    )
    labels = pl.DataFrame(sim.labels(), schema=["account_id", "campaign_id", "kind"], orient="row")
    texts = pl.concat([records.select("account_id", "hashtags", "urls", "media"), signals], how="horizontal")
    return texts.join(labels, on="account_id", how="left"), sim.manifest()


def campaign_texts(texts: pl.DataFrame, campaign: dict) -> pl.DataFrame:
    marks = [*(campaign.get("links") or []), *(campaign.get("media") or [])]
    tags = [h.lstrip("#").lower() for h in campaign.get("hashtags") or []]
    carries = (
        pl.col("urls").list.eval(pl.element().is_in(marks)).list.any().fill_null(False)
        | pl.col("media").list.eval(pl.element().is_in(marks)).list.any().fill_null(False)
        | pl.col("hashtags").list.eval(pl.element().str.to_lowercase().is_in(tags)).list.any().fill_null(False)
    )
    return texts.filter((pl.col("campaign_id") == campaign["campaign_id"]) & carries)


def test_loud_mobilization_campaigns_call_people_to_their_place_and_date(world):
    texts, manifest = world
    for campaign in manifest["campaigns"]:
        if campaign["kind"] != "mobilization" or campaign["loudness"] != "loud":
            continue
        own = campaign_texts(texts, campaign)
        assert own.height >= 30, campaign["campaign_id"]
        assert own["call_to_action"].mean() >= 0.6, campaign["campaign_id"]
        assert own["dates"].list.contains(campaign["event_date"]).mean() >= 0.6, campaign["campaign_id"]
        assert own["places"].list.len().gt(0).mean() >= 0.6, campaign["campaign_id"]
        assert own["logistics"].mean() >= 0.3, campaign["campaign_id"]
        assert own["delegitimization"].mean() >= 0.2, campaign["campaign_id"]


def test_the_amplification_ring_pushes_fraud_claims_and_calls_no_one(world):
    texts, manifest = world
    ring = next(c for c in manifest["campaigns"] if c["kind"] == "amplification")
    own = texts.filter(pl.col("campaign_id") == ring["campaign_id"])
    assert own["delegitimization"].mean() >= 0.6
    assert own["call_to_action"].mean() == 0.0


def test_organic_texts_rarely_carry_a_signal(world):
    texts, _ = world
    organic = texts.filter(pl.col("campaign_id").is_null())
    assert organic.height > 3000
    assert organic["call_to_action"].mean() <= 0.01
    assert organic["logistics"].mean() <= 0.01
    assert organic["escalation"].mean() <= 0.005
    assert organic["delegitimization"].mean() <= 0.02


def test_lawful_protests_are_calls_without_harm(world):
    texts, manifest = world
    organizers = [p["account_id"] for p in manifest["lookalikes"]["lawful_protests"]]
    own = texts.filter(pl.col("account_id").is_in(organizers))
    assert own.height > 0
    assert own["call_to_action"].mean() >= 0.5
    assert own["peaceful"].mean() >= 0.5
    assert not own["escalation"].any() and not own["delegitimization"].any()
