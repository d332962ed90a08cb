"""detect on a lake of posts only (no repost, reply or quote): the German election reference data.

The shape of CrowdTangle / Meta Content Library exports: one record per post with its links,
hashtags and images, no text and no engagement records.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest

from rallypoint.detectors.pipeline import detect_run
from rallypoint.lake import Lake, write_parquet_atomic
from rallypoint.schema import LAKE_SCHEMA, TIMESTAMP


def german_lake_records(frame: pl.DataFrame) -> pa.Table:
    """One canonical record per post: URL ids as ``urls``, hashtag ids as ``hashtags``, image
    hashes as ``media`` (each list aggregated over the post's rows). Three rows without a post
    id (and nothing else) are left out, as the ingest would reject them."""
    posts = frame.drop_nulls("post_id").group_by("post_id").agg(
        pl.col("account_id").first(),
        pl.col("timestamp").min(),
        urls=pl.col("url_id").drop_nulls().unique().sort().cast(pl.String),
        hashtags=pl.col("hashtag_id").drop_nulls().unique().sort().cast(pl.String),
        media=pl.col("phash_id").drop_nulls().unique().sort().cast(pl.String),
    ).sort("post_id")
    platform = posts["account_id"].str.slice(0, 3).replace_strict({"tw_": "x", "fb_": "facebook"})
    columns = {
        "id": posts["post_id"].cast(pl.String).to_arrow(),
        "platform": platform.to_arrow(),
        "account_id": posts["account_id"].to_arrow(),
        "timestamp": pa.array(posts["timestamp"].cast(pl.Int64).to_numpy() * 1_000_000).cast(pa.int64()).cast(
            TIMESTAMP),
        "action": pa.array(["post"] * posts.height),
        "urls": posts["urls"].to_arrow(),
        "hashtags": posts["hashtags"].to_arrow(),
        "media": posts["media"].to_arrow(),
    }
    n = posts.height
    return pa.table([columns[f.name].cast(f.type) if f.name in columns else pa.nulls(n, f.type)
                     for f in LAKE_SCHEMA], schema=LAKE_SCHEMA)


@pytest.fixture(scope="module")
def german_lake(tmp_path_factory, reference_dir) -> Lake:
    frame = pl.read_csv(reference_dir / "coortweet" / "german_elections.csv.gz", infer_schema_length=None)
    lake = Lake(tmp_path_factory.mktemp("german") / "lake").ensure()
    write_parquet_atomic(lake.interactions_dir / "date=2021-09-01" / "part-0.parquet", german_lake_records(frame))
    return lake


@pytest.fixture(scope="module")
def default_run(german_lake):
    result = detect_run(german_lake.root, show_progress=False)
    return result, pl.from_arrow(german_lake.read_run_table(result.run_id, "clusters"))


def test_the_default_detect_runs_on_posts_only(default_run):
    result, clusters = default_run
    assert result.summary["counts"]["records"] > 100_000
    assert clusters.height >= 10
    # no text, no harm evidence: coordination alone is not harm
    assert not clusters["flagged"].any()


def test_the_queue_without_harm_evidence_is_ordered_by_coordination_and_inauthenticity(default_run):
    _, clusters = default_run
    assert (clusters["score"] == 0).all()
    # the queue (cluster ids in rank order) follows order_score, which varies: no wall of 0.00
    ranked = clusters.sort("cluster_id")["order_score"]
    assert ranked.n_unique() > clusters.height // 2
    assert (ranked.diff().drop_nulls() <= 0).all()
    expected = clusters["coordination_score"] * (0.5 + 0.5 * clusters["inauthenticity_score"])
    assert ((clusters["order_score"] - expected).abs() < 1e-9).all()


def test_coortweets_parameters_still_give_its_network(german_lake):
    result = detect_run(german_lake.root, types="co_link,co_media", window="30s", min_participation=2,
                        null_model="none", show_progress=False)
    edges = pl.from_arrow(german_lake.read_run_table(result.run_id, "edges"))
    assert edges.height == 1732
    assert pl.concat([edges["account_a"], edges["account_b"]]).n_unique() == 671
