"""The co-action partition's helpers: string columns become integer codes that decode back to
the same strings, and large arrays are ordered by one stable sort."""

from __future__ import annotations

import numpy as np
import polars as pl

from rallypoint.arrays import first_seen_codes, sorted_codes

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


def test_first_seen_codes_of_distinct_strings_are_their_positions():
    strings = pl.Series("s", ["z", None, "a", "é", "y"], dtype=pl.String)
    distinct, codes = first_seen_codes(strings)
    assert distinct.to_list() == strings.to_list()
    assert codes.tolist() == [0, 1, 2, 3, 4] and codes.dtype == np.int32
    assert first_seen_codes(strings, np.int64)[1].dtype == np.int64


def test_sorted_unique_is_numpys_unique_for_every_integer_kind():
    from rallypoint.arrays import sorted_unique

    rng = np.random.default_rng(5)
    for values in (rng.integers(0, 50, 10_000), rng.integers(-(2**62), 2**62, 10_000),
                   rng.integers(0, 2**64 - 1, 10_000, dtype=np.uint64), np.zeros(0, np.int64), np.array([3])):
        found = sorted_unique(values)
        assert np.array_equal(found, np.unique(values)) and found.dtype == values.dtype


def test_stable_argsort_orders_like_numpys_stable_sort_with_ties_in_input_order():
    from rallypoint.arrays import stable_argsort

    rng = np.random.default_rng(2)
    for values in (rng.integers(0, 20, 5_000), rng.integers(0, 2**62, 5_000), rng.integers(0, 2**64 - 1, 5_000, dtype=np.uint64),
                   np.zeros(0, np.int64), np.array([7])):
        order = stable_argsort(values)
        assert np.array_equal(order, np.argsort(values, kind="stable"))
        assert order.dtype == np.int64


def test_share_events_of_one_record_and_target_are_one_whether_ids_are_strings_or_codes():
    from datetime import UTC, datetime

    import pyarrow as pa

    from rallypoint.detectors.coaction.shares import distinct

    t = [datetime(2021, 1, 6, 12, 0, s, tzinfo=UTC) for s in (5, 1, 3, 2)]
    for ids in (pa.array(["p1", "p2", "p1", "p3"]), pa.array([7, 3, 7, 4], pa.int32())):
        # p1 links the same URL twice (and once more at another time): one event, at its first time
        shares = pa.table({"target": ["u", "u", "u", "v"], "account_id": ["a", "b", "a", "c"], "id": ids,
                           "timestamp": pa.array(t, pa.timestamp("us", "UTC"))})
        events = distinct(shares).sort_by([("target", "ascending"), ("timestamp", "ascending")])
        assert events.num_rows == 3
        assert events["id"].to_pylist() == [ids[1].as_py(), ids[0].as_py(), ids[3].as_py()]
        assert events["timestamp"].to_pylist() == [t[1], t[2], t[3]]
        # ids that never repeat: the events come back as they are, in their order
        unique = shares.slice(1)
        assert distinct(unique).equals(unique)


def test_codes_into_sorted_strings_renumber_to_the_sorted_codes_of_the_strings_present():
    from rallypoint.detectors.coaction.partition import _present_codes

    strings = pl.Series(["a", "b", "c", "d", "e", "f"])
    codes = np.array([4, 1, 4, 5, 1])  # a, c and d absent
    present, renumbered = _present_codes(codes, strings)
    expected, expected_codes = sorted_codes(strings.gather(codes))
    assert present.to_list() == expected.to_list() == ["b", "e", "f"]
    assert renumbered.tolist() == expected_codes.tolist() == [1, 0, 1, 2, 0]


def test_union_codes_code_two_columns_as_sorted_codes_codes_them_together():
    from rallypoint.arrays import union_codes

    rng = np.random.default_rng(5)
    for _ in range(50):
        old = pl.Series([None if rng.random() < 0.1 else f"p{int(k)}" for k in rng.integers(0, 40, rng.integers(0, 30))],
                        dtype=pl.String)
        new = pl.Series(list(dict.fromkeys(f"p{int(k)}" for k in rng.integers(0, 60, rng.integers(0, 20)))),
                        dtype=pl.String)
        distinct, codes = sorted_codes(old)
        union, moved, placed = union_codes(distinct, new)
        expected, expected_codes = sorted_codes(pl.concat([old, new]))
        assert union.to_list() == expected.to_list()
        assert moved[codes].tolist() == expected_codes[: len(old)].tolist()
        assert placed.tolist() == expected_codes[len(old):].tolist()
