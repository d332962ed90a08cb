"""CooRTweet's input table: ``object_id, account_id, content_id, timestamp_share``.

CooRTweet (Righetti & Balluff; R) detects coordinated sharing on a four-column
table: ``content_id`` is one share (e.g. a retweet), ``object_id`` what was shared
(the retweeted tweet, a URL, a hashtag), ``timestamp_share`` its Unix time in
seconds. Each row becomes a canonical ``repost`` with ``id = content_id`` and
``target_id = object_id``, on platform ``x`` unless the table has a ``platform``
column. Other columns (for instance ``url_id`` or ``phash_id``) are kept in
``extra``. So a CooRTweet user's data can be ingested as it is, and rallypoint's
co-action results compared with CooRTweet's on the same input.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.ingest.readers import Block, Part
from rallypoint.ingest.readers.csv import read_csv_blocks

DEFAULT_PLATFORM = "x"
RENAMES = {"content_id": "id", "object_id": "target_id", "timestamp_share": "timestamp"}


def read_blocks(part: Part) -> Iterator[Block]:
    yield from read_csv_blocks(part, to_canonical)


def to_canonical(table: pa.Table) -> pa.Table:
    """CooRTweet columns -> canonical reader columns (every row a repost)."""
    names = [RENAMES.get(n, n) for n in table.column_names]
    table = table.rename_columns(names)
    n = table.num_rows
    if "action" in names:  # an ``action`` column of CooRTweet's own is not ours: keep it aside
        table = table.rename_columns([("coortweet_action" if c == "action" else c) for c in names])
    table = table.append_column("action", pa.array(["repost"] * n, pa.string()))
    if "platform" not in names:
        table = table.append_column("platform", pa.array([DEFAULT_PLATFORM] * n, pa.string()))
    else:
        given = table.column("platform")
        filled = pc.if_else(pc.equal(pc.fill_null(given, ""), ""), DEFAULT_PLATFORM, given)
        table = table.set_column(table.column_names.index("platform"), "platform", filled)
    return table
