"""End to end: CooRTweet's Russian data through `rallypoint ingest` and the lake agrees with the peers."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from rallypoint.cli import main
from rallypoint.detectors.coaction import build_coaction_edges
from rallypoint.graph.lake import Lake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def russian_lake(reference_dir: Path, tmp_path_factory) -> Path:
    lake = tmp_path_factory.mktemp("russian") / "lake"
    source = reference_dir / "coortweet" / "russian_coord_tweets.csv.gz"
    result = CliRunner().invoke(main, ["ingest", str(source), "--lake", str(lake), "--format", "coortweet"])
    assert result.exit_code == 0, result.output
    return lake


def test_the_lake_read_by_dask_gives_coortweets_network(russian_lake, reference_dir):
    result = build_coaction_edges(
        Lake(russian_lake).read_interactions(), types=["co_repost"], window="60s",
        min_participation=2, null_model="none",
    )
    edges = pl.read_csv(reference_dir / "coortweet" / "russian_tw60_mp2_ew0.5_edges.csv.gz", infer_schema_length=None)
    expected = {(min(a, b), max(a, b)): w for a, b, w in edges.select("from", "to", "weight").iter_rows()}
    ours = dict(zip(zip(result.edges["account_a"].to_pylist(), result.edges["account_b"].to_pylist(), strict=True),
                    result.edges["weight"].to_pylist(), strict=True))
    assert ours == expected
