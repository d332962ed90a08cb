"""Scoring: harm evidence with coordination as its multiplier, and reasons with numbers."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
import pytest

from rallypoint.detectors import scoring
from rallypoint.detectors.scoring import DEFAULT_THRESHOLD, score_clusters

T0 = datetime(2021, 1, 5, 18, 0, tzinfo=UTC)
T1 = datetime(2021, 1, 5, 18, 20, tzinfo=UTC)


def facts(**overrides) -> dict:
    """One cluster's facts: 60 accounts, 30 of 200 texts calling to act at a date and a place."""
    row = {
        "cluster_id": 0,
        "n_accounts": 60,
        "observed_weight": 3000.0,
        "expected_weight": 10.0,  # 300x chance
        "n_internal_edges": 900,
        "coaction": [{"type": "co_repost", "n_accounts": 41, "n_targets": 12, "n_actions": 480}],
        "n_coactions": 480,
        "n_coactions_in_bursts": 360,
        "bursts": [{"start": T0, "end": T1, "level": 1}],
        "n_threads": 200,
        "n_call_to_action": 60,
        "n_logistics": 30,
        "n_escalation": 25,
        "n_delegitimization": 40,
        "n_code_word": 0,
        "top_date_places": [{"date": "2021-01-06", "place": "US Capitol", "count": 45}],
        "n_new_accounts": 12,
        "high_profile_accounts": [],
    }
    row.update(overrides)
    return row


def frame(*rows) -> pl.DataFrame:
    rows = [dict(r, cluster_id=i) for i, r in enumerate(rows)]
    return pl.DataFrame(rows, schema_overrides={
        "bursts": pl.List(pl.Struct({"start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"),
                                     "level": pl.Int64})),
        "high_profile_accounts": pl.List(pl.String),
    })


NO_HARM = {"n_call_to_action": 0, "n_logistics": 0, "n_escalation": 0, "n_delegitimization": 0,
           "top_date_places": []}


def test_coordination_without_harm_evidence_scores_zero():
    # a fandom: 300x chance, bursty, but no call to act, no escalation, no fraud narrative
    scored = score_clusters(frame(facts(**NO_HARM)))
    assert scored["coordination_score"][0] == 1.0
    assert scored["score"][0] == 0.0
    assert not scored["flagged"][0]


def test_mobilization_with_escalation_is_flagged_and_outranks_a_call_to_protest_alone():
    lawful = facts(n_escalation=0, n_delegitimization=0, n_new_accounts=0, expected_weight=300.0)  # 10x chance
    harmful = facts()
    scored = score_clusters(frame(harmful, lawful))
    assert scored["flagged"].to_list() == [True, False]
    assert scored["score"][0] > scored["score"][1]


def test_a_call_to_a_place_and_date_alone_counts_half_at_most():
    scored = score_clusters(frame(facts(n_escalation=0, n_delegitimization=0, n_coactions_in_bursts=0,
                                        n_new_accounts=0)))
    assert scored["mobilization_score"][0] == 1.0
    assert scored["harm_score"][0] == pytest.approx(0.5)


def test_an_amplification_ring_pushing_fraud_claims_in_lockstep_is_flagged():
    ring = facts(**{**NO_HARM, "n_delegitimization": 120, "n_threads": 150})
    scored = score_clusters(frame(ring))
    assert scored["mobilization_score"][0] == 0.0
    assert scored["escalation_score"][0] == 1.0
    assert scored["flagged"][0]


def test_weak_coordination_keeps_even_harmful_talk_unflagged():
    # 1.5x what timing explains: members say alarming things but do not act together
    scored = score_clusters(frame(facts(observed_weight=15.0, expected_weight=10.0)))
    assert scored["coordination_score"][0] < 0.1
    assert not scored["flagged"][0]


def _wilson(count: int, n: int, z: float = 1.96) -> float:
    if n == 0:
        return 0.0
    p = count / n
    centre, spread = p + z * z / (2 * n), z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    return max(0.0, (centre - spread) / (1 + z * z / n))


