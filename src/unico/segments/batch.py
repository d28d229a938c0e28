"""Batch work on one segment: back-fill or recompute its membership with the SQL compiler
(the same condition tree the real-time evaluator runs), build the window states of
aggregates that are new, and schedule people whose membership may change with the clock.

A back-fill writes membership rows in two statements on the server (an ``INSERT ...
SELECT`` of the newcomers and a ``DELETE`` of those who no longer qualify), and schedules
the re-checks of relative dates on the profile's time columns with one more (``INSERT ...
SELECT ... ON CONFLICT``), so it never moves a million profiles through Python. Windowed
aggregates run their subquery only for the people with an event in the window. It emits
no ``Segment Entered`` / ``Exited`` events: those describe what people did, not a
definition being saved or edited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    delete,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
)

from unico.core.types import EpochMs
from unico.profiles.store import ProfileState
from unico.segments import ast
from unico.segments.catalog import (
    STATIC,
    Catalog,
    CompiledSegment,
    Probe,
    ProfileEval,
    next_change,
)
from unico.segments.evaluate import event_matches, event_value
from unico.segments.sql import compile_condition
from unico.segments.windows import Window
from unico.store.schema import Json, event, profile
from unico.store.segments import SqlSegmentStore
from unico.store.segments_schema import segment_list_entry, segment_membership

#: (step, done, total): what a progress bar shows.
Progress = Callable[[str, int, int], None]
CHUNK = 2000
_TIME_COLUMNS = {("first_seen",), ("last_seen",), ("created_at",)}


@dataclass(frozen=True, slots=True)
class BackfillResult:
    entered: int
    exited: int


def _nothing(_step: str, _done: int, _total: int) -> None:
    return None


class Backfill:
    """Batch membership for one workspace."""

    def __init__(self, segments: SqlSegmentStore, *, max_points: int) -> None:
        self.segments = segments
        self.max_points = max_points

    def membership_clause(
        self,
        conn: Connection,
        workspace_id: str,
        catalog: Catalog,
        seg: CompiledSegment,
        now: EpochMs,
        defaults: Mapping[str, bool],
    ) -> ColumnElement[bool]:
        """Who belongs to ``seg`` now, as a WHERE clause over ``profile``."""

        m = segment_membership.c
        ids = {s.name: s.segment_id for s in catalog.segments}

        def in_segment(name: str) -> ColumnElement[bool]:
            if name not in ids:
                return false()
            return exists().where(
                m.workspace_id == profile.c.workspace_id,
                m.segment_id == ids[name],
                m.profile_id == profile.c.profile_id,
            )

        base = and_(profile.c.workspace_id == workspace_id, profile.c.merged_into.is_(None))
        consent = compile_condition(
            ast.Consented("analytics"),
            now_ms=now,
            dialect_name=conn.dialect.name,
            consent_defaults=defaults,
            segment_clause=in_segment,
        )
        if seg.kind == STATIC:
            e = segment_list_entry.c
            listed = exists().where(
                e.workspace_id == profile.c.workspace_id,
                e.segment_id == seg.segment_id,
                e.profile_id == profile.c.profile_id,
            )
            return and_(base, consent, listed)
        assert seg.condition is not None
        rule = compile_condition(
            seg.condition,
            now_ms=now,
            dialect_name=conn.dialect.name,
            consent_defaults=defaults,
            segment_clause=in_segment,
            workspace_id=workspace_id,
        )
        return and_(base, consent, rule)

    def count(self, conn: Connection, clause: ColumnElement[bool]) -> int:
        _without_jit(conn)
        return int(
            conn.execute(select(func.count()).select_from(profile).where(clause)).scalar() or 0
        )

    def sample(self, conn: Connection, clause: ColumnElement[bool], n: int) -> list[dict[str, Any]]:
        query = select(profile).where(clause).order_by(profile.c.profile_id.desc()).limit(n)
        return [r._asdict() for r in conn.execute(query)]

    def memberships(
        self,
        conn: Connection,
        workspace_id: str,
        seg: CompiledSegment,
        clause: ColumnElement[bool],
        now: EpochMs,
    ) -> BackfillResult:
        _without_jit(conn)
        m = segment_membership.c
        mine = and_(m.workspace_id == workspace_id, m.segment_id == seg.segment_id)
        qualifies = select(profile.c.profile_id).where(clause)
        gone = conn.execute(delete(segment_membership).where(mine, m.profile_id.not_in(qualifies)))
        held = exists().where(mine, m.profile_id == profile.c.profile_id)
        newcomers = select(
            literal(workspace_id),
            literal(seg.segment_id),
            profile.c.profile_id,
            literal(now),
            literal({"kind": "backfill", "trigger": "backfill"}, Json),
        ).where(clause, ~held)
        insert = segment_membership.insert().from_select(
            ["workspace_id", "segment_id", "profile_id", "since", "reason"], newcomers
        )
        if conn.dialect.name == "sqlite":
            added = conn.execute(insert).rowcount
        else:  # an INSERT ... SELECT reports no row count through psycopg: count what it returns
            written = insert.returning(segment_membership.c.profile_id).cte("written")
            added = int(conn.execute(select(func.count()).select_from(written)).scalar() or 0)
        return BackfillResult(added, gone.rowcount)

    def windows(
        self,
        conn: Connection,
        workspace_id: str,
        aggregates: Mapping[str, ast.EventAggregate],
        now: EpochMs,
        progress: Progress = _nothing,
    ) -> int:
        """Build the states of ``aggregates`` from the event log (only the events still
        inside each window are read). Returns how many profiles got a state."""
        survivors = self._survivors(conn, workspace_id)
        states: dict[str, dict[str, Window]] = {}
        for done, (key, agg) in enumerate(sorted(aggregates.items())):
            progress("windows", done, len(aggregates))
            for pid, name, ts, props, context in self._events(conn, workspace_id, agg, now):
                if event_matches(agg, name, props, context):
                    value = None if agg.fn == "count" else event_value(agg, props, context)
                    owner = states.setdefault(_follow(survivors, pid), {})
                    window = owner.setdefault(key, Window.empty(agg, self.max_points))
                    window.add(ts, value)
        rows, due = [], []
        for pid, windows in states.items():
            for key, window in windows.items():
                window.prune(now)
                if window.points:
                    rows.append((pid, key, window.dump()))
            nexts = [w.next_change_at(now) for w in windows.values()]
            soonest = min((n for n in nexts if n is not None), default=None)
            if soonest is not None:
                due.append((pid, soonest))
        for start in range(0, len(rows), CHUNK):
            self.segments.write_windows(conn, workspace_id, rows[start : start + CHUNK], [])
        for start in range(0, len(due), CHUNK):
            self.segments.schedule_earlier(conn, workspace_id, due[start : start + CHUNK])
        progress("windows", len(aggregates), len(aggregates))
        return len(states)

    def _events(
        self, conn: Connection, workspace_id: str, agg: ast.EventAggregate, now: EpochMs
    ) -> Iterator[tuple[str, str | None, int, Any, Any]]:
        c = event.c
        query = select(c.profile_id, c.name, c.timestamp, c.properties, c.context).where(
            c.workspace_id == workspace_id,
            c.profile_id.is_not(None),
            c.timestamp > now - agg.window_ms,
        )
        if agg.event is not None:
            query = query.where(c.name == agg.event)
        for r in conn.execute(query.execution_options(yield_per=CHUNK)):
            yield r.profile_id, r.name, r.timestamp, r.properties, r.context

    def _survivors(self, conn: Connection, workspace_id: str) -> dict[str, str]:
        query = select(profile.c.profile_id, profile.c.merged_into).where(
            profile.c.workspace_id == workspace_id, profile.c.merged_into.is_not(None)
        )
        return {r.profile_id: r.merged_into for r in conn.execute(query)}

    def schedule_clock(
        self,
        conn: Connection,
        workspace_id: str,
        catalog: Catalog,
        segs: list[CompiledSegment],
        now: EpochMs,
        defaults: Mapping[str, bool],
    ) -> None:
        """People whose membership flips when the clock passes a relative date (``last_seen <
        now - 30d``) get their next check. One pass over the profiles, for all of ``segs``."""
        timed = [s for s in segs if s.probes]
        if not timed:
            return
        probes = [p for s in timed for p in s.probes]
        if all(p.path[0] == "profile" and p.path[1:] in _TIME_COLUMNS for p in probes):
            self._schedule_columns(conn, workspace_id, probes, now)
            return
        # Dates inside JSON (ISO text or epoch ms) are read the way the evaluator reads them.
        query = select(profile).where(
            profile.c.workspace_id == workspace_id, profile.c.merged_into.is_(None)
        )
        due: list[tuple[str, EpochMs]] = []
        for r in conn.execute(query.execution_options(yield_per=CHUNK)):
            state = ProfileState(
                r.profile_id, r.traits, {}, r.computed, r.soft, r.consent, r.created_at,
                r.updated_at, r.first_seen, r.last_seen,
            )  # fmt: skip
            ctx = ProfileEval(state, now, {}, catalog.keys, defaults)
            nexts = [next_change(s, ctx, now, {}) for s in timed]
            soonest = min((n for n in nexts if n is not None), default=None)
            if soonest is not None:
                due.append((r.profile_id, soonest))
            if len(due) >= CHUNK:
                self.segments.schedule_earlier(conn, workspace_id, due)
                due = []
        self.segments.schedule_earlier(conn, workspace_id, due)

    def _schedule_columns(
        self, conn: Connection, workspace_id: str, probes: list[Probe], now: EpochMs
    ) -> None:
        """`next_change` for probes on the profile's time columns, in one ``INSERT ...
        SELECT`` on the server: ``field - offset`` if still ahead, else one ms after it."""
        candidates: list[ColumnElement[Any]] = []
        for probe in probes:
            at = profile.c[probe.path[1]] - probe.offset_ms
            candidates.append(case((at > now, at), (at + 1 > now, at + 1), else_=null()))
        soonest = self.segments.least(conn, candidates)
        ahead = or_(*(profile.c[p.path[1]] > now + p.offset_ms - 1 for p in probes))
        due = select(literal(workspace_id), profile.c.profile_id, soonest).where(
            profile.c.workspace_id == workspace_id, profile.c.merged_into.is_(None), ahead
        )
        self.segments.schedule_earlier_from(conn, due)


def _without_jit(conn: Connection) -> None:
    """No JIT for the rest of this transaction on PostgreSQL. The correlated aggregates make
    the planner's estimates large enough to compile every back-fill statement, which took
    longer than the scan it sped up (about half a second each at 100,000 profiles): the work
    is in the JSON functions, which JIT does not make faster."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")


def _follow(survivors: Mapping[str, str], pid: str) -> str:
    seen = 0
    while pid in survivors and seen < 100:
        pid, seen = survivors[pid], seen + 1
    return pid
