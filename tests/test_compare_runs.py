"""benchmarks/compare_runs.py: two runs are the same only when every table cell and run.json agree."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from compare_runs import compare_runs  # noqa: E402


def write_run(folder: Path, score: list[float | None], seconds: float, threshold: float = 0.3) -> Path:
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"cluster_id": ["c0001", "c0002", "c0003"], "score": score}), folder / "clusters.parquet")
    (folder / "run.json").write_text(json.dumps({"run_id": folder.name, "parameters": {"threshold": threshold},
                                                 "coaction_stats": {"edges": 3, "seconds": seconds}}))
    return folder


def test_same_cells_and_parameters_are_the_same_run_whatever_the_timings(tmp_path):
    nan = float("nan")
    a = write_run(tmp_path / "a", [0.5, nan, None], seconds=1.0)
    b = write_run(tmp_path / "b", [0.5, nan, None], seconds=2.0)
    assert not any(line.startswith("DIFF") for line in compare_runs(a, b))


def test_one_cell_or_one_parameter_makes_a_difference(tmp_path):
    a = write_run(tmp_path / "a", [0.5, 0.2, None], seconds=1.0)
    cell = write_run(tmp_path / "cell", [0.5, 0.2000001, None], seconds=1.0)
    null = write_run(tmp_path / "null", [0.5, 0.2, 0.0], seconds=1.0)
    param = write_run(tmp_path / "param", [0.5, 0.2, None], seconds=1.0, threshold=0.4)
    assert [line for line in compare_runs(a, cell) if line.startswith("DIFF")] == [
        "DIFF clusters.parquet: cells differ in score (1 rows)"]
    assert any(line.startswith("DIFF clusters.parquet") for line in compare_runs(a, null))
    assert any(line.startswith("DIFF run.json parameters") for line in compare_runs(a, param))
