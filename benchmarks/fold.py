"""Benchmark the mobilization signals' text folding (``patterns.fold_expr``) on link-heavy text.

Folding reads masked words (leet, look-alike letters, invisible characters) with Python on
the rows a whole-column test picks. Real posts carry links whose random letters and digits
look masked (``t.co/Ab3dE5fG``), so this times ``fold_expr`` on texts of 8-30 words with and
without a shortened link in a share of them, and prints how many rows the row test sends
to Python, the CPU seconds, and the machine's load.

    .venv/bin/python benchmarks/fold.py [--texts 200000] [--link-share 0.4]

Not a test: run it by hand; the CPU is shared.
"""

from __future__ import annotations

import argparse
import os
import string
import time

import numpy as np
import polars as pl

WORDS = ["the", "vote", "was", "great", "today", "see", "you", "all", "at", "the", "park", "tomorrow",
         "with", "friends", "and", "family", "news", "update"]


def texts(n: int, link_share: float, seed: int = 1) -> pl.Series:
    """``n`` texts of 8-30 ordinary words, a ``link_share`` of them ending in a shortened link."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(8, 31, n)
    words = np.array(WORDS)[rng.integers(0, len(WORDS), int(lengths.sum()))]
    alphabet = np.array(list(string.ascii_letters + string.digits))
    codes = ["".join(row) for row in alphabet[rng.integers(0, len(alphabet), (n, 10))]]
    has_link = rng.random(n) < link_share
    out, start = [], 0
    for i, length in enumerate(lengths):
        text = " ".join(words[start:start + length])
        start += length
        out.append(f"{text} https://t.co/{codes[i]}" if has_link[i] else text)
    return pl.Series("text", out)


def main() -> None:
    from rallypoint.detectors.mobilization import patterns

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=200_000)
    parser.add_argument("--link-share", type=float, default=0.4)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    for share in (0.0, args.link_share):
        frame = texts(args.texts, share).to_frame()
        lowered = frame.select(pl.col("text").str.to_lowercase()).to_series()
        picked = patterns.masked_rows(lowered).len()
        started = time.process_time()
        frame.select(patterns.fold_expr(pl.col("text")))
        cpu = time.process_time() - started
        print(f"{args.texts:,} texts, {share:.0%} with a link: {picked:,} rows through Python, "
              f"fold_expr {cpu:.2f} CPU-s")


if __name__ == "__main__":
    main()
