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

import rallypoint
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


#: Commands that run detection: they limit malloc's arenas before numpy is imported
#: (rallypoint.allocator says why); the others leave the allocator as it is. ``evaluate``
#: detects only with ``--lead-time`` (it replays a world through ``watch``).
DETECTING_COMMANDS = frozenset({"detect", "demo", "watch"})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rallypoint")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Find coordinated networks that organize offline mobilization, with reasons."""
    if ctx.invoked_subcommand in DETECTING_COMMANDS:
        from rallypoint.allocator import limit_arenas

        limit_arenas()


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

    summary = rallypoint.simulate_world(out, accounts=accounts, days=days, seed=seed, records=records, campaigns=campaigns)
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
    rules = rallypoint.RecordRules(timezone=timezone, earliest=earliest, latest=latest)
    summary = rallypoint.ingest_sources(list(sources), lake, fmt=fmt, scheduler=scheduler, workers=workers,
                                        neo4j_uri=neo4j_uri, rules=rules)
    click.echo(summary.render())


# --- detect -----------------------------------------------------------------------
def detect_option(name: str, *flags: str, **kwargs):
    """``--name`` with the default and the help of ``DetectOptions.name`` (the one place they live)."""
    default = getattr(rallypoint.DetectOptions, name)
    flags = flags or ("--" + name.replace("_", "-"),)
    return click.option(*flags, name, default=default, show_default=default is not None,
                        help=rallypoint.detect_option_help(name), **kwargs)


@main.command()
@lake_option
@detect_option("since")
@detect_option("until")
@detect_option("window")
@detect_option("types")
@detect_option("min_participation")
@detect_option("null_model", "--null")
@detect_option("significance")
@detect_option("text_threshold")
@detect_option("loose_groups", "--loose-groups/--no-loose-groups")
@detect_option("objective", type=click.Choice(rallypoint.DETECT_OBJECTIVES))
@detect_option("resolution", type=float)
@detect_option("threshold")
@detect_option("seed")
@detect_option("pair_budget", type=int)
@detect_option("run_id")
@neo4j_option
@detect_option("scheduler")
@clear_errors
def detect(lake, neo4j_uri, **options) -> None:
    """Find coordinated clusters in the lake and score them; writes a run."""

    result = rallypoint.detect(lake, rallypoint.DetectOptions(neo4j_uri=neo4j_uri, **options))
    click.echo(result.render())


# --- lexicon ----------------------------------------------------------------------
@main.group()
def lexicon() -> None:
    """The lake's own lexicon: terms analysts promoted (read by every later detect)."""


@lexicon.command("add")
@click.argument("term")
@click.option("--kind", required=True, help="code_word, call_to_action, invitation, gathering, logistics, "
              "escalation, delegitimization or peaceful.")
@click.option("--lang", default=None, help="The term's language (recorded in the history).")
@lake_option
@clear_errors
def lexicon_add(term, kind, lang, lake) -> None:
    """Promote TERM (e.g. one of a run's terms.parquet) into the lake's lexicon, versioned."""
    result = rallypoint.add_term(lake, term, kind, lang)
    what = "added" if result["added"] else "already there"
    click.echo(f"{term!r} as {kind}: {what}; lexicon version {result['version']} ({result['path']})")


# --- evaluate ---------------------------------------------------------------------
@main.command()
@lake_option
@click.option("--run", "run_id", default="latest", show_default=True)
@click.option("--labels", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--lead-time", is_flag=True,
              help="Replay the world through `watch` and report how long before its event day each campaign alerted.")
@click.option("--world", default=None, type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="With --lead-time: the world.json `simulate` wrote (default: beside labels.csv).")
@click.option("--step", default="6h", show_default=True, help="With --lead-time: the replay's step.")
@click.option("--horizon", default="14d", show_default=True, help="With --lead-time: the watch horizon.")
@click.option("--rules", default=None, type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="With --lead-time: alert rules (default: the shipped ones).")
@click.option("--keep", default=None, type=click.Path(path_type=Path),
              help="With --lead-time: keep the replay's runs, tracks and alerts in this folder.")
