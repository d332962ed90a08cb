"""Canonical JSON Lines, CSV and Parquet: fast path, compression, and bad records."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rallypoint.errors import InputError
from rallypoint.ingest import formats, read_file
from rallypoint.ingest.formats import newlines_before, plan_parts
from rallypoint.ingest.pipeline import ingest_sources
from rallypoint.ingest.readers import reader
from rallypoint.ingest.validate import canonicalize
from rallypoint.lake import Lake
from rallypoint.schema import LAKE_SCHEMA

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
GOOD = {"id": "1", "platform": "x", "account_id": "a", "timestamp": "2021-01-06T17:00:00Z", "action": "post"}


def write_lines(path: Path, records) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_jsonl_fixture_keeps_unknown_fields_in_extra():
    table, rejected = read_file(FIXTURES / "canonical.jsonl")
    assert table.schema == LAKE_SCHEMA and rejected.num_rows == 0
    assert json.loads(table["extra"][0].as_py()) == {"campaign": "c1"}
    assert table["mentions"][0].as_py() == ["b2"]


@pytest.mark.parametrize("compress", ["gzip", "zstd", None])
def test_compressed_inputs_read_the_same_rows(tmp_path, compress):
    data = (FIXTURES / "canonical.jsonl").read_bytes()
    path = tmp_path / "in.jsonl"
    if compress == "gzip":
        path.write_bytes(gzip.compress(data))
    elif compress == "zstd":
        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    else:
        path.write_bytes(data)
    table, _ = read_file(path)
    assert table["id"].to_pylist() == ["p1", "r1", "r2"]


def test_parquet_and_csv_inputs(tmp_path):
    table, _ = read_file(FIXTURES / "canonical.jsonl")
    pq.write_table(table.drop(["urls_original", "extra"]), tmp_path / "in.parquet")
    again, _ = read_file(tmp_path / "in.parquet")
    assert again["id"].to_pylist() == table["id"].to_pylist()
    assert again["urls"].to_pylist() == table["urls"].to_pylist()
    csv_rows, _ = read_file(FIXTURES / "canonical.csv")
    assert csv_rows["hashtags"][0].as_py() == ["stopthesteal", "jan6"]
    assert csv_rows["high_profile"][0].as_py() is True


def test_every_kind_of_bad_record_is_rejected_with_its_line_and_reason(tmp_path):
    path = tmp_path / "bad.jsonl"
    lines = [
        GOOD,
        {**GOOD, "id": "2", "account_id": None},
        {**GOOD, "id": "3", "timestamp": "the day after"},
        {**GOOD, "id": "4", "action": "like"},
        {**GOOD, "id": "5", "action": "repost"},
        '{"id": "6", "platform": "x", broken',
        {**GOOD, "id": "7", "urls": {"not": "a list"}},
        {**GOOD, "id": "8", "timestamp": None},
        {**GOOD, "id": "9", "followers": "many"},
    ]
    write_lines(path, lines)
    with open(path, "ab") as fh:
        fh.write(b'{"id": "10", "platform": "x", "account_id": "\xff\xfe", "timestamp": 1, "action": "post"}\n')
    table, rejected = read_file(path)
    assert table["id"].to_pylist() == ["1"]
    got = {(r["line"], r["reason"]) for r in rejected.to_pylist()}
    assert got == {
        (2, "missing required field: account_id"), (3, "unparseable timestamp"), (4, "unknown action"),
        (5, "repost without target_id"), (6, "not valid JSON"), (7, "wrong type for urls"),
        (8, "missing required field: timestamp"), (9, "followers is not an integer"), (10, "not valid UTF-8"),
    }
    raw_of_6 = next(r["raw"] for r in rejected.to_pylist() if r["line"] == 6)
    assert raw_of_6 == '{"id": "6", "platform": "x", broken'


def test_csv_rows_with_bad_bytes_or_wrong_width_are_rejected_alone(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(
        b"id,platform,account_id,timestamp,action\n"
        b"1,x,a,1609952400,post\n"
        b"2,x,a,1609952400\n"
        b"3,x,\xff,1609952400,post\n"
        b"4,x,b,1609952400,post\n"
    )
    table, rejected = read_file(path)
    assert table["id"].to_pylist() == ["1", "4"]
    assert {(r["line"], r["reason"]) for r in rejected.to_pylist()} == {
        (3, "wrong number of columns"), (4, "not valid UTF-8")}


def test_empty_and_unknown_inputs_are_refused_in_one_sentence(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        read_file(empty)
    prose = tmp_path / "notes.txt"
    prose.write_text("just some words\n")
    with pytest.raises(InputError, match="not a known format"):
        read_file(prose)
    with pytest.raises(InputError, match="not a telegram file"):
        read_file(FIXTURES / "canonical.jsonl", "telegram")


def test_truncated_gzip_is_an_input_error(tmp_path):
    data = gzip.compress((FIXTURES / "canonical.jsonl").read_bytes() * 200)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_file(path)


def test_byte_range_parts_cover_every_line_once_with_true_line_numbers(tmp_path):
    records = [{**GOOD, "id": str(i)} if i % 13 else {**GOOD, "id": str(i), "action": "nope"} for i in range(1, 400)]
    path = write_lines(tmp_path / "many.jsonl", records)
    parts = plan_parts(path, "jsonl", part_bytes=2_000)
    assert len(parts) > 5
    # a part numbers its lines from its own start; newlines_before gives each its offset
    offsets = newlines_before(path, [part.start for part in parts])
    ids, bad_lines = [], []
    for part in parts:
        for block in reader("jsonl").read_blocks(part):
            good, bad = canonicalize(block.table, block.lines, str(path))
            ids += good["id"].to_pylist()
            bad_lines += [offsets[part.start] + line for line in bad["line"].to_pylist()]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 400) if i % 13]
    assert sorted(bad_lines) == [i for i in range(1, 400) if i % 13 == 0]


def test_an_ingest_of_a_file_cut_in_parts_names_each_rejected_line_in_the_whole_file(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "PART_BYTES", 2_000)
    records = [{**GOOD, "id": str(i)} if i % 13 else {**GOOD, "id": str(i), "action": "nope"} for i in range(1, 400)]
    records[200] = "{not json"
    path = write_lines(tmp_path / "many.jsonl", records)
    assert len(plan_parts(path, "jsonl")) > 5
    summary = ingest_sources([path], tmp_path / "lake", show_progress=False)
    rejected = pq.read_table(Lake(tmp_path / "lake").rejected_dir / summary.ingest_id).to_pylist()
    lines = {row["line"]: row["reason"] for row in rejected}
    assert lines == {**{i: "unknown action" for i in range(1, 400) if i % 13 == 0}, 201: "not valid JSON"}


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="|"), max_size=20)
_record = st.fixed_dictionaries(
    {
        "id": st.text("abcdef0123456789", min_size=1, max_size=12),
        "platform": st.sampled_from(["x", "telegram", "facebook"]),
        "account_id": st.text("abcdefghij0123", min_size=1, max_size=8),
        "timestamp": st.integers(0, 4_000_000_000),
        "action": st.sampled_from(["post", "repost", "reply", "quote", "reaction"]),
        "target_id": st.text("xyz789", min_size=1, max_size=6),
        "text": _text,
        "hashtags": st.lists(st.text("ABCdef", min_size=1, max_size=5), max_size=3),
    },
    optional={"followers": st.integers(0, 10**9), "misc": _text},
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_record, min_size=1, max_size=20))
def test_any_valid_records_survive_jsonl_csv_and_parquet_alike(tmp_path, records):
    path = write_lines(tmp_path / "p.jsonl", records)
    table, rejected = read_file(path)
    assert rejected.num_rows == 0 and table.num_rows == len(records)
    for got, want in zip(table.to_pylist(), records, strict=True):
        assert got["id"] == want["id"].strip() and got["action"] == want["action"]
        assert got["timestamp"] == datetime.fromtimestamp(want["timestamp"], UTC)
        assert got["text"] == (want["text"] if want["text"].strip() else None)
        assert got["hashtags"] == [h.lower() for h in want["hashtags"]]
        assert got["followers"] == want.get("followers")
    pq.write_table(pl.from_dicts(records, infer_schema_length=None).to_arrow(), tmp_path / "p.parquet")
    from_parquet, _ = read_file(tmp_path / "p.parquet")
    assert from_parquet.drop(["extra"]).equals(table.drop(["extra"]))
