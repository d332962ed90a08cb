"""Answered calls: a dated invitation that someone answered with a pledge to attend.

What it computes
    For texts grouped by ``by`` (a cluster) and by ``thread`` (the post a reply or a
    quote answers; a post's own id otherwise), ``answered_call`` on the thread's own post
    when it is a ``dated_invitation`` (it invites and names a date) and another text of
    the same group and thread is a ``pledge`` ("I'll be there", "conta comigo"). Such a
    post is a call to action, whatever its words: "RSVP for the wedding on the 5th,
    bring the cousins" answered "count me in" by another member is a call the lexicons
    cannot read alone.

    A fan answering a dated tour announcement "I'll be there!" makes an answered call
    too; like any call without a stolen-election narrative or a code word it counts
    half in the score (:mod:`rallypoint.detectors.scoring`), and a fandom's harm stays
    below the flag threshold. Only a pledge *inside the group* counts: the group's
    members answered their own call, which an audience does not do.

Parameters
    ``signals``: per-text flags (:func:`~.detect.detect_text_signals`) with ``by``,
    ``id`` and ``thread``.

Complexity
    One group-by and one join over the texts, O(n).
"""

from __future__ import annotations

import polars as pl


def answered_calls(signals: pl.DataFrame, by: str) -> pl.DataFrame:
    """``signals`` with ``answered_call`` (bool): the text is a dated invitation its group
    pledged to; ``call_to_action`` is set on it too."""
    own_post = pl.col("id") == pl.col("thread")
    pledged = (signals.filter(~own_post & pl.col("pledge").fill_null(False))
               .select(by, "thread").unique().with_columns(_pledged=pl.lit(True)))
    return (signals.join(pledged, on=[by, "thread"], how="left", maintain_order="left")
            .with_columns(answered_call=own_post & pl.col("dated_invitation").fill_null(False)
                          & pl.col("_pledged").fill_null(False))
            .with_columns(call_to_action=pl.col("call_to_action") | pl.col("answered_call"))
            .drop("_pledged"))


__all__ = ["answered_calls"]
