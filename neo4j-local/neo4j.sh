#!/usr/bin/env bash
# A local Neo4j Community server (5.26 LTS, Java 17) on 127.0.0.1:7687, without Docker.
#
#   bash neo4j-local/neo4j.sh start    build once with Maven, start in the background, return once Bolt answers
#   bash neo4j-local/neo4j.sh stop     stop it (clean shutdown, then SIGKILL after 60 s)
#   bash neo4j-local/neo4j.sh status   say whether it runs
#   bash neo4j-local/neo4j.sh pause    shut the database down, keep the JVM (the bulk route swaps the store)
#   bash neo4j-local/neo4j.sh resume   start the paused database again on the store then in place
#
# Idempotent: `start` reuses a server that already answers on the port if it is a Neo4j that
# takes $NEO4J_PASSWORD (checked with the project's venv), and refuses anything else. The store, pid file and
# log live in $NEO4J_LOCAL_STATE (default: <repo>/.neo4j, ignored by git). Authentication is on:
# user neo4j, password $NEO4J_PASSWORD, default "rallypoint-dev" (the same default as the Python
# code and the tests; docs/neo4j.md). The server outlives the shell that started it (setsid, nohup).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
STATE="${NEO4J_LOCAL_STATE:-$REPO/.neo4j}"
HOST="${NEO4J_LOCAL_HOST:-127.0.0.1}"
PORT="${NEO4J_LOCAL_PORT:-7687}"
export NEO4J_PASSWORD="${NEO4J_PASSWORD:-rallypoint-dev}"
HEAP="${NEO4J_LOCAL_HEAP:-2g}"
PAGECACHE_MB="${NEO4J_LOCAL_PAGECACHE_MB:-1024}"
CONF="${NEO4J_LOCAL_CONF:-$HERE/neo4j.conf}"
GC_FLAGS="${NEO4J_LOCAL_GC:--XX:+UseG1GC}"
PID_FILE="$STATE/neo4j.pid"
LOG_FILE="$STATE/neo4j.log"
READY_FILE="$STATE/neo4j.ready"
PAUSED_FILE="$STATE/neo4j.paused"
TOGGLE_FILE="$STATE/neo4j.toggle"
START_TIMEOUT="${NEO4J_LOCAL_START_TIMEOUT:-300}"
MAIN_CLASS=org.rallypoint.neo4jlocal.Launcher

say() { echo "neo4j-local: $*" >&2; }

