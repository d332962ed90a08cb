"""Hostile input: every reader and the validator judge each record alone.

A fixture corpus of every malformed value the hostile-user probe found (issue 22), each
between good records in its own format, and hypothesis fuzzing of every reader and of
``canonicalize`` with random mutations of valid records. The rule checked everywhere: no
exception, every bad record rejected with a reason, every good record landed.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rallypoint.ingest import read_file
from rallypoint.ingest.pipeline import ingest_sources
from rallypoint.ingest.validate import RecordRules, canonicalize
from rallypoint.schema import RECORD_SCHEMA

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
DEEP = "[" * 100_000 + "]" * 100_000


def canonical(i: int, **changes) -> dict:
    record = {"id": f"g{i}", "platform": "x", "account_id": f"a{i % 7}", "timestamp": f"2023-01-0{1 + i % 8}T10:00:00Z",
              "action": "post", "text": f"post {i}", "urls": [f"https://news.example/{i}"], "hashtags": ["rally"],
              "followers": 10 + i}
    record.update(changes)
    return record


def x_v1(i: int) -> dict:
    return {"created_at": "Wed Oct 10 20:19:24 +0000 2018", "id_str": f"{100 + i}", "text": "meet #here",
            "entities": {"hashtags": [{"text": "here"}], "urls": [], "user_mentions": []},
            "user": {"id_str": f"{6 + i % 3}", "screen_name": f"u{i}", "followers_count": 5, "verified": False}}


def x_v2(i: int) -> dict:
    return {"id": f"{200 + i}", "author_id": f"{7 + i % 3}", "created_at": "2023-01-02T10:00:00Z", "text": "t",
            "entities": {"urls": [{"expanded_url": "https://a.example/x"}], "hashtags": [{"tag": "go"}]},
            "referenced_tweets": [{"type": "retweeted", "id": "99"}] if i % 2 else None}


def telegram_message(i: int) -> dict:
    return {"id": i, "type": "message", "date_unixtime": str(1672650000 + i), "from": "c", "from_id": "channel5",
            "text": ["hi ", {"type": "link", "text": "https://a.example/"}, {"type": "hashtag", "text": "#go"}]}


def write_jsonl(path: Path, items: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in items) + "\n")
    return path


def write_telegram(path: Path, messages: list) -> Path:
    path.write_text(json.dumps({"name": "c", "type": "public_channel", "id": 5, "messages": messages}))
    return path


CSV_FIELDS = ["id", "platform", "account_id", "timestamp", "action", "text", "urls", "followers"]


def write_csv(path: Path, rows: list[dict], fields=CSV_FIELDS) -> Path:
    buffer = io.StringIO()
    # CRLF: a bare CR or LF inside a value is then quoted (a real exporter's CSV)
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "|".join(v) if isinstance(v, list) else v for k, v in row.items()})
    path.write_bytes(buffer.getvalue().encode())
    return path


def assert_judged_alone(path: Path, good_ids: set[str], bad: int, reason: str | None = None, fmt: str = "auto",
                        rules: RecordRules | None = None) -> list[dict]:
    """The good records land, exactly ``bad`` are rejected (with ``reason`` when given)."""
    table, rejected = read_file(path, fmt, rules=rules)
    rows = rejected.to_pylist()
    assert good_ids <= set(table["id"].to_pylist())
    assert len(rows) == bad, rows
    assert all(r["reason"] for r in rows)
    if reason is not None:
        assert {r["reason"] for r in rows} == {reason}
    return rows


# --- the corpus: every case of the issue, one bad record among good ones ---------------------------
JSONL_CASES = {
    "urls is an object": (canonical(99, urls={"u": "x"}), "wrong type for urls"),
    "hashtags hold objects": (canonical(99, hashtags=[{"t": "x"}]), "wrong type for hashtags"),
    "followers 1e30": (json.dumps(canonical(99)).replace('"followers": 109', '"followers": 1e30'),
                       "followers is not an integer"),
    "a field nested 100,000 levels": (json.dumps(canonical(99))[:-1] + f', "deep": {DEEP}}}', "nested too deeply"),
    "timestamp 1e15": (canonical(99, timestamp=1e15), "timestamp outside the plausible range"),
    "ISO year 3000": (canonical(99, timestamp="3000-01-01T00:00:00Z"), "timestamp outside the plausible range"),
    "epoch 253402300800": (canonical(99, timestamp=253402300800), "timestamp outside the plausible range"),
    "epoch 0": (canonical(99, timestamp=0), "timestamp outside the plausible range"),
    "a zone-less time": (canonical(99, timestamp="2023-01-02 10:00:00"), "timestamp without a time zone"),
    "NUL inside the id": (canonical(99, id="ab\u0000cd"), "control character in id"),
    "true as an id": (canonical(99, id=True), "wrong type for id"),
    "1.5 as an id": (canonical(99, id=1.5), "wrong type for id"),
    "null account": (canonical(99, account_id=None), "missing required field: account_id"),
    "text is an object": (canonical(99, text={"a": 1}), "wrong type for text"),
    "a list, not an object": ("[1, 2, 3]", "not a JSON object"),
    "a number, not an object": ("42", "not a JSON object"),
    "broken JSON": ('{"id": "x", ', "not valid JSON"),
    "account_created_at 1e15": (canonical(99, account_created_at=1e15), "account_created_at outside the plausible range"),
}


@pytest.mark.parametrize("position", ["first", "middle"])
@pytest.mark.parametrize("case", sorted(JSONL_CASES))
def test_jsonl_corpus_rejects_the_bad_record_alone(tmp_path, case, position):
    bad, reason = JSONL_CASES[case]
    good = [canonical(i) for i in range(6)]
    items = [bad, *good] if position == "first" else [*good[:3], bad, *good[3:]]
    path = write_jsonl(tmp_path / "data.jsonl", items)
    rows = assert_judged_alone(path, {g["id"] for g in good}, 1, reason, fmt="jsonl")
    assert rows[0]["line"] == (1 if position == "first" else 4)


@pytest.mark.parametrize("field", ["high_profile", "extra", "hashtags"])
def test_a_list_starting_with_null_is_judged_alone(tmp_path, field):
    """Arrow's JSON reader builds an invalid list column for [null, "0"]: the block is read line by line."""
    records = [canonical(i) for i in range(6)]
    records[0][field] = [None, "0"]
    table, rejected = read_file(write_jsonl(tmp_path / "data.jsonl", records), "jsonl")
    assert table.num_rows + rejected.num_rows == 6 and {f"g{i}" for i in range(1, 6)} <= set(table["id"].to_pylist())


