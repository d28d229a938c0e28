"""What the segment adapters share: the store, the bulk writer and row helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from unico.db.bulk import Bulk
from unico.db.engine import Store
from unico.db.segments_schema import segment_list_entry
from unico.segments.store import SegmentRow


class SqlSegmentBase:
    """The store and its bulk writer; every segment adapter is built from the store alone."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.bulk = Bulk(store.is_sqlite)


def segment_row(r: Any) -> SegmentRow:
    return SegmentRow(
        r.segment_id, r.name, r.kind, r.condition, r.description, r.created_at, r.updated_at
    )


def keyed(keys: Sequence[tuple[str, str]]) -> ColumnElement[bool]:
    """List entries naming one of these (kind, value) identities."""
    e = segment_list_entry.c
    return or_(*(and_(e.kind == k, e.value == v) for k, v in keys))


def person_row(r: Any) -> dict[str, Any]:
    row = dict(r._mapping)
    del row["workspace_id"]
    return row
