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
        except KeyboardInterrupt:
            click.echo("error: interrupted; what was already committed is consistent.", err=True)
            sys.exit(130)

    return wrapper


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
@clear_errors
def ingest(sources, lake, fmt, neo4j_uri, scheduler, workers) -> None:
    """Read SOURCE files or folders into the lake (and Neo4j with --neo4j)."""
    from rallypoint.ingest.pipeline import ingest_sources

    summary = ingest_sources(list(sources), lake, fmt=fmt, scheduler=scheduler, workers=workers,
                             neo4j_uri=neo4j_uri)
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
@clear_errors
def graph_load(lake, neo4j_uri, batch_size, workers, loader) -> None:
    """Load the lake's interactions into Neo4j (idempotent)."""
    from rallypoint.graph.neo4j_store import load_lake_into_neo4j

    summary = load_lake_into_neo4j(lake, neo4j_uri, batch_size=batch_size, workers=workers, loader=loader)
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


# --- dashboard --------------------------------------------------------------------
@main.command()
@lake_option
@neo4j_option
@click.option("--port", default=8501, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Address to listen on (a container: 0.0.0.0, published on the host's 127.0.0.1).")
@click.option("--auth", type=click.Choice(["password", "oidc", "none"]), default="password", show_default=True,
              help="password: dashboard accounts (rallypoint users add); oidc: st.login and your identity "
                   "provider (docs/dashboard.md); none: the same as --no-auth.")
@click.option("--no-auth", is_flag=True, help="No sign-in, for one person on this machine (localhost only).")
@clear_errors
def dashboard(lake, neo4j_uri, port, address, auth, no_auth) -> None:
    """Open the analysts' dashboard on the lake."""
    from rallypoint.dashboard.launch import run_dashboard

    run_dashboard(lake, neo4j_uri=neo4j_uri, port=port, address=address, auth="none" if no_auth else auth)


# --- users ------------------------------------------------------------------------
PASSWORD_ENV = "RALLYPOINT_PASSWORD"


def _cli_actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def _new_password(password_stdin: bool) -> str:
    """From stdin (--password-stdin), $RALLYPOINT_PASSWORD, or a hidden prompt: never an argument."""
    import os

    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise RallypointError(f"Give the password on a terminal, with --password-stdin, or in ${PASSWORD_ENV}.")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@main.group()
def users() -> None:
    """Dashboard accounts and roles (stored in LAKE/triage.sqlite)."""


@users.command("add")
@click.argument("name")
@lake_option
@click.option("--role", type=click.Choice(["viewer", "analyst", "admin"]), required=True)
@click.option("--oidc", is_flag=True, help="An identity-provider account (NAME is its e-mail): no password here.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@clear_errors
def users_add(name, lake, role, oidc, password_stdin) -> None:
    """Add a user: viewers read, analysts decide, admins manage users and export real ids."""
    from rallypoint.dashboard.accounts import account_store
    from rallypoint.graph.lake import Lake

    store = account_store(Lake(lake).require().root)
    store.add_user(name, role, None if oidc else _new_password(password_stdin), _cli_actor(),
                   method="oidc" if oidc else "password")
    click.echo(f"Added {name} ({role}).")


@users.command("role")
@click.argument("name")
@lake_option
@click.option("--role", type=click.Choice(["viewer", "analyst", "admin"]), required=True)
@clear_errors
def users_role(name, lake, role) -> None:
    """Change a user's role (recorded in the triage log)."""
    from rallypoint.dashboard.accounts import account_store
    from rallypoint.graph.lake import Lake

    account_store(Lake(lake).require().root).set_role(name, role, _cli_actor())
    click.echo(f"{name} is now {role}.")


@users.command("password")
@click.argument("name")
@lake_option
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@clear_errors
def users_password(name, lake, password_stdin) -> None:
    """Set a user's password (ends their sessions)."""
    from rallypoint.dashboard.accounts import account_store
    from rallypoint.graph.lake import Lake

    account_store(Lake(lake).require().root).set_password(name, _new_password(password_stdin), _cli_actor())
    click.echo(f"Password of {name} changed.")


@users.command("disable")
@click.argument("name")
@lake_option
@clear_errors
def users_disable(name, lake) -> None:
    """Disable a user (ends their sessions; their past events stay in the log)."""
    from rallypoint.dashboard.accounts import account_store
    from rallypoint.graph.lake import Lake

    account_store(Lake(lake).require().root).disable(name, _cli_actor())
    click.echo(f"{name} is disabled.")


@users.command("list")
@lake_option
@clear_errors
def users_list(lake) -> None:
    """List the users, their roles and how they sign in."""
    from rallypoint.dashboard.accounts import account_store
    from rallypoint.graph.lake import Lake

    for u in account_store(Lake(lake).require().root).users():
        click.echo(f"{u['name']}\t{u['role']}\t{u['method']}\t{'disabled' if u['disabled'] else 'active'}")


# --- triage -----------------------------------------------------------------------
@main.group()
def triage() -> None:
    """The triage log (decisions, comments, assignments, exports, views) and its hash chain."""


@triage.command("verify")
@lake_option
@click.option("--expect-head", default=None, help="ROWS:HASH printed by an earlier verify: also catches removed newest rows.")
@clear_errors
def triage_verify(lake, expect_head) -> None:
    """Check the log's hash chain; names the first changed or removed row (exit 1 when broken)."""
    from rallypoint.dashboard.triage import verify

    state = verify(lake)
    click.echo(state.render())
    if state.ok:
        click.echo(f"head: {state.rows}:{state.head}")
    if state.ok and expect_head:
        rows, _, head = expect_head.partition(":")
        if not rows.isdigit() or not head:
            raise RallypointError("--expect-head takes ROWS:HASH as an earlier verify printed it.")
        if int(rows) > state.rows:
            click.echo(f"The log has {state.rows:,} rows, fewer than the {int(rows):,} expected: rows were removed.")
            sys.exit(1)
        from rallypoint.dashboard.triage import TriageStore

        if TriageStore(Path(lake) / "triage.sqlite").head_at(int(rows)) != head:
            click.echo(f"Row {rows}'s hash differs from the expected head: the log was rewritten.")
            sys.exit(1)
    if not state.ok:
        sys.exit(1)


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