def test_a_zone_less_time_follows_the_timezone_given(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", [canonical(1, timestamp="2023-01-02 10:00:00"), canonical(2)])
    table, rejected = read_file(path, rules=RecordRules(timezone="America/Sao_Paulo"))
    assert rejected.num_rows == 0
    assert table["timestamp"].to_pylist()[0] == datetime(2023, 1, 2, 13, tzinfo=UTC)


def test_time_bounds_are_configurable(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", [canonical(1, timestamp=0), canonical(2)])
    table, rejected = read_file(path, rules=RecordRules(earliest=datetime(1960, 1, 1, tzinfo=UTC)))
    assert rejected.num_rows == 0 and table.num_rows == 2


def test_telegram_entity_with_null_text_rejects_that_message(tmp_path):
    messages = [telegram_message(i) for i in range(1, 6)]
    messages[2]["text"][1]["text"] = None
    path = write_telegram(tmp_path / "result.json", messages)
    rows = assert_judged_alone(path, {f"5/{i}" for i in (1, 2, 4, 5)}, 1, "wrong type for a text entity's text")
    assert rows[0]["line"] == 3


def test_telegram_message_nested_too_deeply_is_rejected_alone(tmp_path):
    messages = [telegram_message(i) for i in range(1, 4)]
    text = json.dumps({"name": "c", "type": "public_channel", "id": 5, "messages": messages})
    text = text.replace('"from": "c"', f'"from": "c", "deep": {DEEP}', 1)
    path = tmp_path / "result.json"
    path.write_text(text)
    assert_judged_alone(path, {"5/2", "5/3"}, 1, "nested too deeply")


def test_x_v1_user_that_is_not_an_object_rejects_that_status(tmp_path):
    statuses = [x_v1(i) for i in range(5)]
    statuses[1]["user"] = "notadict"
    path = write_jsonl(tmp_path / "x.jsonl", statuses)
    assert_judged_alone(path, {"100", "102", "103", "104"}, 1, "wrong type for user")


def test_x_v2_tweet_with_wrong_shapes_is_rejected_alone(tmp_path):
    tweets = [x_v2(i) for i in range(5)]
    tweets[2]["entities"] = {"urls": "nope", "hashtags": [1, 2]}
    tweets[3]["referenced_tweets"] = "x"
    path = write_jsonl(tmp_path / "x.jsonl", tweets)
    rows = assert_judged_alone(path, {"200", "201", "204"}, 2)
    assert [r["reason"] for r in rows] == ["wrong type for entities.urls", "wrong type for referenced_tweets"]


def test_x_v2_page_with_a_bad_tweet_keeps_the_others(tmp_path):
    page = {"data": [x_v2(i) for i in range(4)], "includes": {"users": [{"id": "7", "username": "u"}]}}
    page["data"][1]["entities"] = 5
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))
    assert_judged_alone(path, {"200", "202", "203"}, 1, "wrong type for entities")


