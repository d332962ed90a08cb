"""Small lakes and runs for the Neo4j and export tests, with ids unique to each test.

Every id, platform, URL, hashtag and media hash carries a random token, so tests that share one
Neo4j server (a team's, CI's) never see each other's data, and cleanup deletes exactly what a
test created.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from rallypoint.lake import Lake, write_parquet_atomic
from rallypoint.schema import LAKE_SCHEMA

NODE_LABELS = ("Account", "Post", "Url", "Hashtag", "Media")
RECORD_RELATIONSHIPS = ("POSTED", "REPOSTED", "REPLIED_TO", "QUOTED", "REACTED_TO",
                        "LINKS_TO", "TAGGED", "MENTIONS", "ATTACHES")


@dataclass
class SmallWorld:
    """A lake of a few hundred records and the token its ids carry."""

    lake: Lake
    token: str
    platform: str
    records: pa.Table


def new_token() -> str:
    return "t" + secrets.token_hex(5)


def build_small_lake(root: Path, *, token: str | None = None, n_accounts: int = 25,
                     n_records: int = 300, seed: int = 3) -> SmallWorld:
    """Random records over two days (two lake files) using every list field and every action.

    Some targets are posts of the lake, some are posts the lake does not hold (with their
    author in ``target_account_id``), as in real exports.
    """
    token = token or new_token()
    platform = f"{token}-net"
    rng = np.random.default_rng(seed)
    accounts = [f"{token}-acc{i:03d}" for i in range(n_accounts)]
    start = datetime(2021, 1, 4, 12, tzinfo=UTC)
    rows = []
    for i in range(n_records):
        action = str(rng.choice(["post", "repost", "reply", "quote", "reaction"], p=[0.4, 0.3, 0.1, 0.1, 0.1]))
        account = accounts[int(rng.integers(n_accounts))]
        target_id = target_account = None
        if action != "post":
            if i > 0 and rng.random() < 0.7:
                earlier = rows[int(rng.integers(len(rows)))]
                target_id, target_account = earlier["id"], earlier["account_id"]
            else:
                # posts outside the lake: ext0..ext14 have a known author, ext15..ext19 none
                ext = int(rng.integers(20))
                target_id = f"{token}-ext{ext}"
                target_account = f"{token}-outside{ext % 5}" if ext < 15 else None
        rows.append({
            "id": f"{token}-p{i:04d}",
            "platform": platform,
            "account_id": account,
            "timestamp": start + timedelta(minutes=11 * i),
            "action": action,
            "target_id": target_id,
            "target_account_id": target_account,
            "text": f"text {i}",
            "urls": [f"https://www.{token}.example/{int(rng.integers(8))}"] if rng.random() < 0.4 else [],
            "hashtags": [f"{token}tag{int(rng.integers(6))}" for _ in range(int(rng.integers(3)))],
            "mentions": [accounts[int(rng.integers(n_accounts))]] if rng.random() < 0.2 else None,
            "media": [f"{token}h{int(rng.integers(4))}"] if rng.random() < 0.15 else [],
            "channel_id": None,
            "lang": "en",
            "account_name": f"Name of {account}",
            "account_created_at": None,
            "followers": int(rng.integers(10, 10_000)),
            "high_profile": account.endswith("000"),
            "urls_original": None,
            "extra": None,
        })
    records = pa.Table.from_pylist(rows, schema=LAKE_SCHEMA)
    lake = Lake(root).ensure()
    days = np.array([r["timestamp"].date().isoformat() for r in rows])
    for day in np.unique(days):
        part = records.filter(pa.array(days == day))
        write_parquet_atomic(lake.interactions_dir / f"date={day}" / "part-0.parquet", part)
    return SmallWorld(lake=lake, token=token, platform=platform, records=records)


def expected_graph_counts(records: pa.Table) -> dict[str, int]:
    """The nodes and relationships the graph model gives for these records, counted in plain Python."""
    rows = records.to_pylist()
    accounts = {r["account_id"] for r in rows}
    accounts |= {r["target_account_id"] for r in rows if r["target_account_id"]}
    accounts |= {m for r in rows for m in (r["mentions"] or [])}
    posts = {(r["platform"], r["id"]) for r in rows} | {
        (r["platform"], r["target_id"]) for r in rows if r["target_id"]}
    posted = {(r["account_id"], r["platform"], r["id"]) for r in rows} | {
        (r["target_account_id"], r["platform"], r["target_id"]) for r in rows if r["target_account_id"]}
    by_action = {"repost": "REPOSTED", "reply": "REPLIED_TO", "quote": "QUOTED", "reaction": "REACTED_TO"}
    counts = {
        "Account": len(accounts),
        "Post": len(posts),
        "Url": len({u for r in rows for u in (r["urls"] or [])}),
        "Hashtag": len({h for r in rows for h in (r["hashtags"] or [])}),
        "Media": len({m for r in rows for m in (r["media"] or [])}),
        "POSTED": len(posted),
    }
    for action, rel in by_action.items():
        counts[rel] = len({(r["id"], r["target_id"]) for r in rows if r["action"] == action})
    for column, rel in (("urls", "LINKS_TO"), ("hashtags", "TAGGED"), ("mentions", "MENTIONS"),
                        ("media", "ATTACHES")):
        counts[rel] = len({(r["id"], v) for r in rows for v in (r[column] or [])})
    return counts


def write_small_run(lake: Lake, token: str, *, run_id: str | None = None, seed: int = 5) -> str:
    """A finished run with two clusters over the lake's accounts, written with the run schemas."""
    rng = np.random.default_rng(seed)
    run_id = run_id or f"{token}-run"
    accounts = sorted({a for a in lake.read_interactions_table(["account_id"])["account_id"].to_pylist()
                       if a.startswith(token)})
    groups = {"c1": accounts[:8], "c2": accounts[8:13]}
    edges, members = [], []
    t0 = datetime(2021, 1, 4, 12, tzinfo=UTC)
    for cluster_id, group in groups.items():
        for i, account in enumerate(group):
            members.append({"cluster_id": cluster_id, "account_id": account,
                            "role": "seeder" if i == 0 else "amplifier", "platform": f"{token}-net",
                            "account_name": f"Name of {account}", "high_profile": account.endswith("000"),
                            "followers": 100 + i, "n_actions": 3, "degree": 0, "strength": 0.0})
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if rng.random() < 0.6:
                    weight = int(rng.integers(2, 30))
                    edges.append({"account_a": min(a, b), "account_b": max(a, b), "weight": weight,
                                  "n_shared": max(1, weight // 2),
                                  "types": [{"type": "url", "weight": weight - 1, "n_shared": 1,
                                             "first_ts": t0, "last_ts": t0 + timedelta(hours=1)},
                                            {"type": "post", "weight": 1, "n_shared": 1,
                                             "first_ts": t0, "last_ts": t0}],
                                  "first_ts": t0, "last_ts": t0 + timedelta(hours=1),
                                  "expected_weight": 1.5, "p_value": 0.01, "strength": weight / 1.5})
    # one edge between the clusters, so a cluster's subgraph must leave it out
    edges.append({"account_a": min(groups["c1"][0], groups["c2"][0]),
                  "account_b": max(groups["c1"][0], groups["c2"][0]), "weight": 2, "n_shared": 1,
                  "types": [], "first_ts": t0, "last_ts": t0,
                  "expected_weight": 1.0, "p_value": 0.2, "strength": 2.0})
    n_edges = {c: sum(1 for e in edges if e["account_a"] in g and e["account_b"] in g) for c, g in groups.items()}
    clusters = [{"cluster_id": c, "score": score, "flagged": score >= 0.5, "n_accounts": len(groups[c]),
                 "n_edges": n_edges[c], "reasons": [f"{n_edges[c]} coordinated pairs"], "types": ["url", "post"]}
                for c, score in (("c1", 0.9), ("c2", 0.4))]
    from rallypoint.schema import CLUSTERS_SCHEMA, EDGES_SCHEMA, MEMBERS_SCHEMA

    lake.write_run_table(run_id, "edges", _complete(edges, EDGES_SCHEMA))
    lake.write_run_table(run_id, "clusters", _complete(clusters, CLUSTERS_SCHEMA))
    lake.write_run_table(run_id, "members", _complete(members, MEMBERS_SCHEMA))
    lake.write_run_json(run_id, {"run_id": run_id, "threshold": 0.5})
    return run_id


def _complete(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)


def delete_token(driver, token: str) -> None:
    """Remove every node whose key carries the token (and with it their relationships)."""
    for label, key in (("Account", "id"), ("Post", "id"), ("Hashtag", "tag"), ("Media", "hash"),
                       ("Cluster", "run_id")):
        driver.execute_query(f"MATCH (n:{label}) WHERE n.{key} STARTS WITH $token DETACH DELETE n",
                             token=token)
    driver.execute_query("MATCH (n:Url) WHERE n.url CONTAINS $token DETACH DELETE n", token=token)


def graph_counts(driver, token: str) -> dict[str, int]:
    """Nodes and relationships of this test's data, counted by Cypher."""
    counts = {}
    keys = {"Account": "n.id", "Post": "n.id", "Url": "n.url", "Hashtag": "n.tag", "Media": "n.hash"}
    for label in NODE_LABELS:
        where = f"{keys[label]} CONTAINS $token" if label == "Url" else f"{keys[label]} STARTS WITH $token"
        counts[label] = driver.execute_query(
            f"MATCH (n:{label}) WHERE {where} RETURN count(n) AS c", token=token).records[0]["c"]
    for rel in RECORD_RELATIONSHIPS:
        # every record relationship starts at an Account or a Post of this test
        counts[rel] = driver.execute_query(
            f"MATCH (s)-[r:{rel}]->() WHERE s.id STARTS WITH $token RETURN count(r) AS c",
            token=token).records[0]["c"]
    return counts


def assert_a_failed_load_rolls_back_its_batch_and_a_rerun_completes(
    driver, world, loader: str, message: str, break_second_batch, restore
) -> None:
    """Load ``world`` with ``break_second_batch`` in force (its second batch fails): the load
    raises ``Neo4jError`` matching ``message`` with the first batch committed and the second
    not; after ``restore()`` a rerun of the same load gives exactly the lake's graph."""
    from rallypoint.errors import Neo4jError
    from rallypoint.neo4j.loaders import load_lake_into_neo4j

    break_second_batch()
    with pytest.raises(Neo4jError, match=message):
        load_lake_into_neo4j(world.lake.root, None, batch_size=60, loader=loader)
    partial = graph_counts(driver, world.token)
    expected = expected_graph_counts(world.records)
    assert 0 < partial["POSTED"] < expected["POSTED"]  # the first batch committed, the second did not
    restore()
    load_lake_into_neo4j(world.lake.root, None, batch_size=60, loader=loader)
    assert graph_counts(driver, world.token) == expected