bolt_answers() {
    (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

# Ours is ready once the launcher has set the password and written the ready file.
ours_ready() {
    [[ -f "$READY_FILE" ]] && bolt_answers
}

# A server this script did not start is used only if it is a Neo4j that takes our password: a
# stranger on the port (another program, another project's Neo4j) must not receive the tests' writes.
foreign_neo4j_takes_password() {
    local python="$REPO/.venv/bin/python"
    [[ -x "$python" ]] || return 1
    "$python" - "bolt://$HOST:$PORT" >/dev/null 2>&1 <<'PY'
import os, sys
from neo4j import GraphDatabase
with GraphDatabase.driver(sys.argv[1], auth=("neo4j", os.environ["NEO4J_PASSWORD"]), connection_timeout=10) as driver:
    driver.verify_connectivity()
PY
}

running_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

build() {
    local stamp="$HERE/target/.built"
    if [[ -f "$stamp" && "$stamp" -nt "$HERE/pom.xml" ]] \
        && [[ -z "$(find "$HERE/src" -newer "$stamp" -print -quit)" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || { say "Maven (mvn) is needed to build the launcher; apt-get install maven."; exit 1; }
    command -v java >/dev/null || { say "Java 17+ is needed; apt-get install openjdk-17-jre-headless."; exit 1; }
    say "building the launcher (the first build downloads Neo4j from Maven Central)..."
    local tries=0
    until (cd "$HERE" && mvn -q -B -Dstyle.color=never -DskipTests package > "$STATE/build.log" 2>&1); do
        tries=$((tries + 1))
        if (( tries >= 3 )); then
            say "the Maven build failed three times; see $STATE/build.log:"
            tail -n 30 "$STATE/build.log" >&2
            exit 1
        fi
        say "Maven build failed (try $tries of 3), retrying in 5 s..."
        sleep 5
    done
    touch "$stamp"
}

start() {
    mkdir -p "$STATE"
    if pid="$(running_pid)" && ours_ready; then
        say "already running (pid $pid) on bolt://$HOST:$PORT"
        return 0
    fi
    if ! running_pid >/dev/null && bolt_answers; then
        if foreign_neo4j_takes_password; then
            say "a Neo4j not started by this script answers on bolt://$HOST:$PORT and takes the password; using it"
            return 0
        fi
        say "something on bolt://$HOST:$PORT is not a Neo4j this script can log in to (NEO4J_PASSWORD);" \
            "stop it, or set NEO4J_LOCAL_PORT to a free port."
        exit 1
    fi
    if running_pid >/dev/null && [[ -f "$PAUSED_FILE" ]]; then
        resume
        return 0
    fi
    if pid="$(running_pid)"; then
        say "a launcher (pid $pid) is still starting; waiting for it"
    else
        build
        local java_opts=(
            "-Xms256m" "-Xmx$HEAP"
            $GC_FLAGS "-XX:+ExitOnOutOfMemoryError"
            # The flags the Neo4j Operations Manual lists for running Neo4j on Java 17.
            "--add-opens=java.base/java.nio=ALL-UNNAMED"
            "--add-opens=java.base/java.io=ALL-UNNAMED"
            "--add-opens=java.base/java.lang=ALL-UNNAMED"
            "--add-opens=java.base/java.util=ALL-UNNAMED"
            "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED"
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"
            "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED"
            "-Dio.netty.tryReflectionSetAccessible=true"
            "-Djdk.attach.allowAttachSelf=true"
            "-Dfile.encoding=UTF-8"
            "-Drallypoint.ready=$READY_FILE"
            "-Drallypoint.paused=$PAUSED_FILE"
            "-Drallypoint.toggle=$TOGGLE_FILE"
            "-Drallypoint.pagecache.mb=$PAGECACHE_MB"
            "-Drallypoint.conf=$CONF"
        )
        echo "=== $(date -u +%FT%TZ) starting on $HOST:$PORT" >> "$LOG_FILE"
        rm -f "$READY_FILE" "$PAUSED_FILE" "$TOGGLE_FILE"
        (
            cd "$STATE"
            setsid nohup java "${java_opts[@]}" -cp "$HERE/target/classes:$HERE/target/lib/*" \
                "$MAIN_CLASS" "$STATE/home" "$HOST" "$PORT" >> "$LOG_FILE" 2>&1 < /dev/null &
            echo $! > "$PID_FILE"
        )
        pid="$(cat "$PID_FILE")"
        say "started pid $pid; waiting for Bolt on $HOST:$PORT (log: $LOG_FILE)"
    fi
    local waited=0
    until ours_ready; do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "the server exited before Bolt answered; the end of $LOG_FILE:"
            tail -n 40 "$LOG_FILE" >&2
            rm -f "$PID_FILE"
            exit 1
        fi
        if (( waited >= 5 * START_TIMEOUT )); then
            say "Bolt did not answer within $START_TIMEOUT s; see $LOG_FILE"
            exit 1
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    say "ready on bolt://$HOST:$PORT (user neo4j)"
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        say "not running"
        rm -f "$PID_FILE" "$READY_FILE"
        return 0
    fi
    kill -TERM "$pid"
    local waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if (( waited >= 300 )); then
            say "pid $pid did not stop within 60 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    rm -f "$PID_FILE" "$READY_FILE" "$PAUSED_FILE" "$TOGGLE_FILE"
    say "stopped"
}

# The launcher toggles when the toggle file appears: serving -> paused -> serving. Its paused file appears once the
# database is down (after a pause, or after a resume that failed: the file then says why).
pause() {
    local pid
    pid="$(running_pid)" || { say "not running"; exit 1; }
    [[ -f "$PAUSED_FILE" ]] && { say "already paused"; return 0; }
    touch "$TOGGLE_FILE"
    local waited=0
    until [[ -f "$PAUSED_FILE" ]]; do
        kill -0 "$pid" 2>/dev/null || { say "the server exited while pausing; see $LOG_FILE"; exit 1; }
        (( waited >= 5 * START_TIMEOUT )) && { say "the database did not shut down within $START_TIMEOUT s"; exit 1; }
        sleep 0.2
        waited=$((waited + 1))
    done
    say "paused (pid $pid)"
}

resume() {
    local pid
    pid="$(running_pid)" || { say "not running"; exit 1; }
    [[ -f "$PAUSED_FILE" ]] || { say "not paused"; exit 1; }
    rm -f "$PAUSED_FILE"
    touch "$TOGGLE_FILE"
    local waited=0
    until ours_ready; do
        if [[ -f "$PAUSED_FILE" ]]; then
            say "the database did not start ($(head -c 300 "$PAUSED_FILE")); see $LOG_FILE"
            exit 1
        fi
        kill -0 "$pid" 2>/dev/null || { say "the server exited while resuming; see $LOG_FILE"; exit 1; }
        (( waited >= 5 * START_TIMEOUT )) && { say "Bolt did not answer within $START_TIMEOUT s; see $LOG_FILE"; exit 1; }
        sleep 0.2
        waited=$((waited + 1))
    done
    say "resumed on bolt://$HOST:$PORT"
}

status() {
    if pid="$(running_pid)" && ours_ready; then
        echo "running (pid $pid) on bolt://$HOST:$PORT"
    elif pid="$(running_pid)" && [[ -f "$PAUSED_FILE" ]]; then
        echo "paused (pid $pid): the database is shut down; resume starts it"
    elif bolt_answers; then
        echo "something answers on bolt://$HOST:$PORT (not started by this script)"
    else
        echo "not running"
        return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    pause) pause ;;
    resume) resume ;;
    *) echo "usage: $0 start|stop|status|pause|resume" >&2; exit 64 ;;
esac