CSV_CASES = {
    "followers 1e30": ({"followers": "1e30"}, "followers is not an integer"),
    "followers beyond int64": ({"followers": "99999999999999999999"}, "followers is not an integer"),
    "ISO year 3000": ({"timestamp": "3000-01-01T00:00:00Z"}, "timestamp outside the plausible range"),
    "epoch 1e15": ({"timestamp": "1000000000000000"}, "timestamp outside the plausible range"),
    "zone-less": ({"timestamp": "2023-01-02 10:00:00"}, "timestamp without a time zone"),
    "control character": ({"account_id": "a\x01b"}, "control character in account_id"),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_csv_corpus_rejects_the_bad_row_alone_on_its_physical_line(tmp_path, case):
    changes, reason = CSV_CASES[case]
    rows = [canonical(i) for i in range(5)]
    rows[1]["text"] = "two\nlines"  # a quoted value over two lines: later rows' lines shift
    rows.insert(3, canonical(99, **changes))
    path = write_csv(tmp_path / "data.csv", rows)
    rejected = assert_judged_alone(path, {f"g{i}" for i in range(5)}, 1, reason)
    assert rejected[0]["line"] == 6  # header 1, g0 2, g1 3-4, g2 5, the bad row 6


def test_parquet_with_implausible_values_rejects_those_rows(tmp_path):
    table = pa.table({
        "id": [f"g{i}" for i in range(4)], "platform": ["x"] * 4, "account_id": ["a"] * 4, "action": ["post"] * 4,
        "timestamp": pa.array([1672650000, 10**15, 1672650002, 1672650003], pa.int64()),
        "followers": pa.array([1.0, 2.0, 1e30, 4.0]),
    })
    pq.write_table(table, tmp_path / "data.parquet")
    rows = assert_judged_alone(tmp_path / "data.parquet", {"g0", "g3"}, 2)
    assert sorted(r["reason"] for r in rows) == ["followers is not an integer", "timestamp outside the plausible range"]


def test_parquet_zone_less_timestamps_are_no_silent_utc(tmp_path):
    table = pa.table({"id": ["g0"], "platform": ["x"], "account_id": ["a"], "action": ["post"],
                      "timestamp": pa.array([datetime(2023, 1, 2, 10)], pa.timestamp("us"))})
    pq.write_table(table, tmp_path / "data.parquet")
    assert_judged_alone(tmp_path / "data.parquet", set(), 1, "timestamp without a time zone")
    got, _ = read_file(tmp_path / "data.parquet", rules=RecordRules(timezone="Europe/Berlin"))
    assert got["timestamp"].to_pylist() == [datetime(2023, 1, 2, 9, tzinfo=UTC)]


def test_the_whole_corpus_in_one_folder_ingests_without_a_traceback(tmp_path):
    """Every case at once through the real pipeline: the good land, each bad one is rejected."""
    folder = tmp_path / "in"
    folder.mkdir()
    good = [canonical(i) for i in range(10)]
    lines = list(good)
    for n, (bad, _) in enumerate(JSONL_CASES.values()):
        lines.insert(1 + 2 * n, bad)
    write_jsonl(folder / "canonical.jsonl", lines)
    statuses = [x_v1(i) for i in range(3)]
    statuses[1]["user"] = "notadict"
    write_jsonl(folder / "x.jsonl", statuses)
    messages = [telegram_message(i) for i in range(1, 4)]
    messages[0]["text"][1]["text"] = None
    write_telegram(folder / "result.json", messages)
    summary = ingest_sources([folder], tmp_path / "lake", show_progress=False)
    assert summary.rejected == len(JSONL_CASES) + 2
    assert summary.written == len(good) + 2 + 2
    assert "malformed value" not in summary.rejected_by_reason


# --- fuzzing --------------------------------------------------------------------------------------
json_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=3)
                           | st.dictionaries(st.text(max_size=4), kids, max_size=3), max_leaves=8)
