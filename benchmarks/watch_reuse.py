"""What one new day of data costs ``rallypoint watch``, and the most any reuse could save.

Issue 18 asks that, on a 1M-record world, the watcher's cycle for one new day cost at most
20 % of a full ``detect`` over the horizon, with identical run tables. ``benchmarks/watch.py``
measures the cycle; this script measures why it costs what it does, stage by stage, and
bounds what reusing the unchanged partitions could give. On one scratch lake over the
world's interactions it runs, each in a fresh process (``watch.py``'s child):

1. **before**: a watcher cycle with the data up to the day before the last (the previous run);
2. **cycle**: the next cycle, which sees the new day (detect over the horizon, tracks, rules);
3. **full**: ``detect`` over the same horizon;
4. **new day**: ``detect`` over the new day alone: its *read* and *coaction* stages are the
   least that co-action over the one changed partition can cost (pairs straddling the day
   boundary and the horizon-wide inputs of the null model only add to it).

Then, from the runs' ``run.json`` (each stage's process CPU seconds) and tables:

* the **measured share**: the cycle's CPU over the full detect's, each without what its
  process spent importing (measured apart: a watcher imports once, not every cycle);
* the **reuse bound**: the cycle's CPU with its read and co-action replaced by the new day's,
  i.e. as if co-action over the unchanged partitions were free and exact; and the bound
  with co-action free altogether. Everything after co-action (communities, evidence, roles,
  mobilization, bursts, scoring, writing) still runs over the whole horizon;
* the **incremental bound**: the reuse bound with, besides, communities recomputed only on
  the edge graph's changed connected components and every per-cluster stage only for
  clusters whose member set changed (cost taken as linear in the edges and members they
  cover, which flatters them: a cluster with the same members can still have new records);
* the **structural facts** behind them: accounts acting on the new day, the edge graph's
  largest connected component and whether it changed, components and clusters unchanged
  between the two consecutive runs.

Both bounds are lower bounds of any exact reuse of this kind, so a bound above the 20 %
target says the target needs an approximate update, not a better cache.

    .venv/bin/python benchmarks/watch_reuse.py [--records 1000000] [--seed 1] [--horizon 14d]

Writes ``bench-output/watch_reuse/<records>-<seed>-<horizon>.json``. Not a test: run it by
hand, niced; the CPU is shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from watch import TARGET_SHARE, _child, identical, scratch_lake, world_parser  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-output" / "watch_reuse"
#: what a step's process spends before its work: a long-running watcher pays it once, not per cycle
_IMPORTS = r"""
import json, resource
from rallypoint.detectors.pipeline import detect_run
from rallypoint.watch.watcher import Watcher
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"cpu": usage.ru_utime + usage.ru_stime}))
"""
#: the stages an exact co-action reuse would spare for the unchanged partitions
COACTION_STAGES = ("read", "coaction")
#: the stages after the communities that work per cluster; roles and accounts run on a side
#: thread within evidence..bursts, whose process CPU counts them already
CLUSTER_STAGES = ("evidence", "mobilization", "bursts", "inauthenticity", "score", "terms")


def components(edges: pl.DataFrame) -> pl.DataFrame:
    """Each account of the edge graph with its connected component and the component's size.

    ``edges``: ``account_a``, ``account_b``. Returns ``account_id``, ``component`` (0 is the
    largest, ties broken by the component's first account) and ``n_nodes``. Uses scipy's
    ``connected_components`` on the sparse adjacency: O(nodes + edges).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes = pl.concat([edges["account_a"], edges["account_b"]]).unique().sort()
    n = nodes.len()
    a, b = nodes.search_sorted(edges["account_a"]).to_numpy(), nodes.search_sorted(edges["account_b"]).to_numpy()
    graph = coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels) if n else np.zeros(0, dtype=np.int64)
    first = np.full(sizes.size, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n))
    rank = np.empty(sizes.size, dtype=np.int64)
    rank[np.lexsort((first, -sizes))] = np.arange(sizes.size)
    return pl.DataFrame({"account_id": nodes, "component": rank[labels], "n_nodes": sizes[labels]})


