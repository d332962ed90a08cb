"""Evidence grouped by text: identical and near-identical posts as one row with counts.

A coordinated cluster's evidence is mostly the same few texts posted again and again; an
analyst reads the distinct messages, how often each was pushed, by how many accounts and
over what time, rather than thousands of repeated rows.

Two texts fall in one group when their *key* is equal: lower case, links replaced by one
placeholder, every run of characters other than letters, digits, ``@`` and ``#`` collapsed
to a space (so punctuation, emoji and spacing variations of one template meet). Rows without
text (reposts, reactions) are grouped by their target instead. ``O(n)`` in evidence rows.
"""

from __future__ import annotations

import polars as pl

__all__ = ["group_evidence", "text_key"]

#: Links inside a text: all become one placeholder, so a rotated link does not split a group.
_LINK = r"https?://\S+"


def text_key(texts: pl.Expr) -> pl.Expr:
    """The grouping key of ``texts`` (see the module docstring)."""
    return (texts.str.to_lowercase()
            .str.replace_all(_LINK, " <link> ")
            .str.replace_all(r"[^\w@#<>]+", " ")
            .str.strip_chars())


def group_evidence(evidence: pl.DataFrame, *, search: str | None = None) -> pl.DataFrame:
    """One row per group of ``evidence`` (``id``, ``account_id``, ``timestamp``, ``kind``,
    ``target``, ``text``): ``text`` (the group's earliest text), ``n_posts``, ``n_accounts``,
    ``first_ts``, ``last_ts``, ``kinds``, ``example_id``, ``account_ids`` (in the order they
    first posted) and ``matched`` (the lexicon phrases of every post, when ``evidence`` has
    them), the largest groups first.

    ``search`` keeps the rows whose text or target contains it (case-insensitive, literal).
    """
    frame = evidence
    if search:
        needle = search.lower()
        frame = frame.filter(pl.col("text").str.to_lowercase().str.contains(needle, literal=True)
                             | pl.col("target").cast(pl.String).str.to_lowercase().str.contains(needle, literal=True))
    if frame.height == 0:
        return pl.DataFrame(schema={"text": pl.String, "n_posts": pl.UInt32, "n_accounts": pl.UInt32,
                                    "first_ts": evidence.schema.get("timestamp", pl.Datetime("us", "UTC")),
                                    "last_ts": evidence.schema.get("timestamp", pl.Datetime("us", "UTC")),
                                    "kinds": pl.List(pl.String), "example_id": pl.String,
                                    "account_ids": pl.List(pl.String), "matched": pl.List(pl.String)})
    key = pl.when(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != "")).then(
        pl.lit("t:") + text_key(pl.col("text"))).otherwise(pl.lit("r:") + pl.col("target").cast(pl.String))
    matched = (pl.col("matched").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique().sort() if "matched" in frame.columns
               else pl.lit([], dtype=pl.List(pl.String)).first())
    return (
        frame.with_columns(_key=key)
        .sort("timestamp")
        .group_by("_key", maintain_order=True)
        .agg(
            text=pl.col("text").first(),
            target=pl.col("target").first(),
            n_posts=pl.col("id").n_unique(),
            n_accounts=pl.col("account_id").n_unique(),
            first_ts=pl.col("timestamp").min(),
            last_ts=pl.col("timestamp").max(),
            kinds=pl.col("kind").unique().sort(),
            example_id=pl.col("id").first(),
            account_ids=pl.col("account_id").unique(maintain_order=True),
            matched=matched,
        )
        .with_columns(text=pl.coalesce("text", pl.lit("(no text: acted on ") + pl.col("target").cast(pl.String)
                                       + pl.lit(")")))
        .sort(["n_posts", "first_ts"], descending=[True, False])
        .select("text", "n_posts", "n_accounts", "first_ts", "last_ts", "kinds", "example_id", "account_ids", "matched")
    )
