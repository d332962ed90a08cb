"""``rallypoint detect``: one detection run over the lake, written as run tables.

Stages (each timed, each shown as progress on a terminal):

1. **read** — the lake's interactions in ``[since, until)`` as one Arrow table.
2. **co-action** — the co-action engineer's ``build_coaction_edges``: account pairs
   that acted on the same targets within the window, tested against a time-shuffling
   null model (CooRnet / CooRTweet semantics); with ``scheduler="tcp://..."`` its
   partitions are paired and reduced on that Dask cluster (``coaction.engine``).
3. **communities** — Leiden on the weighted co-action graph
   (:mod:`rallypoint.detectors.communities`; Traag et al. 2019), clusters of >= 3.
4. **roles**, **accounts** — seeder, bridge, amplifier (:mod:`rallypoint.detectors.roles`), and
   each member's account facts; on a thread beside stages 5-7, which need only the
   membership, so the times of stages 4-7 overlap.
5. **evidence** — co-action evidence rows per cluster (:mod:`rallypoint.detectors.evidence`).
6. **mobilization** — lexicon signals in the texts each cluster pushed: its members'
   co-action records and the posts they reposted or replied to
   (:mod:`rallypoint.detectors.mobilization`) -> the ``mobilization`` struct and
   signal evidence rows.
7. **bursts** — Kleinberg bursts of each cluster's co-actions and of its top target,
   with synchrony inside them (the signals engineer's :mod:`rallypoint.detectors.bursts`),
   for clusters with harm evidence and the largest others (see :func:`burst_candidates`).
8. **inauthenticity** — per cluster, members created in a burst, young, without
   everyday life or on a schedule, against the lake's background
   (:mod:`rallypoint.detectors.inauthenticity`).
9. **score** — components and a first scoring pass (:mod:`rallypoint.detectors.scoring`).
10. **terms** — code words learned from the first pass's flagged mobilization clusters
    (:mod:`rallypoint.detectors.terms`), other clusters' texts using them as
    ``learned_term`` evidence, and the second pass: score, ``flagged``, ``order_score``
    and reasons.
11. **write** — edges, clusters, members, evidence, terms, each atomically, then ``run.json``
    last: a run without ``run.json`` is unfinished and the next run discards it.

With ``neo4j_uri`` the committed run is then loaded into Neo4j.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from rallypoint import __version__
from rallypoint.allocator import keeping_freed_memory
from rallypoint.detectors import promoted, scoring
from rallypoint.detectors.attachment import attach_accounts, prepare_engagements
from rallypoint.detectors.coaction import ACTIONS_SCHEMA
from rallypoint.detectors.coaction.co_engage import TYPE as ENGAGE_TYPE
from rallypoint.detectors.coaction.partition import DEFAULT_PAIR_BUDGET
from rallypoint.detectors.communities import DEFAULT_STRENGTH_CAP, MIN_CLUSTER_SIZE, find_communities
from rallypoint.detectors.evidence import (
    COACTION_PREFIX,
    SIGNAL_KINDS,
    coaction_evidence,
    empty_evidence,
    evidence_counts,
    signal_evidence,
)
from rallypoint.detectors.inauthenticity import cluster_inauthenticity
from rallypoint.detectors.memory import release_unused_memory
from rallypoint.detectors.roles import assign_roles
from rallypoint.detectors.terms import terms_table
from rallypoint.errors import RallypointError
from rallypoint.lake import Lake, check_run_id, new_id, parse_time
from rallypoint.schema import (
    CLUSTERS_SCHEMA,
    EDGES_SCHEMA,
    EVIDENCE_SCHEMA,
    MEMBERS_SCHEMA,
    MOBILIZATION_STRUCT,
)

#: Columns the detectors read from the lake (everything but ``extra``/``urls_original``).
READ_COLUMNS = [
    "id", "platform", "account_id", "timestamp", "action", "target_id", "target_account_id", "text",
    "urls", "hashtags", "mentions", "media", "channel_id", "lang", "account_name",
    "account_created_at", "followers", "high_profile",
]
#: Most-acted-on targets listed per cluster.
TOP_TARGETS = 10
#: Co-action type -> ``TARGET_COUNT_STRUCT.kind``.
TARGET_KIND = {"co_repost": "post", "co_link": "url", "co_hashtags": "hashtags", "co_mention": "mention",
               "co_media": "media", "co_reply": "reply", "co_text": "text", "co_engage": "post"}
BURST_BIN = "1min"
#: Clusters without harm evidence whose bursts are still computed (the largest, for display).
BURST_LARGEST_CLUSTERS = 25
#: Evidence kinds that make a score non-zero (see scoring): bursts matter only with them.
HARM_KINDS = ("call_to_action", "escalation", "delegitimization", "structural_call", "money_link", "logistics_link")
#: Co-action types whose target is a post with an author (the author acted first).
ORIGIN_TYPES = ["co_repost", "co_reply", "co_engage"]


class DetectParameterError(RallypointError):
    """A detect option cannot be used."""


@dataclass
class DetectResult:
    """What a run wrote, for the CLI to print."""

    run_id: str
    run_dir: Path
    summary: dict[str, Any]
    top_clusters: list[dict[str, Any]] = field(default_factory=list)

    def render(self) -> str:
        s = self.summary
        counts = s["counts"]
        lines = [
            f"run {self.run_id} written to {self.run_dir}",
            f"{counts['records']:,} records from {s['input']['first_ts']} to {s['input']['last_ts']}; "
            "windows " + ", ".join(f"{k} {v:g} s" for k, v in s["window_seconds"].items()),
            f"{counts['edges']:,} co-action edges, {counts['clusters']:,} clusters, "
            f"{counts['flagged']:,} flagged at score >= {s['threshold']:g}",
            "time per stage: " + ", ".join(f"{k} {v:.1f}s" for k, v in s["timings"].items()),
        ]
        for c in self.top_clusters:
            mark = "FLAG" if c["flagged"] else "    "
            first = c["reasons"][0] if c["reasons"] else ""
            lines.append(f"  {mark} {c['cluster_id']} score {c['score']:.2f} ({c['n_accounts']} accounts) {first}")
        return "\n".join(lines)


class _Stages:
    """Times each stage and shows it on a terminal with rich."""

    def __init__(self, show: bool | None) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        show = self.console.is_terminal if show is None else show
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
            console=self.console, disable=not show, transient=False,
        )
        self.timings: dict[str, float] = {}
        #: the process's peak resident memory (MiB) when each stage ended
        self.peak_mib: dict[str, float] = {}

    def __enter__(self) -> _Stages:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    @contextmanager
    def stage(self, name: str, description: str):
        task = self.progress.add_task(description, total=1)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - start, 3)
            self.peak_mib[name] = _peak_rss_mib()
            # what the stage freed (the reader's buffers, co-action's strings, ...) is not
            # carried into the next: Arrow's allocator and the C heap keep it otherwise
            release_unused_memory()
            self.progress.update(task, completed=1, description=f"{description} [green]done")


def _peak_rss_mib() -> float:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def _parse_types(types: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    if types is None:
        return None
    if isinstance(types, str):
        types = [t.strip() for t in types.split(",") if t.strip()]
    return list(types) or None


def read_records(lake: Lake, since: datetime | None, until: datetime | None, scheduler: str | None,
                 columns: list[str] = READ_COLUMNS, files=None) -> pa.Table:
    """The lake's interactions in range (of ``files``, a snapshot's, when given) as one Arrow
    table, read by pyarrow in this process. With a ``scheduler`` too: co-action's pairing,
    the heavy part, runs on the cluster (``coaction.engine``), and routing the records
    through the workers and back as pandas would only copy them twice."""
    return lake.read_interactions_arrow(columns=columns, since=since, until=until, files=files)


def detect_run(
    lake: str | Path | Lake,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    window: str = "auto",
    types: str | list[str] | None = None,
    min_participation: int = 2,
    null_model: str = "permutation",
    neo4j_uri: str | None = None,
    scheduler: str | None = None,
    *,
    threshold: float = scoring.DEFAULT_THRESHOLD,
    objective: str = "cpm",
    resolution: float | None = None,
    significance: float = 0.01,
    seed: int = 0,
    run_id: str | None = None,
    show_progress: bool | None = None,
    pair_budget: int = DEFAULT_PAIR_BUDGET,
) -> DetectResult:
    """Detect, score and write one run; returns what it wrote. See the module docstring."""
    from rallypoint.detectors.coaction import RECORD_COLUMNS, build_coaction_edges, check_pair_budget

    lake = lake if isinstance(lake, Lake) else Lake(lake)
    lake.require()
    if not 0 <= threshold <= 1:
        raise DetectParameterError(f"The score threshold must be between 0 and 1, not {threshold}.")
    check_pair_budget(pair_budget)  # before the lake is read, as the other options
    since_t, until_t = parse_time(since, "since"), parse_time(until, "until")
    if since_t and until_t and since_t >= until_t:
        raise DetectParameterError(f"--since {since} is not before --until {until}.")
    run_id = check_run_id(run_id or new_id())
    if (lake.runs_dir / run_id / "run.json").exists():
        raise DetectParameterError(f"The lake already has a finished run named {run_id!r}.")
    lake.discard_unfinished_runs()
    lake.begin_run(run_id)
    snapshot = lake.snapshot()  # the run reads these files only: a later ingest changes nothing in it
    started = datetime.now(UTC)

    # numpy's large temporaries reuse freed memory instead of fresh pages (rallypoint.allocator)
    with _Stages(show_progress) as stages, keeping_freed_memory():
        with stages.stage("read", "reading the lake"):
            # co-action's columns only, handed over in a list: once co-action has coded them no
            # name here keeps them alive through its pairing and the attachment (gigabytes at
            # scale); every column is read again after the attachment
            coaction_input = [read_records(lake, since_t, until_t, scheduler, columns=list(RECORD_COLUMNS),
                                           files=snapshot.files)]
            n_records = coaction_input[0].num_rows
        # the attachment's test needs the communities, but its events can be coded, sorted and
        # keyed as soon as co-action has them: on a thread of their own, beside co-action's
        # pairing (about one core busy there), instead of after the communities
        prepared: list = []

        def prepare_attachment(events, window: float) -> None:
            early = ThreadPoolExecutor(1)
            prepared.append(early.submit(prepare_engagements, events, window))
            early.shutdown(wait=False)  # its thread ends with the task

        with stages.stage("coaction", f"co-action edges ({n_records:,} records)"):
            coaction = build_coaction_edges(
                coaction_input.pop(), types=_parse_types(types), window=window, min_participation=min_participation,
                null_model=null_model, significance=significance, seed=seed, pair_budget=pair_budget,
                on_engage_events=prepare_attachment, scheduler=scheduler,
            )
            coaction.engage_events = None  # the prepared engagements stand for them
            edges = coaction.edges.select(EDGES_SCHEMA.names).cast(EDGES_SCHEMA)
            window_seconds = {k: float(v) for k, v in coaction.window_seconds.items()}
        with stages.stage("communities", f"communities ({edges.num_rows:,} edges)"):
            engage_window = window_seconds.get(ENGAGE_TYPE)
            # with co-engagement, pairs are seeds too: the group test can grow them to clusters
            communities = find_communities(edges, objective=objective, resolution=resolution, seed=seed,
                                           min_size=2 if engage_window else MIN_CLUSTER_SIZE)
            attached = 0
            if engage_window:
                engagements = prepared.pop().result()
                attachment = attach_accounts(communities, engagements, engage_window, significance=significance)
                del engagements
                communities, attached = attachment.communities, attachment.attached.height
                coaction_actions = pl.concat([pl.from_arrow(coaction.actions), attachment.actions]).unique(
                    ["type", "target", "id"], keep="first").sort("timestamp", "id", "type", "target")
            else:
                coaction_actions = pl.from_arrow(coaction.actions)
        with stages.stage("records", "reading the records for the evidence"):
            records = read_records(lake, since_t, until_t, scheduler, columns=LATER_COLUMNS, files=snapshot.files)
        membership = pl.from_arrow(communities.members()).select("account_id", cluster_id=pl.col("community"))
        # the members' roles and facts need the membership, not the evidence: they are worked
        # out on a thread of their own beside evidence, mobilization and bursts (both sides
        # spend their time in polars and Arrow, which release the GIL), so those stages' times overlap
        with ThreadPoolExecutor(1) as beside:
            roles_and_accounts = beside.submit(_roles_and_accounts, stages, communities, edges, coaction_actions,
                                               records, membership)
            with stages.stage("evidence", "co-action evidence"):
                evidence = coaction_evidence(coaction_actions, membership, window_seconds)
            with stages.stage("mobilization", "mobilization signals"):
                mobilization, signals = cluster_mobilization(coordinated_texts(records, evidence),
                                                             promoted.promoted_paths(lake))
                evidence = pl.concat([evidence, signal_evidence(signals)])
            with stages.stage("bursts", "bursts and synchrony"):
                bursts = cluster_bursts(evidence, only=burst_candidates(evidence))
            roles, accounts = roles_and_accounts.result()
        with stages.stage("inauthenticity", "inauthenticity cues"):
            # the members' creation dates, first actions and action counts are the account facts'
            inauthentic, cues = cluster_inauthenticity(records, accounts, evidence)
            evidence = pl.concat([evidence, cues])
        with stages.stage("score", "scoring"):
            facts = cluster_facts(
                roles, accounts, edges, communities, evidence, bursts, mobilization,
            ).join(inauthentic, on="cluster_id", how="left")
            first_pass = scoring.component_scores(facts).with_columns(flagged=pl.col("score") >= threshold)
        with stages.stage("terms", "learned code words and the second scoring pass"):
            learned, hits = learned_terms(first_pass, signals, records)
            evidence = pl.concat([evidence, term_evidence(hits)])
            facts = facts.drop(f"n_{TERM_KIND}").join(evidence_counts(evidence).select("cluster_id", f"n_{TERM_KIND}"),
                                                        on="cluster_id", how="left").with_columns(
                pl.col(f"n_{TERM_KIND}").fill_null(0)).join(taught_terms(hits), on="cluster_id", how="left")
            keys = queue_keys(scoring.component_scores(facts))
            scored = scoring.score_clusters(facts, threshold=threshold, window_seconds=window_seconds, names=keys)
        with stages.stage("write", "writing the run"):
            tables = run_tables(scored, roles, accounts, evidence, communities, edges, records)
            tables["terms"] = terms_table(learned, keys)
            # Parquet encodes and compresses without the GIL: the evidence and the edges (most
            # of the bytes) are written at once (run.json, written last, commits the run)
            with ThreadPoolExecutor(2) as writers:
                list(writers.map(lambda name: lake.write_run_table(run_id, name, tables[name]),
                                 ("evidence", "edges", "members", "clusters", "terms")))
            summary = {
                "run_id": run_id,
                "rallypoint_version": __version__,
                "started": started.isoformat(),
                "finished": None,
                "parameters": {
                    "since": since_t.isoformat() if since_t else None,
                    "until": until_t.isoformat() if until_t else None,
                    "window": window,
                    "types": _parse_types(types),
                    "min_participation": min_participation,
                    "null_model": null_model,
                    "significance": significance,
                    "objective": objective,
                    "resolution": communities.resolution,
                    "strength_cap": DEFAULT_STRENGTH_CAP,
                    "pair_budget": pair_budget,
                    "threshold": threshold,
                    "seed": seed,
                    "scheduler": scheduler,
                },
                "threshold": threshold,
                "window_seconds": window_seconds,
                "input": _input_range(records),
                "snapshot": snapshot.as_json(lake.root),
                "counts": {
                    "records": records.num_rows,
                    "edges": edges.num_rows,
                    "clusters": tables["clusters"].num_rows,
                    "flagged": int(pc_sum(tables["clusters"].column("flagged"))),
                    "members": tables["members"].num_rows,
                    "evidence": tables["evidence"].num_rows,
                    "terms": tables["terms"].num_rows,
                },
                "coaction_stats": _jsonable(getattr(coaction, "stats", {})),
                # accounts joined to a cluster by the group test (attachment.py), not by an edge
                "attached_accounts": attached,
                "versions": _versions(),
                # the lake's promoted terms this run knew (rallypoint lexicon add)
                "lexicon": promoted.version(lake),
                "scoring": {
                    "formula": scoring.SCORE_FORMULA,
                    "coordination_saturation": scoring.COORDINATION_SATURATION,
                    "new_account_days": scoring.NEW_ACCOUNT_DAYS,
                },
            }
        summary["timings"] = stages.timings
        summary["peak_memory_mib"] = stages.peak_mib
        summary["finished"] = datetime.now(UTC).isoformat()
        lake.write_run_json(run_id, summary)

    if neo4j_uri:
        from rallypoint.neo4j.runs import write_run_to_neo4j

        summary["neo4j"] = write_run_to_neo4j(lake.root, run_id, neo4j_uri)
    top = tables["clusters"].slice(0, 10).select(["cluster_id", "score", "flagged", "n_accounts", "reasons"])
    return DetectResult(run_id=run_id, run_dir=lake.runs_dir / run_id, summary=summary,
                        top_clusters=top.to_pylist())


def with_origins(actions: pa.Table, records: pa.Table) -> pa.Table:
    """The co-actions plus the original posts they reposted or replied to, as the authors' own actions.

    An author whose posts the others amplify acted first on them; without these rows
    the seeder would only be the fastest reposter.
    """
    import pyarrow.compute as pc

    if actions.num_rows == 0:
        return actions
    threads = actions.filter(pc.is_in(actions.column("type"), value_set=pa.array(ORIGIN_TYPES)))
    targets = pc.unique(threads.column("target"))
    posts = records.select(["id", "account_id", "timestamp"]).filter(pc.is_in(records.column("id"), value_set=targets))
    kinds = threads.group_by(["target", "type"]).aggregate([]).rename_columns(["id", "type"])
    origins = posts.join(kinds, keys="id")
    origins = origins.append_column("target", origins.column("id"))
    return pa.concat_tables([actions, origins.select(actions.schema.names).cast(actions.schema)])


def pc_sum(array) -> int:
    import pyarrow.compute as pc

    return pc.sum(array).as_py() or 0


def _input_range(records: pa.Table) -> dict[str, Any]:
    import pyarrow.compute as pc

    if records.num_rows == 0:
        return {"first_ts": None, "last_ts": None}
    bounds = pc.min_max(records.column("timestamp"))
    return {"first_ts": str(bounds["min"].as_py()), "last_ts": str(bounds["max"].as_py())}


def _versions() -> dict[str, str]:
    import igraph
    import polars

    return {"rallypoint": __version__, "pyarrow": pa.__version__, "polars": polars.__version__,
            "igraph": igraph.__version__, "numpy": np.__version__}


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


# --- stage helpers ----------------------------------------------------------------------


def _roles_and_accounts(stages: _Stages, communities, edges: pa.Table, actions: pl.DataFrame, records: pa.Table,
                        membership: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The stages "roles" (``assign_roles``) and "accounts" (``account_facts``): per member, its
    role and what it is (platform, name, followers, first action...)."""
    with stages.stage("roles", "roles"):
        weight = edges.column("weight").to_numpy().astype(np.float64)
        roles = assign_roles(communities, weight, with_origins(actions.to_arrow().cast(ACTIONS_SCHEMA), records))
    with stages.stage("accounts", "member accounts"):
        accounts = account_facts(_member_records(records, membership), membership)
    return roles, accounts


