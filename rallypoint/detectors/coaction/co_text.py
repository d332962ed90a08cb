"""``co_text``: accounts that post near-duplicate text within the window.

What it computes
    Texts of authored records (post, reply, quote) are normalised (lower case, links
    and punctuation removed, whitespace collapsed). Identical normalised texts are one
    target at once. Distinct texts of at least ``MIN_WORDS`` words are then grouped by
    MinHash + LSH (Broder 1997; Leskovec, Rajaraman & Ullman, *Mining of Massive
    Datasets*, ch. 3; vectorised in ``minhash.py``) over word ``SHINGLE_WORDS``-grams:
    two texts are linked when their estimated Jaccard similarity is at least
    ``threshold``, and each connected group of linked texts is one target. This is CooRTweet's ``detect_similar_text`` (which uses
    textreuse's MinHash/LSH) and the QUT toolkit's co-similar-tweet, turned into targets
    so the same window/pair machinery applies.

Parameters
    ``threshold`` (Jaccard, default ``options.DEFAULT_TEXT_THRESHOLD``), ``num_perm`` (MinHash permutations, 128),
    ``seed`` (MinHash seed; results are deterministic for a seed).

Cost
    ``O(n)`` to normalise and de-duplicate, then ``O(S * num_perm)`` vectorised MinHash
    work for the ``S`` shingles of the distinct texts and ``O(d * bands)`` banding.
    Chaining: a
    group is a connected component, so A~B and B~C put A and C together even when
    A and C are less similar than ``threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.arrays import sorted_codes
from rallypoint.detectors.coaction.minhash import (
    NUM_PERM,
    SHINGLE_WORDS,
    as_text_series,
    near_duplicate_groups,
)
from rallypoint.detectors.coaction.shares import (
    AUTHORING_ACTIONS,
    from_column,
)
from rallypoint.detectors.memory import release_unused_memory
from rallypoint.detectors.options import DEFAULT_TEXT_THRESHOLD, THREADS

TYPE = "co_text"
MIN_WORDS = 5
__all__ = ["MIN_WORDS", "NUM_PERM", "SHINGLE_WORDS", "TYPE", "group_texts", "near_duplicate_groups",
           "group_labels", "normalize_text", "share_events", "text_groups",
           "text_targets"]
#: How much of the representative text a target label shows.
LABEL_CHARS = 100
#: Threads normalising the texts.
NORMALIZE_WORKERS = THREADS


def normalize_text(texts: pl.Series) -> pl.Series:
    """Lower case, without links, with punctuation as spaces and whitespace collapsed."""
    # one pass: each run of links and characters outside [\w@#] becomes one space. A link
    # starts with a word character, so no run of the others swallows its start, and this
    # equals replacing links by a space, then runs of the others by a space, in one pass.
    # Whitespace is outside [\w@#], so single spaces are left.
    return texts.str.to_lowercase().str.replace_all(r"(?:https?://\S+|[^\w@#])+", " ").str.strip_chars()


def _long_enough(texts: pa.ChunkedArray | pa.Array) -> pl.Series:
    """The normalised texts, null where shorter than ``MIN_WORDS`` words.

    polars runs a string expression over one series on one core (and without the GIL), so
    ``NORMALIZE_WORKERS`` threads each normalise a slice of the texts."""
    texts = pl.from_arrow(texts).cast(pl.String)
    cuts = np.linspace(0, len(texts), NORMALIZE_WORKERS + 1).astype(np.int64).tolist()

    def normalized(lo: int, hi: int) -> pl.Series:
        words = normalize_text(texts.slice(lo, hi - lo))
        return pl.select(pl.when(words.str.count_matches(" ") >= MIN_WORDS - 1).then(words)).to_series()

    with ThreadPoolExecutor(NORMALIZE_WORKERS) as pool:
        return pl.concat(list(pool.map(normalized, cuts[:-1], cuts[1:])))


def text_targets(records: pa.Table, threshold: float = DEFAULT_TEXT_THRESHOLD, seed: int = 0,
                 num_perm: int = NUM_PERM) -> pa.Array:
    """Each record's target: the label of its text's near-duplicate group, or null (not
    authored, or no text of ``MIN_WORDS`` words) (``text_groups``, as strings)."""
    code, labels = text_groups(records, threshold, seed, num_perm)
    has_group = code >= 0
    targets = pl.repeat(None, records.num_rows, dtype=pl.String, eager=True).rename("target")
    return targets.scatter(np.flatnonzero(has_group), labels.gather(code[has_group])).to_arrow()


def text_groups(records: pa.Table, threshold: float = DEFAULT_TEXT_THRESHOLD, seed: int = 0,
                num_perm: int = NUM_PERM) -> tuple[np.ndarray, pl.Series]:
    """``(code, labels)``: ``labels`` the target labels of the records' near-duplicate groups,
    sorted and distinct; ``code`` per record its group's position among them, or -1 (not
    authored, or no text of ``MIN_WORDS`` words).

    Reads ``action`` and ``text`` only, so it can start before the records' other columns
    are coded (``build._LocalPlan``), which then pairs on the codes: a label string per
    record is never built.
    """
    authored = pc.is_in(records["action"], value_set=pa.array(AUTHORING_ACTIONS, pa.string()))
    rows = np.flatnonzero(authored.to_numpy())
    code = np.full(records.num_rows, -1, dtype=np.int64)
    if rows.size == 0:
        return code, pl.Series("target", [], dtype=pl.String)
    # one sort of the texts, far cheaper than a binary search of each among the distinct ones
    distinct, text_code = sorted_codes(_long_enough(records["text"].filter(authored)))
    # the texts' memory goes back before the signatures (gigabytes at scale) are allocated
    release_unused_memory()
    nulls = distinct.null_count()  # a null sorts first: code 0
    texts = distinct.slice(nulls)
    del distinct
    group = near_duplicate_groups(texts, threshold, num_perm=num_perm, seed=seed)
    labels = _labels_of_groups(texts, group)
    order = labels.arg_sort().to_numpy()
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    # per distinct text (the null first, when there is one: no group)
    group_code = np.concatenate([np.full(nulls, -1, dtype=np.int64), rank[group]])
    code[rows] = group_code[text_code]
    return code, labels.gather(order)


def share_events(records: pa.Table, threshold: float = DEFAULT_TEXT_THRESHOLD, seed: int = 0,
                 num_perm: int = NUM_PERM) -> pa.Table:
    """One share event per authored record whose text has a near-duplicate group
    (``text_targets``)."""
    return from_column(records, text_targets(records, threshold, seed, num_perm))


def group_texts(
    texts: Sequence[str] | pl.Series, threshold: float, seed: int = 0, num_perm: int = NUM_PERM
) -> pl.DataFrame:
    """Map each distinct normalised text to its near-duplicate group's target label.

    Returns columns ``text`` and ``target`` (``"<group>: <first 100 characters>"``).
    The texts stay in Arrow memory throughout (millions of Python strings cost gigabytes).
    """
    distinct = as_text_series(texts).drop_nulls().unique().sort()
    return pl.DataFrame({"text": distinct, "target": group_labels(distinct, threshold, seed, num_perm)},
                        schema={"text": pl.String, "target": pl.String})


def group_labels(distinct: pl.Series, threshold: float, seed: int = 0, num_perm: int = NUM_PERM) -> pl.Series:
    """The target label of each of ``distinct`` (sorted distinct texts), aligned with them."""
    group = near_duplicate_groups(distinct, threshold, num_perm=num_perm, seed=seed)
    return _labels_of_groups(distinct, group).gather(group)


def _labels_of_groups(distinct: pl.Series, group: np.ndarray) -> pl.Series:
    """One target label per group (``"<group>: <first 100 characters>"``), indexed by group:
    its representative is its smallest text, the first of it in ``distinct``'s (sorted) order."""
    first = pl.DataFrame({"group": group}).with_row_index("row").group_by("group").agg(pl.col("row").min())
    representative = np.zeros(int(group.max()) + 1 if group.size else 0, dtype=np.int64)
    representative[first["group"].to_numpy()] = first["row"].to_numpy()
    label = distinct.gather(representative).str.slice(0, LABEL_CHARS)
    return pl.select(pl.format("{}: {}", pl.int_range(len(representative), dtype=pl.Int64), label)
                     ).to_series().rename("target")
