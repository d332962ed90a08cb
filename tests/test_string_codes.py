"""String columns become integer codes once, and the codes decode back to the same strings."""

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
