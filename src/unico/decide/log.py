"""The decision log, written off the request's critical path (see `QueuedWriter`).

>>> # log.record([row, ...]); log.flush()
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from unico.db.engine import Store
from unico.db.queued import QueuedWriter
from unico.decide.store import DecideStore


class DecisionLog(QueuedWriter):
    """Decision rows (one per placement of each decision), inserted in batches."""

    thread_name = "unico-decision-log"

    def __init__(self, store: Store, decide_store: DecideStore, *, interval: float = 0.05) -> None:
        super().__init__(store, interval=interval)
        self.decide_store = decide_store

    def write(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self.decide_store.insert_decisions(conn, rows)
