"""`rallypoint network`: the co-action network alone equals the peers' on their published data."""

from __future__ import annotations

import networkx as nx
import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rallypoint.cli import main
from rallypoint.detectors.coaction import CoactionError
from rallypoint.detectors.coaction.network import NetworkOptions

pytestmark = pytest.mark.slow


def test_exact_network_is_the_qut_toolkits_pairs(russian_lake, reference_dir, tmp_path):
    out = tmp_path / "net.parquet"
    result = CliRunner().invoke(main, ["network", "--lake", str(russian_lake), "--out", str(out),
                                       "--min-participation", "1", "--exact"])
    assert result.exit_code == 0, result.output
    edges = pq.read_table(out)
    ours = set(zip(edges["account_a"].to_pylist(), edges["account_b"].to_pylist(), strict=True))
    frame = pl.read_csv(reference_dir / "coortweet" / "russian_qut_coretweet_tw60_edges.csv.gz")
    frame = frame.filter(pl.col("user_1") != pl.col("user_2"))
    assert ours == {(min(a, b), max(a, b)) for a, b in frame.select("user_1", "user_2").iter_rows()}
    assert "6,206 edges" in result.output


def test_graphml_holds_coortweets_weights(russian_lake, reference_dir, tmp_path):
    out = tmp_path / "net.graphml"
    result = CliRunner().invoke(main, ["network", "--lake", str(russian_lake), "--out", str(out)])
    assert result.exit_code == 0, result.output
    graph = nx.read_graphml(out)
    edges = pl.read_csv(reference_dir / "coortweet" / "russian_tw60_mp2_ew0.5_edges.csv.gz", infer_schema_length=None)
    expected = {frozenset((str(a), str(b))): w for a, b, w in edges.select("from", "to", "weight").iter_rows()}
    assert {frozenset((a, b)): d["weight"] for a, b, d in graph.edges(data=True)} == expected


def test_csv_and_bad_options_are_sentences(russian_lake, tmp_path):
    out = tmp_path / "net.csv"
    assert CliRunner().invoke(main, ["network", "--lake", str(russian_lake), "--out", str(out)]).exit_code == 0
    assert pl.read_csv(out).columns[:3] == ["account_a", "account_b", "weight"]
    bad = CliRunner().invoke(main, ["network", "--lake", str(russian_lake), "--out", str(tmp_path / "x.txt")])
    assert bad.exit_code == 2 and "not one of parquet" in bad.output
    with pytest.raises(CoactionError, match="Unknown co-action type"):
        NetworkOptions(types=("co_nothing",))
