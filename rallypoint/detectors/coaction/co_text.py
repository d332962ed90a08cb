"""``co_text``: accounts that post near-duplicate text within the window.

What it computes
    Texts of authored records (post, reply, quote) are normalised (lower case, links
    and punctuation removed, whitespace collapsed). Identical normalised texts are one
    target at once. Distinct texts of at least ``MIN_WORDS`` words are then grouped by
    MinHash + LSH (Broder 1997; Leskovec, Rajaraman & Ullman, *Mining of Massive
    Datasets*, ch. 3) over word ``SHINGLE_WORDS``-grams: two texts are linked when their
    estimated Jaccard similarity is at least ``threshold``, and each connected group of
    linked texts is one target. This is CooRTweet's ``detect_similar_text`` (which uses
    textreuse's MinHash/LSH) and the QUT toolkit's co-similar-tweet, turned into targets
    so the same window/pair machinery applies.

Parameters
    ``threshold`` (Jaccard, default 0.8), ``num_perm`` (MinHash permutations, 128),
    ``seed`` (MinHash seed; results are deterministic for a seed).

Cost
    ``O(n)`` to normalise and de-duplicate, then ``O(d * num_perm)`` MinHash work and
    ``O(d)`` LSH inserts/queries for the ``d`` distinct texts (Python-level work per
    distinct text in datasketch: about 10^4 distinct texts per second). Chaining: a
    group is a connected component, so A~B and B~C put A and C together even when
    A and C are less similar than ``threshold``.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from rallypoint.detectors.coaction.shares import (
    AUTHORING_ACTIONS,
    SHARE_SCHEMA,
    from_column,
    rows_with_action,
)

TYPE = "co_text"
SHINGLE_WORDS = 3
MIN_WORDS = 5
NUM_PERM = 128
#: How much of the representative text a target label shows.
LABEL_CHARS = 100


def normalize_text(texts: pl.Series) -> pl.Series:
    """Lower case, without links, with punctuation as spaces and whitespace collapsed."""
    return (
        texts.str.to_lowercase()
        .str.replace_all(r"https?://\S+", " ")
        .str.replace_all(r"[^\w@#]+", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def near_duplicate_groups(
    texts: list[str], threshold: float, num_perm: int = NUM_PERM, seed: int = 0
) -> np.ndarray:
    """A group label per text: texts linked by estimated Jaccard >= threshold share a label."""
    from datasketch import MinHash, MinHashLSH

    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    shingle_sets = []
    for text in texts:
        words = text.split()
        grams = {" ".join(words[k : k + SHINGLE_WORDS]).encode() for k in range(len(words) - SHINGLE_WORDS + 1)}
        shingle_sets.append(grams or {text.encode()})
    hashes = MinHash.bulk(shingle_sets, num_perm=num_perm, seed=seed)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for k, h in enumerate(hashes):
        lsh.insert(k, h, check_duplication=False)
    rows, cols = [], []
    for k, h in enumerate(hashes):
        for other in lsh.query(h):
            if other > k and h.jaccard(hashes[other]) >= threshold:
                rows.append(k)
                cols.append(other)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def text_events(records: pa.Table) -> pa.Table:
    """Share events whose target is the normalised text (texts of ``MIN_WORDS`` words or more).

    The first, per-partition half of ``share_events``; ``group_texts`` is the global half.
    """
    rows = rows_with_action(records, AUTHORING_ACTIONS)
    if rows.num_rows == 0:
        return SHARE_SCHEMA.empty_table()
    normalized = normalize_text(pl.from_arrow(rows["text"].combine_chunks()).cast(pl.String))
    long_enough = pl.select(
        pl.when(normalized.str.count_matches(" ") >= MIN_WORDS - 1).then(normalized)
    ).to_series()
    return from_column(rows, long_enough.to_arrow())


def group_texts(texts: list[str], threshold: float, seed: int = 0, num_perm: int = NUM_PERM) -> pl.DataFrame:
    """Map each distinct normalised text to its near-duplicate group's target label.

    Returns columns ``text`` and ``target`` (``"<group>: <first 100 characters>"``).
    """
    distinct = pl.DataFrame({"text": sorted(set(texts))}, schema={"text": pl.String})
    labels = near_duplicate_groups(distinct["text"].to_list(), threshold, num_perm=num_perm, seed=seed)
    distinct = distinct.with_columns(group=pl.Series(labels, dtype=pl.Int64))
    representative = distinct.group_by("group").agg(rep=pl.col("text").min())
    return (
        distinct.join(representative, on="group")
        .with_columns(target=pl.format("{}: {}", pl.col("group"), pl.col("rep").str.slice(0, LABEL_CHARS)))
        .select("text", "target")
    )


def share_events(records: pa.Table, threshold: float = 0.8, seed: int = 0, num_perm: int = NUM_PERM) -> pa.Table:
    """One share event per authored record whose text has a near-duplicate group."""
    events = pl.from_arrow(text_events(records))
    mapping = group_texts(events["target"].to_list(), threshold, seed=seed, num_perm=num_perm)
    grouped = events.join(mapping, left_on="target", right_on="text").select(
        pl.col("target_right").alias("target"), "account_id", "id", "timestamp"
    )
    return grouped.to_arrow().cast(SHARE_SCHEMA)
