"""The decide context's tables in SQL (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, ColumnElement, Connection, delete, func, select, update

from unico.core.types import EpochMs
from unico.db.bulk import Bulk, chunked, dumps
from unico.db.decide_schema import decision, decision_outcome, placement, placement_revision
from unico.db.engine import Store

#: Decision rows per INSERT statement (13 values each: far under SQLite's parameter limit).
DECISIONS_PER_STATEMENT = 50


class SqlDecideStore:
    """`unico.decide.store.DecideStore` on SQLAlchemy Core.

    >>> store = Store("sqlite://"); store.upgrade()
    >>> decide = SqlDecideStore(store)
    >>> with store.write() as conn:
    ...     decide.save_placement(conn, "ws", "home", {"strategy": "popular"}, 1)
    True
    >>> with store.read() as conn:
    ...     decide.revision(conn, "ws"), list(decide.placements(conn, "ws"))
    (1, ['home'])
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.bulk = Bulk(store.is_sqlite)
        # Decision rows are written for every placement of every decision, by a thread that
        # shares the serving process's interpreter: through the DBAPI with orjson, not
        # SQLAlchemy's per-row bind processing (several times cheaper per row), and many rows
        # to a statement. ``executemany`` steps once per row, and the driver hands the
        # interpreter over around every step: under load each hand-over to the serving thread
        # cost both threads a context switch (measured: the log thread used ~20% less CPU, and
        # the serving thread less too, with one statement per `DECISIONS_PER_STATEMENT` rows).
        self._decision_columns = [c.name for c in decision.columns]
        json_columns = {c.name for c in decision.columns if isinstance(c.type, JSON)}
        self._decision_json = [c in json_columns for c in self._decision_columns]
        marks = ", ".join("?j" if c in json_columns else "?" for c in self._decision_columns)
        self._decision_marks = f"({marks})"
        #: Statement text by number of rows (at most `DECISIONS_PER_STATEMENT` shapes).
        self._insert_decisions: dict[int, str] = {}

    def revision(self, conn: Connection, workspace_id: str) -> int:
        found = conn.execute(
            select(placement_revision.c.revision).where(
                placement_revision.c.workspace_id == workspace_id
            )
        ).scalar()
        return int(found or 0)

    def placements(self, conn: Connection, workspace_id: str) -> dict[str, dict[str, Any]]:
        rows = conn.execute(
            select(
                placement.c.name, placement.c.spec, placement.c.created_at, placement.c.updated_at
            )
            .where(placement.c.workspace_id == workspace_id)
            .order_by(placement.c.name)
        )
        return {
            r.name: {**r.spec, "created_at": r.created_at, "updated_at": r.updated_at} for r in rows
        }

    def placement_workspaces(self, conn: Connection) -> list[str]:
        rows = conn.execute(select(placement.c.workspace_id).distinct())
        return sorted(r[0] for r in rows)

    def _bump(self, conn: Connection, workspace_id: str) -> None:
        insert = self.store.insert(placement_revision).values(workspace_id=workspace_id, revision=1)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["workspace_id"],
                set_={"revision": placement_revision.c.revision + 1},
            )
        )

    def save_placement(
        self, conn: Connection, workspace_id: str, name: str, spec: dict[str, Any], now: EpochMs
    ) -> bool:
        where = (placement.c.workspace_id == workspace_id, placement.c.name == name)
        changed = conn.execute(
            update(placement).where(*where).values(spec=spec, updated_at=now)
        ).rowcount
        if not changed:
            conn.execute(
                placement.insert().values(
                    workspace_id=workspace_id, name=name, spec=spec, created_at=now, updated_at=now
                )
            )
        self._bump(conn, workspace_id)
        return not changed

    def delete_placement(self, conn: Connection, workspace_id: str, name: str) -> bool:
        gone = conn.execute(
            delete(placement).where(
                placement.c.workspace_id == workspace_id, placement.c.name == name
            )
        ).rowcount
        if gone:
            self._bump(conn, workspace_id)
        return bool(gone)

    def insert_decisions(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        columns = tuple(zip(self._decision_columns, self._decision_json, strict=True))
        for part in chunked(rows, DECISIONS_PER_STATEMENT):
            params = [
                dumps(row.get(name)) if is_json else row.get(name)
                for row in part
                for name, is_json in columns
            ]
            self.bulk.execute(conn, self._insert_decisions_sql(len(part)), params)

    def _insert_decisions_sql(self, count: int) -> str:
        sql = self._insert_decisions.get(count)
        if sql is None:
            values = ", ".join([self._decision_marks] * count)
            sql = f"INSERT INTO decision ({', '.join(self._decision_columns)}) VALUES {values}"
            self._insert_decisions[count] = sql
        return sql

    def insert_outcomes(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            conn.execute(decision_outcome.insert(), list(rows))

    def decision(
        self, conn: Connection, workspace_id: str, decision_id: str
    ) -> dict[str, Any] | None:
        row = conn.execute(
            select(decision).where(
                decision.c.workspace_id == workspace_id, decision.c.decision_id == decision_id
            )
        ).first()
        return None if row is None else dict(row._mapping)

    def outcomes(
        self, conn: Connection, workspace_id: str, decision_id: str
    ) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(decision_outcome)
            .where(
                decision_outcome.c.workspace_id == workspace_id,
                decision_outcome.c.decision_id == decision_id,
            )
            .order_by(decision_outcome.c.id)
        )
        return [dict(r._mapping) for r in rows]

    def impressions(
        self, conn: Connection, workspace_id: str, profile_id: str, since: EpochMs
    ) -> dict[str, int]:
        rows = conn.execute(
            select(decision_outcome.c.item_id, func.count())
            .where(
                decision_outcome.c.workspace_id == workspace_id,
                decision_outcome.c.profile_id == profile_id,
                decision_outcome.c.at >= since,
                decision_outcome.c.kind == "impression",
            )
            .group_by(decision_outcome.c.item_id)
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def _decision_ids(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: Sequence[str],
        anonymous_ids: Sequence[str],
        user_ids: Sequence[str],
    ) -> list[str]:
        # One lookup per partial index (see `decide_schema.decision`): a known person's rows
        # by profile, the rows of requests that found no profile by the ids they named.
        lookups: list[ColumnElement[bool]] = [decision.c.profile_id.in_(profile_ids)]
        unknown = decision.c.profile_id.is_(None)
        if anonymous_ids:
            lookups.append(unknown & decision.c.anonymous_id.in_(anonymous_ids))
        if user_ids:
            lookups.append(unknown & decision.c.user_id.in_(user_ids))
        ids: set[str] = set()
        for lookup in lookups:
            found = conn.execute(
                select(decision.c.decision_id).where(
                    decision.c.workspace_id == workspace_id, lookup
                )
            )
            ids.update(r[0] for r in found)
        return sorted(ids)

    def erase(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: Sequence[str],
        anonymous_ids: Sequence[str],
        user_ids: Sequence[str],
    ) -> dict[str, int]:
        ids = self._decision_ids(conn, workspace_id, profile_ids, anonymous_ids, user_ids)
        outcomes = conn.execute(
            delete(decision_outcome).where(
                decision_outcome.c.workspace_id == workspace_id,
                decision_outcome.c.profile_id.in_(profile_ids),
            )
        ).rowcount
        decisions = 0
        for part in chunked(ids, 500):
            outcomes += conn.execute(
                delete(decision_outcome).where(
                    decision_outcome.c.workspace_id == workspace_id,
                    decision_outcome.c.decision_id.in_(part),
                )
            ).rowcount
            decisions += conn.execute(
                delete(decision).where(
                    decision.c.workspace_id == workspace_id, decision.c.decision_id.in_(part)
                )
            ).rowcount
        return {"decision": decisions, "decision_outcome": outcomes}

    def export_person(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: Sequence[str],
        anonymous_ids: Sequence[str],
        user_ids: Sequence[str],
    ) -> dict[str, list[dict[str, Any]]]:
        ids = self._decision_ids(conn, workspace_id, profile_ids, anonymous_ids, user_ids)
        o = decision_outcome.c
        decisions: list[dict[str, Any]] = []
        outcomes: dict[int, dict[str, Any]] = {}  # by row id: both lookups may find a row
        for part in chunked(ids, 500):
            rows = conn.execute(
                select(decision)
                .where(decision.c.workspace_id == workspace_id, decision.c.decision_id.in_(part))
                .order_by(decision.c.at, decision.c.decision_id)
            )
            decisions += [dict(r._mapping) for r in rows]
            found = conn.execute(
                select(decision_outcome).where(
                    o.workspace_id == workspace_id, o.decision_id.in_(part)
                )
            )
            outcomes.update((r.id, dict(r._mapping)) for r in found)
        found = conn.execute(
            select(decision_outcome).where(
                o.workspace_id == workspace_id, o.profile_id.in_(profile_ids)
            )
        )
        outcomes.update((r.id, dict(r._mapping)) for r in found)
        for row in decisions:
            del row["workspace_id"]
        shown = sorted(outcomes.values(), key=lambda r: (r["at"], r["id"]))
        for row in shown:
            del row["workspace_id"], row["id"]
        decisions.sort(key=lambda r: r["at"])
        return {"decision": decisions, "decision_outcome": shown}
