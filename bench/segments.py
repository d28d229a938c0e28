"""Segments benchmark: real-time evaluation per event and batch recompute.

1. Real time (in-process, SQLite): a workspace with 200 segments of mixed kinds (trait
   comparisons, computed features, windowed counts and sums, did / did not, in_segment,
   consented and relative dates); events go through the real ingest pipeline; the
   segment engine records how long each profile's evaluation takes (all 200 segments:
   window pruning, evaluation in dependency order, next-check time, reasons for changes).
   Target: p99 <= 1 ms. The whole listener time per event is reported too.
2. Batch: N synthetic profiles (bulk-loaded: COPY on PostgreSQL, executemany on SQLite)
   plus events for the windowed segments, then `recompute_all` of 20 segments (on
   `--workers` connections on PostgreSQL).
   Target: 1,000,000 profiles x 20 segments <= 60 s on PostgreSQL.

    .venv/bin/python bench/segments.py --profiles 20000             # while developing
    .venv/bin/python bench/segments.py --profiles 1000000 --json bench/results/segments.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, make_url, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    busiest_others,
    database_files,
    fresh_database,
    machine_busy_seconds,
    percentile,
    postgres_cpu,
    process_cpu,
)
from unico.collect.ingest import Ingestor
from unico.collect.pipeline import Submission
from unico.container import Container
from unico.core.clock import ManualClock
from unico.core.event import Event
from unico.core.ids import new_id
from unico.core.settings import load_settings
from unico.db.schema import event
from unico.segments.recompute import POSTGRES_WORKERS
from unico.segments.store import SegmentRow

T0 = 1_768_471_200_000
DAY = 86_400_000
COUNTRIES = ["IT", "FR", "DE", "ES", "US", "GB", "NL", "BE", "PT", "AT"]
CATEGORIES = [f"c{i}" for i in range(20)]


def realtime_segments() -> list[tuple[str, str]]:
    """200 conditions of mixed kinds; later ones use earlier ones with in_segment."""
    out: list[tuple[str, str]] = []
    for i in range(30):
        out.append(
            (f"trait{i}", f'traits.country == "{COUNTRIES[i % 10]}" and traits.age >= {18 + i}')
        )
    for i in range(30):
        out.append(
            (f"computed{i}", f"computed.orders >= {i % 5 + 1} or computed.revenue > {i * 20}")
        )
    for i in range(30):
        cat = CATEGORIES[i % 20]
        out.append(
            (
                f"views{i}",
                f'count(event "Product Viewed" where properties.category == "{cat}"'
                f" within {i % 7 + 1}d) >= {i % 3 + 1}",
            )
        )
    for i in range(20):
        out.append(
            (
                f"spend{i}",
                f'sum(event "Order Completed" of properties.revenue'
                f" within {i % 4 * 10 + 7}d) > {i * 15}",
            )
        )
    for i in range(20):
        out.append((f"did{i}", f'did event "Product Added" within {i % 5 + 1}d'))
    for i in range(20):
        out.append(
            (
                f"didnot{i}",
                f'did not event "Order Completed" within {i % 10 + 1}d'
                f" and computed.events >= {i % 4}",
            )
        )
    for i in range(30):
        out.append(
            (
                f"chain{i}",
                f'in_segment("trait{i}") and (in_segment("views{i}") or in_segment("did{i % 20}"))',
            )
        )
    for i in range(20):
        out.append(
            (f"consent{i}", f'consented("marketing") and profile.last_seen > now - {i % 10 + 1}d')
        )
    return out  # fmt: skip


def batch_segments() -> list[tuple[str, str]]:
    return [
        ("b_country", 'traits.country == "IT"'),
        ("b_age", "traits.age >= 40"),
        ("b_age_country", 'traits.age < 30 and traits.country in ["FR", "DE"]'),
        ("b_orders", "computed.orders >= 3"),
        ("b_revenue", "computed.revenue > 500"),
        ("b_rfm", "computed.orders >= 2 and computed.revenue > 200"),
        ("b_plan", 'traits.plan == "pro" or traits.plan == "team"'),
        ("b_email", "traits.email exists"),
        ("b_name", 'traits.name matches "^A"'),
        ("b_not", 'not traits.country == "US"'),
        ("b_marketing", 'consented("marketing")'),
        ("b_recent", "profile.last_seen > now - 7d"),
        ("b_lapsed", "profile.last_seen < now - 30d"),
        ("b_views", 'count(event "Product Viewed" within 7d) >= 1'),
        ("b_views2", 'did event "Product Viewed" where properties.category == "c1" within 7d'),
        ("b_spend", 'sum(event "Order Completed" of properties.revenue within 30d) > 50'),
        ("b_did", 'did event "Order Completed" within 30d'),
        ("b_chain", 'in_segment("b_country") and in_segment("b_orders")'),
        ("b_chain2", 'in_segment("b_views") and not in_segment("b_revenue")'),
        ("b_mixed", 'traits.age >= 25 and computed.orders >= 1 and consented("marketing")'),
    ]  # fmt: skip


def _event(rng: random.Random, user: int, now: int, seq: int) -> Event:
    roll = rng.random()
    props: dict[str, Any]
    traits: dict[str, Any] = {}
    kind, name = "track", "Product Viewed"
    if roll < 0.55:
        props = {"category": rng.choice(CATEGORIES), "price": rng.randint(5, 200)}
    elif roll < 0.7:
        name, props = "Product Added", {"category": rng.choice(CATEGORIES)}
    elif roll < 0.8:
        name = "Order Completed"
        props = {"order_id": f"o{seq}", "revenue": rng.randint(10, 300), "currency": "EUR"}
    elif roll < 0.97:
        # People's traits are stable: an identify repeats them (as sites do on every login).
        kind, name, props = "identify", None, {}  # type: ignore[assignment]
        traits = {"country": COUNTRIES[user % 10], "age": 18 + user % 50}
    else:
        name = "Consent Updated"
        props = {"purposes": {"marketing": rng.random() < 0.5}}
    return Event(
        kind, f"m{seq}", now, now, user_id=f"u{user}", name=name, properties=props, traits=traits
    )


def run_realtime(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    clock = ManualClock(T0)
    with fresh_database("sqlite") as url:
        settings = load_settings(database_url=url, profile_cache_size=100_000)
        container = Container.build(settings, clock)
        container.store.upgrade()
        container.ingestor.start()
        ws = container.workspaces.create("bench").workspace_id
        for name, cond in realtime_segments():
            container.segments.create(ws, name, cond)
        engine = container.segments.engine
        ingestor = container.ingestor
        assert isinstance(ingestor, Ingestor)
        defaults = container.workspaces.get(ws).settings.consent_defaults
        listener_seconds = 0.0
        seq = emitted = 0
        for _ in range(args.events // args.group):
            events = []
            for _ in range(args.group):
                seq += 1
                clock.advance(rng.random() * 2)
                events.append(_event(rng, rng.randrange(args.users), clock.now_ms(), seq))
            if seq == args.warmup:
                engine.timings = []
                emitted = _segment_events(container, ws)
            started = time.perf_counter()
            receipt = ingestor.submit_sync(Submission(ws, defaults, events, []))
            assert receipt.accepted == len(events), receipt
            if engine.timings is not None:
                listener_seconds += time.perf_counter() - started
        timings = [wall for wall, _ in engine.timings or []]
        cpu = [used for _, used in engine.timings or []]
        transitions = _segment_events(container, ws) - emitted
        measured = seq - args.warmup
        sizes = container.segments.list(ws)
        container.stop()
    return {
        "segments": len(realtime_segments()),
        "events": seq,
        "measured_events": measured,
        "profile_evaluations": len(timings),
        "eval_p50_ms": _ms(percentile(timings, 50)),
        "eval_p90_ms": _ms(percentile(timings, 90)),
        "eval_p99_ms": _ms(percentile(timings, 99)),
        "eval_max_ms": _ms(max(timings, default=0.0)),
        "eval_cpu_p50_ms": _ms(percentile(cpu, 50)),
        "eval_cpu_p99_ms": _ms(percentile(cpu, 99)),
        "transitions_per_event": round(transitions / max(measured, 1), 3),
        "commit_ms_per_event": round(listener_seconds / max(measured, 1) * 1000, 3),
        "members_total": sum(s["size"] for s in sizes),
    }


def _segment_events(container: Container, ws: str) -> int:
    with container.store.read() as conn:
        query = select(func.count()).where(
            event.c.workspace_id == ws, event.c.name.in_(("Segment Entered", "Segment Exited"))
        )
        return int(conn.execute(query).scalar() or 0)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 4)


def _profiles(n: int, ws: str, seed: int) -> Any:
    rng = random.Random(seed)
    granted = orjson.dumps({"marketing": {"granted": True, "at": T0, "source": "api"}}).decode()
    for i in range(n):
        orders = rng.choice((0, 0, 0, 1, 2, 3, 5))
        traits = {
            "country": rng.choice(COUNTRIES),
            "age": rng.randint(18, 80),
            "plan": rng.choice(("free", "pro", "team")),
            "name": rng.choice(("Ada", "Bo", "Al")),
        }
        if rng.random() < 0.5:
            traits["email"] = f"p{i}@example.com"
        computed = {
            "orders": orders,
            "revenue": orders * rng.randint(20, 200),
            "events": orders + 3,
        }
        last = T0 - rng.randint(0, 60) * DAY
        consent = granted if rng.random() < 0.4 else "{}"
        encoded = orjson.dumps(traits).decode(), orjson.dumps(computed).decode()
        yield (ws, f"p_{i:012d}", encoded[0], "{}", encoded[1], "{}", consent,
               last, last, last - DAY, last, None)  # fmt: skip


def _events(n: int, ws: str, seed: int) -> Any:
    rng = random.Random(seed + 1)
    for i in range(n):
        pid = f"p_{rng.randrange(n * 5):012d}"
        ts = T0 - rng.randint(0, 40) * DAY // 2
        props: dict[str, Any]
        if rng.random() < 0.7:
            name, props = "Product Viewed", {"category": rng.choice(CATEGORIES)}
        else:
            name, props = "Order Completed", {"revenue": rng.randint(10, 300)}
        encoded = orjson.dumps(props).decode()
        yield (ws, f"e{i}", "track", name, pid, ts, ts, encoded, "{}", "{}", "{}")


PROFILE_COLUMNS = (
    "workspace_id, profile_id, traits, trait_times, computed, soft, consent, created_at,"
    " updated_at, first_seen, last_seen, merged_into"
)
EVENT_COLUMNS = (
    "workspace_id, message_id, type, name, profile_id, timestamp, received_at, properties,"
    " traits, context, integrations"
)


def bulk_load(container: Container, ws: str, profiles: int, events: int, seed: int) -> None:
    with container.store.write() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        if container.store.is_sqlite:
            cur = raw.cursor()
            cur.executemany(
                f"INSERT INTO profile ({PROFILE_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                _profiles(profiles, ws, seed),
            )
            cur.executemany(
                f"INSERT INTO event ({EVENT_COLUMNS}) VALUES ({', '.join('?' * 11)})",
                _events(events, ws, seed),
            )
            return
        cur = raw.cursor()
        for table, columns, rows in (
            ("profile", PROFILE_COLUMNS, _profiles(profiles, ws, seed)),
            ("event", EVENT_COLUMNS, _events(events, ws, seed)),
        ):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
    with container.store.write() as conn:
        conn.exec_driver_sql("ANALYZE")


def run_batch(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    clock = ManualClock(T0)
    with fresh_database(kind) as url:
        container = Container.build(load_settings(database_url=url), clock)
        container.store.upgrade()
        # As a server does (the ingest writer starts it): without it SQLite never
        # checkpoints, and reads slow down as the WAL grows by gigabytes.
        container.store.start_checkpointer()
        ws = container.workspaces.create("bench").workspace_id
        started = time.perf_counter()
        bulk_load(container, ws, args.profiles, args.profiles // 5, args.seed)
        load_seconds = time.perf_counter() - started
        # Definitions only (what `create` saves before its back-fill); `recompute` below
        # does the back-fill, timed.
        with container.store.write() as conn:
            for name, cond in batch_segments():
                row = SegmentRow(new_id("seg_", T0), name, "dynamic", cond, None, T0, T0)
                container.segments.segments.insert(conn, ws, row)
        steps: dict[str, float] = {}
        marks: dict[str, float] = {}

        def progress(step: str, done: int, total: int) -> None:
            now = time.perf_counter()
            if done == 0:
                marks[step] = now
            elif done == total and step in marks:
                steps[step] = steps.get(step, 0.0) + now - marks[step]

        database = make_url(url).database or ""
        cpu_before, busy_before = process_cpu(), machine_busy_seconds()
        total_started = time.perf_counter()
        names = [name for name, _ in batch_segments()]
        results = container.segments.recompute_all(
            ws, names, workers=args.workers, progress=progress
        )
        per_segment = {r["name"]: r["seconds"] for r in results}
        total = time.perf_counter() - total_started
        cpu_after, busy = process_cpu(), machine_busy_seconds() - busy_before
        ours = {os.getpid()} | {
            pid for pid, (name, _) in cpu_after.items() if f" {database} " in name
        }
        own_cpu = cpu_after[os.getpid()][1] - cpu_before[os.getpid()][1]
        server_cpu = postgres_cpu(cpu_before, cpu_after, database) if kind == "postgres" else 0.0
        sizes = {s["name"]: s["size"] for s in container.segments.list(ws)}
        files = database_files(url)
        container.store.dispose()
    return {
        "store": kind,
        "profiles": args.profiles,
        "events": args.profiles // 5,
        "segments": len(batch_segments()),
        "workers": 1 if kind == "sqlite" else args.workers,
        "load_seconds": round(load_seconds, 2),
        "recompute_seconds": round(total, 2),
        # CPU time, which other work on the machine does not inflate the way it does wall
        # time: this process, and PostgreSQL's processes working for the bench database.
        "recompute_cpu_seconds": {"bench": round(own_cpu, 2), "postgres": round(server_cpu, 2)},
        "machine_busy_cores": round(busy / total, 2),
        **files,
        "busiest_others": [
            (name, round(cpu, 1)) for name, cpu in busiest_others(cpu_before, cpu_after, ours)
        ],
        "steps_seconds": {k: round(v, 2) for k, v in steps.items()},
        "per_segment_seconds": per_segment,
        "sizes": sizes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=20_000, help="batch: synthetic profiles")
    parser.add_argument("--stores", default="postgres,sqlite", help="batch: stores to run")
    parser.add_argument("--events", type=int, default=20_000, help="real time: events")
    parser.add_argument("--warmup", type=int, default=2_000, help="real time: events not timed")
    parser.add_argument("--users", type=int, default=2_000, help="real time: distinct people")
    parser.add_argument("--group", type=int, default=100, help="real time: events per submit")
    parser.add_argument(
        "--workers", type=int, default=POSTGRES_WORKERS, help="batch: PostgreSQL connections"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-realtime", action="store_true")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    results: dict[str, Any] = {"command": " ".join(sys.argv)}
    if not args.skip_realtime:
        results["realtime"] = run_realtime(args)
        print(json.dumps(results["realtime"], indent=2), flush=True)
    for kind in filter(None, args.stores.split(",")):
        results[f"batch_{kind}"] = run_batch(kind, args)
        print(json.dumps(results[f"batch_{kind}"], indent=2), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
