"""What the catalog context needs from a store. Implemented for SQLite and PostgreSQL in
``unico.store.catalog``; the tests run it against both."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeAlias

from sqlalchemy import Connection

from unico.catalog.model import Item
from unico.core.types import EpochMs
from unico.db.engine import DbapiSource

#: (profile_id, item_id, kind, weight, at)
InteractionRow: TypeAlias = tuple[str, str, str, float, EpochMs]
#: (id, profile_id, item_id, weight, at)
TailRow: TypeAlias = tuple[int, str, str, float, EpochMs]
#: (profile_id, item_id, summed weight, latest at)
Totals: TypeAlias = tuple[str, str, float, EpochMs]


class CatalogStore(Protocol):
    """Items (deleted ones kept as tombstones), one catalog version per workspace that
    every change bumps, and item interactions."""

    def bump(self, conn: Connection, workspace_id: str) -> int:
        """The next catalog version; concurrent writers get increasing ones in commit order."""

    def version(self, conn: Connection, workspace_id: str) -> int: ...

    def write_items(
        self, conn: Connection, workspace_id: str, items: Sequence[Item], version: int
    ) -> None: ...

    def mark_deleted(
        self, conn: Connection, workspace_id: str, item_id: str, version: int, now: EpochMs
    ) -> bool: ...

    def get(self, conn: Connection, workspace_id: str, item_id: str) -> Item | None: ...

    def find(
        self, conn: Connection, workspace_id: str, item_ids: Iterable[str]
    ) -> dict[str, tuple[Item, bool]]: ...

    def page(
        self,
        conn: Connection,
        workspace_id: str,
        *,
        limit: int,
        after: str | None,
        category: tuple[str, ...] = (),
    ) -> list[Item]: ...

    def changed_since(
        self, conn: Connection, workspace_id: str, version: int
    ) -> list[tuple[Item, bool]]: ...

    def add_interactions(
        self, conn: Connection, workspace_id: str, rows: Sequence[InteractionRow]
    ) -> None: ...

    def repoint(self, conn: Connection, workspace_id: str, loser: str, survivor: str) -> int: ...

    def erase_interactions(
        self, conn: Connection, workspace_id: str, profile_ids: list[str]
    ) -> int: ...

    def export_interactions(
        self, conn: Connection, workspace_id: str, profile_ids: list[str]
    ) -> list[dict[str, Any]]:
        """The rows `erase_interactions` deletes, oldest first (times in epoch ms)."""

    def recent(
        self, conn: DbapiSource, workspace_id: str, profile_id: str, limit: int
    ) -> list[tuple[str, str, float, EpochMs]]: ...

    def since(
        self, conn: Connection, workspace_id: str, after_id: int, limit: int
    ) -> list[TailRow]: ...

    def last_id(self, conn: Connection, workspace_id: str) -> int: ...

    def totals(
        self,
        conn: Connection,
        workspace_id: str,
        *,
        since_ms: EpochMs | None,
        max_rows: int | None,
        max_id: int | None = None,
    ) -> Iterator[Totals]: ...
