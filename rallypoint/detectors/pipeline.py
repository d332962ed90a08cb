"""``rallypoint detect``: one detection run over the lake, written as run tables.

:func:`detect_run` validates a :class:`~rallypoint.detectors.options.DetectOptions`, then a
:class:`DetectRun` runs its stages in order (each timed, each shown as progress on a
terminal); each stage calls the module that owns its work:

1. **read**, **coaction** — the lake's interactions in ``[since, until)`` (``read_records``),
   then the co-action engine's ``build_coaction_edges``: account pairs that acted on the
   same targets within the window, tested against a time-shuffling null model (CooRnet /
   CooRTweet semantics); with ``scheduler="tcp://..."`` its partitions are paired and
   reduced on that Dask cluster (``coaction.engine``).
2. **edges** — the edges table written; only the columns Leiden, the roles and the score
   read stay in memory.
3. **communities** — Leiden on the weighted co-action graph (:mod:`.communities`; Traag
   et al. 2019), grown by the group test of :mod:`.attachment`; then the accounts left
   out of every cluster grouped by their loose pairs (:mod:`.loose`, ``loose_groups``),
   whose edges complete the edges table; then only the edges' weights stay.
4. **records**, **accounts**, **roles** — while Leiden runs in its own process: the
   columns the later stages read, read again once co-action's are gone, and every
   account's facts (:mod:`.members`), neither of which needs the communities; once they
   are known, each member's facts, and seeder, bridge, amplifier (:mod:`.roles`) beside
   stages 5-7, which need only the membership.
5. **evidence** — co-action evidence rows per cluster (:mod:`.evidence`).
6. **mobilization** — signals in the texts each cluster pushed (:mod:`.mobilization.clusters`).
7. **bursts** — Kleinberg bursts and synchrony per cluster (:mod:`.cluster_bursts`).
8. **inauthenticity** — creation bursts, young accounts, rhythm (:mod:`.inauthenticity`).
9. **score** — every number the score reads (:mod:`.facts`) and a first pass (:mod:`.scoring`).
10. **terms** — code words the first pass's flagged clusters taught (:mod:`.terms`) and the
    second pass: score, ``flagged``, ``order_score`` and reasons.
11. **write** — clusters, members, evidence, terms (:mod:`.tables`), each atomically,
    then ``run.json`` last: a run without ``run.json`` is unfinished and the next run discards it.

With ``neo4j_uri`` the committed run is then loaded into Neo4j.

The run owns its threads and its memory: one small executor for the work done beside a
stage (the attachment's engagements during co-action, the members' roles during the
evidence stages, the tables' writing), glibc's freed-memory policy for its whole length
(:mod:`rallypoint.allocator`), and Arrow's and the C heap's unused memory returned after
every stage (:mod:`.memory`).
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from rallypoint import __version__
from rallypoint.allocator import keeping_freed_memory
from rallypoint.apart import ApartExecutor
from rallypoint.detectors import promoted, scoring
from rallypoint.detectors.attachment import attach_accounts, merge_meetings, prepare_engagements
from rallypoint.detectors.cluster_bursts import burst_candidates, cluster_bursts
from rallypoint.detectors.coaction.co_engage import TYPE as ENGAGE_TYPE
from rallypoint.detectors.communities import (
    DEFAULT_STRENGTH_CAP,
    MIN_CLUSTER_SIZE,
    SURE_P_VALUE,
    start_communities,
)
from rallypoint.detectors.evidence import coaction_evidence, evidence_counts, signal_evidence
from rallypoint.detectors.facts import cluster_facts
from rallypoint.detectors.inauthenticity import cluster_inauthenticity
from rallypoint.detectors.loose import LOOSE_SIGNIFICANCE, group_loose_pairs
from rallypoint.detectors.members import ACCOUNT_FACT_COLUMNS, account_facts, member_facts
from rallypoint.detectors.memory import peak_rss_mib, release_unused_memory
from rallypoint.detectors.mobilization.clusters import TEXT_COLUMNS, cluster_mobilization, coordinated_texts
from rallypoint.detectors.options import THREADS, DetectOptions, DetectParameterError
from rallypoint.detectors.roles import assign_roles, with_origins
from rallypoint.detectors.tables import queue_keys, run_tables
from rallypoint.detectors.terms import TERM_KIND, learned_terms, taught_terms, term_evidence, terms_table
from rallypoint.lake import Lake, new_id
from rallypoint.schema import EDGES_SCHEMA

#: Columns the detectors read from the lake (everything but ``extra``/``urls_original``).
READ_COLUMNS = [
    "id", "platform", "account_id", "timestamp", "action", "target_id", "target_account_id", "text",
    "urls", "hashtags", "mentions", "media", "channel_id", "lang", "account_name",
    "account_created_at", "followers", "high_profile",
]
#: The record columns the stages after the attachment read (``with_origins`` reads three of
#: the texts' columns): read again once co-action's copy is gone, without the hashtag,
#: mention and media lists no later stage reads
LATER_COLUMNS = list(dict.fromkeys([*TEXT_COLUMNS, *ACCOUNT_FACT_COLUMNS]))
#: From this many edges the partition (Leiden) runs in a process of its own while this one
#: writes the edges: igraph holds the GIL throughout. Below it, writing the edges (what the
#: process frees this one for) takes about as long as starting a process.
PARTITION_APART_EDGES = 2_000_000


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
        #: the process's CPU seconds (every thread's) while each stage ran: stages on the
        #: side thread (roles) overlap evidence, mobilization and bursts, so those overlap too
        self.cpu: dict[str, float] = {}
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
        start, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            # a stage entered twice (the communities, begun before the edges are written and
            # ended after) adds up its times
            self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - start, 3)
            self.cpu[name] = round(self.cpu.get(name, 0.0) + time.process_time() - cpu, 3)
            self.peak_mib[name] = peak_rss_mib()
            # what the stage freed (the reader's buffers, co-action's strings, ...) is not
            # carried into the next: Arrow's allocator and the C heap keep it otherwise
            release_unused_memory()
            self.progress.update(task, completed=1, description=f"{description} [green]done")


def read_records(lake: Lake, since: datetime | None, until: datetime | None,
                 columns: list[str] = READ_COLUMNS, files=None) -> pa.Table:
    """The lake's interactions in range (of ``files``, a snapshot's, when given) as one Arrow
    table, read by pyarrow in this process. With a Dask scheduler, co-action's pairing, the
    heavy part, runs on the cluster (``coaction.engine``); routing the records through the
    workers and back as pandas would only copy them twice."""
    return lake.read_interactions_arrow(columns=columns, since=since, until=until, files=files)


def detect_run(lake: str | Path | Lake, options: DetectOptions | None = None, *, show_progress: bool | None = None,
               **changes: Any) -> DetectResult:
    """Detect, score and write one run; returns what it wrote.

    ``options`` (default :class:`DetectOptions`'s) with ``changes`` (its field names, e.g.
    ``since=``, ``threshold=``) applied; ``show_progress``: the stages on the terminal
    (default: when stderr is one). See the module docstring.
    """
    lake = lake if isinstance(lake, Lake) else Lake(lake)
    lake.require()
    options = (options or DetectOptions()).with_changes(**changes)
    return DetectRun(lake, options, show_progress).execute()


class DetectRun:
    """One run: its lake, options, stages, executor and memory policy; each stage a method."""

    def __init__(self, lake: Lake, options: DetectOptions, show_progress: bool | None = None) -> None:
        self.lake, self.options, self.show_progress = lake, options, show_progress
        self.run_id = options.run_id or new_id()
        if (lake.runs_dir / self.run_id / "run.json").exists():
            raise DetectParameterError(f"The lake already has a finished run named {self.run_id!r}.")

    def execute(self) -> DetectResult:
        """Every stage in order, then ``run.json`` (and Neo4j with ``neo4j_uri``)."""
        lake = self.lake
        lake.discard_unfinished_runs()
        lake.begin_run(self.run_id)
        self.snapshot = lake.snapshot()  # the run reads these files only: a later ingest changes nothing in it
        self.started = datetime.now(UTC)
        with ExitStack() as run:
            self.stages = run.enter_context(_Stages(self.show_progress))
            # numpy's large temporaries reuse freed memory instead of fresh pages (rallypoint.allocator)
            run.enter_context(keeping_freed_memory())
            self.executor = run.enter_context(ThreadPoolExecutor(THREADS, thread_name_prefix="detect"))
            self.run_context = run
            # the edges file stays open from the edges stage to the loose groups' edges; a failed
            # run leaves no edges file behind
            self.edges_file = run.enter_context(ExitStack())
            self.coaction()
            self.start_communities()
            self.write_edges()
            self.describe_accounts()
            self.communities()
            self.describe_clusters()
            self.inauthenticity()
            self.score()
            self.learn_terms()
            self.write()
        if self.options.neo4j_uri:
            from rallypoint.neo4j.runs import write_run_to_neo4j

            self.summary["neo4j"] = write_run_to_neo4j(lake.root, self.run_id, self.options.neo4j_uri)
        top = self.tables["clusters"].slice(0, 10).select(["cluster_id", "score", "flagged", "n_accounts", "reasons"])
        return DetectResult(run_id=self.run_id, run_dir=lake.runs_dir / self.run_id, summary=self.summary,
                            top_clusters=top.to_pylist())

    def beside(self, fn, *args) -> Future:
        """Run ``fn(*args)`` on the run's executor, beside the stage under way."""
        return self.executor.submit(fn, *args)

    def read(self, columns: list[str]) -> pa.Table:
        o = self.options
        return read_records(self.lake, o.since, o.until, columns=columns, files=self.snapshot.files)

    # --- the stages, in order -------------------------------------------------------------

    def coaction(self) -> None:
        """read + coaction: co-action's columns, then the edges and the actions behind them."""
        from rallypoint.detectors.coaction import RECORD_COLUMNS, build_coaction_edges

        o = self.options
        with self.stages.stage("read", "reading the lake"):
            # handed over in a list: once co-action has coded the columns no name here keeps
            # them alive through its pairing and the attachment; every column is read again later
            coaction_input = [self.read(list(RECORD_COLUMNS))]
            n_records = coaction_input[0].num_rows
        # the attachment's test needs the communities, but its events can be coded, sorted and
        # keyed as soon as co-action has them: beside co-action's pairing, not after the communities
        self.prepared: list[Future] = []

        def prepare_attachment(events, window: float) -> None:
            self.prepared.append(self.beside(prepare_engagements, events, window))

        with self.stages.stage("coaction", f"co-action edges ({n_records:,} records)"):
            result = build_coaction_edges(
                coaction_input.pop(), o.coaction(loose_significance=LOOSE_SIGNIFICANCE if self.loose else None),
                scheduler=o.scheduler, on_engage_events=prepare_attachment,
            )
            # of the result the run keeps its parts, not the result: the actions are let go once
            # the evidence and roles have them, the edges' strings once the edges are written
            self.coaction_stats = result.stats
            self.actions = result.actions_frame
            self.edges = result.edges.select(EDGES_SCHEMA.names).cast(EDGES_SCHEMA)
            self.loose_edges, self.loose_actions = result.loose_edges, result.loose_actions_frame
            self.window_seconds = {k: float(v) for k, v in result.window_seconds.items()}
            del result

    @property
    def loose(self) -> bool:
        """Whether loose pairs are grouped (they need the null model's p-values)."""
        return self.options.loose_groups and self.options.null_model != "none" and \
            self.options.significance < LOOSE_SIGNIFICANCE

    def start_communities(self) -> None:
        """communities, begun: the accounts numbered and the partition started, in a process of
        its own for a large graph (:data:`PARTITION_APART_EDGES`), so the edges are written
        meanwhile."""
        o = self.options
        with self.stages.stage("communities", f"communities ({self.edges.num_rows:,} edges)"):
            self.partition_apart = (self.run_context.enter_context(ApartExecutor())
                                    if self.edges.num_rows >= PARTITION_APART_EDGES else None)
            # with co-engagement, pairs are seeds too: the group test can grow them to clusters
            engage_window = self.window_seconds.get(ENGAGE_TYPE)
            self.pending = start_communities(self.edges, objective=o.objective, resolution=o.resolution, seed=o.seed,
                                             min_size=2 if engage_window else MIN_CLUSTER_SIZE,
                                             executor=self.partition_apart)

    def write_edges(self) -> None:
        """edges: the edges table written while the communities are found, and of it only what
        the roles and the score read kept: its per-type lists and times would otherwise be
        held through the group test. The file is committed once the loose groups' edges
        follow (:meth:`communities`)."""
        with self.stages.stage("edges", f"writing the edges ({self.edges.num_rows:,})"):
            self.write_edges_part = self.edges_file.enter_context(self.lake.run_table_writer(self.run_id, "edges"))
            self.write_edges_part(self.edges)
            self.n_edges = self.edges.num_rows
            # the partition has the accounts: the roles and the score read only the weights (and
            # the loose groups the strengths)
            self.edges = self.edges.select(["weight", "strength", "expected_weight"]
                                           if self.loose_edges is not None else ["weight", "expected_weight"])

    def communities(self) -> None:
        """communities, ended: the partition taken, grown by the attachment's group test when
        co-engagement ran, and the loose groups added."""
        o = self.options
        with self.stages.stage("communities", f"communities ({self.n_edges:,} edges)"):
            engage_window = self.window_seconds.get(ENGAGE_TYPE)
            communities = self.pending.result()
            self.attached = 0
            if engage_window:
                attachment = attach_accounts(communities, self.prepared.pop().result(), engage_window,
                                             significance=o.significance)
                communities, self.attached = attachment.communities, attachment.attached.height
                self.actions = merge_meetings(self.actions, attachment.actions)
            self.grouped = 0
            if self.loose_edges is not None:
                loose = group_loose_pairs(communities, self.edges, self.loose_edges, self.loose_actions,
                                          resolution=o.resolution, seed=o.seed)
                communities, self.grouped = loose.communities, loose.grouped
                self.edges = loose.edges.select(["weight", "expected_weight"])
                self.write_edges_part(loose.grouped_edges)
                self.n_edges += loose.grouped_edges.num_rows
                self.actions = merge_meetings(self.actions, loose.actions)
            self.loose_edges = self.loose_actions = None
            self.edges_file.close()
            self.found = communities
            self.membership = pl.from_arrow(communities.members()).select(
                "account_id", cluster_id=pl.col("community"))

    def describe_accounts(self) -> None:
        """records, accounts begun: what needs no communities, done while a large graph's
        partition runs in its own process (this one would otherwise wait for it): the later
        stages' records and every account's facts."""
        with self.stages.stage("records", "reading the records for the evidence"):
            self.records = self.read(LATER_COLUMNS)
        with self.stages.stage("accounts", "account facts"):
            self.account_facts = account_facts(self.records)

    def describe_clusters(self) -> None:
        """evidence, mobilization, bursts; the roles beside them (they need only the membership)."""
        roles = self.beside(self.assign_roles)
        with self.stages.stage("accounts", "member accounts"):
            self.accounts = member_facts(self.membership, self.account_facts)
            self.account_facts = None
        with self.stages.stage("evidence", "co-action evidence"):
            evidence = coaction_evidence(self.actions, self.membership, self.window_seconds)
        with self.stages.stage("mobilization", "mobilization signals"):
            self.mobilization, self.signals = cluster_mobilization(coordinated_texts(self.records, evidence, self.membership),
                                                                   promoted.promoted_paths(self.lake))
            evidence = pl.concat([evidence, signal_evidence(self.signals)])
        with self.stages.stage("bursts", "bursts and synchrony"):
            self.bursts = cluster_bursts(evidence, only=burst_candidates(evidence))
        self.evidence = evidence
        self.roles = roles.result()
        self.actions = None  # the evidence and the roles have what they need of them

    def assign_roles(self) -> pl.DataFrame:
        """roles: per member, its role (seeder, bridge, amplifier) and the counts behind it."""
        with self.stages.stage("roles", "roles"):
            weight = self.edges.column("weight").to_numpy().astype(np.float64)
            return assign_roles(self.found, weight, with_origins(self.actions, self.records))

    def inauthenticity(self) -> None:
        with self.stages.stage("inauthenticity", "inauthenticity cues"):
            # the members' creation dates, first actions and action counts are the account facts'
            self.inauthentic, cues = cluster_inauthenticity(self.records, self.accounts, self.evidence)
            self.evidence = pl.concat([self.evidence, cues])

    def score(self) -> None:
        """The facts every score reads, and the first pass (its flags teach the terms)."""
        with self.stages.stage("score", "scoring"):
            self.facts = cluster_facts(
                self.roles, self.accounts, self.edges, self.found, self.evidence, self.bursts, self.mobilization,
            ).join(self.inauthentic, on="cluster_id", how="left")
            self.first_pass = scoring.component_scores(self.facts).with_columns(
                flagged=pl.col("score") >= self.options.threshold)

    def learn_terms(self) -> None:
        """Learned code words as evidence, then the second scoring pass and the queue's names."""
        with self.stages.stage("terms", "learned code words and the second scoring pass"):
            self.learned, hits = learned_terms(self.first_pass, self.signals, self.records)
            terms = term_evidence(hits)
            self.evidence = pl.concat([self.evidence, terms])
            # the first pass counted every other kind; only the new rows are counted again
            facts = self.facts.drop(f"n_{TERM_KIND}").join(
                evidence_counts(terms).select("cluster_id", f"n_{TERM_KIND}"), on="cluster_id", how="left"
            ).with_columns(pl.col(f"n_{TERM_KIND}").fill_null(0)).join(taught_terms(hits), on="cluster_id", how="left")
            self.keys = queue_keys(scoring.component_scores(facts))
            self.scored = scoring.score_clusters(facts, threshold=self.options.threshold,
                                                 window_seconds=self.window_seconds, names=self.keys)

    def write(self) -> None:
        """The run tables, each atomically, then ``run.json``, which commits the run."""
        with self.stages.stage("write", "writing the run"):
            tables = run_tables(self.scored, self.roles, self.accounts, self.evidence)
            tables["terms"] = terms_table(self.learned, self.keys)
            self.tables = tables
            # Parquet encodes and compresses without the GIL: the tables are written two at once
            # (the edges were written after the communities; run.json, written last, commits the run)
            list(self.executor.map(lambda name: self.lake.write_run_table(self.run_id, name, tables[name]),
                                   ("evidence", "members", "clusters", "terms")))
            self.summary = self.run_json()
        self.summary["timings"] = self.stages.timings
        self.summary["cpu_seconds"] = self.stages.cpu
        self.summary["peak_memory_mib"] = self.stages.peak_mib
        self.summary["finished"] = datetime.now(UTC).isoformat()
        self.lake.write_run_json(self.run_id, self.summary)

    def run_json(self) -> dict[str, Any]:
        """What ``run.json`` says about the run (its timings are added when the stages end)."""
        tables, lake = self.tables, self.lake
        return {
            "run_id": self.run_id,
            "rallypoint_version": __version__,
            "started": self.started.isoformat(),
            "finished": None,
            "parameters": self.options.parameters(resolution=self.found.resolution, strength_cap=DEFAULT_STRENGTH_CAP,
                                                  sure_p_value=SURE_P_VALUE,
                                                  pair_budget=self.options.coaction().pair_budget),
            "threshold": self.options.threshold,
            "window_seconds": self.window_seconds,
            "input": _input_range(self.records),
            "snapshot": self.snapshot.as_json(lake.root),
            "counts": {
                "records": self.records.num_rows,
                "edges": self.n_edges,
                "clusters": tables["clusters"].num_rows,
                "flagged": int(pc_sum(tables["clusters"].column("flagged"))),
                "members": tables["members"].num_rows,
                "evidence": tables["evidence"].num_rows,
                "terms": tables["terms"].num_rows,
            },
            "coaction_stats": _jsonable(self.coaction_stats),
            # accounts joined to a cluster by the group test (attachment.py), not by an edge
            "attached_accounts": self.attached,
            # accounts outside every cluster grouped by their loose pairs (loose.py)
            "loose_grouped_accounts": self.grouped,
            # where the partition ran (a process of its own for a large graph) and its cost there:
            # apart, its CPU is not in ``cpu_seconds`` nor its memory in ``peak_memory_mib``
            "partition": {"process": "this" if self.partition_apart is None else "separate",
                          "seconds": round(self.pending.found.seconds, 3),
                          "cpu_seconds": round(self.pending.found.cpu_seconds, 3),
                          "peak_memory_mib": round(self.pending.found.peak_mib, 1)},
            "versions": _versions(),
            # the lake's promoted terms this run knew (rallypoint lexicon add)
            "lexicon": promoted.version(lake),
            "scoring": {
                "formula": scoring.SCORE_FORMULA,
                "coordination_saturation": scoring.COORDINATION_SATURATION,
                "new_account_days": scoring.NEW_ACCOUNT_DAYS,
            },
        }


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


__all__ = ["DetectOptions", "DetectResult", "DetectRun", "detect_run", "read_records"]
