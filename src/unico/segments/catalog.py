"""A workspace's segments compiled for real-time work: parsed once, in dependency order,
with an index from event names to the windowed aggregates they feed, and the
`EvalContext` one profile is evaluated in."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from unico.core.types import EpochMs
from unico.profiles import consent as consent_rules
from unico.profiles.store import ProfileState
from unico.segments import ast
from unico.segments.compiled import TruthFn, compile_truth
from unico.segments.evaluate import MISSING, PROFILE_TIMES, walk
from unico.segments.parser import parse
from unico.segments.semantics import date_ms
from unico.segments.windows import DEFAULT_MAX_POINTS, Window, aggregate_key
from unico.store.segments import SegmentRow

log = logging.getLogger("unico.segments")
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
    #: the condition compiled (`unico.segments.compiled`): its truth in a context
    truth: TruthFn | None = field(default=None, compare=False)


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
        truth = compile_truth(cond)
        compiled.append(
            CompiledSegment(
                row.segment_id, row.name, DYNAMIC, row.condition, cond, probes, keys, truth
            )
        )
    catalog = Catalog(version, _ordered(compiled))
    catalog.has_static = any(s.kind == STATIC for s in compiled)
    for seg in compiled:
        if seg.condition is None:
            continue
        for agg in ast.aggregates(seg.condition):
            if agg not in catalog.keys:
                key = aggregate_key(agg)
                catalog.keys[agg] = key
                catalog.by_event.setdefault(agg.event, []).append((key, agg))
    return catalog


class ProfileEval:
    """The `EvalContext` of one profile at one moment: fields from its state, aggregates
    from its windows, memberships as evaluated so far (dependencies come first)."""

    __slots__ = ("_cache", "_defaults", "keys", "members", "now_ms", "state", "windows")

    def __init__(
        self,
        state: ProfileState,
        now: EpochMs,
        windows: Mapping[str, Window],
        keys: Mapping[ast.EventAggregate, str],
        defaults: Mapping[str, bool],
        members: set[str] | None = None,
    ) -> None:
        self.state = state
        self.now_ms = now
        self.windows = windows
        self.keys = keys
        self._defaults = defaults
        self.members: set[str] = members if members is not None else set()
        self._cache: dict[str, Any] = {}

    def field(self, path: tuple[str, ...]) -> Any:
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
        key = self.keys.get(agg)
        window = None if key is None else self.windows.get(key)
        if window is None:
            return 0 if agg.fn in ("count", "sum") else None
        assert key is not None
        if key not in self._cache:
            self._cache[key] = window.value(self.now_ms)
        value: float | int | None = self._cache[key]
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
    best: EpochMs | None = None
    for key in seg.agg_keys:
        window = windows.get(key)
        at = window.next_change_at(now) if window is not None else None
        if at is not None and (best is None or at < best):
            best = at
    for probe in seg.probes:
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
    "window_for",
]
