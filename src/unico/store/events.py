"""`EventStore` on SQLAlchemy Core, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, or_, select

from unico.collect.store import AggregateKey, DeadLetter
from unico.core.event import Event
from unico.core.types import EpochMs
from unico.store.engine import Store
from unico.store.profiles import chunks
from unico.store.schema import dead_letter, event, event_aggregate, message


class SqlEventStore:
    """The event log and its companions in SQL tables."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def claim(
        self, conn: Connection, workspace_id: str, message_ids: list[str], now: EpochMs
    ) -> set[str]:
        if not message_ids:
            return set()
        stmt = (
            self.store.insert(message)
            .on_conflict_do_nothing(index_elements=["workspace_id", "message_id"])
            .returning(message.c.message_id)
        )
        rows = conn.execute(
            stmt,
            [
                {"workspace_id": workspace_id, "message_id": m, "received_at": now}
                for m in message_ids
            ],
        )
        return {r.message_id for r in rows}

    def insert_events(
        self, conn: Connection, workspace_id: str, rows: Iterable[tuple[Event, str]]
    ) -> None:
        values = [
            {
                "workspace_id": workspace_id,
                "message_id": e.message_id,
                "type": e.type,
                "name": e.name,
                "anonymous_id": e.anonymous_id,
                "user_id": e.user_id,
                "profile_id": pid,
                "timestamp": e.timestamp,
                "received_at": e.received_at,
                "properties": e.properties,
                "traits": e.traits,
                "context": e.context,
                "integrations": e.integrations,
            }
            for e, pid in rows
        ]
        if values:
            conn.execute(event.insert(), values)

    def bump_aggregates(
        self, conn: Connection, workspace_id: str, counts: Mapping[AggregateKey, int]
    ) -> None:
        if not counts:
            return
        stmt = self.store.insert(event_aggregate)
        stmt = stmt.on_conflict_do_update(
            index_elements=["workspace_id", "day", "type", "name", "profiled"],
            set_={"count": event_aggregate.c.count + stmt.excluded.count},
        )
        conn.execute(
            stmt,
            [
                {
                    "workspace_id": workspace_id,
                    "day": day,
                    "type": kind,
                    "name": name,
                    "profiled": profiled,
                    "count": n,
                }
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
        return [
            {
                "message_id": r.message_id,
                "type": r.type,
                "name": r.name,
                "anonymous_id": r.anonymous_id,
                "user_id": r.user_id,
                "timestamp": r.timestamp,
                "received_at": r.received_at,
                "properties": r.properties,
                "traits": r.traits,
                "context": r.context,
            }
            for r in conn.execute(query)
        ]

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
        for anon, users in ((anonymous_ids, []), ([], user_ids)):
            for part in chunks(anon or users):
                column = dead_letter.c.anonymous_id if anon else dead_letter.c.user_id
                counts["dead_letters"] += conn.execute(
                    delete(dead_letter).where(
                        dead_letter.c.workspace_id == workspace_id, column.in_(part)
                    )
                ).rowcount
        # Events kept without a profile id (consent given later) still name the person.
        for part in chunks(anonymous_ids + user_ids):
            counts["events"] += conn.execute(
                delete(event).where(
                    event.c.workspace_id == workspace_id,
                    or_(event.c.anonymous_id.in_(part), event.c.user_id.in_(part)),
                )
            ).rowcount
        return counts

    def dead_letters(
        self, conn: Connection, workspace_id: str, *, limit: int, before: int | None
    ) -> list[dict[str, Any]]:
        query = select(dead_letter).where(dead_letter.c.workspace_id == workspace_id)
        if before is not None:
            query = query.where(dead_letter.c.id < before)
        rows = conn.execute(query.order_by(dead_letter.c.id.desc()).limit(limit))
        return [
            {
                "id": r.id,
                "received_at": r.received_at,
                "code": r.code,
                "reason": r.reason,
                "field": r.field,
                "payload": r.payload,
            }
            for r in rows
        ]

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
