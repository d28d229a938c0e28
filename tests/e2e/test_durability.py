"""A 2xx from the tracking API means "durably stored", whichever process dies.

Clients send batches with message ids from several threads and send a batch again, with the
same ids, until it gets a 2xx, as Segment's libraries do. The server is killed with SIGKILL
inside a write transaction (see crash.py): all of its processes at once, as a host crash or
a container's OOM kill does, or, on SQLite, the writer process alone in the middle of a
group commit. After the restart and the clients' retries every acknowledged message is
stored, and every message exactly once. Under load, before each kill, the test also checks
that each batch is committed as soon as its 2xx arrives: an answer sent just before COMMIT
loses nothing unless a kill falls in that instant, but a reader sees the gap.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, bindparam, create_engine, text

from tests.e2e.conftest import Server, group_members
from tests.e2e.crash import (
    kill_inside_a_transaction,
    postgres_writers,
    sqlite_write_lock_holders,
    writer_pid,
)

pytestmark = pytest.mark.e2e

SENDERS = 4
BATCH = 50
ACKED_BEFORE_KILL = 1500
#: Events acknowledged after a writer's restart before it is killed again.
ACKED_BETWEEN_KILLS = 1000
WRITER_KILLS = 3
DEADLINE_SECONDS = 60.0
#: Longer than a writer's restart on a busy machine: a request waits for it.
CLIENT_TIMEOUT = 30.0
#: Pause before sending a refused batch again (shorter than Retry-After, to keep tests short).
RETRY_PAUSE_S = 0.05
#: Batches just acknowledged that are checked to be committed, and how often.
RECENT_BATCHES = 16
CHECK_PAUSE_S = 0.002


def message_ids(conn: Connection, workspace_id: str) -> Counter[str]:
    """Event rows per message id, read straight from the event table."""
    query = text("SELECT message_id FROM event WHERE workspace_id = :ws")
    return Counter(r.message_id for r in conn.execute(query, {"ws": workspace_id}))


def stored_message_ids(database: str, workspace_id: str) -> Counter[str]:
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            return message_ids(conn, workspace_id)
    finally:
        engine.dispose()


def wait_until(condition: Callable[[], object], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not (found := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.01)
    return found


class Clients:
    """Threads sending batches until stopped, each batch until it gets a 2xx, and checking
    every answer against the contract: a 2xx counts every message as accepted or duplicate;
    anything else is a 503 with ``Retry-After``, or no answer at all from a killed server."""

    def __init__(self, base_url: str, write_key: str) -> None:
        self.base_url = base_url
        self.auth = (write_key, "")
        self.lock = threading.Lock()
        self.sent: list[list[dict[str, Any]]] = []
        self.acked: set[str] = set()
        self.recent: deque[str] = deque(maxlen=RECENT_BATCHES)
        #: Sender -> its batch that has not had a 2xx yet.
        self.unacked: dict[int, list[dict[str, Any]]] = {}
        self.attempts: Counter[str] = Counter()
        #: Answers other than 2xx, by status and error code ("no answer" when cut off).
        self.refused: Counter[str] = Counter()
        #: Batches sent again after a refusal, by outcome: stored now ("fresh": the refused
        #: attempt was not committed) or already there ("duplicate": committed, answer lost).
        self.retried: Counter[str] = Counter()
        self.violations: list[str] = []
        #: When each attempt that got no answer at all (a killed server) was sent.
        self.unanswered: list[float] = []
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(n,), name=f"sender-{n}")
            for n in range(SENDERS)
        ]

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)

    def recently_acked(self) -> list[str]:
        """The first message id of each of the last batches acknowledged."""
        with self.lock:
            return list(self.recent)

    def all_sent(self) -> set[str]:
        return {m["messageId"] for batch in self.sent for m in batch}

    def _batch(self, sender: int, number: int) -> list[dict[str, Any]]:
        batch = [
            {
                "type": "track",
                "messageId": f"s{sender}-b{number}-e{i}",
                "userId": f"user-{sender}-{i % 7}",
                "event": "Durable Event",
                "properties": {"batch": number, "i": i},
            }
            for i in range(BATCH)
        ]
        with self.lock:
            self.sent.append(batch)
        return batch

    def _run(self, sender: int) -> None:
        with httpx.Client(auth=self.auth, timeout=CLIENT_TIMEOUT) as http:
            number = 0
            while not self.stopping.is_set():
                batch = self.unacked.pop(sender, None)
                if batch is None:
                    batch, number = self._batch(sender, number), number + 1
                if not self.post(http, self.base_url, batch):
                    self.unacked[sender] = batch
                    self.stopping.wait(RETRY_PAUSE_S)

    def post(self, http: httpx.Client, base_url: str, batch: list[dict[str, Any]]) -> bool:
        """Send a batch once; whether it was acknowledged."""
        key = batch[0]["messageId"]
        with self.lock:
            self.attempts[key] += 1
            first = self.attempts[key] == 1
        sent_at = time.monotonic()
        try:
            response = http.post(f"{base_url}/v1/batch", json={"batch": batch})
        except httpx.TransportError:
            with self.lock:
                self.refused["no answer"] += 1
                self.unanswered.append(sent_at)
            return False
        if response.status_code != 200:
            error = response.json().get("error", {}) if response.content else {}
            with self.lock:
                self.refused[f"{response.status_code} {error.get('code')}"] += 1
            if response.status_code != 503 or "retry-after" not in response.headers:
                self.violations.append(f"{response.status_code} {response.text[:200]}")
            return False
        body = response.json()
        accepted, duplicates = body["accepted"], body["duplicates"]
        # A batch is committed in one transaction: all of it is new, or all of it was there.
        expected = [(BATCH, 0)] if first else [(BATCH, 0), (0, BATCH)]
        if (accepted, duplicates) not in expected or body["rejected"]:
            self.violations.append(f"attempt {self.attempts[key]} of {key}: {body}")
        with self.lock:
            self.acked.update(m["messageId"] for m in batch)
            self.recent.append(key)
            if not first:
                self.retried["fresh" if accepted else "duplicate"] += 1
        return True

    def deliver_unacked(self, base_url: str) -> None:
        """Send every batch still without a 2xx again, until it has one (the senders have
        stopped)."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        with httpx.Client(auth=self.auth, timeout=CLIENT_TIMEOUT) as http:
            for batch in self.unacked.values():
                while not self.post(http, base_url, batch):
                    assert time.monotonic() < deadline, "a batch was never acknowledged"
                    time.sleep(RETRY_PAUSE_S)
        self.unacked.clear()

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=DEADLINE_SECONDS)
        assert not any(t.is_alive() for t in self.threads), "a sender did not stop"


