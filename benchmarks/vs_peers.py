"""rallypoint's co_repost against the QUT coordination-network-toolkit's co_retweet, on a viral-tailed input.

What it does
    1. Installs the toolkit (PyPI ``coordination_network_toolkit``) into its own venv
       under ``bench-output/qut-venv`` (once).
    2. Builds ROWS repost rows (default 1,000,000): POSTS original posts with Zipf(1)
       popularity (the top post gets ~90k reposts, the heavy tail), created uniformly
       over a week, each repost after an exponential delay (mean 12 h) by one of
       ACCOUNTS accounts; plus planted cells (10 accounts reposting 20 posts within
       30 s). Written once as the toolkit's CSV.
    3. Times the toolkit: ``preprocess`` then ``compute co_retweet --time_window 60
       --min_edge_weight 1``, and exports its edges.
    4. Times rallypoint: reading the same CSV with pyarrow and ``build_coaction_edges``
       (co_repost, 60 s, min participation 1, no null model) with the cap disabled
       (``max_pairs_per_share=None``), so both tools enumerate exactly.
    5. Checks both give the same undirected account pairs (self-pairs dropped) and
       prints both wall times and the ratio (target >= 10x, aim 50x). Also times the
       production setting (auto window, min participation 2, permutation null model)
       for information. Results go to ``bench-output/vs_peers.json``.

``--reuse-qut`` skips step 3 when ``bench-output/vs_peers.json`` holds a toolkit run on
the same input (same figures): its wall and CPU seconds are reported again (marked
``qut_reused``) and its pairs are read from ``bench-output/vs_peers_qut.db``, so a change
to rallypoint is measured in seconds instead of the toolkit's minutes.

Run: ``make bench`` or ``.venv/bin/python benchmarks/vs_peers.py [--rows N] [--reuse-qut]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
from rich.console import Console

from rallypoint.detectors.coaction import build_coaction_edges
from rallypoint.schema import TIMESTAMP

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-output"
VENV = OUT / "qut-venv"
console = Console(stderr=True)


def install_toolkit() -> Path:
    """The toolkit's CLI, installed into its own venv on first use."""
    cli = VENV / "bin" / "compute_networks"
    if not cli.exists():
        with console.status("installing coordination_network_toolkit into bench-output/qut-venv"):
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            subprocess.run(
                [str(VENV / "bin" / "pip"), "install", "--quiet", "coordination_network_toolkit==1.5.2"], check=True
            )
    return cli


