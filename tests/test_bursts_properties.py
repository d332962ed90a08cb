"""Properties every burst decoding must have, on random inputs (hypothesis)."""

from __future__ import annotations

import math

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


def reference_viterbi(counts, baseline, s, gamma, n_levels):
    """Viterbi over the Poisson levels written plainly, bin by bin: what the compiled pass must equal."""
    rates = baseline[:, None] * (s ** np.arange(n_levels))[None, :]
    emission = (rates - counts[:, None] * np.log(rates)).tolist()
    step_up = gamma * math.log(max(counts.size, 2))
    cost = [0.0] + [math.inf] * (n_levels - 1)
    back = []
    for row in emission:
        moves = [min(range(n_levels), key=lambda i, j=j: (cost[i] + (j - i) * step_up if i < j else cost[i], i))
                 for j in range(n_levels)]
        back.append(moves)
        cost = [(cost[i] + (j - i) * step_up if i < j else cost[i]) + row[j] for j, i in enumerate(moves)]
    state = min(range(n_levels), key=lambda j: (cost[j], j))
    path = []
    for moves in reversed(back):
        path.append(state)
        state = moves[state]
    return np.array(path[::-1])


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=300),
    rate=st.floats(min_value=0.01, max_value=5.0),
    s=st.sampled_from([1.5, 2.0, 4.0]),
    gamma=st.sampled_from([0.3, 1.0, 3.0]),
    n_levels=st.sampled_from([2, 3, 4]),
)
def test_the_compiled_decoder_equals_the_plain_viterbi_on_any_series(counts, rate, s, gamma, n_levels):
    counts = np.asarray(counts, dtype=np.float64)
    baseline = np.full(counts.size, rate) * (1 + 0.3 * np.sin(np.arange(counts.size)))
    compiled = bursts_module._poisson_viterbi(counts, baseline, s, gamma, n_levels)
    assert np.array_equal(compiled, reference_viterbi(counts, baseline, s, gamma, n_levels))
