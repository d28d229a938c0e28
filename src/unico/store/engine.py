"""The Store: one engine per database, its dialect quirks, and migrations.

SQLite runs in WAL mode. Reads use pooled connections; the ingest writer is the
only writer and opens its transactions with ``BEGIN IMMEDIATE`` (see
``Store.write()``), so it never has to upgrade a read lock mid-transaction.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import QueuePool

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("unico.store")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def build_engine(
    url: str,
    *,
    sqlite_synchronous: str = "NORMAL",
    sqlite_mmap_mib: int = 0,
    pool_size: int = 8,
    sqlite_autocheckpoint: bool = True,
) -> Engine:
    """An engine for ``url`` with the pragmas and JSON codec Unico relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        _configure_sqlite(engine, sqlite_synchronous, sqlite_mmap_mib, sqlite_autocheckpoint)
        return engine
    return create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        pool_size=pool_size,
        pool_pre_ping=True,
    )


def _configure_sqlite(
    engine: Engine, synchronous: str, mmap_mib: int, autocheckpoint: bool
) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (the documented pysqlite recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.execute("PRAGMA cache_size=-65536")
        # Each connection's page cache is its own: with a pool of them and a database larger
        # than one cache, random reads (a decision's person, 100,000 profiles) went to the file
        # again and again, ~0.5 ms a person. Through a memory map they share the OS page cache:
        # ~50 µs (measured on a 700 MB database). WAL frames are still read by SQLite itself.
        if mmap_mib:
            cur.execute(f"PRAGMA mmap_size={int(mmap_mib) * 2**20}")
        if not autocheckpoint:
            cur.execute("PRAGMA wal_autocheckpoint=0")  # a Checkpointer thread does it
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("unico_write", False)
        # Straight to the driver: exec_driver_sql's statement machinery cost more than the
        # BEGIN itself, on every transaction (a decision's read, each ingest group).
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        dbapi.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


class DbapiSource(Protocol):
    """What raw DBAPI statements go through: a SQLAlchemy ``Connection`` (its
    ``.connection`` is the pooled DBAPI connection) or a `RawRead`."""

    @property
    def connection(self) -> Any: ...


class RawRead:
    """A thread's own SQLite connection, for its read transactions (see `Store.raw_read`).
    The connection is closed when the thread ends (its locals go) or the store is disposed."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: Any) -> None:
        self.connection = connection


class Checkpointer:
    """A thread running ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval`` seconds.

    SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages, so
    the ingest writer paid for copying pages and syncing the database file on its own
    critical path (a quarter of its time under load). A passive checkpoint never waits
    for readers or the writer, and the writer keeps appending to the WAL meanwhile.
    """

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="unico-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._checkpoint()
        self._checkpoint()

    def _checkpoint(self) -> None:
        try:
            raw = self.engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cursor.close()
            finally:
                raw.close()
        except Exception:  # a busy or unreachable database: the next round tries again
            log.warning("WAL checkpoint failed", exc_info=True)


class Store:
    """A database and the few things that differ between backends.

    >>> store = Store("sqlite://")
    >>> store.upgrade()
    >>> with store.read() as conn:
    ...     conn.exec_driver_sql("select count(*) from profile").scalar()
    0
    """

    def __init__(
        self,
        url: str,
        *,
        sqlite_synchronous: str = "NORMAL",
        sqlite_mmap_mib: int = 0,
        pool_size: int = 8,
        background_checkpoints: bool = False,
    ) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self.background_checkpoints = background_checkpoints and self.is_sqlite
        self.engine = build_engine(
            url,
            sqlite_synchronous=sqlite_synchronous,
            sqlite_mmap_mib=sqlite_mmap_mib,
            pool_size=pool_size,
            sqlite_autocheckpoint=not self.background_checkpoints,
        )
        self._checkpointer: Checkpointer | None = None
        # A file database's pool (QueuePool) hands each thread its own connection; an
        # in-memory one is a single shared connection, which only the pool may hand out.
        self._raw_reads = self.is_sqlite and isinstance(self.engine.pool, QueuePool)
        self._raw_local = threading.local()
        #: Closes each thread's connection: when its `RawRead` goes, or on `dispose`.
        self._raw_closers: list[weakref.finalize[Any, Any]] = []
        self._raw_lock = threading.Lock()

    def start_checkpointer(self, interval: float = 0.5) -> None:
        """With ``background_checkpoints``: copy the WAL into the database from a thread of
        its own, so that commits on the ingest path never do it (nor its fsync)."""
        if self.background_checkpoints and self._checkpointer is None:
            self._checkpointer = Checkpointer(self.engine, interval)
            self._checkpointer.start()

    def stop_checkpointer(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a (read) transaction."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def raw_read(self) -> Iterator[DbapiSource]:
        """A read transaction for statements sent through the DBAPI only (`Bulk`).

        On a SQLite file, each thread keeps a connection of its own outside the pool and
        opens the transaction with a bare ``BEGIN``: SQLAlchemy's checkout, events and
        transaction objects around a two-query read cost as much as the queries themselves
        in a serving process under load (7% of its samples). Elsewhere it is `read`.
        """
        if not self._raw_reads:
            with self.read() as conn:
                yield conn
            return
        held: RawRead | None = getattr(self._raw_local, "held", None)
        if held is None:
            # Through the pool's "connect" event (pragmas, memory map), then out of the pool.
            pooled = self.engine.raw_connection()
            held = RawRead(pooled.dbapi_connection)
            pooled.detach()
            with self._raw_lock:
                self._raw_closers = [c for c in self._raw_closers if c.alive]
                self._raw_closers.append(weakref.finalize(held, held.connection.close))
            self._raw_local.held = held
        dbapi = held.connection
        dbapi.execute("BEGIN")
        try:
            yield held
        except BaseException:
            dbapi.execute("ROLLBACK")
            raise
        dbapi.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(unico_write=True)
            with conn.begin():
                yield conn

    def insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        """A dialect INSERT, which has ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
        if self.is_sqlite:
            return sqlite.insert(table)
        return postgresql.insert(table)

    def upgrade(self) -> None:
        """Apply every pending migration."""
        with self.engine.begin() as conn:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        self.stop_checkpointer()
        with self._raw_lock:
            closers, self._raw_closers = self._raw_closers, []
        for close in closers:
            close()
        self._raw_local = threading.local()
        self.engine.dispose()
