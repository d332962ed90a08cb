"""The team deployment (docker-compose.yml) and the local server agree on Neo4j and refuse a default password."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"


def compose_command() -> list[str]:
    """``docker compose`` (v2) if the client and its plugin work, else ``docker-compose`` (v1).

    `make test` installs Debian's docker-compose when neither works, so having none is a
    failure, never a skip.
    """
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        probe = subprocess.run(["docker-compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker-compose"]
    pytest.fail("no Docker compose client works here (docker compose / docker-compose); "
                "`make compose` installs Debian's docker-compose")


def compose_config(env_file: Path) -> tuple[subprocess.CompletedProcess, dict | None]:
    """``compose config`` of docker-compose.yml with ``env_file``: the process and the parsed config.

    v2 prints JSON (``--format json``), v1 only YAML; both are parsed into the same dict, with
    every published port in the long form (``host_ip``, ``published``, ``target``).
    """
    command = compose_command()
    v2 = command == ["docker", "compose"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "RALLYPOINT_", "DASK_", "COMPOSE_"))}
    result = subprocess.run([*command, "--project-directory", str(REPO), "-f", str(COMPOSE),
                             "--env-file", str(env_file), "config", *(["--format", "json"] if v2 else [])],
                            capture_output=True, text=True, env=env, timeout=120)
    if result.returncode != 0:
        return result, None
    config = json.loads(result.stdout) if v2 else yaml.safe_load(result.stdout)
    for service in config["services"].values():
        service["ports"] = [_long_port(p) for p in service.get("ports", [])]
    return result, config


def _long_port(port: str | dict) -> dict:
    """A published port as compose v2 prints it; v1 prints ``HOST_IP:PUBLISHED:TARGET/PROTO``."""
    if isinstance(port, dict):
        return port
    spec, _, protocol = str(port).partition("/")
    host_ip, published, target = spec.rsplit(":", 2) if spec.count(":") >= 2 else ("", *spec.split(":"))
    return {"host_ip": host_ip, "published": published, "target": int(target), "protocol": protocol or "tcp"}


def test_the_local_server_runs_the_same_neo4j_line_as_the_compose_image():
    image = re.search(r"image:\s*neo4j:(\d+\.\d+)-community", COMPOSE.read_text())
    pom = re.search(r"<neo4j.version>(\d+\.\d+)\.\d+</neo4j.version>", (REPO / "neo4j-local" / "pom.xml").read_text())
    assert image and pom
    assert image.group(1) == pom.group(1)


def test_compose_accepts_the_file_with_a_password(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("NEO4J_PASSWORD=team-secret-123\nDASK_WORKERS=3\n")
    result, config = compose_config(env_file)
    assert result.returncode == 0, result.stderr
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
    assert {p["target"] for p in services["neo4j"]["ports"]} == {7474, 7687}


def test_compose_mounts_the_load_procedure_plugin_jar_that_maven_builds(tmp_path):
    """The neo4j service gets rallypoint.loadBatch from the jar neo4j-local's pom packages (same name)."""
    env_file = tmp_path / ".env"
    env_file.write_text("NEO4J_PASSWORD=team-secret-123\n")
    result, config = compose_config(env_file)
    assert result.returncode == 0, result.stderr
    pom = (REPO / "neo4j-local" / "pom.xml").read_text()
    artifact = re.search(r"<artifactId>(neo4j-local)</artifactId>\s*<version>([^<]+)</version>", pom)
    assert artifact and "<classifier>procedures</classifier>" in pom
    jar = REPO / "neo4j-local" / "target" / f"{artifact.group(1)}-{artifact.group(2)}-procedures.jar"
    mounts = {}
    for volume in config["services"]["neo4j"]["volumes"]:
        if isinstance(volume, dict):  # v2: long form
            mounts[volume["target"]] = volume.get("source")
        else:  # v1: SOURCE:TARGET[:MODE]
            source, target = str(volume).split(":")[:2]
            mounts[target] = source
    assert Path(mounts["/plugins/rallypoint-procedures.jar"]) == jar


def test_compose_accepts_the_env_example_once_the_password_is_filled_in(tmp_path):
    """The documented set-up: cp .env.example .env, set NEO4J_PASSWORD, `docker compose up`."""
    example = (REPO / ".env.example").read_text()
    env_file = tmp_path / ".env"
    env_file.write_text(re.sub(r"^NEO4J_PASSWORD=$", "NEO4J_PASSWORD=team-secret-123", example, flags=re.MULTILINE))
    result, config = compose_config(env_file)
    assert result.returncode == 0, result.stderr
    assert config["services"]["neo4j"]["environment"]["NEO4J_AUTH"] == "neo4j/team-secret-123"
    # the project name the volumes carry (v2 prints it; v1 has no `name` in its output)
    assert config.get("name", "rallypoint") == "rallypoint"


def test_compose_refuses_the_env_example_as_it_is(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text((REPO / ".env.example").read_text())
    result, _ = compose_config(env_file)
    assert result.returncode != 0
    assert "NEO4J_PASSWORD" in result.stderr


def test_compose_refuses_to_run_without_a_password(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DASK_WORKERS=1\n")
    result, _ = compose_config(env_file)
    assert result.returncode != 0
    assert "NEO4J_PASSWORD" in result.stderr


def test_the_env_example_documents_every_variable_the_compose_file_reads():
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.MULTILINE))
    assert used <= documented
    assert re.search(r"^NEO4J_PASSWORD=$", (REPO / ".env.example").read_text(), re.MULTILINE)
