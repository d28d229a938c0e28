"""Ingest benchmark: ``/v1/batch`` throughput, latency and event-to-profile visibility.

Three processes share the machine: the server (``unico serve``, started as its own
process), a load generator (``POST /v1/batch``, 100 Segment-shaped events a request, over
many keep-alive connections; a raw asyncio HTTP/1.1 client, see ``rawhttp.py``, so that it
takes as little CPU from the server as possible) and a probe (httpx: single ``/v1/track``
events with a never-seen ``userId``, polling ``GET /v1/profiles/user_id:X`` until the
profile shows). After the run the server is stopped and the database is counted: every
acknowledged event must be stored.

    .venv/bin/python bench/ingest.py --database sqlite
    .venv/bin/python bench/ingest.py --database postgres --workers 2 --json out.json
    .venv/bin/python bench/ingest.py --database sqlite --profile bench/results/profile.txt
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing as mp
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from harness import (
    PG_ADMIN_URL,
    ROOT,
    Server,
    Workspace,
    busiest_others,
    count_rows,
    cpu_seconds,
    create_workspace,
    database_files,
    fresh_database,
    machine_busy_seconds,
    percentile,
    postgres_cpu,
    process_cpu,
    process_name,
    rss_mib,
    start_py_spy,
    wait_until_quiet,
)
from profile_summary import render, summarize
from rawhttp import ERRORS, Pool, request_bytes
from workload import WorkloadSpec, build_bodies, unique_body

TARGET_EVENTS_PER_S = {"sqlite": 10_000, "postgres": 20_000}
TARGET_VISIBILITY_P99_MS = 100.0
#: Other processes using more than this many cores make a run suspect (flagged in red).
OTHER_CORES_WARNING = 0.1
#: Seconds per slice of the throughput time series.
SLICE_S = 5.0
console = Console(width=120)


@dataclass(frozen=True, slots=True)
class Plan:
    """Where and when the load and probe processes work (``time.monotonic()`` is system-wide
    on Linux, so the three processes share one clock)."""

    base_url: str
    write_key: str
    secret_key: str
    connections: int
    probers: int
    poll_ms: float
    poll_backoff: float
    batch: int
    #: Events per second, paced (open loop); 0 sends as fast as the connections allow.
    rate: float = 0.0
    begin: float = 0.0
    warm_end: float = 0.0
    end: float = 0.0


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def _client(plan: Plan, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=plan.base_url, limits=limits, timeout=60.0)


def _run_async(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(coro)


def _wait_for_plan(ready: Any, go: Any) -> Plan:
    ready.put(os.getpid())
    plan: Plan = go.get()
    return plan


# -- load ----------------------------------------------------------------------------------


class _LoadStats:
    def __init__(self) -> None:
        self.done: list[tuple[float, float, int]] = []  # (finished at, latency s, accepted)
        self.statuses: Counter[str] = Counter()
        self.sequence = 0


async def _post_batch(pool: Pool, requests: list[bytes], stats: _LoadStats, since: float) -> None:
    """One batch; latency counts from ``since`` (the scheduled time when paced, so a slow
    server cannot hide its queueing by slowing the sender down)."""
    stats.sequence += 1
    raw = unique_body(requests[stats.sequence % len(requests)], stats.sequence, "b")
    try:
        status, body = await pool.roundtrip(raw)
    except ERRORS as exc:
        stats.statuses[type(exc).__name__] += 1
        return
    finished = time.monotonic()
    stats.statuses[str(status)] += 1
    if status == 200:
        stats.done.append((finished, finished - since, orjson.loads(body).get("accepted", 0)))


async def _closed_loop(pool: Pool, plan: Plan, requests: list[bytes], stats: _LoadStats) -> None:
    async def sender() -> None:
        while (now := time.monotonic()) < plan.end:
            await _post_batch(pool, requests, stats, now)

    await asyncio.gather(*(sender() for _ in range(plan.connections)))


async def _open_loop(pool: Pool, plan: Plan, requests: list[bytes], stats: _LoadStats) -> None:
    interval = plan.batch / plan.rate
    tasks: set[asyncio.Task[None]] = set()
    k = 0
    while (due := plan.begin + k * interval) < plan.end:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        task = asyncio.ensure_future(_post_batch(pool, requests, stats, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        k += 1
    await asyncio.gather(*tasks)


async def _send_batches(plan: Plan, bodies: list[bytes]) -> dict[str, Any]:
    host, port = plan.base_url.removeprefix("http://").split(":")
    headers = {"content-type": "application/json", "authorization": _basic(plan.write_key)}
    requests = [request_bytes("POST", "/v1/batch", host, headers, body) for body in bodies]
    pool = Pool(host, int(port), plan.connections)
    stats = _LoadStats()
    await asyncio.sleep(max(0.0, plan.begin - time.monotonic()))
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    loop = _open_loop if plan.rate else _closed_loop
    await loop(pool, plan, requests, stats)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    pool.close()
    wall = time.monotonic() - plan.begin
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    window = [d for d in stats.done if plan.warm_end <= d[0] <= plan.end]
    slices: Counter[int] = Counter()
    for finished, _, accepted in window:
        slices[int((finished - plan.warm_end) // SLICE_S)] += accepted
    return {
        "events_per_s_by_slice": [slices[i] / SLICE_S for i in range(len(slices))],
        "requests_ok": len(stats.done),
        "acked_events_total": sum(d[2] for d in stats.done),
        "window_requests": len(window),
        "window_events": sum(d[2] for d in window),
        "latencies_ms": [d[1] * 1000 for d in window],
        "statuses": dict(stats.statuses),
        "cpu_seconds": cpu,
        "cpu_share_of_one_core": cpu / wall if wall else 0.0,
    }


def load_process(plan: Plan, bodies: list[bytes], ready: Any, go: Any, out: Any) -> None:
    """The load generator's process body."""
    plan = _wait_for_plan(ready, go)
    out.put(("load", _run_async(_send_batches(plan, bodies))))


