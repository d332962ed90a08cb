"""End to end: CooRTweet's Russian data through `rallypoint ingest` and the lake agrees with the peers."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rallypoint.cli import main
from rallypoint.detectors.coaction import build_coaction_edges
from rallypoint.lake import Lake

pytestmark = pytest.mark.slow


def test_the_lake_gives_coortweets_network(russian_lake, reference_dir):
    result = build_coaction_edges(
        Lake(russian_lake).read_interactions_arrow(), types=["co_repost"], window="60s",
        min_participation=2, null_model="none",
    )
    edges = pl.read_csv(reference_dir / "coortweet" / "russian_tw60_mp2_ew0.5_edges.csv.gz", infer_schema_length=None)
    expected = {(min(a, b), max(a, b)): w for a, b, w in edges.select("from", "to", "weight").iter_rows()}
    ours = dict(zip(zip(result.edges["account_a"].to_pylist(), result.edges["account_b"].to_pylist(), strict=True),
                    result.edges["weight"].to_pylist(), strict=True))
    assert ours == expected


def qut_pairs(reference_dir: Path) -> set[tuple[str, str]]:
    frame = pl.read_csv(reference_dir / "coortweet" / "russian_qut_coretweet_tw60_edges.csv.gz")
    frame = frame.filter(pl.col("user_1") != pl.col("user_2"))
    return {(min(a, b), max(a, b)) for a, b in frame.select("user_1", "user_2").iter_rows()}


def test_detect_cli_gives_the_qut_toolkits_pairs(russian_lake, reference_dir):
    result = CliRunner().invoke(main, [
        "detect", "--lake", str(russian_lake), "--types", "co_repost", "--window", "60s",
        "--min-participation", "1", "--null", "none",
    ])
    assert result.exit_code == 0, result.output
    run = Lake(russian_lake).run_dir("latest")
    edges = pq.read_table(run / "edges.parquet")
    pairs = set(zip(edges["account_a"].to_pylist(), edges["account_b"].to_pylist(), strict=True))
    assert pairs == qut_pairs(reference_dir)
    assert len(pairs) == 6206
