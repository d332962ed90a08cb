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
    ``O((U + S) * num_perm)`` for ``S`` (text, shingle) rows of ``U`` distinct shingles, in
    ``num_perm`` vectorised passes;
    ``O(d * b log d)`` for the bands of ``d`` texts. Memory: the ``d x num_perm`` uint32
    signatures, plus working sets bounded by
    ``DOC_CHUNK`` texts and ``LINK_CHUNK`` candidate links.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from rallypoint.arrays import sorted_unique, stable_argsort
from rallypoint.detectors.options import THREADS

_PRIME = np.uint64((1 << 61) - 1)
_MASK32 = np.uint64(0xFFFFFFFF)
NUM_PERM = 128
SHINGLE_WORDS = 3
#: Texts shingled and hashed at a time (their word and shingle rows are the largest working set).
DOC_CHUNK = 250_000
#: Threads computing signatures, bands and link checks (numpy's sorts and passes release the GIL).
SIGNATURE_WORKERS = THREADS
#: Permutations one thread hashes and reduces at a time (16 was fastest of 4-64 on 250k texts).
PERM_BLOCK = 16
#: Candidate links whose signatures one thread compares at a time (two ``num_perm`` rows each).
LINK_CHUNK = 500_000


def as_text_series(texts: Sequence[str] | pl.Series) -> pl.Series:
    """Texts as a polars String series (kept as is when they already are one)."""
    return texts if isinstance(texts, pl.Series) else pl.Series("text", list(texts), dtype=pl.String)


def shingle_hashes(texts: Sequence[str] | pl.Series, shingle: int = SHINGLE_WORDS) -> tuple[np.ndarray, np.ndarray]:
    """(text index, 32-bit shingle hash) rows, unique, sorted by text; texts shorter than
    ``shingle`` words hash as a whole.

    The words are exploded once and each shingle is the words from one on, shifted over
    the whole column and kept when its last word is still in the same text (a shift per
    text, ``over``, cost most of this step); rows are made unique and sorted
    by one sort of an int64 (text, hash) key.
    """
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    # the words without their text: exploding the text along would copy it once per word
    words = frame.select(word=pl.col("text").str.split(" ")).with_row_index("doc").explode("word")
    grams = words.select(
        "doc",
        gram=pl.concat_str([pl.col("word")] + [pl.col("word").shift(-k) for k in range(1, shingle)], separator=" "),
        inside=pl.col("doc").shift(1 - shingle) == pl.col("doc"),
    ).filter("inside")
    del words
    gram_doc = grams["doc"].cast(pl.Int64).to_numpy()
    gram = grams["gram"].hash(seed=0).to_numpy()
    del grams
    has_gram = np.zeros(frame.height, dtype=bool)
    has_gram[gram_doc] = True
    short = np.flatnonzero(~has_gram)
    whole = frame["text"].gather(short).hash(seed=0).to_numpy()
    key = sorted_unique(np.concatenate([gram_doc, short]).astype(np.uint64) << np.uint64(32)
                        | (np.concatenate([gram, whole]) & _MASK32))
    return (key >> np.uint64(32)).astype(np.int64), key & _MASK32


def signatures(doc: np.ndarray, hashes: np.ndarray, n_docs: int, num_perm: int = NUM_PERM, seed: int = 0,
               workers: int = SIGNATURE_WORKERS) -> np.ndarray:
    """MinHash signatures, ``(n_docs, num_perm)`` uint32, from (doc, hash) rows sorted by doc.

    Each block of ``PERM_BLOCK`` permutations hashes the distinct shingle hashes once and
    each row looks its values up: texts share most of their shingles (millions of rows
    hold tens of thousands of distinct ones), so the arithmetic runs over far fewer values than
    rows. Texts with the same number of rows form one (rows, texts, block) array whose
    minimum is taken along its first axis (``np.minimum.reduceat`` over each text's few
    rows pays a call per text and permutation). The
    blocks are split among ``workers`` threads (numpy's passes release the GIL), each
    writing its own columns. ``O(D log D + (U + S) * num_perm)`` for ``S`` rows of ``U``
    distinct hashes over ``D`` texts (the hashes are found by hashing, the texts sorted by
    their number of rows).
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 31, num_perm, dtype=np.uint64)
    b = rng.integers(0, 1 << 31, num_perm, dtype=np.uint64)
    out = np.full((n_docs, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    if doc.size == 0:
        return out
    starts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
    present, lengths = doc[starts], np.diff(np.r_[starts, doc.size])
    # the distinct hashes in order of first appearance, and each row's position among them:
    # one hash pass: np.unique would sort them, and their order is not read
    encoded = pc.dictionary_encode(pa.array(hashes))
    distinct, row_hash = encoded.dictionary.to_numpy(), encoded.indices.to_numpy()
    del encoded
    by_length = np.argsort(lengths, kind="stable")
    bounds = np.flatnonzero(np.r_[True, lengths[by_length][1:] != lengths[by_length][:-1], True])
    # per number of rows: those texts, and their rows' positions among the distinct hashes
    same_length = [(present[which], row_hash[starts[which] + np.arange(lengths[which[0]])[:, None]])
                   for which in (by_length[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True))]

    def fill(perms: range) -> None:
        # a, x < 2^32 so a * x + b < 2^64: exact in uint64 before the modulus
        values = np.multiply.outer(distinct, a[perms.start:perms.stop])
        values += b[perms.start:perms.stop]
        _mod_mersenne61(values, np.empty_like(values), np.empty(values.shape, dtype=bool))
        values &= _MASK32
        values = values.astype(np.uint32)
        for texts, rows in same_length:
            out[texts, perms.start:perms.stop] = values[rows].min(axis=0)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(fill, [range(k, min(k + PERM_BLOCK, num_perm)) for k in range(0, num_perm, PERM_BLOCK)]))
    return out


def _mod_mersenne61(values: np.ndarray, high: np.ndarray, wraps: np.ndarray) -> None:
    """``values %= 2^61 - 1`` in place, without a division: ``2^61 = 1`` modulo the prime, so
    ``x = hi * 2^61 + lo`` is ``hi + lo`` (below ``2^61 + 8``), less the prime once if it is
    not below it. Equal to ``%`` bit for bit, about 2.7 times as fast in numpy.
    ``high``, ``wraps``: scratch arrays of the same length."""
    np.right_shift(values, np.uint64(61), out=high)
    values &= _PRIME
    values += high
    np.greater_equal(values, _PRIME, out=wraps)
    np.subtract(values, _PRIME, out=values, where=wraps)


def bands_for(threshold: float, num_perm: int = NUM_PERM, recall: float = 0.95) -> tuple[int, int]:
    """(bands, rows), bands * rows <= num_perm: the most rows per band (fewest chance candidates)
    that still make a pair of similarity ``threshold`` a candidate with probability >= ``recall``."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