# -- probe ---------------------------------------------------------------------------------


async def _probe_one(
    client: httpx.AsyncClient, plan: Plan, user_id: str, stats: dict[str, Any]
) -> None:
    write = {"content-type": "application/json", "authorization": _basic(plan.write_key)}
    read = {"authorization": f"Bearer {plan.secret_key}"}
    body = orjson.dumps(
        {"userId": user_id, "event": "Bench Probe", "properties": {"probe": user_id}}
    )
    started = time.perf_counter()
    track = asyncio.ensure_future(client.post("/v1/track", content=body, headers=write))
    polls, visible_at = 0, None
    while time.perf_counter() - started < 10.0:
        polls += 1
        response = await client.get(f"/v1/profiles/user_id:{user_id}", headers=read)
        if response.status_code == 200:
            visible_at = time.perf_counter() - started
            break
        if response.status_code != 404:
            stats["errors"][f"GET {response.status_code}"] += 1
        # Fine-grained near the target, then a pause proportional to the time waited so far
        # (the reading is off by at most that share): polling every few ms for seconds
        # would load the server being measured.
        waited = time.perf_counter() - started
        await asyncio.sleep(max(plan.poll_ms / 1000, plan.poll_backoff * waited))
    ack = await track
    stats["polls"] += polls
    if ack.status_code == 200:
        stats["acked"] += orjson.loads(ack.content).get("accepted", 0)
        stats["ack_ms"].append((time.perf_counter() - started) * 1000)
    else:
        stats["errors"][f"track {ack.status_code}"] += 1
    if visible_at is None:
        stats["timeouts"] += 1
    else:
        stats["visible_ms"].append(visible_at * 1000)


