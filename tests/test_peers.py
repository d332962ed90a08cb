"""rallypoint agrees with CooRTweet and the QUT coordination-network-toolkit on their own data.

The oracles are in ``/work/shared/reference`` (see its README): edges produced by the
peers' own code. Shared semantics: two shares of the same object by different
accounts at most ``window`` seconds apart (inclusive) are a co-share pair, and an
edge's weight is its number of co-share pairs.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from rallypoint.detectors.coaction import build_coaction_edges
from rallypoint.schema import EDGES_SCHEMA, TIMESTAMP


def coortweet_records(frame: pl.DataFrame) -> pa.Table:
    """CooRTweet's (object_id, account_id, content_id, timestamp_share) as canonical reposts."""
    n = frame.height
    return pa.table(
        {
            "id": frame["content_id"].cast(pl.String).to_arrow(),
            "platform": pa.array(["x"] * n),
            "account_id": frame["account_id"].cast(pl.String).to_arrow(),
            "timestamp": pa.array(frame["timestamp_share"].cast(pl.Int64).to_numpy() * 1_000_000).cast(
                pa.int64()
            ).cast(TIMESTAMP),
            "action": pa.array(["repost"] * n),
            "target_id": frame["object_id"].cast(pl.String).to_arrow(),
        }
    )


def undirected_weights(table: pa.Table) -> dict[tuple[str, str], int]:
    """Our edges as {(a, b): weight}."""
    return dict(
        zip(
            zip(table["account_a"].to_pylist(), table["account_b"].to_pylist(), strict=True),
            table["weight"].to_pylist(),
            strict=True,
        )
    )


def peer_weights(path: Path, a: str = "from", b: str = "to") -> dict[tuple[str, str], int]:
    """A peer's undirected edge list as {(min, max): weight}, self-pairs dropped."""
    frame = pl.read_csv(path, infer_schema_length=None).filter(pl.col(a) != pl.col(b))
    return {
        (min(x, y), max(x, y)): int(w)
        for x, y, w in frame.select(pl.col(a).cast(pl.String), pl.col(b).cast(pl.String), "weight").iter_rows()
    }


@pytest.fixture(scope="module")
def russian(reference_dir: Path) -> pa.Table:
    return coortweet_records(pl.read_csv(reference_dir / "coortweet" / "russian_coord_tweets.csv.gz"))


def test_russian_min_participation_1_gives_the_qut_toolkits_pairs(russian, reference_dir):
    result = build_coaction_edges(
        russian, types=["co_repost"], window="60s", min_participation=1, null_model="none"
    )
    qut = peer_weights(reference_dir / "coortweet" / "russian_qut_coretweet_tw60_edges.csv.gz", "user_1", "user_2")
    ours = undirected_weights(result.edges)
    assert len(qut) == 6206
    assert set(ours) == set(qut)
    assert result.edges.schema == EDGES_SCHEMA
    # the QUT weights are directed message counts, ours count co-share pairs: a pair's
    # co-share pairs are at least as many as either direction's messages
    assert all(ours[k] >= 1 for k in qut)


def test_russian_min_participation_2_gives_coortweets_edges_and_weights(russian, reference_dir):
    result = build_coaction_edges(
        russian, types=["co_repost"], window="60s", min_participation=2, null_model="none"
    )
    coortweet = peer_weights(reference_dir / "coortweet" / "russian_tw60_mp2_ew0.5_edges.csv.gz")
    ours = undirected_weights(result.edges)
    assert len(coortweet) == 3721
    assert ours == coortweet
    accounts = set(result.edges["account_a"].to_pylist()) | set(result.edges["account_b"].to_pylist())
    assert len(accounts) == 2110


def test_russian_window_10_min_participation_5(russian, reference_dir):
    result = build_coaction_edges(
        russian, types=["co_repost"], window="10s", min_participation=5, null_model="none"
    )
    coortweet = peer_weights(reference_dir / "coortweet" / "russian_tw10_mp5_edges.csv")
    assert len(coortweet) == 20
    assert undirected_weights(result.edges) == coortweet


def test_coortweet_co_share_pairs_match_detect_groups(russian, reference_dir):
    """Every pair CooRTweet's detect_groups lists is one co-share pair of ours, no more, no less."""
    groups = pl.read_csv(reference_dir / "coortweet" / "russian_tw60_mp2_detect_groups.csv.gz")
    result = build_coaction_edges(
        russian, types=["co_repost"], window="60s", min_participation=2, null_model="none"
    )
    assert int(pa.compute.sum(result.edges["weight"]).as_py()) == groups.height == 3791
    # and the actions behind the edges are exactly the shares that appear in those pairs
    shares = set(groups["content_id"].to_list()) | set(groups["content_id_y"].to_list())
    assert set(result.actions["id"].to_pylist()) == shares
