"""The exposure log: first exposures, written off the decision's critical path.

Exposures are queued in memory and a background thread inserts them in batches (a
`QueuedWriter`, as the decision log is). A unit already exposed keeps its first row: the
insert does nothing on conflict, except to note the profile id of a unit first seen
anonymously. ``flush`` writes what is queued from the calling thread (results, tests).

>>> # log.record([{"workspace_id": ..., "experiment_id": ..., "unit_id": ..., ...}])
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from unico.db.engine import Store
from unico.db.queued import QueuedWriter
from unico.experiments.store import ExperimentStore


class ExposureLog(QueuedWriter):
    """First exposures, inserted in batches."""

    thread_name = "unico-exposures"

    def __init__(
        self, store: Store, experiments: ExperimentStore, *, interval: float = 0.1
    ) -> None:
        super().__init__(store, interval=interval)
        self.experiments = experiments

    def write(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        # One row per unit and experiment in a statement (ON CONFLICT needs it).
        unique = {(r["workspace_id"], r["experiment_id"], r["unit_id"]): r for r in rows}
        self.experiments.record_exposures(conn, list(unique.values()))
