"""The cluster page's downloads: the same code as ``rallypoint export``.

:func:`export_cluster` calls :func:`rallypoint.graph.export.export_subgraph` into a
temporary folder and returns it zipped, exactly the folder ``rallypoint export --out``
writes: the graph file(s) (``subgraph.graphml`` / ``subgraph.gexf``, or ``nodes`` and
``edges`` as CSV or Parquet) and ``manifest.json`` (run, cluster, counts, checksums,
whether and with which key id the accounts were pseudonymized).

Who may export what is decided here, not in the page: real account ids only for a role
that may (admins), pseudonymized for everyone else; every export is an event in the
triage log (who, when, which cluster, which format, pseudonymized or not).

:func:`export_case_pack` does the same for the case pack
(:func:`rallypoint.dashboard.casepack.build_case_pack`): the HTML, the PDF where Chromium
prints it, and the manifest, zipped; format ``casepack`` in the log.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rallypoint.dashboard.accounts import Identity
from rallypoint.dashboard.triage import TriageStore
from rallypoint.errors import RallypointError
from rallypoint.lake import Lake

#: Formats offered, as ``rallypoint export --format`` names them.
FORMATS: dict[str, str] = {
    "graphml": "GraphML (Gephi, igraph, networkx)",
    "gexf": "GEXF (Gephi)",
    "csv": "CSV nodes and edges",
    "parquet": "Parquet nodes and edges",
}


@dataclass(frozen=True)
class Download:
    data: bytes
    file_name: str
    mime: str
    manifest: dict


def _check(pseudonymize: bool, actor: Identity) -> None:
    if not pseudonymize and not actor.can("export_real"):
        raise RallypointError(f"A {actor.role} exports pseudonymized accounts only; real ids need an admin.")


def _zip(folder: Path, root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for f in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(f, f.relative_to(root).as_posix())
    return buffer.getvalue()


def _log(lake: Lake, run_id: str, cluster_id: str, fmt: str, pseudonymize: bool, file_name: str,
         actor: Identity) -> None:
    TriageStore(lake.triage_path).append_event(
        "export", cluster_id, actor.name, {"format": fmt, "pseudonymized": bool(pseudonymize), "file": file_name},
        run_id=run_id, actor_role=actor.role)


def export_case_pack(lake: Lake, run_id: str, cluster_id: str, pseudonymize: bool, actor: Identity, *,
                     pdf: bool = True) -> Download:
    """The case pack of one cluster for ``actor``, zipped (``case-<cluster>.html``, ``.pdf``, ``.manifest.json``)."""
    from rallypoint.dashboard.casepack import build_case_pack

    _check(pseudonymize, actor)
    stem = f"{run_id}_{cluster_id}_casepack{'_pseudonymized' if pseudonymize else ''}"
    with tempfile.TemporaryDirectory(prefix="rallypoint-casepack-") as tmp:
        out = Path(tmp) / stem
        pack = build_case_pack(lake, cluster_id, out, run_id=run_id, pseudonymize=pseudonymize, pdf=pdf)
        data = _zip(out, Path(tmp))
        manifest = json.loads(pack.manifest.read_text())
    _log(lake, run_id, cluster_id, "casepack", pseudonymize, f"{stem}.zip", actor)
    return Download(data, f"{stem}.zip", "application/zip", manifest)


def export_cluster(lake: Lake, run_id: str, cluster_id: str, fmt: str, pseudonymize: bool, actor: Identity,
                   neo4j_uri: str | None = None) -> Download:
    """Export one cluster's subgraph as ``fmt`` for ``actor``; bytes ready for ``st.download_button``."""
    if fmt not in FORMATS:
        raise RallypointError(f"Export format must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    _check(pseudonymize, actor)
    try:
        from rallypoint.graph.export import export_subgraph
    except ImportError as exc:
        raise RallypointError("The exporter (rallypoint.graph.export) is not available in this installation.") from exc
    stem = f"{run_id}_{cluster_id}{'_pseudonymized' if pseudonymize else ''}"
    with tempfile.TemporaryDirectory(prefix="rallypoint-export-") as tmp:
        out = Path(tmp) / stem
        manifest = export_subgraph(lake.root, run_id=run_id, cluster_id=cluster_id, fmt=fmt, out=out,
                                   pseudonymize=pseudonymize, hops=0, cypher=None, neo4j_uri=neo4j_uri)
        data = _zip(out, Path(tmp))
    _log(lake, run_id, cluster_id, fmt, pseudonymize, f"{stem}_{fmt}.zip", actor)
    return Download(data, f"{stem}_{fmt}.zip", "application/zip", dict(manifest or {}))
