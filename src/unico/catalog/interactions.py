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

from array import array
from collections.abc import Iterable
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
from unico.db.engine import DbapiSource, Store
from unico.recommend.base import TrainingData


# Not frozen, to be made faster (see `unico.decide.ranking.Slot`): every decision reads
# a person's latest few.
@dataclass(slots=True)
class Interaction:
    """One of a person's interactions with an item; made once and never changed."""

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
        self, conn: DbapiSource, workspace_id: str, profile_id: str, limit: int = 50
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

    def last_id(self, workspace_id: str) -> int:
        """The workspace's newest interaction row id (0: none yet): where a training run cuts."""
        with self.store.read() as conn:
            return self.items.last_id(conn, workspace_id)

    def training_data(
        self,
        workspace_id: str,
        *,
        since_ms: EpochMs | None = None,
        max_rows: int | None = None,
        max_id: int | None = None,
        now_ms: EpochMs,
    ) -> TrainingData:
        """Weights summed per (person, item) over interactions at or after ``since_ms``
        (the newest ``max_rows`` of them, with an id up to ``max_id``), with the latest time
        of each, and the catalog (every live item, interacted with or not). Users and items
        are sorted by id."""
        with self.store.read() as conn:
            totals = self.items.totals(
                conn, workspace_id, since_ms=since_ms, max_rows=max_rows, max_id=max_id
            )
            users, item_ids, matrix, last_seen = _matrices(totals)
        catalog = self.catalog.snapshot(workspace_id).infos()
        return TrainingData(users, item_ids, matrix, last_seen, catalog, now_ms)


def _matrices(
    totals: Iterable[tuple[str, str, float, EpochMs]],
) -> tuple[list[str], list[str], sparse.csr_matrix, sparse.csr_matrix]:
    """Sorted user and item ids, and the weight and last-seen matrices of ``totals``, read
    once as they stream: only the ids (once each) and four flat arrays are kept."""
    user_index: dict[str, int] = {}
    item_index: dict[str, int] = {}
    rows, cols, weights, times = array("q"), array("q"), array("d"), array("d")
    for user, item, weight, at in totals:
        rows.append(user_index.setdefault(user, len(user_index)))
        cols.append(item_index.setdefault(item, len(item_index)))
        weights.append(weight)
        times.append(at)
    users, items = sorted(user_index), sorted(item_index)
    # Ids were numbered as they came (the database's order need not be Python's): renumber.
    user_rank = _ranks(user_index, users)
    item_rank = _ranks(item_index, items)
    r = user_rank[np.frombuffer(rows, dtype=np.int64)] if rows else np.empty(0, np.int64)
    c = item_rank[np.frombuffer(cols, dtype=np.int64)] if cols else np.empty(0, np.int64)
    shape = (len(users), len(items))
    w = np.frombuffer(weights, dtype=np.float64) if weights else np.empty(0)
    t = np.frombuffer(times, dtype=np.float64) if times else np.empty(0)
    matrix = sparse.csr_matrix((w, (r, c)), shape=shape)
    last_seen = sparse.csr_matrix((t, (r, c)), shape=shape)
    return users, items, matrix, last_seen


def _ranks(index: dict[str, int], ordered: list[str]) -> np.ndarray:
    """``rank[i]``: where the id numbered ``i`` on arrival stands in ``ordered``."""
    rank = np.empty(len(ordered), dtype=np.int64)
    rank[np.fromiter((index[i] for i in ordered), np.int64, len(ordered))] = np.arange(len(ordered))
    return rank
