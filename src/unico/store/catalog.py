"""`CatalogStore` on SQLAlchemy Core: items, catalog versions and interactions, for SQLite
and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, or_, select, update

from unico.catalog.model import CATEGORY_SEPARATOR, Item
from unico.catalog.store import InteractionRow, TailRow, Totals
from unico.core.types import EpochMs
from unico.db.bulk import Bulk, chunked
from unico.db.decide_schema import catalog_version, interaction, item
from unico.db.engine import DbapiSource, Store
from unico.store.profiles import chunks

#: Items per INSERT: 23 values each stays well under SQLite's bound-parameter limit.
ITEMS_PER_STATEMENT = 500


def _item(row: Row[Any]) -> Item:
    return Item(
        item_id=row.item_id,
        kind=row.kind,
        title=row.title,
        url=row.url,
        image=row.image,
        price=row.price,
        currency=row.currency,
        category=tuple(row.category),
        brand=row.brand,
        tags=tuple(row.tags),
        attributes=row.attributes,
        language=row.language,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        in_stock=row.in_stock,
        stock=row.stock,
        value=row.value,
        updated_at=row.updated_at,
    )


def _row(workspace_id: str, it: Item, version: int) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "item_id": it.item_id,
        "kind": it.kind,
        "title": it.title,
        "url": it.url,
        "image": it.image,
        "price": it.price,
        "currency": it.currency,
        "category": list(it.category),
        "category_path": CATEGORY_SEPARATOR.join(it.category),
        "brand": it.brand,
        "tags": list(it.tags),
        "attributes": dict(it.attributes),
        "language": it.language,
        "valid_from": it.valid_from,
        "valid_until": it.valid_until,
        "in_stock": it.in_stock,
        "stock": it.stock,
        "value": it.value,
        "updated_at": it.updated_at,
        "deleted": False,
        "version": version,
    }


_KEYS = ("workspace_id", "item_id")
_RECENT = (
    "SELECT item_id, kind, weight, at FROM interaction WHERE workspace_id = ? AND profile_id = ?"
    " ORDER BY at DESC, id DESC LIMIT ?"
)

_SINCE = (
    "SELECT id, profile_id, item_id, weight, at FROM interaction WHERE workspace_id = ?"
    " AND id > ? ORDER BY id LIMIT ?"
)


class SqlCatalogStore:
    """Items, the per-workspace catalog version and interactions in SQL tables."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.bulk = Bulk(store.is_sqlite)

    # -- items ---------------------------------------------------------------------------

    def bump(self, conn: Connection, workspace_id: str) -> int:
        """Take the next catalog version (the row lock orders concurrent writers)."""
        query = (
            self.store.insert(catalog_version)
            .values(workspace_id=workspace_id, version=1)
            .on_conflict_do_update(
                index_elements=["workspace_id"],
                set_={"version": catalog_version.c.version + 1},
            )
            .returning(catalog_version.c.version)
        )
        return int(conn.execute(query).scalar_one())

    def version(self, conn: Connection, workspace_id: str) -> int:
        query = select(catalog_version.c.version).where(
            catalog_version.c.workspace_id == workspace_id
        )
        return int(conn.execute(query).scalar() or 0)

    def write_items(
        self, conn: Connection, workspace_id: str, items: Sequence[Item], version: int
    ) -> None:
        """Insert or replace items (a deleted one comes back)."""
        for part in chunked(items, ITEMS_PER_STATEMENT):
            insert = self.store.insert(item)
            query = insert.values([_row(workspace_id, it, version) for it in part])
            columns = [c.name for c in item.columns if c.name not in _KEYS]
            query = query.on_conflict_do_update(
                index_elements=list(_KEYS), set_={c: insert.excluded[c] for c in columns}
            )
            conn.execute(query)

    def mark_deleted(
        self, conn: Connection, workspace_id: str, item_id: str, version: int, now: EpochMs
    ) -> bool:
        query = (
            update(item)
            .where(item.c.workspace_id == workspace_id, item.c.item_id == item_id)
            .where(item.c.deleted.is_(False))
            .values(deleted=True, version=version, updated_at=now)
        )
        return bool(conn.execute(query).rowcount)

    def get(self, conn: Connection, workspace_id: str, item_id: str) -> Item | None:
        query = select(item).where(
            item.c.workspace_id == workspace_id,
            item.c.item_id == item_id,
            item.c.deleted.is_(False),
        )
        row = conn.execute(query).first()
        return None if row is None else _item(row)

    def find(
        self, conn: Connection, workspace_id: str, item_ids: Iterable[str]
    ) -> dict[str, tuple[Item, bool]]:
        """Items by id, deleted ones included: id -> (item, deleted)."""
        found: dict[str, tuple[Item, bool]] = {}
        for part in chunks(sorted(set(item_ids))):
            query = select(item).where(
                item.c.workspace_id == workspace_id, item.c.item_id.in_(part)
            )
            found.update((r.item_id, (_item(r), r.deleted)) for r in conn.execute(query))
        return found

    def page(
        self,
        conn: Connection,
        workspace_id: str,
        *,
        limit: int,
        after: str | None,
        category: tuple[str, ...] = (),
    ) -> list[Item]:
        """Live items in id order after ``after``, optionally under a category path."""
        query = select(item).where(item.c.workspace_id == workspace_id, item.c.deleted.is_(False))
        if after is not None:
            query = query.where(item.c.item_id > after)
        if category:
            path = CATEGORY_SEPARATOR.join(category)
            prefix = path + CATEGORY_SEPARATOR
            # Not LIKE (case-insensitive on SQLite) nor a range (collation-dependent).
            head = func.substr(item.c.category_path, 1, len(prefix))
            query = query.where(or_(item.c.category_path == path, head == prefix))
        query = query.order_by(item.c.item_id).limit(limit)
        return [_item(r) for r in conn.execute(query)]

    def changed_since(
        self, conn: Connection, workspace_id: str, version: int
    ) -> list[tuple[Item, bool]]:
        """Rows changed after catalog ``version`` (all rows from version 0): (item, deleted)."""
        query = select(item).where(item.c.workspace_id == workspace_id)
        if version:
            query = query.where(item.c.version > version)
        else:
            query = query.where(item.c.deleted.is_(False))
        return [(_item(r), bool(r.deleted)) for r in conn.execute(query)]

    # -- interactions --------------------------------------------------------------------

    def add_interactions(
        self, conn: Connection, workspace_id: str, rows: Sequence[InteractionRow]
    ) -> None:
        self.bulk.executemany(
            conn,
            "INSERT INTO interaction (workspace_id, profile_id, item_id, kind, weight, at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(workspace_id, *r) for r in rows],
        )

    def repoint(self, conn: Connection, workspace_id: str, loser: str, survivor: str) -> int:
        query = (
            update(interaction)
            .where(interaction.c.workspace_id == workspace_id, interaction.c.profile_id == loser)
            .values(profile_id=survivor)
        )
        return int(conn.execute(query).rowcount)

    def erase_interactions(
        self, conn: Connection, workspace_id: str, profile_ids: list[str]
    ) -> int:
        deleted = 0
        for part in chunks(profile_ids):
            query = delete(interaction).where(
                interaction.c.workspace_id == workspace_id, interaction.c.profile_id.in_(part)
            )
            deleted += conn.execute(query).rowcount
        return deleted

    def export_interactions(
        self, conn: Connection, workspace_id: str, profile_ids: list[str]
    ) -> list[dict[str, Any]]:
        c = interaction.c
        return [
            dict(r._mapping)
            for part in chunks(profile_ids)
            for r in conn.execute(
                select(c.profile_id, c.item_id, c.kind, c.weight, c.at)
                .where(c.workspace_id == workspace_id, c.profile_id.in_(part))
                .order_by(c.at, c.id)
            )
        ]

    def recent(
        self, conn: DbapiSource, workspace_id: str, profile_id: str, limit: int
    ) -> list[tuple[str, str, float, EpochMs]]:
        # Read for every decision: raw DBAPI (SQLAlchemy's statement overhead was most of it).
        rows = self.bulk.query(conn, _RECENT, [workspace_id, profile_id, limit])
        return [(r[0], r[1], float(r[2]), int(r[3])) for r in rows]

    def since(
        self, conn: Connection, workspace_id: str, after_id: int, limit: int
    ) -> list[TailRow]:
        # Every serving process's model tail reads this several times a second; on
        # PostgreSQL it reads the last few thousand rows again each time (see
        # `InteractionStore.since`), where SQLAlchemy's rows were 8% of a serving process's
        # samples under load. Through the DBAPI it is several times cheaper.
        rows = self.bulk.query(conn, _SINCE, [workspace_id, after_id, limit])
        return [(int(r[0]), r[1], r[2], float(r[3]), int(r[4])) for r in rows]

    def last_id(self, conn: Connection, workspace_id: str) -> int:
        """The workspace's newest interaction row id (0 when it has none)."""
        c = interaction.c
        query = select(func.max(c.id)).where(c.workspace_id == workspace_id)
        return int(conn.execute(query).scalar() or 0)

    def totals(
        self,
        conn: Connection,
        workspace_id: str,
        *,
        since_ms: EpochMs | None,
        max_rows: int | None,
        max_id: int | None = None,
    ) -> Iterator[Totals]:
        """Summed weight and latest time per (profile, item), over the newest ``max_rows``
        interactions at or after ``since_ms`` (with an id up to ``max_id``), streamed (a
        million pairs as Python tuples were most of a training run's peak memory)."""
        c = interaction.c
        rows = select(c.profile_id, c.item_id, c.weight, c.at).where(c.workspace_id == workspace_id)
        if max_id is not None:
            rows = rows.where(c.id <= max_id)
        if since_ms is not None:
            rows = rows.where(c.at >= since_ms)
        if max_rows is not None:
            rows = rows.order_by(c.id.desc()).limit(max_rows)
        sub = rows.subquery()
        query = (
            select(sub.c.profile_id, sub.c.item_id, func.sum(sub.c.weight), func.max(sub.c.at))
            .group_by(sub.c.profile_id, sub.c.item_id)
            .order_by(sub.c.profile_id, sub.c.item_id)
        )
        for r in conn.execution_options(yield_per=10_000).execute(query):
            yield r[0], r[1], float(r[2]), int(r[3])
