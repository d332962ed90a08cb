"""``rallypoint demo``: the whole pipeline on a simulated sample, on Parquet alone.

simulate -> ingest -> detect -> evaluate -> export the top cluster, then say how to
open the dashboard on the result. No server is needed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console

from rallypoint.lake import Lake

#: A world small enough to run in a minute or two on a laptop, large enough to hold
#: every planted campaign and every organic look-alike.
DEMO_WORLD = {"accounts": 3000, "days": 10}


def run_demo(out: Path, *, seed: int = 7, console: Console | None = None) -> dict:
    """Run every stage into ``out`` (replaced if it exists) and return what each stage said."""
    from rallypoint.detectors.evaluate import evaluate_run, render_evaluation
    from rallypoint.detectors.pipeline import detect_run
    from rallypoint.graph.export import export_subgraph
    from rallypoint.ingest.pipeline import ingest_sources
    from rallypoint.simulate import simulate_world

    console = console or Console()
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    data_dir, lake_dir, export_dir = out / "data", out / "lake", out / "export"

    console.rule("1/5 simulate a world with planted campaigns")
    world = simulate_world(data_dir, seed=seed, **DEMO_WORLD)
    console.print(f"wrote {world.get('records', '?')} records and labels.csv to {data_dir}")

    console.rule("2/5 ingest into the lake")
    sources = sorted(data_dir.glob("interactions-*"))
    summary = ingest_sources(sources, lake_dir)
    console.print(summary.render())

    console.rule("3/5 detect coordinated clusters")
    result = detect_run(lake_dir)
    console.print(result.render())

    console.rule("4/5 evaluate against the planted ground truth")
    report = evaluate_run(lake_dir, "latest", data_dir / "labels.csv")
    console.print(render_evaluation(report))

    console.rule("5/5 export the top cluster for Gephi")
    manifest = export_subgraph(lake_dir, run_id="latest", cluster_id=None, fmt="graphml", out=export_dir)
    files = ", ".join(f["name"] for f in manifest["files"])
    console.print(
        f"exported cluster {manifest['cluster_id']} ({manifest['counts']['nodes']} accounts, "
        f"{manifest['counts']['edges']} edges) as {files} to {export_dir}"
    )

    run_id = Lake(lake_dir).resolve_run("latest")
    console.rule("done")
    console.print(
        f"Open the dashboard on this run:\n  rallypoint dashboard --lake {lake_dir}\n"
        f"Run {run_id}; the lake is {lake_dir}."
    )
    return {"world": world, "run_id": run_id, "evaluation": report, "export": manifest}
