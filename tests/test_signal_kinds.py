"""The evidence kinds are one list (rallypoint.schema), which detect emits and the dashboard reads.

Three different tuples were once called SIGNAL_KINDS: the lexicon's phrase kinds, detect's
evidence kinds and a copy of those in the dashboard, which had drifted (it lacked
``petition_link``). Each now has its own name and one definition.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

import rallypoint.dashboard
from rallypoint.dashboard.views import cluster_page
from rallypoint.detectors import scoring
from rallypoint.detectors.evidence import signal_evidence
from rallypoint.detectors.mobilization.clusters import cluster_mobilization
from rallypoint.detectors.mobilization.lexicon import LEXICON_KINDS
from rallypoint.detectors.terms import TERM_KIND
from rallypoint.schema import HARM_EVIDENCE_KINDS, SIGNAL_EVIDENCE_KINDS

DASHBOARD = Path(rallypoint.dashboard.__file__).parent


def pushed_texts() -> pl.DataFrame:
    t = datetime(2021, 1, 2, 12, tzinfo=UTC)
    rows = [("p1", "Everyone to the Capitol on January 6 at 10am, buses leave at 5am, storm it", []),
            ("p2", "donate here", ["https://www.gofundme.com/f/x"]),
            ("p3", "sign the petition", ["https://www.change.org/p/y"])]
    return pl.DataFrame({
        "cluster_id": [1, 1, 1], "id": [r[0] for r in rows], "account_id": ["a", "b", "c"], "timestamp": [t] * 3,
        "text": [r[1] for r in rows], "lang": ["en"] * 3, "urls": [r[2] for r in rows], "thread": [r[0] for r in rows],
    })


def test_every_signal_evidence_kind_is_a_flag_detect_computes_and_a_count_the_reasons_read():
    _, signals = cluster_mobilization(pushed_texts())
    flags = {c for c in signals.columns if signals.schema[c] == pl.Boolean}
    assert set(SIGNAL_EVIDENCE_KINDS) - {TERM_KIND} <= flags
    emitted = set(signal_evidence(signals)["kind"].unique().to_list())
    assert emitted <= set(SIGNAL_EVIDENCE_KINDS) and {"money_link", "petition_link"} <= emitted
    read = set(scoring.FACT_COLUMNS) | set(scoring.OPTIONAL_FACTS)
    assert {f"n_{k}" for k in SIGNAL_EVIDENCE_KINDS} <= read
    assert set(HARM_EVIDENCE_KINDS) <= set(SIGNAL_EVIDENCE_KINDS)


def test_the_dashboard_shows_detects_kinds_first_and_keeps_no_copy_of_them():
    assert cluster_page.SIGNAL_EVIDENCE_KINDS is SIGNAL_EVIDENCE_KINDS
    known = set(SIGNAL_EVIDENCE_KINDS)
    copies = []
    for path in sorted(DASHBOARD.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict):
                elements = node.keys if isinstance(node, ast.Dict) else node.elts  # a dict of labels is a copy too
                strings = {e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                if len(strings & known) >= 3:
                    copies.append(f"{path.relative_to(DASHBOARD)}:{node.lineno}")
    assert copies == [], f"a retyped list of evidence kinds: {copies}"


def test_the_lexicons_phrase_kinds_are_their_own_list():
    # invitation, gathering and peaceful are phrase kinds, never evidence of their own
    assert {"invitation", "gathering", "peaceful"} <= set(LEXICON_KINDS)
    assert not {"invitation", "gathering", "peaceful"} & set(SIGNAL_EVIDENCE_KINDS)


def test_every_evidence_kind_detect_writes_has_words_an_analyst_reads():
    from rallypoint.detectors.coaction import COACTION_TYPES
    from rallypoint.detectors.evidence import COACTION_PREFIX, KIND_LABELS, kind_label
    from rallypoint.schema import INAUTHENTICITY_EVIDENCE_KINDS

    written = [*SIGNAL_EVIDENCE_KINDS, *INAUTHENTICITY_EVIDENCE_KINDS, *(COACTION_PREFIX + t for t in COACTION_TYPES)]
    assert set(written) == set(KIND_LABELS)
    labels = [kind_label(k) for k in written]
    assert all("_" not in label for label in labels), labels  # words, not field names
    assert len(set(labels)) == len(labels)  # no two kinds read the same
    assert kind_label("coaction:co_repost") == "co-action: reposted the same post"
    assert kind_label("a_kind_of_a_newer_run") == "a_kind_of_a_newer_run"  # shown as it is, not dropped
