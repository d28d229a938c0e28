"""Crashing a server where it hurts: SIGKILL while a write transaction is open.

A kill at a random moment mostly lands between commits, where losing nothing is easy. Here
the processes are stopped (SIGSTOP) again and again until, frozen, one of them is inside a
write transaction, and only then killed. On SQLite the writer process then holds the WAL's
write lock (taken by ``BEGIN IMMEDIATE``, released when COMMIT returns; SQLite keeps it as
a POSIX lock on byte 120 of the ``-shm`` file, which ``/proc/locks`` lists); on PostgreSQL a
backend of the server has a transaction id (it has written and not committed). Nothing in
Unico helps the test: the moment is observed from outside, and checked rather than hoped for.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.e2e.conftest import group_members

#: Byte of the ``-shm`` file whose write lock is SQLite's WAL write lock (os_unix.c:
#: ``UNIX_SHM_BASE`` + ``WAL_WRITE_LOCK``).
WAL_WRITE_LOCK_BYTE = 120
#: A frozen moment outside a transaction is let go this long before the next try.
RETRY_PAUSE_S = 0.002


def frozen(pid: int) -> bool:
    """Whether every thread of ``pid`` is stopped (or the process is gone)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return True
    for task in tasks:
        try:
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # the thread has just ended
        if state not in ("T", "t", "Z", "X"):
            return False
    return True


def sqlite_write_lock_holders(database_url: str) -> set[int]:
    """The processes holding the WAL write lock of a SQLite database: at most one, inside
    its write transaction."""
    shm = Path(f"{make_url(database_url).database}-shm")
    try:
        inode = shm.stat().st_ino
    except FileNotFoundError:
        return set()
    holders = set()
    # "1: POSIX  ADVISORY  WRITE 4242 fe:00:2147923 120 120"; "1: -> POSIX ..." waits.
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) != 8 or fields[1] != "POSIX" or fields[3] != "WRITE":
            continue
        if int(fields[5].rsplit(":", 1)[1]) != inode:
            continue
        start, end = int(fields[6]), fields[7]
        if start <= WAL_WRITE_LOCK_BYTE and (end == "EOF" or int(end) >= WAL_WRITE_LOCK_BYTE):
            holders.add(int(fields[4]))
    return holders


@contextmanager
def postgres_writers(database_url: str) -> Iterator[Callable[[], int]]:
    """Counts the backends of other sessions on this database that have a transaction id:
    ones that have written in a transaction not yet committed."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
    )
    try:
        with engine.connect() as conn:
            # Each statement is a transaction of its own: a fresh view of the activity.
            yield lambda: int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def writer_pid(pgid: int) -> int | None:
    """The SQLite writer process of a server (process group ``pgid``): the one holding the
    socket it listens on (``unico-writer-…/writer.sock``), if it is running."""
    inodes = set()
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) == 8 and "/unico-writer-" in fields[7]:
            inodes.add(f"socket:[{fields[6]}]")
    for pid in group_members(pgid):
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    return None


def kill_inside_a_transaction(
    send: Callable[[int], None],
    pids: Iterable[int],
    writing: Callable[[], bool],
    *,
    timeout: float = 30.0,
) -> float:
    """Send SIGSTOP with ``send`` until, once ``pids`` are all frozen, ``writing()`` says a
    write transaction is open; then SIGKILL. When (``time.monotonic``) they were stopped."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    tries = 0
    while True:
        tries += 1
        stopped_at = time.monotonic()
        send(signal.SIGSTOP)
        while not all(frozen(pid) for pid in pids):
            if time.monotonic() > deadline:
                send(signal.SIGCONT)
                pytest.fail(f"processes {pids} did not stop")
            time.sleep(0.0005)
        if writing():
            send(signal.SIGKILL)
            return stopped_at
        send(signal.SIGCONT)
        if time.monotonic() > deadline:
            pytest.fail(f"no write transaction seen open in {tries} stops over {timeout} s")
        time.sleep(RETRY_PAUSE_S)
