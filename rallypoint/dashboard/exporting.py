"""The cluster page's downloads: the same code as ``rallypoint export``.

:func:`export_cluster` calls :func:`rallypoint.graph.export.export_subgraph` into a
temporary folder and returns the bytes to download; when the exporter writes more
than one file (CSV nodes and edges, Parquet tables) they are zipped together.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rallypoint.errors import RallypointError
from rallypoint.graph.lake import Lake

FORMATS: dict[str, tuple[str, str]] = {
    "graphml": ("graphml", "application/xml"),
    "gexf": ("gexf", "application/xml"),
    "csv": ("csv", "text/csv"),
    "parquet": ("parquet", "application/octet-stream"),
}


@dataclass(frozen=True)
class Download:
    data: bytes
    file_name: str
    mime: str
    manifest: dict


def export_cluster(lake: Lake, run_id: str, cluster_id: str, fmt: str, pseudonymize: bool,
                   neo4j_uri: str | None = None) -> Download:
    """Export one cluster's subgraph as ``fmt``; bytes ready for ``st.download_button``."""
    if fmt not in FORMATS:
        raise RallypointError(f"Export format must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    try:
        from rallypoint.graph.export import export_subgraph
    except ImportError as exc:
        raise RallypointError("The exporter (rallypoint.graph.export) is not available in this installation.") from exc
    extension, mime = FORMATS[fmt]
    stem = f"{run_id}_{cluster_id}{'_pseudonymized' if pseudonymize else ''}"
    with tempfile.TemporaryDirectory(prefix="rallypoint-export-") as tmp:
        out = Path(tmp) / f"{stem}.{extension}"
        manifest = export_subgraph(lake.root, run_id=run_id, cluster_id=cluster_id, fmt=fmt, out=out,
                                   pseudonymize=pseudonymize, hops=0, cypher=None, neo4j_uri=neo4j_uri)
        files = sorted(p for p in Path(tmp).rglob("*") if p.is_file())
        if len(files) == 1:
            return Download(files[0].read_bytes(), files[0].name, mime, dict(manifest or {}))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for f in files:
                archive.write(f, f.relative_to(tmp).as_posix())
        return Download(buffer.getvalue(), f"{stem}_{fmt}.zip", "application/zip", dict(manifest or {}))
