"""A case pack: one self-contained file about one cluster, to hand to a policy or legal team.

What it holds
    The cluster's summary (score, size, span, types, named dates and places, high-profile
    members), every reason in the run's order, the evidence grouped by text
    (:mod:`rallypoint.dashboard.evidence_groups`), the members, the network picture and the
    activity timeline as embedded PNGs, and the triage decisions recorded on it. Written as
    ``case-<cluster>.html`` (and ``case-<cluster>.pdf`` where headless Chromium is installed), with
    ``case-<cluster>.manifest.json`` giving each file's SHA-256 (:func:`file_stem`), the run, the cluster, the time and the
    rallypoint version, so a recipient can check that nothing was changed.

Hostile data
    Every text, name and id is written through :func:`rallypoint.dashboard.safe.html_file`
    (escaped, its invisible characters shown by code point as the dashboard shows them); the page carries a
    Content-Security-Policy that allows no script and no request, and images are ``data:`` URIs,
    so opening the pack reaches no server. With ``pseudonymize=True`` account ids and names are
    replaced by keyed pseudonyms (``rallypoint.graph.pseudonymize``) everywhere: members,
    evidence, reasons, decisions and the texts' mentions of a member's name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from rallypoint import __version__
from rallypoint.dashboard.safe import attr, html_file
from rallypoint.errors import RallypointError
from rallypoint.lake import LATEST, Lake

__all__ = ["CasePack", "CasePackError", "build_case_pack", "file_stem"]

#: Evidence groups and members listed in the pack at most (the manifest says when more exist).
MAX_GROUPS = 200
MAX_MEMBERS = 500
CHROMIUM = "/usr/bin/chromium"
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


class CasePackError(RallypointError):
    """The pack cannot be built (unknown cluster, unwritable folder)."""


@dataclass(frozen=True)
class CasePack:
    """The files written and their SHA-256 (the manifest's content)."""

    html: Path
    pdf: Path | None
    manifest: Path
    sha256: dict[str, str]


def _time(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _png_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{attr(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}" style="max-width:100%">'


def _pseudonymizer(pseudonymize: bool, key: str | bytes | None):
    if not pseudonymize:
        return None
    from rallypoint.graph.pseudonymize import Pseudonymizer

    return Pseudonymizer(key)


def _replacer(members: pl.DataFrame, pseudonyms) -> Any:
    """A function replacing every member id and name inside free text by its pseudonym."""
    if pseudonyms is None:
        return lambda text: text
    from rallypoint.graph.pseudonymize import text_replacer

    mapping: dict[str, str] = {}
    for account, name in zip(members["account_id"].to_list(), members["account_name"].to_list(), strict=True):
        mapping[account] = pseudonyms(account)
        if name:
            mapping[name] = pseudonyms(name, "name")
    return text_replacer(mapping)


def file_stem(cluster_id: str) -> str:
    """The name the pack's files share (``case-c0001``: ``.html``, ``.pdf``, ``.manifest.json``), the
    cluster id with every character but letters, digits, ``_``, ``.`` and ``-`` made ``_``."""
    return f"case-{re.sub(r'[^A-Za-z0-9_.-]', '_', cluster_id)}"


def build_case_pack(lake: str | os.PathLike[str] | Lake, cluster_id: str, out: str | os.PathLike[str], *,
                    run_id: str = LATEST, pseudonymize: bool = False, key: str | bytes | None = None,
                    pdf: bool = True) -> CasePack:
    """Write the case pack of ``cluster_id`` of ``run_id`` into the folder ``out``.

    Parameters
    ----------
    lake : the lake (path or ``Lake``).
    cluster_id : the cluster, as in ``clusters.parquet``.
    out : a folder; created if missing. Files are written whole and then renamed.
    run_id : the run (``latest`` by default).
    pseudonymize : replace account ids and names by keyed pseudonyms (``key`` or
        ``$RALLYPOINT_PSEUDONYM_KEY``).
    pdf : also print the page to PDF with headless Chromium when it is installed.
    """
    from rallypoint.dashboard.evidence_groups import group_evidence
    from rallypoint.dashboard.network import cluster_edges, layout
    from rallypoint.dashboard.network_picture import network_picture
    from rallypoint.dashboard.timeline import timeline_picture
    from rallypoint.dashboard.triage import TriageStore
    from rallypoint.detectors.evidence import kind_label

    lake = (lake if isinstance(lake, Lake) else Lake(lake)).require()
    run = lake.resolve_run(run_id)
    clusters = pl.from_arrow(lake.read_run_table(run, "clusters")).filter(pl.col("cluster_id") == cluster_id)
    if clusters.height == 0:
        raise CasePackError(f"Run {run} has no cluster {cluster_id!r}.")
    row = clusters.row(0, named=True)
    members = (pl.from_arrow(lake.read_run_table(run, "members")).filter(pl.col("cluster_id") == cluster_id)
               .sort("strength", descending=True, nulls_last=True))
    evidence = pl.from_arrow(lake.read_run_table(run, "evidence")).filter(pl.col("cluster_id") == cluster_id)
    edges = cluster_edges(pl.from_arrow(lake.read_run_table(run, "edges")), members["account_id"])
    pseudonyms = _pseudonymizer(pseudonymize, key)
    scrub = _replacer(members, pseudonyms)

    picture = network_picture(members, edges, layout(members["account_id"].to_list(), edges)).png
    actions = evidence.unique("id").select("timestamp", action=pl.lit("evidence post"))
    mobilization = row.get("mobilization") or {}
    timeline = timeline_picture(actions, row.get("bursts") or [], mobilization.get("top_date_places")
                                or [{"date": d, "place": ""} for d in mobilization.get("dates") or []])
    groups = group_evidence(evidence)
    store = TriageStore(lake.triage_path)
    decisions = store.decisions(cluster_id=cluster_id).filter(pl.col("run_id") == run)

    def account(value: str | None) -> str:
        return html_file(pseudonyms(value) if pseudonyms is not None and value is not None else value)

    def name(value: str | None) -> str:
        return html_file(pseudonyms(value, "name") if pseudonyms is not None and value else value)

    parts = [
        f"<h1>Case pack: cluster {html_file(cluster_id)}</h1>",
        f"<p>Run {html_file(run)} · generated {html_file(_time(datetime.now(UTC)))} · rallypoint {html_file(__version__)}"
        f"{' · pseudonymized' if pseudonyms is not None else ''}</p>",
        "<h2>Summary</h2><table>",
        *(f"<tr><th>{html_file(k)}</th><td>{v}</td></tr>" for k, v in [
            ("flagged", html_file("yes" if row["flagged"] else "no")),
            ("score", html_file(f"{row['score']:.2f}")),
            ("accounts", html_file(row["n_accounts"])), ("edges", html_file(row["n_edges"])),
            ("active", html_file(f"{_time(row['first_ts'])} to {_time(row['last_ts'])}")),
            ("coordination types", html_file(", ".join(row.get("types") or []))),
            ("dates named", html_file(", ".join(mobilization.get("dates") or []) or "none")),
            ("places named", html_file(", ".join(mobilization.get("places") or []) or "none")),
            ("high-profile members", ", ".join(account(a) for a in row.get("high_profile_accounts") or []) or "none"),
        ]),
        "</table>",
        "<h2>Reasons</h2><ol>", *(f"<li>{html_file(scrub(r))}</li>" for r in row.get("reasons") or []), "</ol>",
        "<h2>Network</h2>", _png_tag(picture, "network of the cluster's accounts"),
        "<h2>Timeline</h2>", _png_tag(timeline, "activity timeline"),
        f"<h2>Evidence, grouped by text ({groups.height} groups, {evidence['id'].n_unique()} posts)</h2>",
        "<table><tr><th>posts</th><th>accounts</th><th>first</th><th>last</th><th>kinds</th><th>text</th></tr>",
        *(f"<tr><td>{g['n_posts']}</td><td>{g['n_accounts']}</td><td>{html_file(_time(g['first_ts']))}</td>"
          f"<td>{html_file(_time(g['last_ts']))}</td><td>{html_file(', '.join(map(kind_label, g['kinds'])))}</td><td>{html_file(scrub(g['text']))}</td></tr>"
          for g in groups.head(MAX_GROUPS).iter_rows(named=True)),
        "</table>",
        f"<h2>Members ({members.height})</h2>",
        "<table><tr><th>account</th><th>name</th><th>role</th><th>created</th><th>followers</th><th>first action</th></tr>",
        *(f"<tr><td>{account(m['account_id'])}</td><td>{name(m['account_name'])}</td><td>{html_file(m['role'])}</td>"
          f"<td>{html_file(_time(m['account_created_at']))}</td><td>{html_file(m['followers'])}</td><td>{html_file(_time(m['first_ts']))}</td></tr>"
          for m in members.head(MAX_MEMBERS).iter_rows(named=True)),
        "</table>",
        "<h2>Decisions</h2>",
        ("<p>No decision recorded on this cluster in this run.</p>" if decisions.height == 0 else
         "<table><tr><th>when</th><th>who</th><th>decision</th><th>note</th></tr>" + "".join(
             f"<tr><td>{html_file(_time(d['decided_at']))}</td><td>{html_file(d['analyst'])}</td><td>{html_file(d['decision'])}</td>"
             f"<td>{html_file(scrub(d['note']))}</td></tr>" for d in decisions.iter_rows(named=True)) + "</table>"),
    ]
    page = ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">"
            f"<title>Case pack {html_file(cluster_id)}</title><style>body{{font-family:sans-serif;margin:2em;max-width:70em}}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top;"
            "text-align:left;font-size:90%}</style></head><body>" + "\n".join(parts) + "</body></html>")

    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stem = file_stem(cluster_id)
        html_path = folder / f"{stem}.html"
        _write_atomic(html_path, page.encode("utf-8"))
        pdf_path = _print_pdf(html_path, folder / f"{stem}.pdf") if pdf else None
        sha = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (html_path, pdf_path) if p is not None}
        manifest = {"run_id": run, "cluster_id": cluster_id, "generated_at": datetime.now(UTC).isoformat(),
                    "rallypoint": __version__, "pseudonymized": pseudonyms is not None,
                    "key_id": pseudonyms.key_id if pseudonyms is not None else None,
                    "evidence_groups": groups.height, "groups_listed": min(groups.height, MAX_GROUPS),
                    "members": members.height, "members_listed": min(members.height, MAX_MEMBERS), "sha256": sha}
        manifest_path = folder / f"{stem}.manifest.json"
        _write_atomic(manifest_path, json.dumps(manifest, indent=2).encode())
    except OSError as exc:
        raise CasePackError(f"The case pack could not be written to {folder}: {exc.strerror or exc}.") from None
    return CasePack(html_path, pdf_path, manifest_path, sha)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _print_pdf(html_path: Path, pdf_path: Path) -> Path | None:
    """The page printed by headless Chromium, or ``None`` when it is not installed or fails."""
    binary = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as profile:
        tmp = pdf_path.with_name(f".{pdf_path.name}.tmp")
        done = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
             f"--user-data-dir={profile}", f"--print-to-pdf={tmp}", html_path.resolve().as_uri()],
            capture_output=True, timeout=120, check=False)
        if done.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            tmp.unlink(missing_ok=True)
            return None
        os.replace(tmp, pdf_path)
    return pdf_path
