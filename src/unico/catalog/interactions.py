"""Item interactions: the implicit feedback recommenders learn from, derived from Segment
e-commerce events as they are ingested.

=====================  ========  ======  ==========================================
event                  kind      weight  item id
=====================  ========  ======  ==========================================
``Product Viewed``     view      1       ``product_id``, else ``sku``, else ``id``
``Product Clicked``    click     2       same
``Product Added``      cart      3       same
``Order Completed``    purchase  5       each of ``products[]`` (same keys)
=====================  ========  ======  ==========================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sqlalchemy import Connection

from unico.catalog.events import KINDS, WEIGHTS, product_ids
from unico.catalog.freshness import Freshener
from unico.catalog.service import CatalogService
from unico.catalog.store import CatalogStore, InteractionRow, TailRow
from unico.collect.pipeline import ProfiledGroup
from unico.core.types import EpochMs
from unico.recommend.base import TrainingData
from unico.store.engine import Store


@dataclass(frozen=True, slots=True)
class Interaction:
    item_id: str
    kind: str
    weight: float
    at: EpochMs


class InteractionListener:
    """Writes interactions and keeps the catalog fresh inside the ingest transaction (an
    `unico.collect.pipeline.EventListener`). Merges re-point the loser's interactions to
    the survivor."""

    def __init__(self, items: CatalogStore, catalog: CatalogService) -> None:
        self.items = items
        self.catalog = catalog
        self.freshener = Freshener(items)
        #: Workspaces whose catalog this writer changed (bounded by the workspaces).
        self._bumped: set[str] = set()

    def on_events(self, conn: Connection, group: ProfiledGroup) -> None:
        ws = group.workspace_id
        for merge in group.merges:
            self.items.repoint(conn, ws, merge.from_profile, merge.into_profile)
        rows: list[InteractionRow] = []
        for event, profile_id in group.events:
            kind = KINDS.get(event.name or "") if event.type == "track" else None
            if kind is None:
                continue
            for item_id in product_ids(event.name or "", event.properties):
                rows.append((profile_id, item_id, kind, WEIGHTS[kind], event.timestamp))
        self.items.add_interactions(conn, ws, rows)
        version = self.freshener.apply(conn, ws, [e for e, _ in group.events])
        if version is not None:
            self._bumped.add(ws)
            self.catalog.wrote(ws, version)

    def rollback(self) -> None:
        self.catalog.forget_writes(sorted(self._bumped))
        self._bumped.clear()


class InteractionStore:
    """Reading interactions: a person's recent ones (per decision), new rows (tailing) and
    training snapshots.

    >>> # interactions.recent(ws, "p_…", limit=20)[0]
    >>> # Interaction(item_id='sku-1', kind='view', weight=1.0, at=1768471200000)
    """

    def __init__(self, store: Store, items: CatalogStore, catalog: CatalogService) -> None:
        self.store = store
        self.items = items
        self.catalog = catalog

    def recent(self, workspace_id: str, profile_id: str, limit: int = 50) -> list[Interaction]:
        """A person's latest interactions, newest first (one index range read)."""
        with self.store.read() as conn:
            return self.recent_in(conn, workspace_id, profile_id, limit)

    def recent_in(
        self, conn: Connection, workspace_id: str, profile_id: str, limit: int = 50
    ) -> list[Interaction]:
        """`recent`, inside the caller's read (a decision reads the person in one)."""
        return [Interaction(*r) for r in self.items.recent(conn, workspace_id, profile_id, limit)]

    def since(self, workspace_id: str, after_id: int, limit: int = 1000) -> list[TailRow]:
        """Rows with an id above ``after_id`` in id order: ``(id, profile_id, item_id,
        weight, at)``, for tailing new interactions.

        On SQLite ids commit in order. On PostgreSQL concurrent writers take ids from one
        sequence and may commit them out of order, so a row with a smaller id can appear
        after a larger one was read: a tailer should ask again from a little behind its
        cursor (``after_id - lookback``, a few thousand ids, or the last id older than a
        few seconds) and skip the ids it already saw.
        """
        with self.store.read() as conn:
            return self.items.since(conn, workspace_id, after_id, limit)

    def training_data(
        self,
        workspace_id: str,
        *,
        since_ms: EpochMs | None = None,
        max_rows: int | None = None,
        now_ms: EpochMs,
    ) -> TrainingData:
        """Weights summed per (person, item) over interactions at or after ``since_ms``
        (the newest ``max_rows`` of them), with the latest time of each, and the catalog
        (every live item, interacted with or not). Users and items are sorted by id."""
        with self.store.read() as conn:
            totals = self.items.totals(conn, workspace_id, since_ms=since_ms, max_rows=max_rows)
        users = sorted({t[0] for t in totals})
        item_ids = sorted({t[1] for t in totals})
        matrix, last_seen = _matrices(totals, users, item_ids)
        catalog = self.catalog.snapshot(workspace_id).infos()
        return TrainingData(users, item_ids, matrix, last_seen, catalog, now_ms)

    def erase(self, conn: Connection, workspace_id: str, profile_ids: list[str]) -> dict[str, int]:
        """The eraser of `unico.profiles.service.ProfileService`: a person's interactions."""
        return {"interaction": self.items.erase_interactions(conn, workspace_id, profile_ids)}


def _matrices(
    totals: Sequence[tuple[str, str, float, EpochMs]], users: list[str], items: list[str]
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    user_index = {u: i for i, u in enumerate(users)}
    item_index = {it: i for i, it in enumerate(items)}
    rows = np.fromiter((user_index[t[0]] for t in totals), dtype=np.int64, count=len(totals))
    cols = np.fromiter((item_index[t[1]] for t in totals), dtype=np.int64, count=len(totals))
    weights = np.fromiter((t[2] for t in totals), dtype=np.float64, count=len(totals))
    times = np.fromiter((t[3] for t in totals), dtype=np.float64, count=len(totals))
    shape = (len(users), len(items))
    matrix = sparse.csr_matrix((weights, (rows, cols)), shape=shape)
    last_seen = sparse.csr_matrix((times, (rows, cols)), shape=shape)
    return matrix, last_seen
