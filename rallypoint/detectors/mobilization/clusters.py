"""Each cluster's pushed texts and their mobilization signals.

What it computes
    :func:`coordinated_texts`: per cluster, the texts it pushed (its members' co-action
    records and the posts they reposted or replied to), each read with its thread;
    :func:`cluster_mobilization`: each distinct text scanned once for signals (lexicons,
    link categories, structural calls), calls its members pledged to marked
    (:mod:`.pledges`), and summarized per cluster into the
    ``mobilization`` struct, with the per-text flags the evidence rows come from.

Complexity
    One ``is_in`` filter over the records, then O(total text length) for the signals.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.detectors.evidence import COACTION_PREFIX, ORIGIN_TYPES
from rallypoint.schema import MOBILIZATION_STRUCT

#: Co-action rows of the members on a post someone else wrote, in one co-action type, from
#: which the post counts as pushed by the cluster: two rows are one meeting of two members.
MIN_OUTSIDE_ROWS = 3
#: The record columns ``coordinated_texts`` reads.
TEXT_COLUMNS = ["id", "account_id", "timestamp", "text", "lang", "urls", "action", "target_id"]


def coordinated_texts(records: pa.Table, evidence: pl.DataFrame, membership: pl.DataFrame | None = None
                      ) -> pl.DataFrame:
    """Per cluster, the texts it pushed: its co-action records and the posts it reposted or replied to.

    Mobilization is read from what the members coordinated on, not from their
    everyday cover posts (which would dilute a campaign's calls to nothing), and the
    post a ring amplifies counts even when its author is outside the ring — when the
    members met on it more than once (:data:`MIN_OUTSIDE_ROWS`); a member's own post
    always counts. ``membership`` (``account_id``, ``cluster_id``) says who the members
    are; without it, the accounts in the cluster's co-action rows.
    Returns ``cluster_id``, ``id``, ``account_id``, ``timestamp``, ``text``, ``lang``, ``urls`` and
    ``thread`` (the post a reply or quote answers; a post's own id otherwise).
    """
    coactions = evidence.filter(pl.col("kind").str.starts_with(COACTION_PREFIX))
    originals = coactions.filter(pl.col("kind").is_in([COACTION_PREFIX + t for t in ORIGIN_TYPES]))
    ids = pl.concat([coactions["id"], originals["target"]]).unique().to_arrow()
    found = pl.from_arrow(records.select(TEXT_COLUMNS).filter(pc.is_in(records.column("id"), value_set=ids)))
    originals = without_outside_posts_met_once(
        originals, found.select("id", "account_id"),
        coactions.select("account_id", "cluster_id") if membership is None else membership)
    wanted = pl.concat([coactions.select("cluster_id", "id"),
                        originals.select("cluster_id", id=pl.col("target"))]).unique()
    # a post with links and no text is read too: money and logistics travel as bare links
    texts = found.filter(
        (pl.col("text").str.len_chars() > 0) | (pl.col("urls").list.len() > 0)).unique("id", keep="first")
    # a reply or a quote is read with the post it answers: "I'll be there" under a call is
    # the call's thread, not a second, empty text that dilutes it
    answers = pl.col("action").is_in(["reply", "quote"]) & pl.col("target_id").is_not_null()
    texts = texts.with_columns(thread=pl.when(answers).then(pl.col("target_id")).otherwise(pl.col("id"))).drop(
        "action", "target_id")
    return wanted.join(texts, on="id", how="inner").sort("cluster_id", "timestamp", "id")


def without_outside_posts_met_once(originals: pl.DataFrame, records: pl.DataFrame, membership: pl.DataFrame) -> pl.DataFrame:
    """``originals`` (co-action rows on posts) without the rows on posts that a non-member wrote
    and the members met on only once: fewer than :data:`MIN_OUTSIDE_ROWS` rows in every type.
    ``records`` (``id``, ``account_id``) holds the posts' authors; a post not in it is kept."""
    if originals.height == 0:
        return originals
    authors = records.unique("id", keep="first").select(target="id", author="account_id")
    members = membership.select("cluster_id", author="account_id").unique().with_columns(own=pl.lit(True))
    posts = (
        originals.group_by("cluster_id", "kind", "target").agg(rows=pl.len())
        .group_by("cluster_id", "target").agg(rows=pl.col("rows").max())
        .join(authors, on="target", how="left")
        .join(members, on=["cluster_id", "author"], how="left")
        # two members' actions within the window are one meeting, what chance gives: the
        # pair test never counts one, and the post is its author's evidence, not theirs
        .filter(pl.col("own").fill_null(False) | pl.col("author").is_null() | (pl.col("rows") >= MIN_OUTSIDE_ROWS))
    )
    return originals.join(posts.select("cluster_id", "target"), on=["cluster_id", "target"], how="semi")


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
    signals = mob.answered_calls(signals, "cluster_id")
    struct_type = pl.from_arrow(pa.array([], MOBILIZATION_STRUCT)).dtype
    summary = mob.summarize_by(signals, "cluster_id")
    frame = summary.select(
        pl.col("cluster_id").cast(pl.Int64), mobilization=pl.struct(*mob.summary.FIELDS).cast(struct_type))
    return frame, signals


__all__ = ["MIN_OUTSIDE_ROWS", "TEXT_COLUMNS", "cluster_mobilization", "coordinated_texts", "without_outside_posts_met_once"]
