"""A workspace's segments compiled for real-time work: parsed once, in dependency order,
with an index from event names to the windowed aggregates they feed, and the
`EvalContext` one profile is evaluated in."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from unico.core.types import EpochMs
from unico.profiles import consent as consent_rules
from unico.profiles.store import ProfileState
from unico.segments import ast
from unico.segments.evaluate import MISSING, PROFILE_TIMES, walk
from unico.segments.parser import parse
from unico.segments.program import Program, compile_program
from unico.segments.semantics import date_ms
from unico.segments.store import SegmentRow
from unico.segments.windows import DEFAULT_MAX_POINTS, Window, aggregate_key

log = logging.getLogger("unico.segments")
_UNREAD = object()
DAY_MS = 86_400_000
STATIC = "static"
DYNAMIC = "dynamic"


@dataclass(frozen=True, slots=True)
class Probe:
    """Where a comparison against the clock may flip: at ``field - offset`` (``field <
    now - 30d`` flips 30 days after the field's time)."""

    path: tuple[str, ...]
    offset_ms: int


@dataclass(frozen=True, slots=True)
class CompiledSegment:
    segment_id: str
    name: str
    kind: str
    text: str | None
    condition: ast.Condition | None
    probes: tuple[Probe, ...] = ()
    #: state keys of the windowed aggregates the condition uses
    agg_keys: tuple[str, ...] = ()


@dataclass(slots=True)
class Catalog:
    """A workspace's segments at one catalog version."""

    version: int
    segments: list[CompiledSegment]
    #: every windowed aggregate in use -> its state key
    keys: dict[ast.EventAggregate, str] = field(default_factory=dict)
    #: event name (None: any event) -> the aggregates it may feed
    by_event: dict[str | None, list[tuple[str, ast.EventAggregate]]] = field(default_factory=dict)
    has_static: bool = False
    #: every relative-date probe of the dynamic segments, once each
    probes: tuple[Probe, ...] = ()
    #: `keys` by the identity of the node: the program asks with these very nodes, and
    #: hashing one hashes its whole ``where`` tree (the nodes stay alive in `keys`, so no
    #: other object can have their id)
    ids: dict[int, str] = field(default_factory=dict)
    #: every segment, in dependency order, as one function (`unico.segments.program`)
    program: Program = field(default=lambda _ctx, _lists, _names: [], repr=False)
    #: segment id -> its place in `segments`
    order: dict[str, int] = field(default_factory=dict)

    @property
    def aggregates(self) -> dict[str, ast.EventAggregate]:
        return {k: a for a, k in self.keys.items()}

    def feeding(self, name: str | None) -> list[tuple[str, ast.EventAggregate]]:
        return self.by_event.get(name, []) + (self.by_event.get(None, []) if name else [])


def _probes(node: ast.Condition) -> list[Probe]:
    found: list[Probe] = []

    def walk(n: ast.Condition) -> None:
        if isinstance(n, ast.Compare):
            for a, b in ((n.left, n.right), (n.right, n.left)):
                if isinstance(a, ast.Field) and isinstance(b, ast.Timestamp) and b.relative:
                    found.append(Probe(a.path, b.offset_ms))
        elif isinstance(n, ast.And | ast.Or):
            for item in n.items:
                walk(item)
        elif isinstance(n, ast.Not):
            walk(n.item)

    walk(node)
    return found


def _ordered(segments: list[CompiledSegment]) -> list[CompiledSegment]:
    """Dependencies first (``in_segment``); refused cycles never get here, and any that did
    are evaluated last rather than looping."""
    by_name = {s.name: s for s in segments}
    done: dict[str, CompiledSegment] = {}
    visiting: set[str] = set()

    def visit(seg: CompiledSegment) -> None:
        if seg.name in done or seg.name in visiting:
            return
        visiting.add(seg.name)
        refs = ast.segment_refs(seg.condition) if seg.condition is not None else set()
        for ref in sorted(refs):
            if ref in by_name:
                visit(by_name[ref])
        visiting.discard(seg.name)
        done[seg.name] = seg

    for seg in segments:
        visit(seg)
    return list(done.values())


def compile_catalog(version: int, rows: list[SegmentRow]) -> Catalog:
    compiled: list[CompiledSegment] = []
    # One node object per distinct aggregate, shared by the program and `Catalog.keys`:
    # the windows are then found by identity (see `compiled.compile_truth`).
    nodes: dict[ast.EventAggregate, ast.EventAggregate] = {}
    for row in rows:
        if row.kind == STATIC or row.condition is None:
            compiled.append(CompiledSegment(row.segment_id, row.name, STATIC, None, None))
            continue
        try:
            cond = parse(row.condition)
        except Exception:  # saved conditions were checked; a grammar change must not stop ingest
            log.exception("segment %s no longer parses; skipped", row.segment_id)
            continue
        probes = tuple(_probes(cond))
        keys = tuple(dict.fromkeys(aggregate_key(a) for a in ast.aggregates(cond)))
        compiled.append(
            CompiledSegment(row.segment_id, row.name, DYNAMIC, row.condition, cond, probes, keys)
        )
    catalog = Catalog(version, _ordered(compiled))
    catalog.program = compile_program(
        [(s.segment_id, s.name, s.condition) for s in catalog.segments], nodes
    )
    catalog.order = {s.segment_id: i for i, s in enumerate(catalog.segments)}
    catalog.has_static = any(s.kind == STATIC for s in compiled)
    catalog.probes = tuple(dict.fromkeys(p for s in compiled for p in s.probes))
    for seg in compiled:
        if seg.condition is None:
            continue
        for found in ast.aggregates(seg.condition):
            agg = nodes.setdefault(found, found)
            if agg not in catalog.keys:
                key = aggregate_key(agg)
                catalog.keys[agg] = key
                catalog.by_event.setdefault(agg.event, []).append((key, agg))
    catalog.ids = {id(agg): key for agg, key in catalog.keys.items()}
    return catalog


class ProfileEval:
    """The `EvalContext` of one profile at one moment: fields from its state, aggregates
    from its windows, memberships as evaluated so far (dependencies come first)."""

    __slots__ = (
        "_cache",
        "_defaults",
        "_fields",
        "_ids",
        "keys",
        "members",
        "now_ms",
        "state",
        "windows",
    )

    def __init__(
        self,
        state: ProfileState,
        now: EpochMs,
        windows: Mapping[str, Window],
        keys: Mapping[ast.EventAggregate, str],
        defaults: Mapping[str, bool],
        members: set[str] | None = None,
        *,
        ids: Mapping[int, str] | None = None,
    ) -> None:
        self.state = state
        self.now_ms = now
        self.windows = windows
        self.keys = keys
        #: `Catalog.ids` when ``keys`` is `Catalog.keys`
        self._ids = ids or {}
        self._defaults = defaults
        self.members: set[str] = members if members is not None else set()
        self._cache: dict[str, Any] = {}
        # Comparisons with the clock and the next-check probes read the same few fields.
        self._fields: dict[tuple[str, ...], Any] = {}

    def field(self, path: tuple[str, ...]) -> Any:
        found = self._fields.get(path, _UNREAD)
        if found is _UNREAD:
            found = self._fields[path] = self._read(path)
        return found

    def _read(self, path: tuple[str, ...]) -> Any:
        # `evaluate.profile_field` over the state's attributes (no dict of them built).
        root, state = path[0], self.state
        if root == "traits" or root == "computed":
            if len(path) == 1:
                return MISSING
            return walk(state.traits if root == "traits" else state.computed, path[1:])
        if root == "soft":
            return walk(state.soft, (*path[1:], "value")) if len(path) == 3 else MISSING
        if root == "profile" and len(path) == 2 and path[1] in PROFILE_TIMES:
            value = getattr(state, path[1])
            return MISSING if value is None else value
        return MISSING

    def aggregate(self, agg: ast.EventAggregate) -> float | int | None:
        key = self._ids.get(id(agg)) or self.keys.get(agg)
        window = None if key is None else self.windows.get(key)
        if window is None:
            return 0 if agg.fn in ("count", "sum") else None
        assert key is not None
        value: float | int | None = self._cache.get(key, _UNREAD)  # type: ignore[assignment]
        if value is _UNREAD:
            value = self._cache[key] = window.value(self.now_ms)
        return value

    def in_segment(self, name: str) -> bool:
        return name in self.members

    def consented(self, purpose: str) -> bool:
        if purpose not in consent_rules.PURPOSES:
            return False
        return consent_rules.is_granted(self.state.consent, self._defaults, purpose)


def next_change(
    seg: CompiledSegment, ctx: ProfileEval, now: EpochMs, windows: Mapping[str, Window]
) -> EpochMs | None:
    """The earliest time after ``now`` at which this segment's result may flip with no new
    event: a window losing an event, or the clock passing a relative date."""
    return _soonest(seg.agg_keys, seg.probes, ctx, now, windows)


def next_check(catalog: Catalog, ctx: ProfileEval, now: EpochMs) -> EpochMs | None:
    """`next_change` over all of the catalog's dynamic segments (all of them are evaluated
    together, so one pass over the person's windows and the distinct probes does)."""
    return _soonest(ctx.windows, catalog.probes, ctx, now, ctx.windows)


def _soonest(
    keys: Iterable[str],
    probes: Iterable[Probe],
    ctx: ProfileEval,
    now: EpochMs,
    windows: Mapping[str, Window],
) -> EpochMs | None:
    best: EpochMs | None = None
    for key in keys:
        window = windows.get(key)
        at = window.next_change_at(now) if window is not None else None
        if at is not None and (best is None or at < best):
            best = at
    for probe in probes:
        value = ctx.field(probe.path)
        if isinstance(value, str):
            value = date_ms(value)  # ISO text compares with the clock as a time
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        for at in (int(value) - probe.offset_ms, int(value) - probe.offset_ms + 1):
            if at > now and (best is None or at < best):
                best = at
                break
    return best


def window_for(
    windows: dict[str, Window], key: str, agg: ast.EventAggregate, max_points: int
) -> Window:
    found = windows.get(key)
    if found is None:
        found = windows[key] = Window.empty(agg, max_points)
    return found


__all__ = [
    "DEFAULT_MAX_POINTS",
    "Catalog",
    "CompiledSegment",
    "ProfileEval",
    "compile_catalog",
    "next_change",
    "next_check",
    "window_for",
]
