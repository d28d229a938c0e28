"""``/v1/decide`` benchmark: decisions/s and latency for known profiles, next to ``/health``.

Builds a shop (``--items`` products in 50 categories, ``--profiles`` people with a few
interactions each, sent through ``/v1/batch``), three placements (ALS with a popular
default, item-to-item on the page's item, popular with diversity rules), trains the
models through the API (ALS time and server memory before and after), then measures from a
load generator in another process: ``/v1/decide`` for random known people with 3
placements at each paced ``--rates`` and at saturation, and ``/health`` the same ways.

    .venv/bin/python bench/decide.py --profiles 2000 --items 500 --seconds 5   # smoke
    .venv/bin/python bench/decide.py                                            # full size
    .venv/bin/python bench/decide.py --keep /tmp/shop.db    # seeds once; later runs reuse it
    .venv/bin/python bench/decide.py --rates 500 --split     # + each placement alone

Each call asks for every placement, and each placement's answer is a decision (with its own
decision id and log row): the report gives calls/s and decisions/s, decide's p99 against
``/health``'s at each paced rate, and at 1,000 calls/s (3,000 decisions/s; ``--rates``
includes 1000 by default) whether DESIGN.md's target is met. With ``--split`` it also
measures calls for one placement each and prints what a call costs apart from its
placements, and what each placement adds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import multiprocessing as mp
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from harness import (
    Server,
    Workspace,
    create_workspace,
    fresh_database,
    per_process_mib,
    percentile,
    postgres_database,
    process_cpu,
    pss_mib,
    rss_mib,
)
from rawhttp import ERRORS, Pool, request_bytes

PLACEMENTS = [
    {"name": "home_for_you", "strategy": "als", "size": 8, "default": {"strategy": "popular"}},
    {"name": "pdp_also_like", "strategy": "also_viewed", "size": 6},
    {
        "name": "home_popular",
        "strategy": "popular",
        "size": 8,
        "rules": {"in_stock": True, "diversity": {"max_per_category": 2}},
    },
]
#: DESIGN.md's target: p99 <= 10 ms at 1,000 calls/s (3,000 placement decisions/s with three
#: placements a call), and within 3x of a bare endpoint (``/health``) on the same server at
#: the same rate, every answer a 200. A paced rate within 1% of it counts.
TARGET_CALLS_PER_S = 1000.0
TARGET_P99_MS = 10.0
TARGET_RATIO = 3.0
#: Seconds a paced run waits, after its last request was due, for the answers still out.
GRACE_S = 10.0
EVENTS = ("Product Viewed", "Product Viewed", "Product Viewed", "Product Added", "Order Completed")


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


# -- the shop ----------------------------------------------------------------------------------


def _items(n: int, rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "id": f"sku-{i}",
            "title": f"Item {i}",
            "category": [f"Dept {i % 10}", f"Cat {i % 50}"],
            "brand": f"Brand {i % 40}",
            "price": round(rng.uniform(5, 300), 2),
            "in_stock": rng.random() > 0.05,
        }
        for i in range(n)
    ]


def _event(user: str, item: str, rng: random.Random) -> dict[str, Any]:
    name = rng.choice(EVENTS)
    props: dict[str, Any] = {"product_id": item}
    if name == "Order Completed":
        props = {"order_id": f"o-{rng.getrandbits(40)}", "products": [{"product_id": item}]}
    return {"type": "track", "userId": user, "event": name, "properties": props}


def seed(
    base: str, ws: Workspace, profiles: int, items: int, per_person: int, rng: random.Random
) -> dict[str, float]:
    """Catalog, interactions and placements through the API; seconds each took."""
    admin = {"Authorization": f"Bearer {ws.secret_key}"}
    timings: dict[str, float] = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        started = time.monotonic()
        catalog = _items(items, rng)
        for k in range(0, items, 1000):
            client.post(
                "/v1/catalog/items", json=catalog[k : k + 1000], headers=admin
            ).raise_for_status()
        timings["catalog_s"] = time.monotonic() - started
        started = time.monotonic()
        # Popularity is skewed (a few items get most interactions), as in real shops.
        weights = [1 / (i + 1) ** 0.8 for i in range(items)]
        batch: list[dict[str, Any]] = []
        for p in range(profiles):
            for item in rng.choices(range(items), weights, k=per_person):
                batch.append(_event(f"u{p}", f"sku-{item}", rng))
            if len(batch) >= 1000 or p == profiles - 1:
                r = client.post(
                    "/v1/batch",
                    json={"batch": batch},
                    headers={"authorization": _basic(ws.write_key)},
                )
                r.raise_for_status()
                batch = []
        timings["events_s"] = time.monotonic() - started
        for spec in PLACEMENTS:
            client.put(
                f"/v1/placements/{spec['name']}", json=spec, headers=admin
            ).raise_for_status()
    return timings


def train(base: str, ws: Workspace, timeout: float = 1800) -> dict[str, Any]:
    """Train through the API and wait for the run to finish."""
    admin = {"Authorization": f"Bearer {ws.secret_key}"}
    with httpx.Client(base_url=base, timeout=60) as client:
        client.post("/v1/models/train", headers=admin).raise_for_status()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = client.get("/v1/models", headers=admin).json()
            if not status["training"] and all(m["trained_at"] for m in status["models"]):
                return dict(status)
            time.sleep(0.5)
    raise RuntimeError("training did not finish")


# -- the load generator (its own process) --------------------------------------------------------


async def _run(
    base: str, requests: list[bytes], rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    host, port = base.removeprefix("http://").split(":")
    pool = Pool(host, int(port), connections)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    n = 0

    async def one(raw: bytes, since: float) -> None:
        try:
            status, _ = await pool.roundtrip(raw)
        except ERRORS as exc:
            statuses[type(exc).__name__] += 1
            return
        statuses[str(status)] += 1
        latencies.append((time.monotonic() - since) * 1000)

    begin = time.monotonic()
    end = begin + seconds
    if rate:  # open loop: latency counts from the scheduled time
        tasks: set[asyncio.Task[None]] = set()
        while (due := begin + n / rate) < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.ensure_future(one(requests[n % len(requests)], due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        # An overloaded server must not hold the run up: what is still out after a grace
        # period is counted as unfinished (and its latency is at least that long).
        if tasks:
            _, late = await asyncio.wait(set(tasks), timeout=GRACE_S)
            for task in late:
                task.cancel()
            statuses["unfinished"] += len(late)
    else:

        async def sender(k: int) -> None:
            sent = k
            while (now := time.monotonic()) < end:
                await one(requests[sent % len(requests)], now)
                sent += connections

        await asyncio.gather(*(sender(k) for k in range(connections)))
    wall = time.monotonic() - begin
    pool.close()
    return {
        "requests": len(latencies),
        "per_s": len(latencies) / wall,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=None),
        "statuses": dict(statuses),
    }


def _load(args: tuple[str, list[bytes], float, float, int], out: Any) -> None:
    # uvloop (installed with uvicorn) spends less of the shared cores on the generator than
    # asyncio's own loop, and adds less of its own latency to what it measures.
    import uvloop

    try:
        out.put(uvloop.run(_run(*args)))
    except BaseException as exc:  # tell the parent instead of leaving it waiting
        out.put({"error": repr(exc)})
        raise


def measure(
    base: str, requests: list[bytes], rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_load, args=((base, requests, rate, seconds, connections), out))
    proc.start()
    result: dict[str, Any] = out.get(timeout=seconds + 120)
    proc.join()
    return result


def decide_requests(
    base: str,
    ws: Workspace,
    profiles: int,
    items: int,
    rng: random.Random,
    n: int = 2000,
    placements: list[str] | None = None,
) -> list[bytes]:
    """``n`` decide calls for random known people, each asking for ``placements`` (all)."""
    names = [p["name"] for p in PLACEMENTS] if placements is None else placements
    host = base.removeprefix("http://")
    headers = {"content-type": "application/json", "authorization": _basic(ws.write_key)}
    out = []
    for _ in range(n):
        body = {
            "userId": f"u{rng.randrange(profiles)}",
            "context": {"channel": "web", "item": f"sku-{rng.randrange(items)}"},
            "placements": names,
        }
        out.append(request_bytes("POST", "/v1/decide", host, headers, orjson.dumps(body)))
    return out


# -- main --------------------------------------------------------------------------------


def _workspace_file(db: Path) -> Path:
    return db.with_name(db.name + ".workspace.json")


@contextmanager
def _database(args: argparse.Namespace) -> Iterator[tuple[str, Workspace, bool]]:
    """The database URL, its workspace, and whether it is already seeded: a fresh one, or
    with ``--keep FILE`` one seeded by an earlier run (seeding takes minutes). On SQLite
    FILE is the database; on PostgreSQL the seeded database is ``unico_keep_<FILE's name>``
    and each run gets a copy of it, as a SQLite run gets a copied file."""
    if args.keep is None:
        with fresh_database(args.database) as url:
            yield url, create_workspace(url), False
        return
    meta = _workspace_file(args.keep)
    if args.database == "postgres":
        kept = "unico_keep_" + "".join(c if c.isalnum() else "_" for c in args.keep.name)
        if meta.exists():
            with fresh_database("postgres", template=kept) as url:
                yield url, Workspace(**json.loads(meta.read_text())), True
            return
        with postgres_database(kept) as url:
            yield url, create_workspace(url), False
        return
    url = f"sqlite:///{args.keep.resolve()}"
    if args.keep.exists() and meta.exists():
        yield url, Workspace(**json.loads(meta.read_text())), True
        return
    args.keep.parent.mkdir(parents=True, exist_ok=True)
    yield url, create_workspace(url), False


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    result: dict[str, Any] = {"args": vars(args)}
    with _database(args) as (url, ws, seeded), tempfile.TemporaryDirectory() as tmp:
        server = Server(url, workers=args.workers, log_path=Path(tmp) / "server.log")
        try:
            server.wait_healthy()
            if seeded:
                result["seed"] = {"reused": str(args.keep)}
            else:
                result["seed"] = seed(
                    server.base_url, ws, args.profiles, args.items, args.per_person, rng
                )
                if args.keep:
                    _workspace_file(args.keep).write_text(json.dumps(dataclasses.asdict(ws)))
            result["rss_before_training_mib"] = rss_mib(server.pids())
            status = train(server.base_url, ws)
            result["models"] = status["models"]
            result["rss_after_training_mib"] = rss_mib(server.pids())
            result["rss_peak_mib"] = rss_mib(server.pids(), "VmHWM")
            # Each process's own peak (the sum above adds peaks of different moments).
            result["rss_peak_per_process_mib"] = sorted(
                (round(rss_mib([pid], "VmHWM")) for pid in server.pids()), reverse=True
            )
            decide_raw = decide_requests(server.base_url, ws, args.profiles, args.items, rng)
            host = server.base_url.removeprefix("http://")
            health_raw = [request_bytes("GET", "/health", host, {}, b"")]
            measure(
                server.base_url, decide_raw, 0, min(3.0, args.seconds), args.connections
            )  # warm up
            pids = server.pids()

            def measured(raw: list[bytes], rate: float) -> dict[str, Any]:
                # Every process's CPU over the run, from one reading of /proc on each side:
                # the server's per request and each of its processes' share, and
                # PostgreSQL's, which shares the two cores too (backends that ended during
                # the run are not counted).
                before = process_cpu()
                out = measure(server.base_url, raw, rate, args.seconds, args.connections)
                after = process_cpu()

                def used(pid: int) -> float:
                    return after.get(pid, ("", 0.0))[1] - before.get(pid, ("", 0.0))[1]

                spent = [used(pid) for pid in pids]
                database = sum(used(pid) for pid, (name, _) in after.items() if _postgres(name))
                per = 1000 / max(1, out["requests"])
                out["server_cpu_ms_per_request"] = per * sum(spent)
                out["database_cpu_ms_per_request"] = per * database
                out["process_cpu_percent"] = sorted(
                    (round(100 * s / args.seconds) for s in spent), reverse=True
                )
                return out

            for name, raw in (("health", health_raw), ("decide", decide_raw)):
                for rate in args.rates:
                    result[f"{name}_paced_{rate:g}"] = measured(raw, rate)
                result[f"{name}_saturated"] = measured(raw, 0)
            if args.split:
                # Each placement alone, at the first rate: with the runs above, what a call
                # costs whatever it asks for, and what each placement adds.
                rate = args.rates[0]
                runs = {}
                for spec in PLACEMENTS:
                    alone = decide_requests(
                        server.base_url,
                        ws,
                        args.profiles,
                        args.items,
                        rng,
                        placements=[spec["name"]],
                    )
                    runs[spec["name"]] = measured(alone, rate)
                result["alone"] = {"rate": rate, "runs": runs}
            result["rss_after_load_mib"] = rss_mib(server.pids())
            result["pss_after_load_mib"] = pss_mib(server.pids())
            result["rss_per_process_mib"] = per_process_mib(server.pids())
        finally:
            server.stop()
    return result


def _postgres(command: str) -> bool:
    """Whether a command line is PostgreSQL's server or one of its processes."""
    return command.split(" ", 1)[0].rsplit("/", 1)[-1].rstrip(":") == "postgres"


