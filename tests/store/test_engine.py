"""Connection settings the stores rely on, and the serving thread's raw reads."""

from __future__ import annotations

import gc
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from unico.db.engine import DbapiSource, RawRead, Store


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


# -- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[tuple[Store, str]]:
    """A store on the session's PostgreSQL database, and a table of its own there."""
    store = Store(postgres_url)
    table = f"t_{secrets.token_hex(4)}"
    with store.write() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (x INTEGER)")
    try:
        yield store, table
    finally:
        with store.write() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")
        store.dispose()


def _pg_count(source: DbapiSource, table: str) -> int:
    with source.connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return int(cursor.fetchone()[0])


def _backend_pid(source: DbapiSource) -> int:
    with source.connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def test_raw_reads_on_postgres_keep_one_connection_per_thread(
    pg_store: tuple[Store, str],
) -> None:
    store, table = pg_store
    with store.write() as conn:
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1)")
    with store.raw_read() as first:
        assert isinstance(first, RawRead)
        assert _pg_count(first, table) == 1
        # READ COMMITTED: each statement its own snapshot, so no transaction is opened
        assert first.connection.info.transaction_status == TransactionStatus.IDLE
    with store.write() as conn:
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES (2)")
    with store.raw_read() as again:
        assert again.connection is first.connection
        assert _pg_count(again, table) == 2
    seen: list[object] = []

    def other_thread() -> None:
        with store.raw_read() as theirs:
            seen.append(theirs.connection)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen[0] is not first.connection
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    store.dispose()
    assert first.connection.closed


def _terminate(store: Store, pid: int) -> None:
    """As a server restart or an idle timeout would: the backend says so and goes."""
    with store.write() as conn:
        assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid}, 5000)").scalar_one()


def test_a_raw_read_after_the_server_closed_the_connection_opens_another(
    pg_store: tuple[Store, str],
) -> None:
    store, table = pg_store
    with store.raw_read() as first:
        pid = _backend_pid(first)
    _terminate(store, pid)
    with store.raw_read() as source:  # no error: the closed connection is noticed first
        assert _backend_pid(source) != pid
        assert _pg_count(source, table) == 0
    assert first.connection.closed
    with store.raw_read() as again:  # and a live one is kept
        assert again.connection is source.connection


def test_a_failed_raw_read_on_postgres_keeps_a_usable_connection(
    pg_store: tuple[Store, str],
) -> None:
    store, table = pg_store
    with pytest.raises(psycopg.errors.UndefinedTable), store.raw_read() as failed:
        _pg_count(failed, "nowhere")
    with store.raw_read() as source:
        assert source.connection is failed.connection
        assert _pg_count(source, table) == 0
    # The server gone in the middle of a read: that read fails, the next has a new one.
    with pytest.raises(psycopg.OperationalError), store.raw_read() as cut:
        _terminate(store, _backend_pid(cut))
        _pg_count(cut, table)
    assert cut.connection.closed
    with store.raw_read() as source:
        assert source.connection is not cut.connection
        assert _pg_count(source, table) == 0
