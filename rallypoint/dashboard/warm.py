"""Warm the dashboard before the first analyst arrives: its code, the newest run's tables, its biggest networks.

The first page after the server starts used to pay for everything at once: importing the
pages' libraries (plotly, igraph, matplotlib, pyarrow's datasets), reading the run's
tables, and — on a large cluster's Network tab — laying out and drawing its network, which
grows with the cluster's size. :func:`start` does that work in a background thread as soon
as the server runs, while the analyst is still signing in:

1. import the dashboard's modules and, through them, the libraries the pages use (a page that
   starts meanwhile waits for the same import, never repeats it). The page scripts themselves
   are left to Streamlit: a page imports its Streamlit components (the picture's click
   component), and Streamlit registers a component only when it is imported during a page run;
2. read the newest run's tables and the triage log into the caches the pages read
   (:mod:`rallypoint.dashboard.data`);
3. lay out and draw the networks of the run's :data:`WARM_NETWORKS` largest clusters
   (:mod:`rallypoint.dashboard.cluster_network`), read their members' actions and draw their
   timeline pictures (:mod:`rallypoint.dashboard.cluster_timeline`): the cost of both grows
   with a cluster's size, and the small ones are quick on their first view anyway; and expand
   and draw the Expand tab's default request (its strongest members, one hop) of the
   :data:`WARM_EXPANDS` largest (:func:`rallypoint.dashboard.views.expand_section.prepare_default`):
   a context of thousands of accounts to read, lay out and draw on the first press;
4. bring the lake's touch index up to date (:mod:`rallypoint.touch_index`), which the Expand
   tab reads: the partitions of ingests since the last start are indexed before anyone expands;
5. take what it built out of the garbage collector's rounds (:func:`gc.freeze`): Streamlit
   collects every generation after each script run (``runner.postScriptGC``), and walking the
   imported modules and cached tables each time held the GIL for a noticeable part of every
   page, the first included; and fill :mod:`inspect`'s map of modules to files, which Streamlit's
   first element of a process builds (``inspect.stack()``, to tell whether it runs in a REPL).

When an analyst opens another run, :func:`warm_run` does steps 2 and 3 for it in the background
(once per run version; only in a server whose warm-up was started, not in tests or
scripts). Everything goes through the same cached functions the pages call, so the work is
done once whoever asks first; nothing here draws, and a failure is logged, never shown (the
page then computes what it needs itself, and says so if it cannot).

Complexity: step 3 is ``WARM_NETWORKS`` layouts and pictures; memory stays within the caches'
bounds (:data:`rallypoint.dashboard.cluster_network.MAX_NETWORKS` and ``MAX_PICTURES``).
"""

from __future__ import annotations

import gc
import importlib
import inspect
import logging
import pkgutil
import sys
import threading
import time

__all__ = ["WARM_EXPANDS", "WARM_NETWORKS", "start", "warm_run"]

#: How many of a run's largest clusters get their network laid out and drawn ahead of time.
WARM_NETWORKS = 6
#: How many of a run's largest clusters get their Expand tab's default request expanded and drawn.
WARM_EXPANDS = 3
#: Modules of the dashboard that Streamlit runs as scripts, never imported here (see step 1).
SCRIPTS = ("app", "server")

_LOG = logging.getLogger("rallypoint.dashboard.warm")
_warmed: set[tuple[str, str, float]] = set()
_lock = threading.Lock()
_serving = threading.Event()


def start(root: str) -> threading.Thread:
    """Warm the dashboard on the lake at ``root`` in a background thread (returns it, started)."""
    _serving.set()
    thread = threading.Thread(target=_warm_up, args=(root,), name="rallypoint-warm-up", daemon=True)
    thread.start()
    return thread


def warm_run(root: str, run_id: str, *, background: bool = True) -> threading.Thread | None:
    """Read ``run_id``'s tables and lay out its largest networks, once per run version.

    In a background thread unless ``background`` is false; ``None`` when this version was already
    warmed, or when no server started a warm-up (:func:`start`).
    """
    from rallypoint.dashboard.data import run_version
    from rallypoint.lake import Lake

    if not _serving.is_set():
        return None
    key = (root, run_id, run_version(Lake(root), run_id))
    with _lock:
        if key in _warmed:
            return None
        _warmed.add(key)
    if not background:
        _warm_run(root, run_id)
        return None
    thread = threading.Thread(target=_warm_run, args=(root, run_id), name=f"rallypoint-warm-{run_id}", daemon=True)
    thread.start()
    return thread


def dashboard_modules() -> list[str]:
    """The dashboard's modules the warm-up imports: all but the scripts and the pages (step 1)."""
    from rallypoint import dashboard
    from rallypoint.dashboard import views

    return [f"{package.__name__}.{info.name}" for package in (dashboard, views)
            for info in pkgutil.iter_modules(package.__path__)
            if not info.ispkg and info.name not in SCRIPTS and not info.name.endswith("_page")]


def _warm_up(root: str) -> None:
    from rallypoint import touch_index

    started = time.perf_counter()
    try:
        for name in dashboard_modules():
            importlib.import_module(name)
        imported = time.perf_counter()
        from rallypoint.lake import Lake

        runs = Lake(root).run_ids()
        if runs:
            warm_run(root, runs[-1], background=False)
        touch_index.ensure(root)
    except Exception:  # a warm-up that fails costs the first page its time, nothing else
        _LOG.exception("rallypoint: warming the dashboard failed; pages will compute what they need")
        return
    inspect.stack()  # step 5: inspect's module-to-file map, built once for every module imported so far
    # the server's own output, as its start line is (the benchmark waits for it)
    print(f"rallypoint dashboard warm: imports {imported - started:.1f} s, the newest run's tables and largest "
          f"networks {time.perf_counter() - imported:.1f} s", file=sys.stderr, flush=True)


def _warm_run(root: str, run_id: str) -> None:
    from rallypoint.dashboard.cluster_network import cluster_figure, cluster_network, cluster_picture
    from rallypoint.dashboard.cluster_timeline import cluster_timeline_picture
    from rallypoint.dashboard.data import (
        chain_state,
        clusters_with_status,
        interactions_version,
        run_table,
        run_version,
    )
    from rallypoint.dashboard.network_picture import PICTURE_ABOVE
    from rallypoint.dashboard.views.expand_section import prepare_default
    from rallypoint.lake import Lake

    try:
        current = Lake(root)
        version = run_version(current, run_id)
        chain_state(current)
        clusters = clusters_with_status(current, run_id)
        for name in ("edges", "evidence"):
            run_table(current, run_id, name)
        largest = clusters.sort("n_accounts", descending=True).head(WARM_NETWORKS)
        for rank, (cluster_id, n_accounts) in enumerate(largest.select("cluster_id", "n_accounts").iter_rows()):
            draw = cluster_picture if n_accounts > PICTURE_ABOVE else cluster_figure
            draw(root, run_id, cluster_id, version)
            # the timeline tab's picture, from the members' actions as the tab asks for them (same accounts, same order)
            members = cluster_network(root, run_id, cluster_id, version).members
            cluster_timeline_picture(root, run_id, cluster_id, tuple(members["account_id"].to_list()), version,
                                     interactions_version(current))
            if rank < WARM_EXPANDS:
                prepare_default(root, run_id, cluster_id, members)
        gc.freeze()  # step 5: what lives as long as the caches is not walked after every script run
    except Exception:
        _LOG.exception("rallypoint: warming run %s failed; its pages will compute what they need", run_id)
