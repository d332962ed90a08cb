"""Platform readers, on fixtures written by hand from each format's public documentation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rallypoint.ingest import read_file
from rallypoint.ingest.formats import sniff
from rallypoint.ingest.validate import RecordRules

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"


def rows_by_id(path, fmt="auto"):
    table, rejected = read_file(FIXTURES / path, fmt)
    return {r["id"]: r for r in table.to_pylist()}, rejected.to_pylist()


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("x_v2_page.json", "x-v2"), ("x_v2_tweets.jsonl", "x-v2"), ("x_v1.jsonl", "x-v1"),
     ("telegram_result.json", "telegram"), ("crowdtangle.csv", "crowdtangle"), ("mcl.csv", "crowdtangle"),
     ("canonical.jsonl", "jsonl"), ("canonical.csv", "csv")],
)
def test_sniffing_names_each_fixture_format(name, fmt):
    assert sniff(FIXTURES / name) == fmt


def test_x_v2_page_maps_references_entities_and_includes():
    rows, rejected = rows_by_id("x_v2_page.json")
    assert rejected == []
    post = rows["1346889436626259968"]
    assert post["action"] == "post"
    assert post["timestamp"] == datetime(2021, 1, 6, 17, 0, 5, tzinfo=UTC)
    assert post["urls"] == ["https://example.com/rally?a=1&b=2"]  # expanded_url, normalized
    assert post["urls_original"] == ["https://Example.com/rally?utm_source=tw&b=2&a=1#top"]
    assert post["hashtags"] == ["stopthesteal"] and post["mentions"] == ["rallyorg"]
    assert post["account_name"] == "patriot" and post["followers"] == 120000 and post["high_profile"] is True
    assert '"conversation_id"' in post["extra"]
    kinds = {r["id"][-1]: (r["action"], r["target_id"], r["target_account_id"]) for r in rows.values()}
    assert kinds["1"] == ("repost", "1346889436626259968", "2244994945")
    assert kinds["2"] == ("reply", "1346889436626259968", "2244994945")
    assert kinds["3"] == ("quote", "1346889436626259968", "2244994945")


def test_x_v2_tweet_per_line_rejects_the_broken_line_only():
    rows, rejected = rows_by_id("x_v2_tweets.jsonl")
    assert rows["2002"]["action"] == "repost" and rows["2002"]["target_id"] == "2001"
    assert [(r["line"], r["reason"]) for r in rejected] == [(3, "not valid JSON")]


def test_x_v1_statuses():
    rows, rejected = rows_by_id("x_v1.jsonl")
    post = rows["1050118621198921728"]
    assert post["timestamp"] == datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)
    assert post["urls"] == ["http://news.example.org/a?id=5"]
    assert post["account_created_at"] == datetime(2007, 5, 23, 6, 1, 13, tzinfo=UTC)
    assert rows["1050118621198921729"]["action"] == "repost"
    assert rows["1050118621198921729"]["target_account_id"] == "6253282"
    assert rows["1050118621198921730"]["action"] == "reply"
    quote = rows["1050118621198921731"]
    assert quote["action"] == "quote" and quote["text"].endswith("bring friends #Protest")
    assert quote["hashtags"] == ["protest"]  # from extended_tweet.entities
    assert [(r["line"], r["reason"]) for r in rejected] == [(5, "unparseable timestamp")]


def test_telegram_export_messages_forwards_and_replies():
    rows, rejected = rows_by_id("telegram_result.json")
    # message 5 has only the exporting computer's local `date`: no zone, so no guess
    assert [(r["line"], r["reason"]) for r in rejected] == [(5, "timestamp without a time zone")]
    assert len(rows) == 3  # the service message is not an action
    first = rows["1500000001/2"]
    assert first["timestamp"] == datetime(2023, 1, 7, 0, 0, tzinfo=UTC)  # from date_unixtime
    assert first["urls"] == ["https://caravana.example/rota", "https://maps.example/p/1"]
    assert first["hashtags"] == ["brasilia"] and first["mentions"] == ["organizador"]
    assert first["text"].startswith("Buses leave Sunday 8am for #Brasilia")
    assert first["channel_id"] == "1500000001" and '"photo"' in first["extra"]
    forward = rows["1500000001/3"]
    assert forward["action"] == "repost" and forward["target_account_id"] == "Movimento Verde Amarelo"
    assert forward["target_id"].startswith("fwd:Movimento Verde Amarelo:")
    assert rows["1500000001/4"]["action"] == "reply" and rows["1500000001/4"]["target_id"] == "1500000001/2"


def test_telegram_local_dates_follow_the_zone_given():
    table, rejected = read_file(FIXTURES / "telegram_result.json", rules=RecordRules(timezone="America/Sao_Paulo"))
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rejected.num_rows == 0 and len(rows) == 4
    assert rows["1500000001/5"]["timestamp"] == datetime(2023, 1, 7, 13, 6, tzinfo=UTC)  # 10:06 at UTC-3


def test_telegram_forwards_of_the_same_post_share_a_target(tmp_path):
    text = (FIXTURES / "telegram_result.json").read_text()
    other = tmp_path / "result.json"
    other.write_text(text.replace('"id": 1500000001', '"id": 1500000002'))
    mine, _ = rows_by_id("telegram_result.json")
    theirs, _ = read_file(other)
    theirs = {r["id"]: r for r in theirs.to_pylist()}
    assert theirs["1500000002/3"]["target_id"] == mine["1500000001/3"]["target_id"]


def test_crowdtangle_csv_maps_columns_and_zones():
    rows, rejected = rows_by_id("crowdtangle.csv")
    post = rows["https://www.facebook.com/rallynews/posts/4001"]
    assert post["platform"] == "facebook" and post["account_id"] == "100064"
    assert post["timestamp"] == datetime(2021, 1, 5, 23, 23, 11, tzinfo=UTC)  # EST is UTC-5
    assert post["urls"] == ["https://www.example.com/dc"]  # Final Link, tracking dropped
    assert post["followers"] == 5200 and '"Total Interactions":"120"' in post["extra"]
    gram = rows["https://www.instagram.com/p/Cabc123/"]
    assert gram["platform"] == "instagram" and gram["timestamp"] == datetime(2023, 1, 7, 12, tzinfo=UTC)
    assert [(r["line"], r["reason"]) for r in rejected] == [(5, "unparseable timestamp")]


def test_meta_content_library_csv():
    rows, rejected = rows_by_id("mcl.csv")
    assert rejected == []
    assert rows["881234567890"]["account_id"] == "55501"
    assert rows["881234567891"]["timestamp"] == datetime(2024, 3, 1, 10, 0, 30, tzinfo=UTC)
    assert rows["881234567891"]["urls"] == ["https://example.org/noon"]


def test_a_one_line_telegram_export_reads_like_the_pretty_printed_one(tmp_path):
    import json

    compact = tmp_path / "result.json"
    compact.write_text(json.dumps(json.loads((FIXTURES / "telegram_result.json").read_text())))
    assert read_file(compact)[0].equals(read_file(FIXTURES / "telegram_result.json")[0])


@pytest.mark.parametrize("name", ["telegram_result.json", "x_v2_page.json", "crowdtangle.csv", "x_v1.jsonl"])
@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_compressed_platform_exports_read_like_plain_ones(tmp_path, name, codec):
    import gzip

    import zstandard

    data = (FIXTURES / name).read_bytes()
    packed = gzip.compress(data) if codec == "gzip" else zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"{name}.{codec}"
    path.write_bytes(packed)
    plain, plain_rejected = read_file(FIXTURES / name)
    table, rejected = read_file(path)
    assert table.equals(plain)
    assert rejected["reason"].to_pylist() == plain_rejected["reason"].to_pylist()