def _edge_rows(edges: pl.DataFrame, comps: pl.DataFrame) -> pl.DataFrame:
    """Each edge's component and a hash of all its columns (the row's identity)."""
    return edges.select("account_a", row=edges.hash_rows(seed=0)).join(
        comps.select("account_id", "component"), left_on="account_a", right_on="account_id", how="left")


def component_changes(before: pl.DataFrame, after: pl.DataFrame, active: pl.Series) -> dict:
    """How the edge graph changed between two runs, component by component.

    A component of ``after`` is *unchanged* when ``before`` has a component with the same
    accounts and the same edge rows (every column equal, compared by row hash): only such a
    component's communities could be carried over. ``active``: the accounts acting on the
    new day. Returns counts and shares of the components, the edges in changed components,
    and the largest component's size, whether it changed and how many of its accounts act
    on the new day.
    """
    comps_a, comps_b = components(after), components(before)
    rows_b, rows_a = _edge_rows(before, comps_b), _edge_rows(after, comps_a)
    kept = rows_a.with_columns(kept=pl.col("row").is_in(rows_b["row"].implode()))
    edges_b = rows_b.group_by("component").agg(edges_before=pl.len())
    nodes = comps_a.join(comps_b.select("account_id", before=pl.col("component"), nodes_before=pl.col("n_nodes")),
                         on="account_id", how="left")
    per = (
        nodes.group_by("component").agg(
            n_nodes=pl.col("n_nodes").first(), before=pl.col("before").first(),
            one_before=(pl.col("before").n_unique() == 1) & pl.col("before").is_not_null().all(),
            nodes_before=pl.col("nodes_before").first(),
            active=pl.col("account_id").is_in(active.implode()).sum())
        .join(kept.group_by("component").agg(n_edges=pl.len(), kept=pl.col("kept").all()), on="component")
        .join(edges_b, left_on="before", right_on="component", how="left")
        .with_columns(unchanged=pl.col("kept") & pl.col("one_before") & (pl.col("nodes_before") == pl.col("n_nodes"))
                      & (pl.col("edges_before") == pl.col("n_edges")))
        .sort("component")
    )
    n_edges, n_nodes = after.height, comps_a.height
    largest = per.row(0, named=True) if per.height else None
    changed_edges = int(per.filter(~pl.col("unchanged"))["n_edges"].sum())
    return {
        "components": per.height,
        "components_unchanged": int(per["unchanged"].sum()),
        "edges": n_edges,
        "edges_in_changed_components": changed_edges,
        "changed_edge_share": changed_edges / n_edges if n_edges else 0.0,
        "largest_component": None if largest is None else {
            "nodes": largest["n_nodes"], "node_share": largest["n_nodes"] / n_nodes,
            "edges": largest["n_edges"], "edge_share": largest["n_edges"] / n_edges,
            "unchanged": largest["unchanged"], "accounts_active_on_new_day": largest["active"],
        },
    }


