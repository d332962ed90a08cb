"""The ``rallypoint`` command: a thin layer over the library.

Each command parses its options, calls one library function and prints what it
returned. Problems the user can fix arrive as ``RallypointError`` and leave as one
sentence on stderr with exit status 2.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from rallypoint import __version__
from rallypoint.errors import RallypointError

NEO4J_HELP = "Neo4j Bolt URI (default: $NEO4J_URI); user and password from $NEO4J_USER, $NEO4J_PASSWORD."


def clear_errors(func):
    """Turn a RallypointError into one sentence on stderr and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except RallypointError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except OSError as exc:  # the environment, not the input: disk full, permissions, ...
            click.echo(f"error: {os_error_sentence(exc)}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("error: interrupted; what was already committed is consistent.", err=True)
            sys.exit(130)

    return wrapper


def os_error_sentence(exc: OSError) -> str:
    """One sentence for a failure of the machine (what, where, what to do); what was committed stays."""
    import errno

    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == errno.ENOSPC or "No space left" in text:
        return (f"No space left on the device{where}; nothing half-written was kept: free some space "
                "and run the command again.")
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return f"Permission denied{where}: this user may not read or write there."
    if code == errno.EROFS:
        return f"The file system is read-only{where}."
    first = exc.strerror or (text.splitlines()[0] if text else type(exc).__name__)
    return f"{first}{where}."


def lake_option(func):
    return click.option(
        "--lake", required=True, type=click.Path(path_type=Path), help="The lake folder."
    )(func)


def neo4j_option(func):
    return click.option("--neo4j", "neo4j_uri", default=None, envvar="NEO4J_URI", help=NEO4J_HELP)(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rallypoint")
def main() -> None:
    """Find coordinated networks that organize offline mobilization, with reasons."""


# --- simulate ---------------------------------------------------------------------
@main.command()
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for the data and labels.csv.")
@click.option("--accounts", default=5000, show_default=True, help="Organic accounts.")
@click.option("--days", default=14, show_default=True, help="Days of activity.")
@click.option("--seed", default=1, show_default=True, help="Random seed.")
@click.option("--records", default=None, type=int, help="Approximate number of records (scales activity).")
@click.option("--campaigns", default="default", show_default=True, help="Campaign mix: default, none, or a comma list of kinds.")
@clear_errors
def simulate(out: Path, accounts: int, days: int, seed: int, records: int | None, campaigns: str) -> None:
    """Write a synthetic world with planted campaigns and its labels.csv."""
    from rallypoint.simulate import simulate_world

    summary = simulate_world(out, accounts=accounts, days=days, seed=seed, records=records, campaigns=campaigns)
    click.echo(json.dumps(summary, indent=2, default=str))


# --- ingest -----------------------------------------------------------------------
@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@lake_option
@click.option("--format", "fmt", default="auto", show_default=True,
              help="auto, jsonl, csv, parquet, x-v2, x-v1, telegram, crowdtangle, coortweet.")
@neo4j_option
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786); default: local.")
@click.option("--workers", default=None, type=int, help="Start a local Dask cluster of N worker processes.")
@click.option("--timezone", default=None,
              help="Zone of times written without one (an IANA name such as America/Sao_Paulo, or UTC); "
                   "without it such records are rejected, never guessed.")
@click.option("--earliest", default=None, help="Earliest plausible time (ISO 8601; default 1990-01-01).")
@click.option("--latest", default=None, help="Latest plausible time (ISO 8601; default: now plus one day).")
@clear_errors
def ingest(sources, lake, fmt, neo4j_uri, scheduler, workers, timezone, earliest, latest) -> None:
    """Read SOURCE files or folders into the lake (and Neo4j with --neo4j)."""
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.ingest.validate import DEFAULT_EARLIEST, RecordRules

    rules = RecordRules(timezone=timezone, earliest=earliest or DEFAULT_EARLIEST, latest=latest)
    summary = ingest_sources(list(sources), lake, fmt=fmt, scheduler=scheduler, workers=workers,
                             neo4j_uri=neo4j_uri, rules=rules)
    click.echo(summary.render())


# --- detect -----------------------------------------------------------------------
@main.command()
@lake_option
@click.option("--since", default=None, help="Only interactions at or after this time (ISO 8601).")
@click.option("--until", default=None, help="Only interactions before this time (ISO 8601).")
@click.option("--window", default="auto", show_default=True, help="Co-action window: auto or a duration such as 60s.")
@click.option("--types", default=None, help="Comma list of co-action types (default: all).")
@click.option("--min-participation", default=2, show_default=True, help="CooRTweet's minimum participation.")
@click.option("--null", "null_model", default="permutation", show_default=True, help="Null model: permutation, none.")
@click.option("--significance", default=0.01, show_default=True, help="Keep edges with a null-model p-value at most this.")
@click.option("--objective", type=click.Choice(["cpm", "modularity", "components"]), default="cpm", show_default=True,
              help="Community objective (Leiden CPM, Leiden modularity, or connected components).")
@click.option("--resolution", default=None, type=float, help="Leiden resolution (default: 0.05 for cpm, 1.0 for modularity).")
@click.option("--threshold", default=0.3, show_default=True, help="Flag clusters scoring at least this (0..1).")
@click.option("--seed", default=0, show_default=True, help="Random seed (null model, Leiden).")
@click.option("--pair-budget", default=None, type=int,
              help="About the most co-share pairs formed at once (default 20 million); beyond it the heaviest "
                   "targets are sampled by account (docs/coaction.md). More finds more of a huge network and "
                   "takes more memory.")
@click.option("--run-id", default=None, help="Name of the run (default: time + random hex).")
@neo4j_option
@click.option("--scheduler", default=None, help="Dask scheduler address; default: local.")
@clear_errors
def detect(lake, since, until, window, types, min_participation, null_model, significance, objective, resolution,
           threshold, seed, pair_budget, run_id, neo4j_uri, scheduler) -> None:
    """Find coordinated clusters in the lake and score them; writes a run."""
    from rallypoint.detectors.pipeline import detect_run

    result = detect_run(lake, since=since, until=until, window=window, types=types,
                        min_participation=min_participation, null_model=null_model,
                        neo4j_uri=neo4j_uri, scheduler=scheduler, significance=significance,
                        objective=objective, resolution=resolution, threshold=threshold, seed=seed,
                        run_id=run_id, **({} if pair_budget is None else {"pair_budget": pair_budget}))
    click.echo(result.render())


# --- evaluate ---------------------------------------------------------------------
@main.command()
@lake_option
@click.option("--run", "run_id", default="latest", show_default=True)
@click.option("--labels", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@clear_errors
def evaluate(lake, run_id, labels) -> None:
    """Precision, recall and F1 of a run's flags against labels.csv."""
    from rallypoint.detectors.evaluate import evaluate_run, render_evaluation

    report = evaluate_run(lake, run_id, labels)
    click.echo(render_evaluation(report))


# --- graph ------------------------------------------------------------------------
@main.group()
def graph() -> None:
    """The Neo4j graph."""


@graph.command("load")
@lake_option
@neo4j_option
@click.option("--batch-size", default=10_000, show_default=True)
@click.option("--workers", default=1, show_default=True, help="Concurrent write sessions (rows key-sorted; the rare deadlock between relationship types is retried).")
@click.option("--loader", type=click.Choice(["auto", "procedure", "cypher"]), default="auto", show_default=True,
              help="procedure: the server-side rallypoint.loadBatch (neo4j-local's server; the plugin jar "
                   "elsewhere); cypher: UNWIND statements; auto: the procedure when the server has it.")
@click.option("--all", "reload_all", is_flag=True,
              help="Load every lake file again (default: only those this server does not hold yet).")
@clear_errors
def graph_load(lake, neo4j_uri, batch_size, workers, loader, reload_all) -> None:
    """Load the lake's interactions into Neo4j: what it misses (after an outage), or --all (idempotent)."""
    from rallypoint.graph.neo4j_store import load_missing_into_neo4j

    summary = load_missing_into_neo4j(lake, neo4j_uri, reload_all=reload_all, batch_size=batch_size,
                                      workers=workers, loader=loader)
    click.echo(json.dumps(summary, indent=2, default=str))


# --- export -----------------------------------------------------------------------
@main.command()
@lake_option
@click.option("--run", "run_id", default="latest", show_default=True)
@click.option("--cluster", "cluster_id", default=None, help="Cluster id (default: the top-scored cluster).")
@click.option("--format", "fmt", type=click.Choice(["graphml", "gexf", "csv", "parquet"]), default="graphml", show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--pseudonymize", is_flag=True, help="Replace account ids and names by keyed hashes (key from $RALLYPOINT_PSEUDONYM_KEY).")
@click.option("--hops", default=0, show_default=True, help="Add the k-hop context from the interaction graph.")
@click.option("--cypher", default=None, help="Export the result of a read-only Cypher query instead (needs --neo4j).")
@neo4j_option
@clear_errors
def export(lake, run_id, cluster_id, fmt, out, pseudonymize, hops, cypher, neo4j_uri) -> None:
    """Export a cluster's subgraph for Gephi, R or your own code."""
    from rallypoint.graph.export import export_subgraph

    manifest = export_subgraph(lake, run_id=run_id, cluster_id=cluster_id, fmt=fmt, out=out,
                               pseudonymize=pseudonymize, hops=hops, cypher=cypher, neo4j_uri=neo4j_uri)
    click.echo(json.dumps(manifest, indent=2, default=str))


# --- lake -----------------------------------------------------------------------
@main.group()
def lake() -> None:
    """The lake's files: check them, set damaged ones aside."""


@lake.command("check")
@lake_option
@clear_errors
def lake_check(lake) -> None:
    """Read every lake file (page checksums verified) and compare it with the ingest log."""
    from rallypoint.graph.lakecheck import check_lake

    report = check_lake(lake)
    click.echo(report.render())
    if not report.ok:
        sys.exit(1)


@lake.command("quarantine")
@lake_option
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@clear_errors
def lake_quarantine(lake, files) -> None:
    """Move damaged FILES out of the lake into LAKE/quarantine/ (then re-ingest their sources)."""
    from rallypoint.graph.lakecheck import quarantine

    for rel in quarantine(lake, list(files)):
        click.echo(f"quarantined {rel}")


# --- dashboard --------------------------------------------------------------------
@main.command()
@lake_option
@neo4j_option
@click.option("--port", default=8501, show_default=True)
@clear_errors
def dashboard(lake, neo4j_uri, port) -> None:
    """Open the analysts' dashboard on the lake."""
    from rallypoint.dashboard.launch import run_dashboard

    run_dashboard(lake, neo4j_uri=neo4j_uri, port=port)


# --- demo -------------------------------------------------------------------------
@main.command()
@click.option("--out", default="demo-output", show_default=True, type=click.Path(path_type=Path))
@click.option("--seed", default=7, show_default=True)
@clear_errors
def demo(out: Path, seed: int) -> None:
    """Simulate a world, ingest it, detect, evaluate and export: all on Parquet alone."""
    from rallypoint.demo import run_demo

    run_demo(out, seed=seed)


if __name__ == "__main__":
    main()
