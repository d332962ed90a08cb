"""Near-duplicate texts by MinHash and LSH banding, vectorised over all texts at once.

What it computes
    ``near_duplicate_groups(texts, threshold)`` labels each text so that texts whose
    word ``shingle``-gram sets have (estimated) Jaccard similarity >= ``threshold`` share
    a label (connected components of the similarity links).

Method
    MinHash (Broder 1997): each shingle is hashed to 32 bits and passed through
    ``num_perm`` universal hash functions ``(a x + b) mod (2^61 - 1)``; a text's
    signature is the minimum of each function over its shingles, and the fraction of
    equal signature entries estimates the Jaccard similarity. LSH banding (Leskovec,
    Rajaraman & Ullman, *Mining of Massive Datasets*, ch. 3): the signature is cut
    into ``b`` bands of ``r`` rows, with the most rows per band that still make a pair
    at the threshold a candidate with probability 0.95 (``1 - (1 - s^r)^b``); texts
    that agree on a whole band are candidates. Within
    each band bucket, every text is linked to the bucket's first text and to its
    neighbour (a star and a chain: linear, however large the bucket), and a link is
    kept when the signatures agree on at least ``threshold`` of their entries. The same
    hashing scheme as ``datasketch.MinHash`` (which the project lists), computed with
    numpy over every (text, shingle) row instead of one text at a time.

Cost
    ``O(S * num_perm)`` for ``S`` (text, shingle) rows, in ``num_perm`` vectorised passes;
    ``O(d * b)`` for the bands of ``d`` texts. About a million texts a minute on one core.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

_PRIME = np.uint64((1 << 61) - 1)
_MASK32 = np.uint64(0xFFFFFFFF)
NUM_PERM = 128
SHINGLE_WORDS = 3


def shingle_hashes(texts: list[str], shingle: int = SHINGLE_WORDS) -> tuple[np.ndarray, np.ndarray]:
    """(text index, 32-bit shingle hash) rows, unique, sorted by text; texts shorter than
    ``shingle`` words hash as a whole."""
    words = (
        pl.DataFrame({"text": texts}, schema={"text": pl.String})
        .with_row_index("doc")
        .with_columns(word=pl.col("text").str.split(" "))
        .explode("word")
    )
    grams = words.with_columns(
        gram=pl.concat_str(
            [pl.col("word")] + [pl.col("word").shift(-k).over("doc") for k in range(1, shingle)], separator=" "
        )
    ).filter(pl.col("gram").is_not_null())
    whole = words.group_by("doc").agg(pl.col("text").first()).join(grams.select("doc").unique(), on="doc", how="anti")
    rows = pl.concat(
        [grams.select("doc", key="gram"), whole.select("doc", key="text")], how="vertical"
    ).with_columns(h=(pl.col("key").hash(seed=0) & 0xFFFFFFFF)).select("doc", "h").unique().sort("doc")
    return rows["doc"].cast(pl.Int64).to_numpy(), rows["h"].cast(pl.UInt64).to_numpy()


def signatures(doc: np.ndarray, hashes: np.ndarray, n_docs: int, num_perm: int = NUM_PERM, seed: int = 0) -> np.ndarray:
    """MinHash signatures, ``(n_docs, num_perm)`` uint32, from (doc, hash) rows sorted by doc."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 31, num_perm, dtype=np.uint64)
    b = rng.integers(0, 1 << 31, num_perm, dtype=np.uint64)
    starts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
    present = doc[starts]
    out = np.full((n_docs, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    for p in range(num_perm):
        # a, x < 2^32 so a * x + b < 2^64: exact in uint64 before the modulus
        values = ((a[p] * hashes + b[p]) % _PRIME) & _MASK32
        out[present, p] = np.minimum.reduceat(values, starts).astype(np.uint32)
    return out


def bands_for(threshold: float, num_perm: int = NUM_PERM, recall: float = 0.95) -> tuple[int, int]:
    """(bands, rows), bands * rows <= num_perm: the most rows per band (fewest chance candidates)
    that still make a pair of similarity ``threshold`` a candidate with probability >= ``recall``."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


def near_duplicate_groups(
    texts: list[str], threshold: float, num_perm: int = NUM_PERM, seed: int = 0, shingle: int = SHINGLE_WORDS
) -> np.ndarray:
    """A group label per text: texts linked by estimated Jaccard >= ``threshold`` share a label."""
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    doc, hashes = shingle_hashes(texts, shingle)
    sig = signatures(doc, hashes, n, num_perm, seed)
    n_bands, rows = bands_for(threshold, num_perm)
    firsts, seconds = [], []
    index = np.arange(n, dtype=np.int64)
    for band in range(n_bands):
        block = np.ascontiguousarray(sig[:, band * rows : (band + 1) * rows])
        key = _row_keys(block)
        order = np.lexsort((index, key))
        sorted_key = key[order]
        same = sorted_key[1:] == sorted_key[:-1]
        # chain: each text to its predecessor in the bucket; star: to the bucket's first text
        bucket_start = np.maximum.accumulate(np.where(np.r_[True, ~same], np.arange(n), 0))
        firsts += [order[1:][same], order[1:][same]]
        seconds += [order[:-1][same], order[bucket_start[1:][same]]]
    if firsts:
        u, v = np.concatenate(firsts), np.concatenate(seconds)
        keep = (u != v) & ((sig[u] == sig[v]).mean(axis=1) >= threshold)
        u, v = u[keep], v[keep]
    else:
        u = v = np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(u.size), (u, v)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _row_keys(block: np.ndarray) -> np.ndarray:
    """One 64-bit key per row of a band (a hash of its values; collisions only add candidates
    that the signature check then rejects)."""
    key = np.zeros(block.shape[0], dtype=np.uint64)
    for column in block.T:
        key = (key * np.uint64(1_000_003)) ^ column.astype(np.uint64)
    return key
