"""Attach accounts to a cluster they co-engage with as a whole, when no single pair is enough.

What it computes
    The pair test of the co-action stage (``null_model``) asks whether *two* accounts
    met more often than timing explains. A small, slow network defeats it: a member who
    answered two of the network's calls, minutes after the calls went out, meets each
    other member at most twice, and two meetings on small posts are what timing gives
    one time in thirty. Against the cluster *as a whole* the same account met several
    members on each of those posts, and that does not happen by chance.

    So, after the communities are found, every account outside all clusters is tested
    against each cluster it co-engaged with (``co_engage``: reposting, quoting or
    replying to the same post within the window ``w``):

    * ``W_aC`` — the account's meetings with the cluster: pairs (its action, a member's
      action) on the same post at most ``w`` apart, the heaviest post counting no more
      meetings than the second heaviest. A cluster's members act together, so an action
      that falls in one of its bursts meets every member of the burst at once: one event,
      which would otherwise pass for as many independent meetings (a follower reposting a
      large network's call at its peak, and one member anywhere else). Capped so, the
      evidence must recur on a second post; a peripheral member who met a few members on
      each of two calls keeps it;
    * ``E_aC = sum_t n_at * n_Ct * q_t`` over the posts both acted on — the pair model's
      expectation summed over the members (``n_Ct``: the members' actions on post ``t``;
      ``q_t``: the chance that two of the post's actions fall within ``w``, from the
      post's own spread at the jitter scale, exactly as ``null_model.target_chance``);
    * ``p = P(X >= W_aC | X >= 1)``, ``X ~ Poisson(E_aC)`` (``null_model.poisson_p_values``);
    * and, counting posts instead of meetings, ``K_aC`` the posts on which the account met
      the cluster against ``F_aC = sum_t min(1, n_at * r_Ct)``, where ``r_Ct``
      (:func:`cluster_reach`) is the chance that an action on post ``t`` at a random time
      falls within ``w`` of some member's action: ``q_t`` times the time the members'
      windows cover, in windows. A burst is reached or not, whatever its size:
      ``p_K = P(Y >= K_aC)``, ``Y ~ Poisson(F_aC)`` (``null_model.poisson_tail``).

    An account is attached to the cluster when it met the cluster on at least
    ``min_targets`` distinct posts (one post is one event, however many members were
    near: an ordinary follower reposting a call a minute after the network is not a
    member), ``p`` passes the Benjamini–Hochberg procedure at ``significance`` over all
    (account, cluster) tests of the round, and ``p_K`` passes it among the accounts
    tested against the same cluster: a loud network's calls are reposted by thousands of
    ordinary accounts, and some of them catch two of its bursts by chance; a small
    network's few candidates are judged among themselves. Both must pass (the attached
    row's ``p_value`` is the larger). An account that passes for several
    clusters joins the one with the smallest ``p``. Rounds repeat (a grown cluster can
    attach more) until nothing changes or ``rounds`` is reached. Seeds may be pairs:
    two accounts with a significant edge are a cluster to test against. Then the seeds
    still smaller than ``min_size`` are dissolved and their accounts tested, as
    outsiders, against the clusters that grew (up to ``rounds`` more rounds): Leiden
    may split a sparse network into a grown part and a stray pair.

    Posts with more than ``max_target_shares`` actions are not used: meeting a cluster
    on a viral post is no evidence of membership, and leaving them out bounds the cost.

Output
    :class:`Attachment`: the grown :class:`~rallypoint.detectors.communities.Communities`,
    one row per attached account with its figures, and the meetings as co-action
    ``actions`` (type ``co_engage``) so the evidence table holds them and every reason
    that counts co-engagement can be checked.

Complexity
    ``O(n log n)`` for the ``n`` co-engagement actions (sorting, the within-``h`` pair
    counts of ``pairs.window_ends``); per round ``O(n + m log m + M)`` for the ``m``
    members' actions (sorted by post and time once) and the ``M`` meetings, which are
    formed as ranges of them: never a pair outside the window. A round after the first
    makes again only the tests that can have changed, those against the clusters that grew
    and those of the accounts a dissolved seed set free; the others stand as they were
    (a cluster whose members did not change meets its outsiders as before), so its ``m``
    and ``M`` are those of the clusters that changed. Posts with more than
    ``max_target_shares`` actions are left out.

References
    Group-level testing of an account against a set generalises the pair null model of
    Pacheco et al. (2021) and CooRnet's premise that chance co-shares do not repeat;
    the false discovery rate control is Benjamini & Hochberg (1995); growing seed sets
    by a significance test follows statistically validated networks (Tumminello et
    al. 2011) in spirit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from rallypoint.arrays import sorted_codes, sorted_unique, stable_argsort
from rallypoint.detectors import null_model as nm
from rallypoint.detectors.coaction import ACTION_ORDER, ACTIONS_SCHEMA, CodedEvents, co_engage
from rallypoint.detectors.coaction.pairs import target_chances
from rallypoint.detectors.communities import MIN_CLUSTER_SIZE, AccountGraph, Communities, keep_large

#: Distinct posts an account must have met a cluster on.
MIN_TARGETS = 2
#: Posts with more actions than this are left out (viral posts say nothing about membership).
MAX_TARGET_SHARES = 2_000
ROUNDS = 3
#: Meetings formed at a time (``_meeting_rows``): a few int64 arrays of this length a batch.
MEETING_BATCH_ROWS = 5_000_000

ATTACHED_SCHEMA = {
    "account_id": pl.String,
    "community": pl.Int64,
    "n_targets": pl.Int64,
    "weight": pl.Int64,
    "expected_weight": pl.Float64,
    "p_value": pl.Float64,
    "round": pl.Int64,
}
_ACTION_COLUMNS = pl.from_arrow(ACTIONS_SCHEMA.empty_table()).schema
#: What names one action: a record acting on a target as one co-action type.
_ACTION_KEY = ["type", "target", "id"]


@dataclass(frozen=True)
class Attachment:
    """The grown communities, who was attached (``ATTACHED_SCHEMA``) and the meetings as actions."""

    communities: Communities
    attached: pl.DataFrame
    actions: pl.DataFrame


def engagement_events(records: pa.Table) -> pl.DataFrame:
    """``target``, ``account_id``, ``id``, ``time`` (µs) of every repost, quote and reply (``co_engage``'s share events)."""
    shares = pl.from_arrow(co_engage.share_events(records))
    return shares.select("target", "account_id", "id", time=pl.col("timestamp").dt.epoch("us"))


def benjamini_hochberg(p_values: np.ndarray, level: float) -> np.ndarray:
    """Which p-values the Benjamini–Hochberg step-up procedure rejects at false discovery rate ``level``."""
    m = len(p_values)
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p_values, kind="stable")
    passing = np.flatnonzero(p_values[order] <= level * np.arange(1, m + 1) / m)
    keep = np.zeros(m, dtype=bool)
    if passing.size:
        keep[order[: passing[-1] + 1]] = True
    return keep


