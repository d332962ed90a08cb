"""rallypoint's exact co-action network against the QUT coordination-network-toolkit's co_retweet.

What it does
    1. Installs the toolkit (PyPI ``coordination_network_toolkit``) into its own venv
       under ``bench-output/qut-venv`` (once).
    2. Builds ROWS repost rows (default 1,000,000) of a ``--preset``, deterministically
       (``--seed``): original posts with Zipf(1) popularity, created uniformly over a week,
       each repost after an exponential delay by one of 200,000 accounts; plus planted
       cells (10 accounts reposting 20 posts within 30 s). Written as the toolkit's CSV.
         * ``viral`` (default): 50,000 posts, mean delay 12 h; top post ~87k reposts,
           8.7M co-share pairs within 60 s.
         * ``heavy``: issue #17's heavy tail: 100,000 posts, mean delay 1 h, an account
           reposts a post at most once; top post 81,864 reposts, 92,025,175 co-share
           pairs within 60 s (counted by the generator and printed).
    3. Times the toolkit: ``preprocess`` then ``compute co_retweet --time_window 60
       --min_edge_weight 1``; records its times as soon as it ends.
    4. Times rallypoint's exact path, the library call of ``rallypoint network --exact
       --window 60s --min-participation 1 --null none`` (``write_network``) on the same
       CSV read with pyarrow: no cap, no sampling, partitioned and spilled, the edges
       written to Parquet as they are formed and read back for the comparison.
    5. Checks both give the same undirected account pairs (self-pairs dropped) and, on
       the one-repost ``heavy`` input, the same counts pair by pair (there the toolkit's
       directed weights, both ways, equal rallypoint's co-share pairs and distinct posts);
       prints wall and CPU times and their ratios (target >= 10x, aim 50x), rallypoint's
       peak RSS and the load average around each run. Also times the production setting
       (auto window, min participation 2, permutation null model, the cap) for
       information. Results go to ``bench-output/vs_peers_{preset}.json``.

``--qut-only`` runs steps 1-3 and stops, ``--rallypoint-only`` step 4 (its figures and pairs
kept in ``vs_peers_{preset}_rallypoint.json`` and ``_rallypoint_pairs.parquet``, which
``--reuse-rallypoint`` compares later): the two sides may run apart. ``--reuse-qut`` skips step 3 when
``bench-output/vs_peers_{preset}_qut.json`` holds a toolkit run on the same input (same
figures) and reports its times again (marked ``qut_reused``), its pairs read from
``vs_peers_{preset}_qut.db``: a change to rallypoint is measured without the toolkit's
minutes (an hour on ``heavy``). Other ``--rows``/``--seed`` keep files of their own.

Run: ``make bench`` or ``.venv/bin/python benchmarks/vs_peers.py [--preset heavy] [--rows N]
[--qut-only | --reuse-qut]``; the ``heavy`` preset under ``flock /tmp/rallypoint-heavy.lock``
on a shared machine (the toolkit's database and the comparison of ~90M pairs take gigabytes;
rallypoint's exact run writes its edges as they are formed, as ``rallypoint network`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
from rich.console import Console

from rallypoint.detectors.coaction.build import CoactionResult
from rallypoint.detectors.coaction.network import NetworkOptions, NetworkResult, network_edges, write_network
from rallypoint.schema import TIMESTAMP

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-output"
VENV = OUT / "qut-venv"
console = Console(stderr=True)
#: Planted cells: CELLS groups of CELL_SIZE accounts, numbered after the organic accounts,
#: each member reposting the cell's CELL_POSTS fresh posts within 30 s.
CELLS, CELL_SIZE, CELL_POSTS = 50, 10, 20


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


@dataclass(frozen=True)
class Preset:
    """An input: ``posts`` with Zipf(1) popularity, reposts after an exponential delay of
    mean ``mean_delay`` seconds by ``accounts`` accounts; ``one_repost``: an account reposts
    a post at most once (as on X, where a repost is a toggle), so the toolkit's directed
    weights and rallypoint's co-share counts must be equal pair by pair."""

    posts: int
    accounts: int
    mean_delay: float
    one_repost: bool