async def _probe(plan: Plan) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "visible_ms": [],
        "ack_ms": [],
        "polls": 0,
        "acked": 0,
        "timeouts": 0,
        "errors": Counter(),
    }
    run = os.urandom(3).hex()

    async def prober(client: httpx.AsyncClient, n: int) -> None:
        i = 0
        while time.monotonic() < plan.end:
            i += 1
            await _probe_one(client, plan, f"probe-{run}-{n}-{i}", stats)
            await asyncio.sleep(0.05)

    async with _client(plan, 2 * plan.probers + 2) as client:
        await asyncio.sleep(max(0.0, plan.warm_end - time.monotonic()))
        cpu0 = time.process_time()
        await asyncio.gather(*(prober(client, n) for n in range(plan.probers)))
        stats["cpu_seconds"] = time.process_time() - cpu0
    stats["errors"] = dict(stats["errors"])
    return stats


def probe_process(plan: Plan, ready: Any, go: Any, out: Any) -> None:
    """The visibility probe's process body."""
    plan = _wait_for_plan(ready, go)
    out.put(("probe", _run_async(_probe(plan))))


# -- orchestration -------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
        platform.processor(),
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    os_name = next(
        (
            ln.split("=", 1)[1].strip('"')
            for ln in Path("/etc/os-release").read_text().splitlines()
            if ln.startswith("PRETTY_NAME=")
        ),
        platform.platform(),
    )

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=ROOT, check=False
        ).stdout.strip()

    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "os": f"{os_name}, kernel {platform.release()}",
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "git": git("describe", "--always", "--dirty"),
        "dirty_src_files": len(git("status", "--porcelain", "--", "src").splitlines()),
        "server_env": {k: v for k, v in os.environ.items() if k.startswith("UNICO_")},
    }


def _start_children(
    plan: Plan, bodies: list[bytes], warmup: float, duration: float
) -> tuple[list[mp.Process], Any, Plan]:
    ctx = mp.get_context("fork")  # the children inherit the pre-built bodies
    ready, out = ctx.Queue(), ctx.Queue()
    gos = [ctx.Queue(), ctx.Queue()]
    procs = [
        ctx.Process(target=load_process, args=(plan, bodies, ready, gos[0], out), name="load"),
        ctx.Process(target=probe_process, args=(plan, ready, gos[1], out), name="probe"),
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=60)
    begin = time.monotonic() + 0.5
    timed = Plan(**{**asdict(plan), "begin": begin})
    timed = Plan(**{**asdict(timed), "warm_end": begin + warmup, "end": begin + warmup + duration})
    for go in gos:
        go.put(timed)
    return procs, out, timed