def cluster_reach(members: pl.DataFrame, q: np.ndarray, window_us: int) -> pl.DataFrame:
    """``community``, ``target``, ``reach``: per cluster and post, the chance that an action on
    the post at a random time falls within ``window_us`` of at least one member's action.

    The members' windows ``[t - w, t + w]`` on the post cover ``L`` microseconds (their
    union: ``2w`` plus each gap between neighbouring times up to ``2w``); one pair of the
    post's actions meets with chance ``q_t`` (``null_model.target_chance``), which is ``2w``
    of the post's spread, so the union is reached with chance ``q_t * L / 2w`` (at most 1).
    Members acting together cover one window between them: a burst is reached once or not
    at all, however many accounts it holds. ``members``: ``community``, ``target`` (post
    codes indexing ``q``), ``time`` (µs). ``O(m log m)`` for ``m`` member actions.
    """
    if members.height == 0:
        return pl.DataFrame(schema={"community": pl.Int64, "target": pl.Int64, "reach": pl.Float64})
    ordered = members.select("community", "target", "time").sort("community", "target", "time")
    community, target, time = (ordered[name].to_numpy() for name in ("community", "target", "time"))
    span = 2.0 * window_us
    starts = _run_starts(community, target)
    # each action adds its window up to the next action of the same (cluster, post)
    step = np.full(time.size, span)
    step[:-1] = np.where(starts[1:], span, np.minimum(np.diff(time), span))
    first = np.flatnonzero(starts)
    covered = np.add.reduceat(step, first)
    return pl.DataFrame({"community": community[first], "target": target[first],
                         "reach": np.minimum(1.0, q[target[first]] * covered / span)})


def benjamini_hochberg_by(family: np.ndarray, p_values: np.ndarray, level: float) -> np.ndarray:
    """:func:`benjamini_hochberg` within each ``family`` (equal values) of the p-values, all
    families at once: one sort by (family, p), each row's rank and family size from the runs."""
    keep = np.zeros(len(p_values), dtype=bool)
    if keep.size == 0:
        return keep
    order = np.lexsort((p_values, family))
    starts = np.flatnonzero(_run_starts(family[order]))
    sizes = np.diff(np.r_[starts, order.size])
    rank = np.arange(order.size) - np.repeat(starts, sizes) + 1
    passing = p_values[order] <= level * rank / np.repeat(sizes, sizes)
    # a family keeps every p-value up to its largest passing rank (the step-up rule)
    last = np.maximum.reduceat(np.where(passing, rank, 0), starts)
    keep[order] = rank <= np.repeat(last, sizes)
    return keep


@dataclass(frozen=True)
class _Engagements:
    """The co-engagement actions the group test runs on, as numpy columns of integer codes
    (posts dense from 0), and ``q`` of every post code: each round tags them with a lookup
    of the accounts' communities instead of joins, which cost far more per round."""

    target: np.ndarray
    account: np.ndarray
    id: np.ndarray
    time: np.ndarray
    q: np.ndarray
    #: (post, time rank) of each action, and the keys bounding its window (``_window_keys``)
    key: np.ndarray
    lo_key: np.ndarray
    hi_key: np.ndarray

    @classmethod
    def prepared(cls, events: pl.DataFrame, n_posts: int, window_us: int, jitter: float,
                 max_posts_shares: int) -> _Engagements:
        """``events`` (``target``: post codes below ``n_posts``) once per (post, record), on posts
        with at most ``max_posts_shares`` actions, sorted by (post, time), with each post's
        ``q_t`` and every action's keys.

        One sort serves all of it: a record's events on a post share its time, so repeats
        are neighbours; ``q_t`` counts each post's pairs within ``jitter`` windows
        (``null_model.target_chance``) on the sorted times; times are ranked once over every
        action, so a round's members come sorted and keyed instead of being ranked and
        sorted again every round.
        """
        events = events.sort("target", "time", "id")
        target, record = events["target"].to_numpy(), events["id"].to_numpy()
        first = _run_starts(target, record)
        shares = np.bincount(target[first], minlength=n_posts)
        keep = first & (shares[target] <= max_posts_shares)
        target, record = target[keep], record[keep]
        account, time = events["account_id"].to_numpy()[keep], events["time"].to_numpy()[keep]
        del events
        q = target_chances(target, time, int(round(window_us * jitter)), n_posts, jitter)
        by_time, rank, times = _time_ranks(time)
        lo_key, hi_key = _window_keys(target, time, times, window_us, by_time)
        return cls(target, account, record, time, q, key=target * np.int64(times.size + 1) + rank,
                   lo_key=lo_key, hi_key=hi_key)