def test_score_is_recomputable_from_its_components():
    rows = [facts(), facts(n_escalation=3, observed_weight=400.0), facts(n_call_to_action=5, n_new_accounts=0),
            facts(n_escalation=0, n_delegitimization=0, n_code_word=4), facts(n_escalation=0, n_delegitimization=0)]
    scored = score_clusters(frame(*rows))
    for r in scored.iter_rows(named=True):
        narrative = min(1.0, max(_wilson(r["n_delegitimization"], r["n_threads"]),
                                 _wilson(r["n_code_word"], r["n_threads"])) / 0.05)
        harm = 1 - (1 - 0.5 * (1 + narrative) * r["mobilization_score"]) * (1 - r["escalation_score"])
        assert r["harm_score"] == pytest.approx(harm)
        expected = r["coordination_score"] * harm * (0.7 + 0.15 * r["burst_score"] + 0.15 * r["growth_score"])
        assert r["score"] == pytest.approx(expected)
        assert 0 <= r["score"] <= 1
        assert r["flagged"] == (r["score"] >= DEFAULT_THRESHOLD)


def test_high_profile_members_are_listed_but_change_no_score():
    plain = facts()
    with_politicians = facts(high_profile_accounts=["senator_x", "governor_y"])
    scored = score_clusters(frame(plain, with_politicians))
    assert scored["score"][0] == scored["score"][1]
    reasons = scored["reasons"][1].to_list()
    assert any("2 high-profile members (governor_y, senator_x)" in r or "senator_x" in r for r in reasons)


def test_reasons_carry_the_numbers_of_the_facts():
    scored = score_clusters(frame(facts()), window_seconds={"co_repost": 30.0})
    reasons = scored["reasons"][0].to_list()
    assert "41 of 60 accounts reposted the same 12 posts within 30 s of another member, 300x what timing explains." in reasons
    assert "60 of 200 posts the cluster pushed (each with its replies and quotes) call people to act." in reasons
    assert "45 texts name 2021-01-06 at US Capitol." in reasons
    assert "360 of 480 co-actions fell inside 1 burst of activity (Kleinberg level up to 1)." in reasons
    assert "12 of 60 accounts were created less than 30 days before they first acted here." in reasons
    final = reasons[-1]
    shown = float(re.search(r"Score ([0-9.]+)", final).group(1))
    assert shown == pytest.approx(scored["score"][0], abs=0.005)


def test_saturation_constants_are_what_the_docstring_says():
    # one hundred times chance is full coordination; ten times is half of it
    scored = score_clusters(frame(facts(observed_weight=1000.0, expected_weight=10.0),
                                  facts(observed_weight=100.0, expected_weight=10.0)))
    assert scored["coordination_score"].to_list() == pytest.approx([1.0, 0.5])
    assert scoring.COORDINATION_SATURATION == 100.0


def test_a_few_alarming_texts_in_a_small_cluster_are_weak_evidence():
    # a viral joke reposted by 9 accounts: 2 of its 6 texts repeat an uncle's fraud claim
    small = facts(**{**NO_HARM, "n_threads": 6, "n_delegitimization": 2, "n_coactions_in_bursts": 0,
                     "n_new_accounts": 0, "n_accounts": 9})
    # the same share in 600 texts is a narrative being pushed
    large = facts(**{**NO_HARM, "n_threads": 600, "n_delegitimization": 200, "n_coactions_in_bursts": 0,
                     "n_new_accounts": 0, "n_accounts": 9})
    scored = score_clusters(frame(small, large))
    assert scored["escalation_score"][0] < 0.25 < 0.5 < scored["escalation_score"][1]
    assert scored["flagged"].to_list() == [False, True]


