"""Normalization: timestamps to UTC microseconds, hashtags, mentions and URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from rallypoint.ingest.normalize import (
    as_string_list,
    normalize_hashtags,
    normalize_mentions,
    normalize_url_array,
    parse_bool,
    parse_int,
    parse_timestamps,
)

JAN6 = datetime(2021, 1, 6, 17, 0, tzinfo=UTC)


def ts(values):
    return parse_timestamps(pa.array(values)).to_pylist()


def test_iso_timestamps_with_zones_become_the_same_utc_instant():
    got = ts(["2021-01-06T17:00:00Z", "2021-01-06T12:00:00-05:00", "2021-01-06T18:00:00+0100",
              "2021-01-06 17:00:00"])
    assert got == [JAN6] * 4


def test_fractions_of_a_second_keep_microseconds():
    assert ts(["2021-01-06T17:00:00.123456Z"]) == [JAN6 + timedelta(microseconds=123456)]


def test_epoch_seconds_and_milliseconds_are_told_apart_by_magnitude():
    seconds = int(JAN6.timestamp())
    assert ts([seconds, seconds * 1000]) == [JAN6, JAN6]
    assert ts([str(seconds), str(seconds * 1000 + 250)]) == [JAN6, JAN6 + timedelta(milliseconds=250)]


def test_x_v1_dates_are_parsed():
    assert ts(["Wed Jan 06 17:00:00 +0000 2021", "Wed Jan 06 18:00:00 +0100 2021"]) == [JAN6, JAN6]


def test_unparseable_timestamps_become_null_and_valid_neighbours_survive():
    assert ts(["yesterday", "2021-13-45T00:00:00Z", None, "2021-01-06T17:00:00Z"]) == [None, None, None, JAN6]


@settings(deadline=None)  # the machine is shared: timing is not what these test
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_epoch_milliseconds_round_trip(moment):
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    millis = int(round(moment.timestamp() * 1000))
    assert ts([millis]) == [moment]
    assert ts([moment.isoformat()]) == [moment]


def test_hashtags_lose_the_hash_and_case_mentions_lose_the_at():
    tags = normalize_hashtags(as_string_list(pa.array([["#StopTheSteal", "Jan6", "#"], None])))
    assert tags.to_pylist() == [["stopthesteal", "jan6"], None]
    assert normalize_mentions(as_string_list(pa.array([["@Rally", "42"]]))).to_pylist() == [["Rally", "42"]]


def test_csv_list_fields_split_on_the_bar():
    assert as_string_list(pa.array(["a| b |", "", None])).to_pylist() == [["a", "b"], [], None]


def test_url_normalization_lowercases_host_drops_fragment_and_tracking_and_sorts_query():
    urls = normalize_url_array(pa.array([
        "HTTPS://Example.COM/Path?b=2&utm_source=tw&a=1&fbclid=x#frag",
        "http://example.com",
        "https://example.com/p?gclid=1&utm_medium=e",
        "example.com/no-scheme",
    ])).to_pylist()
    assert urls == ["https://example.com/Path?a=1&b=2", "http://example.com/", "https://example.com/p",
                    "example.com/no-scheme"]


_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)


@settings(deadline=None)
@given(
    host=st.lists(_token, min_size=1, max_size=3).map(".".join),
    path=st.lists(_token, max_size=3).map(lambda p: "/" + "/".join(p)),
    params=st.lists(st.tuples(_token, _token), max_size=4),
    tracking=st.lists(st.sampled_from(["utm_source", "utm_campaign", "fbclid", "gclid"]), max_size=3),
    upper=st.booleans(),
)
def test_url_normalization_is_idempotent_and_never_keeps_tracking(host, path, params, tracking, upper):
    query = "&".join([f"{k}={v}" for k, v in params] + [f"{t}=1" for t in tracking])
    url = f"{'HTTPS' if upper else 'https'}://{host.upper() if upper else host}{path}" + (f"?{query}" if query else "")
    once = normalize_url_array(pa.array([url])).to_pylist()[0]
    assert normalize_url_array(pa.array([once])).to_pylist() == [once]
    assert once.startswith(f"https://{host}")
    for t in tracking:
        assert f"{t}=" not in once
    for k, v in params:
        if k not in {"fbclid", "gclid", "dclid", "yclid", "igshid", "wbraid", "gbraid", "msclkid", "_ga", "_gl"}:
            assert f"{k}={v}" in once


def test_integers_and_booleans_from_text():
    assert parse_int(pa.array(["12", "3.0", "x", None])).to_pylist() == [12, 3, None, None]
    assert parse_bool(pa.array(["True", "no", "1", "maybe"])).to_pylist() == [True, False, True, None]
