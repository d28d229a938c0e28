"""``unico serve --workers 2``: two serving processes share one writer (SQLite), the models
(fitted once, loaded by both) and the database, and stop together."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, free_port
from unico.web.workers import reuse_port_supported

pytestmark = pytest.mark.e2e

ITEMS = [{"id": f"i{n}", "title": f"Item {n}", "category": [f"C{n % 3}"]} for n in range(12)]


def _tree(pid: int) -> list[int]:
    """The descendants of ``pid`` that multiprocessing spawned, oldest first."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if stat[0] == "Z":
            continue
        children.setdefault(int(stat[1]), []).append(int(entry))
        if b"spawn_main" in cmd:
            started[int(entry)] = int(stat[19])
    out, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out += [k for k in kids if k in started]
        todo += kids
    return sorted(out, key=lambda p: started[p])


def _fresh(server: Server) -> httpx.Client:
    """A client on a new connection: the kernel hands it to either worker."""
    return httpx.Client(base_url=server.base_url, timeout=30)


def _views(server: Server, write: tuple[str, str], user: int) -> None:
    # People view items in pairs: i0 with i1, i2 with i3...
    first = 2 * (user % 6)
    with _fresh(server) as http:
        for item in (first, first + 1):
            body = {"userId": f"u{user}", "event": "Product Viewed"}
            body["properties"] = {"product_id": f"i{item}"}
            r = http.post("/v1/track", json=body, auth=write)
            assert r.status_code == 200, r.text


def test_workers_share_the_writer_the_models_and_the_database(
    start_server: Callable[..., Server], e2e_database: str, keys: dict[str, Any], backend: str
) -> None:
    server = start_server(e2e_database, workers=2)
    assert server.process is not None
    spawned = _tree(server.process.pid)
    # Two workers, and on SQLite one writer process for both.
    assert len(spawned) == (3 if backend == "sqlite" else 2)
    write = (keys["write_key"], "")
    admin = {"Authorization": f"Bearer {keys['secret_key']}"}
    with _fresh(server) as http:
        assert http.post("/v1/catalog/items", json=ITEMS, headers=admin).status_code == 200
        for spec in (
            # No exploration: the same person gets the same items from the same models.
            {"name": "for_you", "strategy": "als", "size": 3, "epsilon": 0},
            {"name": "pdp", "strategy": "also_viewed", "size": 1, "epsilon": 0},
        ):
            assert http.post("/v1/placements", json=spec, headers=admin).status_code == 201
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda u: _views(server, write, u), range(48)))
    with _fresh(server) as http:
        for user in (0, 47):
            found = http.get(f"/v1/profiles/user_id:u{user}", headers=admin).json()
            assert found["computed"]["event_counts"] == {"Product Viewed": 2}
        assert http.post("/v1/models/train", headers=admin).status_code in (200, 202)
    deadline = time.monotonic() + 60
    while True:
        with _fresh(server) as http:
            status = http.get("/v1/models", headers=admin).json()
        if not status["training"] and all(m["trained_at"] for m in status["models"]):
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    # Trained once: every connection, whichever worker answers, shows the same fit (a
    # second fit would have its own time) and, soon, the same models.
    deadline = time.monotonic() + 10
    answers: list[Any] = []
    while time.monotonic() < deadline:
        answers = []
        for _ in range(16):
            with _fresh(server) as http:
                models = http.get("/v1/models", headers=admin).json()["models"]
                body = {"userId": "u0", "placements": ["for_you", "pdp"], "context": {"item": "i4"}}
                r = http.post("/v1/decide", json=body, auth=write)
                assert r.status_code == 200, r.text
                decisions = r.json()["decisions"]
            answers.append(
                (
                    [(m["name"], m["trained_at"]) for m in models],
                    [i["id"] for i in decisions["for_you"]["items"]],
                    [i["id"] for i in decisions["pdp"]["items"]],
                    decisions["for_you"]["is_default"],
                )
            )
        if len(set(map(repr, answers))) == 1:
            break
        time.sleep(0.3)
    assert len(set(map(repr, answers))) == 1, answers
    assert answers[0][2] == ["i5"] and answers[0][3] is False


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_dead_writer_is_restarted_and_nothing_accepted_is_lost(
    start_server: Callable[..., Server], e2e_database: str, keys: dict[str, Any]
) -> None:
    server = start_server(e2e_database, workers=2)
    assert server.process is not None
    writer = _tree(server.process.pid)[0]  # started before the workers
    write = (keys["write_key"], "")
    admin = {"Authorization": f"Bearer {keys['secret_key']}"}
    accepted = 0
    with _fresh(server) as http:
        for _ in range(5):
            r = http.post("/v1/track", json={"userId": "ada", "event": "Tick"}, auth=write)
            assert r.status_code == 200
            accepted += 1
    os.kill(writer, signal.SIGKILL)
    refused = 0
    deadline = time.monotonic() + 30
    while accepted < 10:
        assert time.monotonic() < deadline, "the writer did not come back"
        with _fresh(server) as http:
            r = http.post("/v1/track", json={"userId": "ada", "event": "Tick"}, auth=write)
        if r.status_code == 200:
            accepted += 1
        else:  # while it restarts: a clear 503, never a 500
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "overloaded"
            refused += 1
            time.sleep(0.1)
    assert writer not in _tree(server.process.pid)
    with _fresh(server) as http:
        found = http.get("/v1/profiles/user_id:ada", headers=admin).json()
    assert found["computed"]["event_counts"] == {"Tick": accepted}
    children = _tree(server.process.pid)
    server.stop()
    assert server.process.returncode == 0
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{p}").exists() for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in children if Path(f"/proc/{p}").exists()]