def test_a_call_inside_a_fraud_narrative_or_behind_a_code_word_counts_fully_a_plain_call_half():
    # the same coordinated call to a place and a date, with logistics, and no escalation
    call = {"n_escalation": 0, "n_delegitimization": 0, "n_code_word": 0, "n_coactions_in_bursts": 0}
    lawful = facts(**call)
    stolen = facts(**{**call, "n_delegitimization": 30})
    coded = facts(**{**call, "n_code_word": 30})
    scored = score_clusters(frame(lawful, stolen, coded))
    assert scored["mobilization_score"].to_list() == pytest.approx([1.0, 1.0, 1.0])
    assert scored["harm_score"][0] == pytest.approx(0.5)
    assert scored["harm_score"][2] == pytest.approx(1.0)
    assert scored["harm_score"][0] < scored["harm_score"][1]
    reasons = scored["reasons"][0].to_list()
    assert any(r.startswith("Harm 0.50 = 1 - (1 - 0.5 x (1 + narrative 0.00) x mobilization 1.00)") for r in reasons)


QUIET = {**NO_HARM, "n_structural_call": 0, "n_money_link": 150, "n_logistics_link": 0, "n_petition_link": 0}


def test_a_fundraiser_shared_by_old_accounts_gets_money_evidence_but_is_not_flagged():
    charity = score_clusters(frame(facts(**QUIET, inauthenticity_score=0.0))).row(0, named=True)
    assert charity["link_score"] == 1.0 and charity["coordination_score"] == 1.0
    assert any("150 of 200 posts" in r and "money link" in r for r in charity["reasons"])
    assert charity["score"] == 0 and not charity["flagged"]


def test_inauthentic_money_links_without_coordination_are_not_flagged():
    alone = score_clusters(frame(facts(**QUIET, inauthenticity_score=1.0, observed_weight=10.0))).row(0, named=True)
    assert alone["coordination_score"] == 0 and alone["score"] == 0


def test_coordinated_inauthentic_money_links_are_harm_with_no_text_at_all():
    ring = score_clusters(frame(facts(**QUIET, inauthenticity_score=0.9))).row(0, named=True)
    assert ring["quiet_score"] == pytest.approx(0.9)
    assert ring["harm_score"] == pytest.approx(0.9)
    assert ring["flagged"]
    assert any(r.startswith("Evidence without a lexicon 0.90 = inauthenticity 0.90") for r in ring["reasons"])


def test_order_score_orders_clusters_without_harm_and_never_flags():
    scored = score_clusters(frame(facts(**NO_HARM, inauthenticity_score=0.8),
                                  facts(**NO_HARM, inauthenticity_score=0.0),
                                  facts(**NO_HARM, expected_weight=300.0)))
    assert scored["score"].to_list() == [0, 0, 0] and not scored["flagged"].any()
    order = scored["order_score"].to_list()
    assert order[0] > order[1] > order[2] > 0


def test_reasons_come_harm_first_then_mobilization_coordination_and_the_formulas():
    row = facts(n_escalation=20, n_delegitimization=190, n_code_word=5)
    scored = score_clusters(frame(row, facts()))
    reasons = scored["reasons"][0].to_list()
    categories = [scoring.reason_category(r) for r in reasons]
    # grouped in the analyst's order, each category contiguous
    assert categories == sorted(categories, key=scoring.REASON_CATEGORIES.index)
    assert set(categories) == set(scoring.REASON_CATEGORIES)
    # the strongest harm first: 190 posts claiming fraud before 20 escalating and 5 code words
    assert reasons[0].startswith("190 of 200 posts") and "stolen" in reasons[0]
    assert reasons[1].startswith("20 of 200") and reasons[2].startswith("5 of 200")
    assert scoring.reason_category("45 texts name 2021-01-06 at US Capitol.") == "mobilization"
    assert reasons[-1].startswith("Score ")
    # the order changes no number: the same sentences, the same scores as built unordered
    assert sorted(reasons) == sorted(scoring.order_reasons(list(reversed(reasons))))
    assert scoring.order_reasons(reasons) == reasons
    # a coordination sentence quoting data stays coordination whatever the data says
    assert scoring.reason_category("The most co-shared text (claim the election was stolen or rigged) drew 9 "
                                   "co-actions by members.") == "coordination"