FIELDS = [*RECORD_SCHEMA.names, "extra", "other"]


@st.composite
def mutation(draw, fields=FIELDS):
    """(field, value) to set, or (field, None-marker) to delete."""
    return draw(st.sampled_from(fields)), draw(st.one_of(json_values, st.just(_DELETE)))


_DELETE = object()


def mutate(record: dict, field: str, value) -> dict:
    record = json.loads(json.dumps(record))
    if value is _DELETE:
        record.pop(field, None)
    else:
        record[field] = value
    return record


def judged(path: Path, n: int, untouched: set[str], fmt: str = "auto", key="id"):
    """read_file takes every record (landed or rejected with a reason) and lands the untouched ones."""
    table, rejected = read_file(path, fmt)
    assert table.num_rows + rejected.num_rows == n
    assert all(rejected["reason"].to_pylist())
    assert untouched <= set(table[key].to_pylist())


@FUZZ
@given(st.integers(0, 5), mutation())
def test_fuzz_jsonl(tmp_path, which, change):
    records = [canonical(i) for i in range(6)]
    records[which] = mutate(records[which], *change)
    path = write_jsonl(tmp_path / "fuzz.jsonl", records)
    judged(path, 6, {f"g{i}" for i in range(6) if i != which}, "jsonl")


@FUZZ
@given(st.integers(0, 5), st.sampled_from(CSV_FIELDS), st.text(max_size=30))
def test_fuzz_csv(tmp_path, which, field, value):
    rows = [canonical(i) for i in range(6)]
    rows[which][field] = value
    path = write_csv(tmp_path / "fuzz.csv", rows)
    judged(path, 6, {f"g{i}" for i in range(6) if i != which}, "csv")


@st.composite
def nested_mutation(draw, builder):
    """A path into a platform item (top-level or one level down) and a value for it."""
    item = builder(0)
    top = draw(st.sampled_from(sorted(item)))
    inner = sorted(item[top]) if isinstance(item[top], dict) and item[top] else []
    sub = draw(st.sampled_from([None, *inner]))
    return top, sub, draw(json_values)


def set_path(item: dict, top: str, sub: str | None, value) -> dict:
    item = json.loads(json.dumps(item))
    if sub is None or not isinstance(item.get(top), dict):
        item[top] = value
    else:
        item[top][sub] = value
    return item


@FUZZ
@given(st.integers(0, 4), nested_mutation(x_v1))
def test_fuzz_x_v1(tmp_path, which, change):
    statuses = [x_v1(i) for i in range(5)]
    statuses[which] = set_path(statuses[which], *change)
    path = write_jsonl(tmp_path / "x.jsonl", statuses)
    judged(path, 5, {f"{100 + i}" for i in range(5) if i != which}, "x-v1")


@FUZZ
@given(st.integers(0, 4), nested_mutation(x_v2))
def test_fuzz_x_v2(tmp_path, which, change):
    tweets = [x_v2(i) for i in range(5)]
    tweets[which] = set_path(tweets[which], *change)
    if change[0] in ("data", "includes"):  # the item would become a page: not this test's subject
        return
    path = write_jsonl(tmp_path / "x.jsonl", tweets)
    judged(path, 5, {f"{200 + i}" for i in range(5) if i != which}, "x-v2")


