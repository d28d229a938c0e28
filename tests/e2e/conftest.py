"""Real server processes: ``unico serve`` on a free port, started and always killed by fixtures.

Each server runs in a process group of its own (a new session), so that a test can kill
all of its processes at once, as a host crash or a container's OOM kill does: the serving
processes, uvicorn's supervisor and, on SQLite, the writer process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

UNICO = str(Path(sys.executable).parent / "unico")
START_SECONDS = 30.0


def clean_env() -> dict[str, str]:
    """The environment without ``UNICO_*`` settings: the command line says everything."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNICO_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_unico(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``unico`` command as a user would and return its result, whatever it is."""
    return subprocess.run(
        [UNICO, *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=cwd,
        timeout=60,
        check=False,
    )


def unico(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``unico`` command and return its result (it must succeed)."""
    result = run_unico(*args, cwd=cwd)
    assert result.returncode == 0, f"unico {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # it has just exited
            continue
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One ``unico serve`` process."""

    database: str
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    workers: int = 1
    #: ``UNICO_*`` settings the command line has no option for.
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / f"server-{self.port}.log"

    def start(self) -> Server:
        with self.log.open("wb") as log:
            command = [UNICO, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
            if self.workers > 1:
                command += ["--workers", str(self.workers)]
            self.process = subprocess.Popen(
                [*command, "--database", self.database],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**clean_env(), **self.env},
                cwd=self.workdir,
                start_new_session=True,  # a process group of its own: see `kill_group`
            )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"the server exited at start:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"the server did not answer within {START_SECONDS} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)

    def kill_group(self) -> None:
        """SIGKILL every process of the server at once (serving processes, supervisor, writer)
        and wait until all are gone, so that none commits anything after this returns."""
        if self.process is None:
            return
        if self.process.poll() is None or group_members(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while left := group_members(self.process.pid):
            if time.monotonic() > deadline:
                pytest.fail(f"processes {left} outlived a SIGKILL of their group")
            time.sleep(0.01)

    def stop(self) -> None:
        """A graceful stop (SIGTERM), then SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def e2e_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database for server processes: a fresh SQLite file, or the session's PostgreSQL
    database (workspaces keep tests apart there)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'server.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start servers on a database; every one is killed at teardown, whatever happened."""
    servers: list[Server] = []

    def start(database: str, workers: int = 1, env: dict[str, str] | None = None) -> Server:
        server = Server(database, tmp_path, workers=workers, env=env or {})
        servers.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in servers:
            if server.workers > 1:
                server.stop()  # let a supervisor stop its workers as it should
            else:
                server.kill()
            server.kill_group()  # whatever is left of it


@pytest.fixture
def keys(e2e_database: str, tmp_path: Path) -> dict[str, Any]:
    """A new workspace made with ``unico workspace create --json``."""
    out = unico("workspace", "create", "e2e", "--json", "--database", e2e_database, cwd=tmp_path)
    created: dict[str, Any] = json.loads(out.stdout)
    return created
