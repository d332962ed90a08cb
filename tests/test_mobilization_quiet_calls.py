"""Calls without the loud words, pledges and answered calls (issue 18), with their look-alikes.

A stealthy campaign writes "who's coming to the wedding on 5 January?" and "the wedding is
on for the 5th at the Ellipse, rooms for Thursday at the group rate", and its members answer
"count me in". Fans answer a dated tour post the same way, and a food bank's volunteers a
dated volunteer day with a bus: the signals must see both, and the score must weigh them
as lawful calls (half), which keeps the look-alikes unflagged (tests/test_detect.py and the
lead-time replays check that on simulated worlds, where both look-alikes live).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pyarrow as pa
import pytest

from rallypoint.detectors.mobilization import (
    answered_calls,
    detect_text_signals,
    load_lexicons,
    summarize_by,
)

LEX = load_lexicons()


def flags(texts: list[str], lang: str | None = None) -> pl.DataFrame:
    table = pa.table({
        "id": [f"t{i}" for i in range(len(texts))], "text": texts, "lang": [lang] * len(texts),
        "timestamp": pa.array([datetime(2023, 1, 1, 15)] * len(texts), pa.timestamp("us", tz="UTC")),
    })
    return pl.from_arrow(detect_text_signals(table, LEX))


@pytest.mark.parametrize("text", [
    "The wedding is on for January 5 at the Ellipse, rooms for Thursday at the group rate.",
    "Festa dia 7 na Esplanada dos Ministérios, ônibus saindo de Goiânia.",
    "El asado es el 7 de enero en la Plaza de Mayo, hay hospedaje para los del interior.",
])
def test_a_quiet_call_is_a_call_to_action(text):
    row = flags([text]).row(0, named=True)
    assert row["call_to_action"] and row["dated_invitation"], row


@pytest.mark.parametrize("text", [
    "Who's coming to the wedding on January 5? 😉",
    "Are you coming to grandma's party this Saturday?",
    "Quem vai na festa da família dia 7? 🎉",
    "quién va a la cancha el domingo?",  # the simulator's organic chatter asks these
    "alguien va al Congreso a ver la sesión?, 22/10",  # a date and a place, and still chatter
    "¿Quiénes van a la Plaza de Mayo el 7 de enero?",
])
def test_a_dated_question_is_an_invitation_a_pledge_can_answer_not_a_call(text):
    row = flags([text]).row(0, named=True)
    assert row["dated_invitation"] and not row["call_to_action"], row


@pytest.mark.parametrize("text", [
    "are you going to the game?",  # a question, but no date and no place
    "anyone else going to DC for the parade next month?",  # a place, no date: chatter
    "alguém vai pra Brasília ver a posse?",
    "January 5 at the Ellipse was cold",  # a date and a place, no logistics, no question
    "Rooms for Thursday at the group rate, book now",  # logistics and a day, no place
    "quem vai ganhar o jogo?",
])
def test_a_question_or_a_date_alone_is_no_call(text):
    assert not flags([text])["call_to_action"][0], text


@pytest.mark.parametrize("text", ["I'll be there 🇺🇸", "Count me in", "Estarei lá 🇧🇷", "Conta comigo",
                                  "Tô dentro", "Cuenten conmigo", "Ahí estaré"])
def test_a_pledge_is_read_in_each_language_and_is_no_call_alone(text):
    row = flags([text]).row(0, named=True)
    assert row["pledge"] and not row["call_to_action"], row
    assert any(m for m in row["matched"]), row  # shown to the analyst as written


def _thread(texts: list[tuple[str, str, str, str]]) -> pl.DataFrame:
    """(cluster, id, thread, text) rows with their flags."""
    frame = pl.DataFrame(texts, schema=["cluster_id", "id", "thread", "text"], orient="row")
    signals = flags(frame["text"].to_list()).drop("id")
    return pl.concat([frame, signals], how="horizontal")


def test_a_pledge_answers_a_dated_invitation_of_its_own_cluster():
    rows = _thread([
        ("c1", "p1", "p1", "RSVP for the wedding January 5, bring the cousins."),  # no call by its words
        ("c1", "r1", "p1", "Count me in"),
        ("c1", "p2", "p2", "RSVP for the wedding, bring the cousins."),  # no date: nothing to answer
        ("c1", "r2", "p2", "I'll be there"),
        ("c2", "p1", "p1", "RSVP for the wedding January 5, bring the cousins."),  # the same post, unanswered here
        ("c3", "p3", "p3", "RSVP for the wedding January 5, bring the cousins."),
        ("c3", "p4", "p4", "I'll be there"),  # a pledge on its own post answers nothing
    ])
    assert not rows.filter(pl.col("id") == "p1")["call_to_action"].any()
    marked = answered_calls(rows, "cluster_id")
    called = marked.filter(pl.col("call_to_action")).select("cluster_id", "id").rows()
    assert called == [("c1", "p1")]
    assert marked.filter(pl.col("answered_call")).select("cluster_id", "id").rows() == [("c1", "p1")]
    summary = summarize_by(rows, "cluster_id").sort("cluster_id")
    assert summary["answered_calls"].to_list() == [1, 0, 0]
    assert summary["call_to_action_share"][0] == pytest.approx(1 / 4)


def test_fans_pledging_to_a_dated_tour_post_make_an_answered_call_like_any_other():
    """The look-alike: the signal fires (a fan's pledge answers a dated invitation); what keeps
    a fandom unflagged is the score, where a call without a narrative counts half."""
    rows = _thread([
        ("fans", "p1", "p1", "who's coming to Los Angeles on the 14th?? 💜"),
        ("fans", "r1", "p1", "I'll be there!! 💜"),
        ("fans", "r2", "p1", "QUEEN 😭💜"),
    ])
    summary = summarize_by(rows, "cluster_id")
    assert summary["answered_calls"][0] == 1 and summary["code_word_share"][0] == 0
    assert summary["delegitimization_share"][0] == 0 and summary["escalation_share"][0] == 0
