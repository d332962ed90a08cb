"""A realistic lake for the dashboard's tests: two detection runs, ingests, rejects.

``write_fixture_lake`` writes, through :class:`rallypoint.lake.Lake` and the
schemas of :mod:`rallypoint.schema` (so the tables are exactly what ``detect``
writes):

* interactions of every member account (posts and reposts, bursting before the
  event dates the cluster names), date-partitioned;
* an ingest log and rejected records with their reasons;
* an older run and a newer run whose clusters are the same networks with some
  member churn (so a decision on the older run carries over), plus clusters that
  exist only in the newer run;
* optionally one very large cluster (``big_cluster``) and many small unflagged
  clusters (``n_filler``), for pagination and speed.

Cluster kinds follow the spec's cases: mobilization campaigns (calls to a place and
a date, logistics, escalation; flagged), an amplification network (coordinated,
little mobilization; flagged lower), and organic/news clusters (not flagged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from rallypoint.detectors.scoring import SIGNAL_REASONS
from rallypoint.lake import Lake, write_json_atomic, write_parquet_atomic
from rallypoint.schema import (
    CLUSTERS_SCHEMA,
    EDGES_SCHEMA,
    EVIDENCE_SCHEMA,
    LAKE_SCHEMA,
    MEMBERS_SCHEMA,
    REJECTED_SCHEMA,
)

OLD_RUN = "20210107T000000Z-aaaaaa"
NEW_RUN = "20210108T000000Z-bbbbbb"
INGEST_ID = "20210107T000000Z-cccccc"

#: (kind, platform, lang, place, event date, texts with the phrases a lexicon matches)
CAMPAIGNS = [
    ("mobilization", "x", "en", "US Capitol", "2021-01-06", [
        ("call_to_action", "Everyone to the US Capitol on Jan 6. Be there, bring your friends! #StopTheSteal",
         ["Be there", "Jan 6", "US Capitol"]),
        ("logistics", "Buses leave the Ellipse at 6am, carpool sign-up is in the group chat",
         ["Buses leave", "carpool sign-up"]),
        ("escalation", "This is our last chance. We will not be stopped, whatever it takes",
         ["last chance", "whatever it takes"]),
    ]),
    ("mobilization", "telegram", "pt", "Praça dos Três Poderes", "2023-01-08", [
        ("call_to_action", "Todos a Brasília no dia 8! Vamos ocupar a Praça dos Três Poderes",
         ["Todos a Brasília", "dia 8", "Praça dos Três Poderes"]),
        ("logistics", "Ônibus saem às 5h da rodoviária, hospedagem garantida no acampamento",
         ["Ônibus saem", "hospedagem garantida"]),
        ("escalation", "Sem volta desta vez, a hora é agora", ["Sem volta", "a hora é agora"]),
    ]),
    ("amplification", "x", "en", None, None, [
        ("coaction:repost", "The election was stolen, share before they delete it", ["election was stolen"]),
    ]),
    ("organic", "x", "en", None, None, [
        ("coaction:repost", "Breaking: storm warning for the east coast tonight", []),
    ]),
]


@dataclass
class FixtureLake:
    lake: Lake
    old_run: str
    new_run: str
    #: cluster ids of the newer run, by kind
    clusters: dict[str, list[str]] = field(default_factory=dict)
    #: the newer run's cluster id of the large cluster, when asked for
    big_cluster: str | None = None
    high_profile_account: str | None = None


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def _cluster_rows(rng, cluster_id, kind, platform, lang, place, event, texts, accounts, hp_account, start):
    """One cluster's clusters/members/edges/evidence rows and its members' interactions."""
    n = len(accounts)
    mobilizing = kind == "mobilization"
    flagged = kind != "organic"
    score = {"mobilization": 0.78, "amplification": 0.55, "organic": 0.12}[kind] + rng.uniform(0, 0.15)
    n_seeders = max(1, n // 20)
    roles = np.array(["seeder"] * n_seeders + ["amplifier"] * (n - n_seeders), dtype=object)
    roles[n_seeders : n_seeders + max(0, n // 25)] = "bridge"
    # each amplifier links to a seeder and to two random members
    a_idx = np.concatenate([np.arange(n_seeders, n), rng.integers(0, n, 2 * n)])
    b_idx = np.concatenate([rng.integers(0, n_seeders, n - n_seeders), rng.integers(0, n, 2 * n)])
    keep = a_idx != b_idx
    pairs = np.unique(np.sort(np.stack([a_idx[keep], b_idx[keep]], axis=1), axis=1), axis=0)
    acc = np.array(accounts, dtype=object)
    lo, hi = acc[pairs[:, 0]], acc[pairs[:, 1]]
    a_col = np.where(lo < hi, lo, hi)
    b_col = np.where(lo < hi, hi, lo)
    weights = rng.integers(2, 40, len(pairs))
    edge_types = ["repost", "url"] if kind != "organic" else ["repost"]
    first = start
    last = start + timedelta(days=3, hours=int(rng.integers(0, 20)))
    edges = {
        "account_a": a_col.tolist(), "account_b": b_col.tolist(), "weight": weights.tolist(),
        "n_shared": (weights // 2 + 1).tolist(),
        "types": [
            [{"type": t, "weight": int(w) if i == 0 else int(w) // 3, "n_shared": int(w) // 2 + 1,
              "first_ts": first, "last_ts": last} for i, t in enumerate(edge_types[: 1 + int(w) % 2])]
            for w in weights
        ],
        "first_ts": [first] * len(pairs), "last_ts": [last] * len(pairs),
        "expected_weight": (weights / rng.uniform(8, 30, len(pairs))).tolist(),
        "p_value": rng.uniform(0, 0.01, len(pairs)).tolist(),
        "strength": rng.uniform(8, 30, len(pairs)).tolist(),
    }
    # member activity: a baseline plus a burst in the two days before the event
    n_actions = rng.integers(3, 12, n)
    burst_start = last - timedelta(hours=30)
    rows_account = np.repeat(acc, n_actions)
    in_burst = rng.random(len(rows_account)) < (0.7 if flagged else 0.2)
    offsets = np.where(
        in_burst,
        (burst_start - first).total_seconds() + rng.uniform(0, 30 * 3600, len(rows_account)),
        rng.uniform(0, (last - first).total_seconds(), len(rows_account)),
    )
    stamps = [first + timedelta(seconds=float(s)) for s in offsets]
    kinds_texts = [texts[i % len(texts)] for i in range(len(rows_account))]
    actions = np.where(rng.random(len(rows_account)) < 0.75, "repost", "post")
    seed_post = f"{cluster_id}-origin"
    interactions = {
        "id": [f"{cluster_id}-r{i}" for i in range(len(rows_account))],
        "platform": [platform] * len(rows_account),
        "account_id": rows_account.tolist(),
        "timestamp": stamps,
        "action": actions.tolist(),
        "target_id": [seed_post if a == "repost" else None for a in actions],
        "text": [t[1] for t in kinds_texts],
        "lang": [lang] * len(rows_account),
        "hashtags": [["StopTheSteal"] if "#StopTheSteal" in t[1] else [] for t in kinds_texts],
        "urls": [["https://example.org/rally-info"] if t[0] == "logistics" else [] for t in kinds_texts],
        "account_name": [f"@{a}" for a in rows_account],
        "high_profile": [a == hp_account for a in rows_account],
    }
    # evidence: up to 60 of the members' texts, with the phrases matched
    ev_idx = np.flatnonzero(np.array([t[0] != "coaction:repost" or kind != "organic" for t in kinds_texts]))[:60]
    evidence = {
        "cluster_id": [cluster_id] * len(ev_idx),
        "id": [interactions["id"][i] for i in ev_idx],
        "account_id": [interactions["account_id"][i] for i in ev_idx],
        "timestamp": [stamps[i] for i in ev_idx],
        "kind": [kinds_texts[i][0] for i in ev_idx],
        "target": [seed_post] * len(ev_idx),
        "text": [kinds_texts[i][1] for i in ev_idx],
        "matched": [kinds_texts[i][2] for i in ev_idx],
    }
    strength = np.bincount(pairs.ravel(), weights=np.repeat(weights, 2), minlength=n)
    degree = np.bincount(pairs.ravel(), minlength=n)
    members = {
        "cluster_id": [cluster_id] * n, "account_id": accounts, "role": roles.tolist(),
        "platform": [platform] * n, "account_name": [f"@{a}" for a in accounts],
        "high_profile": [a == hp_account for a in accounts],
        "followers": rng.integers(10, 5000, n).tolist(),
        "account_created_at": [_ts("2020-11-01")] * n,
        "n_actions": n_actions.tolist(), "degree": degree.tolist(), "strength": strength.tolist(),
        "first_ts": [first] * n,
    }
    cta, logi, esc = (0.62, 0.31, 0.18) if mobilizing else (0.02, 0.0, 0.0)
    hp = [hp_account] if hp_account in accounts else []
    reasons = [
        f"{n} accounts co-shared the same posts and links within 60 s: {int(weights.sum())} co-share pairs"
        f" where chance explains {weights.sum() / 18:.0f} (p < 0.001).",
        f"Activity burst to {int(rng.integers(6, 15))}× the baseline rate for {int(rng.integers(10, 30))} hours"
        " (Kleinberg level 2).",
    ]
    if mobilizing:
        reasons.insert(0, f"{cta:.0%} of {len(rows_account)} texts call people to {place} on {event};"
                          f" {logi:.0%} give logistics (buses, lodging).")
        # in the scorer's own wording, as a run writes it (the dashboard sorts reasons by that wording)
        reasons.append(f"{round(esc * len(rows_account))} of {len(rows_account)} posts the cluster pushed (each with its "
                       f"replies and quotes) {SIGNAL_REASONS['n_escalation'][0]}.")
    reasons.append(f"Score {min(score, 0.99):.2f} = coordination x harm x (bursts and growth); flagged at 0.3 or more.")
    cluster = {
        "cluster_id": cluster_id, "score": round(min(score, 0.99), 3), "flagged": flagged,
        "n_accounts": n, "n_edges": len(pairs), "first_ts": first, "last_ts": last,
        "reasons": reasons, "types": edge_types,
        "bursts": [{"start": burst_start, "end": last, "level": 2}],
        "top_targets": [
            {"kind": "post", "target": seed_post, "count": int(n_actions.sum() * 3 // 4)},
            {"kind": "url", "target": "https://example.org/rally-info", "count": int(n_actions.sum() // 5)},
            {"kind": "hashtags", "target": "StopTheSteal", "count": int(n_actions.sum() // 4)},
        ] if flagged else [{"kind": "post", "target": seed_post, "count": int(n_actions.sum())}],
        "mobilization": {
            "n_texts": len(rows_account), "n_threads": len(rows_account), "call_to_action_share": cta, "logistics_share": logi,
            "escalation_share": esc, "delegitimization_share": 0.4 if kind == "amplification" else 0.1,
            "code_word_share": 0.0,
            "dates": [event] if event else [], "places": [place] if place else [],
            "top_date_places": [{"date": event, "place": place, "count": int(len(rows_account) * cta)}]
            if event else [],
        },
        "high_profile_accounts": hp, "platforms": [platform], "langs": [lang],
        "coordination_score": 0.9, "burst_score": 0.7, "mobilization_score": cta,
        "escalation_score": esc, "growth_score": 0.3,
    }
    return cluster, members, edges, evidence, interactions


def _concat(dicts: list[dict]) -> dict:
    return {k: [v for d in dicts for v in d[k]] for k in dicts[0]}


def _table(columns: dict, schema: pa.Schema) -> pa.Table:
    return pa.table({f.name: pa.array(columns.get(f.name, [None] * len(next(iter(columns.values())))),
                                      type=f.type) for f in schema}, schema=schema)


def write_fixture_lake(root: str | Path, *, seed: int = 7, cluster_size: int = 40,
                       big_cluster: int | None = None, n_filler: int = 0) -> FixtureLake:
    """Write the fixture lake at ``root`` (see the module docstring); returns its ids."""
    rng = np.random.default_rng(seed)
    lake = Lake(root).ensure()
    start = _ts("2021-01-03T08:00:00")
    # the networks, as account lists; each gets a kind from CAMPAIGNS
    plan = []  # (kind index, accounts, only in the new run)
    serial = 0
    for c in range(6):
        kind_i = c % len(CAMPAIGNS)
        size = cluster_size + int(rng.integers(-10, 10))
        plan.append((kind_i, [f"u{serial + i:06d}" for i in range(size)], False))
        serial += size
    if big_cluster:
        plan.append((0, [f"u{serial + i:06d}" for i in range(big_cluster)], True))
        serial += big_cluster
    for _ in range(n_filler):
        plan.append((3, [f"u{serial + i:06d}" for i in range(3)], True))
        serial += 3
    hp_account = plan[0][1][-1]  # kept in both runs (churn drops the first tenth)
    fixture = FixtureLake(lake, OLD_RUN, NEW_RUN, high_profile_account=hp_account)
    interactions_all = []
    for run_i, run_id in enumerate((OLD_RUN, NEW_RUN)):
        parts = []
        for c, (kind_i, accounts, new_only) in enumerate(plan):
            if new_only and run_i == 0:
                continue
            members = list(accounts)
            if run_i == 1 and not new_only:  # churn: a tenth leave, a tenth join
                k = max(1, len(members) // 10)
                members = members[k:] + [f"n{c:03d}{i:04d}" for i in range(k)]
            kind, platform, lang, place, event, texts = CAMPAIGNS[kind_i]
            cluster_id = f"{'r1' if run_i == 0 else 'r2'}-c{c:05d}"
            # activity builds up over the days before the date the campaign names
            origin = _ts(f"{event}T08:00:00") - timedelta(days=4) if event else start
            rows = _cluster_rows(rng, cluster_id, kind, platform, lang, place, event, texts, members,
                                 hp_account, origin + timedelta(hours=6 * (c % 4)))
            parts.append(rows)
            if run_i == 1:
                fixture.clusters.setdefault(kind, []).append(cluster_id)
                interactions_all.append(rows[4])
                if big_cluster and len(members) == big_cluster:
                    fixture.big_cluster = cluster_id
        clusters = pa.Table.from_pylist([p[0] for p in parts], schema=CLUSTERS_SCHEMA)
        lake.write_run_table(run_id, "clusters", clusters)
        lake.write_run_table(run_id, "members", _table(_concat([p[1] for p in parts]), MEMBERS_SCHEMA))
        lake.write_run_table(run_id, "edges", _table(_concat([p[2] for p in parts]), EDGES_SCHEMA))
        lake.write_run_table(run_id, "evidence", _table(_concat([p[3] for p in parts]), EVIDENCE_SCHEMA))
        lake.write_run_json(run_id, {
            "run_id": run_id, "started_at": run_id[:15], "threshold": 0.5,
            "parameters": {"window": "60s", "types": "all", "min_participation": 2, "null": "permutation"},
            "input": {"since": "2021-01-01T00:00:00Z", "until": "2021-01-08T00:00:00Z", "records": 12345},
            "counts": {"clusters": clusters.num_rows, "flagged": int(sum(clusters["flagged"].to_pylist()))},
            "timings": {"detect_s": 12.5},
        })
    records = _table(_concat(interactions_all), LAKE_SCHEMA)
    days = pa.compute.strftime(records["timestamp"], format="%Y-%m-%d")
    for day in sorted(set(days.to_pylist())):
        part = records.filter(pa.compute.equal(days, day))
        write_parquet_atomic(lake.interactions_dir / f"date={day}" / f"{INGEST_ID}.parquet", part)
    rejected = pa.table({
        "source": ["export.jsonl"] * 3 + ["channel.csv"],
        "line": [12, 40, 41, 7],
        "reason": ["missing required field 'account_id'", "timestamp is not ISO 8601 or epoch",
                   "timestamp is not ISO 8601 or epoch", "repost without target_id"],
        "raw": ['{"id": "1"}', '{"timestamp": "yesterday"}', '{"timestamp": "soon"}', "9,x,,repost"],
    }, schema=REJECTED_SCHEMA)
    write_parquet_atomic(lake.rejected_dir / INGEST_ID / "part-0.parquet", rejected)
    write_json_atomic(lake.ingests_dir / f"{INGEST_ID}.json", {  # the ingest log's format, docs/ingest.md
        "ingest_id": INGEST_ID, "format": "auto", "started": "2021-01-07T00:00:00+00:00",
        "finished": "2021-01-07T00:01:10+00:00", "seconds": 70.0,
        "read": records.num_rows + 4, "written": records.num_rows, "duplicates": 0, "rejected": 4,
        "rejected_by_reason": {"missing required field 'account_id'": 1, "timestamp is not ISO 8601 or epoch": 2,
                               "repost without target_id": 1},
        "sources": [{"path": "export.jsonl", "format": "jsonl", "read": records.num_rows + 3,
                     "valid": records.num_rows, "rejected": 3},
                    {"path": "channel.csv", "format": "csv", "read": 1, "valid": 0, "rejected": 1}],
    })
    return fixture


def big_cluster_lake(root: str | Path, big_cluster: int = 2000) -> dict:
    """The lake the browser tests look at, with the ids they need.

    The fixture lake with a ``big_cluster``-member cluster (for the interactivity
    measurement) and its highest-scored cluster as the one to triage.
    """
    fixture = write_fixture_lake(root, big_cluster=big_cluster)
    clusters = fixture.lake.read_run_table(fixture.new_run, "clusters").sort_by([("score", "descending")])
    flagged = clusters.filter(clusters["flagged"])
    return {
        "lake": fixture.lake.root, "run": fixture.new_run,
        "top_cluster": flagged["cluster_id"][0].as_py(),
        "big_cluster": fixture.big_cluster, "big_cluster_size": big_cluster,
        "account": fixture.high_profile_account,
    }


def simulated_lake(root: str | Path, *, accounts: int = 400, days: int = 6, seed: int = 3) -> dict:
    """A small simulated world run through the real pipeline: simulate -> ingest -> detect.

    Returns the lake, its run, the top flagged cluster and an account of it (a
    high-profile member when the cluster has one), for the browser tests.
    """
    from rallypoint.detectors.pipeline import detect_run
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.simulate import simulate_world

    root = Path(root)
    simulate_world(root / "world", accounts=accounts, days=days, seed=seed)
    # a hand-edited export with broken records, as real inputs have: the ingest rejects them with reasons
    # (the first record is valid: the ingest recognises a file's format by its first record)
    (root / "world" / "hand-edited.jsonl").write_text(
        '{"id": "h0", "platform": "x", "account_id": "hand-1", "timestamp": "2023-01-05T09:00:00Z", "action": "post",'
        ' "text": "see you all at the square"}\n'
        '{"id": "h1", "platform": "x", "timestamp": "2023-01-05T10:00:00Z", "action": "post"}\n'
        '{"id": "h2", "platform": "x", "account_id": "a1", "timestamp": "yesterday", "action": "post"}\n'
        '{"id": "h3", "platform": "x", "account_id": "a1", "timestamp": "2023-01-05T10:00:00Z", "action": "repost"}\n'
    )
    ingest_sources([root / "world"], root / "lake")
    detect_run(root / "lake")
    lake = Lake(root / "lake")
    run_id = lake.resolve_run("latest")
    clusters = lake.read_run_table(run_id, "clusters").sort_by([("score", "descending")])
    flagged = clusters.filter(clusters["flagged"])
    assert flagged.num_rows, "the simulated world's run flagged no cluster"
    top = flagged.slice(0, 1).to_pylist()[0]
    members = lake.read_run_table(run_id, "members")
    top_members = members.filter(pa.compute.equal(members["cluster_id"], top["cluster_id"]))["account_id"].to_pylist()
    return {"lake": lake.root, "run": run_id, "top_cluster": top["cluster_id"],
            "account": (top["high_profile_accounts"] or top_members)[0]}


def hostile_payloads(host: str) -> dict[str, str]:
    """Texts an account under investigation could write, each calling ``host`` if it were rendered.

    Keys name what the payload tries (a Markdown image, a phishing link, ...); every value is one
    line, so the page must show it exactly as written.
    """
    return {
        "md_image": f"![px]({host}/md-image.png)",
        "md_link": f"[Click to re-login]({host}/md-link)",
        "heading": "# Heading payload",
        "html": f'<img src="{host}/html-image.png"><b>bold payload</b><script>alert(1)</script>',
        "js_link": '<a href="javascript:alert(1)">js payload</a> [js md](javascript:alert(2))',
        "shortcodes": ":red[red payload] :material/warning: :smile: $x^2$",
        "autolink": f"{host}/autolink www.autolink-payload.example",
    }


def hostile_lake(root: str | Path, host: str) -> dict:
    """The fixture lake with the top cluster's texts, names, reasons, places, targets and one id
    replaced by :func:`hostile_payloads` (the tables keep their schemas, as ``detect`` writes them).

    Returns the lake, run, the hostile cluster's id (itself a payload), the payloads, and an
    account id that is a payload too.
    """
    import polars as pl

    fixture = write_fixture_lake(root)
    lake, run = fixture.lake, fixture.new_run
    payloads = hostile_payloads(host)
    texts = list(payloads.values())
    clusters = pl.from_arrow(lake.read_run_table(run, "clusters")).sort("score", descending=True)
    old_id = clusters["cluster_id"][0]
    new_id = f"c1![id]({host}/id-image.png)"
    bad_account = f"acct[x]({host}/account-link)"

    def payload_list(n: int) -> list[str]:
        return [texts[i % len(texts)] for i in range(n)]

    top = clusters.filter(pl.col("cluster_id") == old_id).row(0, named=True)
    mobilization = dict(top["mobilization"])
    mobilization["top_date_places"] = [{"date": "2021-01-06", "place": payloads["md_image"], "count": 9}]
    mobilization["places"] = [payloads["md_link"]]
    top |= {"cluster_id": new_id, "reasons": texts, "mobilization": mobilization,
            "top_targets": [{"kind": "url", "target": t, "count": 3} for t in texts],
            "types": ["repost", payloads["shortcodes"]], "platforms": ["x", payloads["heading"]]}
    clusters = pl.concat([pl.DataFrame([top], schema=clusters.schema), clusters.filter(pl.col("cluster_id") != old_id)])
    lake.write_run_table(run, "clusters", clusters.to_arrow().cast(CLUSTERS_SCHEMA))

    members = pl.from_arrow(lake.read_run_table(run, "members"))
    mine = members.filter(pl.col("cluster_id") == old_id)
    first = mine["account_id"][0]
    hostile = mine.with_columns(
        pl.lit(new_id).alias("cluster_id"),
        pl.Series("account_name", payload_list(mine.height)),
        pl.when(pl.col("account_id") == first).then(pl.lit(bad_account)).otherwise(pl.col("account_id"))
        .alias("account_id"),
    )
    members = pl.concat([hostile, members.filter(pl.col("cluster_id") != old_id)])
    lake.write_run_table(run, "members", members.to_arrow().cast(MEMBERS_SCHEMA))

    evidence = pl.from_arrow(lake.read_run_table(run, "evidence"))
    mine = evidence.filter(pl.col("cluster_id") == old_id)
    hostile = mine.with_columns(
        pl.lit(new_id).alias("cluster_id"), pl.Series("text", payload_list(mine.height)),
        pl.lit(["Heading"]).alias("matched"),
        pl.when(pl.col("account_id") == first).then(pl.lit(bad_account)).otherwise(pl.col("account_id"))
        .alias("account_id"),
    )
    evidence = pl.concat([hostile, evidence.filter(pl.col("cluster_id") != old_id)])
    lake.write_run_table(run, "evidence", evidence.to_arrow().cast(EVIDENCE_SCHEMA))
    return {"lake": lake.root, "run": run, "cluster": new_id, "payloads": payloads, "account": bad_account}
