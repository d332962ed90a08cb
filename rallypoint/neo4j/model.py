"""The graph model in Cypher: keys and constraints, node and relationship statements.

Graph model (SPEC.md)::

    (:Account {id, platform, name, high_profile, followers})
    (:Post {platform, id, ts, action, channel_id})       one per record, plus stubs for targets
    (:Url {url, domain}) (:Hashtag {tag}) (:Media {hash})
    (:Cluster {run_id, id, score, flagged, n_accounts, n_edges})

    (Account)-[:POSTED]->(Post)                            the record's author; also target_account_id
    (Post)-[:REPOSTED|REPLIED_TO|QUOTED|REACTED_TO]->(Post) the record's target, by its action
    (Post)-[:LINKS_TO]->(Url)  (Post)-[:TAGGED]->(Hashtag)
    (Post)-[:MENTIONS]->(Account)  (Post)-[:ATTACHES]->(Media)
    (Account)-[:COORDINATED_WITH {run_id, weight, n_shared, types, ...}]->(Account)   account_a -> account_b
    (Account)-[:MEMBER_OF {role}]->(Cluster)

Keys, each behind a uniqueness constraint created before any write: ``Account.id``,
``Post (platform, id)`` (the lake's record key), ``Url.url``, ``Hashtag.tag``, ``Media.hash``,
``Cluster (run_id, id)``. ``REACTED_TO`` extends SPEC.md's list so that reactions keep their target.
"""

from __future__ import annotations

#: The record actions that point at another post, and the relationship each one becomes.
TARGET_RELATIONSHIPS: dict[str, str] = {
    "repost": "REPOSTED",
    "reply": "REPLIED_TO",
    "quote": "QUOTED",
    "reaction": "REACTED_TO",
}

CONSTRAINTS: tuple[str, ...] = (
    "CREATE CONSTRAINT rallypoint_account_id IF NOT EXISTS FOR (n:Account) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT rallypoint_post_key IF NOT EXISTS FOR (n:Post) REQUIRE (n.platform, n.id) IS UNIQUE",
    "CREATE CONSTRAINT rallypoint_url IF NOT EXISTS FOR (n:Url) REQUIRE n.url IS UNIQUE",
    "CREATE CONSTRAINT rallypoint_hashtag IF NOT EXISTS FOR (n:Hashtag) REQUIRE n.tag IS UNIQUE",
    "CREATE CONSTRAINT rallypoint_media IF NOT EXISTS FOR (n:Media) REQUIRE n.hash IS UNIQUE",
    "CREATE CONSTRAINT rallypoint_cluster_key IF NOT EXISTS FOR (n:Cluster) REQUIRE (n.run_id, n.id) IS UNIQUE",
)

#: The lake columns the loader reads.
LOAD_COLUMNS = [
    "id", "platform", "account_id", "timestamp", "action", "target_id", "target_account_id",
    "urls", "hashtags", "mentions", "media", "channel_id", "account_name", "followers", "high_profile",
]

# --- Cypher: nodes ------------------------------------------------------------------
# Rows travel as parallel column lists (``$id[i]``), not as one map per row: the driver packs a
# list of strings several times faster than a list of dicts repeating every key.
# Every node statement returns the node id of each row it merged (``row``, ``node``): the
# relationship statements of the same batch then find their nodes by id (NodeByIdSeek) instead of
# seeking the key indexes again. Both collect()s run over the same rows, so rows and ids line up.

# Account properties: the newest non-null value wins, so reloading or loading in any order
# converges on the same node.
MERGE_ACCOUNTS = """
UNWIND range(0, size($id) - 1) AS i
MERGE (a:Account {id: $id[i]})
ON CREATE SET a.platform = $platform[i]
SET a.name = coalesce($name[i], a.name),
    a.high_profile = coalesce($high_profile[i], a.high_profile, false),
    a.followers = coalesce($followers[i], a.followers)
RETURN collect(i) AS row, collect(id(a)) AS node
"""