#: The record columns ``account_facts`` reads.
ACCOUNT_FACT_COLUMNS = ["account_id", "platform", "account_name", "high_profile", "followers",
                        "account_created_at", "timestamp", "lang"]


def _member_records(records: pa.Table, membership: pl.DataFrame) -> pl.DataFrame:
    """The records of cluster members (all their actions in range), the columns
    ``account_facts`` reads only (at scale members hold most records, and every column
    of them would be a copy of gigabytes)."""
    import pyarrow.compute as pc

    members = pa.array(membership["account_id"].to_list(), pa.string())
    columns = records.select([c for c in ACCOUNT_FACT_COLUMNS if c in records.column_names])
    mine = columns.filter(pc.is_in(columns.column("account_id"), value_set=members))
    return pl.from_arrow(mine)


def account_facts(member_records: pl.DataFrame, membership: pl.DataFrame) -> pl.DataFrame:
    """Per member: platform, name, high_profile, followers, created_at, n_actions, first_ts, langs."""
    facts = member_records.group_by("account_id").agg(
        platform=pl.col("platform").drop_nulls().first(),
        account_name=pl.col("account_name").drop_nulls().last(),
        high_profile=pl.col("high_profile").drop_nulls().any(),
        followers=pl.col("followers").drop_nulls().max(),
        account_created_at=pl.col("account_created_at").drop_nulls().min(),
        n_actions=pl.len().cast(pl.Int64),
        first_ts=pl.col("timestamp").min(),
        langs=pl.col("lang").drop_nulls().unique(),
    )
    return membership.join(facts, on="account_id", how="left")


