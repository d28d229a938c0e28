"""`EventStore` on SQLAlchemy Core, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, delete, select

from unico.collect.store import AggregateKey, DeadLetter
from unico.core.event import STORED_COLUMNS, Event
from unico.core.types import EpochMs
from unico.db.bulk import ROWS_PER_STATEMENT, Bulk, chunked, dumps
from unico.db.engine import Store
from unico.db.schema import dead_letter, event, event_aggregate
from unico.store.profiles import chunks


def _named(
    table: Table,
    workspace_id: str,
    anonymous_ids: list[str],
    user_ids: list[str],
    *where: ColumnElement[bool],
) -> Iterator[ColumnElement[bool]]:
    """The conditions of the rows naming a person by user id, or by anonymous id alone: a
    row that also carries another user id is that user's (on a shared device the anonymous
    id is several people's, and erasing one spares the others)."""
    same_ws = table.c.workspace_id == workspace_id
    for part in chunks(user_ids):
        yield and_(same_ws, table.c.user_id.in_(part), *where)
    for part in chunks(anonymous_ids):
        yield and_(same_ws, table.c.anonymous_id.in_(part), table.c.user_id.is_(None), *where)


def _erase_named(
    conn: Connection,
    table: Table,
    workspace_id: str,
    anonymous_ids: list[str],
    user_ids: list[str],
    *where: ColumnElement[bool],
) -> int:
    """Delete the rows `_named` finds; returns how many went."""
    return sum(
        conn.execute(delete(table).where(condition)).rowcount
        for condition in _named(table, workspace_id, anonymous_ids, user_ids, *where)
    )


def _event_row(r: Any) -> dict[str, Any]:
    return {
        "message_id": r.message_id,
        "type": r.type,
        "name": r.name,
        "anonymous_id": r.anonymous_id,
        "user_id": r.user_id,
        "group_id": r.group_id,
        "previous_id": r.previous_id,
        "timestamp": r.timestamp,
        "received_at": r.received_at,
        "properties": r.properties,
        "traits": r.traits,
        "context": r.context,
        "integrations": r.integrations,
    }


def _dead_letter_row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "received_at": r.received_at,
        "code": r.code,
        "reason": r.reason,
        "field": r.field,
        "payload": r.payload,
    }


