#!/usr/bin/env bash
# Bulk-load rallypoint's import CSV into the data folder of a STOPPED Neo4j server (5.26), the way
# `rallypoint graph load --bulk` does for neo4j-local's server: import into a staging database,
# then swap it in for `neo4j`, so a failed import leaves the `neo4j` database as it was.
#
#   docker compose run --rm neo4j-import        (docker-compose.yml's one-shot service)
#
# The CSV and its options file `import.args` come from `rallypoint graph import-csv --out DIR`.
# Variables: NEO4J_DATA (the server's data folder, /data), RALLYPOINT_IMPORT (the CSV folder,
# /import), NEO4J_ADMIN (the neo4j-admin command). The database replaced is kept as
# databases/neo4j.previous and transactions/neo4j.previous until the next import; delete them
# once the new one serves. docs/neo4j.md, "Bulk load".
set -euo pipefail

DATA="${NEO4J_DATA:-/data}"
IMPORT="${RALLYPOINT_IMPORT:-/import}"
ADMIN="${NEO4J_ADMIN:-neo4j-admin}"
STAGE="rallypoint-bulk"
REPORT="$DATA/rallypoint-import.report"

say() { echo "neo4j-import: $*" >&2; }

if [[ ! -f "$IMPORT/import.args" ]]; then
    say "no $IMPORT/import.args: write the CSV first (rallypoint graph import-csv --lake LAKE --out DIR)."
    exit 2
fi
conf="$(mktemp -d)"
trap 'rm -rf "$conf"' EXIT
printf 'server.directories.data=%s\n' "$DATA" > "$conf/neo4j.conf"
# Neo4j's own lock tells whether a server has the database open.
# (captured first: with pipefail, grep -q closing the pipe early would fail the pipeline)
info="$(NEO4J_CONF="$conf" "$ADMIN" database info neo4j 2>&1 || true)"
if [[ "$info" == *"is in use"* ]]; then
    say "a Neo4j server has the database open ($DATA); stop it first (docker compose stop neo4j)."
    exit 2
fi

clear_stage() { rm -rf "$DATA/databases/$STAGE" "$DATA/transactions/$STAGE"; }
clear_stage
cd "$IMPORT"
# the database name first: the last option of import.args takes several values
if ! NEO4J_CONF="$conf" "$ADMIN" database import full "$STAGE" --report-file="$REPORT" @import.args; then
    clear_stage
    say "the import failed; the database neo4j is unchanged (the report: $REPORT)."
    exit 1
fi
for kind in databases transactions; do
    rm -rf "$DATA/$kind/neo4j.previous"
    if [[ -e "$DATA/$kind/neo4j" ]]; then
        mv "$DATA/$kind/neo4j" "$DATA/$kind/neo4j.previous"
    fi
    mv "$DATA/$kind/$STAGE" "$DATA/$kind/neo4j"
done
say "imported into the database neo4j; start the server, then create the constraints (rallypoint graph constraints)."
