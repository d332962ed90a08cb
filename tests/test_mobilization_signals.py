"""What each text signal means, shown on hand-written sentences in English, Portuguese and Spanish.

Positives and negatives side by side: a call to a place and a date is a call to action; news
about a protest, fans going to a concert, or people denying fraud are not what they resemble.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pyarrow as pa
import pytest

from rallypoint.detectors.mobilization import (
    SIGNALS_SCHEMA,
    SignalInputError,
    detect_text_signals,
    load_lexicons,
    summarize_by,
    summarize_signals,
)
from rallypoint.errors import RallypointError
from rallypoint.schema import MOBILIZATION_STRUCT

LEX = load_lexicons()


def signals(texts: list[str], when: str = "2021-01-02T15:00:00+00:00", lang: str | None = None) -> list[dict]:
    table = pa.table(
        {
            "id": [f"t{i}" for i in range(len(texts))],
            "text": texts,
            "lang": [lang] * len(texts),
            "timestamp": pa.array([datetime.fromisoformat(when)] * len(texts), pa.timestamp("us", tz="UTC")),
        }
    )
    return detect_text_signals(table, LEX).to_pylist()


def one(text: str, **kwargs) -> dict:
    return signals([text], **kwargs)[0]


# --- calls to action -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Be there, will be wild! Join us at the Capitol on January 6.", "en"),
        ("Patriots: take to the streets this Saturday!", "en"),
        ("Come to the rally in DC, bring your friends", "en"),
        ("Todos à Praça dos Três Poderes no domingo!", "pt"),
        ("Venham para o ato na Esplanada dia 8", "pt"),
        ("Vamos todos às ruas, Brasil!", "pt"),
        ("Nos vemos en la Plaza de Mayo este sábado", "es"),
        ("Únete a la marcha al Zócalo mañana", "es"),
        ("¡Todos a las calles el 8 de enero!", "es"),
    ],
)
def test_calls_to_gather_are_calls_to_action(text, lang):
    assert one(text, lang=lang)["call_to_action"]


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # news reporting on a protest: a place and a day, but nobody is invited
        ("Protesters gathered at the Capitol on Saturday, police said.", "en"),
        ("Manifestantes invadiram a Praça dos Três Poderes neste domingo, segundo a polícia.", "pt"),
        ("Miles de personas marcharon ayer hacia la Plaza de Mayo, informó la policía.", "es"),
        # fans and friends: an invitation and a day, but no gathering and no listed place
        ("See you at the stadium this Saturday for the concert!", "en"),
        ("Nos vemos no show de sábado no estádio!", "pt"),
        ("Nos vemos mañana en el cine", "es"),
        # the national team call-up is a 'convocação' too
        ("Saiu a convocação da seleção para o jogo de amanhã", "pt"),
    ],
)
def test_reports_and_leisure_plans_are_not_calls_to_action(text, lang):
    assert not one(text, lang=lang)["call_to_action"]


def test_a_lawful_protest_announcement_calls_to_action_without_harm():
    got = one("Join us peacefully at the Texas State Capitol on 1/6. Permit approved, no weapons.", lang="en")
    assert got["call_to_action"] and got["peaceful"]
    assert not got["escalation"] and not got["delegitimization"]
    assert got["places"] == ["Texas State Capitol, Austin"]
    assert got["dates"] == ["2021-01-06"]


# --- logistics -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "Charter buses leave Ohio at 5am, seats left, DM me",
        "Carpool from Atlanta to DC, 3 seats available",
        "Need lodging? We have hotel rooms near the Mall",
        "Ônibus saindo de Curitiba, chave pix no perfil",
        "Caravana de Goiânia, hospedagem garantida, vaquinha no link",
        "Autobuses desde Rosario, colecta para el combustible",
        "Alojamiento gratis para los que vengan de provincia",
        "Help fund our trip: gofundme.com/f/patriots-to-dc",
    ],
)
def test_transport_lodging_and_money_are_logistics(text):
    assert one(text)["logistics"]


@pytest.mark.parametrize("text", ["I missed my bus this morning", "Took the bus to the concert"])
def test_one_bus_is_not_logistics(text):
    assert not one(text)["logistics"]


# --- escalation ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "Hang Mike Pence!",
        "We will storm the Capitol if they certify",
        "Come armed, lock and load",
        "Vamos invadir o Congresso e tomar o poder",
        "Quebrar tudo, levem suas armas",
        "Hay que tomar el Congreso a la fuerza",
        "Traigan sus armas, guerra civil",
    ],
)
def test_violence_weapons_and_force_are_escalation(text):
    assert one(text)["escalation"]


@pytest.mark.parametrize(
    "text",
    [
        "Leave your weapons at home, this is a peaceful march",
        "Storm warning for Saturday: heavy rain expected",
        "Let's hang out after the game",
        "Não vamos invadir nada, manifestação pacífica",
        "Nada de quebrar tudo, gente",
        "No vamos a invadir nada, marcha pacífica",
    ],
)
def test_negated_or_harmless_look_alikes_are_not_escalation(text):
    assert not one(text)["escalation"]


# --- delegitimization ----------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "The election was stolen. Stop the steal!",
        "Massive voter fraud in Georgia, rigged election",
        "Fraude nas urnas! Urnas fraudadas, eleição roubada",
        "Nos robaron la elección, fraude electoral",
        "Elección robada en todo el país",
    ],
)
def test_stolen_election_claims_are_delegitimization(text):
    assert one(text)["delegitimization"]


@pytest.mark.parametrize(
    "text",
    [
        "There is no evidence the election was stolen, officials said.",
        "Credit card fraud is on the rise this holiday season",
        "Não há provas de fraude nas urnas, diz o TSE",
        "No hay pruebas de fraude electoral, dijo el tribunal",
    ],
)
def test_denials_and_other_fraud_are_not_delegitimization(text):
    assert not one(text)["delegitimization"]


# --- code words ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["Festa da Selma dia 8!", "#FestaDaSelma vai bombar", "todos na festa-da-selma"])
def test_code_words_match_as_phrase_and_hashtag(text):
    got = one(text, lang="pt")
    assert got["code_word"]
    assert got["matched_code_word"]


def test_selma_alone_is_not_a_code_word():
    assert not one("A Selma fez aniversário ontem", lang="pt")["code_word"]


# --- places --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("Everyone to Capitol Hill", "US Capitol, Washington DC"),
        ("Todos a la Casa Blanca", "White House, Washington DC"),
        ("Acampamento em frente ao QG do Exército", "Quartel-General do Exército, Brasília"),
        ("Concentração no QG", "Quartel-General do Exército, Brasília"),
        ("Todos ao STF", "Supremo Tribunal Federal, Brasília"),
        ("Ato na praca dos tres poderes", "Praça dos Três Poderes, Brasília"),
        ("Rally at the Georgia State Capitol", "Georgia State Capitol, Atlanta"),
        ("march to D.C. now", "Washington DC"),
        ("Marcha al zocalo", "Zócalo, Ciudad de México"),
    ],
)
def test_gazetteer_aliases_give_the_canonical_place(text, place):
    assert one(text)["places"] == [place]


def test_acronyms_only_match_as_written():
    # 'dc' in lower case and 'qg' inside a word are not places
    assert one("I love dc comics and the qg lounge")["places"] == []


def test_a_state_capitol_is_not_the_us_capitol():
    assert one("Protest at the Michigan State Capitol")["places"] == ["Michigan State Capitol, Lansing"]


# --- output shape --------------------------------------------------------------------------

def test_rows_keep_order_and_ids_and_matched_phrases_are_as_written():
    got = signals(["nothing here", "Todos à PRAÇA DOS TRÊS PODERES!", None, "Join us at the Capitol"])
    assert [r["id"] for r in got] == ["t0", "t1", "t2", "t3"]
    assert "PRAÇA DOS TRÊS PODERES" in got[1]["matched"]
    assert got[1]["matched_call_to_action"] and "PRAÇA DOS TRÊS PODERES" in got[1]["matched_call_to_action"]
    assert got[2] == {**got[2], "call_to_action": False, "dates": [], "places": [], "matched": []}
    assert got[0]["matched"] == []


def test_each_row_of_a_batch_gets_what_it_gets_alone():
    # the rows nothing matched in are set aside and put back: no row may take another's signals
    texts = ["Join us at the Capitol on Jan 6", "lovely day", "", "Bus seats to DC, pix na chave",
             "lovely night", "Dead people voted", None, "Todos à Esplanada dia 8 às 14h", "ok"]
    batch = signals(texts)
    for i, text in enumerate(texts):
        assert {**batch[i], "id": "t0"} == signals([text])[0]


def test_output_has_the_documented_schema():
    table = detect_text_signals(pa.table({"id": ["1"], "text": ["Join us at the Capitol"]}), LEX)
    assert table.schema == SIGNALS_SCHEMA


def test_a_table_without_text_is_refused_in_one_sentence():
    with pytest.raises(SignalInputError, match="text") as caught:
        detect_text_signals(pa.table({"id": ["1"], "body": ["x"]}), LEX)
    assert isinstance(caught.value, RallypointError)


def test_urls_are_scanned_for_crowdfunding():
    table = pa.table({"id": ["1"], "text": ["help us get there"], "urls": [["https://www.gofundme.com/f/buses-to-dc"]]})
    assert detect_text_signals(table, LEX)["logistics"].to_pylist() == [True]


# --- summary -------------------------------------------------------------------------------

def test_summary_counts_shares_and_the_date_place_pairs_of_calls():
    got = signals(
        [
            "Join us at the Capitol on January 6!",
            "Be at the Capitol January 6, will be wild! Join us",
            "Stop the steal, the election was rigged",
            "Protesters were at the Capitol on January 6, police said",  # names them, calls no one
        ],
        when="2020-12-20T12:00:00+00:00",
        lang="en",
    )
    table = pa.Table.from_pylist(got, schema=SIGNALS_SCHEMA)
    summary = summarize_signals(table)
    assert summary["n_texts"] == 4
    assert summary["call_to_action_share"] == 0.5
    assert summary["delegitimization_share"] == 0.25
    assert summary["code_word_share"] == 0.25  # "will be wild"
    assert summary["dates"][0] == "2021-01-06"
    assert summary["places"] == ["US Capitol, Washington DC"]
    assert summary["top_date_places"] == [{"date": "2021-01-06", "place": "US Capitol, Washington DC", "count": 2}]
    # it fits the clusters table's struct
    assert pa.array([summary], MOBILIZATION_STRUCT).to_pylist() == [summary]


def test_summary_of_no_texts_is_empty_not_an_error():
    summary = summarize_signals(SIGNALS_SCHEMA.empty_table())
    assert summary["n_texts"] == 0 and summary["call_to_action_share"] == 0.0 and summary["top_date_places"] == []


def test_an_unknown_time_zone_or_a_text_timestamp_is_refused_in_one_sentence():
    table = pa.table({"id": ["1"], "text": ["amanhã"], "timestamp": pa.array([datetime(2023, 1, 7)], pa.timestamp("us"))})
    with pytest.raises(SignalInputError, match="time zone"):
        detect_text_signals(table, LEX, timezone="Mars/Olympus")
    with pytest.raises(SignalInputError, match="timestamp"):
        detect_text_signals(pa.table({"id": ["1"], "text": ["amanhã"], "timestamp": ["2023-01-07"]}), LEX)


def test_summaries_by_cluster_are_each_clusters_own_summary():
    texts = [
        "Join us at the Capitol on January 6!",
        "Be at the Capitol January 6, will be wild! Join us",
        "Stop the steal, the election was rigged",
        "Todos a Brasília dia 8, caravanas saindo de SP",
        "Protesters were at the Capitol on January 6, police said",
    ]
    got = signals(texts, when="2020-12-20T12:00:00+00:00", lang="en")
    frame = pl.from_arrow(pa.Table.from_pylist(got, schema=SIGNALS_SCHEMA))
    frame = frame.with_columns(cluster_id=pl.Series([7, 3, 7, 3, 7]), thread=pl.Series(["a", "b", "a", "c", "d"]))
    by_cluster = summarize_by(frame, "cluster_id")
    assert by_cluster["cluster_id"].to_list() == [7, 3]
    for row in by_cluster.iter_rows(named=True):
        own = summarize_signals(frame.filter(pl.col("cluster_id") == row["cluster_id"]))
        assert {k: row[k] for k in own} == own
    assert by_cluster.filter(pl.col("cluster_id") == 7)["n_threads"].item() == 2
