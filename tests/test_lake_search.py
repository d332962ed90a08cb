"""Lake-wide search: each query form finds what it names, ignoring case and accents."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rallypoint.lake_search import SearchError, parse_query, search_lake, terminal_safe

RECORDS = [
    {"id": "1", "account_id": "a1", "account_name": "Maria_Sá", "timestamp": "2026-01-05T10:00:00Z",
     "action": "post", "text": "Todos a Brasília no domingo!", "hashtags": ["ForaJá"],
     "urls": ["https://www.vakinha.com.br/x?utm_source=y"], "mentions": ["@Joao"]},
    {"id": "2", "account_id": "a2", "account_name": "joao", "timestamp": "2026-01-05T11:00:00Z",
     "action": "post", "text": "brasilia weather today", "urls": ["https://pay.vakinha.com.br/abc"]},
    {"id": "3", "account_id": "a3", "account_name": "news", "timestamp": "2026-01-06T09:00:00Z",
     "action": "post", "text": "Unrelated story", "urls": ["https://notvakinha.com.br/z"], "hashtags": ["news"]},
    {"id": "4", "account_id": "a1", "account_name": "Maria_Sá", "timestamp": "2026-01-06T12:00:00Z",
     "action": "repost", "target_id": "3", "text": None},
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    from rallypoint.ingest.pipeline import ingest_sources

    root = tmp_path_factory.mktemp("search")
    source = root / "records.jsonl"
    source.write_text("\n".join(json.dumps({"platform": "x", **r}) for r in RECORDS) + "\n")
    ingest_sources([source], root / "lake", show_progress=False)
    return root / "lake"


def ids(result) -> set[str]:
    return set(result.records.column("id").to_pylist())


def test_words_ignore_case_and_accents(lake):
    assert ids(search_lake(lake, "Brasilia")) == {"1", "2"}
    assert ids(search_lake(lake, "BRASÍLIA")) == {"1", "2"}
    assert ids(search_lake(lake, "brasilia domingo")) == {"1"}, "every word must occur"


def test_hashtag_handle_domain_and_link(lake):
    assert ids(search_lake(lake, "#foraja")) == {"1"}
    assert ids(search_lake(lake, "@maria_sa")) == {"1", "4"}
    assert ids(search_lake(lake, "@joao")) == {"1", "2"}, "the account named joao and the record mentioning it"
    assert ids(search_lake(lake, "vakinha.com.br")) == {"1", "2"}, "subdomains count, look-alike domains do not"
    assert ids(search_lake(lake, "https://pay.vakinha.com.br/ab")) == {"2"}


def test_ids_match_exactly_and_accounts_are_counted(lake):
    result = search_lake(lake, "a1")
    assert ids(result) == {"1", "4"}
    assert result.accounts.to_pylist()[0]["hits"] == 2
    assert result.query.kind == "words"


def test_limit_keeps_the_newest_and_says_more_matched(lake):
    result = search_lake(lake, "vakinha.com.br", limit=1)
    assert ids(result) == {"2"} and result.truncated


def test_a_hostile_query_is_data_not_sql(lake):
    assert ids(search_lake(lake, "x' OR '1'='1")) == set()
    assert ids(search_lake(lake, "#x'); DROP TABLE t; --")) == set()


def test_an_empty_query_is_refused():
    with pytest.raises(SearchError):
        parse_query("   ")


def test_query_forms():
    assert parse_query("#Tag").kind == "hashtag"
    assert parse_query("@h").kind == "handle"
    assert parse_query("www.Example.org").needles == ("example.org",)
    assert parse_query("example.org/path").kind == "url"
    assert parse_query("two words").kind == "words"


def test_terminal_output_cannot_carry_control_sequences():
    assert terminal_safe("a\x1b]8;;http://x\x07b\n") == "a\\x1b]8;;http://x\\x07b\\n"


def test_the_cli_prints_hits_and_refuses_a_missing_lake(lake, tmp_path):
    done = subprocess.run([sys.executable, "-m", "rallypoint.cli", "search", "brasilia", "--lake", str(lake)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "2 records by 2 accounts" in done.stdout
    missing = subprocess.run([sys.executable, "-m", "rallypoint.cli", "search", "x", "--lake", str(tmp_path / "no")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