def _datetime(expr: str) -> str:
    """Cypher turning epoch microseconds into a DateTime (null stays null).

    Timestamps travel as integers: the driver packs Python datetimes far slower than ints.
    """
    return (f"CASE WHEN {expr} IS NULL THEN null ELSE datetime({{epochSeconds: {expr} / 1000000, "
            f"nanosecond: {expr} % 1000000 * 1000}}) END")


MERGE_POSTS = f"""
UNWIND range(0, size($id) - 1) AS i
MERGE (p:Post {{platform: $platform[i], id: $id[i]}})
SET p.ts = {_datetime("$ts[i]")}, p.action = $action[i], p.channel_id = $channel_id[i]
RETURN collect(i) AS row, collect(id(p)) AS node
"""
# A target that the lake does not hold (yet) becomes a stub: key only, filled in if it arrives.
MERGE_TARGET_POSTS = """
UNWIND range(0, size($id) - 1) AS i
MERGE (p:Post {platform: $platform[i], id: $id[i]})
RETURN collect(i) AS row, collect(id(p)) AS node
"""
MERGE_URLS = """
UNWIND range(0, size($url) - 1) AS i
MERGE (n:Url {url: $url[i]}) ON CREATE SET n.domain = $domain[i]
RETURN collect(i) AS row, collect(id(n)) AS node
"""
MERGE_HASHTAGS = """
UNWIND range(0, size($tag) - 1) AS i
MERGE (n:Hashtag {tag: $tag[i]})
RETURN collect(i) AS row, collect(id(n)) AS node
"""
MERGE_MEDIA = """
UNWIND range(0, size($hash) - 1) AS i
MERGE (n:Media {hash: $hash[i]})
RETURN collect(i) AS row, collect(id(n)) AS node
"""

# --- Cypher: relationships (every node exists by now: MATCH by id, never create) ----------
# One flat statement per relationship type, with the node ids the batch's node statements
# returned: two NodeByIdSeeks (the label check guards against an id reused after a delete)
# and a MERGE of the relationship between two bound nodes (Expand(Into)), no index seek.
# MERGE, not CREATE, keeps every load idempotent: a second load finds each relationship.
#: The node table of each node label (``BatchTables``; the procedure's batch map uses the same names).
NODE_TABLES: dict[str, str] = {"Account": "accounts", "Post": "posts", "Url": "urls", "Hashtag": "hashtags",
                               "Media": "media"}
#: (relationship type, start label, end label) of the relationships a record batch writes.
RELATIONSHIP_TYPES: tuple[tuple[str, str, str], ...] = (
    ("POSTED", "Account", "Post"),
    *((rel, "Post", "Post") for rel in TARGET_RELATIONSHIPS.values()),
    ("LINKS_TO", "Post", "Url"),
    ("TAGGED", "Post", "Hashtag"),
    ("MENTIONS", "Post", "Account"),
    ("ATTACHES", "Post", "Media"),
)


def merge_relationships_query(rel: str, start: str, end: str) -> str:
    """``UNWIND`` over parallel id lists ``$src``/``$dst``, merging ``(src)-[:rel]->(dst)``."""
    return f"""
UNWIND range(0, size($src) - 1) AS i
MATCH (a:{start}) WHERE id(a) = $src[i]
MATCH (b:{end}) WHERE id(b) = $dst[i]
MERGE (a)-[:{rel}]->(b)
"""


MERGE_RELATIONSHIPS: dict[str, str] = {rel: merge_relationships_query(rel, start, end)
                                       for rel, start, end in RELATIONSHIP_TYPES}



def ensure_constraints(driver) -> None:
    """Create the uniqueness constraints (and so the indexes MERGE needs); idempotent."""
    with driver.session() as session:
        for statement in CONSTRAINTS:
            session.run(statement).consume()
        session.run("CALL db.awaitIndexes(300)").consume()


#: The server-side loader (neo4j-local/src/main/java/org/rallypoint/neo4jlocal/LoadProcedures.java).
LOAD_PROCEDURE = "rallypoint.loadBatch"
CALL_LOAD_PROCEDURE = f"CALL {LOAD_PROCEDURE}($batch) YIELD nodes, relationships, properties " \
                      "RETURN nodes, relationships, properties"
