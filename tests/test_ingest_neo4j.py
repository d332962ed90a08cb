"""``rallypoint ingest --neo4j``: the files an ingest commits are loaded into Neo4j."""

from __future__ import annotations

import json
import secrets

import pytest

from rallypoint.ingest.pipeline import ingest_sources
from rallypoint.neo4j.connection import Neo4jSettings

pytestmark = pytest.mark.neo4j


def posts_of(driver, token: str) -> set[str]:
    records = driver.execute_query("MATCH (p:Post) WHERE p.id STARTS WITH $t RETURN p.id AS id", t=token).records
    return {r["id"] for r in records}


def test_ingest_loads_what_it_committed_and_only_that(tmp_path, driver):
    token = "ing" + secrets.token_hex(4)
    records = [
        {"id": f"{token}-p{i}", "platform": "x", "account_id": f"{token}-a{i % 3}",
         "timestamp": 1609945200 + 86_400 * (i % 2), "action": "post", "hashtags": [f"{token}tag"]}
        for i in range(6)
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    uri = Neo4jSettings.resolve().uri
    try:
        first = ingest_sources([source], tmp_path / "lake", neo4j_uri=uri)
        assert posts_of(driver, token) == {r["id"] for r in records}
        assert first.neo4j is not None
        more = tmp_path / "more.jsonl"
        more.write_text(json.dumps({**records[0], "id": f"{token}-late"}) + "\n")
        second = ingest_sources([source, more], tmp_path / "lake", neo4j_uri=uri)
        assert second.written == 1 and len(second.files) == 1
        assert posts_of(driver, token) == {r["id"] for r in records} | {f"{token}-late"}
    finally:
        driver.execute_query("MATCH (n) WHERE n.id STARTS WITH $t OR n.tag STARTS WITH $t DETACH DELETE n", t=token)
