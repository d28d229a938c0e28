"""Per-profile states of windowed aggregates (SQL, SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    delete,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from unico.db.bulk import dumps
from unico.db.segments_schema import (
    segment_window,
)
from unico.store.profiles import chunks
from unico.store.segments.base import SqlSegmentBase


class SqlSegmentWindows(SqlSegmentBase):
    """Per-profile states of windowed aggregates."""

    def windows(
        self, conn: Connection, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        w = segment_window.c
        for part in chunks(sorted(set(profile_ids))):
            query = select(w.profile_id, w.agg_key, w.state).where(
                w.workspace_id == workspace_id, w.profile_id.in_(part)
            )
            for r in conn.execute(query):
                out.setdefault(r.profile_id, {})[r.agg_key] = r.state
        return out

    def write_windows(
        self,
        conn: Connection,
        workspace_id: str,
        upserts: Sequence[tuple[str, str, dict[str, Any]]],
        deletes: Sequence[tuple[str, str]],
    ) -> None:
        """``upserts``: (profile id, aggregate key, state); ``deletes``: (profile, key)."""
        self.bulk.executemany(
            conn,
            "INSERT INTO segment_window (workspace_id, profile_id, agg_key, state)"
            " VALUES (?, ?, ?, ?j) ON CONFLICT (workspace_id, profile_id, agg_key)"
            " DO UPDATE SET state = excluded.state",
            [(workspace_id, p, k, dumps(state)) for p, k, state in upserts],
        )
        self.bulk.executemany(
            conn,
            "DELETE FROM segment_window WHERE workspace_id = ? AND profile_id = ? AND agg_key = ?",
            [(workspace_id, p, k) for p, k in deletes],
        )

    def write_windows_from(
        self, conn: Connection, workspace_id: str, agg_key: str, points: Select[Any], limit: int
    ) -> int:
        """Window states built on the server from ``points`` (rows of profile id, timestamp,
        value, ordered by them): ``{"p": [[timestamp, value, 1], ...]}`` per profile, what
        `Window.dump` writes for events added one by one, for the profiles with at most
        ``limit`` points (the others need folding into buckets: the caller's). Returns how
        many states were written."""
        rows = points.subquery("points")
        owner, ts, value = rows.c
        if conn.dialect.name == "postgresql":
            point = func.jsonb_build_array(ts, value, 1)
            listed = func.jsonb_agg(postgresql.aggregate_order_by(point, ts, value))
            state = func.jsonb_build_object("p", listed)
        else:  # SQLite aggregates in the order of the ordered subquery
            state = func.json_object("p", func.json_group_array(func.json_array(ts, value, 1)))
        states = (
            select(literal(workspace_id), owner, literal(agg_key), state)
            .group_by(owner)
            .having(func.count() <= limit)
        )
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(segment_window).from_select(
            ["workspace_id", "profile_id", "agg_key", "state"], states
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["workspace_id", "profile_id", "agg_key"],
            set_={"state": insert.excluded.state},
        )
        return int(conn.execute(upsert.execution_options(preserve_rowcount=True)).rowcount)

    def drop_windows(self, conn: Connection, workspace_id: str, keep: set[str]) -> None:
        """Forget window states of aggregates no segment uses any more."""
        w = segment_window.c
        query = delete(segment_window).where(w.workspace_id == workspace_id)
        if keep:
            query = query.where(w.agg_key.not_in(sorted(keep)))
        conn.execute(query)
