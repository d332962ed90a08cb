"""CrowdTangle and Meta Content Library CSV exports of Facebook and Instagram posts.

CrowdTangle's historical CSV (one row per post): ``Facebook Id`` (else ``User Name``)
-> ``account_id``; ``URL`` (the post's permalink) -> ``id``; ``Post Created``
(``2021-01-05 18:23:11 EST``, zone abbreviations mapped to UTC offsets) ->
``timestamp``; ``Final Link`` (else ``Link``) -> ``urls``; ``Message`` -> ``text``;
``User Name`` (else ``Page Name``) -> ``account_name``; ``Followers at Posting``
(else ``Likes at Posting``) -> ``followers``. Meta Content Library CSV: ``id``,
``creation_time``, ``text``, ``post_owner.id``, ``post_owner.name``,
``link_attachment.link``, ``lang``. Every row is a ``post`` (link-sharing
coordination is found on ``urls``, as CooRnet does); the platform is ``instagram``
when the permalink is on instagram.com, else ``facebook``. Other columns (reaction
counts, page category, ...) go to ``extra``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from rallypoint.ingest.readers import Block, Part
from rallypoint.ingest.readers.csv import read_csv_blocks

#: canonical field <- export columns, first present wins
CANDIDATES: dict[str, tuple[str, ...]] = {
    "id": ("URL", "id", "Post URL"),
    "account_id": ("Facebook Id", "post_owner.id", "User Name", "Account"),
    "timestamp": ("Post Created", "creation_time"),
    "urls": ("Final Link", "Link", "link_attachment.link"),
    "text": ("Message", "text", "Description"),
    "account_name": ("User Name", "Page Name", "post_owner.name", "Account"),
    "followers": ("Followers at Posting", "Likes at Posting"),
    "lang": ("lang", "Language"),
}
#: CrowdTangle writes times in the dashboard's zone with its abbreviation.
ZONE_OFFSETS = {
    "UTC": "+00:00", "GMT": "+00:00", "EST": "-05:00", "EDT": "-04:00", "CST": "-06:00", "CDT": "-05:00",
    "MST": "-07:00", "MDT": "-06:00", "PST": "-08:00", "PDT": "-07:00", "BRT": "-03:00", "BRST": "-02:00",
    "CET": "+01:00", "CEST": "+02:00",
}


def read_blocks(part: Part) -> Iterator[Block]:
    yield from read_csv_blocks(part, to_canonical)


def to_canonical(table: pa.Table) -> pa.Table:
    """Export columns -> canonical reader columns; the used source columns leave the table."""
    n = table.num_rows
    names = set(table.column_names)
    columns: dict[str, pa.ChunkedArray] = {}
    used: set[str] = set()
    for field, candidates in CANDIDATES.items():
        present = [c for c in candidates if c in names]
        if not present:
            continue
        value = table.column(present[0])
        for other in present[1:]:  # fall back column by column where the first is blank
            value = pc.if_else(pc.equal(pc.fill_null(value, ""), ""), table.column(other), value)
        columns[field] = value
        used.update(present)
    if "timestamp" in columns:
        columns["timestamp"] = _zone_abbreviations_to_offsets(columns["timestamp"])
    permalink = columns.get("id", pa.chunked_array([pa.nulls(n, pa.string())]))
    on_instagram = pc.fill_null(pc.match_substring(permalink, "instagram.com"), False)
    columns["platform"] = pc.if_else(on_instagram, "instagram", "facebook")
    columns["action"] = pa.chunked_array([pa.array(["post"] * n, pa.string())])
    keep = [c for c in table.column_names if c not in used and c not in columns]
    return pa.table({**columns, **{c: table.column(c) for c in keep}})


def _zone_abbreviations_to_offsets(times: pa.ChunkedArray) -> pa.ChunkedArray:
    for abbreviation, offset in ZONE_OFFSETS.items():
        times = pc.replace_substring_regex(times, rf"\s+{abbreviation}$", offset)
    return times
