"""The dashboard only reads Neo4j: its queries run in read transactions, which the server
(Community edition included) refuses to write in."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.neo4j

URI = os.environ.get("NEO4J_URI", "bolt://127.0.0.1:7687")


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("NEO4J_USER", os.environ.get("NEO4J_USER", "neo4j"))
    monkeypatch.setenv("NEO4J_PASSWORD", os.environ.get("NEO4J_PASSWORD", "rallypoint-dev"))


def test_the_dashboards_ego_network_uses_read_transactions_only(credentials, monkeypatch):
    from neo4j import Session

    from rallypoint.dashboard.ego import ego_edges_from_neo4j

    def refuse(*args, **kwargs):
        raise AssertionError("the dashboard wrote or ran outside a read transaction")

    monkeypatch.setattr(Session, "execute_write", refuse)
    monkeypatch.setattr(Session, "run", refuse)
    edges = ego_edges_from_neo4j(URI, "no-such-account-rallypoint-test")
    assert edges.height == 0


def test_the_server_refuses_a_write_inside_a_read_transaction(credentials):
    from neo4j import GraphDatabase
    from neo4j.exceptions import ClientError

    with GraphDatabase.driver(URI, auth=(os.environ["NEO4J_USER"], os.environ["NEO4J_PASSWORD"])) as driver, \
            driver.session() as session:
        with pytest.raises(ClientError, match="read access mode"):
            session.execute_read(lambda tx: tx.run("CREATE (:RallypointDashboardWriteProbe)").consume())
        left = session.execute_read(
            lambda tx: tx.run("MATCH (n:RallypointDashboardWriteProbe) RETURN count(n) AS n").single()["n"])
    assert left == 0
