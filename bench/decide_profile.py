"""Where the time of one ``/v1/decide`` goes, in process: a cProfile of the decision service
and per-part timings, then the same requests through the ASGI app (Starlette's TestClient).

Builds a SQLite workspace in a temporary directory: ``--items`` products in 20 categories,
``--profiles`` people with ``--views`` product views each (Zipf popularity), sent through
``/v1/batch``; three placements (ALS with a popular default, item-to-item on the page's item,
popular); trains the models, then times ``container.decisions.decide`` for 3 placements.

    .venv/bin/python -W ignore bench/decide_profile.py                       # 10k items
    .venv/bin/python -W ignore bench/decide_profile.py --items 2000 --no-profile

Numbers from one run compare with each other; on a shared machine, repeat when noisy.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import pstats
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from unico.container import Container
from unico.core.settings import Settings
from unico.decide.request import DecideRequest, parse_request
from unico.web.app import create_app

PLACEMENTS: list[dict[str, Any]] = [
    {"name": "home_for_you", "strategy": "als", "size": 8, "default": {"strategy": "popular"}},
    {"name": "pdp_also_like", "strategy": "also_viewed", "size": 6},
    {"name": "trending", "strategy": "popular", "size": 6},
]
NAMES = [p["name"] for p in PLACEMENTS]
CATEGORIES = [f"Cat{i}" for i in range(20)]


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def build_shop(client: TestClient, admin: dict[str, str], basic: dict[str, str], args: Any) -> None:
    rng = random.Random(1)
    items = [
        {
            "id": f"sku-{i}",
            "title": f"Item {i} {rng.choice(['red', 'blue', 'green'])}",
            "price": rng.randint(5, 200),
            "category": [rng.choice(CATEGORIES), "sub"],
            "brand": f"B{rng.randint(0, 30)}",
        }
        for i in range(args.items)
    ]
    for start in range(0, args.items, 2000):
        r = client.post("/v1/catalog/items", json=items[start : start + 2000], headers=admin)
        assert r.status_code < 300, r.text
    for spec in PLACEMENTS:
        r = client.put(f"/v1/placements/{spec['name']}", json=spec, headers=admin)
        assert r.status_code < 300, r.text
    zipf = [1 / (i + 1) for i in range(args.items)]
    batch: list[dict[str, Any]] = []
    for person in range(args.profiles):
        for it in rng.choices(range(args.items), weights=zipf, k=args.views):
            batch.append(
                {
                    "type": "track",
                    "event": "Product Viewed",
                    "userId": f"u{person}",
                    "properties": {"product_id": f"sku-{it}"},
                }
            )
        if len(batch) >= 400 or person == args.profiles - 1:
            r = client.post("/v1/batch", json={"batch": batch}, headers=basic)
            assert r.status_code < 300, r.text
            batch = []


def bodies(args: Any, count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "userId": f"u{rng.randrange(args.profiles)}",
            "placements": NAMES,
            "context": {"item": f"sku-{rng.randrange(100)}"},
        }
        for _ in range(count)
    ]


def per_call_ms(work: Callable[[Any], object], inputs: list[Any], rounds: int) -> str:
    """The median over ``rounds`` of the mean time per call, in ms: wall clock, the CPU
    time of this thread (steadier on a shared machine; with TestClient the app runs in
    another thread, so only wall clock counts there) and of the whole process (every
    thread: the decision log's writer, BLAS threads, TestClient's event loop)."""
    wall, cpu, process = [], [], []
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.thread_time()
        started_process = time.process_time()
        for one in inputs:
            work(one)
        wall.append((time.perf_counter() - started) * 1000 / len(inputs))
        cpu.append((time.thread_time() - started_cpu) * 1000 / len(inputs))
        process.append((time.process_time() - started_process) * 1000 / len(inputs))
    return (
        f"{statistics.median(wall):7.3f} ms (cpu {statistics.median(cpu):.3f},"
        f" process {statistics.median(process):.3f})"
    )


def parts(c: Container, ws: str, requests: list[DecideRequest], rounds: int) -> None:
    """Time person resolution and each model's ``recommend`` on their own."""
    from unico.recommend.base import Query

    people = [c.decisions.people.resolve(ws, r.user_id, r.anonymous_id) for r in requests]
    resolve = per_call_ms(
        lambda r: c.decisions.people.resolve(ws, r.user_id, r.anonymous_id), requests, rounds
    )
    print(f"  people.resolve              {resolve}")
    for name, size in (("als", 8), ("also_viewed", 6), ("popular", 6)):
        model = c.models.get(ws, name)
        if model is None:
            continue
        queries = [
            Query(history=p.weights, context_items=r.context_items, k=3 * size, now_ms=1)
            for p, r in zip(people, requests, strict=True)
        ]
        took = per_call_ms(model.recommend, queries, rounds)
        print(f"  {name + '.recommend':27} {took}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--profiles", type=int, default=3_000)
    parser.add_argument("--views", type=int, default=8, help="views per person")
    parser.add_argument("--decides", type=int, default=1_000, help="timed decisions per round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median is shown)")
    parser.add_argument("--http", type=int, default=500, help="requests through TestClient")
    parser.add_argument("--top", type=int, default=40, help="cProfile lines shown")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile")
    parser.add_argument("--sort", default="cumulative", help="cProfile order (tottime, ...)")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="unico-decide-profile-")
    c = Container.build(Settings(database_url=f"sqlite:///{folder}/unico.db"))
    with TestClient(create_app(c)) as client:
        w = c.workspaces.create("bench")
        admin = {"Authorization": f"Bearer {w.secret_key}"}
        basic = {"Authorization": _basic(w.write_key)}
        started = time.perf_counter()
        build_shop(client, admin, basic, args)
        print(f"shop built in {time.perf_counter() - started:.1f} s ({folder})")
        started = time.perf_counter()
        c.models.train_now(w.workspace_id)
        print(f"trained in {time.perf_counter() - started:.2f} s")
        ws = w.workspace_id
        requests = [parse_request(b, 10) for b in bodies(args, args.decides, 2)]
        for r in requests[:100]:  # warm caches (placements, catalog snapshot, masks)
            c.decisions.decide(ws, r)
        took = per_call_ms(lambda r: c.decisions.decide(ws, r), requests, args.rounds)
        print(f"decide, 3 placements (in process) {took}")
        parts(c, ws, requests, args.rounds)
        if not args.no_profile:
            profile = cProfile.Profile()
            profile.enable()
            for r in requests:
                c.decisions.decide(ws, r)
            profile.disable()
            pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)
        if args.http:
            sent = bodies(args, args.http, 3)
            took = per_call_ms(
                lambda b: client.post("/v1/decide", json=b, headers=basic), sent, args.rounds
            )
            health = per_call_ms(lambda _: client.get("/health"), sent, args.rounds)
            print(f"decide through TestClient {took}; /health {health}")


if __name__ == "__main__":
    main()