PRESETS = {
    # 8.7M co-share pairs within 60 s; the figures of RESULTS.md since 28 Nov
    "viral": Preset(posts=50_000, accounts=200_000, mean_delay=12 * 3_600, one_repost=False),
    # issue #17's heavy tail: the top post reposted ~82k times, ~92M co-share pairs within 60 s
    "heavy": Preset(posts=100_000, accounts=200_000, mean_delay=3_600, one_repost=True),
}


def make_input(rows: int, preset: Preset, seed: int, path: Path) -> dict:
    """The heavy-tailed repost input, as the toolkit's CSV; returns its figures."""
    rng = np.random.default_rng(seed)
    posts, accounts = preset.posts, preset.accounts
    cells, cell_size, cell_posts = CELLS, CELL_SIZE, CELL_POSTS
    planted = cells * cell_size * cell_posts
    organic = rows - planted
    popularity = 1.0 / np.arange(1, posts + 1)
    post = rng.choice(posts, size=organic, p=popularity / popularity.sum())
    created = rng.uniform(0, 7 * 86_400, posts)
    when = created[post] + rng.exponential(preset.mean_delay, organic)
    who = rng.integers(0, accounts, organic)
    while preset.one_repost:
        # a second repost of the same post by the same account gets another account
        again = ~pl.DataFrame({"who": who, "post": post}).select(pl.struct("who", "post").is_first_distinct()).to_series()
        if not again.any():
            break
        who[again.to_numpy()] = rng.integers(0, accounts, int(again.sum()))
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
    )
    figures = {"rows": rows, **asdict(preset), "seed": seed,
               "posts_reposted": int(frame["repost_id"].n_unique()),
               "max_reposts_per_post": int(frame.group_by("repost_id").len()["len"].max()),
               "accounts_active": int(frame["user_id"].n_unique()),
               "co_share_pairs_60s": co_share_pairs(frame, 60) if preset.one_repost else None,
               "planted_pairs": cells * cell_size * (cell_size - 1) // 2}
    frame.select(
        pl.col("message_id").cast(pl.String),
        pl.format("u{}", "user_id").alias("user_id"),
        pl.format("u{}", "user_id").alias("username"),
        pl.format("p{}", "repost_id").alias("repost_id"),
        pl.lit("").alias("reply_id"),
        pl.lit("").alias("message"),
        "timestamp",
        pl.lit("").alias("urls"),
    ).write_csv(path)
    return figures


def co_share_pairs(frame: pl.DataFrame, window: int) -> int:
    """Unordered pairs of reposts of the same post by two accounts at most ``window`` s apart
    (the toolkit's ``between t - window and t + window``), counted by binary search; on a
    one-repost input, where two reposts of a post are always by two accounts."""
    ordered = frame.sort("repost_id", "timestamp")
    key = ordered["repost_id"].to_numpy().astype(np.int64) << 40 | ordered["timestamp"].to_numpy()
    reach = np.searchsorted(key, key + window, side="right") - np.arange(len(key)) - 1
    return int(reach.sum())


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_toolkit(cli: Path, csv_path: Path, stem: str, figures: dict) -> dict:
    """The toolkit's run on ``csv_path``, recorded in ``{stem}_qut.json`` as soon as it ends
    (its database ``{stem}_qut.db`` is kept for the comparison and for ``--reuse-qut``)."""
    db = OUT / f"{stem}_qut.db"
    db.unlink(missing_ok=True)
    before = load_average()
    started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
    with console.status("QUT toolkit: preprocess"):
        subprocess.run([str(cli), str(db), "preprocess", "--format", "csv", str(csv_path)], check=True,
                       stdout=subprocess.DEVNULL)
    with console.status("QUT toolkit: compute co_retweet (time window 60)"):
        subprocess.run([str(cli), str(db), "compute", "co_retweet", "--time_window", "60", "--min_edge_weight", "1"],
                       check=True, stdout=subprocess.DEVNULL)
    run = {
        "input": figures,
        "qut_seconds": round(time.perf_counter() - started, 2),
        "qut_cpu_seconds": round(cpu_seconds(resource.RUSAGE_CHILDREN) - cpu, 2),
        # the largest resident set of any one of its processes
        "qut_peak_rss_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2),
        "qut_load_average": {"before": before, "after": load_average()},
        "qut_ended": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    (OUT / f"{stem}_qut.json").write_text(json.dumps(run, indent=2))
    return run


def reused_run(flag: str, record: Path, kept: Path, figures: dict) -> dict:
    """The run recorded in ``record`` (its ``kept`` file beside it) when it was on an input with
    ``figures``; otherwise the benchmark stops with one sentence naming ``flag``."""
    last = json.loads(record.read_text()) if record.exists() else {}
    if last.get("input") != figures or not kept.exists():
        sys.exit(f"{flag}: no run on this input in bench-output/{record.name}; run without {flag} once")
    return last


def reused_toolkit_run(stem: str, figures: dict) -> dict:
    """The last toolkit run on an input with ``figures``, as ``run_toolkit`` recorded it."""
    return reused_run("--reuse-qut", OUT / f"{stem}_qut.json", OUT / f"{stem}_qut.db", figures)


def toolkit_export(db: Path) -> Path:
    """The toolkit's co_retweet network as Parquet of undirected rows of account numbers
    (``u{n}``): ``account_a < account_b``, ``weight`` (one row per direction). Self-pairs
    dropped. Exported with the sqlite3 shell as CSV, then streamed to Parquet: its own CSV
    export fails in 1.5.2 (output_gephi_csv and n_messages), and a hundred million rows
    through Python's sqlite3 cursor take minutes."""
    export, out = db.with_suffix(".csv"), db.with_suffix(".parquet")
    query = ("select cast(substr(user_1, 2) as integer), cast(substr(user_2, 2) as integer), weight "
             "from co_retweet_network where user_1 != user_2")
    try:
        with export.open("wb") as sink:
            subprocess.run(["sqlite3", "-csv", "-noheader", str(db), query], check=True, stdout=sink)
        (pl.scan_csv(export, has_header=False, new_columns=["user_1", "user_2", "weight"],
                     schema_overrides=[pl.Int32, pl.Int32, pl.Int32])
         .select(account_a=pl.min_horizontal("user_1", "user_2"), account_b=pl.max_horizontal("user_1", "user_2"),
                 weight="weight")
         .sink_parquet(out))
    except FileNotFoundError:
        sys.exit("reading the toolkit's network needs the sqlite3 command-line shell (apt-get install sqlite3)")
    finally:
        export.unlink(missing_ok=True)
    return out


def toolkit_pairs(export: Path, lo: int, hi: int) -> pl.DataFrame:
    """``toolkit_export``'s pairs with ``lo <= account_a < hi``, one row per pair: its two
    directed weights (``weight_min``, ``weight_max``) and how many directions it gave."""
    return (
        pl.scan_parquet(export).filter(pl.col("account_a").is_between(lo, hi, closed="left"))
        .group_by("account_a", "account_b")
        .agg(weight_min=pl.col("weight").min(), weight_max=pl.col("weight").max(), directions=pl.len())
        .collect()
    )


def compare_all(ours: pl.DataFrame, export: Path, one_repost: bool, n_accounts: int, ranges: int = 16) -> dict:
    """``compare`` range by range of ``account_a`` (the toolkit's hundred million directed rows
    are never grouped at once), the figures added up."""
    cuts = np.linspace(0, n_accounts, ranges + 1).astype(np.int64)
    cuts[-1] = np.iinfo(np.int32).max  # the last range is open: no pair is left out
    total: dict = {}
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        part = compare(ours.filter(pl.col("account_a").is_between(int(lo), int(hi), closed="left")),
                       toolkit_pairs(export, int(lo), int(hi)), one_repost)
        for key, value in part.items():
            if isinstance(value, bool) or value is None:
                total[key] = value if key not in total else (None if value is None else total[key] and value)
            else:
                total[key] = total.get(key, 0) + value
    return total


def account_numbers(edges: pa.Table | Path) -> pl.DataFrame:
    """rallypoint's edges (a table, or the Parquet file ``rallypoint network`` wrote) as
    ``toolkit_pairs`` numbers them, with ``weight`` and ``n_shared``."""
    number = [pl.col(c).str.slice(1).cast(pl.Int32) for c in ("account_a", "account_b")]
    frame = pl.scan_parquet(edges) if isinstance(edges, Path) else pl.from_arrow(edges).lazy()
    return frame.select(
        account_a=pl.min_horizontal(number), account_b=pl.max_horizontal(number),
        weight=pl.col("weight").cast(pl.Int32), n_shared=pl.col("n_shared").cast(pl.Int32)).collect()


def compare(ours: pl.DataFrame, qut: pl.DataFrame, one_repost: bool) -> dict:
    """Pairs in one network only and, on a one-repost input, pairs whose counts differ: there a
    pair's co-share count (``weight``), its distinct posts (``n_shared``) and the toolkit's
    weight each way (the sharer's messages with a co-share) are the same number."""
    keys = ["account_a", "account_b"]
    figures = {"pairs": ours.height, "qut_pairs": qut.height,
               "only_rallypoint": ours.join(qut, on=keys, how="anti").height,
               "only_qut": qut.join(ours, on=keys, how="anti").height}
    if one_repost:
        both = ours.join(qut, on=keys, how="inner")
        figures["count_mismatches"] = both.filter(
            (pl.col("weight") != pl.col("n_shared")) | (pl.col("weight") != pl.col("weight_min"))
            | (pl.col("weight") != pl.col("weight_max")) | (pl.col("directions") != 2)).height
        figures["co_share_pairs_in_edges"] = int(both["weight"].sum())
    figures["same_pairs"] = figures["only_rallypoint"] == figures["only_qut"] == 0
    figures["same_counts"] = figures.get("count_mismatches") == 0 if one_repost else None
    return figures


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


def run_rallypoint(csv_path: Path, options: NetworkOptions, out: Path | None = None
                   ) -> tuple[float, float, CoactionResult | NetworkResult]:
    """``rallypoint network``'s edges for ``options``, from the CSV read with pyarrow: written to
    ``out`` as they are formed (what the command does), or held (``out`` None)."""
    started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_SELF)
    with console.status(f"rallypoint: {options}"):
        result = network_edges(read_records(csv_path), options) if out is None else write_network(
            [read_records(csv_path)], out, options)
    return time.perf_counter() - started, cpu_seconds(resource.RUSAGE_SELF) - cpu, result


def rallypoint_side(csv_path: Path, preset: Preset) -> tuple[dict, pl.DataFrame]:
    """rallypoint's exact run (times, peak RSS, load) and its pairs; then the production
    setting's, for information."""
    before = load_average()
    exact = NetworkOptions(window="60s", min_participation=1, null_model="none", exact=True)
    network = csv_path.with_name(f"{csv_path.stem}_network.parquet")
    seconds, cpu, ours = run_rallypoint(csv_path, exact, network)
    figures = {
        "rallypoint_seconds": round(seconds, 2),
        # CPU seconds (user + system) tell the same story on a shared machine, where wall time
        # depends on the load of other processes
        "rallypoint_cpu_seconds": round(cpu, 2),
        "rallypoint_peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "rallypoint_load_average": {"before": before, "after": load_average()},
        "rallypoint_ended": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "co_share_pairs": ours.stats["pairs_formed"],
        "partitions": ours.stats["partitions"],
        "spilled_rows": ours.stats["spilled_rows"],
        "exact": "rallypoint network --exact --window 60s --min-participation 1 --null-model none",
    }
    our_pairs = account_numbers(network)
    network.unlink()
    del ours
    console.print(f"rallypoint: {seconds:.1f} s, {cpu:.1f} CPU-s, {our_pairs.height:,} pairs, "
                  f"{figures['co_share_pairs']:,} co-share pairs")

    production_seconds, production_cpu, production = run_rallypoint(
        csv_path, NetworkOptions(window="auto", min_participation=2, null_model="permutation"))
    base = preset.accounts  # planted cell members are numbered after the organic accounts
    planted = pl.DataFrame(
        [(f"u{base + CELL_SIZE * c + i}", f"u{base + CELL_SIZE * c + j}")
         for c in range(CELLS) for i in range(CELL_SIZE) for j in range(i + 1, CELL_SIZE)],
        schema=["account_a", "account_b"], orient="row",
    )
    kept = pl.from_arrow(production.edges.select(["account_a", "account_b"]))
    figures["production"] = {
        "seconds": round(production_seconds, 2),
        "cpu_seconds": round(production_cpu, 2),
        "window_seconds": production.window_seconds,
        "edges_kept": production.edges.num_rows,
        "candidate_edges": production.stats["candidate_edges"],
        "planted_pairs_kept": planted.join(kept, on=["account_a", "account_b"], how="semi").height,
        "planted_pairs": planted.height,
    }
    return figures, our_pairs


def reused_rallypoint_run(stem: str, figures: dict) -> tuple[dict, pl.DataFrame]:
    """The last ``--rallypoint-only`` run on an input with ``figures``: its figures and pairs."""
    pairs = OUT / f"{stem}_rallypoint_pairs.parquet"
    last = reused_run("--reuse-rallypoint", OUT / f"{stem}_rallypoint.json", pairs, figures)
    return {k: v for k, v in last.items() if k != "input"}, pl.read_parquet(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="viral")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    qut_side = parser.add_mutually_exclusive_group()
    qut_side.add_argument("--reuse-qut", action="store_true",
                          help="report the toolkit's last run on the same input instead of running it again")
    qut_side.add_argument("--qut-only", action="store_true", help="run the toolkit, record it, and stop")
    ours_side = parser.add_mutually_exclusive_group()
    ours_side.add_argument("--reuse-rallypoint", action="store_true",
                           help="compare the last --rallypoint-only run on the same input instead of running it")
    ours_side.add_argument("--rallypoint-only", action="store_true",
                           help="run rallypoint, record its figures and pairs, and stop")
    args = parser.parse_args()
    if args.qut_only and (args.rallypoint_only or args.reuse_rallypoint):
        parser.error("--qut-only runs the toolkit alone")
    preset = PRESETS[args.preset]
    # other sizes and seeds keep their own files: a small check never replaces the main run's
    stem = f"vs_peers_{args.preset}" + ("" if (args.rows, args.seed) == (1_000_000, 0) else f"_{args.rows}_{args.seed}")
    OUT.mkdir(exist_ok=True)
    csv_path = OUT / f"{stem}_input.csv"
    with console.status(f"building the {args.rows:,}-row input"):
        figures = make_input(args.rows, preset, args.seed, csv_path)
    console.print(f"input: {figures}")
    if not args.rallypoint_only:
        qut = reused_toolkit_run(stem, figures) if args.reuse_qut else run_toolkit(install_toolkit(), csv_path, stem,
                                                                                   figures)
        console.print(f"QUT toolkit: {qut['qut_seconds']:.1f} s, {qut['qut_cpu_seconds']:.1f} CPU-s")
        if args.qut_only:
            return

    if args.reuse_rallypoint:
        ours, our_pairs = reused_rallypoint_run(stem, figures)
    else:
        ours, our_pairs = rallypoint_side(csv_path, preset)
        ours["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                        text=True).stdout.strip()
        (OUT / f"{stem}_rallypoint.json").write_text(json.dumps({"input": figures, **ours}, indent=2))
        our_pairs.write_parquet(OUT / f"{stem}_rallypoint_pairs.parquet")
    if args.rallypoint_only:
        print(json.dumps(ours, indent=2))
        return

    # compared as columns (a hundred million pairs as Python tuples would take tens of gigabytes)
    export = toolkit_export(OUT / f"{stem}_qut.db")
    n_accounts = preset.accounts + CELLS * CELL_SIZE  # the planted cells' members come last
    same = compare_all(our_pairs, export, preset.one_repost, n_accounts)
    del our_pairs
    export.unlink()
    report = {
        "preset": args.preset,
        "input": figures,
        **{k: v for k, v in qut.items() if k != "input"},
        "qut_reused": bool(args.reuse_qut),
        **ours,
        "rallypoint_reused": bool(args.reuse_rallypoint),
        "speedup": round(qut["qut_seconds"] / ours["rallypoint_seconds"], 1),
        "cpu_speedup": round(qut["qut_cpu_seconds"] / max(ours["rallypoint_cpu_seconds"], 1e-9), 1),
        **same,
    }
    (OUT / f"{stem}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    if not report["same_pairs"] or report["same_counts"] is False:
        sys.exit("rallypoint and the QUT toolkit disagree on the account pairs or their counts")


if __name__ == "__main__":
    main()
