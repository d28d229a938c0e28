"""Bulk statements for the ingest hot path, sent through the DBAPI cursor.

SQLAlchemy Core builds and binds every other statement. On the ingest path it was the
bottleneck: per-row parameter processing (JSON bind processors, insertmanyvalues
rendering) cost more than the database work itself (about 25 µs of 160 µs per event,
measured with bench/ingest_parts.py). Here the few statements the writer runs for every
group are written once per dialect, JSON is serialized once with orjson, and rows go to
``executemany`` as plain tuples, inside the transaction SQLAlchemy opened.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection

from unico.db.engine import DbapiSource

#: Rows per multi-row statement: under SQLite's 32,766 bound-parameter limit.
ROWS_PER_STATEMENT = 1000


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Bulk:
    """Dialect-aware bulk SQL: ``?`` and TEXT JSON on SQLite, ``%s`` and JSONB on PostgreSQL.

    SQL templates use ``?`` for a value and ``?j`` for a JSON value.
    """

    def __init__(self, is_sqlite: bool) -> None:
        self.is_sqlite = is_sqlite

    def sql(self, template: str) -> str:
        if self.is_sqlite:
            return template.replace("?j", "?")
        return template.replace("?j", "%s::jsonb").replace("?", "%s")

    def executemany(self, conn: Connection, template: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(self.sql(template), rows)
        finally:
            cursor.close()

    def execute(self, conn: Connection, template: str, params: Sequence[Any]) -> None:
        """One statement that returns no rows (a multi-row INSERT...)."""
        cursor = conn.connection.cursor()
        try:
            cursor.execute(self.sql(template), params)
        finally:
            cursor.close()

    def query(self, conn: DbapiSource, template: str, params: Sequence[Any]) -> list[Any]:
        cursor = conn.connection.cursor()
        try:
            cursor.execute(self.sql(template), params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def placeholders(self, count: int, width: int = 1) -> str:
        """``(?, ?), (?, ?)`` for ``count`` rows of ``width`` values (or ``?, ?`` for width 1)."""
        if width == 1:
            return ", ".join(["?"] * count)
        row = "(" + ", ".join(["?"] * width) + ")"
        return ", ".join([row] * count)
