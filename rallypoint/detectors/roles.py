"""Roles of a cluster's members: seeder, bridge, amplifier.

What it computes
    For every account in a kept community it counts its coordinated links inside the
    community (``degree``, ``strength`` = summed co-share weight) and outside it, and
    how often it *acted first* among the community's members on a shared target. Then:

    * **bridge** — at least ``bridge_min_share`` (default 10 %) of its co-share weight
      links it to members of *other* communities: it carries content between networks
      (the brokerage role of Gould & Fernandez 1989, measured here as the share of
      weight outside the own community, like the participation coefficient of Guimerà
      & Amaral 2005);
    * **seeder** — on at least ``seeder_min_first`` targets, and at least
      ``seeder_min_share`` (default half) of the targets it co-shared with the
      community, it was the first member to act: it puts content in front of the
      others (CooRnet's "first sharers"; Giglietto et al. 2020);
    * **amplifier** — everyone else: it repeats what others started.

    A member that is both a bridge and a seeder is reported as a bridge, the rarer and
    more consequential position.

Complexity
    O(E) NumPy for the graph counts; for A co-share actions, a dense ranking of their times
    (O(A log A)) and hash joins and group-bys on integer keys in Polars.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.arrays import sorted_codes
from rallypoint.detectors.communities import Communities
from rallypoint.detectors.evidence import ORIGIN_TYPES

BRIDGE_MIN_SHARE = 0.1
SEEDER_MIN_SHARE = 0.5
SEEDER_MIN_FIRST = 2

ROLE_BRIDGE, ROLE_SEEDER, ROLE_AMPLIFIER = "bridge", "seeder", "amplifier"


def member_link_counts(communities: Communities, weight: np.ndarray) -> pl.DataFrame:
    """Per vertex in a kept community: degree and strength inside it, weight outside it.

    ``weight`` holds one co-share weight per edge row of the community graph.
    """
    account_graph = communities.graph
    membership = communities.membership
    n = account_graph.n_accounts
    src, dst = account_graph.source, account_graph.target
    c_src, c_dst = membership[src], membership[dst]
    inside = (c_src >= 0) & (c_src == c_dst)
    outside = (c_src >= 0) & (c_dst >= 0) & (c_src != c_dst)
    ends_in = np.concatenate([src[inside], dst[inside]])
    weight_in = np.concatenate([weight[inside], weight[inside]])
    ends_out = np.concatenate([src[outside], dst[outside]])
    weight_out = np.concatenate([weight[outside], weight[outside]])
    kept = np.flatnonzero(membership >= 0)
    return pl.DataFrame(
        {
            "vertex": kept,
            "community": membership[kept],
            "account_id": pl.Series(account_graph.accounts.take(pa.array(kept, pa.int64())), dtype=pl.String),
            "degree": np.bincount(ends_in, minlength=n)[kept].astype(np.int64),
            "strength": np.bincount(ends_in, weights=weight_in, minlength=n)[kept],
            "strength_outside": np.bincount(ends_out, weights=weight_out, minlength=n)[kept],
        }
    )


def first_actor_counts(members: pl.DataFrame, actions: pa.Table | pl.DataFrame) -> pl.DataFrame:
    """Per member: targets co-shared with its community (``n_targets``) and how often it acted first.

    ``actions`` has ``type``, ``target``, ``account_id``, ``timestamp`` (the co-share
    actions of the run). Only targets that two or more members of the same community
    acted on count; the first is the earliest, ties going to the account id first in
    string order.

    Keys are integers, not strings: a (community, type, target) number and a (time, account)
    number whose order is the actions' order, so one hash group-by gives each target's
    first actor (the smallest) and whether a second member acted (the members' smallest and
    largest numbers differ).
    """
    acts = actions if isinstance(actions, pl.DataFrame) else pl.from_arrow(actions)
    none = members.select("account_id").with_columns(n_targets=pl.lit(0, pl.Int64), n_first=pl.lit(0, pl.Int64))
    if acts.height == 0 or members.height == 0:
        return none
    # members numbered in account id order, so that a smaller number is an earlier id
    numbered = members.select("account_id", "community").unique("account_id").sort("account_id").with_row_index("member")
    n_members = numbered.height

    types, type_code = sorted_codes(acts["type"])
    targets, target_code = sorted_codes(acts["target"])
    n_types, n_targets = types.len(), targets.len()
    acts = acts.select(
        "account_id", type=type_code, target=target_code, time=pl.col("timestamp").rank("dense").cast(pl.Int64),
    ).join(numbered, on="account_id", how="inner")
    if acts.height == 0:
        return none
    acts = acts.select(
        member=pl.col("member").cast(pl.Int64), order=pl.col("time") * n_members + pl.col("member"),
        key=(pl.col("community") * n_targets + pl.col("target")) * n_types + pl.col("type"),
    )
    shared = acts.group_by("key").agg(
        order=pl.col("order").min(), low=pl.col("member").min(), high=pl.col("member").max()
    ).filter(pl.col("low") != pl.col("high"))
    n_first = np.bincount(shared["order"].to_numpy() % n_members, minlength=n_members)
    # an account is in one community: its distinct keys are its distinct (type, target)
    n_target = acts.join(shared.select("key"), on="key", how="semi").unique(["member", "key"]).group_by("member").len()
    counts = numbered.select("member", "account_id", n_first=pl.Series(n_first, dtype=pl.Int64)).join(
        n_target.select("member", n_targets=pl.col("len").cast(pl.Int64)), on="member", how="left")
    return (
        members.select("account_id")
        .join(counts.select("account_id", "n_targets", "n_first"), on="account_id", how="left", maintain_order="left")
        .with_columns(pl.col("n_targets").fill_null(0), pl.col("n_first").fill_null(0))
    )


def assign_roles(
    communities: Communities,
    weight: np.ndarray,
    actions: pa.Table | pl.DataFrame,
    bridge_min_share: float = BRIDGE_MIN_SHARE,
    seeder_min_share: float = SEEDER_MIN_SHARE,
    seeder_min_first: int = SEEDER_MIN_FIRST,
) -> pl.DataFrame:
    """One row per member: ``community``, ``account_id``, ``role``, ``degree``, ``strength``,
    ``strength_outside``, ``n_targets``, ``n_first``."""
    links = member_link_counts(communities, np.asarray(weight, dtype=np.float64))
    firsts = first_actor_counts(links, actions)
    table = links.join(firsts, on="account_id", how="left")
    total = pl.col("strength") + pl.col("strength_outside")
    is_bridge = (pl.col("strength_outside") > 0) & (pl.col("strength_outside") >= bridge_min_share * total)
    is_seeder = (pl.col("n_first") >= seeder_min_first) & (
        pl.col("n_first") >= seeder_min_share * pl.col("n_targets")
    )
    return table.with_columns(
        role=pl.when(is_bridge)
        .then(pl.lit(ROLE_BRIDGE))
        .when(is_seeder)
        .then(pl.lit(ROLE_SEEDER))
        .otherwise(pl.lit(ROLE_AMPLIFIER))
    ).drop("vertex")


def with_origins(actions: pl.DataFrame, records: pa.Table) -> pl.DataFrame:
    """The co-actions plus the original posts they reposted or replied to, as the authors' own actions.

    An author whose posts the others amplify acted first on them; without these rows
    the seeder would only be the fastest reposter. ``actions``: ``type``, ``target``,
    ``account_id``, ``id``, ``timestamp``; ``records``: ``id``, ``account_id``, ``timestamp``
    at least. The posts are picked from the records in Arrow and only they become polars
    rows: the records' ids are millions of strings.
    """
    if actions.height == 0:
        return actions
    kinds = actions.filter(pl.col("type").is_in(ORIGIN_TYPES)).select(id="target", type="type").unique()
    targets = kinds["id"].unique().to_arrow().cast(pa.string())
    posts = pl.from_arrow(records.select(["id", "account_id", "timestamp"])
                          .filter(pc.is_in(records.column("id"), value_set=targets)))
    origins = posts.join(kinds, on="id").with_columns(target=pl.col("id"))
    return pl.concat([actions, origins.select(actions.columns).cast(actions.schema)])
