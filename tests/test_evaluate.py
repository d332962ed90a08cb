"""evaluate: account precision/recall/F1 of flagged clusters, per kind, per campaign, queue ranks."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from click.testing import CliRunner

from rallypoint.cli import main
from rallypoint.detectors.evaluate import evaluate_run, render_evaluation
from rallypoint.errors import RallypointError
from rallypoint.lake import Lake
from rallypoint.schema import CLUSTERS_SCHEMA, MEMBERS_SCHEMA

# c1 (0.9, flagged): 8 accounts of campaign m1 + 2 organic
# c2 (0.7, flagged): 5 accounts of the amplification ring a1
# c3 (0.2): the other 2 accounts of m1
# c4 (0.1): 6 organic (a fandom)
CLUSTERS = {"c1": (0.9, True), "c2": (0.7, True), "c3": (0.2, False), "c4": (0.1, False)}
MEMBERS = {
    "c1": [f"m{i}" for i in range(8)] + ["o1", "o2"],
    "c2": [f"b{i}" for i in range(5)],
    "c3": ["m8", "m9"],
    "c4": [f"f{i}" for i in range(6)],
}
LABELS = (
    "account_id,campaign_id,kind\n"
    + "".join(f"m{i},m1,mobilization\n" for i in range(10))
    + "".join(f"b{i},a1,amplification\n" for i in range(6))  # b5 was never detected
)


@pytest.fixture()
def run_lake(tmp_path):
    lake = Lake(tmp_path / "lake").ensure()
    run_id = "run-1"
    n = len(CLUSTERS)
    clusters = pa.table(
        {
            "cluster_id": list(CLUSTERS),
            "score": [s for s, _ in CLUSTERS.values()],
            "flagged": [f for _, f in CLUSTERS.values()],
            "n_accounts": [len(MEMBERS[c]) for c in CLUSTERS],
            "n_edges": [0] * n,
            **{f.name: pa.nulls(n, f.type) for f in CLUSTERS_SCHEMA if f.name not in
               ("cluster_id", "score", "flagged", "n_accounts", "n_edges")},
        }
    )
    rows = [(c, a) for c, accounts in MEMBERS.items() for a in accounts]
    members = pa.table(
        {
            "cluster_id": [c for c, _ in rows],
            "account_id": [a for _, a in rows],
            "role": ["amplifier"] * len(rows),
            **{f.name: pa.nulls(len(rows), f.type) for f in MEMBERS_SCHEMA
               if f.name not in ("cluster_id", "account_id", "role")},
        }
    )
    lake.write_run_table(run_id, "clusters", clusters)
    lake.write_run_table(run_id, "members", members)
    lake.write_run_json(run_id, {"run_id": run_id, "threshold": 0.5})
    labels = tmp_path / "labels.csv"
    labels.write_text(LABELS)
    return lake, run_id, labels


def test_account_precision_recall_and_f1_of_flagged_clusters(run_lake):
    lake, run_id, labels = run_lake
    report = evaluate_run(lake.root, "latest", labels)
    assert report["run_id"] == run_id
    overall = report["overall"]
    # flagged accounts: 10 in c1 + 5 in c2; of them 8 + 5 are labelled; 16 labelled in all
    assert (overall["flagged"], overall["true_positives"], overall["labelled"]) == (15, 13, 16)
    assert overall["precision"] == pytest.approx(13 / 15, abs=1e-4)
    assert overall["recall"] == pytest.approx(13 / 16, abs=1e-4)
    p, r = 13 / 15, 13 / 16
    assert overall["f1"] == pytest.approx(2 * p * r / (p + r), abs=1e-4)


def test_each_kind_is_judged_against_organic_accounts_only(run_lake):
    lake, run_id, labels = run_lake
    by_kind = evaluate_run(lake.root, run_id, labels)["by_kind"]
    # mobilization: the ring's 5 accounts are set aside; 8 of the 10 remaining flagged are m1's
    assert by_kind["mobilization"]["precision"] == pytest.approx(0.8)
    assert by_kind["mobilization"]["recall"] == pytest.approx(0.8)
    # amplification: 5 of 7 (5 ring + 2 organic) flagged... judged: c2's 5 + o1, o2 = 7
    assert by_kind["amplification"]["precision"] == pytest.approx(5 / 7, abs=1e-4)
    assert by_kind["amplification"]["recall"] == pytest.approx(5 / 6, abs=1e-4)


def test_campaign_ranks_in_the_queue_and_organic_flags(run_lake):
    lake, run_id, labels = run_lake
    report = evaluate_run(lake.root, run_id, labels)
    campaigns = {c["campaign_id"]: c for c in report["campaigns"]}
    assert campaigns["m1"]["rank"] == 1 and campaigns["m1"]["flagged"] == 8
    assert [c["cluster_id"] for c in campaigns["m1"]["clusters"]] == ["c1", "c3"]
    assert campaigns["a1"]["rank"] == 2 and campaigns["a1"]["recall"] == pytest.approx(5 / 6, abs=1e-4)
    assert report["organic_accounts_flagged"] == 2
    assert report["organic_accounts_flagged_sample"] == ["o1", "o2"]
    assert report["organic_clusters_flagged"] == []  # c1 is 80 % campaign


def test_the_report_is_written_into_the_run_folder_and_printed(run_lake):
    lake, run_id, labels = run_lake
    result = CliRunner().invoke(main, ["evaluate", "--lake", str(lake.root), "--labels", str(labels)])
    assert result.exit_code == 0, result.output
    assert "precision 0.867" in result.output
    written = json.loads((lake.run_dir(run_id) / "evaluation.json").read_text())
    assert written["overall"]["true_positives"] == 13
    assert render_evaluation(written).splitlines()[0].startswith(f"run {run_id}: 2 of 4 clusters flagged")


def test_labels_without_the_needed_columns_are_one_clear_error(run_lake, tmp_path):
    lake, run_id, _ = run_lake
    bad = tmp_path / "bad.csv"
    bad.write_text("user,group\nx,1\n")
    with pytest.raises(RallypointError, match="lacks the column"):
        evaluate_run(lake.root, run_id, bad)
    result = CliRunner().invoke(main, ["evaluate", "--lake", str(lake.root), "--labels", str(bad)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1


def test_an_unknown_run_is_one_clear_error(run_lake):
    lake, _, labels = run_lake
    result = CliRunner().invoke(main, ["evaluate", "--lake", str(lake.root), "--run", "nope", "--labels", str(labels)])
    assert result.exit_code == 2
    assert "no run named 'nope'" in result.output
