"""A 2xx from the tracking API means "durably stored": SIGKILL the server under load, restart
it on the same database, and every acknowledged event must be there, once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

SENDERS = 4
BATCH = 50
ACKED_BEFORE_KILL = 2000
DEADLINE_SECONDS = 60.0


def stored_message_ids(database: str, workspace_id: str) -> Counter[str]:
    """Event rows per message id, read straight from the event table."""
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT message_id FROM event WHERE workspace_id = :ws"), {"ws": workspace_id}
            )
            return Counter(r.message_id for r in rows)
    finally:
        engine.dispose()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.01)


class Load:
    """Threads sending batches until the server goes away, recording what was acknowledged."""

    def __init__(self, server: Server, write_key: str) -> None:
        self.server = server
        self.write_key = write_key
        self.lock = threading.Lock()
        self.sent: list[list[dict[str, Any]]] = []
        self.acked: set[str] = set()
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._send, args=(n,), name=f"sender-{n}")
            for n in range(SENDERS)
        ]

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)

    def _batch(self, sender: int, number: int) -> list[dict[str, Any]]:
        return [
            {
                "type": "track",
                "messageId": f"s{sender}-b{number}-e{i}",
                "userId": f"user-{sender}-{i % 7}",
                "event": "Durable Event",
                "properties": {"batch": number, "i": i},
            }
            for i in range(BATCH)
        ]

    def _send(self, sender: int) -> None:
        auth = (self.write_key, "")
        with httpx.Client(base_url=self.server.base_url, auth=auth, timeout=30) as client:
            number = 0
            while not self.stop.is_set():
                batch = self._batch(sender, number)
                number += 1
                with self.lock:
                    self.sent.append(batch)
                try:
                    response = client.post("/v1/batch", json={"batch": batch})
                except httpx.TransportError:
                    return  # the server was killed: this batch was never acknowledged
                body = response.json()
                if response.status_code != 200 or body["accepted"] != BATCH:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")
                    return
                with self.lock:
                    self.acked.update(m["messageId"] for m in batch)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=DEADLINE_SECONDS)
        assert not any(t.is_alive() for t in self.threads), "a sender did not stop"


def test_acknowledged_events_survive_a_sigkill_under_load(
    start_server: Callable[[str], Server], e2e_database: str, keys: dict[str, Any]
) -> None:
    server = start_server(e2e_database)
    with Load(server, keys["write_key"]) as load:
        wait_until(lambda: load.acked_count() >= ACKED_BEFORE_KILL, "enough batches are acked")
        server.kill()  # senders have requests in flight right now
    assert not load.failures, load.failures
    acked = set(load.acked)
    all_sent = {m["messageId"] for batch in load.sent for m in batch}
    assert len(acked) >= ACKED_BEFORE_KILL
    assert len(all_sent) > len(acked)  # some requests were cut off by the kill

    restarted = start_server(e2e_database)
    stored = stored_message_ids(e2e_database, keys["workspace_id"])
    missing = acked - set(stored)
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
    assert max(stored.values()) == 1

    # Clients retry what was not acknowledged; message ids make the retries safe.
    with httpx.Client(
        base_url=restarted.base_url, auth=(keys["write_key"], ""), timeout=30
    ) as client:
        for batch in load.sent:
            response = client.post("/v1/batch", json={"batch": batch})
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] + response.json()["duplicates"] == BATCH
    stored = stored_message_ids(e2e_database, keys["workspace_id"])
    assert set(stored) == all_sent
    assert set(stored.values()) == {1}


def test_an_event_acknowledged_just_before_a_sigkill_is_kept(
    start_server: Callable[[str], Server], e2e_database: str, keys: dict[str, Any]
) -> None:
    server = start_server(e2e_database)
    message = {"userId": "last-words", "event": "Acked", "messageId": "the-last-one"}
    response = httpx.post(
        f"{server.base_url}/v1/track", json=message, auth=(keys["write_key"], ""), timeout=30
    )
    server.kill()
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