def _round_tests(actions: _Engagements, community_of: np.ndarray, window_us: int, min_targets: int,
                 communities: np.ndarray | None = None, accounts: np.ndarray | None = None) -> pl.DataFrame:
    """One round's (account, community) tests, before any is decided: per outsider and
    community it met on at least ``min_targets`` posts, ``account_id``, ``community``,
    ``weight`` (``W_aC``, its heaviest post capped), ``n_targets`` (``K_aC``),
    ``expected_weight`` (``E_aC``) and ``expected_targets`` (``F_aC``).

    ``community_of``: per account code, its community or -1 (an outsider). ``communities``,
    ``accounts``: only the tests against these communities, of these outsiders (account
    codes); ``None``: every one (:func:`attach_accounts` tests again only what changed).
    """
    side = community_of[actions.account]
    in_test = side >= 0
    if communities is not None:
        in_test &= np.isin(side, communities)
    tested = side < 0
    if accounts is not None:
        tested &= np.isin(actions.account, accounts)
    # only the posts members acted on can hold a meeting or a term of E_aC: every other
    # action is dropped first (at scale most actions are on such posts' complement)
    member_post = np.zeros(actions.q.size, dtype=bool)
    member_post[actions.target[in_test]] = True
    on = member_post[actions.target]
    members, outsiders = _members(actions, on & in_test, side), _outsiders(actions, on & tested)
    observed = meeting_counts(outsiders, _MemberIndex(members), window_us).filter(pl.col("n_targets") >= min_targets)
    # expected meetings over every post both the account and the cluster acted on. Rows are
    # grouped and matched on one int64 key per (account, post), (community, post) and
    # (account, community): a round matches tens of millions of (account, community, post)
    # rows at scale, and one integer hashes faster than two columns
    n_posts, n_communities = np.int64(actions.q.size), np.int64(max(int(community_of.max()), 0) + 1)
    post_of = pl.col("community") * n_posts + pl.col("target")
    met_by = pl.col("account_id") * n_communities + pl.col("community")
    n_at = outsiders.join(observed.select("account_id").unique(), on="account_id", how="semi").group_by(
        key=pl.col("account_id") * n_posts + pl.col("target")).agg(n_a=pl.len()).select(
        account_id=pl.col("key") // n_posts, target=pl.col("key") % n_posts, n_a="n_a")
    n_at = n_at.with_columns(q=pl.Series(actions.q[n_at["target"].to_numpy()]))
    members_there = members.join(n_at.select("target").unique(), on="target", how="semi")
    n_ct = members_there.group_by(key=post_of).agg(n_c=pl.len())
    reach = cluster_reach(members_there, actions.q, window_us).select(key=post_of, reach="reach")
    expected = (
        observed.select("account_id", "community")
        .join(n_at, on="account_id")
        .with_columns(key=post_of)
        .join(n_ct, on="key")
        .join(reach, on="key")
        .group_by(pair=met_by)
        .agg(expected_weight=(pl.col("n_a") * pl.col("n_c") * pl.col("q")).sum(),
             expected_targets=(pl.col("n_a") * pl.col("reach")).clip(upper_bound=1.0).sum())
    )
    # the heaviest post counts no more meetings than the second heaviest: an outsider that
    # caught one burst of the cluster met all its members at once, and that is one event
    return observed.with_columns(
        pair=met_by, weight=pl.col("weight") - pl.col("heaviest") + pl.col("second_heaviest"),
    ).join(expected, on="pair").drop("pair", "heaviest", "second_heaviest")


def _decide(tests: pl.DataFrame, actions: _Engagements, community_of: np.ndarray, window_us: int,
            significance: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A round's :func:`_round_tests` decided: the tests that pass (``account_id``,
    ``community``, ``weight``, ``n_targets``, ``expected_weight``, ``p_value``; each account
    once, with its smallest ``p``) and both sides' actions of the meetings behind them
    (``target``, ``account_id``, ``id``, ``time``)."""
    p = nm.poisson_p_values(tests["weight"].to_numpy(), tests["expected_weight"].to_numpy())
    # and the posts reached must be unlikely among the accounts tested against the same
    # cluster: bursts are reached or not, so an account that caught two of a loud
    # network's bursts is one of the thousands of its reposters who could have
    p_posts = nm.poisson_tail(tests["n_targets"].to_numpy(), tests["expected_targets"].to_numpy())
    tests = tests.with_columns(p_value=pl.Series(np.maximum(p, p_posts), dtype=pl.Float64)).drop("expected_targets")
    passed = tests.filter(pl.Series(benjamini_hochberg(p, significance)
                                    & benjamini_hochberg_by(tests["community"].to_numpy(), p_posts, significance)))
    best = passed.sort("p_value", "community", "account_id").unique("account_id", keep="first", maintain_order=True)
    # the meetings behind the tests that passed, formed again for those accounts only, with
    # the cluster each joins
    joins = np.full(community_of.size, -1, dtype=np.int64)
    joins[best["account_id"].to_numpy()] = best["community"].to_numpy()
    side = community_of[actions.account]
    passers = _outsiders(actions, joins[actions.account] >= 0)
    members = _members(actions, np.isin(side, best["community"].unique().to_numpy()), side)
    index = _MemberIndex(members)
    met = []
    for outsider_row, member_row in _meeting_rows(passers, index, window_us):
        own = joins[passers["account_id"].to_numpy()[outsider_row]] == index.community[member_row]
        met += [frame.select(*_ACTION_COLUMNS_CODED)[sorted_unique(rows[own])]
                for frame, rows in ((passers, outsider_row), (members, member_row))]
    return best, pl.concat(met).unique(["target", "id"])


#: An engagement action's columns in a round's frames (codes; ``time`` in µs).
_ACTION_COLUMNS_CODED = ("target", "account_id", "id", "time")


def _columns(actions: _Engagements, rows: np.ndarray) -> dict[str, np.ndarray]:
    return dict(zip(_ACTION_COLUMNS_CODED, (actions.target[rows], actions.account[rows], actions.id[rows],
                                            actions.time[rows]), strict=True))


def _members(actions: _Engagements, rows: np.ndarray, side: np.ndarray) -> pl.DataFrame:
    """The ``rows`` (a mask) of members' actions, with their community and (post, time) key."""
    return pl.DataFrame(_columns(actions, rows) | {"community": side[rows], "key": actions.key[rows]})


def _outsiders(actions: _Engagements, rows: np.ndarray) -> pl.DataFrame:
    """The ``rows`` (a mask) of outsiders' actions, with the keys bounding their windows."""
    return pl.DataFrame(_columns(actions, rows) | {"lo_key": actions.lo_key[rows], "hi_key": actions.hi_key[rows]})


@dataclass(frozen=True)
class PreparedEngagements:
    """The co-engagement actions coded, cut to the posts the test uses, sorted and keyed
    (:func:`prepare_engagements`), with the parameters they were prepared for."""

    codes: _Codes
    actions: _Engagements
    window_us: int
    jitter: float
    max_target_shares: int


def prepare_engagements(events: pa.Table | pl.DataFrame | CodedEvents, window_seconds: float,
                        jitter: float = nm.DEFAULT_JITTER,
                        max_target_shares: int = MAX_TARGET_SHARES) -> PreparedEngagements:
    """The part of :func:`attach_accounts` that needs no communities: ``events`` coded, the
    posts with more than ``max_target_shares`` actions left out, the rest sorted by
    (post, time) with each post's ``q_t`` and each action's window keys.

    A caller may run it while the communities are still being found (``detect`` runs it
    beside co-action's pairing). ``O(n log n)`` for ``n`` events.
    """
    if isinstance(events, pa.Table):
        events = engagement_events(events)
    if not isinstance(events, CodedEvents):
        events = events.select("target", "account_id", "id", "time")
    window_us = int(round(window_seconds * 1e6))
    codes, events = _Codes.encoded(events)
    actions = _Engagements.prepared(events, len(codes.targets), window_us, jitter, max_target_shares)
    return PreparedEngagements(codes, actions, window_us, jitter, max_target_shares)


def attach_accounts(communities: Communities,
                    events: pa.Table | pl.DataFrame | CodedEvents | PreparedEngagements, window_seconds: float,
                    significance: float = 0.01, jitter: float = nm.DEFAULT_JITTER,
                    min_targets: int = MIN_TARGETS, max_target_shares: int = MAX_TARGET_SHARES,
                    rounds: int = ROUNDS, min_size: int = MIN_CLUSTER_SIZE) -> Attachment:
    """Grow ``communities`` (seeds may be pairs) by the group test; drop those under ``min_size`` after.

    ``events``: the co-engagement share events (``target``, ``account_id``, ``id``, ``time``
    in µs — ``CoactionResult.engage_events``, copies included, as strings or as
    ``CodedEvents``), or records, from which reposts, quotes and replies are taken
    (:func:`engagement_events`), or those events prepared already
    (:func:`prepare_engagements`, for the same window, ``jitter`` and ``max_target_shares``).
    """
    if not isinstance(events, PreparedEngagements):
        events = prepare_engagements(events, window_seconds, jitter, max_target_shares)
    elif (events.window_us, events.jitter, events.max_target_shares) != (
            int(round(window_seconds * 1e6)), jitter, max_target_shares):
        raise ValueError("The engagements were prepared for another window, jitter or max_target_shares.")
    # the tests join on integer codes (a string join of millions of actions holds several
    # gigabytes); strings come back only for what passes
    codes, actions, window_us = events.codes, events.actions, events.window_us
    del events
    graph = communities.graph
    membership = communities.membership.copy()
    ids = graph.accounts.to_pylist()
    position = {account: i for i, account in enumerate(ids)}
    attached_rows: list[pl.DataFrame] = []
    met_actions: list[pl.DataFrame] = []

    # the last round's tests, and what changed since: the communities that gained members and
    # the accounts that became outsiders (a dissolved seed's). A round makes again only the
    # tests that change: a community whose members did not change meets its outsiders as before
    tests: pl.DataFrame | None = None
    gained = freed = np.zeros(0, dtype=np.int64)

    def round_tests(community_of: np.ndarray) -> pl.DataFrame:
        nonlocal tests, gained, freed
        if tests is None:
            tests = _round_tests(actions, community_of, window_us, min_targets)
        else:
            community = tests["community"].to_numpy()
            # a dissolved seed's tests go: it has no members left
            alive = np.zeros(max(int(community_of.max()), int(community.max(initial=-1))) + 1, dtype=bool)
            alive[community_of[community_of >= 0]] = True
            standing = (alive[community] & ~np.isin(community, gained)
                        & (community_of[tests["account_id"].to_numpy()] < 0))
            parts = [tests.filter(pl.Series(standing))]
            if gained.size:
                parts.append(_round_tests(actions, community_of, window_us, min_targets, communities=gained))
            if freed.size:
                parts.append(_round_tests(actions, community_of, window_us, min_targets,
                                          communities=np.setdiff1d(np.flatnonzero(alive), gained), accounts=freed))
            tests = pl.concat(parts)
        gained = freed = np.zeros(0, dtype=np.int64)
        return tests

    def community_codes() -> np.ndarray:
        """Per account code, its community or -1; a member without a co-engagement action has
        no code: it meets no one here."""
        community_of = np.full(len(codes.accounts), -1, dtype=np.int64)
        code = codes.accounts_of(ids)
        coded = (membership >= 0) & (code >= 0)
        community_of[code[coded]] = membership[coded]
        return community_of

    def grow(first_round: int) -> None:
        """Rounds of tests until none passes; the passing accounts join their cluster."""
        nonlocal membership, gained
        for round_number in range(first_round, first_round + rounds):
            if not (membership >= 0).any():
                return
            community_of = community_codes()
            passed, met = _decide(round_tests(community_of), actions, community_of, window_us, significance)
            if passed.height == 0:
                return
            met_actions.append(met)
            gained = passed["community"].unique().to_numpy()
            passed = passed.with_columns(account_id=codes.accounts.gather(passed["account_id"]))
            attached_rows.append(passed.with_columns(round=pl.lit(round_number, pl.Int64)))
            new = [account for account in passed["account_id"] if account not in position]
            position.update((account, len(ids) + k) for k, account in enumerate(new))
            ids.extend(new)
            membership = np.concatenate([membership, np.full(len(new), -1, dtype=np.int64)])
            rows = np.array([position[account] for account in passed["account_id"]], dtype=np.int64)
            membership[rows] = passed["community"].to_numpy()

    # first the seeds grow (pairs included); then seeds still too small are dissolved and
    # their accounts tested, like any outsider, against the clusters that did grow
    grow(1)
    dissolved = (membership >= 0) & (keep_large(membership, min_size) < 0)
    code = codes.accounts_of(ids)
    freed = code[dissolved & (code >= 0)]
    membership = np.where(dissolved, -1, membership)
    grow(rounds + 1)
    new_accounts = ids[graph.n_accounts:]
    grown = _with_accounts(graph, new_accounts)
    attached = pl.concat(attached_rows) if attached_rows else pl.DataFrame(schema=ATTACHED_SCHEMA)
    met = codes.decode_actions(pl.concat(met_actions).unique(["target", "id"])) if met_actions else None
    kept = keep_large(membership, min_size)
    # the attached of a cluster dropped as too small are no one's members
    survivors = pl.DataFrame({"community": membership, "kept": kept}).unique("community")
    attached = attached.join(survivors, on="community").filter(pl.col("kept") >= 0).with_columns(
        community=pl.col("kept")).drop("kept").select(list(ATTACHED_SCHEMA)).cast(ATTACHED_SCHEMA)
    # an account attached twice (to a seed later dissolved, then to a grown cluster) is listed once
    attached = attached.sort("round").unique("account_id", keep="last", maintain_order=True)
    return Attachment(
        communities=Communities(graph=grown, membership=kept, objective=communities.objective,
                                resolution=communities.resolution, quality=communities.quality),
        attached=attached,
        actions=_meeting_actions(met),
    )


class _Codes:
    """Integer codes of the events' posts, accounts and record ids, and back: each is a
    position in ``targets``, ``accounts`` or ``ids`` (distinct strings: sorted, except
    ``CodedEvents``' record ids, in order of first appearance)."""

    def __init__(self, targets: pl.Series, accounts: pl.Series, ids: pl.Series) -> None:
        self.targets, self.accounts, self.ids = targets, accounts, ids

    @classmethod
    def encoded(cls, events: pl.DataFrame | CodedEvents) -> tuple[_Codes, pl.DataFrame]:
        """The codes and ``events`` (``target``, ``account_id``, ``id``, ``time``) in them.

        ``CodedEvents`` keep their account and record codes; otherwise each column is coded
        by one sort (``sorted_codes``), which is much cheaper than a binary search of every
        post id among the distinct ones.
        """
        if isinstance(events, CodedEvents):
            frame = events.frame
            targets, target = ((events.targets, frame["target"].to_numpy()) if events.targets is not None
                               else sorted_codes(frame["target"]))
            return cls(targets, events.accounts, events.ids), frame.select(
                target=pl.Series(target), account_id=pl.col("account_id").cast(pl.Int64),
                id=pl.col("id").cast(pl.Int64), time="time")
        targets, target = sorted_codes(events["target"])
        accounts, account = sorted_codes(events["account_id"])
        ids, record = sorted_codes(events["id"])
        return cls(targets, accounts, ids), pl.DataFrame(
            {"target": target, "account_id": account, "id": record, "time": events["time"]})

    def accounts_of(self, accounts: list[str]) -> np.ndarray:
        """The code of each of ``accounts``; -1 for one that is not among the events'."""
        wanted = pl.Series(accounts, dtype=pl.String)
        found = self.accounts.search_sorted(wanted).cast(pl.Int64).to_numpy()
        inside = found < len(self.accounts)
        inside[inside] = (self.accounts.gather(found[inside]) == wanted.filter(pl.Series(inside))).to_numpy()
        return np.where(inside, found, -1)

    def decode_actions(self, actions: pl.DataFrame) -> pl.DataFrame:
        return actions.with_columns(target=self.targets.gather(actions["target"]),
                                    account_id=self.accounts.gather(actions["account_id"]),
                                    id=self.ids.gather(actions["id"]))


def meeting_counts(outsiders: pl.DataFrame, members: pl.DataFrame | _MemberIndex, window_us: int,
                   batch_rows: int = MEETING_BATCH_ROWS, fold_rows: int = MEETING_BATCH_ROWS) -> pl.DataFrame:
    """``W_aC`` and the posts met per (outsider, community) with a meeting: ``account_id``,
    ``community``, ``weight``, ``n_targets``, and the meetings on its two heaviest posts,
    ``heaviest`` and ``second_heaviest`` (``_meeting_rows``' meetings, counted batch by
    batch), sorted by account and community.

    A post lies in one batch, so distinct posts add up. The batches' sums are folded
    together whenever they outgrow the running total and ``fold_rows`` (all meetings at
    once hold several gigabytes at scale, and so would keeping every batch's sums to the end).
    Counted and folded on int64 (account, community) keys with numpy sorts, cheaper than
    polars group_bys on the two columns.
    """
    index = members if isinstance(members, _MemberIndex) else _MemberIndex(members)
    account, target, community = outsiders["account_id"].to_numpy(), outsiders["target"].to_numpy(), index.community
    n_communities = int(community.max()) + 1 if community.size else 1
    parts: list[tuple[np.ndarray, ...]] = []
    pending = folded = 0
    for outsider_row, member_row in _meeting_rows(outsiders, index, window_us, batch_rows):
        parts.append(_count_meetings(account[outsider_row] * n_communities + community[member_row],
                                     target[outsider_row]))
        pending += parts[-1][0].size
        if pending > max(folded, fold_rows):
            parts = [_summed_counts(parts)]
            folded, pending = parts[0][0].size, 0
    pair, weight, n_targets, first, second = _summed_counts(parts)
    account, community = np.divmod(pair, n_communities)
    return pl.DataFrame({"account_id": account, "community": community, "weight": weight, "n_targets": n_targets,
                         "heaviest": first, "second_heaviest": second},
                        schema={"account_id": pl.Int64, "community": pl.Int64, "weight": pl.Int64,
                                "n_targets": pl.Int64, "heaviest": pl.Int64, "second_heaviest": pl.Int64})


def _count_meetings(pair: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, ...]:
    """Meetings (one row each, keyed by (account, community) ``pair``) -> per pair, sorted:
    the pair, its meetings, its distinct posts, and the meetings on its heaviest post and
    on its second heaviest (0 with one post). One sort of an int64 (pair, post) key when it
    fits, so every count is a run of the sorted keys."""
    if pair.size == 0:
        return pair, pair, pair, pair, pair
    n_targets = int(target.max()) + 1
    if (int(pair.max()) + 1) * n_targets < 2**63:
        pair, target = np.divmod(np.sort(pair * n_targets + target), n_targets)
    else:
        ordered = pl.DataFrame({"pair": pair, "target": target}).sort("pair", "target")
        pair, target = ordered["pair"].to_numpy(), ordered["target"].to_numpy()
    new_pair = np.r_[True, pair[1:] != pair[:-1]]
    new_post = new_pair | np.r_[True, target[1:] != target[:-1]]
    starts = np.flatnonzero(new_pair)
    post_starts = np.flatnonzero(new_post)
    return (pair[starts], np.diff(np.r_[starts, pair.size]), np.add.reduceat(new_post.astype(np.int64), starts),
            *_top_two(pair[post_starts], np.diff(np.r_[post_starts, pair.size])))


def _top_two(pair: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per run of equal (sorted) ``pair``: the largest ``weight`` and the second largest (0 for a
    run of one row)."""
    order = np.lexsort((-weight, pair))
    pair, weight = pair[order], weight[order]
    starts = np.flatnonzero(_run_starts(pair))
    has_second = np.r_[starts[1:], pair.size] - starts > 1
    second = np.zeros(starts.size, dtype=weight.dtype)
    second[has_second] = weight[starts[has_second] + 1]
    return weight[starts], second


def _summed_counts(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """``_count_meetings``' results of several batches as one: counts of equal pairs summed,
    the two heaviest posts of all kept (a post lies in one batch)."""
    pair, weight, n_targets, first, second = (np.concatenate(column) for column in zip(*parts, strict=True))
    if pair.size == 0:
        return pair, weight, n_targets, first, second
    # each part is sorted: numpy's stable sort (timsort) merges the runs, where polars' sort
    # (``stable_argsort``) would sort from scratch
    order = np.argsort(pair, kind="stable")
    pair = pair[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    return (pair[starts], np.add.reduceat(weight[order], starts), np.add.reduceat(n_targets[order], starts),
            *_top_two(np.r_[pair, pair], np.r_[first[order], second[order]]))


class _MemberIndex:
    """Members' actions (``target``, ``time``, ``community``) sorted by (post, time): an
    outsider action's meetings on a post are then one contiguous range of them.

    (post, time) is one int64 key: post code times the number of distinct times, plus the
    time's rank (far below 2^63). Members carrying a ``key`` column (ranked over every
    action by ``_Engagements.prepared``, so sorted already) are taken as they are, in
    ``O(n_m)``; otherwise their times are ranked among themselves and sorted, in
    ``O(n_m log n_m)``. A round builds one and uses it for the counts and the passers'
    meetings.
    """

    def __init__(self, members: pl.DataFrame) -> None:
        self.community = members["community"].to_numpy()
        #: the distinct times the keys rank (``None`` for keys ranked by ``_Engagements.prepared``)
        self.times = None
        if "key" in members.columns:
            key = members["key"].to_numpy()
        else:
            _, rank, self.times = _time_ranks(members["time"].to_numpy())
            key = members["target"].to_numpy() * np.int64(self.times.size + 1) + rank
        #: member rows in (post, time) order (members taken from sorted actions already are), and their keys
        self.order = np.arange(key.size) if _is_sorted(key) else stable_argsort(key)
        self.key = key[self.order]


def _is_sorted(values: np.ndarray) -> bool:
    return bool(np.all(values[1:] >= values[:-1]))


def _meeting_rows(outsiders: pl.DataFrame, members: pl.DataFrame | _MemberIndex, window_us: int,
                  batch_rows: int = MEETING_BATCH_ROWS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(outsider row, member row) of every meeting — an outsider's and a member's action on
    the same post (integer ``target`` codes) at most ``window_us`` apart — in batches of
    posts of about ``batch_rows`` meetings (one post's may exceed it); one empty batch when
    there is none.

    An outsider action's meetings are a range of the members sorted by (post, time)
    (``_MemberIndex``), found by two binary searches, so only meetings are formed, never
    the pairs outside the window (joining every outsider's with every member's action on a
    post forms several rows for every meeting). The searches run over
    sorted queries (numpy narrows each from the last; random ones cost a cache miss a
    step). ``O((n_o + n_m) log n_m + M)`` for ``M`` meetings.
    """
    index = members if isinstance(members, _MemberIndex) else _MemberIndex(members)
    post, time = outsiders["target"].to_numpy(), outsiders["time"].to_numpy()
    if post.size == 0 or index.key.size == 0:
        yield np.zeros(0, np.int64), np.zeros(0, np.int64)
        return
    if "lo_key" in outsiders.columns:
        first, last = outsiders["lo_key"].to_numpy(), outsiders["hi_key"].to_numpy()
    else:
        first, last = _window_keys(post, time, index.times, window_us)
    # by (post, time): the order the batches take and the searches want
    order = np.arange(first.size) if _is_sorted(first) else stable_argsort(first)
    lo = np.searchsorted(index.key, first[order])
    met = np.searchsorted(index.key, last[order]) - lo
    # batches cut between posts: a post's meetings all in one, so its distinct posts add up
    before = np.cumsum(met) - met
    post_start = np.maximum.accumulate(np.where(_run_starts(post[order]),
                                                np.arange(order.size), 0))
    batch = before[post_start] // batch_rows
    cuts = np.flatnonzero(np.r_[True, batch[1:] != batch[:-1], True])
    for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
        count = met[start:stop]
        offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        yield np.repeat(order[start:stop], count), index.order[np.repeat(lo[start:stop], count) + offset]


def _run_starts(*columns: np.ndarray) -> np.ndarray:
    """True where any of the sorted ``columns`` differs from the row before (and at row 0);
    empty for empty columns, where ``np.r_[True, ...]`` would flag one row too many (a lake
    of posts only has no engagements at all)."""
    starts = np.ones(columns[0].size, dtype=bool)
    changed = np.zeros(max(columns[0].size - 1, 0), dtype=bool)
    for column in columns:
        changed |= column[1:] != column[:-1]
    starts[1:] = changed
    return starts


def _time_ranks(time: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(by_time, rank, times)``: the order that sorts ``time``, each time's rank among the
    distinct times, and those times, sorted. One sort."""
    by_time = stable_argsort(time)
    ordered = time[by_time]
    distinct = _run_starts(ordered)
    rank = np.empty(time.size, np.int64)
    rank[by_time] = np.cumsum(distinct) - 1
    return by_time, rank, ordered[distinct]


def _window_keys(post: np.ndarray, time: np.ndarray, times: np.ndarray, window_us: int,
                 by_time: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The (post, time rank) keys that bound each action's window: the members' actions within
    ``window_us`` of it are those whose keys lie in ``[first, last)``. ``times``: the sorted
    distinct times the ranks count; ``by_time``: the order that sorts ``time``, when the
    caller has it (the searches run over sorted queries)."""
    span = np.int64(times.size + 1)
    by_time = stable_argsort(time) if by_time is None else by_time
    first, last = np.empty_like(by_time), np.empty_like(by_time)
    first[by_time] = post[by_time] * span + np.searchsorted(times, time[by_time] - window_us, "left")
    last[by_time] = post[by_time] * span + np.searchsorted(times, time[by_time] + window_us, "right")
    return first, last


def _with_accounts(graph: AccountGraph, new_accounts: list[str]) -> AccountGraph:
    """The account graph with ``new_accounts`` appended as vertices without edges."""
    if not new_accounts:
        return graph
    accounts = pa.concat_arrays([graph.accounts.cast(pa.string()), pa.array(new_accounts, pa.string())])
    return AccountGraph(accounts=accounts, source=graph.source, target=graph.target)


def merge_meetings(actions: pl.DataFrame, meetings: pl.DataFrame) -> pl.DataFrame:
    """``actions`` with the ``meetings`` (:attr:`Attachment.actions`) they do not hold yet, each
    (type, target, id) once, in ``ACTION_ORDER``.

    ``actions``: co-action's (``ACTIONS_SCHEMA`` columns, no nulls), sorted by ``ACTION_ORDER``;
    a key repeated there is a record's action repeated at its own time (a reply that also
    copies its post's text is a ``co_engage`` event twice), so its rows are neighbours.
    ``meetings``: the same columns, in any order, repeats allowed. The result is
    ``pl.concat([actions, meetings]).unique(["type", "target", "id"], keep="first")
    .sort(*ACTION_ORDER)`` row for row, without that chain's copies of the actions (a hash
    table of every key, the distinct rows, the sorted rows, which held the run's peak):
    the meetings are made distinct and sorted among themselves, each one's place among the
    sorted actions found, and the two merged by one gather that leaves the repeats out. (A
    key shared by actions at two different times, an id two platforms both use, is kept at
    both: the chain kept only the first.)

    A meeting's place: a binary search of its time among the actions' times, then, among the
    actions at that very time (a handful), a sort of those with the meetings. ``O(n + m log
    m + m log n)`` for ``n`` actions and ``m`` meetings; besides the result, a few integer
    arrays of ``n + m`` rows and the actions' times.
    """
    time = actions["timestamp"].dt.epoch("us").to_numpy()
    repeated = _repeated_rows(actions)
    meetings = meetings.unique(_ACTION_KEY, keep="first", maintain_order=True)
    # the actions that may be a meeting already are found by a scan of the ids, then the
    # meetings matched against those few: a join would hash the key of every action
    known = actions.filter(pl.col("id").is_in(meetings["id"].unique().implode()))
    meetings = meetings.join(known.select(_ACTION_KEY), on=_ACTION_KEY, how="anti").sort(*ACTION_ORDER)
    if meetings.height == 0 and repeated.size == 0:
        return actions
    place = _meeting_places(actions, time, meetings) if meetings.height else np.zeros(0, dtype=np.int64)
    n = actions.height + meetings.height
    is_meeting = np.zeros(n, dtype=bool)
    is_meeting[place + np.arange(meetings.height)] = True
    take = np.empty(n, dtype=np.int64)
    take[~is_meeting] = np.arange(actions.height)
    take[is_meeting] = np.arange(actions.height, n)
    # a repeated action's row in the merged order: its own row plus the meetings placed before it
    take = np.delete(take, repeated + np.searchsorted(place, repeated, "right"))
    return pl.concat([actions, meetings.select(actions.columns)], rechunk=False).gather(take)


def _repeated_rows(actions: pl.DataFrame) -> np.ndarray:
    """The rows of the sorted ``actions`` equal to the row before in every ``ACTION_ORDER``
    column: each column compared with itself shifted by one (polars' strings are views, so a
    shifted column copies a view a row, not the strings)."""
    same = pl.all_horizontal([pl.col(key) == pl.col(key).shift(1) for key in ACTION_ORDER]).fill_null(False)
    return np.flatnonzero(actions.select(same).to_series().to_numpy())


def _meeting_places(actions: pl.DataFrame, time: np.ndarray, meetings: pl.DataFrame) -> np.ndarray:
    """For each of the sorted ``meetings`` (none equal to an action), how many of the sorted
    ``actions`` (``time``: their timestamps in µs) come before it in ``ACTION_ORDER`` (non-decreasing)."""
    met_time = meetings["timestamp"].dt.epoch("us").to_numpy()
    lo = np.searchsorted(time, met_time, "left")
    # the actions at a meeting's time, once per distinct time: ranges [lo, hi) of the sorted actions
    first = np.r_[True, met_time[1:] != met_time[:-1]]
    start = lo[first]
    count = np.searchsorted(time, met_time[first], "right") - start
    rows = np.repeat(start, count) + (np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count))
    same_time = actions[rows].select(ACTION_ORDER).with_columns(meeting=pl.lit(False))
    both = pl.concat([same_time, meetings.select(ACTION_ORDER).with_columns(meeting=pl.lit(True))])
    # no action equals a meeting in ACTION_ORDER (the key is part of it), so the order is total
    meeting = both.sort(*ACTION_ORDER)["meeting"].to_numpy()
    # the actions at the same time that come first: those ahead of it in ``both`` (all of the
    # earlier times' too) less those at earlier times
    ahead = np.cumsum(~meeting)[meeting]
    return lo + ahead - np.searchsorted(time[rows], met_time, "left")


def _meeting_actions(met: pl.DataFrame | None) -> pl.DataFrame:
    """The actions of the meetings (``target``, ``account_id``, ``id``, ``time``, both sides) as
    co-action actions (type ``co_engage``)."""
    if met is None or met.height == 0:
        return pl.DataFrame(schema=_ACTION_COLUMNS)
    return met.select(
        type=pl.lit(co_engage.TYPE), target="target", account_id="account_id", id="id",
        timestamp=pl.from_epoch("time", time_unit="us").dt.replace_time_zone("UTC"),
    ).cast(_ACTION_COLUMNS)