def report(result: dict[str, Any]) -> None:
    print(f"seed: {result['seed']}")
    for m in result["models"]:
        print(
            f"model {m['name']:<12} rows {m['rows']:>9} users {m['users']:>7} "
            f"items {m['items']:>6} "
            f"{m['duration_ms']:>9.1f} ms  {m['error'] or ''}"
        )
    print(
        f"server RSS MiB: before training {result['rss_before_training_mib']:.0f}, after "
        f"{result['rss_after_training_mib']:.0f}, peak {result['rss_peak_mib']:.0f} "
        f"(per process {result['rss_peak_per_process_mib']}), "
        f"after load {result['rss_after_load_mib']:.0f} (PSS {result['pss_after_load_mib']:.0f}; "
        f"per process {result['rss_per_process_mib']})"
    )
    keys = [k for k in result if k.startswith(("health_", "decide_"))]
    for key in sorted(keys, key=lambda k: (k.split("_")[0] != "health", k)):
        # Each call asks for every placement, and each placement's answer is a decision
        # of its own (its own decision id and log row): calls/s and decisions/s both.
        _print_run(key, result[key], len(PLACEMENTS) if key.startswith("decide_") else 0)
    if "alone" in result:
        rate = result["alone"]["rate"]
        for name, r in result["alone"]["runs"].items():
            _print_run(f"only {name}_paced_{rate:g}", r, 1)
        parts = ", ".join(f"{k} {v:.2f}" for k, v in split_costs(result["alone"], result).items())
        print(f"server CPU per call, ms: {parts} (call: apart from its placements)")
    for line in target_lines(result):
        print(line)