def assert_stored_once(stored: Counter[str], clients: Clients) -> None:
    assert clients.acked, "nothing was acknowledged"
    missing = clients.acked - set(stored)
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
    doubled = [m for m, n in stored.items() if n > 1]
    assert not doubled, f"{len(doubled)} events stored more than once, e.g. {doubled[:5]}"
    assert set(stored) <= clients.all_sent()


def load_until_acked(clients: Clients, database: str, workspace_id: str, events: int) -> None:
    """Wait until ``events`` more are acknowledged, checking all along that each batch just
    acknowledged is committed: a reader that starts after its answer arrived sees it. (Its
    message ids are claimed in the transaction that stores it; their index is quick to read.)"""
    target = clients.acked_count() + events
    deadline = time.monotonic() + DEADLINE_SECONDS
    query = text(
        "SELECT message_id FROM message WHERE workspace_id = :ws AND message_id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            while clients.acked_count() < target:
                if time.monotonic() > deadline:
                    pytest.fail(f"{clients.acked_count()} acknowledged of {target} in time")
                time.sleep(CHECK_PAUSE_S)
                if not (recent := clients.recently_acked()):
                    continue
                rows = conn.execute(query, {"ws": workspace_id, "ids": recent})
                early = set(recent) - {r.message_id for r in rows}
                conn.rollback()  # the next read takes a new snapshot
                assert not early, f"acknowledged before their commit: {sorted(early)}"
    finally:
        engine.dispose()


def kill_the_writer_mid_commit(pgid: int, database: str, killed: list[int]) -> int:
    """SIGKILL the server's writer process (one not killed before) inside a write
    transaction; its pid."""
    writer: int = wait_until(
        lambda: (pid := writer_pid(pgid)) not in (None, *killed) and pid, "a writer runs"
    )
    kill_inside_a_transaction(
        lambda sig: os.kill(writer, sig),
        [writer],
        lambda: writer in sqlite_write_lock_holders(database),
    )
    return writer


@contextlib.contextmanager
def write_transaction_probe(backend: str, database: str, pgid: int) -> Iterator[Callable[[], bool]]:
    """Whether the server (process group ``pgid``), stopped, is inside a write transaction:
    on SQLite its writer process holds the write lock; on PostgreSQL one of its backends has
    written without committing (the test's own connections are idle)."""
    if backend == "sqlite":
        yield lambda: writer_pid(pgid) in sqlite_write_lock_holders(database)
        return
    with postgres_writers(database) as writers:
        yield lambda: writers() > 0


@pytest.mark.parametrize("workers", [1, 2])
def test_acknowledged_events_survive_killing_every_server_process_mid_commit(
    start_server: Callable[..., Server],
    e2e_database: str,
    keys: dict[str, Any],
    backend: str,
    workers: int,
) -> None:
    """SIGKILL to the whole process group (serving processes, supervisor and, on SQLite, the
    writer) while a group commit is open: no process is left to finish what was taken."""
    server = start_server(e2e_database, workers=workers)
    assert server.process is not None
    pgid = server.process.pid
    with (
        write_transaction_probe(backend, e2e_database, pgid) as writing,
        Clients(server.base_url, keys["write_key"]) as clients,
    ):
        load_until_acked(clients, e2e_database, keys["workspace_id"], ACKED_BEFORE_KILL)
        stopped_at = kill_inside_a_transaction(
            lambda sig: os.killpg(pgid, sig), group_members(pgid), writing
        )
        server.kill_group()
    assert any(t < stopped_at for t in clients.unanswered), "no request in flight was cut off"

    restarted = start_server(e2e_database, workers=workers)
    stored = stored_message_ids(e2e_database, keys["workspace_id"])
    assert_stored_once(stored, clients)
    for batch in clients.sent:  # the crash tore no batch: each is all there or not at all
        assert sum(m["messageId"] in stored for m in batch) in (0, BATCH)

    clients.deliver_unacked(restarted.base_url)
    stored = stored_message_ids(e2e_database, keys["workspace_id"])
    assert_stored_once(stored, clients)
    assert set(stored) == clients.all_sent()
    assert not clients.violations, clients.violations[:5]


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("workers", [1, 2])
def test_acknowledged_events_survive_killing_the_writer_process_mid_commit(
    start_server: Callable[..., Server], e2e_database: str, keys: dict[str, Any], workers: int
) -> None:
    """SQLite only: there one writer process commits for every serving process, and it can
    die alone. On PostgreSQL each serving process commits from a thread of its own, so no
    process commits for another; the whole-group test covers its crash.

    The writer is killed three times inside a group commit under load; the serving process
    (``--workers 1``) or the supervisor (``--workers 2``) starts a new one, requests cut off
    get a 503 with ``Retry-After``, and the clients' retries store each message once."""
    server = start_server(e2e_database, workers=workers)
    assert server.process is not None
    pgid = server.process.pid
    killed: list[int] = []
    with Clients(server.base_url, keys["write_key"]) as clients:
        for _ in range(WRITER_KILLS):
            load_until_acked(clients, e2e_database, keys["workspace_id"], ACKED_BETWEEN_KILLS)
            killed.append(kill_the_writer_mid_commit(pgid, e2e_database, killed))
        # The last new writer serves too.
        load_until_acked(clients, e2e_database, keys["workspace_id"], ACKED_BETWEEN_KILLS)
    assert server.process.poll() is None, "the server died with its writer"

    clients.deliver_unacked(server.base_url)
    stored = stored_message_ids(e2e_database, keys["workspace_id"])
    assert_stored_once(stored, clients)
    assert set(stored) == clients.all_sent()
    assert not clients.violations, clients.violations[:5]
    # Each kill cut requests off (a 503, never a 2xx), and uncommitted work was rolled back:
    # some refused batches were new to the store when sent again.
    assert clients.refused, "no request noticed a writer's death"
    assert not clients.unanswered, "the server stopped answering"
    assert clients.retried["fresh"] > 0, (clients.refused, clients.retried)


def test_an_event_acknowledged_just_before_a_sigkill_is_kept(
    start_server: Callable[..., Server], e2e_database: str, keys: dict[str, Any]
) -> None:
    server = start_server(e2e_database)
    message = {"userId": "last-words", "event": "Acked", "messageId": "the-last-one"}
    response = httpx.post(
        f"{server.base_url}/v1/track", json=message, auth=(keys["write_key"], ""), timeout=30
    )
    server.kill_group()  # the writer too: nothing can commit after the answer
    assert response.status_code == 200, response.text
    assert stored_message_ids(e2e_database, keys["workspace_id"]) == {"the-last-one": 1}
    restarted = start_server(e2e_database)
    profile = httpx.get(
        f"{restarted.base_url}/v1/profiles/user_id:last-words",
        headers={"Authorization": f"Bearer {keys['secret_key']}"},
        timeout=30,
    )
    assert profile.status_code == 200, profile.text
    assert profile.json()["computed"]["event_counts"] == {"Acked": 1}
