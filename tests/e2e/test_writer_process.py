"""``unico serve`` on SQLite runs the ingest writer in a process of its own: profiles, erasure
(which must reach the writer's cache) and shutdown work across the process boundary."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server

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