BURSTS_FRAME_SCHEMA = {
    "cluster_id": pl.Int64,
    "bursts": pl.List(pl.Struct({"start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"),
                                 "level": pl.Int64})),
    "n_coactions_in_bursts": pl.Int64,
    "n_coaction_accounts": pl.Int64,
    "main_burst_accounts": pl.Int64,
    "main_burst_start": pl.Datetime("us", "UTC"),
    "main_burst_end": pl.Datetime("us", "UTC"),
    "median_member_gap_s": pl.Float64,
    "top_target_type": pl.String,
    "top_target": pl.String,
    "top_target_count": pl.Int64,
    "top_target_in_bursts": pl.Int64,
    "top_target_burst_start": pl.Datetime("us", "UTC"),
    "top_target_burst_end": pl.Datetime("us", "UTC"),
}


def burst_candidates(evidence: pl.DataFrame, largest: int = BURST_LARGEST_CLUSTERS) -> set[int]:
    """Clusters whose bursts are computed: those with any harm evidence, and the largest ones.

    Bursts only scale a score that rests on harm (no harm, score 0 whatever the
    bursts), and Kleinberg's automaton on one-minute bins costs O(span in minutes)
    per cluster, so clusters without harm evidence beyond the ``largest`` (by
    co-actions, for display) are skipped.
    """
    harmful = evidence.filter(pl.col("kind").is_in(list(HARM_KINDS)))["cluster_id"].unique().to_list()
    sizes = (evidence.filter(pl.col("kind").str.starts_with(COACTION_PREFIX)).group_by("cluster_id").len()
             .sort(["len", "cluster_id"], descending=[True, False]).head(largest))
    return set(harmful) | set(sizes["cluster_id"].to_list())


