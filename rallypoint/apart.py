"""Calls run in a new Python process, for work that holds the GIL long (igraph's Leiden) while
this process has other work to do.

A plain child interpreter (``python -m rallypoint.apart``), not ``multiprocessing``: its
``spawn`` re-imports the caller's ``__main__``, which a script without a main guard would run
again, and forking a process whose threads are running is unsafe. The call (a module-level
function and its arguments) and its result travel pickled through the child's stdin and
stdout; what the child prints goes to its stderr.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rallypoint.errors import RallypointError


class ApartError(RallypointError):
    """A call run in a process of its own failed there."""


def call_apart(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a new Python process; its result, or :class:`ApartError`."""
    payload = pickle.dumps((function.__module__, function.__qualname__, args), protocol=pickle.HIGHEST_PROTOCOL)
    # the child imports this very package, wherever this process found it
    here = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-m", "rallypoint.apart"], input=payload, capture_output=True,
                          env={**os.environ, "PYTHONPATH": path})
    del payload
    if done.returncode != 0:
        name = function.__qualname__
        if done.returncode < 0:
            raise ApartError(f"The process running {name} was ended by signal {-done.returncode} "
                             "(the system may have run out of memory).")
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        raise ApartError(f"{name} failed in its process: {lines[-1] if lines else f'exit {done.returncode}'}")
    return pickle.loads(done.stdout)


class ApartExecutor(Executor):
    """An executor whose every call runs in a new process (:func:`call_apart`), waited for on a
    thread of this one."""

    def __init__(self) -> None:
        self._waiting = ThreadPoolExecutor(1, thread_name_prefix="apart")

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if kwargs:
            raise TypeError("ApartExecutor passes positional arguments only.")
        return self._waiting.submit(call_apart, fn, *args)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._waiting.shutdown(wait, cancel_futures=cancel_futures)


def _serve() -> None:
    """The child's side: read the call from stdin, write its pickled result to stdout."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the result
    module, name, args = pickle.load(sys.stdin.buffer)
    result = getattr(importlib.import_module(module), name)(*args)
    out.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    out.flush()


if __name__ == "__main__":
    _serve()


__all__ = ["ApartError", "ApartExecutor", "call_apart"]
