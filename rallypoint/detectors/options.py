"""What a ``detect`` run is asked to do: one options object, validated once.

:class:`DetectOptions` holds every option of a run with its default and its help; the
``rallypoint detect`` command reads both from here, :func:`rallypoint.detect` validates
an instance before the lake is read (one sentence, :class:`DetectParameterError` or the
owning module's error, for the first option that cannot be used), and ``run.json``
records :meth:`DetectOptions.parameters`.

This module imports nothing heavy: the command reads its defaults before the detecting
commands set the allocator (``rallypoint.allocator``), which must happen before numpy
is imported. The checks that need a detector's own vocabulary (co-action types, the
window's syntax, the null models) import it when an instance is validated.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from rallypoint.errors import RallypointError

#: Community objectives (:mod:`rallypoint.detectors.communities`).
OBJECTIVES = ("cpm", "modularity", "components")
#: Default CPM resolution on 0..1 weights: the minimum coordinated density of a cluster.
DEFAULT_CPM_RESOLUTION = 0.05
DEFAULT_MODULARITY_RESOLUTION = 1.0
#: The fixed settings of CPM's edge weights (:func:`rallypoint.detectors.communities.cpm_weights`),
#: recorded in ``run.json`` beside the resolution.
CPM_WEIGHT_SETTINGS = ("strength_cap", "sure_p_value")
#: Threads a detection run keeps busy at once: the machine rallypoint targets has two cores.
#: The run's executor and co-action's thread pools are this wide.
THREADS = 2
#: Clusters scoring at least this are flagged (:mod:`rallypoint.detectors.scoring`).
DEFAULT_THRESHOLD = 0.3
#: Word 3-gram Jaccard at which ``co_text`` takes two texts for copies. One edit inside an
#: ``n``-word text leaves ``(n - 5) / n`` or ``(n - 5) / (n + 1)``, so 0.8 misses one-edit
#: copies of texts under 25-29 words; 0.7 finds them but also more ordinary look-alikes
#: (docs/coaction.md, "co_text's threshold").
DEFAULT_TEXT_THRESHOLD = 0.8


class DetectParameterError(RallypointError):
    """A detect option cannot be used."""


def _option(default: Any, help: str, *, recorded: bool = True) -> Any:
    return field(default=default, metadata={"help": help, "recorded": recorded})


@dataclass(frozen=True)
class DetectOptions:
    """Every option of one detection run (see each field's ``help``); validated when made."""

    since: str | datetime | None = _option(None, "Only interactions at or after this time (ISO 8601).")
    until: str | datetime | None = _option(None, "Only interactions before this time (ISO 8601).")
    window: str = _option("auto", "Co-action window: auto or a duration such as 60s.")
    types: str | tuple[str, ...] | None = _option(None, "Comma list of co-action types (default: all).")
    min_participation: int = _option(2, "CooRTweet's minimum participation.")
    null_model: str = _option("permutation", "Null model: permutation, none.")
    significance: float = _option(0.01, "Keep edges with a null-model p-value at most this.")
    text_threshold: float = _option(
        DEFAULT_TEXT_THRESHOLD, "co_text: texts whose word 3-gram Jaccard similarity is at least this (0..1] are "
                                "copies of each other.")
    loose_groups: bool = _option(
        False, "After the communities, group the accounts no cluster holds by their loose pairs (null-model "
              "p-value above the significance, at most the loose level of rallypoint.detectors.loose); watch does "
              "by default.")
    objective: str = _option("cpm", "Community objective (Leiden CPM, Leiden modularity, or connected components).")
    resolution: float | None = _option(
        None, f"Leiden resolution (default: {DEFAULT_CPM_RESOLUTION:g} for cpm, "
              f"{DEFAULT_MODULARITY_RESOLUTION:g} for modularity).")
    pair_budget: int | None = _option(
        None, "About the most co-share pairs formed at once (default: co-action's, docs/coaction.md): the "
              "targets are paired in partitions of about this many pairs and the sums spilled to disk; nothing "
              "is sampled. More takes more memory and writes less to disk.")
    threshold: float = _option(DEFAULT_THRESHOLD, "Flag clusters scoring at least this (0..1).")
    seed: int = _option(0, "Random seed (null model, Leiden).")
    scheduler: str | None = _option(None, "Dask scheduler address (tcp://host:8786): co-action's partitions are paired "
                                              "there; default: in this process.")
    run_id: str | None = _option(None, "Name of the run (default: time + random hex).", recorded=False)
    neo4j_uri: str | None = _option(None, "Load the finished run into Neo4j at this Bolt URI.", recorded=False)

    def __post_init__(self) -> None:
        from rallypoint.lake import check_run_id, parse_time

        since, until = parse_time(self.since, "since"), parse_time(self.until, "until")
        if since and until and since >= until:
            raise DetectParameterError(f"--since {self.since} is not before --until {self.until}.")
        object.__setattr__(self, "since", since)
        object.__setattr__(self, "until", until)
        object.__setattr__(self, "types", _types(self.types))
        if self.run_id is not None:
            check_run_id(self.run_id)
        self._check_coaction()
        if not isinstance(self.loose_groups, bool):
            raise DetectParameterError(f"loose_groups must be true or false, not {self.loose_groups!r}.")
        if self.objective not in OBJECTIVES:
            raise DetectParameterError(
                f"The community objective {self.objective!r} is not one of {', '.join(OBJECTIVES)}.")
        if self.resolution is not None and not (_number(self.resolution) and self.resolution > 0):
            raise DetectParameterError(f"The community resolution must be positive, not {self.resolution!r}.")
        if not (_number(self.threshold) and 0 <= self.threshold <= 1):
            raise DetectParameterError(f"The score threshold must be between 0 and 1, not {self.threshold!r}.")
        if not _whole(self.seed):
            raise DetectParameterError(f"The seed must be a whole number, not {self.seed!r}.")

    def _check_coaction(self) -> None:
        """The co-action options, by co-action's own check (its vocabulary and messages)."""
        self.coaction()

    def coaction(self, **run: Any) -> Any:
        """The run's :class:`rallypoint.detectors.coaction.CoactionOptions` (validated when
        made), with ``run``'s settings that are the run's, not the user's (``loose_significance``)."""
        from rallypoint.detectors.coaction import DEFAULT_PAIR_BUDGET, CoactionOptions

        return CoactionOptions(types=self.types, window=self.window, min_participation=self.min_participation,
                               null_model=self.null_model, significance=self.significance,
                               text_threshold=self.text_threshold, seed=self.seed,
                               pair_budget=DEFAULT_PAIR_BUDGET if self.pair_budget is None else self.pair_budget,
                               **run)

    def with_changes(self, **changes: Any) -> DetectOptions:
        """A copy with ``changes`` (field names), validated again."""
        return replace(self, **changes) if changes else self

    def parameters(self, **resolved: Any) -> dict[str, Any]:
        """The recorded options as ``run.json`` keeps them; ``resolved`` gives the values the run
        settled on for options left to a detector (``resolution``, ``pair_budget``) and the
        fixed settings recorded beside them (:data:`CPM_WEIGHT_SETTINGS`)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if not f.metadata["recorded"]:
                continue
            value = resolved.pop(f.name, getattr(self, f.name))
            if f.name in ("since", "until"):
                value = value.isoformat() if value else None
            elif f.name == "types":
                value = list(value) if value else None
            out[f.name] = value
            if f.name == "resolution":
                out.update({name: resolved.pop(name) for name in CPM_WEIGHT_SETTINGS if name in resolved})
        if resolved:
            raise TypeError(f"Not detect options: {sorted(resolved)}.")
        return out


def option_help(name: str) -> str:
    """The help of the option ``name`` (the command's ``--help`` shows it)."""
    return DetectOptions.__dataclass_fields__[name].metadata["help"]


def _types(types: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    if types is None:
        return None
    if isinstance(types, str):
        types = [t.strip() for t in types.split(",") if t.strip()]
    return tuple(types) or None


def _whole(value: Any) -> bool:
    """An integer (numpy's too: they register as ``numbers.Integral``), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    """A real number (numpy's too), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


__all__ = ["DEFAULT_TEXT_THRESHOLD", "DEFAULT_THRESHOLD", "OBJECTIVES", "DetectOptions", "DetectParameterError", "option_help"]