def cluster_bursts(evidence: pl.DataFrame, only: set[int] | None = None) -> pl.DataFrame:
    """Per cluster: bursts of its co-actions and of its most co-shared target, and synchrony.

    Bursts are the signals module's Kleinberg bursts of one-minute counts
    (``detect_activity_bursts``); ``n_coactions_in_bursts`` counts co-action evidence rows
    inside a level-1 burst (start inclusive, end exclusive); synchrony comes from
    ``burst_synchrony``: how many co-acting members acted inside the main burst and
    the median gap between consecutive actions of different members there.
    """
    from rallypoint.detectors.bursts import burst_synchrony, detect_activity_bursts

    coactions = evidence.filter(pl.col("kind").str.starts_with(COACTION_PREFIX))
    if only is not None:
        coactions = coactions.filter(pl.col("cluster_id").is_in(sorted(only)))
    rows = []
    for (cluster_id,), part in coactions.group_by("cluster_id", maintain_order=True):
        times = part["timestamp"].to_numpy()
        found = detect_activity_bursts(times, bin=BURST_BIN)
        synchrony = burst_synchrony(times, part["account_id"].to_numpy(), found)
        # ties broken on the target, then the type: a repost is a co_repost and a co_engage
        # action on the same post, and the narrower type names it (group_by's order is not fixed)
        top = (part.group_by("kind", "target").agg(n=pl.len())
               .sort(pl.col("n"), pl.col("target"), pl.col("kind") == COACTION_PREFIX + ENGAGE_TYPE, pl.col("kind"),
                     descending=[True, False, False, False]).row(0, named=True))
        target_times = part.filter((pl.col("kind") == top["kind"]) & (pl.col("target") == top["target"])
                                   )["timestamp"].to_numpy()
        target_bursts = [b for b in detect_activity_bursts(target_times, bin=BURST_BIN) if b["level"] == 1]
        main_target_burst = max(target_bursts, key=lambda b: _count_inside(target_times, [b]), default=None)
        rows.append(
            {
                "cluster_id": cluster_id,
                "bursts": found,
                "n_coactions_in_bursts": _count_inside(times, [b for b in found if b["level"] == 1]),
                "n_coaction_accounts": synchrony["n_members"],
                "main_burst_accounts": round(synchrony["members_in_main_burst_share"] * synchrony["n_members"]),
                "main_burst_start": synchrony["main_burst_start"],
                "main_burst_end": synchrony["main_burst_end"],
                "median_member_gap_s": synchrony["median_member_gap_s"],
                "top_target_type": top["kind"].removeprefix(COACTION_PREFIX),
                "top_target": top["target"],
                "top_target_count": top["n"],
                "top_target_in_bursts": _count_inside(target_times, target_bursts),
                "top_target_burst_start": main_target_burst["start"] if main_target_burst else None,
                "top_target_burst_end": main_target_burst["end"] if main_target_burst else None,
            }
        )
    if not rows:
        return pl.DataFrame(schema=BURSTS_FRAME_SCHEMA)
    return pl.DataFrame(rows, schema=BURSTS_FRAME_SCHEMA)


