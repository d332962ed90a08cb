"""The co-action partition's helpers: string columns become integer codes that decode back to
the same strings, and large arrays are ordered by one stable sort."""

from __future__ import annotations

import numpy as np
import polars as pl

from rallypoint.detectors.coaction.partition import first_seen_codes, sorted_codes

STRINGS = pl.Series("s", ["b", "a", None, "b", "c", "a", None, "é"], dtype=pl.String)


def test_sorted_codes_follow_string_order_with_nulls_first():
    distinct, codes = sorted_codes(STRINGS)
    assert distinct.to_list() == [None, "a", "b", "c", "é"]
    assert distinct.gather(codes).to_list() == STRINGS.to_list()


def test_first_seen_codes_number_strings_as_they_come_and_decode_to_them():
    distinct, codes = first_seen_codes(STRINGS)
    assert distinct.to_list() == ["b", "a", None, "c", "é"]
    assert codes.tolist() == [0, 1, 2, 0, 3, 1, 2, 4]
    assert distinct.gather(codes).to_list() == STRINGS.to_list()
    assert codes.dtype == np.int32


def test_stable_argsort_orders_like_numpys_stable_sort_with_ties_in_input_order():
    from rallypoint.detectors.coaction.partition import stable_argsort

    rng = np.random.default_rng(2)
    for values in (rng.integers(0, 20, 5_000), rng.integers(0, 2**62, 5_000), rng.integers(0, 2**64 - 1, 5_000, dtype=np.uint64),
                   np.zeros(0, np.int64), np.array([7])):
        order = stable_argsort(values)
        assert np.array_equal(order, np.argsort(values, kind="stable"))
        assert order.dtype == np.int64
