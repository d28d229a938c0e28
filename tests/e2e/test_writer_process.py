"""``unico serve`` on SQLite runs the ingest writer in a process of its own: profiles, erasure
(which must reach the writer's cache) and shutdown work across the process boundary, and a
writer that cannot start is reported at once. (Writers killed under load: test_durability.)"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server
from unico.collect.pipeline import Receipt, Submission
from unico.collect.remote import START_TIMEOUT_S, RemoteIngestor, WriterProcess
from unico.container import build_writer
from unico.core.errors import Overloaded
from unico.core.settings import load_settings

pytestmark = pytest.mark.e2e


def _children(pid: int) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.add(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("backend", ["sqlite"])
def test_erasure_reaches_the_writer_process_and_late_events_create_nothing(
    start_server: Callable[[str], Server], e2e_database: str, keys: dict[str, Any]
) -> None:
    server = start_server(e2e_database)
    assert server.process is not None
    assert _children(server.process.pid), "serve on SQLite starts a writer process"
    write = (keys["write_key"], "")
    admin = {"Authorization": f"Bearer {keys['secret_key']}"}
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        for i in range(3):
            body = {"userId": "ada", "event": "Product Viewed", "properties": {"n": i}}
            assert http.post("/v1/track", json=body, auth=write).status_code == 200
        profile = http.get("/v1/profiles/user_id:ada", headers=admin).json()
        assert profile["computed"]["event_counts"] == {"Product Viewed": 3}
        assert http.delete("/v1/profiles/user_id:ada", headers=admin).status_code == 200
        late = {"userId": "ada", "event": "Product Viewed"}
        assert http.post("/v1/track", json=late, auth=write).status_code == 200
        assert http.get("/v1/profiles/user_id:ada", headers=admin).status_code == 404
        other = {"userId": "bob", "event": "Signed Up"}
        assert http.post("/v1/track", json=other, auth=write).status_code == 200
        assert http.get("/v1/profiles/user_id:bob", headers=admin).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_the_writer_process_ends_with_the_server(
    start_server: Callable[[str], Server], e2e_database: str, how: str
) -> None:
    server = start_server(e2e_database)
    assert server.process is not None
    writers = _children(server.process.pid)
    assert writers
    if how == "sigterm":
        server.stop()
    else:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in writers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in writers), "an orphaned writer process outlived its server"


def _unstartable(tmp_path: Path) -> str:
    """Settings of a writer process that dies at start: its database cannot be created,
    a file stands where its directory should be."""
    (tmp_path / "taken").write_text("")
    database = f"sqlite:///{tmp_path / 'taken' / 'unico.db'}"
    return load_settings(database_url=database).model_dump_json()


def test_a_writer_process_that_cannot_start_is_reported_at_once(tmp_path: Path) -> None:
    """`start` raises (its callers answer 503) as soon as the process is gone, not when the
    start timeout runs out."""
    writer = WriterProcess(build_writer, _unstartable(tmp_path))
    began = time.monotonic()
    try:
        with pytest.raises(Overloaded):
            writer.start()
        assert time.monotonic() - began < START_TIMEOUT_S / 2
        assert not writer.alive()
    finally:
        writer.stop()


def test_requests_queued_behind_a_failed_writer_start_answer_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A serving process whose writer cannot start tries once for the requests waiting
    together, and each of them gets its 503 when that attempt fails, instead of trying in
    turn (the last would wait for every attempt before it)."""
    remote = RemoteIngestor(build_writer, _unstartable(tmp_path), timeout=5)

    async def send() -> list[BaseException | Receipt]:
        empty = Submission("ws", {}, [], [])
        return await asyncio.gather(
            *(remote.submit(empty) for _ in range(3)), return_exceptions=True
        )

    try:
        with caplog.at_level(logging.ERROR, logger="unico.writer"):
            outcomes = asyncio.run(send())
    finally:
        remote.stop()
    assert all(isinstance(o, Overloaded) for o in outcomes), outcomes
    attempts = [r for r in caplog.records if "did not start" in r.getMessage()]
    assert len(attempts) == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_full_queue_in_the_writer_process_is_a_429_with_retry_after(
    start_server: Callable[..., Server], e2e_database: str, keys: dict[str, Any]
) -> None:
    """The writer process's own "queue full" reaches the client as the same 429 as in one
    process (the tracking libraries slow down and send again), never as a 5xx bug."""
    server = start_server(e2e_database, env={"UNICO_INGEST_QUEUE_EVENTS": "1000"})
    write = (keys["write_key"], "")
    too_many = {"batch": [{"type": "track", "userId": "ada", "event": "Tick"}] * 1001}
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        refused = http.post("/v1/batch", json=too_many, auth=write)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "queue_full"
        assert refused.headers["retry-after"] == "1"
        taken = http.post("/v1/batch", json={"batch": too_many["batch"][:1000]}, auth=write)
        assert taken.status_code == 200, taken.text
        assert taken.json()["accepted"] == 1000