class _CpuWindow:
    """CPU used between `start` and `stop` by the server (per process), the load and probe
    processes, PostgreSQL working for the bench database, and everything else."""

    def __init__(self, server: Server, children: list[mp.Process], url: str) -> None:
        self.server = server
        self.groups = [server.pids(), *([c.pid] for c in children)]  # server, load, probe
        self.ours = {os.getpid(), *self.groups[0], *(c.pid for c in children)}
        self.database = url.rsplit("/", 1)[-1] if url.startswith("postgresql") else ""

    def _snapshot(self) -> list[float]:
        return [*(cpu_seconds(g) for g in self.groups), machine_busy_seconds()]

    def start(self) -> None:
        self.before, self.table = self._snapshot(), process_cpu()
        self.per_pid = {pid: cpu_seconds([pid]) for pid in self.groups[0]}

    def stop(self, duration: float) -> dict[str, Any]:
        used = [b - a for a, b in zip(self.before, self._snapshot(), strict=True)]
        table = process_cpu()
        db = postgres_cpu(self.table, table, self.database) if self.database else 0.0
        others = busiest_others(self.table, table, self.ours)
        return {
            "server_cpu_cores": used[0] / duration,
            "server_processes": [
                (process_name(pid), round((cpu_seconds([pid]) - cpu) / duration, 2))
                for pid, cpu in self.per_pid.items()
            ],
            "load_cpu_cores": used[1] / duration,
            "probe_cpu_cores": used[2] / duration,
            "machine_busy_cores": used[3] / duration,
            "postgres_cpu_cores": db / duration,
            # Includes processes that ended within the window (short test runs, say).
            "other_cpu_cores": (used[3] - sum(used[:3]) - db) / duration,
            "busiest_other_processes": [
                (name, round(cpu / duration, 2))
                for name, cpu in others
                if not (self.database and name.startswith("postgres:"))
            ],
        }


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def _measure(args: argparse.Namespace, url: str, ws: Workspace, log_dir: Path) -> dict[str, Any]:
    quiet = wait_until_quiet(args.quiet_cores, args.quiet_wait) if args.quiet_wait else None
    server = Server(url, workers=args.workers, log_path=log_dir / "server.log", patches=args.patch)
    try:
        server.wait_healthy()
        spec = WorkloadSpec(
            visitors=args.visitors, bodies=args.bodies, batch_size=args.batch, seed=args.seed
        )
        built = time.perf_counter()
        bodies = build_bodies(spec)
        build_s = time.perf_counter() - built
        plan = Plan(
            server.base_url,
            ws.write_key,
            ws.secret_key,
            args.connections,
            args.probers,
            args.poll_ms,
            args.poll_backoff,
            args.batch,
            args.rate,
        )
        procs, out, plan = _start_children(plan, bodies, args.warmup, args.duration)
        _sleep_until(plan.warm_end)
        cpu = _CpuWindow(server, procs, url)
        cpu.start()
        spy = None
        if args.profile:
            spy = start_py_spy(server.proc.pid, args.profile, args.duration, gil=args.profile_gil)
        _sleep_until(plan.end)
        accounting = cpu.stop(args.duration)
        results = dict(out.get(timeout=120) for _ in procs)
        for proc in procs:
            proc.join(30)
        rss = rss_mib(server.pids())
        peak = rss_mib(server.pids(), "VmHWM")
        if spy is not None:
            spy.wait(60)
        status = server.stop()
    except BaseException:
        server.stop()
        console.print(server.log_tail())
        raise
    return {
        "server_cmd": " ".join(server.command),
        "server_exit": status,
        **accounting,
        "quiet_before_cores": quiet,
        "server_rss_mib": rss,
        "server_peak_rss_mib": peak,
        "bodies_build_s": build_s,
        "body_bytes_avg": sum(map(len, bodies)) / len(bodies),
        **results,
    }


