"""Writing statements in transactions: retried, counted, in parallel sessions."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rallypoint.neo4j.batches import Statement
from rallypoint.neo4j.model import CALL_LOAD_PROCEDURE


@dataclass
class WriteCounts:
    """What Neo4j reports it changed, summed over transactions."""

    nodes_created: int = 0
    relationships_created: int = 0
    relationships_deleted: int = 0
    nodes_deleted: int = 0
    properties_set: int = 0
    transactions: int = 0
    rows: int = 0

    def add(self, counters, rows: int, transactions: int = 1) -> None:
        self.nodes_created += counters.nodes_created
        self.relationships_created += counters.relationships_created
        self.relationships_deleted += counters.relationships_deleted
        self.nodes_deleted += counters.nodes_deleted
        self.properties_set += counters.properties_set
        self.transactions += transactions
        self.rows += rows

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class BatchWriter:
    """Writes batches of rows with ``UNWIND`` statements, each batch in one retried transaction."""

    driver: Any
    counts: WriteCounts = field(default_factory=WriteCounts)
    database: str | None = None
    #: wall-clock seconds spent in ``write_together`` transactions (summed over workers)
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def write(self, query: str, rows: list[dict[str, Any]], **params: Any) -> None:
        if not rows:
            return

        def work(tx):
            return tx.run(query, rows=rows, **params).consume().counters

        with self.driver.session(database=self.database) as session:
            counters = session.execute_write(work)
        self.counts.add(counters, len(rows))

    def write_together(self, statements: list[Statement]) -> list[dict[str, list[Any]]]:
        """Run several statements in ONE retried transaction (one commit per record batch).

        ``statements`` are (query, parameters) pairs whose parameters are equally long column
        lists; a statement with no rows is not sent. Returns, for each statement (in order), the
        columns of the one record it returned (``{}`` if it returned nothing or was not sent).
        A retry re-runs them all, which is safe because each one MERGEs. Adds the
        transaction's wall time to ``seconds``.
        """
        sent = [(i, query, params) for i, (query, params) in enumerate(statements) if _row_count(params)]
        answers: list[dict[str, list[Any]]] = [{} for _ in statements]
        if not sent:
            return answers

        def work(tx):
            outcome = []
            for _, query, params in sent:
                result = tx.run(query, params)
                record = result.single(strict=False)
                outcome.append((record.data() if record is not None else {}, result.consume().counters))
            return outcome

        started = time.perf_counter()
        # id() is deprecated in Cypher 5 (without a replacement of the same cost: elementId()
        # strings are ~40 bytes each way); it stays valid, so its warning is not wanted here.
        with self.driver.session(database=self.database,
                                 notifications_disabled_classifications=["DEPRECATION"]) as session:
            results = session.execute_write(work)
        with self._lock:
            self.seconds += time.perf_counter() - started
            for n, ((data, counters), (i, _, params)) in enumerate(zip(results, sent, strict=True)):
                self.counts.add(counters, _row_count(params), transactions=int(n == 0))
                answers[i] = data
        return answers

    def call_load_procedure(self, batch: dict[str, Any]) -> None:
        """Run ``rallypoint.loadBatch`` on one batch map in one retried transaction; adds what it wrote."""

        def work(tx):
            return tx.run(CALL_LOAD_PROCEDURE, batch=batch).single(strict=True).data()

        started = time.perf_counter()
        with self.driver.session(database=self.database) as session:
            written = session.execute_write(work)
        with self._lock:
            self.seconds += time.perf_counter() - started
            self.counts.nodes_created += written["nodes"]
            self.counts.relationships_created += written["relationships"]
            self.counts.properties_set += written["properties"]
            self.counts.transactions += 1
            self.counts.rows += len(batch["posts"]["id"])


def _row_count(params: dict[str, list[Any]]) -> int:
    """The rows of a statement whose parameters are parallel column lists."""
    return len(next(iter(params.values()))) if params else 0
