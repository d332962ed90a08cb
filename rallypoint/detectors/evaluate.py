"""``rallypoint evaluate``: how a run's flags compare with ground-truth labels.

What it computes
    Account-level precision, recall and F1 of the run's *flagged* clusters against
    ``labels.csv`` (``account_id,campaign_id,kind``; unlisted accounts are organic):

    * predicted positive = every member of a flagged cluster; positive = every labelled
      account. ``precision = TP / flagged accounts``, ``recall = TP / labelled accounts``,
      ``F1`` their harmonic mean.
    * per campaign kind (``mobilization``, ``amplification``): recall of that kind, and
      precision with the *other* kinds' accounts set aside (they are neither right nor
      wrong for this kind), so each kind is judged on its own against organic accounts.
    * per campaign: accounts, accounts flagged, recall, and its **rank in the queue** —
      the position (1 = top) of the best-scored cluster holding at least half of the
      campaign's detected accounts, i.e. where an analyst working down the triage queue
      meets it; its clusters and their scores.
    * organic accounts flagged (count and the first few), and flagged clusters made
      mostly (> 50 %) of organic accounts.

    The report is returned, printed by the CLI and written atomically to
    ``LAKE/runs/RUN_ID/evaluation.json``.

Complexity
    O(members + labels) hash joins in Polars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from rallypoint.errors import InputError
from rallypoint.lake import Lake, write_json_atomic
from rallypoint.schema import LABELS_SCHEMA

KINDS = ("mobilization", "amplification")
ORGANIC_SHOWN = 20


def read_labels(path: str | Path) -> pl.DataFrame:
    """``labels.csv`` as a frame; a file without the three columns is one clear error."""
    path = Path(path)
    try:
        table = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(column_types={f.name: pa.string() for f in LABELS_SCHEMA})
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"Cannot read the labels file {path}: {str(exc).splitlines()[0]}.") from None
    missing = [n for n in LABELS_SCHEMA.names if n not in table.column_names]
    if missing:
        raise InputError(
            f"The labels file {path} lacks the column(s) {', '.join(missing)}; "
            "it needs account_id,campaign_id,kind."
        )
    return pl.from_arrow(table.select(LABELS_SCHEMA.names)).unique("account_id", keep="first")


def _prf(tp: int, predicted: int, actual: int) -> dict[str, float | int]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"true_positives": tp, "flagged": predicted, "labelled": actual,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def evaluate_run(lake: str | Path | Lake, run_id: str, labels: str | Path) -> dict[str, Any]:
    """Evaluate run ``run_id`` (``latest`` allowed) against ``labels``; also writes evaluation.json."""
    lake = lake if isinstance(lake, Lake) else Lake(lake)
    lake.require()
    run_id = lake.resolve_run(run_id)
    truth = read_labels(labels)
    clusters = pl.from_arrow(lake.read_run_table(run_id, "clusters").select(["cluster_id", "score", "flagged"]))
    members = pl.from_arrow(lake.read_run_table(run_id, "members").select(["cluster_id", "account_id"]))
    queue = clusters.sort(["score", "cluster_id"], descending=[True, False]).with_row_index("rank", offset=1)
    members = members.join(queue, on="cluster_id", how="left").join(truth, on="account_id", how="left")

    flagged_accounts = members.filter(pl.col("flagged")).unique("account_id")
    n_flagged = flagged_accounts.height
    tp = flagged_accounts.filter(pl.col("kind").is_not_null()).height
    report: dict[str, Any] = {
        "run_id": run_id,
        "labels": str(labels),
        "threshold": lake.read_run_json(run_id).get("threshold"),
        "clusters": clusters.height,
        "flagged_clusters": int(clusters["flagged"].sum()),
        "overall": _prf(tp, n_flagged, truth.height),
        "by_kind": {},
        "campaigns": [],
    }
    for kind in sorted(set(truth["kind"].to_list()) | set(KINDS)):
        of_kind = truth.filter(pl.col("kind") == kind)
        if of_kind.height == 0:
            continue
        judged = flagged_accounts.filter(pl.col("kind").is_null() | (pl.col("kind") == kind))
        hits = judged.filter(pl.col("kind") == kind).height
        report["by_kind"][kind] = _prf(hits, judged.height, of_kind.height)

    for (campaign_id, kind), accounts in truth.group_by("campaign_id", "kind", maintain_order=True):
        found = members.filter(pl.col("campaign_id") == campaign_id)
        flagged = found.filter(pl.col("flagged")).unique("account_id").height
        per_cluster = (
            found.group_by("cluster_id", "rank", "score", "flagged")
            .agg(n=pl.col("account_id").n_unique())
            .sort("rank")
        )
        detected = found.unique("account_id").height
        holding = per_cluster.filter(pl.col("n") * 2 >= detected) if detected else per_cluster.clear()
        report["campaigns"].append(
            {
                "campaign_id": campaign_id,
                "kind": kind,
                "accounts": accounts.height,
                "in_clusters": detected,
                "flagged": flagged,
                "recall": round(flagged / accounts.height, 4),
                "rank": int(holding["rank"][0]) if holding.height else None,
                "clusters": [
                    {"cluster_id": r["cluster_id"], "rank": r["rank"], "score": round(r["score"], 4),
                     "flagged": r["flagged"], "accounts": r["n"]}
                    for r in per_cluster.iter_rows(named=True)
                ],
            }
        )
    report["campaigns"].sort(key=lambda c: (c["rank"] is None, c["rank"] or 0, c["campaign_id"]))

    organic = flagged_accounts.filter(pl.col("kind").is_null()).sort("account_id")
    report["organic_accounts_flagged"] = organic.height
    report["organic_accounts_flagged_sample"] = organic["account_id"].head(ORGANIC_SHOWN).to_list()
    organic_clusters = (
        members.filter(pl.col("flagged"))
        .group_by("cluster_id", "rank", "score")
        .agg(organic_share=pl.col("kind").is_null().mean(), n=pl.len())
        .filter(pl.col("organic_share") > 0.5)
        .sort("rank")
    )
    report["organic_clusters_flagged"] = [
        {"cluster_id": r["cluster_id"], "rank": r["rank"], "score": round(r["score"], 4),
         "accounts": r["n"], "organic_share": round(r["organic_share"], 4)}
        for r in organic_clusters.iter_rows(named=True)
    ]
    write_json_atomic(lake.run_dir(run_id) / "evaluation.json", report)
    return report


def render_evaluation(report: dict[str, Any]) -> str:
    """The report as a few lines of text."""
    o = report["overall"]
    lines = [
        f"run {report['run_id']}: {report['flagged_clusters']} of {report['clusters']} clusters flagged "
        f"(threshold {report['threshold']})",
        f"accounts: precision {o['precision']:.3f}  recall {o['recall']:.3f}  F1 {o['f1']:.3f}  "
        f"({o['true_positives']} of {o['flagged']} flagged are labelled; {o['labelled']} labelled)",
    ]
    for kind, k in report["by_kind"].items():
        lines.append(f"  {kind}: precision {k['precision']:.3f}  recall {k['recall']:.3f}  F1 {k['f1']:.3f}")
    lines.append("campaigns (rank = position in the triage queue):")
    for c in report["campaigns"]:
        rank = c["rank"] if c["rank"] is not None else "-"
        lines.append(
            f"  {c['campaign_id']:<24} {c['kind']:<14} rank {rank!s:>4}  "
            f"{c['flagged']}/{c['accounts']} flagged (recall {c['recall']:.2f})"
        )
    lines.append(f"organic accounts flagged: {report['organic_accounts_flagged']}; "
                 f"organic-majority clusters flagged: {len(report['organic_clusters_flagged'])}")
    return "\n".join(lines)
