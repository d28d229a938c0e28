"""Static lists' entries, resolved to a profile or pending (SQL, SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import (
    Connection,
    and_,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)

from unico.core.types import EpochMs
from unico.db.segments_schema import (
    segment_list_entry,
)
from unico.store.profiles import chunks
from unico.store.segments.base import SqlSegmentBase


class SqlSegmentLists(SqlSegmentBase):
    """Static lists' entries, resolved to a profile or pending."""

    def entries(
        self, conn: Connection, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, set[str]]:
        """profile id -> the static lists holding an entry resolved to it."""
        out: dict[str, set[str]] = {}
        e = segment_list_entry.c
        for part in chunks(sorted(set(profile_ids))):
            query = select(e.profile_id, e.segment_id).where(
                e.workspace_id == workspace_id, e.profile_id.in_(part)
            )
            for r in conn.execute(query):
                out.setdefault(r.profile_id, set()).add(r.segment_id)
        return out

    def add_entries(
        self,
        conn: Connection,
        workspace_id: str,
        segment_id: str,
        rows: Sequence[tuple[str, str, str | None]],
        now: EpochMs,
    ) -> None:
        """(kind, value, profile id or None); an existing entry gets the new resolution."""
        self.bulk.executemany(
            conn,
            "INSERT INTO segment_list_entry"
            " (workspace_id, segment_id, kind, value, profile_id, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id, segment_id, kind, value)"
            " DO UPDATE SET profile_id = excluded.profile_id",
            [(workspace_id, segment_id, k, v, p, now) for k, v, p in rows],
        )

    def remove_entries(
        self, conn: Connection, workspace_id: str, segment_id: str, profile_id: str
    ) -> int:
        e = segment_list_entry.c
        query = delete(segment_list_entry).where(
            e.workspace_id == workspace_id, e.segment_id == segment_id, e.profile_id == profile_id
        )
        return int(conn.execute(query).rowcount)

    def remove_pending(
        self, conn: Connection, workspace_id: str, segment_id: str, key: tuple[str, str]
    ) -> int:
        e = segment_list_entry.c
        query = delete(segment_list_entry).where(
            e.workspace_id == workspace_id,
            e.segment_id == segment_id,
            e.kind == key[0],
            e.value == key[1],
            e.profile_id.is_(None),
        )
        return int(conn.execute(query).rowcount)

    def pending(
        self, conn: Connection, workspace_id: str, keys: Iterable[tuple[str, str]]
    ) -> list[tuple[str, str, str]]:
        """Entries waiting for one of these identities: (segment id, kind, value)."""
        e = segment_list_entry.c
        out: list[tuple[str, str, str]] = []
        for part in chunks(sorted(set(keys))):
            query = select(e.segment_id, e.kind, e.value).where(
                e.workspace_id == workspace_id,
                e.profile_id.is_(None),
                or_(*(and_(e.kind == k, e.value == v) for k, v in part)),
            )
            out += [(r.segment_id, r.kind, r.value) for r in conn.execute(query)]
        return out

    def resolve_pending(
        self, conn: Connection, workspace_id: str, resolved: dict[tuple[str, str], str]
    ) -> None:
        e = segment_list_entry.c
        for (kind, value), pid in resolved.items():
            conn.execute(
                update(segment_list_entry)
                .where(
                    e.workspace_id == workspace_id,
                    tuple_(e.kind, e.value) == (kind, value),
                    e.profile_id.is_(None),
                )
                .values(profile_id=pid)
            )

    def entry_counts(self, conn: Connection, workspace_id: str, segment_id: str) -> dict[str, int]:
        e = segment_list_entry.c
        query = select(e.profile_id.is_(None), func.count()).where(
            e.workspace_id == workspace_id, e.segment_id == segment_id
        )
        counts = {"matched": 0, "pending": 0}
        for pending, n in conn.execute(query.group_by(e.profile_id.is_(None))):
            counts["pending" if pending else "matched"] += int(n)
        return counts
