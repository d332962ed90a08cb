"""The coordination graph: co-action edges between accounts, with their null-model figures.

What it computes
    For each co-action type (one module each: ``co_repost``, ``co_link``, ...) the
    share events; every pair of shares of the same target by two different accounts
    within the window (``pairs.py``); per account pair an edge whose ``weight`` is the
    number of such co-share pairs and ``n_shared`` the number of distinct targets
    (CooRTweet's and the QUT toolkit's weight), with per-type counts and first/last
    times; CooRTweet's minimum-participation rule; and the null model's expected
    weight, p-value and strength (``rallypoint.detectors.null_model``).

Minimum participation (CooRTweet 2.x, ``detect_groups``), applied per co-action type
    1. accounts with fewer than ``min_participation`` share events of a type are
       dropped from that type before pairs are formed;
    2. after pairing, an account *participates* with the number of its share events
       of that type that are part of at least one co-share pair; a co-share pair is
       kept when at least one of its two accounts participates ``min_participation``
       times.
    ``min_participation=1`` keeps every pair (the QUT toolkit's behaviour). Per type,
    as CooRTweet's multi-modal recipe runs ``detect_groups`` once per type (URLs,
    image hashes) and then merges the results into one network.

Plan
    The share events of every type are built and coded in this process (``_LocalPlan``);
    each type's targets are then cut into partitions of about ``pair_budget`` pairs,
    paired and reduced to per-pair sums by ``engine.pair_partition``, and the sums added up
    by ranges of account pairs (``engine.reduce_bucket``). The runner (``engine.py``) runs
    those two functions here, the sums spilled to disk when they do not fit
    (``spill.py``), or as tasks on a ``distributed`` cluster (``scheduler``), the sums
    kept on the workers; only candidate rows, share counts and figures come back.

Cost
    ``O(n log n)`` for the sort, ``O(n log m + P)`` for the pairs (``P`` pairs formed,
    at most ``n * max_pairs_per_share``), ``O(R log R)`` to add up the ``R`` per-pair
    rows, plus the null model's join. Memory is bounded by the pair budget (one
    partition's rows, one bucket's), not by ``P``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from rallypoint.arrays import first_seen_codes, run_sums, sorted_codes, sorted_unique, union_codes
from rallypoint.detectors import null_model as nm
from rallypoint.detectors.coaction import (
    co_engage,
    co_hashtags,
    co_link,
    co_media,
    co_mention,
    co_reply,
    co_repost,
    co_text,
)
from rallypoint.detectors.coaction.engine import partition_budget, runner_for
from rallypoint.detectors.coaction.options import (
    CoactionError,
    CoactionOptions,
)
from rallypoint.detectors.coaction.pairs import target_chances, window_ends
from rallypoint.detectors.coaction.partition import (
    SHARE_COLUMNS,
    Coded,
    coded_pair_actions,
    count_shares,
    merge_figures,
    pair_slices,
    partition_bounds,
)
from rallypoint.detectors.coaction.reduce import (
    Candidates,
    ShareLookup,
    expected_limits,
    expected_weights,
    may_pass,
    met_on_two_targets,
    participation,
)
from rallypoint.detectors.coaction.shares import distinct as distinct_events
from rallypoint.detectors.coaction.shares import schema_of
from rallypoint.detectors.coaction.spill import BUCKETS_PER_BUDGET
from rallypoint.detectors.memory import release_unused_memory
from rallypoint.detectors.options import THREADS
from rallypoint.detectors.window import (
    AUTO,
    sorted_target_delays,
    window_from_delays,
)
from rallypoint.schema import EDGE_TYPE_STRUCT, EDGES_SCHEMA, TIMESTAMP

_MODULES = {
    m.TYPE: m for m in (co_repost, co_link, co_text, co_reply, co_mention, co_hashtags, co_media, co_engage)
}
#: ``auto`` never goes below this: CooRnet's estimate is set by the fastest sharers in the
#: data (news bots, rings: a few seconds), and a window that tight misses people, who take
#: tens of seconds to answer a call. The null model, not the window, tells chance from
#: coordination, so a wider window costs pairs, not precision. 60 s is the QUT toolkit's default.
AUTO_MIN_SECONDS = 60.0
#: ... nor above this for the fast types: on heavy-tailed data the quickest-starting targets are
#: the viral posts, whose half-life is hours, and CooRnet's estimate follows them (21 minutes
#: for co_repost on a 1M-record world), turning every early follower into a co-sharer.
AUTO_MAX_SECONDS = 300.0
#: ``auto`` for ``co_engage``: the conversation scale. Quoting or replying takes minutes.
ENGAGE_WINDOW_SECONDS = 900.0
#: Types that are answers to a post, taking minutes: the post itself, or its flyer. Links and
#: texts are not: popular news URLs and common headlines would meet at that scale by habit.
CONVERSATION_TYPES = ("co_engage", "co_media")
#: Columns of ``CoactionResult.actions_table()``.
ACTIONS_SCHEMA = pa.schema(
    [
        pa.field("type", pa.string()),
        pa.field("target", pa.string()),
        pa.field("account_id", pa.string()),
        pa.field("id", pa.string()),
        pa.field("timestamp", TIMESTAMP),
    ]
)
#: The order of ``CoactionResult.actions_frame`` (and of every table made from it): by time,
#: then record, type and target, so a record's actions are neighbours.
ACTION_ORDER: tuple[str, ...] = ("timestamp", "id", "type", "target")
#: The record columns the detectors read.
RECORD_COLUMNS: tuple[str, ...] = (
    "id", "account_id", "timestamp", "action", "target_id", "text",
    "urls", "hashtags", "mentions", "media",
)
_LIST_COLUMNS = ("urls", "hashtags", "mentions", "media")


@dataclass
class CodedEvents:
    """Share events whose ``account_id`` and ``id`` are integer codes: positions in ``accounts``
    (sorted distinct strings) and ``ids`` (distinct record ids, in order of first
    appearance); ``frame``: ``target``, ``account_id``, ``id``, ``time`` (µs). How the
    in-process plan hands over ``co_engage``'s events: as strings they would hold a
    gigabyte at scale through the rest of a detect run. With ``targets`` (sorted distinct
    strings), ``target`` holds codes into them too."""

    frame: pl.DataFrame
    accounts: pl.Series
    ids: pl.Series
    targets: pl.Series | None = None

    def decoded(self) -> pl.DataFrame:
        """The events with targets, account and record ids as strings."""
        frame = self.frame if self.targets is None else self.frame.with_columns(
            target=self.targets.gather(self.frame["target"]))
        return frame.with_columns(account_id=self.accounts.gather(self.frame["account_id"]),
                                  id=self.ids.gather(self.frame["id"]))


@dataclass
class CoactionResult:
    """Edges (``EDGES_SCHEMA``), the actions behind them, the windows used and run figures.

    ``actions_frame``: the actions as polars holds them (``ACTIONS_SCHEMA``'s columns, sorted by
    ``ACTION_ORDER``); ``actions_table()`` makes the same as an Arrow table of
    ``ACTIONS_SCHEMA``. ``detect`` reads the frame: the Arrow copy materialises every string
    of millions of actions again.
    """

    edges: pa.Table
    actions_frame: pl.DataFrame
    window_seconds: dict[str, float]
    stats: dict[str, Any] = field(default_factory=dict)
    #: every ``co_engage`` share event (``target``, ``account_id``, ``id``, ``time`` µs), copies
    #: included, before any filter — what ``detectors.attachment`` tests accounts on; in
    #: process as ``CodedEvents`` (``.decoded()`` gives the strings)
    engage_events: pl.DataFrame | CodedEvents | None = None
    #: with ``loose_significance``: the pairs that failed ``significance`` but pass the looser
    #: level (``EDGES_SCHEMA``, ``p_value > significance``) and the actions behind them alone
    loose_edges: pa.Table | None = None
    loose_actions_frame: pl.DataFrame | None = None

    def actions_table(self) -> pa.Table:
        """``actions_frame`` as an Arrow table of ``ACTIONS_SCHEMA`` (a copy, made on each call)."""
        return self.actions_frame.to_arrow().cast(ACTIONS_SCHEMA)


def build_coaction_edges(
    records,
    options: CoactionOptions | None = None,
    *,
    scheduler: str | Any | None = None,
    on_engage_events: Callable[[pl.DataFrame | CodedEvents, float], None] | None = None,
    edge_sink: Callable[[pa.Table], None] | None = None,
    **settings: Any,
) -> CoactionResult:
    """Build the co-action graph of ``records`` (a pyarrow Table, LAKE_SCHEMA columns).

    ``options``: what to build (:class:`CoactionOptions`), or its fields as keywords
    (``settings``), not both. ``pair_budget`` cuts the targets into partitions of about
    that many pairs and share events, paired one partition at a time, the per-pair sums
    spilled to disk and added up pair by pair (``spill.py``), so memory stays bounded and
    every pair under the cap is formed (``stats["partitions"]``). ``loose_significance``'s
    pairs come back as the result's ``loose_edges`` and ``loose_actions_frame`` (``detect``
    groups them among the accounts no cluster holds, :mod:`rallypoint.detectors.loose`);
    the edges and actions are those of ``significance``.

    Where and how it runs, beside what it builds:
    ``scheduler``: a Dask scheduler address (``tcp://...``) or a ``distributed.Client``:
    the partitions are paired and reduced there as tasks (``engine.OnCluster``), and only
    the candidate rows, share counts and figures come back; ``None``: in this process;
    ``on_engage_events``: called with ``co_engage``'s events (as
    ``CoactionResult.engage_events``) and window in seconds as soon as both are known,
    before any pair is formed, so a caller can start work on them beside the pairing
    (``detect`` prepares the attachment's test there);
    ``edge_sink``: called with the edges as they are formed, a bucket of account pairs at a
    time (``EDGES_SCHEMA`` tables, in the order of the whole table), none of them held: the
    result's ``edges`` and ``actions_frame`` are then empty and ``stats`` counts the
    ``edges`` and the ``edge_accounts`` (what ``rallypoint network`` writes, without the
    memory a hundred million edges take).
    """
    if options is None:
        options = CoactionOptions(**settings)
    elif settings:
        raise CoactionError("Give co-action's settings as one CoactionOptions or as keywords, not both.")
    started = time.perf_counter()
    o = options
    type_list, parsed_window = list(o.types), o.window_seconds

    if not isinstance(records, pa.Table):
        raise CoactionError(f"Records must be a pyarrow Table, not {type(records).__name__}.")
    client, own_client = _client(scheduler)
    plan = _LocalPlan(_complete(records), client)
    # the plan holds the table until its share events are coded, then lets it go (a
    # caller that hands over its only reference frees the records for the pairing)
    del records

    shares, engage_events, stats = plan.prepare(type_list, o.text_threshold, o.seed, o.min_participation)
    if parsed_window == AUTO:
        delays = plan.delays(shares)
        windows = {
            name: min(AUTO_MAX_SECONDS, max(AUTO_MIN_SECONDS, window_from_delays(delays.filter(pl.col("kind") == kind))))
            for kind, name in enumerate(type_list)
        }
        for name in CONVERSATION_TYPES:
            if name in windows:
                windows[name] = ENGAGE_WINDOW_SECONDS
    else:
        windows = dict.fromkeys(type_list, float(parsed_window))
    window_us = np.array([round(windows[t] * 1e6) for t in type_list], dtype=np.int64)
    if on_engage_events is not None and engage_events is not None:
        on_engage_events(plan.decode_events(engage_events), windows[co_engage.TYPE])

    jitter = o.jitter
    try:
        # wall and this process's CPU time of the two halves: what sizing a cluster starts from
        pairing_started = time.perf_counter(), time.process_time()
        rows, share_stats, figures = plan.coact(shares, window_us, o.max_pairs_per_share, jitter, o.pair_budget)
        stats.update(figures)
        buckets_started = time.perf_counter(), time.process_time()
        stats["pairing_seconds"] = round(buckets_started[0] - pairing_started[0], 3)
        stats["pairing_cpu_seconds"] = round(buckets_started[1] - pairing_started[1], 3)
        # with the null model, only the rows of pairs that may pass come back (most candidates
        # met once and cannot): the rest never become strings or structs
        loose = o.loose_significance if jitter is not None and edge_sink is None else None
        significance_or_none = o.significance if jitter is not None else None
        streamed = None if edge_sink is None else _EdgeStream(edge_sink, type_list, o.null_model, o.significance,
                                                              plan.accounts)
        per_type, candidates, per_kind = plan.per_type(rows, share_stats, o.min_participation, significance_or_none,
                                                       loose, sink=streamed)
        stats["spilled_rows"] = plan.spilled_rows
        stats["buckets_seconds"] = round(time.perf_counter() - buckets_started[0], 3)
        stats["buckets_cpu_seconds"] = round(time.process_time() - buckets_started[1], 3)
    except Exception as exc:
        if client is not None and isinstance(exc, _cluster_failures()):
            # a task retried past Dask's limit, or lost with every worker that held it
            detail = str(exc).splitlines()[0][:300] if str(exc) else ""
            raise CoactionError(f"Co-action failed on the Dask cluster ({type(exc).__name__}: {detail}); "
                                "a worker may have run out of memory.") from None
        raise
    finally:
        plan.close()
        if own_client:
            client.close()
    del rows, share_stats
    stats["candidate_edges"] = candidates
    stats["per_type_candidate_edges"] = {type_list[k]: n for k, n in sorted(per_kind.items())}

    # edges are formed and filtered on the plan's account keys (codes in process), and the
    # kept (type, pair) rows go to the actions step in those keys: no string -> code round trip.
    # The actions come first: the share events go before the edges' strings are made
    kept, runs = _kept_pair_rows(per_type, o.null_model, o.significance)
    loose_runs = loose_actions = None
    if loose is not None and runs is not None:
        # the same pairs and p-values, another choice: only the pairs the loose groups can use.
        # (may_pass's rule again: its rows also hold pairs kept for ``significance`` widened by SLACK)
        twice = met_on_two_targets(per_type["n_shared"].to_numpy(), runs.starts)
        loose_runs = replace(runs, keep=(runs.p_value <= loose) & ~runs.keep & twice)
        del twice
        loose_rows = per_type.filter(pl.Series(loose_runs.kept_rows())).select(_KEPT_COLUMNS)
    if streamed is None:
        actions = plan.actions(shares, kept, window_us, o.max_pairs_per_share)
        if loose_runs is not None:
            loose_actions = plan.actions(shares, loose_rows, window_us, o.max_pairs_per_share)
    else:
        # the network alone: no actions behind the edges
        stats["edge_accounts"] = int(streamed.accounts_seen.sum())
        actions = pl.DataFrame(schema=SHARE_COLUMNS)
    del kept
    shares = plan.coded = plan.type_pairs = None
    release_unused_memory()
    edges, _ = _edge_table(per_type, type_list, o.null_model, o.significance, plan.accounts, runs)
    loose_edges = (None if loose_runs is None else
                   _edge_table(per_type, type_list, o.null_model, loose, plan.accounts, loose_runs)[0])
    del per_type, runs, loose_runs

    def named(actions: pl.DataFrame) -> pl.DataFrame:
        return actions.select(
            type=_type_names(actions["kind"], type_list), target="target", account_id="account_id", id="id",
            timestamp=pl.from_epoch("time", time_unit="us").dt.replace_time_zone("UTC"),
        ).sort(*ACTION_ORDER)

    actions = named(actions)
    loose_actions = None if loose_actions is None else named(loose_actions)
    if loose_edges is not None:
        stats["loose_edges"] = loose_edges.num_rows
    stats.update(
        {
            "edges": edges.num_rows if streamed is None else streamed.n_edges,
            "actions": actions.height,
            "null_model": o.null_model,
            "null_jitter": jitter,
            "significance": o.significance if jitter is not None else None,
            "max_pairs_per_share": o.max_pairs_per_share,
            "min_participation": o.min_participation,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    return CoactionResult(
        edges=edges,
        actions_frame=actions,
        window_seconds=windows,
        engage_events=None if engage_events is None else plan.decode_events(engage_events),
        stats=stats,
        loose_edges=loose_edges,
        loose_actions_frame=loose_actions,
    )


# --- arguments and inputs ----------------------------------------------------------


def _client(scheduler: str | Any | None) -> tuple[Any | None, bool]:
    """``(client, owned)``: a ``distributed.Client`` for ``scheduler`` (an address, connected
    here and closed by the caller, or a client already made), or ``(None, False)``."""
    if scheduler is None or not isinstance(scheduler, str):
        return scheduler, False
    from distributed import Client

    try:
        return Client(scheduler, timeout="20s", set_as_default=False), True
    except OSError as exc:
        raise CoactionError(f"Cannot reach the Dask scheduler at {scheduler}: {exc}.") from None


def _cluster_failures() -> tuple[type[Exception], ...]:
    """What a ``distributed`` client raises when the cluster, not the input, fails a task."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker
    from distributed.comm.core import CommClosedError

    return KilledWorker, CancelledError, CommClosedError


def _complete(table: pa.Table) -> pa.Table:
    """The record columns the detectors read, missing optional ones as nulls."""
    missing = [c for c in ("id", "account_id", "timestamp", "action") if c not in table.column_names]
    if missing:
        raise CoactionError(f"The records lack the column(s) {', '.join(missing)}.")
    columns = {}
    for name in RECORD_COLUMNS:
        if name in table.column_names:
            columns[name] = table[name]
        else:
            kind = pa.list_(pa.string()) if name in _LIST_COLUMNS else pa.string()
            columns[name] = pa.nulls(table.num_rows, kind)
    columns["timestamp"] = table["timestamp"].cast(TIMESTAMP)
    return pa.table(columns)


def _share_frame(events: pa.Table, table: pa.Table, kind: int) -> pl.DataFrame:
    """A type module's share events (``events``, from the records ``table``) as ``SHARE_COLUMNS``."""
    return _with_codes(pl.from_arrow(events.cast(schema_of(table))), kind)


def _with_codes(events: pl.DataFrame, kind: int) -> pl.DataFrame:
    """``SHARE_COLUMNS`` (``account_id`` and ``id`` as strings, or as the local plan's codes)."""
    return events.select(
        kind=pl.lit(kind, dtype=pl.Int32),
        # group codes stay codes (``_group_share_frame``)
        target=pl.col("target") if events["target"].dtype.is_integer() else pl.col("target").cast(pl.String),
        account_id="account_id",
        id="id",
        time=pl.col("timestamp").dt.epoch("us").cast(pl.Int64),
    )


# --- the plan ----------------------------------------------------------------------


class _LocalPlan:
    """Every step of ``build_coaction_edges``, one co-action type at a time.

    A type's share events (strings) are built, coded (``Coded``: integer arrays and each
    distinct string once) and dropped before the next type's are built; pairs are formed
    partition by partition and reduced to per-pair sums by the runner (``engine.py``: in
    this process, or on a cluster's workers). Every type codes accounts against the same
    sorted account ids, so the per-type rows merge into one sorted table.
    """

    #: per-pair rows written to disk by the pairing (``spill.PairSpill``)
    spilled_rows = 0

    def __init__(self, table: pa.Table, client: Any | None = None) -> None:
        self.table = table
        #: a ``distributed.Client`` the partitions run on, or ``None``: here (``engine.py``)
        self.client = client

    def prepare(self, type_list, text_threshold, seed, min_participation):
        """One ``Coded`` per type, the ``co_engage`` events (in codes) and the counts.

        Account ids become int32 codes in string order (``_dense_codes``) and record ids
        codes in order of first appearance, before any share event is built: a share event
        then holds two integers instead of two strings, and the strings are kept once each
        (``self.accounts``, ``self.ids``). Record ids need no order (``_text_copies`` breaks
        its ties on the strings), so they are not sorted, the costliest sort there would be.
        A repeated id gets one code, so its repeats are one share event.
        """
        self.min_participation = min_participation
        n_kinds = len(type_list)
        # co_text's grouping (MinHash over every distinct text) is the longest type by far, and
        # its numpy and polars work releases the GIL: it runs on a thread of its own from the
        # start (it reads the texts and actions only) while the ids are coded and the other
        # types are built, and is taken up last but co_engage, which needs its copies
        text_worker = ThreadPoolExecutor(1)
        text_groups = (text_worker.submit(co_text.text_groups, self.table, text_threshold, seed)
                       if co_text.TYPE in type_list else None)
        text_worker.shutdown(wait=False)
        self.ids, id_code = first_seen_codes(pl.from_arrow(self.table["id"]).cast(pl.String))
        id_code = pa.array(id_code)
        self.accounts, account_code = _dense_codes(self.table["account_id"])
        table = self.table.set_column(self.table.schema.get_field_index("id"), "id", id_code)
        table = table.set_column(table.schema.get_field_index("account_id"), "account_id", account_code)
        del id_code, account_code
        coded: dict[int, Future] = {}
        self.engage_targets = None
        engage_kind = type_list.index(co_engage.TYPE) if co_engage.TYPE in type_list else None
        engage_events = copies = None
        counts = {"share_events": 0, "share_events_after_prefilter": 0}

        def events_of(kind: int) -> tuple[pl.DataFrame, pl.Series | None]:
            """A type's share events and, when their targets are codes, the strings they index."""
            if type_list[kind] == co_text.TYPE:
                code, labels = text_groups.result()
                return _group_share_frame(table, code, kind), labels
            events = _share_frame(_MODULES[type_list[kind]].share_events(table), table, kind)
            if kind != engage_kind:
                return events, None
            # co_engage's posts are coded once, here: for its Coded and for the attachment
            # (which would otherwise code the same strings again)
            targets, target_code = sorted_codes(events["target"])
            return events.with_columns(target=pl.Series(target_code)), targets

        late = [k for k, name in enumerate(type_list) if name in (co_text.TYPE, co_engage.TYPE)]
        built: dict[int, tuple[pl.DataFrame, pl.Series | None]] = {}
        # a type's Coded (two sorts in polars, which releases the GIL) is built on a worker
        # while this thread goes on to the next type's events: co_text's Coded then runs
        # beside its copies and co_engage's events, instead of each Coded in turn
        with ThreadPoolExecutor(THREADS) as coder:
            for kind in [k for k in range(n_kinds) if k not in late] + late:
                name = type_list[kind]
                if name == co_text.TYPE and engage_kind is not None:
                    # co_engage's own events need no text: they are built, and their posts coded,
                    # before co_text's grouping is waited for (the other types are coded well
                    # before it ends)
                    built[engage_kind] = events_of(engage_kind)
                events, targets = built.pop(kind) if kind in built else events_of(kind)
                if name == co_engage.TYPE:
                    if copies is not None:
                        targets, events = _with_copies_coded(events, targets, copies, self.ids)
                        copies = None
                    self.engage_targets = targets
                    engage_events = events.select("target", "account_id", "id", "time")
                counts["share_events"] += events.height
                every = events
                if min_participation > 1:
                    # CooRTweet step 1: accounts with too few share events of a type never pair in it
                    # (accounts are codes here: counted by a bincount, cheaper than a group-by
                    # and a semi join)
                    account = events["account_id"].to_numpy()
                    active = np.bincount(account, minlength=len(self.accounts)) >= min_participation
                    events = events.filter(pl.Series(active[account]))
                counts["share_events_after_prefilter"] += events.height
                coded[kind] = coder.submit(Coded, events, accounts=self.accounts, n_kinds=n_kinds, ids=self.ids,
                                           targets=targets)
                if name == co_text.TYPE and engage_kind is not None:
                    # copying a post's text is engaging with it, as reposting it is (co_engage.py)
                    copies = _text_copies(every, engage_kind, self.ids)
                del events, every
                release_unused_memory()
            self.coded = [coded.pop(kind).result() for kind in range(n_kinds)]
        if min_participation <= 1:
            del counts["share_events_after_prefilter"]
        # coded: the records are not read again here, and the memory Arrow keeps for them
        # goes back before the pairing instead of staying resident through it. ``table``, the
        # records with their ids coded, shares every other column with them: it goes too
        self.table = table = text_groups = None
        release_unused_memory()
        return self.coded, engage_events, counts

    def decode_events(self, events):
        """``prepare``'s ``co_engage`` events with the codes' strings alongside (not decoded)."""
        return CodedEvents(events, self.accounts, self.ids, self.engage_targets)

    def delays(self, shares):
        return pl.concat([sorted_target_delays(s.group, s.time, s.group_kind) for s in shares])

    def coact(self, shares, window_us, max_pairs_per_share, jitter, pair_budget):
        """Pairs of each type, partition by partition, each partition reduced to per (account pair,
        type) sums (``engine.pair_partition``) and kept by the runner: in a ``PairSpill`` in
        this process, on the workers on a cluster.

        A partition is a run of whole targets of one type (the shares are sorted by target:
        ``partition_bounds`` cuts them where about ``pair_budget`` pairs under the cap and
        shares have been counted), so a target's share counts and chance are made in one
        partition. A partition heavier than the budget is paired by ``pair_slices`` tasks, each
        keeping the pairs of a disjoint part of the account pairs, so a pair's sums over the
        targets are still made in one place. The sums go to one bucket (in memory) when every
        type's pairs fit the budget, else to ``BUCKETS_PER_BUDGET`` per budget's worth of
        pairs. Nothing is sampled.
        """
        # every type's group codes offset into one range (E_ab's)
        self.group_offsets = np.cumsum([0] + [s.n_groups for s in shares])
        ends = [window_ends(s.group, s.time, window_us[s.kind]) for s in shares]
        wanted = []
        for e in ends:
            partners = e - np.arange(1, len(e) + 1, dtype=np.int64)
            wanted.append(partners if max_pairs_per_share is None else np.minimum(partners, max_pairs_per_share))
        total = int(sum(int(w.sum()) for w in wanted))
        pair_budget = partition_budget(self.client, pair_budget)
        n_buckets = 1 if pair_budget is None or total <= pair_budget else -(-total * BUCKETS_PER_BUDGET // pair_budget)
        first = self.coded[0]
        self.runner = runner_for(self.client, n_buckets, first.n_accounts, first.n_kinds)
        per_type = []
        for s in shares:
            # popped: a type's ends and counts go before the next type's pairing (the memory peak)
            type_ends, type_wanted = ends.pop(0), wanted.pop(0)
            windows = window_us[s.kind]
            chance = (np.full(s.n_groups, np.nan) if jitter is None else
                      target_chances(s.group, s.time, np.round(windows * jitter).astype(np.int64), s.n_groups, jitter))
            bounds = partition_bounds(s.group, type_wanted, pair_budget)
            # a partition heavier than the budget (a target with hundreds of thousands of sharers)
            # is paired by several tasks, each keeping a disjoint part of the account pairs
            slices = [pair_slices(type_wanted[lo:hi], pair_budget)
                      for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
            del type_wanted, windows
            handles = []
            for lo, hi, n_slices in zip(bounds[:-1], bounds[1:], slices, strict=True):
                for k in range(n_slices):
                    handles.append(self.runner.pair(s.part(lo, hi, k, n_slices), window_us, max_pairs_per_share,
                                                    chance, type_ends[lo:hi] - lo))
            del type_ends
            per_type.append((chance, bounds, slices, handles))
        results = []
        for s, (chance, bounds, slices, handles) in zip(shares, per_type, strict=True):
            parts = iter(self.runner.gather(handles))
            in_pair = np.zeros(len(s), dtype=bool)
            counts, figures = [], []
            for lo, hi, n_slices in zip(bounds[:-1], bounds[1:], slices, strict=True):
                for _ in range(n_slices):
                    part_counts, part_in_pair, part_figures = next(parts)
                    in_pair[lo:hi] |= part_in_pair
                    figures.append(part_figures)
                # a sliced partition's shares are counted once its slices' pairs are all marked
                counts.append(part_counts if n_slices == 1 else count_shares(s.part(lo, hi), in_pair[lo:hi]))
            results.append(_TypePairs(pl.concat(counts), chance, in_pair, merge_figures(figures)))
        figures = merge_figures([r.figures for r in results])
        figures["partition_budget"] = pair_budget
        return results, None, figures

    def per_type(self, rows, share_stats, min_participation, significance, loose=None, sink=None):
        """The per-type rows of every type, added up bucket by bucket (``engine.reduce_bucket``)
        and sorted by (account pair, type); accounts stay codes.

        ``significance``: ``None`` without a null model, else only rows of pairs whose
        p-value may pass it are kept, bucket by bucket (and only those get ``E_ab``), and with
        ``loose`` the pairs the loose groups can use (``reduce.may_pass``).
        ``sink``: called with each bucket's rows (a frame as returned, in key order) instead of
        holding them; the frame returned is then empty.
        """
        first = self.coded[0]
        n_accounts, n_kinds = first.n_accounts, first.n_kinds
        self.type_pairs = rows
        # every type's share counts and chances, with group codes offset into one range
        share_counts = pl.concat([r.share_counts.with_columns(pl.col("group") + int(offset))
                                  for r, offset in zip(rows, self.group_offsets, strict=False)])
        for r in rows:
            r.share_counts = None  # concatenated above: one copy is enough
        group_kind = np.concatenate([s.group_kind for s in self.coded])
        enough = (participation(share_counts, group_kind, n_accounts, n_kinds, self.min_participation)
                  if self.min_participation > 1 else None)
        formed = np.zeros(n_kinds, np.int64)
        per_kind = np.zeros(n_kinds, np.int64)
        candidates = 0
        kept, kept_expected = [], []
        if significance is not None:
            # E_ab bucket by bucket, as the buckets come: only each bucket's survivors are held
            chance = np.concatenate([r.chance for r in rows])
            lookup = ShareLookup.build(share_counts.select("group", "account", "n"), group_kind, n_accounts, n_kinds,
                                         chance)
        del share_counts
        release_unused_memory()  # the pairing's memory, before the buckets'

        def finish(bucket: Candidates) -> tuple[Candidates, np.ndarray | None]:
            """A bucket's rows that pass, with their ``E_ab`` (on the calling thread: the
            runner finishes two buckets at once)."""
            if significance is None:
                return bucket, None
            found = bucket.rows
            expected = expected_weights(found, lookup, chance, n_accounts, n_kinds, workers=1,
                                        limit=expected_limits(found, n_kinds, significance, loose))
            keep = may_pass(found, expected, n_kinds, significance, loose)
            bucket.rows = found.take(keep)
            return bucket, expected[keep]

        for bucket, expected in self.runner.buckets(enough, significance, loose, finish):
            formed += bucket.formed
            per_kind += bucket.per_kind
            candidates += bucket.candidates
            kept.append(bucket.rows)
            if expected is not None:
                kept_expected.append(expected)
            del bucket, expected
            if sink is not None:
                sink(self._rows_frame(kept, kept_expected if significance is not None else None))
                kept, kept_expected = [], []
        self.spilled_rows = self.runner.spilled_rows
        release_unused_memory()  # the buckets' memory (up to three at once), before the actions'
        for kind, r in enumerate(rows):
            r.formed_pair_types = int(formed[kind])
        return (self._rows_frame(kept, kept_expected if significance is not None else None), candidates,
                {k: int(n) for k, n in enumerate(per_kind) if n})

    def _rows_frame(self, kept: list, kept_expected: list | None) -> pl.DataFrame:
        """Buckets' kept rows (emptied as they are copied) as one frame: ``kind``, ``account_a``,
        ``account_b`` (codes), the sums and ``expected_weight`` (null without the null model)."""
        expected = np.concatenate(kept_expected) if kept_expected else None
        if kept_expected is not None:
            kept_expected.clear()
        # buckets are ranges of keys in order: concatenated, they stay sorted. Column by column,
        # each bucket's column let go once copied: the rows are held about once, not twice
        # (``met_chance`` has served: the bucket filter used it)
        columns = {}
        for name in ("pair_kind", "weight", "n_shared", "first", "last"):
            columns[name] = np.concatenate([getattr(p, name) for p in kept]) if kept else np.zeros(0, np.int64)
            for p in kept:
                setattr(p, name, None)
        kept.clear()
        a, b, kind = self.coded[0].split_pair_kind(columns.pop("pair_kind"))
        n_rows = len(a)
        return pl.DataFrame(
            {"kind": kind, "account_a": a, "account_b": b, **columns,
             "expected_weight": pl.Series(expected, dtype=pl.Float64) if expected is not None
             else pl.repeat(None, n_rows, dtype=pl.Float64, eager=True)}
        )

    def close(self) -> None:
        runner = getattr(self, "runner", None)
        if runner is not None:
            runner.close()

    def actions(self, shares, kept, window_us, max_pairs_per_share):
        """The shares behind ``kept`` (codes), type by type. When every (pair, type) formed of a
        type is kept and the cap never bit on it, they are exactly its shares in any pair,
        which ``coact`` marked: no re-pairing."""
        found = []
        for kind, (s, pairs) in enumerate(zip(shares, self.type_pairs, strict=True)):
            kept_here = kept.filter(pl.col("kind") == kind)
            if kept_here.height == pairs.formed_pair_types and pairs.figures["pairs_capped"] == 0:
                found.append(s.rows(np.flatnonzero(pairs.in_pair)))
            else:
                found.append(coded_pair_actions(s, kept_here, window_us, max_pairs_per_share))
        return pl.concat(found) if found else pl.DataFrame(schema=SHARE_COLUMNS)


@dataclass
class _TypePairs:
    """One type's co-action, reduced: what the later steps need of it (its per-pair sums are in
    the plan's ``PairSpill``)."""

    #: ``group`` (this type's codes), ``account``, ``n``, ``n_in_pair``: the null model's
    #: ``n_at`` and CooRTweet's participation
    share_counts: pl.DataFrame | None
    chance: np.ndarray
    #: per share of the type's ``Coded``: in at least one co-share pair formed
    in_pair: np.ndarray
    figures: dict[str, int]
    #: (account pair, type) rows formed, before CooRTweet's step 2 (set by ``per_type``)
    formed_pair_types: int = 0


def _text_copies(texts: pl.DataFrame, engage_kind: int, ids: pl.Series) -> pl.DataFrame:
    """``co_text`` share events that copy an earlier text, as ``co_engage`` events on the
    first record of their near-duplicate group (the original: the earliest, and of
    records at the same time the smallest id). ``texts``' targets (group codes) and ids
    are codes, ids into ``ids``; a copy's target is its original's id code."""
    earliest = texts.filter(pl.col("time") == pl.col("time").min().over("target"))
    originals = (earliest.select("target", "id", id_string=ids.gather(earliest["id"])).sort("id_string")
                 .group_by("target", maintain_order=True).first())
    group = texts["target"].to_numpy()
    original = np.zeros(int(group.max()) + 1 if group.size else 0, dtype=np.int64)
    original[originals["target"].to_numpy()] = originals["id"].to_numpy()
    original = original[group]
    is_copy = texts["id"].to_numpy() != original
    return texts.filter(pl.Series(is_copy)).with_columns(
        kind=pl.lit(engage_kind, pl.Int32), target=pl.Series(original[is_copy])).select(list(SHARE_COLUMNS))


def _with_copies_coded(events: pl.DataFrame, targets: pl.Series, copies: pl.DataFrame,
                       ids: pl.Series) -> tuple[pl.Series, pl.DataFrame]:
    """``co_engage``'s events (targets: codes into ``targets``, sorted distinct strings) and
    ``_text_copies``' (targets: the originals' codes into ``ids``) as one frame coded into
    the union of both: ``(union, events)``, the union sorted as ``sorted_codes`` sorts."""
    copy_of = copies["target"].to_numpy()
    originals = sorted_unique(copy_of)
    union, moved, placed = union_codes(targets, ids.gather(originals))
    copies = copies.with_columns(target=pl.Series(placed[np.searchsorted(originals, copy_of)]))
    events = events.with_columns(target=pl.Series(moved[events["target"].to_numpy()]))
    return union, pl.concat([events, copies.cast(events.schema)])


def _group_share_frame(table: pa.Table, code: np.ndarray, kind: int) -> pl.DataFrame:
    """``SHARE_COLUMNS`` of the records with a group ``code`` (>= 0; ``co_text.text_groups``),
    the code as ``target``."""
    events = table.select(["account_id", "id", "timestamp"]).append_column("target", pa.array(code))
    return _with_codes(pl.from_arrow(distinct_events(events.filter(pa.array(code >= 0)))), kind)


def _dense_codes(column: pa.ChunkedArray | pa.Array) -> tuple[pl.Series, pa.Array]:
    """(the sorted distinct strings of ``column``, each value's int32 code: ``sorted_codes``)."""
    distinct, codes = sorted_codes(pl.from_arrow(column).cast(pl.String), np.int32)
    return distinct, pa.array(codes)


# --- output ------------------------------------------------------------------------

#: Per-type rows turned into edges at a time when they are streamed (``edge_sink``): an edge
#: as Arrow (two account ids, its per-type list) takes several times its numbers' bytes.
EDGE_SLICE_ROWS = 1_000_000


class _EdgeStream:
    """A bucket's per-type rows -> its edges (``_edge_table``), a slice of whole account pairs at a
    time -> ``sink``: a pair's rows are all in one bucket and the buckets come in key order, so
    the tables handed on, one after the other, are the whole edge table. Counts the edges and
    marks the accounts in them."""

    def __init__(self, sink: Callable[[pa.Table], None], type_list: Sequence[str], null_model: str,
                 significance: float, accounts: pl.Series) -> None:
        self.sink, self.type_list, self.null_model, self.significance = sink, type_list, null_model, significance
        self.accounts = accounts
        self.n_edges = 0
        self.accounts_seen = np.zeros(len(accounts), dtype=bool)

    def __call__(self, per_type: pl.DataFrame) -> None:
        for lo, hi in _pair_slices(per_type, EDGE_SLICE_ROWS):
            edges, kept = _edge_table(per_type.slice(lo, hi - lo), self.type_list, self.null_model,
                                      self.significance, self.accounts)
            if edges.num_rows:
                self.accounts_seen[kept["account_a"].to_numpy()] = True
                self.accounts_seen[kept["account_b"].to_numpy()] = True
                self.n_edges += edges.num_rows
                self.sink(edges)


def _pair_slices(per_type: pl.DataFrame, rows: int) -> list[tuple[int, int]]:
    """``(start, stop)`` row ranges of about ``rows`` rows each, cut only where the account pair
    changes (``per_type`` sorted by account pair), covering every row."""
    n = per_type.height
    if n <= rows:
        return [(0, n)] if n else []
    a, b = per_type["account_a"].to_numpy(), per_type["account_b"].to_numpy()
    starts = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])])
    cuts = np.unique(starts[np.minimum(np.searchsorted(starts, np.arange(rows, n, rows)), starts.size - 1)])
    bounds = np.r_[0, cuts[cuts > 0], n]
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))

