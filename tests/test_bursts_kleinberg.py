"""Kleinberg's automaton on event times agrees with R ``bursts::kleinberg`` on every reference case."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from rallypoint.detectors.bursts import BurstInputError, kleinberg_bursts
from rallypoint.errors import RallypointError

# shared/ lies beside the repository (see conftest.py)
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "bursts"


def _reference_rows() -> dict[tuple[str, float, float], list[tuple[int, float, float]]]:
    cases: dict[tuple[str, float, float], list[tuple[int, float, float]]] = {}
    with open(REFERENCE / "bursts_R_kleinberg_reference.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            key = (row["case"], float(row["s"]), float(row["gamma"]))
            cases.setdefault(key, []).append((int(row["level"]), float(row["start"]), float(row["end"])))
    return cases


REFERENCE_CASES = _reference_rows()


def test_every_reference_case_is_present():
    # 3 inputs x 3 parameter settings; if this fails the oracle files moved
    assert len(REFERENCE_CASES) == 9


@pytest.mark.parametrize("case", sorted(REFERENCE_CASES), ids=lambda c: f"{c[0]}-s{c[1]:g}-g{c[2]:g}")
def test_matches_r_bursts_kleinberg(case):
    name, s, gamma = case
    offsets = np.loadtxt(REFERENCE / f"input_{name}.txt")
    got = kleinberg_bursts(offsets, s=s, gamma=gamma)
    rows = list(zip(got["level"].to_pylist(), got["start"].to_pylist(), got["end"].to_pylist(), strict=True))
    assert rows == REFERENCE_CASES[case]


def test_level_one_is_the_baseline_spanning_all_events():
    offsets = np.loadtxt(REFERENCE / "input_man_example.txt")
    got = kleinberg_bursts(offsets).to_pylist()
    assert got[0] == {"level": 1, "start": offsets.min(), "end": offsets.max()}


def test_order_of_input_does_not_matter():
    offsets = np.loadtxt(REFERENCE / "input_two_bursts.txt")
    shuffled = np.random.default_rng(7).permutation(offsets)
    assert kleinberg_bursts(shuffled).equals(kleinberg_bursts(offsets))


def test_evenly_spaced_events_have_no_burst():
    got = kleinberg_bursts(np.arange(0.0, 500.0, 10.0))
    assert got["level"].to_pylist() == [1]


def test_a_single_event_is_level_zero_as_in_r():
    assert kleinberg_bursts([42.0]).to_pylist() == [{"level": 0, "start": 42.0, "end": 42.0}]


@pytest.mark.parametrize(
    ("offsets", "kwargs", "words"),
    [
        ([], {}, "at least one"),
        ([1.0, 2.0, 2.0, 3.0], {}, "same time"),
        ([1.0, 2.0], {"s": 1.0}, "greater than 1"),
        ([1.0, 2.0], {"gamma": 0.0}, "positive"),
        ([1.0, float("nan")], {}, "missing"),
    ],
)
def test_bad_input_is_one_clear_sentence(offsets, kwargs, words):
    with pytest.raises(BurstInputError, match=words) as caught:
        kleinberg_bursts(offsets, **kwargs)
    assert isinstance(caught.value, RallypointError)
