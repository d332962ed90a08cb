"""Benchmark lake-wide search (``rallypoint search``) on the detect benchmark's 1M-record lake.

Target (issue 20): every query form answers in under 2 s on a 1M-record lake. The lake is
the one ``benchmarks/detect.py`` simulates and ingests (cached under ``bench-output/``);
queries are taken from the lake itself (a hashtag, a handle, a domain, a link, words with
and without accents, an account id), so every one has hits. Prints wall seconds per query,
cold (first) and warm (best of three), with the hit counts and the machine's load.

    .venv/bin/python benchmarks/search.py [--records 1000000] [--lake LAKE]

Not a test: run it by hand or with ``make bench``; the CPU is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_SECONDS = 2.0


def sample_queries(lake: Path) -> dict[str, str]:
    """One query of each form, drawn from the lake's own records."""
    import polars as pl

    from rallypoint.lake import Lake

    files = [str(p) for p in Lake(lake).interaction_files()][:3]
    frame = pl.scan_parquet(files).select("id", "account_id", "account_name", "text", "urls", "hashtags").head(200_000).collect()
    tag = frame.select(pl.col("hashtags").explode().drop_nulls().mode().first()).item()
    url = frame.select(pl.col("urls").explode().drop_nulls().mode().first()).item()
    name = frame["account_name"].drop_nulls()[0]
    account = frame["account_id"][0]
    words = [w for w in frame["text"].drop_nulls()[0].split() if len(w) > 4 and w.isalpha()][:2]
    domain = url.split("://", 1)[-1].split("/", 1)[0].removeprefix("www.")
    return {"hashtag": f"#{tag}", "handle": f"@{name}", "domain": domain, "url": url,
            "words": " ".join(words) or "brasilia", "accents folded": "Brasilia", "account id": account}


def main() -> None:
    from detect import prepare

    from rallypoint.lake_search import search_lake

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lake", type=Path, default=None,
                        help="Search this lake (e.g. the dashboard benchmark's 20k world) instead of the detect one.")
    args = parser.parse_args()
    lake = args.lake or prepare(args.records, args.seed)[0]
    print(f"== search on {lake} (load average {os.getloadavg()[0]:.1f})")
    worst = 0.0
    for form, query in sample_queries(lake).items():
        times, result = [], None
        for _ in range(4):
            start = time.perf_counter()
            result = search_lake(lake, query, limit=200)
            times.append(time.perf_counter() - start)
        warm = min(times[1:])
        worst = max(worst, times[0], warm)
        print(f"  {form:15s} {query[:40]!r:44s} cold {times[0]:.2f} s, warm {warm:.2f} s; "
              f"{result.records.num_rows}{'+' if result.truncated else ''} records, {result.accounts.num_rows} accounts")
    print(f"  target (< {TARGET_SECONDS} s every query): {'met' if worst < TARGET_SECONDS else 'MISSED'} "
          f"(slowest {worst:.2f} s; load average {os.getloadavg()[0]:.1f} after)")


if __name__ == "__main__":
    main()