@dataclass
class _PairRuns:
    """The account pairs of sorted per-type rows (``_edge_table``'s input) and which are kept:
    ``new`` marks a pair's first row, ``starts`` its position; the pair's summed ``weight``,
    ``expected`` weight, ``p_value`` and ``strength`` (None without the null model, but
    ``strength``); ``keep``: the pairs that pass. ``O(R)``."""

    new: np.ndarray
    starts: np.ndarray
    weight: np.ndarray
    expected: np.ndarray | None
    p_value: np.ndarray | None
    strength: np.ndarray
    keep: np.ndarray

    @classmethod
    def of(cls, per_type: pl.DataFrame, null_model: str, significance: float) -> _PairRuns:
        a, b = per_type["account_a"].to_numpy(), per_type["account_b"].to_numpy()
        new = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
        starts = np.flatnonzero(new)
        weight = np.add.reduceat(per_type["weight"].to_numpy(), starts)
        if null_model == "none":
            return cls(new, starts, weight, None, None, weight.astype(np.float64), np.ones(starts.size, bool))
        expected = run_sums(per_type["expected_weight"].fill_null(0.0).to_numpy(), starts)
        p_value = nm.poisson_p_values(weight, expected)
        with np.errstate(divide="ignore"):
            strength = np.where(expected > 0, weight / np.maximum(expected, 1e-300), np.inf)
        return cls(new, starts, weight, expected, p_value, strength, p_value <= significance)

    def kept_rows(self) -> np.ndarray:
        """Per row: whether its pair is kept."""
        return np.repeat(self.keep, np.diff(np.r_[self.starts, self.new.size]))


