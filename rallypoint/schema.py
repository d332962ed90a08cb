"""Every table rallypoint reads or writes, defined once.

The canonical interaction record (``RECORD_SCHEMA``) is the contract between the
readers, the lake writer, the detectors and the tests: readers produce it, the
lake stores it, everything downstream reads it. The run tables (edges, clusters,
members, evidence) are the contract between the detectors, the graph loader, the
exporter and the dashboard. ``../shared/SPEC.md`` is the prose version of this file.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

#: Actions an interaction record may carry.
ACTIONS: tuple[str, ...] = ("post", "repost", "reply", "quote", "reaction")
#: Actions that act on another item and therefore need ``target_id``.
TARGETED_ACTIONS: frozenset[str] = frozenset({"repost", "reply", "quote", "reaction"})

TIMESTAMP = pa.timestamp("us", tz="UTC")


def utc_datetime(value: str | datetime) -> datetime:
    """An ISO 8601 time (``Z`` allowed) as an aware datetime, in UTC when it names no zone.

    Raises :class:`ValueError` for text that is not ISO 8601; callers word the error for their user.
    """
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

STRING_LIST = pa.list_(pa.string())

#: Fields a record must have (``target_id`` too when the action is targeted).
REQUIRED_FIELDS: tuple[str, ...] = ("id", "platform", "account_id", "timestamp", "action")

#: Canonical fields, in the order of SPEC.md.
RECORD_FIELDS: tuple[pa.Field, ...] = (
    pa.field("id", pa.string(), nullable=False),
    pa.field("platform", pa.string(), nullable=False),
    pa.field("account_id", pa.string(), nullable=False),
    pa.field("timestamp", TIMESTAMP, nullable=False),
    pa.field("action", pa.string(), nullable=False),
    pa.field("target_id", pa.string()),
    pa.field("target_account_id", pa.string()),
    pa.field("text", pa.string()),
    pa.field("urls", STRING_LIST),
    pa.field("hashtags", STRING_LIST),
    pa.field("mentions", STRING_LIST),
    pa.field("media", STRING_LIST),
    pa.field("channel_id", pa.string()),
    pa.field("lang", pa.string()),
    pa.field("account_name", pa.string()),
    pa.field("account_created_at", TIMESTAMP),
    pa.field("followers", pa.int64()),
    pa.field("high_profile", pa.bool_()),
)
#: The canonical record as readers emit it.
RECORD_SCHEMA = pa.schema(RECORD_FIELDS)

#: What the lake stores per record: the canonical fields, the URLs as written before
#: normalization, and every field outside the table as a JSON object string.
LAKE_SCHEMA = pa.schema(
    [
        *RECORD_FIELDS,
        pa.field("urls_original", STRING_LIST),
        pa.field("extra", pa.string()),
    ]
)
LIST_FIELDS: tuple[str, ...] = tuple(
    f.name for f in LAKE_SCHEMA if pa.types.is_list(f.type)
)

#: A record that did not pass validation, kept with where it came from and why.
REJECTED_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("line", pa.int64()),  # 1-based line (JSONL) or row (CSV/Parquet)
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),  # the record as read, JSON or the raw line
    ]
)

# --- run tables (LAKE/runs/RUN_ID/*.parquet) -------------------------------------

#: Per-type counts on an edge: one row per coordination type the pair co-acted by.
EDGE_TYPE_STRUCT = pa.struct(
    [
        pa.field("type", pa.string()),
        pa.field("weight", pa.int64()),
        pa.field("n_shared", pa.int64()),
        pa.field("first_ts", TIMESTAMP),
        pa.field("last_ts", TIMESTAMP),
    ]
)

EDGES_SCHEMA = pa.schema(
    [
        pa.field("account_a", pa.string(), nullable=False),  # account_a < account_b
        pa.field("account_b", pa.string(), nullable=False),
        pa.field("weight", pa.int64(), nullable=False),  # co-share pairs, all types
        pa.field("n_shared", pa.int64(), nullable=False),  # distinct targets, all types
        pa.field("types", pa.list_(EDGE_TYPE_STRUCT)),
        pa.field("first_ts", TIMESTAMP),
        pa.field("last_ts", TIMESTAMP),
        pa.field("expected_weight", pa.float64()),  # what chance gives (null model)
        # above the run's significance: a loose edge, inside a loose group (detectors/loose.py)
        pa.field("p_value", pa.float64()),
        pa.field("strength", pa.float64()),  # observed / expected, or weight with --null none
    ]
)

BURST_STRUCT = pa.struct(
    [
        pa.field("start", TIMESTAMP),
        pa.field("end", TIMESTAMP),
        pa.field("level", pa.int64()),
    ]
)
TARGET_COUNT_STRUCT = pa.struct(
    [
        pa.field("kind", pa.string()),  # post, url, text, hashtags, mention, media, reply
        pa.field("target", pa.string()),
        pa.field("count", pa.int64()),
    ]
)
DATE_PLACE_STRUCT = pa.struct(
    [
        pa.field("date", pa.string()),  # ISO date the posts name, as resolved
        pa.field("place", pa.string()),
        pa.field("count", pa.int64()),
    ]
)
MOBILIZATION_STRUCT = pa.struct(
    [
        pa.field("n_texts", pa.int64()),
        # posts the texts belong to: a post with the replies and quotes answering it is one
        pa.field("n_threads", pa.int64()),
        pa.field("call_to_action_share", pa.float64()),
        pa.field("logistics_share", pa.float64()),
        pa.field("escalation_share", pa.float64()),
        pa.field("delegitimization_share", pa.float64()),
        pa.field("code_word_share", pa.float64()),
        # dated invitations a pledge of the cluster answered ("I'll be there"), among the calls
        pa.field("answered_calls", pa.int64()),
        pa.field("dates", STRING_LIST),
        pa.field("places", STRING_LIST),
        pa.field("top_date_places", pa.list_(DATE_PLACE_STRUCT)),
    ]
)

CLUSTERS_SCHEMA = pa.schema(
    [
        pa.field("cluster_id", pa.string(), nullable=False),  # unique within a run
        pa.field("score", pa.float64(), nullable=False),  # 0..1
        pa.field("flagged", pa.bool_(), nullable=False),  # score >= run threshold
        pa.field("n_accounts", pa.int64(), nullable=False),
        pa.field("n_edges", pa.int64(), nullable=False),
        pa.field("first_ts", TIMESTAMP),
        pa.field("last_ts", TIMESTAMP),
        pa.field("reasons", STRING_LIST),  # sentences with their numbers
        pa.field("types", STRING_LIST),  # coordination types seen
        pa.field("bursts", pa.list_(BURST_STRUCT)),
        pa.field("top_targets", pa.list_(TARGET_COUNT_STRUCT)),
        pa.field("mobilization", MOBILIZATION_STRUCT),
        pa.field("high_profile_accounts", STRING_LIST),
        pa.field("platforms", STRING_LIST),
        pa.field("langs", STRING_LIST),
        # the score's components, each 0..1, so a reader can recompute the score
        pa.field("coordination_score", pa.float64()),
        pa.field("burst_score", pa.float64()),
        pa.field("mobilization_score", pa.float64()),
        pa.field("escalation_score", pa.float64()),
        pa.field("growth_score", pa.float64()),
        # evidence that needs no lexicon (detectors.inauthenticity, .links, .mobilization.structure)
        pa.field("inauthenticity_score", pa.float64()),
        pa.field("structure_score", pa.float64()),
        pa.field("link_score", pa.float64()),
        pa.field("harm_score", pa.float64()),
        # orders the queue after score: coordination * (0.5 + 0.5 * inauthenticity); never flags
        pa.field("order_score", pa.float64()),
    ]
)

MEMBERS_SCHEMA = pa.schema(
    [
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),  # seeder, amplifier, bridge
        pa.field("platform", pa.string()),
        pa.field("account_name", pa.string()),
        pa.field("high_profile", pa.bool_()),
        pa.field("followers", pa.int64()),
        pa.field("account_created_at", TIMESTAMP),
        pa.field("n_actions", pa.int64()),
        pa.field("degree", pa.int64()),
        pa.field("strength", pa.float64()),  # sum of edge weights inside the cluster
        pa.field("first_ts", TIMESTAMP),
    ]
)

EVIDENCE_SCHEMA = pa.schema(
    [
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("id", pa.string(), nullable=False),  # the record id in the lake
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("timestamp", TIMESTAMP, nullable=False),
        # coaction:<type>, one of SIGNAL_EVIDENCE_KINDS, or of INAUTHENTICITY_EVIDENCE_KINDS
        pa.field("kind", pa.string(), nullable=False),
        pa.field("target", pa.string()),
        pa.field("text", pa.string()),
        pa.field("matched", STRING_LIST),  # phrases the lexicons matched, for highlighting
    ]
)

#: Evidence kinds of the texts a cluster pushed, each with the words an analyst reads for it:
#: mobilization signals (rallypoint.detectors.mobilization), link purposes
#: (rallypoint.detectors.links) and learned terms (rallypoint.detectors.terms). The reasons count
#: each per thread (``n_<kind>``); the dashboard shows them before the co-actions.
SIGNAL_EVIDENCE_KINDS: dict[str, str] = {
    "call_to_action": "call to action",
    "logistics": "logistics",
    "escalation": "escalation (threats, force)",
    "delegitimization": "stolen-election claim",
    "code_word": "code word",
    "structural_call": "call by its structure (date, time, place)",
    "money_link": "money link",
    "logistics_link": "logistics link",
    "petition_link": "petition link",
    "learned_term": "learned term",
}
#: Evidence kinds of the inauthenticity cues a member shows (rallypoint.detectors.inauthenticity),
#: each with the words an analyst reads for it.
INAUTHENTICITY_EVIDENCE_KINDS: dict[str, str] = {
    "created_in_burst": "account created in a burst with other members",
    "young_account": "young account",
    "no_everyday_life": "no everyday life (only this cluster's co-actions)",
    "regular_rhythm": "acts on a regular schedule",
}
#: The signal evidence kinds a score rests on (rallypoint.detectors.scoring): without any of
#: them a cluster scores 0, so its bursts are computed only for display.
HARM_EVIDENCE_KINDS: tuple[str, ...] = (
    "call_to_action", "escalation", "delegitimization", "structural_call", "money_link", "logistics_link",
)

#: Learned candidate code words (rallypoint.detectors.terms): one row per term.
TERMS_SCHEMA = pa.schema(
    [
        pa.field("term", pa.string(), nullable=False),
        pa.field("language", pa.string()),  # most common lang of the texts using it
        pa.field("clusters", STRING_LIST),  # the clusters that taught it
        pa.field("statistic", pa.float64()),  # z of the log-odds ratio, informative Dirichlet prior
        pa.field("count", pa.int64()),  # uses in the teaching clusters' mobilizing texts
        pa.field("background_count", pa.int64()),  # uses in the lake's background sample
    ]
)

RUN_TABLES: dict[str, pa.Schema] = {
    "edges": EDGES_SCHEMA,
    "clusters": CLUSTERS_SCHEMA,
    "members": MEMBERS_SCHEMA,
    "evidence": EVIDENCE_SCHEMA,
    "terms": TERMS_SCHEMA,
}

#: labels.csv: ground truth for evaluation.
LABELS_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("campaign_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # mobilization | amplification
    ]
)


def empty_table(schema: pa.Schema) -> pa.Table:
    """A zero-row table of ``schema``."""
    return schema.empty_table()
