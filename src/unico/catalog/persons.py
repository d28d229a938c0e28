"""What the catalog context holds on a person: their item interactions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from unico.catalog.store import CatalogStore
from unico.core.clock import to_iso
from unico.core.types import JSON, ProfileId, WorkspaceId


class InteractionData:
    """`unico.core.persons.PersonData` of the catalog: who viewed, clicked, carted or bought
    which item, and when."""

    name = "interactions"
    tables = ("interaction",)

    def __init__(self, items: CatalogStore) -> None:
        self.items = items

    def flush(self) -> None:
        """Nothing queued: interactions are written in the ingest transaction."""

    def export(
        self, conn: Connection, workspace_id: WorkspaceId, profile_ids: Sequence[ProfileId]
    ) -> dict[str, list[JSON]]:
        rows = self.items.export_interactions(conn, workspace_id, list(profile_ids))
        return {"interaction": [{**r, "at": to_iso(r["at"])} for r in rows]}

    def erase(
        self, conn: Connection, workspace_id: WorkspaceId, profile_ids: Sequence[ProfileId]
    ) -> dict[str, int]:
        return {"interaction": self.items.erase_interactions(conn, workspace_id, list(profile_ids))}
