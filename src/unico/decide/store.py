"""What the decide context needs from a store: placements, the decision log and outcomes.
Implemented for SQLite and PostgreSQL in ``unico.store.decide``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection

from unico.core.types import EpochMs


class DecideStore(Protocol):
    """Storage of placements (with a per-workspace revision), decisions and outcomes."""

    def revision(self, conn: Connection, workspace_id: str) -> int:
        """Bumped by every placement change: what a cache compares."""

    def placements(self, conn: Connection, workspace_id: str) -> dict[str, dict[str, Any]]:
        """Every placement of a workspace: name -> stored spec."""

    def placement_workspaces(self, conn: Connection) -> list[str]:
        """Workspaces with at least one placement (the ones worth training models for)."""

    def save_placement(
        self, conn: Connection, workspace_id: str, name: str, spec: dict[str, Any], now: EpochMs
    ) -> bool:
        """Insert or replace a placement; True when it is new. Bumps the revision."""

    def delete_placement(self, conn: Connection, workspace_id: str, name: str) -> bool: ...

    def insert_decisions(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None: ...

    def insert_outcomes(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None: ...

    def decision(
        self, conn: Connection, workspace_id: str, decision_id: str
    ) -> dict[str, Any] | None: ...

    def outcomes(
        self, conn: Connection, workspace_id: str, decision_id: str
    ) -> list[dict[str, Any]]: ...

    def impressions(
        self, conn: Connection, workspace_id: str, profile_id: str, since: EpochMs
    ) -> dict[str, int]:
        """Item id -> how many times the person was shown it since ``since``."""

    def erase(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: Sequence[str],
        anonymous_ids: Sequence[str],
        user_ids: Sequence[str],
    ) -> dict[str, int]:
        """Delete a person's decisions and outcomes; rows deleted per table."""

    def export_person(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: Sequence[str],
        anonymous_ids: Sequence[str],
        user_ids: Sequence[str],
    ) -> dict[str, list[dict[str, Any]]]:
        """The rows `erase` deletes, per table, oldest first (times in epoch ms)."""
