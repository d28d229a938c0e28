"""The segments service: definitions (create, edit, delete, preview), membership reads, and
the explanation of why a person is in a segment. The web API and the CLI are thin layers
over it; other contexts ask `is_member` / `memberships`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from unico.core.clock import Clock, to_iso
from unico.core.errors import Conflict, InvalidInput, NotFound
from unico.core.ids import new_id
from unico.core.types import EpochMs
from unico.db.engine import Store
from unico.profiles.store import ProfileStore
from unico.segments import ast
from unico.segments.batch import Backfill, BackfillResult, Progress, _nothing
from unico.segments.catalog import DYNAMIC, STATIC, Catalog, CompiledSegment, ProfileEval
from unico.segments.check import validate
from unico.segments.dependencies import dependents, refuse_cycles
from unico.segments.explain import explain
from unico.segments.lists import ListService
from unico.segments.parser import parse
from unico.segments.realtime import SegmentEngine
from unico.segments.recompute import POSTGRES_WORKERS, Rebuild
from unico.segments.store import SegmentRow, SegmentStore
from unico.segments.windows import Window, aggregate_key

MAX_PAGE = 1000
_NAME = re.compile(r"^[^\x00-\x1f\"\\]{1,200}$")


def _view(row: SegmentRow, size: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "segment_id": row.segment_id,
        "name": row.name,
        "kind": row.kind,
        "condition": row.condition,
        "description": row.description,
        "created_at": to_iso(row.created_at),
        "updated_at": to_iso(row.updated_at),
    }
    if size is not None:
        out["size"] = size
    return out


class SegmentService:
    """Segments of a workspace.

    >>> # service.create("ws_…", "vip", 'computed.revenue > 500')["size"]
    >>> # service.is_member("ws_…", "p_…", "vip")
    >>> # [r["size"] for r in service.recompute_all("ws_…")]  # every segment, nightly
    """

    def __init__(
        self,
        store: Store,
        segments: SegmentStore,
        engine: SegmentEngine,
        profiles: ProfileStore,
        clock: Clock,
        consent_defaults: Callable[[str], Mapping[str, bool]],
        *,
        max_list_rows: int = 1_000_000,
    ) -> None:
        self.store = store
        self.segments = segments
        self.engine = engine
        self.profiles = profiles
        self.clock = clock
        self.consent_defaults = consent_defaults
        self.backfill = Backfill(segments, max_points=engine.max_points)
        #: Static lists: uploads and one-by-one changes.
        self.lists = ListService(store, segments, engine, profiles, clock, max_rows=max_list_rows)

    # -- definitions ------------------------------------------------------------------------

    def _compile(
        self, catalog: Catalog, name: str, text: str, *, current: str | None = None
    ) -> ast.Condition:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("condition must be a non-empty string", field="condition")
        cond = parse(text)
        known = {s.name for s in catalog.segments if s.name != current}
        validate(cond, known_segments=known)
        refuse_cycles(catalog, name, cond)
        return cond

    def _find(self, catalog: Catalog, ref: str) -> CompiledSegment:
        for seg in catalog.segments:
            if ref in (seg.segment_id, seg.name):
                return seg
        raise NotFound(f"no segment {ref!r}", field="segment")

    def _row(self, conn: Connection, workspace_id: str, segment_id: str) -> SegmentRow:
        for row in self.segments.segments(conn, workspace_id):
            if segment_id in (row.segment_id, row.name):
                return row
        raise NotFound(f"no segment {segment_id!r}", field="segment")

    def create(
        self,
        workspace_id: str,
        name: str,
        condition: str | None,
        *,
        description: str | None = None,
        kind: str = DYNAMIC,
    ) -> dict[str, Any]:
        """Save a segment and back-fill its members; returns it with its ``size``."""
        if not isinstance(name, str) or not _NAME.match(name.strip()):
            raise InvalidInput("name must be 1-200 characters, no quotes", field="name")
        name = name.strip()
        if kind not in (DYNAMIC, STATIC):
            raise InvalidInput("kind is dynamic or static", field="kind")
        if kind == STATIC and condition is not None:
            raise InvalidInput("a static list has no condition", field="condition")
        now = self.clock.now_ms()
        with self.store.write() as conn:
            catalog = self.engine.catalog(conn, workspace_id)
            if any(s.name == name for s in catalog.segments):
                raise Conflict(f"a segment named {name!r} exists", field="name")
            if kind == DYNAMIC:
                self._compile(catalog, name, condition or "")
            row = SegmentRow(new_id("seg_", now), name, kind, condition, description, now, now)
            try:
                self.segments.insert(conn, workspace_id, row)
            except IntegrityError:
                raise Conflict(f"a segment named {name!r} exists", field="name") from None
            result = self._refresh(conn, workspace_id, row.segment_id, catalog, now)
        return {**_view(row, result.entered), "entered": result.entered}

    def update(
        self,
        workspace_id: str,
        segment_id: str,
        *,
        name: str | None = None,
        condition: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Change a segment; a changed condition recomputes its members."""
        now = self.clock.now_ms()
        with self.store.write() as conn:
            catalog = self.engine.catalog(conn, workspace_id)
            row = self._row(conn, workspace_id, segment_id)
            new_name = row.name if name is None else name.strip()
            if not _NAME.match(new_name):
                raise InvalidInput("name must be 1-200 characters, no quotes", field="name")
            if new_name != row.name:
                if any(s.name == new_name for s in catalog.segments):
                    raise Conflict(f"a segment named {new_name!r} exists", field="name")
                users = dependents(catalog, row.name)
                if users:
                    raise Conflict(
                        f"cannot rename: used by in_segment in {', '.join(users)}", field="name"
                    )
            if condition is not None:
                if row.kind == STATIC:
                    raise InvalidInput("a static list has no condition", field="condition")
                self._compile(catalog, new_name, condition, current=row.name)
            changed = SegmentRow(
                row.segment_id,
                new_name,
                row.kind,
                row.condition if condition is None else condition,
                row.description if description is None else description,
                row.created_at,
                now,
            )
            self.segments.update(conn, workspace_id, changed)
            if changed.condition != row.condition:
                self._refresh(conn, workspace_id, row.segment_id, catalog, now)
            size = self.segments.size(conn, workspace_id, row.segment_id)
        return _view(changed, size)

    def delete(self, workspace_id: str, segment_id: str, *, force: bool = False) -> dict[str, Any]:
        """Delete a segment; refused (409) while others use it, unless ``force``."""
        with self.store.write() as conn:
            catalog = self.engine.catalog(conn, workspace_id)
            seg = self._find(catalog, segment_id)
            users = dependents(catalog, seg.name)
            if users and not force:
                raise Conflict(
                    f"segment {seg.name!r} is used by {', '.join(users)} (in_segment);"
                    " delete with force=true to go ahead",
                    field="segment",
                )
            self.segments.delete(conn, workspace_id, seg.segment_id)
            keep = set(self.engine.catalog(conn, workspace_id).keys.values())
            self.segments.drop_windows(conn, workspace_id, keep)
        return {"deleted": seg.segment_id, "name": seg.name, "dependents": users}

    def _refresh(
        self,
        conn: Connection,
        workspace_id: str,
        segment_id: str,
        before: Catalog,
        now: EpochMs,
        progress: Progress = _nothing,
    ) -> BackfillResult:
        catalog = self.engine.catalog(conn, workspace_id)
        seg = self._find(catalog, segment_id)
        defaults = self.consent_defaults(workspace_id)
        # Only this segment's aggregates that nobody maintained before (all of them on a
        # recompute, which passes an empty catalog) are built from the event log.
        mine = {aggregate_key(a): a for a in ast.aggregates(seg.condition)} if seg.condition else {}
        fresh = {k: a for k, a in mine.items() if k not in before.aggregates}
        if fresh:
            self.backfill.windows(conn, workspace_id, fresh, now, progress)
        in_use = set(catalog.keys.values())
        if set(before.keys.values()) - in_use:  # a changed condition left aggregates unused
            self.segments.drop_windows(conn, workspace_id, in_use)
        progress("members", 0, 1)
        clause = self.backfill.membership_clause(conn, workspace_id, catalog, seg, now, defaults)
        result = self.backfill.memberships(conn, workspace_id, seg, clause, now)
        progress("members", 1, 1)
        progress("schedule", 0, 1)
        self.backfill.schedule_clock(conn, workspace_id, catalog, [seg], now, defaults)
        progress("schedule", 1, 1)
        return result

    def recompute(
        self, workspace_id: str, segment_id: str, progress: Progress = _nothing
    ) -> dict[str, Any]:
        """Recompute a segment's members from scratch (windows included)."""
        now = self.clock.now_ms()
        with self.store.write() as conn:
            catalog = self.engine.catalog(conn, workspace_id)
            seg = self._find(catalog, segment_id)
            empty = Catalog(catalog.version, [])
            result = self._refresh(conn, workspace_id, seg.segment_id, empty, now, progress)
            size = self.segments.size(conn, workspace_id, seg.segment_id)
        return {
            "segment_id": seg.segment_id,
            "size": size,
            "entered": result.entered,
            "exited": result.exited,
        }

    def recompute_all(
        self,
        workspace_id: str,
        refs: Sequence[str] = (),
        *,
        workers: int = POSTGRES_WORKERS,
        progress: Progress = _nothing,
    ) -> list[dict[str, Any]]:
        """Recompute several segments (``refs``: ids or names; all when empty), on up to
        ``workers`` connections on PostgreSQL (see `unico.segments.recompute`)."""
        now = self.clock.now_ms()
        with self.store.read() as conn:
            catalog = self.engine.catalog(conn, workspace_id)
        wanted = {self._find(catalog, ref).segment_id for ref in refs}
        ids = [s.segment_id for s in catalog.segments if not wanted or s.segment_id in wanted]
        defaults = self.consent_defaults(workspace_id)
        rebuild = Rebuild(self.store, self.engine, self.backfill)
        return rebuild.run(workspace_id, ids, now, defaults, workers=workers, progress=progress)

    def preview(self, workspace_id: str, condition: str, *, sample: int = 10) -> dict[str, Any]:
        """How many profiles a condition selects now, and a few of them; nothing is saved."""
        now = self.clock.now_ms()
        with self.store.read() as conn:
            catalog = self.engine.catalog(conn, workspace_id)
            cond = self._compile(catalog, "\x00preview", condition)
            seg = CompiledSegment("\x00preview", "\x00preview", DYNAMIC, condition, cond)
            defaults = self.consent_defaults(workspace_id)
            clause = self.backfill.membership_clause(
                conn, workspace_id, catalog, seg, now, defaults
            )
            estimate = self.backfill.count(conn, clause)
            rows = self.backfill.sample(conn, clause, sample)
        return {
            "estimate": estimate,
            "sample": [
                {
                    "profile_id": r["profile_id"],
                    "traits": r["traits"],
                    "last_seen": to_iso(r["last_seen"]),
                }
                for r in rows
            ],
        }

    # -- reads ------------------------------------------------------------------------------

    def list(self, workspace_id: str) -> list[dict[str, Any]]:
        """Every segment with its size."""
        with self.store.read() as conn:
            sizes = self.segments.sizes(conn, workspace_id)
            rows = self.segments.segments(conn, workspace_id)
        return [_view(r, sizes.get(r.segment_id, 0)) for r in rows]

    def get(self, workspace_id: str, segment_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            row = self._row(conn, workspace_id, segment_id)
            size = self.segments.size(conn, workspace_id, row.segment_id)
        return _view(row, size)

    def members(
        self, workspace_id: str, segment_id: str, *, limit: int, cursor: str | None
    ) -> dict[str, Any]:
        """A page of members in profile id order; ``next_cursor`` fetches the next."""
        limit = max(1, min(limit, MAX_PAGE))
        with self.store.read() as conn:
            row = self._row(conn, workspace_id, segment_id)
            found = list(
                self.segments.members(
                    conn, workspace_id, row.segment_id, after=cursor, limit=limit + 1
                )
            )
        page = found[:limit]
        return {
            "segment_id": row.segment_id,
            "members": [
                {"profile_id": p, "since": to_iso(since), "reason": reason}
                for p, since, reason in page
            ],
            "next_cursor": page[-1][0] if len(found) > limit else None,
        }

    def export_members(self, workspace_id: str, segment_id: str) -> Iterator[tuple[str, str]]:
        """Every member as (profile id, since), streamed from one read transaction."""
        with self.store.read() as conn:
            row = self._row(conn, workspace_id, segment_id)
            for pid, since, _ in self.segments.members(
                conn, workspace_id, row.segment_id, after=None, limit=None
            ):
                yield pid, to_iso(since) or ""

    def memberships(self, workspace_id: str, profile_id: str) -> set[str]:
        """Names of the segments a profile is in now (for targeting)."""
        with self.store.read() as conn:
            held = self.segments.memberships(conn, workspace_id, [profile_id]).get(profile_id, {})
            if not held:
                return set()
            catalog = self.engine.catalog(conn, workspace_id)
        return {s.name for s in catalog.segments if s.segment_id in held}

    def is_member(self, workspace_id: str, profile_id: str, segment_name: str) -> bool:
        """Whether a profile is in the named segment now. Callers still check the consent
        purpose of their use (``ProfileService.is_granted``)."""
        return segment_name in self.memberships(workspace_id, profile_id)

    def profile_segments(self, workspace_id: str, ref: str) -> dict[str, Any]:
        """Each segment a person is in: name, since, the reason it started, and why it
        holds now."""
        now = self.clock.now_ms()
        with self.store.read() as conn:
            pid = self.profiles.resolve(conn, workspace_id, ref)
            if pid is None:
                raise NotFound(f"no profile {ref!r}", field="id")
            state = self.profiles.load_profiles(conn, workspace_id, [pid], lock=False)[pid]
            held = self.segments.memberships(conn, workspace_id, [pid]).get(pid, {})
            catalog = self.engine.catalog(conn, workspace_id)
            stored = self.segments.windows(conn, workspace_id, [pid]).get(pid, {})
        aggregates = catalog.aggregates
        windows = {k: Window.load(aggregates[k], v) for k, v in stored.items() if k in aggregates}
        ctx = ProfileEval(state, now, windows, catalog.keys, self.consent_defaults(workspace_id))
        ctx.members.update(s.name for s in catalog.segments if s.segment_id in held)
        out = []
        for seg in catalog.segments:
            membership = held.get(seg.segment_id)
            if membership is None:
                continue
            why = explain(seg.condition, ctx) if seg.condition is not None else {"list": True}
            out.append(
                {
                    "segment_id": seg.segment_id,
                    "name": seg.name,
                    "kind": seg.kind,
                    "since": to_iso(membership.since),
                    "reason": membership.reason,
                    "why": why,
                }
            )
        return {"profile_id": pid, "segments": out}
