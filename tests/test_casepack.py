"""The case pack: every section present, hostile text inert, pseudonyms everywhere, a true manifest."""

from __future__ import annotations

import hashlib
import json
import re

import polars as pl
import pytest

from rallypoint.dashboard.casepack import CasePackError, build_case_pack
from rallypoint.dashboard.evidence_groups import group_evidence
from rallypoint.lake import Lake

HOSTILE = "<img src=http://127.0.0.1:9/x.png> <script>alert(1)</script> ![x](http://127.0.0.1:9/p.png)"


@pytest.fixture
def world(tmp_path):
    from dashboard_fixtures import write_fixture_lake

    root = tmp_path / "lake"
    write_fixture_lake(root)
    return root


def _flagged(lake: Lake) -> dict:
    clusters = pl.from_arrow(lake.read_run_table(lake.resolve_run("latest"), "clusters"))
    return clusters.sort("score", descending=True).row(0, named=True)


def test_the_pack_holds_every_section_and_its_manifest_is_true(world, tmp_path):
    lake = Lake(world)
    row = _flagged(lake)
    pack = build_case_pack(lake, row["cluster_id"], tmp_path / "out", pdf=False)
    page = pack.html.read_text()
    for heading in ("Summary", "Reasons", "Network", "Timeline", "Evidence, grouped by text", "Members", "Decisions"):
        assert f"<h2>{heading}" in page
    assert page.count("data:image/png;base64,") == 2
    assert "default-src 'none'" in page
    manifest = json.loads(pack.manifest.read_text())
    assert manifest["sha256"][pack.html.name] == hashlib.sha256(pack.html.read_bytes()).hexdigest()
    assert manifest["cluster_id"] == row["cluster_id"]


def test_unknown_cluster_is_one_sentence(world, tmp_path):
    lake = Lake(world)
    with pytest.raises(CasePackError, match="has no cluster"):
        build_case_pack(lake, "nope", tmp_path, pdf=False)


def test_hostile_text_is_escaped_and_names_are_pseudonymized(world, tmp_path, monkeypatch):
    lake = Lake(world)
    row = _flagged(lake)
    run = lake.resolve_run("latest")
    members = pl.from_arrow(lake.read_run_table(run, "members")).filter(pl.col("cluster_id") == row["cluster_id"])
    evidence = pl.from_arrow(lake.read_run_table(run, "evidence"))
    evidence = evidence.with_columns(text=pl.when(pl.col("cluster_id") == row["cluster_id"])
                                     .then(pl.lit(HOSTILE + " \u202egpj.exe")).otherwise(pl.col("text")))
    lake.write_run_table(run, "evidence", evidence.to_arrow())
    pack = build_case_pack(lake, row["cluster_id"], tmp_path / "plain", pdf=False)
    page = pack.html.read_text()
    assert "<script>" not in page and "<img src=http" not in page
    assert html_escaped(HOSTILE) in page  # its URLs as they are: no word joiners, which only Streamlit needs
    assert "[U+202E]gpj.exe" in page and "\u202e" not in page  # invisible characters shown, as the dashboard does
    monkeypatch.setenv("RALLYPOINT_PSEUDONYM_KEY", "a-key-long-enough-for-the-test-1234")
    hidden = build_case_pack(lake, row["cluster_id"], tmp_path / "pseudo", pseudonymize=True, pdf=False)
    text = hidden.html.read_text()
    for account in members["account_id"].to_list():
        assert not re.search(rf"\b{re.escape(account)}\b", text), account
    for name in members["account_name"].drop_nulls().to_list():
        if len(name) >= 3:
            assert name not in text, name


def html_escaped(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_identical_and_near_identical_texts_form_one_group():
    t = pl.datetime(2026, 1, 1, time_zone="UTC")
    evidence = pl.DataFrame({
        "id": ["1", "2", "3", "4", "4"],
        "account_id": ["a", "b", "c", "d", "d"],
        "timestamp": [1, 2, 3, 4, 4],
        "kind": ["coaction:co_text", "coaction:co_text", "call_to_action", "coaction:co_repost", "coaction:co_engage"],
        "target": ["x", "x", "y", "p9", "p9"],
        "text": ["Go to the MALL! https://a.example/1", "go to the mall https://b.example/2 ",
                 "Different words", None, None],
    }).with_columns(timestamp=t + pl.duration(minutes=pl.col("timestamp")))
    groups = group_evidence(evidence)
    assert groups["n_posts"].to_list() == [2, 1, 1]
    assert groups.row(0, named=True)["n_accounts"] == 2
    assert groups.filter(pl.col("text").str.contains("p9"))["kinds"].to_list() == [["coaction:co_engage",
                                                                                     "coaction:co_repost"]]
    assert group_evidence(evidence, search="different").height == 1


@pytest.mark.browser
def test_the_pdf_is_printed_by_chromium_and_listed_in_the_manifest(world, tmp_path):
    import subprocess
    import sys

    lake = Lake(world)
    row = _flagged(lake)
    done = subprocess.run([sys.executable, "-m", "rallypoint.cli", "casepack", "--lake", str(world),
                           "--cluster", row["cluster_id"], "--out", str(tmp_path / "cli")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pdf = next((tmp_path / "cli").glob("*.pdf"))
    assert pdf.read_bytes().startswith(b"%PDF")
    manifest = json.loads(next((tmp_path / "cli").glob("*.manifest.json")).read_text())
    assert manifest["sha256"][pdf.name] == hashlib.sha256(pdf.read_bytes()).hexdigest()


def test_a_group_lists_its_accounts_in_posting_order_and_the_phrases_matched():
    t = pl.datetime(2026, 1, 1, time_zone="UTC")
    evidence = pl.DataFrame({
        "id": ["1", "2", "3", "4"], "account_id": ["b", "a", "b", "c"], "timestamp": [1, 2, 3, 4],
        "kind": ["call_to_action"] * 4, "target": ["x"] * 4,
        "text": ["Be there!", "be there", "BE THERE", "Other"],
        "matched": [["Be there"], ["be there"], None, []],
    }).with_columns(timestamp=t + pl.duration(minutes=pl.col("timestamp")))
    groups = group_evidence(evidence)
    assert groups["account_ids"].to_list() == [["b", "a"], ["c"]]
    assert groups["matched"].to_list() == [["Be there", "be there"], []]
    assert group_evidence(evidence.drop("matched"))["matched"].to_list() == [[], []]
    assert group_evidence(evidence, search="nothing").columns == groups.columns
