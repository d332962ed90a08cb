"""Connecting to Neo4j: settings from arguments or NEO4J_* variables, and the driver."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from rallypoint.errors import Neo4jError

#: Where `make neo4j` serves the local development server.
DEFAULT_URI = "bolt://127.0.0.1:7687"
DEFAULT_USER = "neo4j"
#: The local development server's password (neo4j-local/neo4j.sh uses the same default).
#: A team deployment sets its own in NEO4J_PASSWORD (docker-compose reads it from .env).
DEV_PASSWORD = "rallypoint-dev"
SUPPORTED_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


@dataclass(frozen=True)
class Neo4jSettings:
    """Where and as whom to connect: arguments first, then NEO4J_* variables, then the dev defaults."""

    uri: str
    user: str
    password: str

    @classmethod
    def resolve(cls, uri: str | None = None, user: str | None = None,
                password: str | None = None) -> Neo4jSettings:
        return cls(
            uri=uri or os.environ.get("NEO4J_URI") or local_server_uri(),
            user=user or os.environ.get("NEO4J_USER") or DEFAULT_USER,
            password=password if password is not None else os.environ.get("NEO4J_PASSWORD", DEV_PASSWORD),
        )


def local_server_uri() -> str:
    """The Bolt URI of `make neo4j`'s server: NEO4J_LOCAL_HOST/NEO4J_LOCAL_PORT as neo4j-local/neo4j.sh reads them."""
    host = os.environ.get("NEO4J_LOCAL_HOST") or "127.0.0.1"
    port = os.environ.get("NEO4J_LOCAL_PORT") or "7687"
    return f"bolt://{host}:{port}"


def open_driver(uri: str | None = None, user: str | None = None, password: str | None = None):
    """A connected ``neo4j.Driver``; every way of failing becomes one Neo4jError sentence.

    The caller closes it (use it as a context manager).
    """
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError, ConfigurationError, ServiceUnavailable

    settings = Neo4jSettings.resolve(uri, user, password)
    scheme = urlsplit(settings.uri).scheme if "://" in settings.uri else ""
    if scheme not in SUPPORTED_SCHEMES:
        raise Neo4jError(
            f"The Neo4j URI {settings.uri!r} is not valid; use bolt://HOST:PORT or neo4j://HOST:PORT."
        )
    try:
        driver = GraphDatabase.driver(settings.uri, auth=(settings.user, settings.password))
    except (ConfigurationError, ValueError) as exc:
        raise Neo4jError(f"The Neo4j URI {settings.uri!r} is not valid ({_first_line(exc)}).") from exc
    try:
        driver.verify_connectivity()
    except AuthError as exc:
        driver.close()
        raise Neo4jError(
            f"Neo4j at {settings.uri} refused user {settings.user!r}: wrong user or password "
            "(set NEO4J_USER and NEO4J_PASSWORD)."
        ) from exc
    except (ServiceUnavailable, OSError) as exc:
        driver.close()
        raise Neo4jError(
            f"Cannot reach Neo4j at {settings.uri}; is the server running (`make neo4j` starts a local one)?"
        ) from exc
    except Exception as exc:  # the driver has many more error types; all mean "cannot use it"
        driver.close()
        raise Neo4jError(f"Neo4j at {settings.uri} could not be used: {_first_line(exc)}.") from exc
    return driver


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0].rstrip(".")
