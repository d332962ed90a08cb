"""Neo4j: the lake's interactions and a run's clusters as a property graph.

Graph model (SPEC.md)::

    (:Account {id, platform, name, high_profile, followers})
    (:Post {platform, id, ts, action, channel_id})       one per record, plus stubs for targets
    (:Url {url, domain}) (:Hashtag {tag}) (:Media {hash})
    (:Cluster {run_id, id, score, flagged, n_accounts, n_edges})
    (Account)-[:POSTED]->(Post)   (Post)-[:REPOSTED|REPLIED_TO|QUOTED|REACTED_TO]->(Post)
    (Post)-[:LINKS_TO]->(Url)  (Post)-[:TAGGED]->(Hashtag)  (Post)-[:MENTIONS]->(Account)
    (Post)-[:ATTACHES]->(Media)   (Account)-[:COORDINATED_WITH]->(Account)   (Account)-[:MEMBER_OF]->(Cluster)

One module a job:

``connection``  settings (arguments, then ``NEO4J_*`` variables, then the dev defaults) and the driver
``model``       keys, constraints and the Cypher of every node and relationship
``batches``     the lake read one record batch at a time, shaped into node and relationship tables
``writer``      statements written in retried, counted transactions on parallel sessions
``loaders``     the incremental loader (procedure or Cypher path), and catching up after an outage
``bulk``        the bulk route: neo4j-admin's importer into an empty database, then the constraints
``runs``        a detection run's clusters, memberships and coordination edges
``explore``     read-only exploration: the k-hop context of accounts, how two clusters connect
``views``       saved, parameterized Cypher views for researchers, run read-only and sealed
"""

from rallypoint.neo4j.connection import Neo4jSettings, open_driver
from rallypoint.neo4j.loaders import load_lake_into_neo4j, load_missing_into_neo4j
from rallypoint.neo4j.model import CONSTRAINTS, NODE_TABLES, RELATIONSHIP_TYPES, ensure_constraints
from rallypoint.neo4j.runs import write_run_to_neo4j

__all__ = [
    "CONSTRAINTS",
    "NODE_TABLES",
    "RELATIONSHIP_TYPES",
    "Neo4jSettings",
    "ensure_constraints",
    "load_lake_into_neo4j",
    "load_missing_into_neo4j",
    "open_driver",
    "write_run_to_neo4j",
]