def _count_inside(times: np.ndarray, bursts: list[dict[str, Any]]) -> int:
    """Actions with ``start <= t < end`` of a level-1 burst (the bursts do not overlap)."""
    if not bursts:
        return 0
    t = times.astype("datetime64[us]").astype(np.int64)
    starts = np.array([_epoch_us(b["start"]) for b in bursts])
    ends = np.array([_epoch_us(b["end"]) for b in bursts])
    order = np.argsort(starts)
    starts, ends = starts[order], ends[order]
    which = np.searchsorted(starts, t, side="right") - 1
    inside = (which >= 0) & (t < ends[np.clip(which, 0, None)])
    return int(inside.sum())


def _epoch_us(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000) if value.tzinfo else int(
        value.replace(tzinfo=UTC).timestamp() * 1_000_000)


#: The record columns ``coordinated_texts`` reads.
TEXT_COLUMNS = ["id", "account_id", "timestamp", "text", "lang", "urls", "action", "target_id"]
#: The record columns the stages after the attachment read (``with_origins`` reads three of
#: the texts' columns): read again once co-action's copy is gone, without the hashtag,
#: mention and media lists no later stage reads
LATER_COLUMNS = list(dict.fromkeys([*TEXT_COLUMNS, *ACCOUNT_FACT_COLUMNS]))