class SqlEventStore:
    """The event log and its companions in SQL tables."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.bulk = Bulk(store.is_sqlite)

    def claim(
        self, conn: Connection, workspace_id: str, message_ids: list[str], now: EpochMs
    ) -> set[str]:
        fresh: set[str] = set()
        for part in chunked(message_ids, ROWS_PER_STATEMENT):
            if self.store.is_sqlite:
                sql = (
                    "INSERT INTO message (workspace_id, message_id, received_at)"
                    f" VALUES {self.bulk.placeholders(len(part), 3)}"
                    " ON CONFLICT DO NOTHING RETURNING message_id"
                )
                params: list[Any] = [v for m in part for v in (workspace_id, m, now)]
            else:
                sql = (
                    "INSERT INTO message (workspace_id, message_id, received_at)"
                    " SELECT ?, m, ? FROM unnest(?::text[]) AS m"
                    " ON CONFLICT DO NOTHING RETURNING message_id"
                )
                params = [workspace_id, now, list(part)]
            fresh.update(r[0] for r in self.bulk.query(conn, sql, params))
        return fresh

    def insert_events(
        self, conn: Connection, workspace_id: str, rows: Iterable[tuple[Event, str]]
    ) -> None:
        self.bulk.executemany(
            conn,
            "INSERT INTO event (workspace_id, message_id, type, name, anonymous_id, user_id,"
            " group_id, previous_id, profile_id, timestamp, received_at, properties, traits,"
            " context, integrations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?j, ?j, ?j, ?j)",
            [
                (
                    workspace_id,
                    e.message_id,
                    e.type,
                    e.name,
                    e.anonymous_id,
                    e.user_id,
                    e.group_id,
                    e.previous_id,
                    pid,
                    e.timestamp,
                    e.received_at,
                    *(
                        (e.encoded[c] for c in STORED_COLUMNS)
                        if e.encoded is not None
                        else (dumps(getattr(e, c)) for c in STORED_COLUMNS)
                    ),
                )
                for e, pid in rows
            ],
        )

    def bump_aggregates(
        self, conn: Connection, workspace_id: str, counts: Mapping[AggregateKey, int]
    ) -> None:
        self.bulk.executemany(
            conn,
            "INSERT INTO event_aggregate (workspace_id, day, type, name, profiled, count)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id, day, type, name, profiled)"
            " DO UPDATE SET count = event_aggregate.count + excluded.count",
            [
                (workspace_id, day, kind, name, profiled, n)
                for (day, kind, name, profiled), n in sorted(counts.items())
            ],
        )

    def insert_dead_letters(
        self, conn: Connection, workspace_id: str, letters: list[DeadLetter], now: EpochMs
    ) -> None:
        if letters:
            conn.execute(
                dead_letter.insert(),
                [
                    {
                        "workspace_id": workspace_id,
                        "received_at": now,
                        "code": d.code,
                        "reason": d.reason[:2000],
                        "field": (d.field or None) and d.field[:255],
                        "payload": d.payload,
                        "anonymous_id": d.anonymous_id,
                        "user_id": d.user_id,
                    }
                    for d in letters
                ],
            )

    def events_of(
        self, conn: Connection, workspace_id: str, profile_ids: list[str], *, limit: int | None
    ) -> list[dict[str, Any]]:
        query = (
            select(event)
            .where(event.c.workspace_id == workspace_id, event.c.profile_id.in_(profile_ids))
            .order_by(event.c.timestamp.desc(), event.c.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        return [_event_row(r) for r in conn.execute(query)]

    def erase(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: list[str],
        anonymous_ids: list[str],
        user_ids: list[str],
    ) -> dict[str, int]:
        counts = {"events": 0, "dead_letters": 0}
        for part in chunks(profile_ids):
            counts["events"] += conn.execute(
                delete(event).where(
                    event.c.workspace_id == workspace_id, event.c.profile_id.in_(part)
                )
            ).rowcount
        # Dead letters, and any event kept without a profile id, name people only by the
        # message's ids (the pipeline stores profiled events only, so there are none today).
        counts["dead_letters"] += _erase_named(
            conn, dead_letter, workspace_id, anonymous_ids, user_ids
        )
        counts["events"] += _erase_named(
            conn, event, workspace_id, anonymous_ids, user_ids, event.c.profile_id.is_(None)
        )
        return counts

    def export_person(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: list[str],
        anonymous_ids: list[str],
        user_ids: list[str],
    ) -> dict[str, list[dict[str, Any]]]:
        """The rows `erase` deletes, per table (times in epoch ms)."""
        events = self.events_of(conn, workspace_id, profile_ids, limit=None)
        for condition in _named(
            event, workspace_id, anonymous_ids, user_ids, event.c.profile_id.is_(None)
        ):
            events += [_event_row(r) for r in conn.execute(select(event).where(condition))]
        letters = [
            {**_dead_letter_row(r), "anonymous_id": r.anonymous_id, "user_id": r.user_id}
            for condition in _named(dead_letter, workspace_id, anonymous_ids, user_ids)
            for r in conn.execute(select(dead_letter).where(condition).order_by(dead_letter.c.id))
        ]
        return {"event": events, "dead_letter": letters}

    def dead_letters(
        self, conn: Connection, workspace_id: str, *, limit: int, before: int | None
    ) -> list[dict[str, Any]]:
        query = select(dead_letter).where(dead_letter.c.workspace_id == workspace_id)
        if before is not None:
            query = query.where(dead_letter.c.id < before)
        rows = conn.execute(query.order_by(dead_letter.c.id.desc()).limit(limit))
        return [_dead_letter_row(r) for r in rows]

    def aggregates(
        self, conn: Connection, workspace_id: str, *, since_day: int
    ) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(event_aggregate)
            .where(
                event_aggregate.c.workspace_id == workspace_id, event_aggregate.c.day >= since_day
            )
            .order_by(event_aggregate.c.day, event_aggregate.c.type, event_aggregate.c.name)
        )
        return [
            {"day": r.day, "type": r.type, "name": r.name, "profiled": r.profiled, "count": r.count}
            for r in rows
        ]
