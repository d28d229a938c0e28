"""Connection settings the SQLite store relies on."""

from __future__ import annotations

import gc
import sqlite3
import threading
from pathlib import Path

import pytest

from unico.store.engine import DbapiSource, RawRead, Store


def _pragma(store: Store, name: str) -> int:
    with store.read() as conn:
        return int(conn.exec_driver_sql(f"PRAGMA {name}").scalar_one())


def test_sqlite_reads_through_a_memory_map_when_asked(tmp_path: Path) -> None:
    mapped = Store(f"sqlite:///{tmp_path / 'mapped.db'}", sqlite_mmap_mib=64)
    plain = Store(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        assert _pragma(mapped, "mmap_size") == 64 * 2**20
        assert _pragma(plain, "mmap_size") == 0
        mapped.upgrade()
        with mapped.write() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1), (2)")
        with mapped.read() as conn:
            assert conn.exec_driver_sql("SELECT sum(x) FROM t").scalar_one() == 3
    finally:
        mapped.dispose()
        plain.dispose()


def _count(source: DbapiSource) -> int:
    cursor = source.connection.cursor()
    try:
        cursor.execute("SELECT count(*) FROM t")
        return int(cursor.fetchone()[0])
    finally:
        cursor.close()


def _insert(store: Store, value: int) -> None:
    with store.write() as conn:
        conn.exec_driver_sql(f"INSERT INTO t VALUES ({value})")


def test_raw_reads_keep_one_connection_per_thread_and_see_every_commit(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'raw.db'}", sqlite_mmap_mib=64)
    try:
        with store.write() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        _insert(store, 1)
        with store.raw_read() as first:
            assert isinstance(first, RawRead)
            assert _count(first) == 1
            # The thread's connection has the pool's pragmas (set on connect).
            cursor = first.connection.cursor()
            assert cursor.execute("PRAGMA mmap_size").fetchone()[0] == 64 * 2**20
            cursor.close()
        _insert(store, 2)
        with store.raw_read() as again:
            assert again.connection is first.connection
            assert _count(again) == 2  # a new transaction: a new snapshot
        seen: list[object] = []

        def other_thread() -> None:
            with store.raw_read() as theirs:
                seen.append(theirs.connection)
                seen.append(_count(theirs))

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert seen[0] is not first.connection and seen[1] == 2
        # Not taken from the pool: its connections stay free for everything else.
        assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        store.dispose()
    with pytest.raises(sqlite3.ProgrammingError):  # dispose closed them
        first.connection.execute("SELECT 1")


def test_a_threads_connection_is_closed_when_the_thread_ends(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'raw.db'}")
    try:
        with store.write() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        theirs: list[sqlite3.Connection] = []

        def read_once() -> None:
            with store.raw_read() as source:
                theirs.append(source.connection)
                _count(source)

        for _ in range(3):
            thread = threading.Thread(target=read_once)
            thread.start()
            thread.join()
        gc.collect()
        for connection in theirs:
            with pytest.raises(sqlite3.ProgrammingError):
                connection.execute("SELECT 1")
        with store.raw_read() as mine:  # this thread's is open until dispose
            assert _count(mine) == 0
        assert sum(c.alive for c in store._raw_closers) == 1
    finally:
        store.dispose()


def test_a_failed_raw_read_rolls_back_and_the_connection_stays_usable(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'raw.db'}")
    try:
        with store.write() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with pytest.raises(sqlite3.OperationalError), store.raw_read() as broken:
            broken.connection.execute("SELECT nothing FROM nowhere")
        assert not broken.connection.in_transaction
        _insert(store, 5)
        with store.raw_read() as source:
            assert _count(source) == 1
    finally:
        store.dispose()


def test_raw_reads_on_an_in_memory_database_use_the_pool() -> None:
    store = Store("sqlite://")
    try:
        store.upgrade()
        with store.write() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        _insert(store, 1)
        with store.raw_read() as source:
            # The pool's one connection: the database exists only there.
            assert not isinstance(source, RawRead)
            assert _count(source) == 1
    finally:
        store.dispose()
