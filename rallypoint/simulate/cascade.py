"""Responses to originals: the one building block of every cascade in the world.

Given originals (record number, author, time) and, per response, which original it
answers, who responds, after what delay and with which action, :func:`responses`
returns a :class:`~rallypoint.simulate.events.Batch` of reposts/replies/quotes/
reactions (or posts that share the same link). Responses that would fall after the
end of the world, before the responder's account existed, or by the original's
own author are dropped. Vectorized, O(responses).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from rallypoint.simulate.events import POST, REPLY, Batch, IdSpace


def _keep(values, keep: np.ndarray):
    if values is None:
        return None
    if isinstance(values, pl.Series):
        return values.filter(pl.Series(keep))
    return [v for v, k in zip(values, keep, strict=True) if k]


def responses(ids: IdSpace, *, target_numbers: np.ndarray, target_accounts: np.ndarray, target_ts: np.ndarray,
              which: np.ndarray, actors: np.ndarray, delays: np.ndarray, actions: np.ndarray,
              end: int, created_at: np.ndarray | None = None, text=None, urls=None, hashtags=None, media=None,
              channel_id=None, lang=None, mentions=None, mention_target: bool = True, accounts=None) -> Batch:
    """Responses ``i`` to original ``which[i]`` by ``actors[i]`` after ``delays[i]`` seconds.

    Actions equal to POST are shares in the responder's own post (same link or a
    near-copy), so they carry no target. Replies mention the original's author when
    ``mention_target`` (needs ``accounts`` for the id), unless ``mentions`` are given.
    """
    which = np.asarray(which, dtype=np.int64)
    ts = np.asarray(target_ts)[which] + np.asarray(delays, dtype=np.int64)
    author = np.asarray(target_accounts)[which]
    keep = (ts < end) & (actors != author)
    if created_at is not None:
        keep &= created_at[actors] < ts
    which, ts, author = which[keep], ts[keep], author[keep]
    actors = np.asarray(actors)[keep]
    actions = np.asarray(actions, dtype=np.int8)[keep]
    is_share_post = actions == POST
    target = np.where(is_share_post, 0, np.asarray(target_numbers, dtype=np.uint64)[which]).astype(np.uint64)
    target_account = np.where(is_share_post, -1, author).astype(np.int64)
    mentions = _keep(mentions, keep)
    if mentions is None and mention_target and accounts is not None and (actions == REPLY).any():
        mention_ids = accounts.ids.gather(pl.Series(author))
        mentions = pl.select(
            pl.when(pl.Series(actions == REPLY)).then(pl.concat_list([mention_ids])).otherwise(None)
        ).to_series()
    return Batch(
        number=ids.take(len(ts)), account=actors, ts=ts, action=actions, target=target,
        target_account=target_account, text=_keep(text, keep), urls=_keep(urls, keep),
        hashtags=_keep(hashtags, keep), media=_keep(media, keep), mentions=mentions,
        channel_id=_keep(channel_id, keep), lang=_keep(lang, keep),
    )


def originals(ids: IdSpace, *, accounts_idx: np.ndarray, ts: np.ndarray, text=None, urls=None, hashtags=None,
              media=None, mentions=None, channel_id=None, lang=None) -> Batch:
    """Original posts."""
    n = len(ts)
    return Batch(number=ids.take(n), account=np.asarray(accounts_idx, dtype=np.int64), ts=np.asarray(ts, dtype=np.int64),
                 action=np.full(n, POST, np.int8), text=text, urls=urls, hashtags=hashtags, media=media,
                 mentions=mentions, channel_id=channel_id, lang=lang)


def mixed_actions(rng: np.random.Generator, n: int, mix: dict[int, float]) -> np.ndarray:
    """``n`` action codes drawn from ``{code: share}``."""
    codes = np.array(list(mix), dtype=np.int8)
    p = np.array(list(mix.values()), dtype=float)
    return codes[rng.choice(len(codes), size=n, p=p / p.sum())]
