"""Holding a store's write lock from outside, to make the ingest writer wait (no mocks)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url


@contextmanager
def hold_write_lock(database_url: str) -> Iterator[None]:
    """Block every writer of the store (readers go on) until the block exits.

    SQLite: another connection holds ``BEGIN IMMEDIATE``. PostgreSQL: another session
    holds EXCLUSIVE locks on the tables every ingest transaction writes first.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(str(url.database), isolation_level=None, timeout=30)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        return
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn, conn.begin():
            conn.exec_driver_sql("LOCK TABLE message, dead_letter IN EXCLUSIVE MODE")
            yield
    finally:
        engine.dispose()
