"""House rules a reader relies on: measurements live in benchmarks/RESULTS.md, not in the code."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rallypoint"

#: How a benchmark figure reads when it creeps into a comment or docstring.
TIMING_PATTERNS = [
    re.compile(r"\d+(\.\d+)?\s?(s|ms|CPU-s|GiB|MiB|GB|MB)\s*(->|→|against)\s*\d"),
    re.compile(r"\btook (about |~)?\d"),
    re.compile(r"\d+(\.\d+)?\s?[x×] (slower|faster)"),
    re.compile(r"\b10M (records|benchmark)\b"),
    re.compile(r"\(measured\b", re.IGNORECASE),
]


def test_no_benchmark_figures_in_the_code():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(p.search(line) for p in TIMING_PATTERNS):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert not found, "benchmark figures belong in benchmarks/RESULTS.md:\n" + "\n".join(found)


def test_the_pattern_catches_a_figure():
    assert any(p.search("# sorting took 16 s at scale") for p in TIMING_PATTERNS)
    assert any(p.search("# (3.97 s -> 1.68 s)") for p in TIMING_PATTERNS)
    assert not any(p.search('window="60s"') for p in TIMING_PATTERNS)
