"""Properties every burst decoding must have, on random inputs (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rallypoint.detectors import bursts as bursts_module
from rallypoint.detectors.bursts import kleinberg_bursts

gaps = st.lists(st.floats(min_value=0.01, max_value=1000.0, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(gaps=gaps, s=st.sampled_from([1.5, 2.0, 3.0]), gamma=st.sampled_from([0.5, 1.0, 2.0]))
def test_kleinberg_bursts_nest_and_the_baseline_spans_everything(gaps, s, gamma):
    offsets = np.cumsum([0.0, *gaps])
    rows = kleinberg_bursts(offsets, s=s, gamma=gamma).to_pylist()
    assert rows[0] == {"level": 1, "start": offsets[0], "end": offsets[-1]}
    for row in rows:
        assert row["start"] <= row["end"]
        assert row["start"] in offsets and row["end"] in offsets
        if row["level"] > 1:  # inside some burst one level down
            assert any(
                p["level"] == row["level"] - 1 and p["start"] <= row["start"] and row["end"] <= p["end"] for p in rows
            )


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=300),
    rate=st.floats(min_value=0.01, max_value=5.0),
    s=st.sampled_from([1.5, 2.0, 4.0]),
    gamma=st.sampled_from([0.3, 1.0, 3.0]),
)
def test_the_vectorised_two_level_decoder_equals_the_loop_on_any_series(counts, rate, s, gamma):
    counts = np.asarray(counts, dtype=np.float64)
    baseline = np.full(counts.size, rate) * (1 + 0.3 * np.sin(np.arange(counts.size)))
    scan = bursts_module._poisson_viterbi(counts, baseline, s, gamma, 2)
    loop = bursts_module._poisson_viterbi(counts, baseline, s, gamma, 2, scan=False)
    assert np.array_equal(scan, loop)
