"""Learned code words (Monroe et al. 2008's log-odds with an informative Dirichlet prior) and promoting them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from rallypoint.cli import main
from rallypoint.detectors import promoted
from rallypoint.detectors.terms import learn_terms, ngrams, term_hits
from rallypoint.lake import Lake

T = datetime(2023, 1, 5, tzinfo=UTC)
ORDINARY = ["the weather is nice and the coffee is good", "we went to the market with the kids",
            "работа снова до вечера и потом домой", "the game last night was great for the team",
            "и снова дождь весь день на улице", "reading a good book about the old days"]


def signals(rows: list[tuple[int, str, str, bool]]) -> pl.DataFrame:
    """(cluster, account, text, structural call) rows as the pipeline's per-text signals."""
    return pl.DataFrame(
        [{"cluster_id": c, "id": f"t{i}", "account_id": a, "timestamp": T, "text": text, "thread": f"t{i}",
          "structural_call": call} for i, (c, a, text, call) in enumerate(rows)],
        schema_overrides={"timestamp": pl.Datetime("us", "UTC")})


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(0)
    rows = []
    # cluster 1 teaches: Russian-language calls behind an invented code, with ordinary words around it
    for i in range(40):
        rows.append((1, f"a{i % 8}", f"рыбалка у озера {i % 3 + 5} января, сбор у моста, места в автобусе "
                                     f"{ORDINARY[i % 6]}", True))
    # cluster 2 uses the code once in a while; cluster 3 never
    for i in range(10):
        rows.append((2, f"b{i}", "кто едет на рыбалка у озера? " + ORDINARY[i % 6] if i < 4 else ORDINARY[i % 6], False))
        rows.append((3, f"c{i}", ORDINARY[(i + 2) % 6], False))
    frame = signals(rows)
    background = pl.DataFrame({"id": [f"bg{i}" for i in range(3000)],
                               "text": [ORDINARY[int(rng.integers(0, 6))] for _ in range(3000)]})
    background = pl.concat([background, frame.select("id", "text")])
    langs = frame.select("id", lang=pl.lit("ru"))
    learned = learn_terms(frame, [1], background, langs)
    return frame, learned


def test_the_code_is_learned_in_a_language_without_a_lexicon_and_function_words_are_not(world):
    _, learned = world
    terms = set(learned["term"])
    assert {"рыбалка", "озера", "рыбалка озера"} & terms
    assert "рыбалка" in terms
    assert not terms & {"the", "and", "снова", "the weather", "coffee"}  # everyone's words
    assert not any(ch.isdigit() for t in terms for ch in t)  # dates are signals of their own
    assert (learned["language"] == "ru").all() and (learned["cluster_id"] == 1).all()
    assert (learned["statistic"] >= 3.29).all()


def test_other_clusters_using_a_learned_term_are_found_and_the_teacher_is_not(world):
    frame, learned = world
    hits = term_hits(frame, learned)
    assert set(hits["cluster_id"]) == {2}
    assert hits.height == 4 and (hits["teacher"] == 1).all()


def test_a_term_one_account_repeats_is_not_learned():
    rows = [(1, "solo", f"zorblat tonight {i}", True) for i in range(30)]
    rows += [(1, f"x{i}", "meeting at the plaza", True) for i in range(5)]
    frame = signals(rows)
    background = pl.DataFrame({"id": [f"b{i}" for i in range(500)], "text": ["an ordinary day"] * 500})
    learned = learn_terms(frame, [1], pl.concat([background, frame.select("id", "text")]))
    assert "zorblat" not in set(learned["term"])


def test_ngrams_skip_links_mentions_digits_and_short_edge_words():
    grams = set(ngrams(pl.DataFrame({"text": ["Meet @bob at https://x.io/a the fishing trip 6am"]}), [])["term"])
    assert "fishing trip" in grams and "meet" in grams
    assert not {"bob", "6am", "x.io", "at the", "the fishing"} & grams


