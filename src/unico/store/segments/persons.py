"""What segments hold on a person across their tables: merge, erase, export (SQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    delete,
    select,
    update,
)

from unico.db.segments_schema import (
    segment_list_entry,
    segment_membership,
    segment_schedule,
    segment_window,
)
from unico.store.profiles import chunks
from unico.store.segments.base import SqlSegmentBase, keyed, person_row


class SqlSegmentPersonData(SqlSegmentBase):
    """What segments hold on a person, across the tables: merge, erase, export."""

    def move_profiles(self, conn: Connection, workspace_id: str, moves: dict[str, str]) -> None:
        """Merged profiles: their list entries follow the survivor; the rest of their state
        (folded into the survivor's by the caller) goes."""
        e = segment_list_entry.c
        for loser, survivor in moves.items():
            conn.execute(
                update(segment_list_entry)
                .where(e.workspace_id == workspace_id, e.profile_id == loser)
                .values(profile_id=survivor)
            )
        self.erase(conn, workspace_id, list(moves), entries=False)

    def erase(
        self, conn: Connection, workspace_id: str, profile_ids: list[str], *, entries: bool = True
    ) -> dict[str, int]:
        tables = [segment_membership, segment_window, segment_schedule]
        if entries:
            tables.append(segment_list_entry)
        counts: dict[str, int] = {}
        for table in tables:
            deleted = 0
            for part in chunks(profile_ids):
                query = delete(table).where(
                    table.c.workspace_id == workspace_id, table.c.profile_id.in_(part)
                )
                deleted += conn.execute(query).rowcount
            counts[table.name] = deleted
        return counts

    def erase_pending(
        self, conn: Connection, workspace_id: str, keys: Sequence[tuple[str, str]]
    ) -> int:
        """Delete the list entries still waiting for one of these identities."""
        e = segment_list_entry.c
        return sum(
            conn.execute(
                delete(segment_list_entry).where(
                    e.workspace_id == workspace_id, e.profile_id.is_(None), keyed(part)
                )
            ).rowcount
            for part in chunks(sorted(set(keys)))
        )

    def export_person(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: list[str],
        keys: Sequence[tuple[str, str]],
    ) -> dict[str, list[dict[str, Any]]]:
        """What `erase` and `erase_pending` delete, per table (times in epoch ms): the
        person's memberships, window states, schedule, and list entries resolved to them or
        waiting for one of their identities (``keys``)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for table in (segment_membership, segment_window, segment_schedule, segment_list_entry):
            out[table.name] = [
                person_row(r)
                for part in chunks(profile_ids)
                for r in conn.execute(
                    select(table).where(
                        table.c.workspace_id == workspace_id, table.c.profile_id.in_(part)
                    )
                )
            ]
        e = segment_list_entry.c
        out[segment_list_entry.name] += [
            person_row(r)
            for part in chunks(sorted(set(keys)))
            for r in conn.execute(
                select(segment_list_entry).where(
                    e.workspace_id == workspace_id, e.profile_id.is_(None), keyed(part)
                )
            )
        ]
        return out
