"""Array helpers: integer codes for strings, and sorts and uniques faster than numpy's own.

Detection works on integer codes, never on strings per row: ``sorted_codes`` gives each
string its rank among the distinct ones (so codes sort as the strings do), ``union_codes``
adds more strings to such a coding, ``first_seen_codes`` codes strings whose order nothing
reads. ``stable_argsort`` and ``sorted_unique`` stand in for ``np.argsort(kind="stable")``
and ``np.unique`` where polars' multi-threaded sort, or a sort and a pass, is faster.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow.compute as pc

__all__ = ["first_seen_codes", "run_sums", "sorted_codes", "sorted_unique", "stable_argsort", "union_codes"]


def sorted_codes(strings: pl.Series, dtype: type = np.int64) -> tuple[pl.Series, np.ndarray]:
    """(the sorted distinct strings, each string's position among them as ``dtype``).

    Equal strings get equal codes and codes follow string order. The strings are
    dictionary-encoded (one hash pass), only the distinct ones are sorted, and the codes
    are remapped to their sorted positions: ``O(n + d log d)`` for ``d`` distinct strings.
    Repeated strings cost little (a fraction of a sort of all of them); distinct ones cost
    one string sort either way, far less than a binary search of every string among the
    sorted distinct ones.
    """
    encoded = pc.dictionary_encode(strings.to_arrow())
    distinct = pl.from_arrow(encoded.dictionary).cast(pl.String)
    order = distinct.arg_sort().to_numpy()
    # a null, when there is one, sorts first, as polars sorts: code 0
    nulls = int(strings.null_count() > 0)
    position = np.empty(order.size + 1, dtype=dtype)
    position[order] = np.arange(nulls, order.size + nulls, dtype=dtype)
    position[-1] = 0
    distinct = distinct.gather(order)
    if nulls:
        distinct = pl.concat([pl.Series([None], dtype=pl.String), distinct])
    return distinct.alias(strings.name), position[encoded.indices.fill_null(order.size).to_numpy()]


def union_codes(distinct: pl.Series, more: pl.Series) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    """``distinct`` (sorted distinct strings, as ``sorted_codes`` gives them) with ``more``
    (distinct strings, any order, no null) added: ``(union, moved, placed)``, the union
    sorted and distinct, ``moved[c]`` the new code of old code ``c`` and ``placed[i]`` the code
    of ``more[i]``.

    What ``sorted_codes`` of both string columns together gives, at the cost of sorting
    ``more`` and one binary search of each of it in ``distinct``: ``O(m log m + m log d + d)``
    (``co_engage``'s posts are coded while ``co_text``'s groups are found, and the originals
    of its copies added once they are).
    """
    order = more.arg_sort().to_numpy()
    added = more.gather(order)
    nulls = int(distinct.null_count() > 0)  # a null sorts first, at code 0
    strings = distinct.slice(nulls)
    at = strings.search_sorted(added, side="left").to_numpy().astype(np.int64)
    found = np.zeros(at.size, dtype=bool)
    inside = at < len(strings)
    found[inside] = (strings.gather(at[inside]) == added.filter(pl.Series(inside))).to_numpy()
    new_at = at[~found]  # where each new string goes among the old ones (sorted, as ``added`` is)
    # an old string moves up by the new strings that sort before it
    moved = np.arange(len(distinct), dtype=np.int64)
    moved[nulls:] += np.searchsorted(new_at, np.arange(len(strings)), side="right")
    placed_sorted = np.empty(at.size, dtype=np.int64)
    placed_sorted[found] = moved[nulls + at[found]]
    placed_sorted[~found] = nulls + new_at + np.arange(new_at.size)
    placed = np.empty_like(placed_sorted)
    placed[order] = placed_sorted
    union = pl.Series(distinct.name, [None] * (len(distinct) + new_at.size), dtype=pl.String)
    union = union.scatter(moved, distinct).scatter(placed_sorted[~found], added.filter(pl.Series(~found)))
    return union, moved, placed


def first_seen_codes(strings: pl.Series, dtype: type = np.int32) -> tuple[pl.Series, np.ndarray]:
    """(the distinct strings in order of first appearance, each string's position among them).

    Equal strings (and nulls) get equal codes; one hash pass, no sort: for strings whose
    order nothing reads (record ids, whose sort would be the costliest step). Strings all
    distinct (a lake's record ids, as a rule) are their own first appearances: counting the
    distinct ones costs a fraction of building the dictionary.
    """
    if strings.n_unique() == strings.len():
        return strings, np.arange(strings.len(), dtype=dtype)
    encoded = pc.dictionary_encode(strings.to_arrow(), null_encoding="encode")
    distinct = pl.from_arrow(encoded.dictionary).cast(pl.String)
    return distinct.alias(strings.name), encoded.indices.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def stable_argsort(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` (ties keep their input order), by polars'
    multi-threaded sort, several times faster than numpy's single-threaded one."""
    if values.size < 2:
        return np.arange(values.size, dtype=np.int64)
    frame = pl.DataFrame({"value": values}).with_row_index("row")
    return frame.sort("value", maintain_order=True)["row"].to_numpy().astype(np.int64)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values of an integer array, sorted: ``np.unique(values)`` (read-only).

    By polars' multi-threaded hash and sort of the distinct values: numpy 2.4's
    ``np.unique`` (without ``return_inverse``) takes a slow hash-based path on tens of
    millions of int64, and numpy sorts every value on one thread (benchmarks/RESULTS.md).
    """
    if values.size < 2:
        return values.copy()
    return pl.Series(values).unique().sort().to_numpy()


def run_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The float sum of each run ``values[starts[k]:starts[k + 1]]`` (the last to the end),
    by compensated (Kahan) summation in row order.

    The way polars' group-by sums floats, so a sum taken here over runs of sorted rows has
    the same bits as one taken by a group-by; and it is exact to an ulp where a plain
    ``np.add.reduceat`` drifts. One vectorised step per position in the runs:
    ``O(n + runs * longest run)``, meant for short runs (a pair's types).
    """
    lengths = np.diff(np.r_[starts, values.size])
    total, compensation = np.zeros(starts.size), np.zeros(starts.size)
    for k in range(int(lengths.max()) if lengths.size else 0):
        live = np.flatnonzero(lengths > k)
        y = values[starts[live] + k] - compensation[live]
        t = total[live] + y
        compensation[live] = (t - total[live]) - y
        total[live] = t
    return total
