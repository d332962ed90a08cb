"""One pairing task's memory per share event and per pair: what ``engine.TASK_BYTES_PER_PAIR`` is.

Runs ``engine._pair_sums`` (a cluster task's body) in a fresh process on a synthetic
partition of ``--events`` share events, either each on a target of its own (no pair) or in
targets of five sharers within the window (two distinct pairs per event, random accounts),
and prints the process's peak memory over what it held before the task, per event and per
unit of partition cost (a share event plus the pairs it forms). Results: benchmarks/RESULTS.md,
"A partition's memory".
"""

from __future__ import annotations

import argparse
import subprocess
import sys

TASK = r"""
import resource, sys, time
import numpy as np
from rallypoint.detectors.coaction.engine import _pair_sums
from rallypoint.detectors.coaction.pairs import window_ends
from rallypoint.detectors.coaction.partition import PartShares

n, shape = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(1)
group = np.arange(n, dtype=np.int64) if shape == "single" else np.repeat(np.arange(n // 5, dtype=np.int64), 5)
account = rng.integers(0, 1_000_000, n).astype(np.int64)
time_us = rng.integers(0, 10**9, n).astype(np.int64)
order = np.lexsort((time_us, group))
group, time_us = group[order], time_us[order]
kind = np.zeros(n, np.int64)
part = PartShares(group, account, time_us, kind, 1_000_000, 8, int(group.max()) + 1)
window = np.full(8, 60_000_000_000, np.int64)
ends = window_ends(group, time_us, window[kind])
chance = np.full(int(group.max()) + 1, 0.1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
result = _pair_sums(part, window, 100, chance, ends)
over = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
inputs = 4 * 8 * n + ends.nbytes  # group, account, time, kind
cost = n + result.figures["pairs_formed"]
print(f"{shape}: {n:,} events, {result.figures['pairs_formed']:,} pairs, {len(result.sums):,} sums rows; "
      f"peak over entry {over / 2**20:,.0f} MiB, with its inputs {(over + inputs) / cost:.0f} bytes per unit of cost; "
      f"{time.perf_counter() - started:.1f} s")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args()
    for shape in ("single", "five"):
        subprocess.run([sys.executable, "-c", TASK, str(args.events), shape], check=True)


if __name__ == "__main__":
    main()
