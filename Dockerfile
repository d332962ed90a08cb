# The rallypoint image: the CLI, the dashboard and Dask workers (docker-compose.yml runs it).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

WORKDIR /app
COPY pyproject.toml README.md ./
COPY rallypoint ./rallypoint
RUN pip install . \
    && useradd --create-home --uid 10001 rallypoint \
    && mkdir -p /data \
    && chown rallypoint /data

# In a container the dashboard must listen on all of the container's interfaces (the compose file
# publishes it on the host's 127.0.0.1 only), always behind sign-in (--no-auth is refused off
# localhost). On Neo4j Enterprise it can use a reader-only account (NEO4J_DASHBOARD_USER/PASSWORD).
RUN printf '%s\n' '#!/bin/sh' \
    'export NEO4J_USER="${NEO4J_DASHBOARD_USER:-$NEO4J_USER}"' \
    'export NEO4J_PASSWORD="${NEO4J_DASHBOARD_PASSWORD:-$NEO4J_PASSWORD}"' \
    'exec rallypoint dashboard --lake "${RALLYPOINT_LAKE:-/data/lake}" --address 0.0.0.0 --port 8501 "$@"' \
    > /usr/local/bin/dashboard-container \
    && chmod +x /usr/local/bin/dashboard-container

USER rallypoint
VOLUME ["/data"]
EXPOSE 8501 8786 8787
CMD ["rallypoint", "--help"]
