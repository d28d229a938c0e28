"""Where an ingested event's CPU goes, stage by stage, in one process without HTTP.

``bench/ingest.py`` measures the whole server; this splits it into the request side
(JSON parsing, validation) and the writer (one transaction per group: dedupe, identity,
profile update, event insert), each run alone, so each stage's ceiling is known without
the other competing for the GIL. It calls internal APIs, so it follows their changes.

    .venv/bin/python bench/ingest_parts.py --database sqlite
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from harness import PG_ADMIN_URL, fresh_database
from unico.collect.pipeline import Submission
from unico.collect.validation import Limits, parse_time, validate_event
from unico.container import Container
from unico.core.event import Event
from unico.core.ids import new_id
from unico.core.settings import load_settings
from workload import WorkloadSpec, build_bodies, unique_body

console = Console(width=120)


def _validate(body: bytes, limits: Limits) -> list[Event]:
    """What the ``/v1/batch`` handler does with a body before it queues it."""
    raw = orjson.loads(body)
    now = int(time.time() * 1000)
    sent_at = parse_time(raw, "sentAt", "")
    return [
        validate_event(
            item,
            received_at=now,
            limits=limits,
            message_id=new_id("m_", now),
            sent_at=sent_at,
            prefix=f"batch[{i}].",
        )
        for i, item in enumerate(raw["batch"])
    ]


def request_side(bodies: list[bytes], rounds: int) -> dict[str, float]:
    """CPU microseconds per event to parse and to parse + validate."""
    limits = Limits()
    n = sum(len(orjson.loads(b)["batch"]) for b in bodies) * rounds
    started = time.process_time()
    for _ in range(rounds):
        for body in bodies:
            orjson.loads(body)
    parse = time.process_time() - started
    started = time.process_time()
    for r in range(rounds):
        for i, body in enumerate(bodies):
            _validate(unique_body(body, r * len(bodies) + i, "v"), limits)
    both = time.process_time() - started
    return {"parse_us": 1e6 * parse / n, "parse_validate_us": 1e6 * both / n}


def writer_side(url: str, batches: list[list[Event]], submitters: int) -> dict[str, Any]:
    """Events/s of the ingest writer alone, fed by ``submitters`` waiting requests."""
    container = Container.build(load_settings(database_url=url))
    container.start()
    try:
        ws = container.workspaces.create("parts")
        defaults = container.workspaces.get(ws.workspace_id).settings.consent_defaults
        ingestor = container.ingestor

        def submit(events: list[Event]) -> int:
            submission = Submission(ws.workspace_id, defaults, events, [])
            return ingestor.submit_sync(submission).accepted

        groups0 = ingestor.committed_groups
        started, cpu0 = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(submitters) as pool:
            accepted = sum(pool.map(submit, batches))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
        groups = ingestor.committed_groups - groups0
    finally:
        container.stop()
    return {
        "submitters": submitters,
        "events": accepted,
        "events_per_s": accepted / elapsed,
        "us_per_event": 1e6 * elapsed / accepted,
        # CPU time is what other load on the machine cannot inflate (much).
        "cpu_us_per_event": 1e6 * cpu / accepted,
        "avg_group_events": accepted / max(1, groups),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--postgres-url", default=PG_ADMIN_URL)
    p.add_argument("--bodies", type=int, default=300, help="batches of 100 events per run")
    p.add_argument("--json", type=Path)
    p.add_argument("--patch", default="", help="experiments from bench/experiments/patches.py")
    args = p.parse_args()
    if args.patch:
        sys.path.insert(0, str(Path(__file__).parent / "experiments"))
        from patches import apply

        apply(n for n in args.patch.split(",") if n)
    bodies = build_bodies(WorkloadSpec(bodies=args.bodies))
    request = request_side(bodies, rounds=2)
    limits = Limits()
    results = []
    for submitters in (1, 8, 48):
        # A fresh database each time: later runs must not find warm profiles.
        with fresh_database(args.database, args.postgres_url) as url:
            batches = [
                _validate(unique_body(b, i, f"w{submitters}-"), limits)
                for i, b in enumerate(bodies)
            ]
            results.append(writer_side(url, batches, submitters))
    title = f"Ingest stages alone ({args.database}, one process, no HTTP)"
    table = Table(title=title + (f" + patches {args.patch}" if args.patch else ""))
    table.add_column("stage")
    table.add_column("CPU µs / event", justify="right")
    table.add_column("wall µs / event", justify="right")
    table.add_column("events/s", justify="right")
    table.add_column("note")
    us = request["parse_us"]
    table.add_row("parse (orjson)", f"{us:.1f}", "", f"{1e6 / us:,.0f}", "ceiling, one core")
    us = request["parse_validate_us"]
    table.add_row(
        "parse + validate", f"{us:.1f}", "", f"{1e6 / us:,.0f}", "ceiling; incl. new_id per event"
    )
    for r in results:
        table.add_row(
            f"writer, {r['submitters']} waiting requests",
            f"{r['cpu_us_per_event']:.1f}",
            f"{r['us_per_event']:.1f}",
            f"{r['events_per_s']:,.0f}",
            f"avg group {r['avg_group_events']:,.0f} events",
        )
    console.print(table)
    if args.json:
        args.json.write_bytes(
            orjson.dumps({"request": request, "writer": results}, option=orjson.OPT_INDENT_2)
        )


if __name__ == "__main__":
    main()
