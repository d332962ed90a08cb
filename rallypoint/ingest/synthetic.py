"""Synthetic canonical JSON Lines for ingest tests and benchmarks (vectorized).

``write_canonical_jsonl(path, n)`` writes ``n`` canonical records with realistic
columns (ids, accounts, ISO or epoch timestamps over ``days`` days, a mix of
actions with targets, URLs with tracking parameters, hashtags, mentions, one field
outside the canonical table) through polars, so a 10-million-record file takes
seconds to make. ``duplicate_every`` repeats every k-th record (same platform and
id) to exercise de-duplication. Not a model of behaviour: for that use
``rallypoint simulate``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

START_US = 1_609_459_200_000_000  # 2021-01-01T00:00:00Z


def canonical_frame(n: int, *, seed: int = 0, days: int = 14, start: int = 0,
                    duplicate_every: int = 0) -> pl.DataFrame:
    """``n`` canonical records as a polars frame (ids ``r{start}``.. in order)."""
    rng = np.random.default_rng(seed)
    index = np.arange(start, start + n)
    if duplicate_every:
        repeat = (index % duplicate_every == duplicate_every - 1) & (index > 0)
        index = np.where(repeat, index - 1, index)
    actions = np.array(["post", "repost", "reply", "quote"])[rng.choice(4, n, p=[0.4, 0.4, 0.1, 0.1])]
    accounts = rng.integers(0, max(10, n // 20), n)
    # a record's time is a function of its index, so a repeated id repeats its row
    ts_us = START_US + (index.astype(np.int64) * 7_919_993) % (days * 86_400_000_000)
    target = np.maximum(index - 1 - rng.integers(0, 50, n), 0)
    tags = np.array(["StopTheSteal", "Jan6", "news", "Brasil", "weather"])
    frame = pl.DataFrame(
        {
            "id": pl.Series(index).cast(pl.String),
            "platform": pl.Series(np.where(index % 10 == 0, "telegram", "x")),
            "account_id": pl.Series(accounts).cast(pl.String),
            "timestamp": pl.Series(ts_us // 1_000_000),
            "action": pl.Series(actions),
            "target_id": pl.Series(target).cast(pl.String),
            "text": pl.Series(index % 97).cast(pl.String),
            "urls": pl.Series(index % 31).cast(pl.String),
            "hashtags": pl.Series(tags[index % 5]),
            "campaign": pl.Series(index % 7),
        }
    )
    return frame.with_columns(
        pl.concat_str(pl.lit("r"), pl.col("id")).alias("id"),
        pl.when(pl.col("action") == "post").then(None).otherwise(pl.concat_str(pl.lit("r"), pl.col("target_id")))
        .alias("target_id"),
        pl.concat_str(pl.lit("Meet at the square at noon, day "), pl.col("text")).alias("text"),
        pl.concat_list(pl.concat_str(pl.lit("https://Example.com/p/"), pl.col("urls"), pl.lit("?utm_source=x&b=1"))).alias("urls"),
        pl.concat_list(pl.col("hashtags")).alias("hashtags"),
    )


def write_canonical_jsonl(path: Path, n: int, *, seed: int = 0, days: int = 14, duplicate_every: int = 0,
                          chunk: int = 1_000_000) -> Path:
    """Write ``n`` records as JSON Lines (gzip when the name ends in .gz), in chunks."""
    import gzip

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as fh:
        for start in range(0, n, chunk):
            frame = canonical_frame(min(chunk, n - start), seed=seed + start, days=days, start=start,
                                    duplicate_every=duplicate_every)
            frame.write_ndjson(fh)
    return path
