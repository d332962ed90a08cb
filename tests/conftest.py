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
def russian_lake(reference_dir: Path, tmp_path_factory) -> Path:
    """CooRTweet's Russian reference data ingested once through the CLI (``--format coortweet``)."""
    from click.testing import CliRunner

    from rallypoint.cli import main

    lake = tmp_path_factory.mktemp("russian") / "lake"
    source = reference_dir / "coortweet" / "russian_coord_tweets.csv.gz"
    result = CliRunner().invoke(main, ["ingest", str(source), "--lake", str(lake), "--format", "coortweet"])
    assert result.exit_code == 0, result.output
    return lake


@pytest.fixture(scope="session")
def local_cluster():
    """A ``distributed.LocalCluster`` of two worker processes, shared by every test that needs one.

    Its start is tried three times: a worker process that dies before it connects to its nanny
    (one CI run in three, never reproduced alone) is the machine's doing, not the code's under test.
    """
    from distributed import LocalCluster

    failures = []
    for _ in range(3):
        try:
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        except (RuntimeError, TimeoutError) as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            continue
        with cluster:
            yield cluster
        return
    pytest.fail(f"no LocalCluster of two worker processes in three tries: {failures}")


@pytest.fixture(scope="session")
def neo4j_driver():
    """A driver for the local Neo4j (`make neo4j`). Unreachable is a failure, never a skip."""
    from rallypoint.errors import Neo4jError
    from rallypoint.neo4j.connection import Neo4jSettings, open_driver

    try:
        driver = open_driver()
    except Neo4jError as exc:
        pytest.fail(f"the local Neo4j at {Neo4jSettings.resolve().uri} is needed (run `make neo4j`): {exc}")
    yield driver
    driver.close()


@pytest.fixture
def driver(neo4j_driver):
    """The local Neo4j's driver under the short name the graph tests use."""
    return neo4j_driver


@pytest.fixture
def neo4j_world(tmp_path, neo4j_driver):
    """A small lake whose keys carry a fresh token; its nodes are deleted from Neo4j afterwards."""
    from graph_fixtures import build_small_lake, delete_token

    world = build_small_lake(tmp_path / "lake")
    yield world
    delete_token(neo4j_driver, world.token)


@pytest.fixture(scope="session")
def own_neo4j_server(tmp_path_factory):
    """A neo4j-local server of this test session's own, on a free port, stopped at the end.

    For tests that restart or replace the database (the bulk route) or wipe it: never the
    shared server. Unable to start is a failure, never a skip.
    """
    import socket

    from rallypoint.errors import Neo4jError
    from rallypoint.neo4j.bulk import LocalServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = LocalServer(state=tmp_path_factory.mktemp("own-neo4j"), uri=f"bolt://127.0.0.1:{port}",
                         env={"NEO4J_LOCAL_HEAP": "1g", "NEO4J_LOCAL_PAGECACHE_MB": "256"})
    try:
        server.control("start")
    except Neo4jError as exc:
        pytest.fail(f"the tests' own Neo4j server did not start: {exc}")
    yield server
    server.control("stop")