def make_input(rows: int, posts: int, accounts: int, seed: int, path: Path) -> dict:
    """The viral-tailed repost input, as the toolkit's CSV; returns its figures."""
    rng = np.random.default_rng(seed)
    cells, cell_size, cell_posts = 50, 10, 20
    planted = cells * cell_size * cell_posts
    organic = rows - planted
    popularity = 1.0 / np.arange(1, posts + 1)
    post = rng.choice(posts, size=organic, p=popularity / popularity.sum())
    created = rng.uniform(0, 7 * 86_400, posts)
    when = created[post] + rng.exponential(12 * 3_600, organic)
    who = rng.integers(0, accounts, organic)
    # planted cells: 10 accounts repost 20 fresh posts each within 30 s
    cell = np.repeat(np.arange(cells), cell_size * cell_posts)
    member = np.tile(np.repeat(np.arange(cell_size), cell_posts), cells)
    cell_post = np.tile(np.arange(cell_posts), cells * cell_size)
    cell_post_id = posts + cell * cell_posts + cell_post
    cell_time = rng.uniform(0, 7 * 86_400, cells * cell_posts)[cell * cell_posts + cell_post] + rng.uniform(0, 30, planted)
    frame = pl.DataFrame(
        {
            "message_id": np.arange(rows),
            "user_id": np.concatenate([who, accounts + cell * cell_size + member]),
            "repost_id": np.concatenate([post, cell_post_id]),
            "timestamp": np.concatenate([when, cell_time]).astype(np.int64) + 1_600_000_000,
        }
    ).select(
        pl.col("message_id").cast(pl.String),
        pl.format("u{}", "user_id").alias("user_id"),
        pl.format("u{}", "user_id").alias("username"),
        pl.format("p{}", "repost_id").alias("repost_id"),
        pl.lit("").alias("reply_id"),
        pl.lit("").alias("message"),
        "timestamp",
        pl.lit("").alias("urls"),
    )
    frame.write_csv(path)
    counts = frame.group_by("repost_id").len()["len"]
    return {"rows": rows, "posts": int(counts.len()), "max_reposts_per_post": int(counts.max()),
            "accounts": int(frame["user_id"].n_unique()), "planted_pairs": cells * cell_size * (cell_size - 1) // 2}


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_toolkit(cli: Path, csv_path: Path) -> tuple[float, float, pl.DataFrame]:
    db = OUT / "vs_peers_qut.db"
    db.unlink(missing_ok=True)
    started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
    with console.status("QUT toolkit: preprocess"):
        subprocess.run([str(cli), str(db), "preprocess", "--format", "csv", str(csv_path)], check=True,
                       stdout=subprocess.DEVNULL)
    with console.status("QUT toolkit: compute co_retweet (time window 60)"):
        subprocess.run([str(cli), str(db), "compute", "co_retweet", "--time_window", "60", "--min_edge_weight", "1"],
                       check=True, stdout=subprocess.DEVNULL)
    seconds, cpu = time.perf_counter() - started, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu
    return seconds, cpu, toolkit_pairs(db)


def toolkit_pairs(db: Path) -> pl.DataFrame:
    """The toolkit's undirected co_retweet pairs (self-pairs dropped), read from its SQLite database
    (its own CSV export fails in 1.5.2: output_gephi_csv and n_messages)."""
    import sqlite3

    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "select min(user_1, user_2), max(user_1, user_2) from co_retweet_network where user_1 != user_2"
        )
        chunks: list[pl.DataFrame] = []
        while batch := rows.fetchmany(1_000_000):
            chunks.append(pl.DataFrame(batch, schema=["account_a", "account_b"], orient="row"))
    return (pl.concat(chunks) if chunks else pl.DataFrame(schema={"account_a": pl.String, "account_b": pl.String})).unique()


def reused_toolkit_run(figures: dict) -> tuple[float, float, pl.DataFrame]:
    """The last toolkit run's seconds, CPU seconds and pairs, if it ran on an input with ``figures``."""
    report, db = OUT / "vs_peers.json", OUT / "vs_peers_qut.db"
    last = json.loads(report.read_text()) if report.exists() else {}
    if last.get("input") != figures or not db.exists() or "qut_cpu_seconds" not in last:
        sys.exit("--reuse-qut: no toolkit run on this input in bench-output/vs_peers.json; run without it once")
    return last["qut_seconds"], last["qut_cpu_seconds"], toolkit_pairs(db)


def read_records(csv_path: Path) -> pa.Table:
    raw = pacsv.read_csv(
        csv_path,
        convert_options=pacsv.ConvertOptions(
            include_columns=["message_id", "user_id", "repost_id", "timestamp"],
            column_types={"message_id": pa.string(), "user_id": pa.string(), "repost_id": pa.string(),
                          "timestamp": pa.int64()},
        ),
    )
    n = raw.num_rows
    return pa.table(
        {
            "id": raw["message_id"],
            "account_id": raw["user_id"],
            "timestamp": pa.compute.multiply(raw["timestamp"], 1_000_000).cast(TIMESTAMP),
            "action": pa.repeat("repost", n),
            "target_id": raw["repost_id"],
        }
    )