def _print_run(label: str, r: dict[str, Any], placements: int) -> None:
    each = f" ({placements * r['per_s']:,.0f} decisions/s)" if placements else ""
    database = r.get("database_cpu_ms_per_request", 0.0)
    print(
        f"{label:<18} {r['per_s']:>8.0f}/s{each}  p50 {r['p50_ms'] or 0:>6.2f} ms  p99 "
        f"{r['p99_ms'] or 0:>6.2f} ms  server CPU {r['server_cpu_ms_per_request']:.2f} ms/req "
        f"{r['process_cpu_percent']}%"
        + (f"  PostgreSQL CPU {database:.2f} ms/req" if database >= 0.005 else "")
        + f"  statuses {r['statuses']}"
    )


def target_lines(result: dict[str, Any]) -> list[str]:
    """For each paced rate: decide's p99 against ``/health``'s at the same rate; then whether
    DESIGN.md's target is met at 1,000 calls/s (or that no run measured it)."""
    lines = []
    verdict = (
        f"target at {TARGET_CALLS_PER_S:,.0f} calls/s: not measured "
        f"(--rates has no rate within 1% of {TARGET_CALLS_PER_S:g})"
    )
    for rate in result["args"]["rates"]:
        decide, health = result.get(f"decide_paced_{rate:g}"), result.get(f"health_paced_{rate:g}")
        if not decide or not health or not decide["p99_ms"] or not health["p99_ms"]:
            continue
        ratio = decide["p99_ms"] / health["p99_ms"]
        decisions = rate * len(PLACEMENTS)
        lines.append(
            f"at {rate:g} calls/s ({decisions:,.0f} decisions/s): decide p99 "
            f"{decide['p99_ms']:.2f} ms = {ratio:.2f} x /health p99 {health['p99_ms']:.2f} ms"
        )
        if abs(rate - TARGET_CALLS_PER_S) <= 0.01 * TARGET_CALLS_PER_S:
            verdict = _verdict(decide, ratio, decisions)
    return [*lines, verdict]


