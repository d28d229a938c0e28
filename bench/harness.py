"""What every benchmark needs around the code under test: a fresh database, a workspace, the
server as its own process, its resource use from /proc, a sampling profiler, and
percentiles. Only the public surfaces are used (the ``unico`` CLI and HTTP), plus plain
SQL counts for the after-run checks."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
EXPERIMENTS = ROOT / "bench" / "experiments"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True, slots=True)
class Workspace:
    workspace_id: str
    write_key: str
    secret_key: str


@contextmanager
def fresh_database(
    kind: str, admin_url: str = PG_ADMIN_URL, keep: bool = False, template: str | None = None
) -> Iterator[str]:
    """A URL to an empty database: a SQLite file in a temp dir, or ``unico_bench_<random>``
    on PostgreSQL (dropped on exit unless ``keep``); there, with ``template``, a copy of that
    database instead (a file-level copy, as fast as copying a SQLite file)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="unico-bench-") as tmp:
            yield f"sqlite:///{tmp}/unico.db"
        return
    name = f"unico_bench_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        copy = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def postgres_database(name: str, admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A URL to database ``name``, made empty (dropped first if it exists) and kept."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def database_files(url: str) -> dict[str, float]:
    """Sizes in MiB of a SQLite database and its WAL (empty for other stores)."""
    if not url.startswith("sqlite:///"):
        return {}
    path = Path(url.removeprefix("sqlite:///"))
    return {
        name: round(p.stat().st_size / 2**20, 1)
        for name, p in (("db_mib", path), ("wal_mib", Path(f"{path}-wal")))
        if p.exists()
    }


