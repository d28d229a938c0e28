"""Recompute of many segments at once: a nightly rebuild, a back-fill after an import.

One segment at a time (`SegmentService.recompute`) rebuilds its windows, members and
clock schedule in one transaction. For many segments the work splits differently:

* the window states of every aggregate the segments use, and the schedule of the people
  whose membership flips with the clock, in one transaction (each aggregate once, one pass
  over the profiles for all the relative dates);
* each segment's members in a transaction of its own, which only reads profiles, events,
  list entries and (for ``in_segment``) the members of the segments it depends on, and only
  writes its own rows of ``segment_membership``.

On PostgreSQL the membership transactions of segments that do not depend on each other
run on several connections at once, next to the windows and schedule: the server is
CPU-bound on this work (scanning profiles, writing rows and index entries), and one
connection keeps one core busy. A segment starts once the segments it names with
``in_segment`` have committed. SQLite has one writer, so there everything runs in turn on
one connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

from unico.core.types import EpochMs
from unico.db.engine import Store
from unico.segments import ast
from unico.segments.batch import Backfill, Progress
from unico.segments.catalog import Catalog, CompiledSegment
from unico.segments.dependencies import prerequisites
from unico.segments.realtime import SegmentEngine
from unico.segments.windows import aggregate_key

#: Connections a PostgreSQL recompute uses by default: the database server's cores (two on
#: the machines Unico is measured on); more only queue for the same cores.
POSTGRES_WORKERS = 2
_STATE = "\x00windows and schedule"


class Rebuild:
    """Recompute the members, windows and clock schedules of several segments."""

    def __init__(self, store: Store, engine: SegmentEngine, backfill: Backfill) -> None:
        self.store = store
        self.engine = engine
        self.backfill = backfill

    def run(
        self,
        workspace_id: str,
        segment_ids: Sequence[str],
        now: EpochMs,
        defaults: Mapping[str, bool],
        *,
        workers: int,
        progress: Progress,
    ) -> list[dict[str, Any]]:
        """Recompute ``segment_ids`` (a catalog's dependency order); one result each, in
        that order: segment id, name, size, entered, exited and seconds."""
        lock = threading.Lock()

        def report(step: str, done: int, total: int) -> None:
            with lock:  # the windows step reports from a worker thread
                progress(step, done, total)

        jobs: dict[str, Callable[[], dict[str, Any] | None]] = {
            _STATE: partial(self._state, workspace_id, segment_ids, now, defaults, report)
        }
        for sid in segment_ids:
            jobs[sid] = partial(self._members, workspace_id, sid, now, defaults)
        with self.store.read() as conn:
            catalog = self.engine.catalog(conn, workspace_id)
        needs = prerequisites(catalog, segment_ids)
        done = _schedule(jobs, needs, 1 if self.store.is_sqlite else workers, report)
        return [r for sid in segment_ids if (r := done.get(sid)) is not None]

    def _state(
        self,
        workspace_id: str,
        segment_ids: Sequence[str],
        now: EpochMs,
        defaults: Mapping[str, bool],
        progress: Progress,
    ) -> None:
        """Window states of every aggregate the segments use (built from the event log as a
        single recompute does) and the next checks their relative dates call for."""
        with self.store.write() as conn:
            catalog = self.engine.catalog(conn, workspace_id)
            segs = _still_there(catalog, segment_ids)
            aggregates = {
                aggregate_key(a): a
                for seg in segs
                if seg.condition is not None
                for a in ast.aggregates(seg.condition)
            }
            if aggregates:
                self.backfill.windows(conn, workspace_id, aggregates, now, progress)
            progress("schedule", 0, 1)
            self.backfill.schedule_clock(conn, workspace_id, catalog, segs, now, defaults)
            progress("schedule", 1, 1)

    def _members(
        self, workspace_id: str, segment_id: str, now: EpochMs, defaults: Mapping[str, bool]
    ) -> dict[str, Any] | None:
        """One segment's members, in a transaction of its own (None: it was deleted)."""
        started = time.perf_counter()
        with self.store.write() as conn:
            # Read again in this transaction: the catalog may have moved on since `run` began.
            catalog = self.engine.catalog(conn, workspace_id)
            found = _still_there(catalog, [segment_id])
            if not found:
                return None
            seg = found[0]
            # Counted before the rewrite: nothing to count for a segment filled from
            # scratch, where counting afterwards read every new row again (0.2 s for
            # 900,000 members on PostgreSQL).
            held = self.backfill.segments.size(conn, workspace_id, segment_id)
            clause = self.backfill.membership_clause(
                conn, workspace_id, catalog, seg, now, defaults
            )
            result = self.backfill.memberships(conn, workspace_id, seg, clause, now)
        return {
            "segment_id": segment_id,
            "name": seg.name,
            "size": held + result.entered - result.exited,
            "entered": result.entered,
            "exited": result.exited,
            "seconds": round(time.perf_counter() - started, 3),
        }


def _still_there(catalog: Catalog, segment_ids: Sequence[str]) -> list[CompiledSegment]:
    wanted = set(segment_ids)
    return [s for s in catalog.segments if s.segment_id in wanted]


def _schedule(
    jobs: Mapping[str, Callable[[], dict[str, Any] | None]],
    needs: Mapping[str, set[str]],
    workers: int,
    progress: Progress,
) -> dict[str, dict[str, Any]]:
    """Run ``jobs`` (in their order, each once the jobs it needs are done) on ``workers``
    threads. The first failure is raised once the jobs already running have finished (each
    is a transaction of its own: nothing is left half-written)."""
    workers = max(1, workers)
    members = len(jobs) - 1
    progress("members", 0, members)
    results: dict[str, dict[str, Any]] = {}
    finished: set[str] = set()
    waiting = list(jobs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running: dict[Future[dict[str, Any] | None], str] = {}
        while waiting or running:
            ready = [k for k in waiting if needs.get(k, set()) <= finished]
            if not ready and not running:  # a cycle (refused on save): run it anyway
                ready = waiting[:1]
            for key in ready[: max(0, workers - len(running))]:
                waiting.remove(key)
                running[pool.submit(jobs[key])] = key
            completed, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in completed:
                key = running.pop(future)
                result = future.result()
                finished.add(key)
                if result is not None:
                    results[key] = result
                if key != _STATE:
                    progress("members", len(finished - {_STATE}), members)
    return results
