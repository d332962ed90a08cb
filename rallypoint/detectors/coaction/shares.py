"""Share events: what every co-action type module produces from canonical records.

A *share event* is one account acting on one target at one time: ``target`` (what
was acted on — a post id, a normalised URL, an image hash, a hashtag set, a
near-duplicate text cluster), ``account_id``, ``id`` (the record id, for evidence)
and ``timestamp``. The pair enumeration (``pairs.py``) only ever sees share events,
so adding a co-action type means writing one function from records to share events.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.schema import TIMESTAMP

SHARE_SCHEMA = pa.schema(
    [
        pa.field("target", pa.string()),
        pa.field("account_id", pa.string()),
        pa.field("id", pa.string()),
        pa.field("timestamp", TIMESTAMP),
    ]
)


def schema_of(records: pa.Table) -> pa.Schema:
    """``SHARE_SCHEMA`` with the ``account_id`` and ``id`` types of ``records``: strings, or
    the integer codes the in-process co-action plan gives records (``build._LocalPlan``)."""
    return pa.schema(
        [
            SHARE_SCHEMA.field("target"),
            pa.field("account_id", records.schema.field("account_id").type),
            pa.field("id", records.schema.field("id").type),
            SHARE_SCHEMA.field("timestamp"),
        ]
    )


#: Actions that author content of their own (text, links, tags, media, mentions).
#: A plain repost or a reaction copies or marks someone else's content, so counting
#: its URLs or hashtags again would double every co-repost as a co-link.
AUTHORING_ACTIONS: tuple[str, ...] = ("post", "reply", "quote")


def rows_with_action(records: pa.Table, actions: tuple[str, ...], source: str) -> pa.Table:
    """The records whose ``action`` is one of ``actions``: their ``account_id``, ``id``,
    ``timestamp`` and ``source`` (the column a type reads its targets from).

    Only those columns are filtered: the records carry texts and lists that most types
    never read, and filtering every column would copy them for each type.
    """
    wanted = pc.is_in(records["action"], value_set=pa.array(actions, pa.string()))
    return records.select(["account_id", "id", "timestamp", source]).filter(wanted)


def from_column(records: pa.Table, targets: pa.ChunkedArray | pa.Array) -> pa.Table:
    """Share events with one target per record; records whose target is null are skipped."""
    table = pa.table(
        {
            "target": pc.cast(targets, pa.string()),
            "account_id": records["account_id"],
            "id": records["id"],
            "timestamp": records["timestamp"],
        }
    ).cast(schema_of(records))
    return distinct(table.filter(pc.is_valid(table["target"])))


def from_list_column(records: pa.Table, column: str, transform=None) -> pa.Table:
    """Share events with one target per element of a list column (each URL, each hash).

    ``transform`` (an Arrow array -> array function, e.g. ``pc.utf8_lower``) is applied
    to the flattened elements.
    """
    lists = records[column].combine_chunks()
    if len(lists) == 0:
        return schema_of(records).empty_table()
    parents = pc.list_parent_indices(lists)
    values = pc.list_flatten(lists)
    if transform is not None:
        values = transform(values)
    base = records.select(["account_id", "id", "timestamp"]).take(parents)
    return from_column(base, values)


def distinct(shares: pa.Table) -> pa.Table:
    """One event per (target, record): a post that links the same URL twice shares it once.

    Events of distinct records cannot repeat, so they come back as they are, in input
    order (the group-by, costly at scale, returns its groups in an order of its own; the
    pairing sorts the events, so only ties at one instant could tell).
    """
    if shares.num_rows == 0 or _all_distinct(shares["id"]):
        return shares
    return (
        shares.group_by(["target", "id", "account_id"], use_threads=False)
        .aggregate([("timestamp", "min")])
        .rename_columns(["target", "id", "account_id", "timestamp"])
        .select(SHARE_SCHEMA.names)
        .cast(shares.schema)
    )


def _all_distinct(ids: pa.ChunkedArray) -> bool:
    """Whether no id repeats. Integer ids (the local plan's record-id codes, dense from 0)
    are counted in a ``bincount``, an order of magnitude cheaper than Arrow's hash count."""
    if pa.types.is_integer(ids.type) and ids.null_count == 0:
        values = ids.to_numpy()
        low, high = int(values.min()), int(values.max())
        if high - low < 4 * values.size:
            return bool(np.bincount(values - low).max() <= 1)
    return pc.count_distinct(ids).as_py() == len(ids)