def create_workspace(url: str, name: str = "bench") -> Workspace:
    """``unico workspace create NAME --json`` (which also migrates the fresh database)."""
    out = subprocess.run(
        [str(BIN / "unico"), "workspace", "create", name, "--json", "--database", url],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    data = json.loads(out[out.index("{") :])
    return Workspace(data["workspace_id"], data["write_key"], data["secret_key"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``unico serve`` in its own process group, logging to a file. With ``patches``, every
    server process runs with those diagnostics from ``bench/experiments/patches.py``."""

    def __init__(
        self, url: str, *, workers: int, log_path: Path, patches: Sequence[str] = ()
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        command = [str(BIN / "unico"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        env = dict(os.environ)
        if patches:  # a diagnostic: experiments/sitecustomize.py patches every server process
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(EXPERIMENTS), env.get("PYTHONPATH")])
            )
            env["BENCH_PATCHES"] = ",".join(patches)
        command += ["--database", url]
        if workers > 1:
            command += ["--workers", str(workers)]
        self.command = command
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not answer /health in {timeout}s:\n{self.log_tail()}")

    def pids(self) -> list[int]:
        """The server and every process it started (uvicorn workers)."""
        return [self.proc.pid, *descendants(self.proc.pid)]

    def stop(self, timeout: float = 60.0) -> int:
        """SIGINT (a graceful shutdown drains the ingest queue), then SIGKILL if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        text_ = self.log_path.read_text(errors="replace")
        return "\n".join(text_.splitlines()[-lines:])


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def process_name(pid: int) -> str:
    """A short name for a server process: its role when recognizable, else its command."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return f"[{pid}]"
    if "resource_tracker" in cmd:
        return "multiprocessing resource tracker"
    if "spawn_main" in cmd:
        return f"spawned process {pid}"
    return cmd.split(" serve ")[0].rsplit("/", 1)[-1] + (" serve" if " serve " in cmd else "")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of the processes (all their threads)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def process_cpu() -> dict[int, tuple[str, float]]:
    """Every process's command line (shortened) and CPU seconds so far."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        out[int(entry.name)] = (cmd.strip()[:80] or f"[{entry.name}]", cpu)
    return out


def busiest_others(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], ours: set[int]
) -> list[tuple[str, float]]:
    """The processes other than ``ours`` that used the most CPU between two `process_cpu`
    readings (processes that started in between count from zero)."""
    used = [
        (name, cpu - before.get(pid, (name, 0.0))[1])
        for pid, (name, cpu) in after.items()
        if pid not in ours
    ]
    return sorted((u for u in used if u[1] > 0.05), key=lambda u: -u[1])[:5]


def postgres_cpu(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], database: str
) -> float:
    """CPU seconds of the PostgreSQL server working for ``database``: its backends, and the
    shared background processes (WAL writer, checkpointer...), which have no database."""
    total = 0.0
    for pid, (name, cpu) in after.items():
        if name.startswith("postgres:") and (
            f" {database} " in name or " postgres " not in name.split(":", 2)[-1]
        ):
            total += cpu - before.get(pid, (name, 0.0))[1]
    return total


def machine_busy_seconds() -> float:
    """CPU seconds spent by everything on the machine (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def wait_until_quiet(max_cores: float, timeout: float) -> float:
    """Wait (up to ``timeout`` s) until the machine, measured over 2 s, is busier than
    ``max_cores`` no more; return the last reading (cores busy)."""
    deadline = time.monotonic() + timeout
    while True:
        before = machine_busy_seconds()
        time.sleep(2.0)
        busy = (machine_busy_seconds() - before) / 2.0
        if busy <= max_cores or time.monotonic() > deadline:
            return busy


def rss_mib(pids: Sequence[int], field: str = "VmRSS") -> float:
    """Summed resident memory (``VmRSS``) or peak (``VmHWM``) of the processes, in MiB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def pss_mib(pids: Sequence[int]) -> float:
    """Summed proportional memory of the processes, in MiB: pages they share (libraries,
    the OS page cache of a memory-mapped database) count once in all, not once each."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def per_process_mib(pids: Sequence[int]) -> list[float]:
    """Each process's resident memory in MiB, largest first."""
    return sorted((round(rss_mib([pid])) for pid in pids), reverse=True)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def count_rows(url: str, workspace_id: str) -> dict[str, int]:
    """Row counts for one workspace, straight from the database."""
    queries = {
        "events": "SELECT count(*) FROM event WHERE workspace_id = :ws",
        "messages": "SELECT count(*) FROM message WHERE workspace_id = :ws",
        "dead_letters": "SELECT count(*) FROM dead_letter WHERE workspace_id = :ws",
        "profiles": "SELECT count(*) FROM profile WHERE workspace_id = :ws AND merged_into IS NULL",
        "merged_profiles": (
            "SELECT count(*) FROM profile WHERE workspace_id = :ws AND merged_into IS NOT NULL"
        ),
        "identities": "SELECT count(*) FROM identity WHERE workspace_id = :ws",
        "aggregated_events": (
            "SELECT coalesce(sum(count), 0) FROM event_aggregate WHERE workspace_id = :ws"
        ),
        "events_in_profiles": (
            "SELECT coalesce(sum(CAST(json_extract(computed, '$.events') AS INTEGER)), 0) "
            "FROM profile WHERE workspace_id = :ws AND merged_into IS NULL"
        ),
    }
    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        queries["events_in_profiles"] = (
            "SELECT coalesce(sum((computed->>'events')::bigint), 0) "
            "FROM profile WHERE workspace_id = :ws AND merged_into IS NULL"
        )
    try:
        with engine.connect() as conn:
            return {
                name: int(conn.execute(text(sql), {"ws": workspace_id}).scalar_one())
                for name, sql in queries.items()
            }
    finally:
        engine.dispose()


def start_py_spy(pid: int, out: Path, duration: float, *, gil: bool) -> subprocess.Popen:
    """``py-spy record`` on the server for ``duration`` seconds, collapsed stacks to ``out``
    (``--format raw``; one line per stack: ``frame;frame;... count``) or, for ``.svg``, a
    flame graph. Threads are kept apart (``--threads``) so the event loop and the writer
    can be told apart. With ``gil`` only the thread holding the GIL is sampled: in a
    GIL-bound server that is where the one usable core goes."""
    fmt = "flamegraph" if out.suffix == ".svg" else "raw"
    command = [str(BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(int(duration))]
    # --subprocesses: uvicorn workers and the SQLite writer process are children.
    command += ["--rate", "200", "--threads", "--subprocesses", "--format", fmt, "-o", str(out)]
    if gil:
        command.append("--gil")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