def test_lexicon_add_promotes_a_term_versioned_and_refuses_bad_input(tmp_path):
    lake = Lake(tmp_path / "lake").ensure()
    runner = CliRunner()
    first = runner.invoke(main, ["lexicon", "add", "рыбалка", "--kind", "code_word", "--lang", "ru",
                                 "--lake", str(lake.root)])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, ["lexicon", "add", "рыбалка", "--kind", "code_word", "--lake", str(lake.root)])
    assert "already there" in again.output
    second = runner.invoke(main, ["lexicon", "add", "сбор у моста", "--kind", "invitation", "--lake", str(lake.root)])
    assert second.exit_code == 0
    state = promoted.version(lake)
    assert state["version"] == 2 and state["terms"] == {"code_word": ["рыбалка"], "invitation": ["сбор у моста"]}
    history = [json.loads(line) for line in (lake.root / "lexicon" / "history.jsonl").read_text().splitlines()]
    assert [h["term"] for h in history] == ["рыбалка", "сбор у моста"] and history[0]["lang"] == "ru"
    for bad in (["x", "--kind", "weapons"], ["a(b", "--kind", "code_word"], ["", "--kind", "code_word"]):
        result = runner.invoke(main, ["lexicon", "add", *bad, "--lake", str(lake.root)])
        assert result.exit_code == 2 and result.output.startswith("error: ") and "Traceback" not in result.output
    assert promoted.version(lake)["version"] == 2


def test_a_promoted_code_word_is_matched_by_the_next_run_and_recorded_in_run_json(tmp_path):
    from test_detect_small import small_lake

    from rallypoint.detectors.pipeline import detect_run

    lake = small_lake(tmp_path / "lake")
    # a phrase of the ring's calls: the organic posts' words ("lovely sunset") reach no cluster's
    # pushed texts, as no cluster met on one of them more than once
    promoted.add_term(lake, "bring your gear", "code_word")
    result = detect_run(lake.root, show_progress=False)
    assert lake.read_run_json(result.run_id)["lexicon"]["terms"] == {"code_word": ["bring your gear"]}
    evidence = pl.from_arrow(lake.read_run_table(result.run_id, "evidence"))
    words = evidence.filter(pl.col("kind") == "code_word")
    assert words.height > 0 and all(m.lower() == "bring your gear" for ms in words["matched"] for m in ms)


def test_the_words_the_lexicons_read_are_not_learned():
    """"Quem vai na festa da Selma? Ônibus saindo às 7h" answered "conta comigo" is a call:
    "festa" may be learned; "quem", "ônibus" and "conta comigo" are the lexicons' own words,
    which every Portuguese speaker writes (a food bank asks "quem vai? o ônibus sai às 7h")."""
    rows = [(1, f"a{i % 6}", f"Quem vai na festa {['azul', 'verde', 'rosa'][i % 3]} amanhã? Ônibus saindo cedo. "
                             "Conta comigo", True) for i in range(30)]
    frame = signals(rows)
    background = pl.DataFrame({"id": [f"b{i}" for i in range(2000)],
                               "text": ["um dia comum no trabalho", "quem sabe amanhã chove"] * 1000})
    learned = set(learn_terms(frame, [1], pl.concat([background, frame.select("id", "text")]))["term"])
    assert "festa" in learned
    assert not learned & {"quem", "conta", "comigo", "conta comigo", "ônibus", "ônibus saindo"}


def test_the_date_words_are_not_learned():
    """"Neste domingo, 8 de janeiro" is the date grammar's to read: learned from a campaign, the
    month and "neste" made a parish's "cestas neste sábado ... mutirão 6 de janeiro" a code."""
    rows = [(1, f"a{i % 6}", f"Churrasco da Selma neste domingo, {i % 3 + 6} de janeiro, todos na praça", True)
            for i in range(30)]
    frame = signals(rows)
    background = pl.DataFrame({"id": [f"b{i}" for i in range(2000)],
                               "text": ["um dia comum no trabalho", "quem sabe amanhã chove"] * 1000})
    learned = set(learn_terms(frame, [1], pl.concat([background, frame.select("id", "text")]))["term"])
    assert {"churrasco", "selma", "churrasco da selma"} <= learned
    assert not learned & {"neste", "janeiro", "domingo", "neste domingo"}