def coordinated_texts(records: pa.Table, evidence: pl.DataFrame) -> pl.DataFrame:
    """Per cluster, the texts it pushed: its co-action records and the posts it reposted or replied to.

    Mobilization is read from what the members coordinated on, not from their
    everyday cover posts (which would dilute a campaign's calls to nothing), and the
    post a ring amplifies counts even when its author is outside the ring.
    Returns ``cluster_id``, ``id``, ``account_id``, ``timestamp``, ``text``, ``lang``, ``urls`` and
    ``thread`` (the post a reply or quote answers; a post's own id otherwise).
    """
    import pyarrow.compute as pc

    coactions = evidence.filter(pl.col("kind").str.starts_with(COACTION_PREFIX))
    originals = coactions.filter(pl.col("kind").is_in([COACTION_PREFIX + t for t in ORIGIN_TYPES]))
    wanted = pl.concat([coactions.select("cluster_id", "id"),
                        originals.select("cluster_id", id=pl.col("target"))]).unique()
    ids = wanted["id"].unique().to_arrow()
    found = records.select(TEXT_COLUMNS).filter(pc.is_in(records.column("id"), value_set=ids))
    # a post with links and no text is read too: money and logistics travel as bare links
    texts = pl.from_arrow(found).filter(
        (pl.col("text").str.len_chars() > 0) | (pl.col("urls").list.len() > 0)).unique("id", keep="first")
    # a reply or a quote is read with the post it answers: "I'll be there" under a call is
    # the call's thread, not a second, empty text that dilutes it
    answers = pl.col("action").is_in(["reply", "quote"]) & pl.col("target_id").is_not_null()
    texts = texts.with_columns(thread=pl.when(answers).then(pl.col("target_id")).otherwise(pl.col("id"))).drop(
        "action", "target_id")
    return wanted.join(texts, on="id", how="inner").sort("cluster_id", "timestamp", "id")


