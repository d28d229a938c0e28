"""When each profile's memberships must next be checked (SQL, SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite

from unico.core.types import EpochMs
from unico.db.segments_schema import (
    segment_schedule,
)
from unico.store.segments.base import SqlSegmentBase


class SqlSegmentSchedule(SqlSegmentBase):
    """When each profile's memberships must next be checked."""

    def write_schedule(
        self, conn: Connection, workspace_id: str, due: Sequence[tuple[str, EpochMs | None]]
    ) -> None:
        """Set each profile's next check (None: nothing will change by time alone)."""
        self.bulk.executemany(
            conn,
            "INSERT INTO segment_schedule (workspace_id, profile_id, next_check_at)"
            " VALUES (?, ?, ?) ON CONFLICT (workspace_id, profile_id)"
            " DO UPDATE SET next_check_at = excluded.next_check_at",
            [(workspace_id, p, at) for p, at in due if at is not None],
        )
        self.bulk.executemany(
            conn,
            "DELETE FROM segment_schedule WHERE workspace_id = ? AND profile_id = ?",
            [(workspace_id, p) for p, at in due if at is None],
        )

    def schedule_earlier(
        self, conn: Connection, workspace_id: str, due: Sequence[tuple[str, EpochMs]]
    ) -> None:
        """Move each profile's next check earlier (never later) — for back-fills. A check
        that would not move is not written (no new row version, no index update)."""
        self.bulk.executemany(
            conn,
            "INSERT INTO segment_schedule (workspace_id, profile_id, next_check_at)"
            " VALUES (?, ?, ?) ON CONFLICT (workspace_id, profile_id) DO UPDATE SET"
            " next_check_at = excluded.next_check_at"
            " WHERE excluded.next_check_at < segment_schedule.next_check_at",
            [(workspace_id, p, at) for p, at in due],
        )

    def schedule_earlier_from(self, conn: Connection, due: Select[Any]) -> None:
        """`schedule_earlier` for the rows of a query (workspace id, profile id, next check),
        in one statement on the server."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        # SQLite reads the ``ON`` of ``ON CONFLICT`` after ``SELECT ... FROM t`` as a join's
        # unless the SELECT has a WHERE; ``true()`` adds none to one that has.
        insert = dialect.insert(segment_schedule).from_select(
            ["workspace_id", "profile_id", "next_check_at"], due.where(true())
        )
        current, proposed = segment_schedule.c.next_check_at, insert.excluded.next_check_at
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["workspace_id", "profile_id"],
                set_={"next_check_at": proposed},
                where=proposed < current,
            )
        )

    @staticmethod
    def least(conn: Connection, values: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        """The smallest of ``values`` that is not NULL (NULL if all are)."""
        if len(values) == 1:
            return values[0]
        if conn.dialect.name == "postgresql":
            return func.least(*values)  # which skips NULLs
        # SQLite's many-argument min() is NULL if any argument is.
        never = literal(2**62)
        return func.nullif(func.min(*(func.coalesce(v, never) for v in values)), never)

    def due(self, conn: Connection, workspace_id: str, now: EpochMs, limit: int) -> list[str]:
        s = segment_schedule.c
        query = (
            select(s.profile_id)
            .where(s.workspace_id == workspace_id, s.next_check_at <= now)
            .order_by(s.next_check_at)
            .limit(limit)
        )
        return list(conn.execute(query).scalars())

    def earliest_due(self, conn: Connection, workspace_id: str) -> EpochMs | None:
        s = segment_schedule.c
        query = select(func.min(s.next_check_at)).where(s.workspace_id == workspace_id)
        found = conn.execute(query).scalar()
        return None if found is None else int(found)
