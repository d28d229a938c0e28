"""Which profiles are in which segment, since when and why (SQL, SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    exists,
    func,
    literal,
    select,
)

from unico.core.types import EpochMs
from unico.db.bulk import dumps
from unico.db.schema import Json, profile
from unico.db.segments_schema import (
    segment_membership,
)
from unico.segments.store import Membership
from unico.store.profiles import chunks
from unico.store.segments.base import SqlSegmentBase


class SqlSegmentMemberships(SqlSegmentBase):
    """Which profiles are in which segment, since when and why."""

    def memberships(
        self, conn: Connection, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, dict[str, Membership]]:
        out: dict[str, dict[str, Membership]] = {}
        m = segment_membership.c
        for part in chunks(sorted(set(profile_ids))):
            query = select(m.profile_id, m.segment_id, m.since, m.reason).where(
                m.workspace_id == workspace_id, m.profile_id.in_(part)
            )
            for r in conn.execute(query):
                out.setdefault(r.profile_id, {})[r.segment_id] = Membership(r.since, r.reason)
        return out

    def write_memberships(
        self,
        conn: Connection,
        workspace_id: str,
        upserts: Sequence[tuple[str, str, EpochMs, dict[str, Any]]],
        deletes: Sequence[tuple[str, str]],
    ) -> None:
        """``upserts``: (segment id, profile id, since, reason); ``deletes``: (segment, profile)."""
        self.bulk.executemany(
            conn,
            "INSERT INTO segment_membership (workspace_id, segment_id, profile_id, since, reason)"
            " VALUES (?, ?, ?, ?, ?j) ON CONFLICT (workspace_id, segment_id, profile_id)"
            " DO UPDATE SET since = excluded.since, reason = excluded.reason",
            [(workspace_id, s, p, since, dumps(reason)) for s, p, since, reason in upserts],
        )
        self.bulk.executemany(
            conn,
            "DELETE FROM segment_membership"
            " WHERE workspace_id = ? AND segment_id = ? AND profile_id = ?",
            [(workspace_id, s, p) for s, p in deletes],
        )

    def replace_members(
        self,
        conn: Connection,
        workspace_id: str,
        segment_id: str,
        qualifies: ColumnElement[bool],
        since: EpochMs,
        reason: dict[str, Any],
    ) -> tuple[int, int]:
        """Make a segment's members exactly the profiles ``qualifies`` (a WHERE clause over
        ``profile``) holds for: members who no longer qualify leave, newcomers join with
        ``since`` and ``reason``, the others keep theirs. Returns (entered, exited).

        A segment with no members yet (a new one, a recompute after a reset) is one plain
        ``INSERT ... SELECT``: nothing to delete, and no anti-join against the table being
        filled, which is the plan the planner gets badly wrong (statistics saying the table
        is empty pick a nested loop over a sequential scan of it: quadratic in the rows
        written). Rows are written in the profile scan's order, close to the indexes'."""
        m, p = segment_membership.c, profile.c
        mine = and_(m.workspace_id == workspace_id, m.segment_id == segment_id)
        held = conn.execute(select(literal(1)).where(mine).limit(1)).first() is not None
        exited = 0
        newcomers = select(
            literal(workspace_id), literal(segment_id), p.profile_id, literal(since),
            literal(reason, Json),
        ).where(qualifies)  # fmt: skip
        if held:
            stays = exists().where(
                p.workspace_id == m.workspace_id, p.profile_id == m.profile_id, qualifies
            )
            exited = conn.execute(delete(segment_membership).where(mine, ~stays)).rowcount
            newcomers = newcomers.where(~exists().where(mine, m.profile_id == p.profile_id))
        columns = ["workspace_id", "segment_id", "profile_id", "since", "reason"]
        insert = segment_membership.insert().from_select(columns, newcomers)
        entered = conn.execute(insert.execution_options(preserve_rowcount=True)).rowcount
        return entered, exited

    def sizes(self, conn: Connection, workspace_id: str) -> dict[str, int]:
        m = segment_membership.c
        query = (
            select(m.segment_id, func.count())
            .where(m.workspace_id == workspace_id)
            .group_by(m.segment_id)
        )
        return {r[0]: int(r[1]) for r in conn.execute(query)}

    def size(self, conn: Connection, workspace_id: str, segment_id: str) -> int:
        """One segment's member count (`sizes` counts every segment of the workspace)."""
        m = segment_membership.c
        query = select(func.count()).where(
            m.workspace_id == workspace_id, m.segment_id == segment_id
        )
        return int(conn.execute(query).scalar() or 0)

    def members(
        self,
        conn: Connection,
        workspace_id: str,
        segment_id: str,
        *,
        after: str | None,
        limit: int | None,
    ) -> Iterator[tuple[str, EpochMs, dict[str, Any]]]:
        m = segment_membership.c
        query = (
            select(m.profile_id, m.since, m.reason)
            .where(m.workspace_id == workspace_id, m.segment_id == segment_id)
            .order_by(m.profile_id)
        )
        if after is not None:
            query = query.where(m.profile_id > after)
        if limit is not None:
            query = query.limit(limit)
        for r in conn.execute(query.execution_options(yield_per=2000)):
            yield r.profile_id, r.since, r.reason
