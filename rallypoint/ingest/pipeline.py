"""``rallypoint ingest``: sources -> validated, normalized, de-duplicated lake rows.

``ingest_sources`` runs in five steps:

1. *Plan* (client): expand folders, tell each file's format (``--format auto``
   sniffs each file on its own, so a folder may mix formats, and a file inside a
   folder that is in no known format - ``world.json`` beside simulated data - is
   skipped and listed in the summary; a named format is checked against every file), cut plain JSON Lines into byte-range parts. A file
   that cannot be read at all stops the ingest here with one sentence, before the
   lake is touched.
2. *Stage* (Dask, one task per part): ``stages.stage_part``.
3. *Merge* (Dask, one task per date): ``stages.merge_date`` - the shuffle on date
   done through the staging folder, with the de-duplication in the same pass, so
   each ingest adds one file per date.
4. *Commit*: ``commit.commit`` - journal, then atomic renames (see that module).
5. *Neo4j* (with ``neo4j_uri``): load the files this ingest committed.

The same task graph runs on Dask's local threaded scheduler (default), on a local
cluster of ``workers`` processes, or on an existing cluster at ``scheduler``; only
the way results come back differs. Complexity: one parse of every input byte, one
write and one read of the staged rows, one write of the kept rows; memory is a few
blocks per worker plus one date's keys.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rallypoint.errors import InputError, LakeError, Neo4jError
from rallypoint.ingest import commit as lake_commit
from rallypoint.ingest.formats import (
    UnknownFormatError,
    expand_sources,
    newlines_before,
    plan_parts,
    resolve_format,
)
from rallypoint.ingest.readers import Part
from rallypoint.ingest.stages import (
    cross_date_duplicates,
    drop_recorded_rejections,
    merge_date,
    shift_rejected_lines,
    stage_part,
)
from rallypoint.ingest.summary import IngestSummary, SourceCounts
from rallypoint.ingest.validate import RecordRules
from rallypoint.lake import Lake, new_id


def ingest_sources(
    sources: list[Path],
    lake: Path,
    *,
    fmt: str = "auto",
    scheduler: str | None = None,
    workers: int | None = None,
    neo4j_uri: str | None = None,
    show_progress: bool | None = None,
    rules: RecordRules | None = None,
) -> IngestSummary:
    """Ingest ``sources`` (files or folders) into the lake at ``lake``; see the module doc.

    ``rules`` (``RecordRules``: the plausible time range, the zone of zone-less times) judge
    every record; the default rejects zone-less times and times before 1990 or after tomorrow.
    """
    rules = rules or RecordRules()
    t_start = time.perf_counter()
    started = datetime.now(UTC).isoformat()
    lake_obj = Lake(lake)
    if lake_obj.root.exists() and not lake_obj.root.is_dir():
        raise LakeError(f"The lake path {lake_obj.root} is a file, not a folder.")

    files, formats, skipped = [], {}, []
    for f, in_folder in expand_sources([Path(s) for s in sources], skipped):
        try:
            formats[f] = resolve_format(f, fmt)
        except UnknownFormatError as exc:
            if not (in_folder and fmt == "auto"):
                raise
            skipped.append({"path": str(f), "reason": str(exc)})  # a sidecar file in a data folder
            continue
        files.append(f)
    if not files:
        raise InputError(f"None of the sources holds a file in a known format ({skipped[0]['reason']})")
    parts: list[Part] = []
    for f in files:
        for p in plan_parts(f, formats[f]):
            parts.append(Part(p.path, p.fmt, len(parts), p.start, p.end, p.first_line, p.newlines))
    t_plan = time.perf_counter()

    existed = lake_obj.root.exists()
    lake_obj.ensure()
    with lake_commit.IngestLock(lake_obj):
        recovered = lake_commit.recover(lake_obj)
        ingest_id = new_id("ingest-")
        stage = lake_obj.staging_dir / ingest_id
        summary = IngestSummary(ingest_id=ingest_id, lake=str(lake_obj.root), format=fmt, started=started,
                                recovered=recovered, skipped=skipped)
        try:
            with _executor(scheduler, workers) as run, _progress(show_progress) as progress:
                staged = run([(stage_part, (p, stage, p.index, rules)) for p in parts],
                             progress("reading and validating", len(parts)))
                _renumber_rejections(parts, staged)
                already = 0
                for result in staged:
                    result["rejected_files"], dropped = drop_recorded_rejections(result["rejected_files"], lake_obj.root)
                    already += dropped
                summary.rejected_already_recorded = already
                t_staged = time.perf_counter()
                by_date: dict[str, list[str]] = {}
                for result in staged:
                    for day, paths in result["dates"].items():
                        by_date.setdefault(day, []).extend(paths)
                drops = cross_date_duplicates(by_date, lake_obj.root)
                merged = run(
                    [(merge_date, (day, paths, lake_obj.root, stage / "commit" / f"date={day}" / f"{ingest_id}.parquet",
                                   drops.get(day)))
                     for day, paths in sorted(by_date.items())],
                    progress("de-duplicating by date", len(by_date)),
                )
            t_merged = time.perf_counter()
            moves = _moves(lake_obj, stage, ingest_id, staged, merged)
            _fill_summary(summary, files, formats, staged, merged, moves)
            summary.finished = datetime.now(UTC).isoformat()
            summary.seconds = round(time.perf_counter() - t_start, 3)
            summary.timings = {
                "plan": round(t_plan - t_start, 3),
                "read_validate": round(t_staged - t_plan, 3),
                "dedup_write": round(t_merged - t_staged, 3),
            }
            lake_commit.commit(lake_obj, stage, moves, summary.to_json())
            summary.timings["commit"] = round(time.perf_counter() - t_merged, 3)
        except BaseException:
            if not (stage / lake_commit.JOURNAL).exists():  # past the commit point, recovery finishes it
                shutil.rmtree(stage, ignore_errors=True)
            if not existed:
                _remove_empty_lake(lake_obj)
            raise

    if neo4j_uri:  # this ingest's files and any an earlier failed load left behind
        summary.neo4j = _load_neo4j(lake_obj, neo4j_uri, summary.ingest_id)
    return summary


def _renumber_rejections(parts: list[Part], staged: list[dict[str, Any]]) -> None:
    """Give the rejected rows of byte-range parts their line in the whole file."""
    by_file: dict[Path, list[tuple[Part, list[str]]]] = {}
    for part, result in zip(parts, staged, strict=True):
        if part.start and result["rejected_files"]:
            by_file.setdefault(part.path, []).append((part, result["rejected_files"]))
    for path, pending in by_file.items():
        before = newlines_before(path, [part.start for part, _ in pending])
        for part, files in pending:
            shift_rejected_lines(files, before[part.start])


def _moves(lake: Lake, stage: Path, ingest_id: str, staged, merged) -> list[tuple[Path, Path]]:
    moves = [
        (Path(m["out"]), lake.interactions_dir / f"date={m['date']}" / f"{ingest_id}.parquet")
        for m in merged if m["out"]
    ]
    for result in staged:
        for f in result["rejected_files"]:
            moves.append((Path(f), lake.rejected_dir / ingest_id / Path(f).name))
    return moves


def _fill_summary(summary: IngestSummary, files, formats, staged, merged, moves) -> None:
    per_source = {str(f): SourceCounts(path=str(f), format=formats[f]) for f in files}
    reasons: Counter = Counter()
    for result in staged:
        counts = per_source[result["source"]]
        counts.read += result["read"]
        counts.valid += result["valid"]
        merged_reasons = Counter(counts.rejected_by_reason) + Counter(result["rejected_by_reason"])
        counts.rejected_by_reason = dict(merged_reasons)
        counts.rejected = sum(merged_reasons.values())
        reasons.update(result["rejected_by_reason"])
    summary.sources = list(per_source.values())
    summary.read = sum(s.read for s in summary.sources)
    summary.written = sum(m["written"] for m in merged)
    summary.duplicates_in_batch = sum(m["duplicates_in_batch"] for m in merged)
    summary.duplicates_in_lake = sum(m["duplicates_in_lake"] for m in merged)
    summary.duplicates = summary.duplicates_in_batch + summary.duplicates_in_lake
    summary.add_rejections(reasons)
    summary.files = [str(dst) for _, dst in moves if dst.parent.parent.name == "interactions"]
    summary.file_rows = {f"interactions/date={m['date']}/{summary.ingest_id}.parquet": m["written"]
                         for m in merged if m["out"]}


def _remove_empty_lake(lake: Lake) -> None:
    """Undo ``Lake.ensure`` when a failed first ingest left only empty folders."""
    root = lake.root
    if root.is_dir() and not any(p.is_file() and p.name != lake_commit.LOCK for p in root.rglob("*")):
        shutil.rmtree(root, ignore_errors=True)


Runner = Callable[[list[tuple[Callable, tuple]], Callable[[], None]], list[Any]]


@contextmanager
def _executor(scheduler: str | None, workers: int | None) -> Iterator[Runner]:
    """A function running a list of (func, args) tasks in parallel, results in order."""
    import dask

    if scheduler is None and workers is None:
        from dask.callbacks import Callback

        def run_local(tasks, advance):
            class Advance(Callback):
                def _posttask(self, key, result, dsk, state, worker_id):
                    if str(key).startswith("task-"):
                        advance()

            # The threaded scheduler raises a task's error while the other tasks
            # still run on its pool; one of them could then write into the staging
            # folder after the caller removed it. So errors come back as values, the
            # tasks not yet started are skipped, and the error is raised once every
            # task has stopped.
            failures: list[BaseException] = []

            def guarded(func, *args):
                if failures:
                    return None
                try:
                    return func(*args)
                except BaseException as exc:  # noqa: BLE001 - re-raised below, after the others stop
                    failures.append(exc)
                    return None

            delayed = [dask.delayed(guarded, pure=False)(func, *args, dask_key_name=f"task-{i}")
                       for i, (func, args) in enumerate(tasks)]
            with Advance():
                results = list(dask.compute(*delayed, scheduler="threads"))
            if failures:
                raise failures[0]
            return results

        yield run_local
        return

    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise LakeError(f"No Dask scheduler answers at {scheduler} ({exc}).") from exc
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)

    def run_cluster(tasks, advance):
        futures = [client.submit(func, *args, pure=False) for func, args in tasks]
        for _ in as_completed(futures):
            advance()
        return client.gather(futures)

    try:
        yield run_cluster
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextmanager
def _progress(show: bool | None):
    """A rich progress bar on a terminal; ``progress(label, total)`` returns an advance()."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    enabled = console.is_terminal if show is None else show
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, disable=not enabled, transient=False)

    def progress(label: str, total: int):
        task = bar.add_task(label, total=total)
        return lambda: bar.advance(task)

    with bar:
        yield progress


def _load_neo4j(lake: Lake, uri: str, ingest_id: str) -> dict[str, Any]:
    from rallypoint.neo4j.loaders import load_missing_into_neo4j

    try:
        return load_missing_into_neo4j(lake, uri)
    except Neo4jError as exc:
        raise Neo4jError(
            f"The lake took ingest {ingest_id}, but loading Neo4j failed: {exc} The lake records what "
            f"Neo4j holds: the next `rallypoint ingest --neo4j` or `rallypoint graph load --lake {lake.root}` "
            "loads what is missing."
        ) from exc