def cluster_mobilization(texts: pl.DataFrame, lexicon_paths: list[Path] | tuple[Path, ...] = ()
                         ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per cluster the ``mobilization`` struct, and per (cluster, text) the signal flags (for evidence).

    ``texts`` is :func:`coordinated_texts`; each distinct text is scanned once by the
    signals module (``detect_text_signals``) and summarized for all clusters at once
    (``summarize_by``, ``summarize_signals`` per cluster). ``lexicon_paths``: user lexicon
    files on top of the built-in ones (the lake's promoted terms).
    """
    from rallypoint.detectors import mobilization as mob
    from rallypoint.detectors.links import url_categories
    from rallypoint.detectors.mobilization.structure import structural_calls

    distinct = texts.drop("cluster_id").unique("id", keep="first")
    flags = pl.from_arrow(mob.detect_text_signals(distinct.to_arrow(), mob.load_lexicons(lexicon_paths)))
    flags = flags.join(url_categories(distinct.select("id", "urls")), on="id", how="left")
    flags = structural_calls(flags.join(distinct.select("id", "text", "timestamp"), on="id", how="left")).drop(
        "text", "timestamp")
    signals = texts.select("cluster_id", "id", "account_id", "timestamp", "text", "lang", "thread").join(
        flags, on="id", how="left")
    struct_type = pl.from_arrow(pa.array([], MOBILIZATION_STRUCT)).dtype
    summary = mob.summarize_by(signals, "cluster_id")
    frame = summary.select(
        pl.col("cluster_id").cast(pl.Int64), mobilization=pl.struct(*mob.summary.FIELDS).cast(struct_type))
    return frame, signals


def cluster_facts(
    roles: pl.DataFrame,
    accounts: pl.DataFrame,
    edges: pa.Table,
    communities,
    evidence: pl.DataFrame,
    bursts: pl.DataFrame,
    mobilization: pl.DataFrame,
) -> pl.DataFrame:
    """One row per cluster with every column :func:`scoring.score_clusters` needs."""
    membership = communities.membership
    src, dst = communities.graph.source, communities.graph.target
    inside = (membership[src] >= 0) & (membership[src] == membership[dst])
    expected = edges.column("expected_weight").to_numpy(zero_copy_only=False)
    expected = np.asarray(expected, dtype=np.float64)
    edge_frame = pl.DataFrame(
        {
            "cluster_id": membership[src][inside],
            "weight": edges.column("weight").to_numpy()[inside].astype(np.float64),
            "expected": expected[inside],
        }
    ).group_by("cluster_id").agg(
        observed_weight=pl.col("weight").sum(),
        expected_weight=pl.when(pl.col("expected").is_nan().any()).then(None).otherwise(pl.col("expected").sum()),
        n_internal_edges=pl.len().cast(pl.Int64),
    )
    new_cutoff = pl.col("first_ts") - timedelta(days=scoring.NEW_ACCOUNT_DAYS)
    people = accounts.group_by("cluster_id").agg(
        n_accounts=pl.len().cast(pl.Int64),
        n_new_accounts=(pl.col("account_created_at") >= new_cutoff).sum().cast(pl.Int64),
    )
    # listed, never weighted: who the members are does not enter the score
    high_profile = (
        accounts.filter(pl.col("high_profile").fill_null(False)).sort("cluster_id", "account_id")
        .group_by("cluster_id", maintain_order=True)
        .agg(high_profile_accounts=pl.col("account_id"),
             high_profile_names=pl.col("account_name").fill_null(pl.col("account_id")))
    )
    people = people.join(high_profile, on="cluster_id", how="left").with_columns(
        pl.col("high_profile_accounts", "high_profile_names").fill_null(pl.lit([], pl.List(pl.String))))
    counts = evidence_counts(evidence)
    facts = (
        people.join(edge_frame, on="cluster_id", how="left")
        .join(counts, on="cluster_id", how="left")
        .join(bursts, on="cluster_id", how="left")
        .join(mobilization, on="cluster_id", how="left")
    )
    zero_fill = ["n_coactions", "n_coactions_in_bursts", "n_internal_edges",
                 *[f"n_{k}" for k in SIGNAL_KINDS]]
    facts = facts.with_columns(
        *[pl.col(c).fill_null(0) for c in zero_fill],
        pl.col("observed_weight").fill_null(0.0),
        n_threads=pl.col("mobilization").struct.field("n_threads").fill_null(0),
        top_date_places=pl.col("mobilization").struct.field("top_date_places"),
    )
    return facts.sort("cluster_id")


def run_tables(scored: pl.DataFrame, roles: pl.DataFrame, accounts: pl.DataFrame, evidence: pl.DataFrame,
               communities, edges: pa.Table, records: pa.Table) -> dict[str, pa.Table]:
    """The four run tables, with cluster ids ``c0001``.. in the triage queue's order (:func:`queue_keys`)."""
    # clusters without harm evidence (score 0) follow by coordination and inauthenticity
    names = queue_keys(scored)
    ranked = scored.sort(["score", "order_score", "n_accounts", "cluster_id"],
                         descending=[True, True, True, False]).with_columns(
        cluster_key=pl.col("cluster_id").replace_strict(names, return_dtype=pl.String))
    key = ranked.select("cluster_id", "cluster_key")

    def relabel(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.join(key, on="cluster_id", how="inner").drop("cluster_id").rename(
            {"cluster_key": "cluster_id"})

    ev = relabel(evidence).select(EVIDENCE_SCHEMA.names).sort(["cluster_id", "kind", "timestamp", "id"])
    coactions = ev.filter(pl.col("kind").str.starts_with(COACTION_PREFIX))
    ranges = coactions.group_by("cluster_id").agg(first_ts=pl.col("timestamp").min(),
                                                 last_ts=pl.col("timestamp").max())
    types = coactions.group_by("cluster_id").agg(
        types=pl.col("kind").str.strip_prefix(COACTION_PREFIX).unique().sort())
    targets = (
        coactions.with_columns(kind=pl.col("kind").str.strip_prefix(COACTION_PREFIX)
                               .replace_strict(TARGET_KIND, default=pl.col("kind").str.strip_prefix(COACTION_PREFIX)))
        .group_by("cluster_id", "kind", "target").agg(count=pl.len().cast(pl.Int64))
        .sort(["cluster_id", "count", "target", "kind"], descending=[False, True, False, False])
        .group_by("cluster_id", maintain_order=True)
        .agg(top_targets=pl.struct("kind", "target", "count").head(TOP_TARGETS))
    )
    member_facts = relabel(roles.join(accounts.drop("cluster_id"), on="account_id", how="left")
                           .rename({"community": "cluster_id"}))
    context = member_facts.group_by("cluster_id").agg(
        platforms=pl.col("platform").drop_nulls().unique().sort(),
        langs=pl.col("langs").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique().sort(),
    )
    clusters = (
        relabel(ranked.drop("cluster_key").with_columns(pl.col("cluster_id")))
        .join(ranges, on="cluster_id", how="left")
        .join(types, on="cluster_id", how="left")
        .join(targets, on="cluster_id", how="left")
        .join(context, on="cluster_id", how="left")
        .rename({"n_internal_edges": "n_edges"})
        .sort("cluster_id")
    )
    members = member_facts.with_columns(pl.col("strength").cast(pl.Float64)).sort(
        ["cluster_id", "strength", "account_id"], descending=[False, True, False])
    return {
        "edges": edges,
        "clusters": _to_schema(clusters, CLUSTERS_SCHEMA),
        "members": _to_schema(members, MEMBERS_SCHEMA),
        "evidence": _to_schema(ev, EVIDENCE_SCHEMA),
    }


def queue_keys(scored: pl.DataFrame) -> dict[int, str]:
    """Cluster number -> its name in the run (``c0001`` first in the triage queue): by score, then
    (no harm evidence) by ``order_score``, then size."""
    ranked = scored.sort(["score", "order_score", "n_accounts", "cluster_id"], descending=[True, True, True, False])
    return {cid: f"c{i:04d}" for i, cid in enumerate(ranked["cluster_id"].to_list(), start=1)}


#: Evidence kind of a text using a term another cluster taught (``rallypoint.detectors.terms``).
TERM_KIND = "learned_term"


def learned_terms(first_pass: pl.DataFrame, signals: pl.DataFrame, records: pa.Table
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Terms the first pass's flagged mobilization clusters taught, and the other clusters' texts using them."""
    from rallypoint.detectors import terms

    teaching = first_pass.filter(pl.col("flagged") & ((pl.col("mobilization_score") > 0) | (pl.col("quiet_score") > 0)))
    teachers = teaching["cluster_id"].to_list()
    if not teachers or signals.height == 0:
        empty = terms.learn_terms(signals.head(0), [], pl.DataFrame(schema={"id": pl.String, "text": pl.String}))
        return empty, terms.term_hits(signals.head(0), empty)
    langs = signals.select("id", "lang").unique("id")
    # the background is a sample of rows taken in Arrow (every step-th record, the same ones for
    # the same lake): converting every text of a 10M-record lake for 50,000 of them cost seconds
    step = max(1, records.num_rows // (4 * terms.BACKGROUND_TEXTS))
    background = pl.from_arrow(records.select(["id", "text"]).take(np.arange(0, records.num_rows, step)))
    learned = terms.learn_terms(signals, teachers, background, langs)
    return learned, terms.term_hits(signals, learned)


def term_evidence(hits: pl.DataFrame) -> pl.DataFrame:
    """``learned_term`` evidence rows: the text, its thread, the term matched."""
    if hits.height == 0:
        return empty_evidence()
    return hits.select(
        pl.col("cluster_id").cast(pl.Int64), "id", "account_id", pl.col("timestamp").cast(pl.Datetime("us", "UTC")),
        kind=pl.lit(TERM_KIND), target=pl.col("thread"), text=pl.col("text"),
        matched=pl.concat_list([pl.col("term")]))


def taught_terms(hits: pl.DataFrame) -> pl.DataFrame:
    """Per cluster, the learned terms it uses: ``learned_terms`` list of {term, teacher, n} (most used first)."""
    schema = {"cluster_id": pl.Int64,
              "learned_terms": pl.List(pl.Struct({"term": pl.String, "teacher": pl.Int64, "n": pl.Int64}))}
    if hits.height == 0:
        return pl.DataFrame(schema=schema)
    return (hits.group_by("cluster_id", "term", "teacher").agg(n=pl.col("thread").n_unique().cast(pl.Int64))
            .sort(["cluster_id", "n", "term"], descending=[False, True, False])
            .group_by("cluster_id", maintain_order=True).agg(learned_terms=pl.struct("term", "teacher", "n")))


def _to_schema(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    table = frame.select(schema.names).to_arrow()
    return pa.table([table.column(n).cast(schema.field(n).type) for n in schema.names], schema=schema)


__all__ = ["DetectResult", "detect_run", "empty_evidence"]
