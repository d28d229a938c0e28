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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
)

from unico.core.types import EpochMs
from unico.db.schema import event, profile
from unico.db.segments_schema import segment_list_entry, segment_membership
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
from unico.segments.sql import aggregate_events, compile_condition
from unico.segments.store import SegmentStore
from unico.segments.windows import Window

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

    def __init__(self, segments: SegmentStore, *, max_points: int) -> None:
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
        _tuned(conn)
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
        _tuned(conn)
        entered, exited = self.segments.replace_members(
            conn,
            workspace_id,
            seg.segment_id,
            clause,
            now,
            {"kind": "backfill", "trigger": "backfill"},
        )
        return BackfillResult(entered, exited)

    def windows(
        self,
        conn: Connection,
        workspace_id: str,
        aggregates: Mapping[str, ast.EventAggregate],
        now: EpochMs,
        progress: Progress = _nothing,
    ) -> int:
        """Build the states of ``aggregates`` from the event log (only the events still
        inside each window are read), and schedule each person's next check for when their
        oldest event leaves. Returns how many states were written.

        The states are built on the server, one ``INSERT ... SELECT`` per aggregate, with
        the SQL compiler's reading of the aggregate (`sql.aggregate_events`, the one the
        agreement tests hold to the evaluator's). Two cases go through `Window` in Python:
        events of merged profiles (they count for the survivor) and people with more events
        in the window than a state keeps exactly (their oldest are folded into buckets)."""
        _tuned(conn)
        survivors = self._survivors(conn, workspace_id)
        written = 0
        for done, (key, agg) in enumerate(sorted(aggregates.items())):
            progress("windows", done, len(aggregates))
            points = self._points(conn, workspace_id, agg, now)
            owner, ts, value = points.selected_columns
            own = points.where(~_merged())
            written += self.segments.write_windows_from(
                conn, workspace_id, key, own.order_by(owner, ts, value), self.max_points
            )
            leaves = own.with_only_columns(
                literal(workspace_id), owner, func.min(ts) + agg.window_ms
            ).group_by(owner)
            self.segments.schedule_earlier_from(conn, leaves)
            written += self._windows_in_python(conn, workspace_id, key, agg, now, points, survivors)
        progress("windows", len(aggregates), len(aggregates))
        return written

    def _points(
        self, conn: Connection, workspace_id: str, agg: ast.EventAggregate, now: EpochMs
    ) -> Select[Any]:
        """(profile id, timestamp, value) of the events ``agg`` reads now."""
        matching, number = aggregate_events(agg, now_ms=now, dialect_name=conn.dialect.name)
        c = event.c
        counted = agg.fn == "count"
        query = select(c.profile_id, c.timestamp, literal(0.0) if counted else number).where(
            c.workspace_id == workspace_id, c.profile_id.is_not(None), *matching
        )
        return query if counted else query.where(number.is_not(None))

    def _windows_in_python(
        self,
        conn: Connection,
        workspace_id: str,
        key: str,
        agg: ast.EventAggregate,
        now: EpochMs,
        points: Select[Any],
        survivors: Mapping[str, str],
    ) -> int:
        """The states `write_windows_from` cannot build, built from scratch by `Window`:
        survivors of merges (their merged profiles' events count for them) and people with
        more events in the window than a state keeps exactly (folded into buckets)."""
        owner, merged = points.selected_columns[0], _merged()
        over = (
            points.where(~merged)
            .with_only_columns(owner)
            .group_by(owner)
            .having(func.count() > self.max_points)
        )
        losers = list(conn.execute(points.where(merged))) if survivors else []
        people = set(conn.execute(over).scalars()) | {_follow(survivors, r[0]) for r in losers}
        if not people:
            return 0
        windows = {pid: Window.empty(agg, self.max_points) for pid in people}
        own = conn.execute(points.where(~merged, owner.in_(sorted(people))))
        for pid, at, value in sorted([*losers, *own], key=lambda r: r[1]):
            windows[_follow(survivors, pid)].add(at, None if agg.fn == "count" else value)
        upserts, due = [], []
        for pid, window in windows.items():
            window.prune(now)
            leaves = window.next_change_at(now)
            if leaves is not None:
                upserts.append((pid, key, window.dump()))
                due.append((pid, leaves))
        for start in range(0, len(upserts), CHUNK):
            self.segments.write_windows(conn, workspace_id, upserts[start : start + CHUNK], [])
            self.segments.schedule_earlier(conn, workspace_id, due[start : start + CHUNK])
        return len(upserts)

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


def _merged() -> ColumnElement[bool]:
    """Whether an event's profile was merged into another. An anti-join against the few
    merged profiles (found by their index), where joining every event to its profile read
    the whole profile table."""
    p = profile.c
    return exists().where(
        p.workspace_id == event.c.workspace_id,
        p.profile_id == event.c.profile_id,
        p.merged_into.is_not(None),
    )


def _tuned(conn: Connection) -> None:
    """Planner settings for the rest of this transaction on PostgreSQL. No JIT: the
    correlated aggregates make the estimates large enough to compile every back-fill
    statement, which took longer than the scan it sped up (about half a second each at
    100,000 profiles), and the work is in the JSON functions, which JIT does not make
    faster. More memory for sorts and hashes: grouping a window's events by person spilled
    to disk at the default 4 MB."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")


def _follow(survivors: Mapping[str, str], pid: str) -> str:
    seen = 0
    while pid in survivors and seen < 100:
        pid, seen = survivors[pid], seen + 1
    return pid
