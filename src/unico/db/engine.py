"""The Store: one engine per database, its dialect quirks, and migrations.

SQLite runs in WAL mode. Reads use pooled connections; the ingest writer is the
only writer and opens its transactions with ``BEGIN IMMEDIATE`` (see
``Store.write()``), so it never has to upgrade a read lock mid-transaction.
"""

from __future__ import annotations

import logging
import select
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

from unico.core.worker import Worker

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
    """A thread's own DBAPI connection, for its read transactions (see `Store.raw_read`).
    The connection is closed when the thread ends (its locals go), when it is found broken,
    or when the store is disposed (``close``)."""

    __slots__ = ("__weakref__", "close", "connection")

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.close = weakref.finalize(self, connection.close)


def _broken(dbapi: Any) -> bool:
    """Whether a psycopg connection is unusable: it says so once an operation found the
    server gone."""
    return bool(dbapi.broken or dbapi.closed)


def _closed_by_server(dbapi: Any) -> bool:
    """Whether the server has written to an idle psycopg connection (autocommit, nothing
    sent). It only does so to say it is closing it, before it does: a restart, a terminated
    backend, an idle timeout. One system call, where a ping is a round trip."""
    if _broken(dbapi):
        return True
    poller = select.poll()  # not select(): a server's descriptors pass 1,024
    poller.register(dbapi.fileno(), select.POLLIN)
    return bool(poller.poll(0))


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
        # A busy or unreachable database: the next round tries again. One more
        # checkpoint on the way out leaves a short WAL behind.
        self._worker = Worker(
            "unico-checkpoint",
            self._checkpoint,
            interval=interval,
            run_last=True,
            logger=log,
            failure="WAL checkpoint failed",
            level=logging.WARNING,
        )

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _checkpoint(self) -> None:
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.close()
        finally:
            raw.close()


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
        # PostgreSQL's and a SQLite file's pool (QueuePool) hands each thread its own
        # connection; an in-memory database is a single shared connection, which only the
        # pool may hand out.
        self._raw_reads = isinstance(self.engine.pool, QueuePool)
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
        """A read for statements sent through the DBAPI only (`Bulk`), on a connection the
        thread keeps outside the pool.

        SQLAlchemy's checkout, events and transaction objects around a two-query read cost
        as much as the queries themselves in a serving process under load (7% of its
        samples on SQLite), and on PostgreSQL the checkout's ping was a round trip of its
        own. SQLite reads in a transaction opened with a bare ``BEGIN``: one snapshot for
        every statement. PostgreSQL reads at READ COMMITTED, where each statement takes a
        snapshot of its own inside a transaction too, so its reads send no ``BEGIN`` and
        ``COMMIT``: the same answers, two round trips fewer. A two-query read over loopback
        took 132 µs (63 µs of the client's CPU) against 340 µs (181 µs) through `read`. An
        in-memory SQLite database reads through `read`.
        """
        if not self._raw_reads:
            with self.read() as conn:
                yield conn
            return
        held: RawRead | None = getattr(self._raw_local, "held", None)
        if held is not None and not self.is_sqlite and _closed_by_server(held.connection):
            # A restart, a terminated backend or an idle timeout since the last read: a new
            # connection, as the pool's ping would have made, without its round trip.
            log.info("a read connection was closed by the server: opening another")
            held.close()
            held = None
        if held is None:
            held = self._hold()
        dbapi = held.connection
        if not self.is_sqlite:
            try:
                yield held
            except BaseException:
                if _broken(dbapi):
                    held.close()
                    self._raw_local.held = None
                raise
            return
        dbapi.execute("BEGIN")
        try:
            yield held
        except BaseException:
            dbapi.execute("ROLLBACK")
            raise
        dbapi.execute("COMMIT")

    def _hold(self) -> RawRead:
        """This thread's connection for `raw_read`: made through the pool's "connect" event
        (SQLite's pragmas and memory map), then taken out of the pool."""
        pooled = self.engine.raw_connection()
        dbapi: Any = pooled.dbapi_connection
        pooled.detach()
        if not self.is_sqlite:
            dbapi.autocommit = True  # psycopg: no transaction around the statements
        held = RawRead(dbapi)
        with self._raw_lock:
            self._raw_closers = [c for c in self._raw_closers if c.alive]
            self._raw_closers.append(held.close)
        self._raw_local.held = held
        return held

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