def _sockets(pid: int, port: int) -> dict[str, int]:
    """How many TCP sockets on ``port`` process ``pid`` holds: ``listen``, ``open``."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:  # the process has just exited
        fds = []
    inodes = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = {"listen": 0, "open": 0}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                found["listen" if fields[3] == "0A" else "open"] += 1
    return found


def _listening_workers(server: Server) -> list[int]:
    """The two workers, once both listen (each on a socket of its own)."""
    assert server.process is not None
    workers = [p for p in _tree(server.process.pid) if p != server.process.pid]
    deadline = time.monotonic() + 30
    while True:
        listening = [p for p in workers if _sockets(p, server.port)["listen"] == 1]
        if len(listening) == 2:
            return listening
        assert time.monotonic() < deadline, f"listening: {listening} of {workers}"
        time.sleep(0.1)


@pytest.mark.skipif(not reuse_port_supported(), reason="SO_REUSEPORT balancing is Linux's")
@pytest.mark.parametrize("backend", ["sqlite"])
def test_connections_are_spread_over_the_workers(
    start_server: Callable[..., Server], e2e_database: str
) -> None:
    """Each worker listens on a socket of its own (SO_REUSEPORT), so keep-alive
    connections opened in a row land on both workers, not all on whichever was idle."""
    server = start_server(e2e_database, workers=2)
    assert server.process is not None
    listening = _listening_workers(server)
    # A burst of connections, as a load balancer or a busy page opens them: with one shared
    # socket the first worker to wake accepts the whole backlog.
    # Counted before any request: a worker over its share would close some after answering.
    clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(40)]
    try:
        deadline = time.monotonic() + 10
        while sum(held := [_sockets(p, server.port)["open"] for p in listening]) < 40:
            assert time.monotonic() < deadline, held
            time.sleep(0.05)
        # A fair coin for each connection: fewer than 8 of 40 on one side is a 1-in-20,000 event.
        assert min(held) >= 8, held
    finally:
        for client in clients:
            client.close()
    # A worker that dies is replaced by one listening on a socket of its own again.
    os.kill(listening[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        spawned = [p for p in _tree(server.process.pid) if p != listening[0]]
        now = [p for p in spawned if _sockets(p, server.port)["listen"] == 1]
        if len(now) == 2:
            break
        assert time.monotonic() < deadline, f"listening after the kill: {now}"
        time.sleep(0.2)
    assert listening[1] in now
    with _fresh(server) as http:
        assert http.get("/health").status_code == 200


@pytest.mark.skipif(not reuse_port_supported(), reason="SO_REUSEPORT balancing is Linux's")
@pytest.mark.parametrize("backend", ["sqlite"])
def test_keep_alive_connections_even_out_over_the_workers(
    start_server: Callable[..., Server], e2e_database: str
) -> None:
    """A worker holding more than half of the open connections closes some after
    answering (``Connection: close``); the clients reconnect and the kernel hashes them
    afresh, until the two hold 20 and 20, or 21 and 19, of the 40. By the hash alone that
    happens one time in three."""
    server = start_server(e2e_database, workers=2)
    assert server.process is not None
    workers = _listening_workers(server)
    clients = [http.client.HTTPConnection("127.0.0.1", server.port) for _ in range(40)]
    closed = 0
    held: list[int] = []
    try:
        for _ in range(40):
            for client in clients:  # one request each, reconnecting where told to close
                client.request("GET", "/health")
                response = client.getresponse()
                assert response.status == 200
                assert response.read()
                closed += response.getheader("connection") == "close"
            held = [_sockets(p, server.port)["open"] for p in workers]
            if sum(held) == 40 and max(held) - min(held) <= 2:
                break
        assert sum(held) == 40 and max(held) - min(held) <= 2, (held, closed)
        # Balanced, nobody is told to close any more.
        before = closed
        for client in clients:
            client.request("GET", "/health")
            response = client.getresponse()
            response.read()
            closed += response.getheader("connection") == "close"
        assert closed == before
    finally:
        for client in clients:
            client.close()


def test_one_worker_leads_the_singleton_jobs_and_another_takes_over(tmp_path: Path) -> None:
    from unico.web import factory

    assert factory._lead(str(tmp_path)) is True
    first = factory._leader
    assert factory._lead(str(tmp_path)) is False  # a second worker: no sweeper, no bandits
    assert first is not None
    first.close()  # the leader's process ends: its lock goes with it
    assert factory._lead(str(tmp_path)) is True
    assert factory._leader is not None
    factory._leader.close()
    assert factory._lead(None) is True  # a single process runs everything


def test_each_worker_unpickles_a_socket_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the supervisor hands its workers: a stand-in that unpickles as a new socket
    bound with SO_REUSEPORT (Linux), else the one socket uvicorn shares between them."""
    import pickle

    import uvicorn

    from unico.web import workers

    port = free_port()
    config = uvicorn.Config("unico.web.factory:app_from_env", host="127.0.0.1", port=port)
    if workers.reuse_port_supported():
        (stand_in,) = workers._listeners(config)
        first, second = pickle.loads(pickle.dumps(stand_in)), pickle.loads(pickle.dumps(stand_in))
        try:
            assert first.getsockname() == second.getsockname() == ("127.0.0.1", port)
            assert first.fileno() != second.fileno()
            assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        finally:
            first.close()
            second.close()
        with socket.socket() as taken:  # an address in use fails in the supervisor
            taken.bind(("127.0.0.1", port))
            taken.listen()
            with pytest.raises(OSError):
                workers._listeners(config)
    monkeypatch.setattr(workers, "reuse_port_supported", lambda: False)
    (shared,) = workers._listeners(config)
    try:
        assert isinstance(shared, socket.socket)
        assert shared.getsockname() == ("127.0.0.1", port)
    finally:
        shared.close()
