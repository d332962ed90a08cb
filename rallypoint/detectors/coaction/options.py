"""What one co-action build is asked to do: :class:`CoactionOptions`, validated once when made.

``detect`` (:class:`rallypoint.detectors.options.DetectOptions`) and ``rallypoint network``
(:class:`rallypoint.detectors.coaction.network.NetworkOptions`) each make one from their own
options; :func:`rallypoint.detectors.coaction.build_coaction_edges` takes it, or the same
settings as keywords. A setting that cannot be used is refused here, in one sentence
(:class:`CoactionError`), before any record is read.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from rallypoint.detectors.null_model import DEFAULT_JITTER, NULL_MODELS
from rallypoint.detectors.options import DEFAULT_TEXT_THRESHOLD
from rallypoint.detectors.window import parse_window
from rallypoint.errors import RallypointError

__all__ = ["COACTION_TYPES", "DEFAULT_MAX_PAIRS_PER_SHARE", "DEFAULT_PAIR_BUDGET", "CoactionError",
           "CoactionOptions"]

#: Every co-action type, in the order they are reported (one module each in this package).
COACTION_TYPES: tuple[str, ...] = (
    "co_repost",
    "co_link",
    "co_text",
    "co_reply",
    "co_mention",
    "co_hashtags",
    "co_media",
    "co_engage",
)
#: Default cap: a share is paired with at most this many later shares of the same target
#: inside one window. It bites only on targets shared more than this many times within
#: one window (a post reposted by hundreds of accounts in a minute). Memory grows with the
#: distinct pairs formed, at most rows * cap: a cap of 1,000 on a viral-tailed input with a
#: wide auto window exhausts the machine's memory.
DEFAULT_MAX_PAIRS_PER_SHARE = 100
#: About this many pairs (under the cap) and share events per partition of targets: a
#: partition's distinct (target, account pair) rows are held at once, so this bounds the
#: pairing's memory (20M stay within a few GB); more pairs make more partitions, none is left out.
DEFAULT_PAIR_BUDGET = 20_000_000


class CoactionError(RallypointError):
    """Bad arguments to the co-action detectors."""


@dataclass(frozen=True)
class CoactionOptions:
    """The settings of one co-action build.

    ``types``: co-action types (a sequence or a comma list; kept as a tuple in canonical
    order); ``window``: ``"auto"``, a duration such as ``"60s"``, or seconds;
    ``min_participation``: CooRTweet's rule (1 keeps every pair); ``null_model``:
    ``"permutation"`` or ``"none"``; ``significance``: edges are kept when ``p_value <=
    significance`` (ignored with ``"none"``); ``max_pairs_per_share``: the cap (``None``
    lifts it); ``text_threshold``: ``co_text``'s Jaccard threshold; ``seed``: MinHash's
    seed; ``null_jitter``: the null model's time scale, in windows; ``pair_budget``: about
    the most pairs and share events paired at once (``None``: one partition, in memory);
    ``loose_significance``: with the null model, pairs with ``significance < p_value <=
    loose_significance`` are kept aside as loose edges (``None``: none).
    """

    types: Iterable[str] | str | None = COACTION_TYPES
    window: str | int | float = "auto"
    min_participation: int = 2
    null_model: str = "permutation"
    significance: float = 0.01
    max_pairs_per_share: int | None = DEFAULT_MAX_PAIRS_PER_SHARE
    text_threshold: float = DEFAULT_TEXT_THRESHOLD
    seed: int = 0
    null_jitter: float = DEFAULT_JITTER
    pair_budget: int | None = DEFAULT_PAIR_BUDGET
    loose_significance: float | None = None
    #: ``window`` parsed: seconds, or ``"auto"``
    window_seconds: float | str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", _check_types(self.types))
        object.__setattr__(self, "window_seconds", parse_window(self.window))
        if self.null_model not in NULL_MODELS:
            raise CoactionError(f"The null model {self.null_model!r} is not one of {', '.join(NULL_MODELS)}.")
        if not (_whole(self.min_participation) and self.min_participation >= 1):
            raise CoactionError(f"min_participation must be a whole number >= 1, not {self.min_participation!r}.")
        for name in ("significance", "text_threshold"):
            value = getattr(self, name)
            if not (_real(value) and 0 < value <= 1):
                raise CoactionError(f"{name} must be in (0, 1], not {value!r}.")
        if self.pair_budget is not None and not (_whole(self.pair_budget) and self.pair_budget >= 1):
            raise CoactionError(f"The pair budget must be a whole number of pairs, at least 1, "
                                f"not {self.pair_budget!r}.")
        if self.max_pairs_per_share is not None and not (_whole(self.max_pairs_per_share)
                                                         and self.max_pairs_per_share >= 1):
            raise CoactionError(f"max_pairs_per_share must be >= 1 or None, not {self.max_pairs_per_share!r}.")
        if self.loose_significance is not None and not (_real(self.loose_significance)
                                                        and self.significance < self.loose_significance <= 1):
            raise CoactionError(f"loose_significance must be in (significance, 1], not {self.loose_significance!r}.")
        if not (_real(self.null_jitter) and self.null_jitter >= 1):
            raise CoactionError(f"null_jitter must be at least 1 window, not {self.null_jitter!r}.")

    @property
    def jitter(self) -> float | None:
        """The null model's time scale, or ``None`` without a null model."""
        return self.null_jitter if self.null_model == "permutation" else None


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral | np.integer) and not isinstance(value, bool)


def _real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_types(types: Iterable[str] | str | None) -> tuple[str, ...]:
    if types is None:
        return COACTION_TYPES
    if isinstance(types, str):
        types = [t.strip() for t in types.split(",") if t.strip()]
    chosen = list(dict.fromkeys(types))
    unknown = [t for t in chosen if t not in COACTION_TYPES]
    if unknown or not chosen:
        raise CoactionError(
            f"Unknown co-action type {', '.join(unknown) or '(none given)'}; choose from {', '.join(COACTION_TYPES)}."
        )
    return tuple(t for t in COACTION_TYPES if t in chosen)
