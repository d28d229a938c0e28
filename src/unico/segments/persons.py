"""What the segments context holds on a person: memberships, window states, the sweeper's
schedule, and static list entries (resolved to them, or waiting for one of their
identities)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from unico.core.clock import to_iso
from unico.core.types import JSON, ProfileId, WorkspaceId
from unico.profiles.store import ProfileStore
from unico.segments.store import SegmentStore

#: The columns holding an epoch-ms time, shown as ISO 8601.
TIMES = ("since", "next_check_at", "added_at")


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {k: to_iso(v) if k in TIMES and v is not None else v for k, v in row.items()}


class SegmentData:
    """`unico.core.persons.PersonData` of segments."""

    name = "segments"
    tables = ("segment_membership", "segment_window", "segment_schedule", "segment_list_entry")

    def __init__(self, segments: SegmentStore, profiles: ProfileStore) -> None:
        self.segments = segments
        self.profiles = profiles

    def flush(self) -> None:
        """Nothing queued: memberships are written in the ingest transaction."""

    def _keys(
        self, conn: Connection, workspace_id: str, profile_ids: Sequence[str]
    ) -> list[tuple[str, str]]:
        return [
            (i["kind"], i["value"])
            for pid in profile_ids
            for i in self.profiles.identities_of(conn, workspace_id, pid)
        ]

    def export(
        self, conn: Connection, workspace_id: WorkspaceId, profile_ids: Sequence[ProfileId]
    ) -> dict[str, list[JSON]]:
        keys = self._keys(conn, workspace_id, profile_ids)
        rows = self.segments.export_person(conn, workspace_id, list(profile_ids), keys)
        return {table: [_shown(r) for r in found] for table, found in rows.items()}

    def erase(
        self, conn: Connection, workspace_id: WorkspaceId, profile_ids: Sequence[ProfileId]
    ) -> dict[str, int]:
        keys = self._keys(conn, workspace_id, profile_ids)
        counts = self.segments.erase(conn, workspace_id, list(profile_ids))
        # An entry waiting for an erased identity would wait for ever (the suppression drops
        # the identity's events) while naming the person.
        counts["segment_list_entry"] += self.segments.erase_pending(conn, workspace_id, keys)
        return counts