@FUZZ
@given(st.integers(0, 4), nested_mutation(telegram_message))
def test_fuzz_telegram(tmp_path, which, change):
    messages = [telegram_message(i) for i in range(1, 6)]
    messages[which] = set_path(messages[which], *change)
    if messages[which].get("type", "message") != "message":
        return  # a service message is skipped, not a record
    path = write_telegram(tmp_path / "result.json", messages)
    table, rejected = read_file(path, "telegram")
    assert table.num_rows + rejected.num_rows == 5
    assert all(rejected["reason"].to_pylist())
    assert {f"5/{i + 1}" for i in range(5) if i != which} <= set(table["id"].to_pylist())


CROWDTANGLE_FIELDS = ["URL", "Facebook Id", "Post Created", "Final Link", "Message", "Followers at Posting"]


@FUZZ
@given(st.integers(0, 4), st.sampled_from(CROWDTANGLE_FIELDS), st.text(max_size=30))
def test_fuzz_crowdtangle(tmp_path, which, field, value):
    rows = [{"URL": f"https://www.facebook.com/p/{i}", "Facebook Id": "100", "Post Created": "2021-01-05 18:23:11 EST",
             "Final Link": "https://a.example/", "Message": "m", "Followers at Posting": "5"} for i in range(5)]
    rows[which][field] = value
    path = write_csv(tmp_path / "ct.csv", rows, CROWDTANGLE_FIELDS)
    judged(path, 5, {f"https://www.facebook.com/p/{i}" for i in range(5) if i != which}, "crowdtangle")


COORTWEET_FIELDS = ["object_id", "account_id", "content_id", "timestamp_share"]


@FUZZ
@given(st.integers(0, 4), st.sampled_from(COORTWEET_FIELDS), st.text(max_size=30))
def test_fuzz_coortweet(tmp_path, which, field, value):
    rows = [{"object_id": f"o{i % 2}", "account_id": f"a{i}", "content_id": f"c{i}",
             "timestamp_share": str(1672650000 + i)} for i in range(5)]
    rows[which][field] = value
    path = write_csv(tmp_path / "ct.csv", rows, COORTWEET_FIELDS)
    judged(path, 5, {f"c{i}" for i in range(5) if i != which}, "coortweet")


arrow_columns = st.sampled_from([
    pa.int64(), pa.float64(), pa.bool_(), pa.string(), pa.list_(pa.string()), pa.list_(pa.int64()),
    pa.struct([("u", pa.string())]), pa.timestamp("s"), pa.timestamp("us", tz="UTC"), pa.null(),
])


def random_column(rng: np.random.Generator, typ: pa.DataType, n: int) -> pa.Array:
    if pa.types.is_integer(typ):
        return pa.array(rng.integers(-(2**62), 2**62, n), typ)
    if pa.types.is_floating(typ):
        return pa.array(rng.choice([0.5, 1e30, -1e300, math.inf, math.nan, 1672650000.0], n), typ)
    if pa.types.is_boolean(typ):
        return pa.array(rng.random(n) < 0.5)
    if pa.types.is_string(typ):
        return pa.array(rng.choice(["", "x", "2023-01-02T10:00:00Z", "\x00", "1e30", "a|b", "9" * 30], n))
    if pa.types.is_list(typ):
        return pa.array([[1, 2]] * n if pa.types.is_integer(typ.value_type) else [["a", ""]] * n, typ)
    if pa.types.is_struct(typ):
        return pa.array([{"u": "x"}] * n, typ)
    if pa.types.is_timestamp(typ):
        return pa.array(rng.integers(-(2**40), 2**40, n), pa.int64()).cast(typ)
    return pa.nulls(n)


@FUZZ
@given(st.dictionaries(st.sampled_from([*RECORD_SCHEMA.names, "extra", "zz"]), arrow_columns, min_size=1, max_size=8),
       st.integers(0, 2**32 - 1))
def test_fuzz_the_validator_with_any_arrow_columns(columns, seed):
    """canonicalize takes any columns a reader could produce: every row lands or is rejected with a reason."""
    rng = np.random.default_rng(seed)
    n = 7
    raw = pa.table({name: random_column(rng, typ, n) for name, typ in columns.items()})
    good, bad = canonicalize(raw, np.arange(1, n + 1), "fuzz")
    assert good.num_rows + bad.num_rows == n
    assert all(bad["reason"].to_pylist())
