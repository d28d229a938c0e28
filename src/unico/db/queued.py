"""Rows written off a request's critical path: queued in memory, inserted in batches.

A background thread writes what is queued every ``interval`` seconds, each batch in a
short write transaction (on SQLite the ingest writer is another process, so a long one
would hold it up). ``stop`` drains the queue, so a clean shutdown loses nothing that was
answered; ``flush`` writes what is queued from the calling thread (tests, admin reads).
People erased while their rows wait are remembered (``forget``) and their rows never
written. The decision log and the exposure log are two of these.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from unico.core.worker import Worker
from unico.db.engine import Store

log = logging.getLogger("unico.store")

BATCH = 500
#: Erased people remembered so that their queued rows are never written.
MAX_ERASED = 100_000
#: The columns that name a person in queued rows.
PERSON_COLUMNS = ("profile_id", "anonymous_id", "user_id")


class QueuedWriter:
    """Queue rows with ``record``; subclasses say how a batch is written (``write``)."""

    #: The background thread's name.
    thread_name = "unico-queued-writer"

    def __init__(self, store: Store, *, interval: float) -> None:
        self.store = store
        self.interval = interval
        # deque appends and pops are atomic: the request path takes no lock.
        self._pending: deque[dict[str, Any]] = deque()
        self._write_lock = threading.Lock()
        self._worker = Worker(
            self.thread_name,
            self._write_pending,
            interval=interval,
            logger=log,
            failure="writing queued rows failed; retrying",
        )
        #: (workspace, "profile_id"/"anonymous_id"/"user_id", value) of erased people.
        self._erased: dict[tuple[str, str, str], None] = {}

    def write(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert one batch (the rows of erased people already left out)."""
        raise NotImplementedError

    def record(self, rows: Iterable[dict[str, Any]]) -> None:
        self._pending.extend(rows)

    def forget(self, workspace_id: str, people: list[tuple[str, str]]) -> None:
        """Never write the queued rows of these ``(column, value)`` people. Called inside an
        erasure's transaction: a batch is filtered after its own write transaction began,
        so (on SQLite, whose writes are serialized) it sees every erasure committed before."""
        for column, value in people:
            self._erased[(workspace_id, column, value)] = None
        while len(self._erased) > MAX_ERASED:
            del self._erased[next(iter(self._erased))]

    def _kept(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self._erased:
            return rows
        return [
            r
            for r in rows
            if not any(
                (r["workspace_id"], column, r[column]) in self._erased
                for column in PERSON_COLUMNS
                if r[column] is not None
            )
        ]

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Write everything queued now; how many rows."""
        written = 0
        with self._write_lock:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
                try:
                    with self.store.write() as conn:
                        self.write(conn, self._kept(batch))
                except Exception:
                    # Put them back in order: the next round retries.
                    self._pending.extendleft(reversed(batch))
                    raise
                written += len(batch)
        return written

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self.flush()

    def _write_pending(self) -> None:
        # A failing write keeps its rows queued (`flush`): the worker retries next round.
        if self._pending:
            self.flush()
