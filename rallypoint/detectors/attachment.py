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
      action) on the same post at most ``w`` apart;
    * ``E_aC = sum_t n_at * n_Ct * q_t`` over the posts both acted on — the pair model's
      expectation summed over the members (``n_Ct``: the members' actions on post ``t``;
      ``q_t``: the chance that two of the post's actions fall within ``w``, from the
      post's own spread at the jitter scale, exactly as ``null_model.target_chance``);
    * ``p = P(X >= W_aC | X >= 1)``, ``X ~ Poisson(E_aC)`` (``null_model.poisson_p_values``).

    An account is attached to the cluster when it met the cluster on at least
    ``min_targets`` distinct posts (one post is one event, however many members were
    near: an ordinary follower reposting a call a minute after the network is not a
    member) and ``p`` passes the Benjamini–Hochberg procedure at ``significance`` over
    all (account, cluster) tests of the round. An account that passes for several
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
    counts of ``pairs.window_ends``), plus the join of outsiders' actions with members'
    actions on the posts members acted on, ``O(sum_t n_Ct * n_t)`` over posts with at
    most ``max_target_shares`` actions.

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

from rallypoint.detectors import null_model as nm
from rallypoint.detectors.coaction import ACTIONS_SCHEMA, CodedEvents, co_engage
from rallypoint.detectors.coaction.pairs import window_ends
from rallypoint.detectors.communities import MIN_CLUSTER_SIZE, AccountGraph, Communities, keep_large

#: Distinct posts an account must have met a cluster on.
MIN_TARGETS = 2
#: Posts with more actions than this are left out (viral posts say nothing about membership).
MAX_TARGET_SHARES = 2_000
ROUNDS = 3
#: (outsider, member) action pairs joined at a time before the window filter (``_meetings``):
#: about 60 bytes each in codes, so a batch holds well under a GiB.
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


def target_chances(events: pl.DataFrame, window_us: int, jitter: float) -> pl.DataFrame:
    """``q_t`` of every target in ``events`` (``target``, ``time``): the null model's per-target chance."""
    ordered = events.select("target", "time").with_columns(code=pl.col("target").rank("dense").cast(pl.Int64))
    ordered = ordered.sort("code", "time")
    codes, times = ordered["code"].to_numpy(), ordered["time"].to_numpy()
    ends = window_ends(codes, times, int(round(window_us * jitter)))
    within = ends - np.arange(len(codes)) - 1
    per = ordered.with_columns(within=pl.Series(within, dtype=pl.Int64)).group_by("target").agg(
        n=pl.len(), within=pl.col("within").sum()
    )
    q = nm.target_chance(per["n"].to_numpy(), per["within"].to_numpy(), jitter)
    return per.select("target", "n").with_columns(q=pl.Series(q, dtype=pl.Float64))


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