def cluster_changes(members_before: pl.DataFrame, members_after: pl.DataFrame,
                    clusters_before: pl.DataFrame, clusters_after: pl.DataFrame) -> dict:
    """Clusters of the later run whose member set is exactly one of the earlier run's.

    Only those could have their per-cluster stages (roles, evidence, mobilization, bursts,
    scoring) carried over, and only if their records did not change either; the count with
    the same score as well says how many were in fact unchanged end to end. Returns the
    counts, and the share of the later run's members that sit in changed clusters.
    """
    def signatures(members: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
        return members.group_by("cluster_id").agg(
            n=pl.len(), members=pl.col("account_id").sort().str.join("\n")
        ).join(clusters.select("cluster_id", "score"), on="cluster_id", how="left")

    after = signatures(members_after, clusters_after)
    before = signatures(members_before, clusters_before).select("members", score_before="score")
    same = after.join(before, on="members", how="left").with_columns(
        unchanged=pl.col("score_before").is_not_null(),
        unchanged_score=pl.col("score_before").is_not_null() & (pl.col("score") == pl.col("score_before")),
    )
    n_members = int(same["n"].sum())
    changed_members = int(same.filter(~pl.col("unchanged"))["n"].sum())
    return {
        "clusters": same.height,
        "clusters_unchanged": int(same["unchanged"].sum()),
        "clusters_unchanged_same_score": int(same["unchanged_score"].sum()),
        "members": n_members,
        "members_in_changed_clusters": changed_members,
        "changed_member_share": changed_members / n_members if n_members else 0.0,
    }


def active_accounts(lake, since: datetime, day: datetime, until: datetime) -> tuple[dict, pl.Series]:
    """Accounts acting in the horizon ``[since, until)`` and on its new day ``[day, until)``."""
    records = pl.from_arrow(lake.read_interactions_arrow(columns=["account_id", "timestamp"], since=since,
                                                         until=until))
    new = records.filter(pl.col("timestamp") >= day)
    active = new["account_id"].unique()
    n_accounts = records["account_id"].n_unique()
    return {
        "records": records.height, "records_on_new_day": new.height,
        "accounts": n_accounts, "accounts_on_new_day": active.len(),
        "account_share_on_new_day": active.len() / n_accounts if n_accounts else 0.0,
    }, active


def structural_facts(lake, run_before: str, run_after: str, since: datetime, day: datetime,
                     until: datetime) -> dict:
    """The facts that bound reuse between two consecutive runs (see the module docstring)."""
    def table(run: str, name: str) -> pl.DataFrame:
        return pl.from_arrow(lake.read_run_table(run, name))

    accounts, active = active_accounts(lake, since, day, until)
    return {
        "accounts": accounts,
        "graph": component_changes(table(run_before, "edges"), table(run_after, "edges"), active),
        "clusters": cluster_changes(table(run_before, "members"), table(run_after, "members"),
                                    table(run_before, "clusters"), table(run_after, "clusters")),
    }


def import_cpu() -> float:
    """CPU seconds a fresh process spends importing what a step imports."""
    done = subprocess.run([sys.executable, "-c", _IMPORTS], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["cpu"]


def reuse_bounds(cycle: dict, full: dict, new_day: dict, facts: dict, imports: float = 0.0) -> dict:
    """The measured share and the bounds of reuse, as shares of the full detect's CPU.

    ``cycle``, ``full``, ``new_day``: a step's process ``cpu`` and its run's ``cpu_seconds``
    per stage (``stages``); ``facts``: :func:`structural_facts`; ``imports``: the CPU a
    step's process spent importing (:func:`import_cpu`), taken off the cycle's and the full
    detect's: a watcher imports once. The watcher's tracking and rules stay in the cycle.
    """
    stages = cycle["stages"]
    coaction = sum(stages.get(s, 0.0) for s in COACTION_STAGES)
    coaction_new_day = sum(new_day["stages"].get(s, 0.0) for s in COACTION_STAGES)
    cycle_cpu, full_cpu = cycle["cpu"] - imports, full["cpu"] - imports
    rest = cycle_cpu - coaction
    communities = stages.get("communities", 0.0)
    per_cluster = sum(stages.get(s, 0.0) for s in CLUSTER_STAGES)
    incremental = (rest + coaction_new_day
                   - communities * (1 - facts["graph"]["changed_edge_share"])
                   - per_cluster * (1 - facts["clusters"]["changed_member_share"]))
    return {
        "measured": cycle_cpu / full_cpu,
        "coaction_free": rest / full_cpu,
        "reuse_bound": (rest + coaction_new_day) / full_cpu,
        "incremental_bound": incremental / full_cpu,
        "cycle_cpu": cycle_cpu, "full_cpu": full_cpu, "import_cpu": imports,
        "coaction_cpu": coaction, "coaction_new_day_cpu": coaction_new_day, "rest_cpu": rest,
    }


def measure(lake_root: Path, end: datetime, horizon: str) -> dict:
    """The four steps on a scratch lake (its ``interactions/`` the world's), and every figure."""
    from rallypoint.lake import Lake
    from rallypoint.watch.watcher import parse_duration

    lake = Lake(lake_root)
    day = end - timedelta(days=1)
    steps = {}
    for name, kind, moment, span in (("before", "watch", day, horizon), ("cycle", "watch", end, horizon),
                                     ("full", "full", end, horizon), ("new_day", "full", end, "1d")):
        steps[name] = _child(kind, lake_root, moment.isoformat(), span)
        summary = lake.read_run_json(steps[name]["run_id"])
        steps[name]["stages"] = summary["cpu_seconds"]
        steps[name]["stage_wall"] = summary["timings"]
        print(f"  {name}: {steps[name]['wall']:.0f} s wall, {steps[name]['cpu']:.1f} s CPU "
              f"(load {steps[name]['load'][0][0]:.1f})", flush=True)
    facts = structural_facts(lake, steps["before"]["run_id"], steps["cycle"]["run_id"],
                             end - parse_duration(horizon, "horizon"), day, end)
    bounds = reuse_bounds(steps["cycle"], steps["full"], steps["new_day"], facts, import_cpu())
    return {"steps": steps, "identical": identical(lake, steps["cycle"]["run_id"], steps["full"]["run_id"]),
            "facts": facts, "bounds": bounds}


def render(report: dict) -> str:
    """The per-stage table and the figures, as text."""
    steps, b, f = report["steps"], report["bounds"], report["facts"]
    names = list(dict.fromkeys([*steps["cycle"]["stages"], *steps["full"]["stages"]]))
    lines = [f"{'stage':<16}{'cycle CPU s':>12}{'full CPU s':>12}{'new day CPU s':>15}{'cycle wall s':>14}"]
    for s in names:
        lines.append(f"{s:<16}{steps['cycle']['stages'].get(s, 0):>12.1f}{steps['full']['stages'].get(s, 0):>12.1f}"
                     f"{steps['new_day']['stages'].get(s, 0):>15.1f}{steps['cycle']['stage_wall'].get(s, 0):>14.1f}")
    lines.append(f"{'process':<16}{steps['cycle']['cpu']:>12.1f}{steps['full']['cpu']:>12.1f}"
                 f"{steps['new_day']['cpu']:>15.1f}{steps['cycle']['wall']:>14.1f}")
    lines.append(f"{'of it imports':<16}{b['import_cpu']:>12.1f}{b['import_cpu']:>12.1f}{b['import_cpu']:>15.1f}")
    g, c, a = f["graph"], f["clusters"], f["accounts"]
    big = g["largest_component"] or {}
    lines += [
        f"run tables identical (cycle vs full): {all(report['identical'].values())}",
        f"one new day: {b['measured']:.1%} of a full detect, imports aside (target {TARGET_SHARE:.0%})",
        f"reuse bound (co-action over unchanged partitions free): {b['reuse_bound']:.1%}; "
        f"co-action free altogether: {b['coaction_free']:.1%}",
        f"incremental bound (also communities per changed component, stages per changed cluster): "
        f"{b['incremental_bound']:.1%}",
        f"accounts acting on the new day: {a['accounts_on_new_day']:,} of {a['accounts']:,} "
        f"({a['account_share_on_new_day']:.1%}); records {a['records_on_new_day']:,} of {a['records']:,}",
        f"edge graph: largest component {big.get('nodes', 0):,} accounts ({big.get('node_share', 0):.1%}), "
        f"{big.get('edges', 0):,} edges ({big.get('edge_share', 0):.1%}), changed: {not big.get('unchanged', True)}, "
        f"{big.get('accounts_active_on_new_day', 0):,} of its accounts act on the new day",
        f"components unchanged: {g['components_unchanged']:,} of {g['components']:,}; "
        f"edges in changed components {g['changed_edge_share']:.1%}",
        f"clusters with the same members as the day before: {c['clusters_unchanged']:,} of {c['clusters']:,} "
        f"({c['clusters_unchanged_same_score']:,} with the same score); members in changed clusters "
        f"{c['changed_member_share']:.1%}",
    ]
    return "\n".join(lines)


def main() -> None:
    args = world_parser(__doc__.splitlines()[0]).parse_args()
    from rallypoint.lake import Lake

    scratch = scratch_lake(args.records, args.seed, f"reuse-{args.horizon}")
    last = max(p.parent.name.removeprefix("date=") for p in Lake(scratch).interaction_files())
    end = datetime.strptime(last, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
    load = os.getloadavg()
    report = measure(scratch, end, args.horizon)
    report.update(records=args.records, seed=args.seed, horizon=args.horizon, end=end.isoformat(),
                  lake=str(scratch), load=[load, os.getloadavg()], target_share=TARGET_SHARE,
                  measured_at=datetime.now(UTC).isoformat())
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{args.records}-{args.seed}-{args.horizon}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print(render(report))
    print(f"load average {load[0]:.1f} before, {report['load'][1][0]:.1f} after; written to {path}")


if __name__ == "__main__":
    main()