def run_rallypoint(csv_path: Path, **kwargs) -> tuple[float, float, object]:
    started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_SELF)
    with console.status(f"rallypoint: co_repost {kwargs}"):
        result = build_coaction_edges(read_records(csv_path), types=["co_repost"], **kwargs)
    return time.perf_counter() - started, cpu_seconds(resource.RUSAGE_SELF) - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reuse-qut", action="store_true",
                        help="report the toolkit's last run on the same input instead of running it again")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    cli = install_toolkit()
    csv_path = OUT / f"vs_peers_input_{args.rows}_{args.seed}.csv"
    with console.status(f"building the {args.rows:,}-row input"):
        figures = make_input(args.rows, args.posts, args.accounts, args.seed, csv_path)
    console.print(f"input: {figures}")

    ours_seconds, ours_cpu, ours = run_rallypoint(
        csv_path, window=60, min_participation=1, null_model="none", max_pairs_per_share=None
    )
    our_pairs = pl.from_arrow(ours.edges.select(["account_a", "account_b"]))
    console.print(f"rallypoint: {ours_seconds:.1f} s, {our_pairs.height:,} pairs, {ours.stats['pairs_formed']:,} co-share pairs")

    qut_seconds, qut_cpu, qut_pairs = reused_toolkit_run(figures) if args.reuse_qut else run_toolkit(cli, csv_path)
    console.print(f"QUT toolkit: {qut_seconds:.1f} s, {qut_pairs.height:,} pairs")
    # compared as columns (8 million pairs as Python tuples would take gigabytes)
    only_ours = our_pairs.join(qut_pairs, on=["account_a", "account_b"], how="anti").height
    only_qut = qut_pairs.join(our_pairs, on=["account_a", "account_b"], how="anti").height
    n_pairs, co_share_pairs = our_pairs.height, ours.stats["pairs_formed"]
    del ours, our_pairs, qut_pairs

    production_seconds, production_cpu, production = run_rallypoint(csv_path, window="auto", min_participation=2,
                                                    null_model="permutation")
    base = args.accounts  # planted cell members are numbered after the organic accounts
    planted = pl.DataFrame(
        [(f"u{base + 10 * c + i}", f"u{base + 10 * c + j}") for c in range(50) for i in range(10) for j in range(i + 1, 10)],
        schema=["account_a", "account_b"], orient="row",
    )
    kept = pl.from_arrow(production.edges.select(["account_a", "account_b"]))
    planted_kept = planted.join(kept, on=["account_a", "account_b"], how="semi").height
    report = {
        "input": figures,
        # the machine may be shared: the 1/5/15-minute load average when the runs ended
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "qut_seconds": round(qut_seconds, 2),
        "rallypoint_seconds": round(ours_seconds, 2),
        "speedup": round(qut_seconds / ours_seconds, 1),
        # CPU seconds (user + system) tell the same story on a shared machine, where wall time
        # depends on the load of other processes
        "qut_cpu_seconds": round(qut_cpu, 2),
        "qut_reused": bool(args.reuse_qut),
        "rallypoint_cpu_seconds": round(ours_cpu, 2),
        "cpu_speedup": round(qut_cpu / max(ours_cpu, 1e-9), 1),
        "same_pairs": only_ours == only_qut == 0,
        "pairs": n_pairs,
        "only_rallypoint": only_ours,
        "only_qut": only_qut,
        "co_share_pairs": co_share_pairs,
        "cap": "disabled for the exact comparison",
        "production": {
            "seconds": round(production_seconds, 2),
            "cpu_seconds": round(production_cpu, 2),
            "window_seconds": production.window_seconds,
            "edges_kept": production.edges.num_rows,
            "candidate_edges": production.stats["candidate_edges"],
            "planted_pairs_kept": planted_kept,
            "planted_pairs": planted.height,
        },
    }
    (OUT / "vs_peers.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    if not report["same_pairs"]:
        sys.exit("rallypoint and the QUT toolkit disagree on the account pairs")


if __name__ == "__main__":
    main()
