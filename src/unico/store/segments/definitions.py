"""Segment definitions and the workspace's catalog version (SQL, SQLite and PostgreSQL alike)."""

from __future__ import annotations

from sqlalchemy import (
    Connection,
    delete,
    select,
    update,
)

from unico.db.segments_schema import (
    segment,
    segment_catalog,
    segment_list_entry,
    segment_membership,
)
from unico.segments.store import SegmentRow
from unico.store.segments.base import SqlSegmentBase, segment_row


class SqlSegmentDefinitions(SqlSegmentBase):
    """Segment definitions and the workspace's catalog version."""

    def version(self, conn: Connection, workspace_id: str) -> int:
        query = select(segment_catalog.c.version).where(
            segment_catalog.c.workspace_id == workspace_id
        )
        return int(conn.execute(query).scalar() or 0)

    def bump_version(self, conn: Connection, workspace_id: str) -> None:
        self.bulk.executemany(
            conn,
            "INSERT INTO segment_catalog (workspace_id, version) VALUES (?, 1)"
            " ON CONFLICT (workspace_id) DO UPDATE SET version = segment_catalog.version + 1",
            [(workspace_id,)],
        )

    def segments(self, conn: Connection, workspace_id: str) -> list[SegmentRow]:
        query = (
            select(segment)
            .where(segment.c.workspace_id == workspace_id)
            .order_by(segment.c.created_at, segment.c.segment_id)
        )
        return [segment_row(r) for r in conn.execute(query)]

    def workspaces_with_segments(self, conn: Connection) -> list[str]:
        return list(conn.execute(select(segment_catalog.c.workspace_id)).scalars())

    def insert(self, conn: Connection, workspace_id: str, row: SegmentRow) -> None:
        conn.execute(
            segment.insert().values(
                workspace_id=workspace_id,
                segment_id=row.segment_id,
                name=row.name,
                kind=row.kind,
                condition=row.condition,
                description=row.description,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
        )
        self.bump_version(conn, workspace_id)

    def update(self, conn: Connection, workspace_id: str, row: SegmentRow) -> None:
        conn.execute(
            update(segment)
            .where(segment.c.workspace_id == workspace_id, segment.c.segment_id == row.segment_id)
            .values(
                name=row.name,
                condition=row.condition,
                description=row.description,
                updated_at=row.updated_at,
            )
        )
        self.bump_version(conn, workspace_id)

    def delete(self, conn: Connection, workspace_id: str, segment_id: str) -> None:
        for table in (segment_membership, segment_list_entry, segment):
            conn.execute(
                delete(table).where(
                    table.c.workspace_id == workspace_id, table.c.segment_id == segment_id
                )
            )
        self.bump_version(conn, workspace_id)
