"""The team deployment (docker-compose.yml) and the local server agree on Neo4j and refuse a default password."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"


def compose_command() -> list[str] | None:
    """``docker compose`` if the client and its compose plugin are here, else ``docker-compose``."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def compose_config(env_file: Path) -> subprocess.CompletedProcess:
    command = compose_command()
    if command is None:
        pytest.skip("no Docker compose client on this machine (docker compose / docker-compose)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "RALLYPOINT_", "DASK_"))}
    return subprocess.run([*command, "--project-directory", str(REPO), "-f", str(COMPOSE),
                           "--env-file", str(env_file), "config", "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=120)


def test_the_local_server_runs_the_same_neo4j_line_as_the_compose_image():
    image = re.search(r"image:\s*neo4j:(\d+\.\d+)-community", COMPOSE.read_text())
    pom = re.search(r"<neo4j.version>(\d+\.\d+)\.\d+</neo4j.version>", (REPO / "neo4j-local" / "pom.xml").read_text())
    assert image and pom
    assert image.group(1) == pom.group(1)


def test_compose_accepts_the_file_with_a_password(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("NEO4J_PASSWORD=team-secret-123\nDASK_WORKERS=3\n")
    result = compose_config(env_file)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = config["services"]
    assert services["neo4j"]["image"] == "neo4j:5.26-community"
    assert services["neo4j"]["environment"]["NEO4J_AUTH"] == "neo4j/team-secret-123"
    assert "cypher-shell" in " ".join(services["neo4j"]["healthcheck"]["test"])
    assert services["dashboard"]["depends_on"]["neo4j"]["condition"] == "service_healthy"
    assert services["dashboard"]["environment"]["NEO4J_URI"] == "bolt://neo4j:7687"
    assert int(services["dask-worker"]["deploy"]["replicas"]) == 3
    assert "tcp://dask-scheduler:8786" in services["dask-worker"]["command"]
    published = [p.get("host_ip") for s in services.values() for p in s.get("ports", [])]
    assert published and set(published) == {"127.0.0.1"}


def test_compose_refuses_to_run_without_a_password(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DASK_WORKERS=1\n")
    result = compose_config(env_file)
    assert result.returncode != 0
    assert "NEO4J_PASSWORD" in result.stderr


def test_the_env_example_documents_every_variable_the_compose_file_reads():
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.MULTILINE))
    assert used <= documented
    assert re.search(r"^NEO4J_PASSWORD=$", (REPO / ".env.example").read_text(), re.MULTILINE)