def test_outsiders(events: pl.DataFrame, chances: pl.DataFrame, membership: pl.DataFrame, window_us: int,
                   significance: float, min_targets: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One round: the (account, community) tests, and the meetings of those that pass.

    ``membership``: ``account_id``, ``community`` of the accounts already in clusters.
    """
    # only the posts members acted on can hold a meeting or a term of E_aC: every other
    # event is dropped before the joins (at 10M records most events are on such posts' complement)
    member_events = events.join(membership, on="account_id", how="inner")
    on_member_posts = events.join(member_events.select("target").unique(), on="target", how="semi")
    tagged = on_member_posts.join(membership, on="account_id", how="left").join(chances, on="target", how="inner")
    del member_events, on_member_posts
    members = tagged.filter(pl.col("community").is_not_null())
    outsiders = tagged.filter(pl.col("community").is_null()).drop("community")
    # _meeting_batches yields at least one (maybe empty) batch, so there is a count frame
    observed = meeting_counts(_meeting_batches(outsiders, members, window_us)).filter(
        pl.col("n_targets") >= min_targets)
    # expected meetings over every post both the account and the cluster acted on
    n_at = outsiders.group_by("account_id", "target").agg(n_a=pl.len(), q=pl.col("q").first())
    n_ct = members.group_by("community", "target").agg(n_c=pl.len())
    expected = (
        observed.select("account_id", "community")
        .join(n_at, on="account_id")
        .join(n_ct, on=["community", "target"])
        .group_by("account_id", "community")
        .agg(expected_weight=(pl.col("n_a") * pl.col("n_c") * pl.col("q")).sum())
    )
    tests = observed.join(expected, on=["account_id", "community"])
    p = nm.poisson_p_values(tests["weight"].to_numpy(), tests["expected_weight"].to_numpy())
    tests = tests.with_columns(p_value=pl.Series(p, dtype=pl.Float64))
    passed = tests.filter(pl.Series(benjamini_hochberg(p, significance)))
    best = passed.sort("p_value", "community").unique("account_id", keep="first", maintain_order=True)
    # the meetings behind the tests that passed, formed again for those accounts only
    meetings = _meetings(outsiders.join(best.select("account_id"), on="account_id", how="semi"), members, window_us)
    return best, meetings.join(best.select("account_id", "community"), on=["account_id", "community"], how="semi")


def attach_accounts(communities: Communities, events: pa.Table | pl.DataFrame | CodedEvents, window_seconds: float,
                    significance: float = 0.01, jitter: float = nm.DEFAULT_JITTER,
                    min_targets: int = MIN_TARGETS, max_target_shares: int = MAX_TARGET_SHARES,
                    rounds: int = ROUNDS, min_size: int = MIN_CLUSTER_SIZE) -> Attachment:
    """Grow ``communities`` (seeds may be pairs) by the group test; drop those under ``min_size`` after.

    ``events``: the co-engagement share events (``target``, ``account_id``, ``id``, ``time``
    in µs — ``CoactionResult.engage_events``, copies included, as strings or as
    ``CodedEvents``), or records, from which reposts, quotes and replies are taken
    (:func:`engagement_events`).
    """
    window_us = int(round(window_seconds * 1e6))
    graph = communities.graph
    membership = communities.membership.copy()
    if isinstance(events, pa.Table):
        events = engagement_events(events)
    # the tests join on integer codes (a string join of millions of actions held several
    # GiB at 10M records); strings come back only for what passes
    ids = graph.accounts.to_pylist()
    if isinstance(events, CodedEvents):
        codes = _Codes.of_coded(events)
        events = codes.encode(events.frame.select("target", "account_id", "id", "time"))
    else:
        events = events.select("target", "account_id", "id", "time")
        codes = _Codes(events, pl.Series(ids, dtype=pl.String))
        events = codes.encode(events)
    events = events.unique(["target", "id"])
    counts = events.group_by("target").len()
    events = events.join(counts.filter(pl.col("len") <= max_target_shares).select("target"), on="target")
    chances = target_chances(events, window_us, jitter)
    position = {account: i for i, account in enumerate(ids)}
    attached_rows: list[pl.DataFrame] = []
    meeting_rows: list[pl.DataFrame] = []

    def grow(first_round: int) -> None:
        """Rounds of tests until none passes; the passing accounts join their cluster."""
        nonlocal membership
        for round_number in range(first_round, first_round + rounds):
            current = pl.DataFrame({"account_id": codes.accounts_of(ids), "community": membership},
                                   schema={"account_id": pl.Int64, "community": pl.Int64})
            current = current.filter(pl.col("community") >= 0)
            if current.height == 0:
                return
            passed, meetings = test_outsiders(events, chances, current, window_us, significance, min_targets)
            if passed.height == 0:
                return
            meeting_rows.append(meetings.join(passed.select("account_id", "community"), on=["account_id", "community"]))
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
    membership = np.where(keep_large(membership, min_size) >= 0, membership, -1)
    grow(rounds + 1)
    new_accounts = ids[graph.n_accounts:]
    grown = _with_accounts(graph, new_accounts)
    attached = pl.concat(attached_rows) if attached_rows else pl.DataFrame(schema=ATTACHED_SCHEMA)
    actions = _meeting_actions(codes.decode_meetings(pl.concat(meeting_rows)) if meeting_rows else None)
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
        actions=actions,
    )


class _Codes:
    """Integer codes of the events' posts, accounts and record ids, and back.

    ``accounts``: the sorted distinct accounts of the events and of ``graph_accounts``
    (an account's code is its position there); posts and record ids likewise. ``O(n log n)``.
    """

    def __init__(self, events: pl.DataFrame | None, graph_accounts: pl.Series | None) -> None:
        if events is not None:
            self.targets = events["target"].unique().sort()
            self.accounts = pl.concat([events["account_id"], graph_accounts]).unique().sort()
            self.ids = events["id"].unique().sort()
        #: whether ``encode`` finds account and record ids already coded
        self.coded = False

    @classmethod
    def of_coded(cls, events: CodedEvents) -> _Codes:
        """The codes of co-action's ``CodedEvents`` (their account and record codes are kept:
        the account dictionary holds every account of the records, so the graph's too)."""
        codes = cls(None, None)
        codes.targets = events.frame["target"].unique().sort()
        codes.accounts, codes.ids, codes.coded = events.accounts, events.ids, True
        return codes

    def encode(self, events: pl.DataFrame) -> pl.DataFrame:
        if self.coded:
            return events.with_columns(
                target=self.targets.search_sorted(events["target"]).cast(pl.Int64),
                account_id=pl.col("account_id").cast(pl.Int64),
                id=pl.col("id").cast(pl.Int64),
            )
        return events.with_columns(
            target=self.targets.search_sorted(events["target"]).cast(pl.Int64),
            account_id=self.accounts.search_sorted(events["account_id"]).cast(pl.Int64),
            id=self.ids.search_sorted(events["id"]).cast(pl.Int64),
        )

    def accounts_of(self, accounts: list[str]) -> pl.Series:
        return self.accounts.search_sorted(pl.Series(accounts, dtype=pl.String)).cast(pl.Int64)

    def decode_meetings(self, meetings: pl.DataFrame) -> pl.DataFrame:
        return meetings.with_columns(
            target=self.targets.gather(meetings["target"]),
            account_id=self.accounts.gather(meetings["account_id"]),
            m_account=self.accounts.gather(meetings["m_account"]),
            id=self.ids.gather(meetings["id"]),
            m_id=self.ids.gather(meetings["m_id"]),
        )


def meeting_counts(batches: Iterator[pl.DataFrame], fold_rows: int = MEETING_BATCH_ROWS) -> pl.DataFrame | None:
    """``W_aC`` and the posts met per (outsider, community), summed over ``_meeting_batches``:
    ``account_id``, ``community``, ``weight``, ``n_targets``; ``None`` without any batch.

    A post lies in one batch, so distinct posts add up. The batches' sums are folded
    together whenever they outgrow the running total and ``fold_rows`` (all meetings at once held several
    GiB at 10M records, and so did keeping every batch's sums to the end), in 32-bit
    codes, which the accounts and communities of a run fit.
    """
    def summed(parts: list[pl.DataFrame]) -> pl.DataFrame:
        return pl.concat(parts).group_by("account_id", "community").agg(pl.col("weight").sum(),
                                                                         pl.col("n_targets").sum())

    parts: list[pl.DataFrame] = []
    pending = folded = 0
    for meetings in batches:
        part = meetings.group_by("account_id", "community").agg(
            weight=pl.len().cast(pl.Int64), n_targets=pl.col("target").n_unique().cast(pl.Int32))
        parts.append(part.with_columns(pl.col("account_id", "community").cast(pl.Int32)))
        pending += part.height
        if pending > max(folded, fold_rows):
            parts = [summed(parts)]
            folded, pending = parts[0].height, 0
    if not parts:
        return None
    return summed(parts).with_columns(pl.col("account_id", "community", "n_targets").cast(pl.Int64))


def _meetings(outsiders: pl.DataFrame, members: pl.DataFrame, window_us: int,
              batch_rows: int = MEETING_BATCH_ROWS) -> pl.DataFrame:
    """Every (outsider action, member action) on the same post at most ``window_us`` apart:
    ``outsiders``' columns, then the member's ``community``, ``m_account``, ``m_id``, ``m_time``."""
    return pl.concat(list(_meeting_batches(outsiders, members, window_us, batch_rows)))


def _meeting_batches(outsiders: pl.DataFrame, members: pl.DataFrame, window_us: int,
                     batch_rows: int = MEETING_BATCH_ROWS) -> Iterator[pl.DataFrame]:
    """``_meetings``' rows in batches of posts (one empty batch when no post has both sides).

    The join on the post forms every (outsider, member) pair of a post before the window
    filter, up to ``2000 x 2000`` rows a post: posts are taken in batches whose pairs
    number at most about ``batch_rows`` (one post's may exceed it), each joined and
    filtered when the caller asks for it, so memory follows one batch, not all pairs tried.
    ``O(sum_t n_out_t * n_member_t)`` work.
    """
    right = members.select("target", "community", m_account="account_id", m_id="id", m_time="time")
    sizes = (outsiders.group_by("target").agg(n_out=pl.len().cast(pl.Int64))
             .join(right.group_by("target").agg(n_in=pl.len().cast(pl.Int64)), on="target")
             .sort("target")
             .with_columns(batch=(pl.col("n_out") * pl.col("n_in")).cum_sum() // batch_rows))
    in_window = (pl.col("time") - pl.col("m_time")).abs() <= window_us
    if sizes.height == 0 or sizes["batch"].max() == 0:
        yield outsiders.join(right, on="target").filter(in_window)
        return
    batches = sizes.select("target", "batch")
    lefts = outsiders.join(batches, on="target").partition_by("batch", as_dict=True, include_key=False)
    rights = right.join(batches, on="target").partition_by("batch", as_dict=True, include_key=False)
    del right, batches
    for key in list(lefts):
        yield lefts.pop(key).join(rights.pop(key), on="target").filter(in_window)


def _with_accounts(graph: AccountGraph, new_accounts: list[str]) -> AccountGraph:
    """The account graph with ``new_accounts`` appended as vertices without edges."""
    if not new_accounts:
        return graph
    extended = graph.graph.copy()
    extended.add_vertices(len(new_accounts))
    accounts = pa.concat_arrays([graph.accounts.cast(pa.string()), pa.array(new_accounts, pa.string())])
    return AccountGraph(graph=extended, accounts=accounts, source=graph.source, target=graph.target)


def _meeting_actions(meetings: pl.DataFrame | None) -> pl.DataFrame:
    """Both sides of every meeting as co-action actions (``type`` co_engage)."""
    if meetings is None or meetings.height == 0:
        return pl.DataFrame(schema=_ACTION_COLUMNS)
    own = meetings.select("target", "account_id", "id", "time")
    theirs = meetings.select("target", account_id="m_account", id="m_id", time="m_time")
    return pl.concat([own, theirs]).unique(["target", "id"]).select(
        type=pl.lit(co_engage.TYPE), target="target", account_id="account_id", id="id",
        timestamp=pl.from_epoch("time", time_unit="us").dt.replace_time_zone("UTC"),
    ).cast(_ACTION_COLUMNS)