def _kept_pair_rows(per_type: pl.DataFrame, null_model: str, significance: float
                    ) -> tuple[pl.DataFrame, _PairRuns | None]:
    """The (``kind``, ``account_a``, ``account_b``) codes of the kept edges' per-type rows (what
    the actions step re-pairs), and the pairs' runs for ``_edge_table``."""
    if per_type.height == 0:
        return per_type.select(_KEPT_COLUMNS), None
    runs = _PairRuns.of(per_type, null_model, significance)
    keep_row = runs.kept_rows()
    rows = per_type.filter(pl.Series(keep_row)) if not keep_row.all() else per_type
    return rows.select(_KEPT_COLUMNS), runs


_KEPT_COLUMNS = ("kind", "account_a", "account_b")


def _edge_table(per_type: pl.DataFrame, type_list: Sequence[str], null_model: str, significance: float,
                accounts: pl.Series, runs: _PairRuns | None = None) -> tuple[pa.Table, pl.DataFrame]:
    """Per-type rows -> ``(edges, kept)``: one EDGES_SCHEMA row per kept account pair, account
    codes replaced by ``accounts``' ids, and the (``kind``, ``account_a``, ``account_b``) codes
    of every kept edge's per-type rows (what the actions step re-pairs).

    ``per_type``: ``kind``, ``account_a``, ``account_b`` (codes), ``weight``, ``n_shared``,
    ``first``, ``last`` (µs), ``expected_weight``, sorted by (account_a, account_b, kind), so
    an account pair's types are one contiguous run: its sums are taken over the runs (the
    expected weights as a group-by sums floats, ``arrays.run_sums``) and its ``types`` list is
    its kept rows as they lie (list offsets over their columns): no group-by, no hash table.
    Codes follow string order, so the rows' order holds for the ids too. ``O(R)``. ``runs``:
    ``_kept_pair_rows``' for the same rows, when it ran first.
    """
    if per_type.height == 0:
        return EDGES_SCHEMA.empty_table(), per_type.select(_KEPT_COLUMNS)
    runs = runs or _PairRuns.of(per_type, null_model, significance)
    new, starts, weight, keep = runs.new, runs.starts, runs.weight, runs.keep
    expected, p_value, strength = runs.expected, runs.p_value, runs.strength
    a, b = per_type["account_a"].to_numpy(), per_type["account_b"].to_numpy()
    keep_row = runs.kept_rows()
    rows = per_type.filter(pl.Series(keep_row)) if not keep_row.all() else per_type
    kept = rows.select(_KEPT_COLUMNS)
    lengths = np.diff(np.r_[starts, new.size])[keep]
    kept_starts = starts[keep]

    def pairwise(values: np.ndarray | None, kind: pa.DataType) -> pa.Array:
        return pa.nulls(int(keep.sum()), kind) if values is None else pa.array(values[keep], kind)

    columns = {
        "account_a": accounts.gather(a[kept_starts]).to_arrow().cast(pa.string()),
        "account_b": accounts.gather(b[kept_starts]).to_arrow().cast(pa.string()),
        "weight": pa.array(weight[keep], pa.int64()),
        "n_shared": pa.array(np.add.reduceat(per_type["n_shared"].to_numpy(), starts)[keep], pa.int64()),
        "first_ts": pa.array(np.minimum.reduceat(per_type["first"].to_numpy(), starts)[keep]).cast(TIMESTAMP),
        "last_ts": pa.array(np.maximum.reduceat(per_type["last"].to_numpy(), starts)[keep]).cast(TIMESTAMP),
        "expected_weight": pairwise(expected, pa.float64()),
        "p_value": pairwise(p_value, pa.float64()),
        "strength": pairwise(strength, pa.float64()),
    }
    names = pa.array(list(type_list), pa.string()).take(rows["kind"].to_arrow())
    if new.all():
        # every pair has one type: its item is the edge's own columns, the same buffers, not
        # copies, which on a hundred million edges is gigabytes
        fields = [columns[f.name] for f in EDGE_TYPE_STRUCT if f.name != "type"]
    else:
        fields = [rows["weight"].to_arrow().cast(pa.int64()), rows["n_shared"].to_arrow().cast(pa.int64()),
                  rows["first"].to_arrow().cast(pa.int64()).cast(TIMESTAMP),
                  rows["last"].to_arrow().cast(pa.int64()).cast(TIMESTAMP)]
    items = pa.StructArray.from_arrays([names, *fields], fields=list(EDGE_TYPE_STRUCT))
    columns["types"] = pa.ListArray.from_arrays(pa.array(np.r_[0, np.cumsum(lengths)].astype(np.int32)), items)
    return pa.table([columns[name] for name in EDGES_SCHEMA.names], schema=EDGES_SCHEMA), kept


def _type_names(kind: pl.Series, type_list: Sequence[str]) -> pl.Series:
    """Type codes -> names, gathered in polars (a numpy object array of millions of names
    cost about a second per 10M rows in Python strings)."""
    return pl.Series(list(type_list), dtype=pl.String).gather(kind)
