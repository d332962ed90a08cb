"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Third-party data with peer tools' results (never edited)."""
    assert SHARED_REFERENCE.exists(), f"missing {SHARED_REFERENCE}"
    return SHARED_REFERENCE


@pytest.fixture(scope="session")
def neo4j_driver():
    """A driver for the local Neo4j (`make neo4j`). Unreachable is a failure, never a skip."""
    from rallypoint.errors import Neo4jError
    from rallypoint.graph.neo4j_store import Neo4jSettings, open_driver

    try:
        driver = open_driver()
    except Neo4jError as exc:
        pytest.fail(f"the local Neo4j at {Neo4jSettings.resolve().uri} is needed (run `make neo4j`): {exc}")
    yield driver
    driver.close()
