"""Segment definitions, memberships, window states, schedules and list entries in SQL tables,
for SQLite and PostgreSQL alike. The writes on the ingest path go through `Bulk`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from unico.core.types import EpochMs
from unico.db.bulk import Bulk, dumps
from unico.db.engine import Store
from unico.db.schema import Json, profile
from unico.db.segments_schema import (
    segment,
    segment_catalog,
    segment_list_entry,
    segment_membership,
    segment_schedule,
    segment_window,
)
from unico.store.profiles import chunks


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """A stored definition. ``condition`` is the text (None for a static list)."""

    segment_id: str
    name: str
    kind: str
    condition: str | None
    description: str | None
    created_at: EpochMs
    updated_at: EpochMs


@dataclass(frozen=True, slots=True)
class Membership:
    since: EpochMs
    reason: dict[str, Any]


def _row(r: Any) -> SegmentRow:
    return SegmentRow(
        r.segment_id, r.name, r.kind, r.condition, r.description, r.created_at, r.updated_at
    )


def _keyed(keys: Sequence[tuple[str, str]]) -> ColumnElement[bool]:
    """List entries naming one of these (kind, value) identities."""
    e = segment_list_entry.c
    return or_(*(and_(e.kind == k, e.value == v) for k, v in keys))


def _person_row(r: Any) -> dict[str, Any]:
    row = dict(r._mapping)
    del row["workspace_id"]
    return row


class SqlSegmentStore:
    """Everything the segments context keeps."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.bulk = Bulk(store.is_sqlite)

    # -- definitions ------------------------------------------------------------------------

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
        return [_row(r) for r in conn.execute(query)]

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

    # -- per-profile state ------------------------------------------------------------------

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
        insert = dialect.insert(segment_schedule).from_select(
            ["workspace_id", "profile_id", "next_check_at"], due
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

    def drop_windows(self, conn: Connection, workspace_id: str, keep: set[str]) -> None:
        """Forget window states of aggregates no segment uses any more."""
        w = segment_window.c
        query = delete(segment_window).where(w.workspace_id == workspace_id)
        if keep:
            query = query.where(w.agg_key.not_in(sorted(keep)))
        conn.execute(query)

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
                    e.workspace_id == workspace_id, e.profile_id.is_(None), _keyed(part)
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
                _person_row(r)
                for part in chunks(profile_ids)
                for r in conn.execute(
                    select(table).where(
                        table.c.workspace_id == workspace_id, table.c.profile_id.in_(part)
                    )
                )
            ]
        e = segment_list_entry.c
        out[segment_list_entry.name] += [
            _person_row(r)
            for part in chunks(sorted(set(keys)))
            for r in conn.execute(
                select(segment_list_entry).where(
                    e.workspace_id == workspace_id, e.profile_id.is_(None), _keyed(part)
                )
            )
        ]
        return out

    # -- reads for the API ------------------------------------------------------------------

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

    # -- static lists -----------------------------------------------------------------------

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
