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
    assert set(result.actions_table()["id"].to_pylist()) == shares


def german_records(frame: pl.DataFrame) -> pa.Table:
    """The German election posts as canonical records: one per post, URL ids as urls, image hashes as media."""
    posts = frame.group_by("post_id").agg(
        pl.col("account_id").first(),
        pl.col("timestamp").min(),
        urls=pl.col("url_id").drop_nulls().unique().cast(pl.String),
        media=pl.col("phash_id").drop_nulls().unique().cast(pl.String),
    )
    platform = posts["account_id"].str.slice(0, 3).replace_strict({"tw_": "x", "fb_": "facebook"})
    return pa.table(
        {
            "id": posts["post_id"].cast(pl.String).to_arrow(),
            "platform": platform.to_arrow(),
            "account_id": posts["account_id"].to_arrow(),
            "timestamp": pa.array(posts["timestamp"].cast(pl.Int64).to_numpy() * 1_000_000).cast(TIMESTAMP),
            "action": pa.array(["post"] * posts.height),
            "urls": posts["urls"].to_arrow(),
            "media": posts["media"].to_arrow(),
        }
    )


def test_german_urls_and_images_give_coortweets_multimodal_network(reference_dir):
    frame = pl.read_csv(reference_dir / "coortweet" / "german_elections.csv.gz", infer_schema_length=None)
    result = build_coaction_edges(
        german_records(frame), types=["co_link", "co_media"], window="30s", min_participation=2, null_model="none"
    )
    coortweet = peer_weights(reference_dir / "coortweet" / "german_urls_images_tw30_mp2_ew0.5_edges.csv")
    ours = undirected_weights(result.edges)
    assert len(coortweet) == 1732
    assert ours == coortweet
    assert len({a for pair in ours for a in pair}) == 671
    # both kinds of co-action contribute, and per-type weights add up to the edge weight
    types = {t["type"] for row in result.edges["types"].to_pylist() for t in row}
    assert types == {"co_link", "co_media"}
    assert all(
        sum(t["weight"] for t in e["types"]) == e["weight"] for e in result.edges.to_pylist()
    )


@pytest.mark.parametrize(
    ("name", "min_participation", "window"),
    [("sim_seed123_c100_n50_o20_mp2_tw10", 2, 10), ("sim_seed42_c30_n300_o200_mp3_tw60", 3, 60)],
)
def test_coortweet_simulations_give_exactly_the_planted_pairs(reference_dir, name, min_participation, window):
    folder = reference_dir / "coortweet"
    suffix = ".csv.gz" if (folder / f"{name}_input.csv.gz").exists() else ".csv"
    inputs = pl.read_csv(folder / f"{name}_input{suffix}")
    expected = pl.read_csv(folder / f"{name}_expected_pairs{suffix}").filter(pl.col("coordinated"))
    result = build_coaction_edges(
        coortweet_records(inputs), types=["co_repost"], window=window,
        min_participation=min_participation, null_model="none",
    )
    planted = (
        expected.select(a=pl.min_horizontal("account_id", "account_id_y"), b=pl.max_horizontal("account_id", "account_id_y"))
        .group_by("a", "b")
        .len()
    )
    assert undirected_weights(result.edges) == {(a, b): n for a, b, n in planted.iter_rows()}


def test_sim_seed42_planted_pairs_survive_the_null_model_and_nothing_else_does(reference_dir):
    folder = reference_dir / "coortweet"
    inputs = pl.read_csv(folder / "sim_seed42_c30_n300_o200_mp3_tw60_input.csv")
    result = build_coaction_edges(
        coortweet_records(inputs), types=["co_repost"], window=60, min_participation=3, null_model="permutation"
    )
    planted = {f"account_{k:03d}" for k in range(1, 31)}
    pairs = list(zip(result.edges["account_a"].to_pylist(), result.edges["account_b"].to_pylist(), strict=True))
    assert len(pairs) == 435 == 30 * 29 // 2
    assert all(a in planted and b in planted for a, b in pairs)


def qut_fixture_records(path: Path) -> pa.Table:
    """The QUT toolkit's 15-message co-retweet fixture (UTF-8 with BOM) as reposts."""
    frame = pl.read_csv(path, encoding="utf8-lossy", infer_schema_length=None)
    frame = frame.rename({frame.columns[0]: "message_id"})  # the BOM sticks to the first name
    return pa.table(
        {
            "id": frame["message_id"].cast(pl.String).to_arrow(),
            "platform": pa.array(["x"] * frame.height),
            "account_id": frame["user_id"].to_arrow(),
            "timestamp": pa.array(frame["timestamp"].cast(pl.Int64).to_numpy() * 1_000_000).cast(TIMESTAMP),
            "action": pa.array(["repost"] * frame.height),
            "target_id": frame["repost_id"].to_arrow(),
        }
    )


@pytest.mark.parametrize("window", [1, 60])
def test_qut_fixture_pins_window_inclusivity(reference_dir, window):
    records = qut_fixture_records(reference_dir / "cnt" / "coretweet_test_input.csv")
    expected = pl.read_csv(reference_dir / "cnt" / "expected_co_retweet.csv").filter(
        (pl.col("time_window") == window) & (pl.col("min_edge_weight") == 1) & (pl.col("user_1") != pl.col("user_2"))
    )
    result = build_coaction_edges(records, types=["co_repost"], window=window, min_participation=1, null_model="none")
    qut_pairs = {(min(a, b), max(a, b)) for a, b in expected.select("user_1", "user_2").iter_rows()}
    assert set(undirected_weights(result.edges)) == qut_pairs


def test_qut_fixture_weights_count_co_share_pairs(reference_dir):
    records = qut_fixture_records(reference_dir / "cnt" / "coretweet_test_input.csv")
    result = build_coaction_edges(records, types=["co_repost"], window=60, min_participation=1, null_model="none")
    # uid0 reposted rtid0 at 0 s and 1 s, uid1 at 59 s: two co-share pairs; the toolkit's
    # directed weights are 2 (uid0's messages with a partner) and 1 (uid1's)
    assert undirected_weights(result.edges) == {("uid0", "uid1"): 2, ("uid2", "uid3"): 1, ("uid4", "uid5"): 2}
