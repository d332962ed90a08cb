"""The CooRTweet reader: CooRTweet's input table read as canonical reposts."""

from __future__ import annotations

import csv
import gzip

import pyarrow.compute as pc
import pytest

from rallypoint.errors import InputError
from rallypoint.ingest import read_file
from rallypoint.ingest.formats import sniff


def _rows(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


def test_reference_input_becomes_one_repost_per_share(reference_dir):
    path = reference_dir / "coortweet" / "sim_seed42_c30_n300_o200_mp3_tw60_input.csv"
    rows = _rows(path)
    table, rejected = read_file(path)
    assert sniff(path) == "coortweet"
    assert rejected.num_rows == 0
    assert table.num_rows == len(rows)
    assert set(pc.unique(table["action"]).to_pylist()) == {"repost"}
    assert set(pc.unique(table["platform"]).to_pylist()) == {"x"}
    by_id = {r["id"]: r for r in table.select(["id", "target_id", "account_id", "timestamp"]).to_pylist()}
    for row in rows[:50]:
        got = by_id[row["content_id"]]
        assert got["target_id"] == row["object_id"]
        assert got["account_id"] == row["account_id"]
        assert int(got["timestamp"].timestamp()) == int(row["timestamp_share"])


def test_gzip_reference_file_reads_every_row(reference_dir):
    path = reference_dir / "coortweet" / "russian_coord_tweets.csv.gz"
    table, rejected = read_file(path, fmt="coortweet")
    assert table.num_rows + rejected.num_rows == len(_rows(path))
    assert rejected.num_rows == 0


def test_platform_column_is_kept_and_other_columns_go_to_extra(tmp_path):
    path = tmp_path / "shares.csv"
    path.write_text(
        "object_id,account_id,content_id,timestamp_share,platform,url_id\n"
        "o1,a1,c1,1609459200,telegram,u9\n"
        "o1,a2,c2,1609459260,,u9\n"
    )
    table, _ = read_file(path)
    assert table["platform"].to_pylist() == ["telegram", "x"]
    assert table["extra"].to_pylist() == ['{"url_id":"u9"}'] * 2


def test_a_share_without_object_is_rejected(tmp_path):
    path = tmp_path / "shares.csv"
    path.write_text("object_id,account_id,content_id,timestamp_share\n,a1,c1,1609459200\no2,a2,c2,1609459201\n")
    table, rejected = read_file(path)
    assert table["id"].to_pylist() == ["c2"]
    assert rejected.to_pylist()[0]["reason"] == "repost without target_id"
    assert rejected.to_pylist()[0]["line"] == 2


def test_canonical_csv_named_as_coortweet_is_refused(tmp_path):
    path = tmp_path / "canonical.csv"
    path.write_text("id,platform,account_id,timestamp,action\n1,x,a,1609459200,post\n")
    with pytest.raises(InputError, match="not a coortweet file"):
        read_file(path, fmt="coortweet")