@clear_errors
def evaluate(lake, run_id, labels, lead_time, world, step, horizon, rules, keep) -> None:
    """Precision, recall and F1 of a run's flags against labels.csv (or, with --lead-time, alert lead times)."""
    if lead_time:
        from rallypoint.allocator import limit_arenas

        limit_arenas()  # a detecting command from here on (DETECTING_COMMANDS), before numpy is imported
        report = rallypoint.replay_lead_times(lake, labels, world=world, step=step, horizon=horizon, rules=rules,
                                              keep=keep, say=lambda line: click.echo(line, err=True))
        click.echo(rallypoint.render_lead_times(report))
        return

    report = rallypoint.evaluate(lake, run_id, labels)
    click.echo(rallypoint.render_evaluation(report))


# --- watch ------------------------------------------------------------------------
@main.command()
@lake_option
@click.option("--every", default="15m", show_default=True, help="How often to look for new partitions (90s, 15m, 1h).")
@click.option("--horizon", default="14d", show_default=True, help="How far back each detect looks (7d, 14d).")
@click.option("--rules", default=None, type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Alert rules, TOML (default: the shipped ones; docs/watch.md).")
@click.option("--webhook", default=None, envvar="RALLYPOINT_WEBHOOK",
              help="POST each alert as JSON to this URL (default: $RALLYPOINT_WEBHOOK).")
@click.option("--once", is_flag=True, help="One cycle, then exit.")
@clear_errors
def watch(lake, every, horizon, rules, webhook, once) -> None:
    """Detect whenever new data arrives, follow clusters across runs and raise alerts; stops on SIGTERM."""
    import signal
    import threading
    from datetime import UTC, datetime

    options = rallypoint.WatchOptions.from_cli(every=every, horizon=horizon, rules=rules, webhook=webhook)
    watcher = rallypoint.Watcher(lake, options, say=lambda line: click.echo(f"{datetime.now(UTC):%H:%M:%S} {line}"),
                      show_progress=None)
    if once:
        if watcher.cycle() is None:
            click.echo("no new partitions since the last run")
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # the cycle under way finishes its step and the loop ends: the lake stays consistent
        signal.signal(sig, lambda *_: stop.set())
    watcher.run_forever(stop)


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
@click.option("--bulk/--incremental", default=None,
              help="bulk: Neo4j's offline importer into an empty database, then the constraints (pauses "
                   "neo4j-local's server and resumes it on the new store); incremental: the transactional "
                   "loader. Default: bulk when the database is empty, the server neo4j-local's and the lake "
                   "large (docs/neo4j.md).")
@click.option("--replace", is_flag=True, help="With --bulk: rebuild a database that already holds a graph.")
@click.option("--yes", is_flag=True, help="Do not ask before --replace deletes the database.")
@click.option("--server-state", type=click.Path(path_type=Path), default=None, envvar="NEO4J_LOCAL_STATE",
              help="neo4j-local's state folder, for --bulk (default: $NEO4J_LOCAL_STATE or <repo>/.neo4j).")
@click.option("--all", "reload_all", is_flag=True,
              help="Incremental: load every lake file again (default: only those this server does not hold yet).")
@clear_errors
def graph_load(lake, neo4j_uri, batch_size, workers, loader, bulk, replace, yes, server_state, reload_all) -> None:
    """Load the lake's interactions into Neo4j: what it misses (after an outage), or --all; or --bulk."""
    server = rallypoint.LocalServer.resolve(server_state, neo4j_uri)
    if bulk is None:
        bulk = not replace and not reload_all and rallypoint.prefer_bulk(lake, server)
    if replace and not bulk:
        raise click.UsageError("--replace goes with --bulk.")
    if bulk:
        if replace and not yes:
            click.confirm(f"--replace deletes every node and relationship of the database at {server.uri}. "
                          "Continue?", abort=True, err=True)
        summary = rallypoint.bulk_load(lake, server=server, replace=replace, echo=lambda line: click.echo(line, err=True))
    else:
        summary = rallypoint.load_missing_into_neo4j(lake, neo4j_uri, reload_all=reload_all, batch_size=batch_size,
                                                     workers=workers, loader=loader)
    click.echo(json.dumps(summary, indent=2, default=str))


@graph.command("import-csv")
@lake_option
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for the CSV and import.args.")
@clear_errors
def graph_import_csv(lake, out) -> None:
    """Write the lake's graph as neo4j-admin's import CSV (for a server you run yourself)."""
    files = rallypoint.write_import_csv(lake, out)
    click.echo(json.dumps({"directory": str(files.directory), "records": files.records, "counts": files.counts,
                           "args_file": str(files.directory / "import.args")}, indent=2))


@graph.command("constraints")
@neo4j_option
@clear_errors
def graph_constraints(neo4j_uri) -> None:
    """Create the graph's uniqueness constraints and indexes (after a bulk import; idempotent)."""
    click.echo(f"{rallypoint.create_constraints(neo4j_uri)} constraints in place.")


views_option = click.option("--views", "views_dirs", multiple=True, type=click.Path(path_type=Path),
                            envvar="RALLYPOINT_VIEWS", help="A folder of your own views (*.toml), besides the "
                            "built-in ones (default: $RALLYPOINT_VIEWS).")


@graph.command("views")
@views_option
@clear_errors
def graph_views(views_dirs) -> None:
    """List the saved Cypher views: name, parameters, what each shows."""
    views, problems = rallypoint.load_views(views_dirs)
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
    for view in sorted(views.values(), key=lambda v: v.name):
        click.echo(f"{view.name}  {view.usage()}\n    {view.description}")


@graph.command("view")
@click.argument("name")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A parameter of the view (repeat).")
@click.option("--limit", default=1000, show_default=True, help="Rows returned at most.")
@views_option
@neo4j_option
@clear_errors
def graph_view(name, params, limit, views_dirs, neo4j_uri) -> None:
    """Run a saved Cypher view, read-only and sealed; print its rows as JSON."""
    from rallypoint.errors import ViewError

    views, problems = rallypoint.load_views(views_dirs)
    if name not in views:
        trouble = next((p for p in problems if f"{name!r}" in p), None)
        raise ViewError(trouble or f"There is no view {name!r}; `rallypoint graph views` lists them.")
    result = rallypoint.run_view(views[name], rallypoint.parse_view_params(params), neo4j_uri, limit=limit)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False, default=str))


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

    manifest = rallypoint.export_subgraph(lake, run_id=run_id, cluster_id=cluster_id, fmt=fmt, out=out,
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
    report = rallypoint.check_lake(lake)
    click.echo(report.render())
    if not report.ok:
        sys.exit(1)


@lake.command("quarantine")
@lake_option
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@clear_errors
def lake_quarantine(lake, files) -> None:
    """Move damaged FILES out of the lake into LAKE/quarantine/ (then re-ingest their sources)."""
    for rel in rallypoint.quarantine(lake, list(files)):
        click.echo(f"quarantined {rel}")


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

    rallypoint.run_dashboard(lake, neo4j_uri=neo4j_uri, port=port, address=address,
                             auth="none" if no_auth else auth)


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
    store = rallypoint.account_store(rallypoint.Lake(lake).require().root)
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
    rallypoint.account_store(rallypoint.Lake(lake).require().root).set_role(name, role, _cli_actor())
    click.echo(f"{name} is now {role}.")


@users.command("password")
@click.argument("name")
@lake_option
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@clear_errors
def users_password(name, lake, password_stdin) -> None:
    """Set a user's password (ends their sessions)."""
    rallypoint.account_store(rallypoint.Lake(lake).require().root).set_password(name, _new_password(password_stdin), _cli_actor())
    click.echo(f"Password of {name} changed.")


@users.command("disable")
@click.argument("name")
@lake_option
@clear_errors
def users_disable(name, lake) -> None:
    """Disable a user (ends their sessions; their past events stay in the log)."""
    rallypoint.account_store(rallypoint.Lake(lake).require().root).disable(name, _cli_actor())
    click.echo(f"{name} is disabled.")


@users.command("list")
@lake_option
@clear_errors
def users_list(lake) -> None:
    """List the users, their roles and how they sign in."""
    for u in rallypoint.account_store(rallypoint.Lake(lake).require().root).users():
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
    state = rallypoint.verify_triage_log(lake)
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
        if rallypoint.TriageStore(Path(lake) / "triage.sqlite").head_at(int(rows)) != head:
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

    rallypoint.run_demo(out, seed=seed)


# --- search -----------------------------------------------------------------------
@main.command()
@click.argument("query")
@lake_option
@click.option("--run", "run_id", default="latest", show_default=True, help="Run whose clusters the accounts link to.")
@click.option("--limit", default=50, show_default=True, help="Records shown at most, newest first.")
@clear_errors
def search(query: str, lake: Path, run_id: str, limit: int) -> None:
    """Search the whole lake: an id, @handle, #hashtag, domain, link or words (accents ignored)."""

    result = rallypoint.search_lake(lake, query, run_id=run_id, limit=limit)
    click.echo(f"{result.records.num_rows}{'+' if result.truncated else ''} records by "
               f"{result.accounts.num_rows} accounts match the {result.query.kind} query "
               f"({result.seconds:.2f} s).")
    clusters: dict[str, list[str]] = {}
    for row in result.clusters.to_pylist():
        clusters.setdefault(row["account_id"], []).append(row["cluster_id"])
    for row in result.accounts.slice(0, 20).to_pylist():
        where = ", ".join(clusters.get(row["account_id"], [])) or "no cluster"
        click.echo(f"  account {rallypoint.terminal_safe(row['account_id'])} ({rallypoint.terminal_safe(row['account_name'] or '')}): "
                   f"{row['hits']} hits; clusters of run {result.run_id}: {where}")
    for row in result.records.to_pylist():
        click.echo(f"  {row['timestamp']:%Y-%m-%d %H:%M} {rallypoint.terminal_safe(row['platform'])}/{rallypoint.terminal_safe(row['id'])} "
                   f"{rallypoint.terminal_safe(row['account_id'])} {row['action']}: {rallypoint.terminal_safe(row['text'] or '')[:160]}")


# --- case pack --------------------------------------------------------------------
@main.command()
@lake_option
@click.option("--run", "run_id", default="latest", show_default=True)
@click.option("--cluster", "cluster_id", required=True, help="The cluster, as in clusters.parquet.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for the pack's files.")
@click.option("--pseudonymize", is_flag=True, help="Replace account ids and names by keyed pseudonyms ($RALLYPOINT_PSEUDONYM_KEY).")
@click.option("--pdf/--no-pdf", default=True, show_default=True, help="Also print it to PDF with headless Chromium.")
@clear_errors
def casepack(lake: Path, run_id: str, cluster_id: str, out: Path, pseudonymize: bool, pdf: bool) -> None:
    """One self-contained HTML (and PDF) about a cluster, with a SHA-256 manifest."""

    pack = rallypoint.build_case_pack(lake, cluster_id, out, run_id=run_id, pseudonymize=pseudonymize, pdf=pdf)
    for name, digest in pack.sha256.items():
        click.echo(f"{out / name}  sha256 {digest}")
    click.echo(f"manifest: {pack.manifest}")


# --- network ----------------------------------------------------------------------
@main.command()
@lake_option
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The file to write (.parquet, .csv, .graphml, .gexf).")
@click.option("--format", "fmt", default=None, help="parquet, csv, graphml or gexf (default: from --out's extension).")
@click.option("--types", default="co_repost", show_default=True, help="Comma list of co-action types.")
@click.option("--window", default="60s", show_default=True, help="Co-action window: a duration such as 60s, or auto.")
@click.option("--min-participation", default=2, show_default=True, help="CooRTweet's minimum participation (1: every pair).")
@click.option("--null", "null_model", default="none", show_default=True, help="none (every co-share pair) or permutation.")
@click.option("--exact", is_flag=True, help="No per-share cap: every pair in the window, as the peers.")
@click.option("--since", default=None, help="Only interactions at or after this time (ISO 8601).")
@click.option("--until", default=None, help="Only interactions before this time (ISO 8601).")
@clear_errors
def network(lake, out, fmt, types, window, min_participation, null_model, exact, since, until) -> None:
    """Write the co-action network alone (no communities, no scores): CooRTweet's job."""

    options = rallypoint.NetworkOptions(types=tuple(t.strip() for t in types.split(",") if t.strip()), window=window,
                             min_participation=min_participation, null_model=null_model, exact=exact,
                             since=since, until=until)
    result = rallypoint.coaction_network(lake, out, options, fmt=fmt)
    capped = result.stats.get("targets_capped") or 0
    click.echo(f"{result.n_edges:,} edges between {result.n_accounts:,} accounts written to {result.path} "
               f"({result.fmt}, {result.seconds:.1f} s){'' if exact or not capped else f'; {capped:,} heavy targets capped (use --exact for every pair)'}.")


if __name__ == "__main__":
    main()