def _summarize(args: argparse.Namespace, raw: dict[str, Any], counts: dict[str, int]) -> dict:
    load, probe = raw["load"], raw["probe"]
    lat, vis = load.pop("latencies_ms"), probe.pop("visible_ms")
    acks = probe.pop("ack_ms")
    acked = load["acked_events_total"] + probe["acked"]
    events_per_s = load["window_events"] / args.duration
    target = TARGET_EVENTS_PER_S[args.database]
    vis_p99 = percentile(vis, 99)
    return {
        "events_per_s": events_per_s,
        "requests_per_s": load["window_requests"] / args.duration,
        "events_per_s_by_slice": [
            round(x) for x in load["events_per_s_by_slice"][: int(args.duration // SLICE_S)]
        ],
        "latency_ms": {q: percentile(lat, float(q[1:])) for q in ("p50", "p90", "p99")}
        | {"max": max(lat, default=None)},
        "errors": {k: v for k, v in load["statuses"].items() if k != "200"},
        "visibility_ms": {q: percentile(vis, float(q[1:])) for q in ("p50", "p90", "p99")}
        | {"max": max(vis, default=None), "probes": len(vis), "timeouts": probe["timeouts"]},
        "probe_ack_ms": {"p50": percentile(acks, 50), "p99": percentile(acks, 99)},
        "probe_errors": probe["errors"],
        "probe_polls_per_s": probe["polls"] / args.duration,
        "server_cpu_cores": raw["server_cpu_cores"],
        "server_processes": raw["server_processes"],
        # Robust to other load on the machine: what one event costs the server.
        "server_cpu_us_per_event": 1e6 * raw["server_cpu_cores"] / events_per_s
        if events_per_s
        else None,
        "load_cpu_cores": raw["load_cpu_cores"],
        "probe_cpu_cores": raw["probe_cpu_cores"],
        "machine_busy_cores": raw["machine_busy_cores"],
        "postgres_cpu_cores": raw["postgres_cpu_cores"],
        "other_cpu_cores": raw["other_cpu_cores"],
        "busiest_other_processes": raw["busiest_other_processes"],
        "server_rss_mib": raw["server_rss_mib"],
        "server_peak_rss_mib": raw["server_peak_rss_mib"],
        "database_files": raw["database_files"],
        "acked_events": acked,
        "stored": counts,
        "correct": acked > 0
        and counts["events"] == acked
        and counts["messages"] == acked
        and counts["events_in_profiles"] == acked
        and counts["dead_letters"] == 0,
        "targets": {
            "events_per_s": target,
            "events_per_s_met": events_per_s >= target,
            "visibility_p99_ms": TARGET_VISIBILITY_P99_MS,
            "visibility_met": vis_p99 is not None and vis_p99 <= TARGET_VISIBILITY_P99_MS,
        },
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _report(args: argparse.Namespace, result: dict[str, Any]) -> None:
    s, m = result["summary"], result["machine"]
    ok = {True: "[green]met[/green]", False: "[red]MISSED[/red]"}
    table = Table(title=f"Unico ingest — {result['label']}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("machine", f"{m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB, {m['os']}"),
        ("sharing", "server, load generator and probe share the same cores (loopback)"),
        ("load", f"{_pacing(args)}, {args.connections} keep-alive connections, "
         f"{args.batch} events/batch, "
         f"{args.warmup:g}s warm-up + {args.duration:g}s measured, {args.visitors:,} visitors"),
        ("events/s (acked)", f"{_fmt(s['events_per_s'], 0)}  "
         f"(target ≥ {s['targets']['events_per_s']:,}: {ok[s['targets']['events_per_s_met']]})"),
        ("requests/s", _fmt(s["requests_per_s"])),
        (f"events/s per {SLICE_S:g}s slice",
         ", ".join(f"{x:,}" for x in s["events_per_s_by_slice"])),
        ("batch latency p50/p90/p99/max",
         " / ".join(_fmt(s["latency_ms"][k]) for k in ("p50", "p90", "p99", "max")) + " ms"),
        ("errors", str(s["errors"] or "none")),
        ("visibility p50/p90/p99/max",
         " / ".join(_fmt(s["visibility_ms"][k]) for k in ("p50", "p90", "p99", "max"))
         + f" ms over {s['visibility_ms']['probes']} probes "
         f"(target p99 ≤ 100 ms: {ok[s['targets']['visibility_met']]})"),
        ("probe track ack p50/p99",
         f"{_fmt(s['probe_ack_ms']['p50'])} / {_fmt(s['probe_ack_ms']['p99'])} ms; "
         f"timeouts {s['visibility_ms']['timeouts']}; errors {s['probe_errors'] or 'none'}; "
         f"{s['probe_polls_per_s']:.0f} profile GETs/s"),
        ("CPU, in cores", f"server {s['server_cpu_cores']:.2f}, load generator "
         f"{s['load_cpu_cores']:.2f}, probe {s['probe_cpu_cores']:.2f}, "
         f"PostgreSQL {s['postgres_cpu_cores']:.2f}, other processes "
         f"{_other(s['other_cpu_cores'])} (machine {s['machine_busy_cores']:.2f} of {m['cores']})"),
        ("server processes (cores)",
         "; ".join(f"{n} {c:.2f}" for n, c in s["server_processes"] if c >= 0.01)),
        ("server CPU per event", f"{_fmt(s['server_cpu_us_per_event'], 0)} µs"),
        ("busiest other processes (cores)",
         "; ".join(f"{n} {c:.2f}" for n, c in s["busiest_other_processes"]) or "none"),
        ("server RSS end / peak",
         f"{_fmt(s['server_rss_mib'], 0)} / {_fmt(s['server_peak_rss_mib'], 0)} MiB"),
        ("SQLite files after the run", ", ".join(f"{k} {v:,}" for k, v in
                                                  s["database_files"].items()) or "-"),
        ("acked vs stored events", f"{s['acked_events']:,} acked; {s['stored']['events']:,} "
         f"stored; {s['stored']['events_in_profiles']:,} counted in profiles; "
         f"{s['stored']['dead_letters']} dead letters"),
        ("profiles", f"{s['stored']['profiles']:,} live, {s['stored']['merged_profiles']:,} "
         f"merged, {s['stored']['identities']:,} identities"),
        ("correct", "[green]yes[/green]" if s["correct"] else "[red]NO[/red]"),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def _other(cores: float) -> str:
    text = f"{cores:.2f}"
    return f"[red]{text} — not a quiet machine[/red]" if cores > OTHER_CORES_WARNING else text


def _pacing(args: argparse.Namespace) -> str:
    return f"paced at {args.rate:,.0f} events/s" if args.rate else "closed loop (max rate)"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--postgres-url", default=PG_ADMIN_URL, help="admin URL to create the db on")
    p.add_argument("--workers", type=int, default=1, help="server processes (PostgreSQL)")
    p.add_argument("--connections", type=int, default=48, help="keep-alive connections")
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    p.add_argument(
        "--rate", type=float, default=0.0, help="events/s, paced (default: as fast as possible)"
    )
    p.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    p.add_argument("--visitors", type=int, default=20_000, help="population of the workload")
    p.add_argument("--bodies", type=int, default=800, help="distinct pre-built batch bodies")
    p.add_argument("--batch", type=int, default=100, help="events per request")
    p.add_argument(
        "--probers",
        type=int,
        help="concurrent visibility probes (default: 8 at max rate, 2 paced)",
    )
    p.add_argument("--poll-ms", type=float, default=5.0, help="pause between profile polls")
    p.add_argument(
        "--poll-backoff",
        type=float,
        help="pause ≥ this share of the time waited (default: 0.25 at max rate, 0.1 paced)",
    )
    p.add_argument(
        "--quiet-wait", type=float, default=120.0, help="wait up to this long for a quiet machine"
    )
    p.add_argument("--quiet-cores", type=float, default=0.15, help="'quiet' means at most this")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--profile", type=Path, help="py-spy the server: .txt (collapsed) or .svg")
    p.add_argument(
        "--profile-all-threads",
        dest="profile_gil",
        action="store_false",
        help="sample every running thread, not only the GIL holder",
    )
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument(
        "--patch",
        type=lambda v: [n for n in v.split(",") if n],
        default=[],
        help="diagnostic: run the server with these bench/experiments/patches.py applied",
    )
    p.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    p.add_argument("--label", default="", help="a name for this run in the report")
    args = p.parse_args(argv)
    paced = bool(args.rate)
    if args.probers is None:
        args.probers = 2 if paced else 8
    if args.poll_backoff is None:
        args.poll_backoff = 0.1 if paced else 0.25
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    label = args.label or f"{args.database}, {args.workers} worker(s)"
    if args.patch:
        label += f" + patches {','.join(args.patch)}"
    if args.profile:
        args.profile.parent.mkdir(parents=True, exist_ok=True)
    with fresh_database(args.database, args.postgres_url, args.keep) as url:
        ws = create_workspace(url)
        with tempfile.TemporaryDirectory(prefix="unico-bench-logs-") as logs:
            raw = _measure(args, url, ws, Path(logs))
        counts = count_rows(url, ws.workspace_id)
        raw["database_files"] = database_files(url)
    result = {
        "label": label,
        "machine": _machine(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "summary": _summarize(args, raw, counts),
        "raw": raw,
    }
    _report(args, result)
    if args.profile and args.profile.suffix != ".svg" and args.profile.exists():
        result["profile"] = summarize(args.profile, duration=args.duration, rate=200)
        console.print(render(result["profile"]), markup=False, highlight=False)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0 if result["summary"]["correct"] else 1


if __name__ == "__main__":
    sys.exit(main())
