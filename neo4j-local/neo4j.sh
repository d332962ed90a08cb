#!/usr/bin/env bash
# Placeholder until the local Neo4j launcher lands (issue: Neo4j for real).
echo "neo4j-local: launcher not built yet" >&2
exit 0