def near_duplicate_groups(
    texts: Sequence[str] | pl.Series,
    threshold: float,
    num_perm: int = NUM_PERM,
    seed: int = 0,
    shingle: int = SHINGLE_WORDS,
    doc_chunk: int = DOC_CHUNK,
    link_chunk: int = LINK_CHUNK,
) -> np.ndarray:
    """A group label per text: texts linked by estimated Jaccard >= ``threshold`` share a label.

    ``doc_chunk`` texts are shingled and hashed at a time (the next chunk's shingles on a
    thread while this chunk's signatures are computed) and ``link_chunk`` candidate links
    checked at a time by each of ``SIGNATURE_WORKERS`` threads, so memory is the signature
    matrix (``4 * num_perm`` bytes a text) plus bounded working sets, whatever the number
    of texts.
    """
    texts = as_text_series(texts)
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sig = np.empty((n, num_perm), dtype=np.uint32)
    starts = range(0, n, doc_chunk)
    with ThreadPoolExecutor(1) as shingler:
        # the next chunk's shingles (mostly one core) are hashed while this chunk's signatures are computed
        shingled = shingler.submit(shingle_hashes, texts.slice(0, doc_chunk), shingle)
        for start in starts:
            doc, hashes = shingled.result()
            if start + doc_chunk < n:
                shingled = shingler.submit(shingle_hashes, texts.slice(start + doc_chunk, doc_chunk), shingle)
            size = min(doc_chunk, n - start)
            sig[start : start + size] = signatures(doc, hashes, size, num_perm, seed)
            del doc, hashes
    n_bands, rows = bands_for(threshold, num_perm)
    with ThreadPoolExecutor(SIGNATURE_WORKERS) as pool:
        links = list(pool.map(lambda band: _band_links(np.ascontiguousarray(sig[:, band * rows:(band + 1) * rows])),
                              range(n_bands)))
        # identical texts agree on every band: keep each candidate link once before checking it
        candidates = sorted_unique(np.concatenate(links)) if links else np.zeros(0, np.int64)
        del links

        def similar(start: int) -> np.ndarray:
            chunk = candidates[start : start + link_chunk]
            u, v = np.divmod(chunk, n)
            # the share of equal entries, as ``mean`` computes it (a count, divided) but without
            # its float pass over every entry
            return chunk[np.count_nonzero(sig[u] == sig[v], axis=1) / num_perm >= threshold]

        kept = list(pool.map(similar, range(0, candidates.size, link_chunk)))
    u, v = np.divmod(np.concatenate(kept), n) if kept else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    graph = coo_matrix((np.ones(u.size), (u, v)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _band_links(block: np.ndarray) -> np.ndarray:
    """Candidate links ``u * n + v`` (``u > v``) of one band: within each bucket of texts that
    agree on the whole band, each text to its predecessor (a chain) and to the bucket's first
    text (a star) — linear, however large the bucket."""
    n = block.shape[0]
    key = _row_keys(block)
    order = stable_argsort(key)
    sorted_key = key[order]
    same = sorted_key[1:] == sorted_key[:-1]
    bucket_start = np.maximum.accumulate(np.where(np.r_[True, ~same], np.arange(n), 0))
    later = order[1:][same]
    # order is by (key, index): a bucket's earlier members have smaller indices
    return np.concatenate([later * n + order[:-1][same], later * n + order[bucket_start[1:][same]]])


def _row_keys(block: np.ndarray) -> np.ndarray:
    """One 64-bit key per row of a band (a hash of its values; collisions only add candidates
    that the signature check then rejects)."""
    key = np.zeros(block.shape[0], dtype=np.uint64)
    for column in block.T:
        key = (key * np.uint64(1_000_003)) ^ column.astype(np.uint64)
    return key