def _verdict(decide: dict[str, Any], ratio: float, decisions: float) -> str:
    """The target line: met only if the tail, the ratio and every answer are right."""
    not_200 = sum(n for status, n in decide["statuses"].items() if status != "200")
    parts = {
        f"p99 {decide['p99_ms']:.2f} ms <= {TARGET_P99_MS:g} ms": decide["p99_ms"] <= TARGET_P99_MS,
        f"{ratio:.2f} x /health <= {TARGET_RATIO:g}": ratio <= TARGET_RATIO,
        f"all 200s ({not_200} not)": not_200 == 0,
    }
    met = all(parts.values())
    checks = "; ".join(f"{label}: {'yes' if ok else 'NO'}" for label, ok in parts.items())
    return (
        f"target at {TARGET_CALLS_PER_S:,.0f} calls/s ({decisions:,.0f} decisions/s): "
        f"{'met' if met else 'missed'} ({checks})"
    )


def split_costs(alone: dict[str, Any], result: dict[str, Any]) -> dict[str, float]:
    """Server CPU per call, in ms, apart from the placements (``call``) and added by each
    placement, from the calls for every placement (in ``result``) and for each alone
    (``alone``, `run` with ``--split``) at the same rate. A call for all costs
    ``call + sum(p)`` and one for X alone ``call + p_X``, so
    ``call = (sum of the alone costs - the all cost) / (placements - 1)``."""
    every = result[f"decide_paced_{alone['rate']:g}"]["server_cpu_ms_per_request"]
    each = {name: r["server_cpu_ms_per_request"] for name, r in alone["runs"].items()}
    call = (sum(each.values()) - every) / (len(each) - 1)
    return {"call": call, **{name: cost - call for name, cost in each.items()}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--profiles", type=int, default=100_000)
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--per-person", type=int, default=8, help="interactions per person")
    p.add_argument(
        "--rates",
        type=lambda v: [float(r) for r in v.split(",")],
        default=[333.0, 1000.0],
        help="paced calls per second, comma-separated (each rate is one run; 3 decisions a "
        "call); DESIGN.md's target is checked at 1000 calls/s",
    )
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument(
        "--workers", type=int, default=1, help="serving processes (unico serve --workers)"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--keep",
        type=Path,
        help="seed once and reuse in later runs (same --profiles and --items): on SQLite this "
        "file; on PostgreSQL the database unico_keep_<its name>, copied for each run (the "
        "file then holds only the workspace's keys, in FILE.workspace.json)",
    )
    p.add_argument(
        "--split",
        action="store_true",
        help="also measure calls asking for one placement each, at the first rate: the cost "
        "of a call apart from its placements, and of each placement",
    )
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args(argv)
    result = run(args)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
