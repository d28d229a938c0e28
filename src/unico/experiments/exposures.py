"""The exposure log: first exposures, written off the decision's critical path.

Exposures are queued in memory and a background thread inserts them in batches (the
same pattern as the decision log). A unit already exposed keeps its first row: the
insert does nothing on conflict, except to note the profile id of a unit first seen
anonymously. ``flush`` writes what is queued from the calling thread (results, tests).

>>> # log.record({"workspace_id": ..., "experiment_id": ..., "unit_id": ..., ...}); log.flush()
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from unico.store.engine import Store
from unico.store.experiments import SqlExperimentStore

log = logging.getLogger("unico.experiments")

BATCH = 500
#: Erased people remembered so that their queued exposures are never written.
MAX_ERASED = 100_000


class ExposureLog:
    def __init__(
        self, store: Store, experiments: SqlExperimentStore, *, interval: float = 0.1
    ) -> None:
        self.store = store
        self.experiments = experiments
        self.interval = interval
        self._pending: deque[dict[str, Any]] = deque()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: (workspace, "profile_id"/"anonymous_id"/"user_id", value) of erased people.
        self._erased: dict[tuple[str, str, str], None] = {}

    def forget(self, workspace_id: str, people: list[tuple[str, str]]) -> None:
        """Never write the queued exposures of these ``(column, value)`` people (called
        inside an erasure's transaction, which must not wait for this log's writes)."""
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
                for column in ("profile_id", "anonymous_id", "user_id")
                if r[column] is not None
            )
        ]

    def record(self, row: dict[str, Any]) -> None:
        self._pending.append(row)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Write everything queued now; how many rows."""
        written = 0
        with self._write_lock:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
                # One row per unit and experiment in a statement (ON CONFLICT needs it).
                unique = {
                    (r["workspace_id"], r["experiment_id"], r["unit_id"]): r
                    for r in self._kept(batch)
                }
                try:
                    with self.store.write() as conn:
                        self.experiments.record_exposures(conn, list(unique.values()))
                except Exception:
                    self._pending.extendleft(reversed(batch))
                    raise
                written += len(batch)
        return written

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="unico-exposures", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self._pending:
                try:
                    self.flush()
                except Exception:  # the store is busy or down: keep the rows, retry soon
                    log.exception("writing exposures failed; retrying")
