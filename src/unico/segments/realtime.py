"""Real-time membership: every event, consent change, merge, list change and expiry
re-evaluates the people it touched, incrementally, inside the transaction that made it.

`SegmentEngine.process` is the one path: load the people's memberships, window states and
list entries (one query each for the whole group), fold merged profiles into their
survivors, feed the new events to the windows they match, evaluate the workspace's
segments in dependency order, write what changed and store a ``Segment Entered`` /
``Segment Exited`` event for each change (type track, properties ``segment_id``,
``segment``, ``reason``; deterministic message ids, so a retried transaction writes the
same ones). `SegmentListener` runs it for each ingest group; the sweeper for people whose
next check is due.

A workspace's segments run as one function generated once per catalog version
(`unico.segments.program`, the same three-valued semantics as `unico.segments.evaluate`,
checked against it by a property test): each field, aggregate and consent purpose is read
once per person, and the segments a person is in come back as a list to compare with the
ones held. Every dynamic segment is evaluated on every trigger. Skipping those whose inputs
cannot have changed (a ``traits.*``-only rule on a track event) is not done: the listener
does not learn which profile columns the group changed (the profile store clears its
change marks when it writes, before listeners run), consent defaults can change between
events, and a segment costs well under a microsecond in the program. The next check is
taken once per person over all their windows and the catalog's distinct relative-date
probes (every dynamic segment is evaluated, so this is the soonest over all of them).

Membership needs ``analytics`` consent (without it Unico keeps no profile data on the
person, so they are in no segment, static lists included; list entries stay and count
again when consent returns). Other purposes count only through ``consented(...)`` in a
condition: whoever uses a segment for a purpose (deciding, messaging) still checks that
purpose at the moment of use.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from unico.collect.pipeline import ProfiledGroup
from unico.collect.store import EventStore
from unico.core.event import Event
from unico.core.revisions import RevisionCache
from unico.core.types import EpochMs
from unico.profiles.identity import event_keys
from unico.profiles.store import ProfileState
from unico.segments.catalog import (
    DEFAULT_MAX_POINTS,
    STATIC,
    Catalog,
    CompiledSegment,
    ProfileEval,
    compile_catalog,
    next_check,
    window_for,
)
from unico.segments.evaluate import event_matches, event_value
from unico.segments.store import Membership, SegmentStore
from unico.segments.windows import Window

ENTERED = "Segment Entered"
EXITED = "Segment Exited"
ConsentDefaults = Callable[[str], Mapping[str, bool]]


@dataclass(slots=True)
class Transition:
    segment: CompiledSegment
    profile_id: str
    entered: bool
    reason: dict[str, Any]


@dataclass(slots=True)
class _People:
    """The loaded state of the people one call works on."""

    memberships: dict[str, dict[str, Membership]]
    windows: dict[str, dict[str, Window]]
    entries: dict[str, set[str]]
    touched_windows: set[tuple[str, str]] = field(default_factory=set)
    #: survivors whose memberships took a merged profile's in
    folded: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Trigger:
    """What caused an evaluation: ``kind`` is event, consent, merge, expiry, list or manual."""

    kind: str
    message_ids: dict[str, str] = field(default_factory=dict)

    def of(self, profile_id: str) -> dict[str, Any]:
        found = self.message_ids.get(profile_id)
        kind = "event" if found is not None else self.kind
        return {"trigger": kind, **({"message_id": found} if found else {})}


def message_id(transition: Transition, now: EpochMs, trigger: dict[str, Any]) -> str:
    """Deterministic: the same change for the same cause gets the same id (retries dedupe)."""
    seed = "\x1f".join(
        (
            transition.segment.segment_id,
            transition.profile_id,
            "in" if transition.entered else "out",
            str(now),
            str(trigger.get("message_id") or trigger.get("trigger")),
        )
    )
    return "seg-" + hashlib.blake2b(seed.encode(), digest_size=16).hexdigest()


class SegmentEngine:
    """Evaluates people against a workspace's segments and records what changed.

    >>> # engine.process(conn, "ws_…", {pid: state}, now, trigger=Trigger("expiry"))
    """

    def __init__(
        self,
        segments: SegmentStore,
        events: EventStore,
        consent_defaults: ConsentDefaults,
        *,
        max_points: int = DEFAULT_MAX_POINTS,
        timings: list[tuple[float, float]] | None = None,
    ) -> None:
        self.segments = segments
        self.events = events
        self.consent_defaults = consent_defaults
        self.max_points = max_points
        # check_seconds=0: read inside the transaction that may have just changed them.
        self._catalogs: RevisionCache[Catalog] = RevisionCache(
            revision=segments.version,
            build=lambda conn, ws, version: compile_catalog(version, segments.segments(conn, ws)),
            check_seconds=0,
        )
        #: When a list is given, each profile evaluation's (wall, CPU) seconds are appended.
        self.timings = timings

    def forget(self) -> None:
        self._catalogs.forget()

    def catalog(self, conn: Connection, workspace_id: str) -> Catalog:
        """The workspace's compiled segments; one version read per call."""
        return self._catalogs.get(conn, workspace_id)

    def process(
        self,
        conn: Connection,
        workspace_id: str,
        profiles: Mapping[str, ProfileState],
        now: EpochMs,
        trigger: Trigger,
        *,
        feed: Iterable[tuple[Event, str]] = (),
        merges: Mapping[str, str] | None = None,
    ) -> list[Transition]:
        """Re-evaluate ``profiles`` (survivors; merged losers are folded in via ``merges``,
        loser -> survivor) after feeding ``feed`` to their windows."""
        catalog = self.catalog(conn, workspace_id)
        if not catalog.segments:
            return []
        survivors = {p: s for p, s in profiles.items() if s.merged_into is None}
        moves = dict(merges or {})
        feed = list(feed)
        people = self._load(conn, workspace_id, catalog, [*survivors, *moves])
        if moves:
            self._fold(conn, workspace_id, people, moves)
        for event, pid in feed:
            self._feed(catalog, people, event, pid)
        if catalog.has_static and feed:
            self._resolve_pending(conn, workspace_id, people, feed)
        defaults = self.consent_defaults(workspace_id)
        transitions: list[Transition] = []
        schedule: list[tuple[str, EpochMs | None]] = []
        for pid, state in survivors.items():
            started, cpu = time.perf_counter(), time.thread_time()
            changes, due = self._evaluate(catalog, people, pid, state, now, defaults, trigger)
            if self.timings is not None:
                self.timings.append((time.perf_counter() - started, time.thread_time() - cpu))
            transitions += changes
            schedule.append((pid, due))
        self._write(conn, workspace_id, people, transitions, schedule, now, trigger)
        return transitions

    def _load(
        self, conn: Connection, workspace_id: str, catalog: Catalog, pids: list[str]
    ) -> _People:
        aggregates = catalog.aggregates
        stored = self.segments.windows(conn, workspace_id, pids)
        windows = {
            pid: {
                k: Window.load(aggregates[k], v, self.max_points)
                for k, v in states.items()
                if k in aggregates
            }
            for pid, states in stored.items()
        }
        entries = self.segments.entries(conn, workspace_id, pids) if catalog.has_static else {}
        return _People(self.segments.memberships(conn, workspace_id, pids), windows, entries)

    def _fold(
        self, conn: Connection, workspace_id: str, people: _People, moves: Mapping[str, str]
    ) -> None:
        """Merged profiles: the survivor takes the loser's window events, memberships (the
        earlier ``since``) and list entries; the loser's rows go."""
        for loser, survivor in moves.items():
            into = people.windows.setdefault(survivor, {})
            for key, window in people.windows.pop(loser, {}).items():
                if key in into:
                    into[key].merge(window)
                else:
                    into[key] = window
                    window.dirty = True
                people.touched_windows.add((survivor, key))
            mine = people.memberships.setdefault(survivor, {})
            for seg, held in people.memberships.pop(loser, {}).items():
                if seg not in mine or held.since < mine[seg].since:
                    mine[seg] = held
            people.entries.setdefault(survivor, set()).update(people.entries.pop(loser, set()))
            people.folded.add(survivor)
        self.segments.move_profiles(conn, workspace_id, dict(moves))

    def _feed(self, catalog: Catalog, people: _People, event: Event, pid: str) -> None:
        for key, agg in catalog.feeding(event.name):
            if not event_matches(agg, event.name, event.properties, event.context):
                continue
            windows = people.windows.setdefault(pid, {})
            value = None if agg.fn == "count" else event_value(agg, event.properties, event.context)
            window_for(windows, key, agg, self.max_points).add(event.timestamp, value)
            people.touched_windows.add((pid, key))

    def _resolve_pending(
        self,
        conn: Connection,
        workspace_id: str,
        people: _People,
        feed: list[tuple[Event, str]],
    ) -> None:
        """Identities from static lists that were unknown at upload: their person joins now."""
        owner = {key: pid for event, pid in feed for key in event_keys(event)}
        if not owner:
            return
        found = self.segments.pending(conn, workspace_id, owner)
        for segment_id, kind, value in found:
            people.entries.setdefault(owner[(kind, value)], set()).add(segment_id)
        if found:
            resolved = {(k, v): owner[(k, v)] for _, k, v in found}
            self.segments.resolve_pending(conn, workspace_id, resolved)

    def _evaluate(
        self,
        catalog: Catalog,
        people: _People,
        pid: str,
        state: ProfileState,
        now: EpochMs,
        defaults: Mapping[str, bool],
        trigger: Trigger,
    ) -> tuple[list[Transition], EpochMs | None]:
        windows = people.windows.get(pid, {})
        for key, window in windows.items():
            window.prune(now)
            if window.dirty:
                people.touched_windows.add((pid, key))
        held = people.memberships.setdefault(pid, {})
        ctx = ProfileEval(state, now, windows, catalog.keys, defaults, ids=catalog.ids)
        profiled = ctx.consented("analytics")
        changes: list[Transition] = []
        if not profiled:  # in no segment, and nothing to check until consent returns
            for seg in catalog.segments:
                if seg.segment_id in held:
                    reason = self._reason(seg, ctx, False, profiled, trigger.of(pid))
                    changes.append(Transition(seg, pid, False, reason))
            return changes, None
        members = catalog.program(ctx, people.entries.get(pid, set()), ctx.members)
        found = set(members)
        order = catalog.order
        changed = [s for s in members if s not in held]
        changed += [s for s in held if s not in found and s in order]
        if changed:
            cause = trigger.of(pid)
            for segment_id in sorted(changed, key=order.__getitem__):  # the catalog's order
                seg, member = catalog.segments[order[segment_id]], segment_id in found
                reason = self._reason(seg, ctx, member, profiled, cause)
                changes.append(Transition(seg, pid, member, reason))
        return changes, next_check(catalog, ctx, now)

    def _reason(
        self,
        seg: CompiledSegment,
        ctx: ProfileEval,
        member: bool,
        profiled: bool,
        trigger: dict[str, Any],
    ) -> dict[str, Any]:
        if not profiled:
            return {"kind": "consent", "purpose": "analytics", "granted": False, **trigger}
        if seg.kind == STATIC:
            return {"kind": "list", "listed": member, **trigger}
        # The condition and what set it off (``held`` says which way). The per-part
        # explanation is computed when asked for (GET /v1/profiles/{ref}/segments): it
        # costs more than the evaluation itself, and this path has a millisecond.
        return {"kind": "rule", "condition": seg.text, "held": member, **trigger}

    def _write(
        self,
        conn: Connection,
        workspace_id: str,
        people: _People,
        transitions: list[Transition],
        schedule: list[tuple[str, EpochMs | None]],
        now: EpochMs,
        trigger: Trigger,
    ) -> None:
        upserts, deletes = [], []
        for pid, key in sorted(people.touched_windows):
            window = people.windows.get(pid, {}).get(key)
            if window is not None and window.points:
                upserts.append((pid, key, window.dump()))
            else:
                deletes.append((pid, key))
        self.segments.write_windows(conn, workspace_id, upserts, deletes)
        folded = [
            (s, pid, m.since, m.reason)
            for pid in sorted(people.folded)
            for s, m in people.memberships.get(pid, {}).items()
        ]
        self.segments.write_memberships(conn, workspace_id, folded, [])
        self.segments.write_memberships(
            conn,
            workspace_id,
            [(t.segment.segment_id, t.profile_id, now, t.reason) for t in transitions if t.entered],
            [(t.segment.segment_id, t.profile_id) for t in transitions if not t.entered],
        )
        self.segments.write_schedule(conn, workspace_id, schedule)
        self._emit(conn, workspace_id, transitions, now, trigger)

    def _emit(
        self,
        conn: Connection,
        workspace_id: str,
        transitions: list[Transition],
        now: EpochMs,
        trigger: Trigger,
    ) -> None:
        if not transitions:
            return
        events = {}
        for t in transitions:
            mid = message_id(t, now, trigger.of(t.profile_id))
            properties = {"segment_id": t.segment.segment_id, "segment": t.segment.name}
            events[mid] = (
                Event(
                    "track",
                    mid,
                    now,
                    now,
                    name=ENTERED if t.entered else EXITED,
                    properties={**properties, "reason": t.reason},
                    context={"library": {"name": "unico-segments"}},
                ),
                t.profile_id,
            )
        fresh = self.events.claim(conn, workspace_id, list(events), now)
        self.events.insert_events(conn, workspace_id, [events[m] for m in events if m in fresh])


class SegmentListener:
    """Runs the engine for every ingest group (an `unico.collect.pipeline.EventListener`)."""

    def __init__(self, engine: SegmentEngine) -> None:
        self.engine = engine

    def on_events(self, conn: Connection, group: ProfiledGroup) -> None:
        profiles = group.profiles
        merges = {m.from_profile: _survivor(profiles, m.into_profile) for m in group.merges}
        kind = "merge" if merges else "consent"
        trigger = Trigger(kind, {pid: e.message_id for e, pid in group.events})
        self.engine.process(
            conn,
            group.workspace_id,
            profiles,
            group.now,
            trigger,
            feed=group.events,
            merges=merges,
        )

    def rollback(self) -> None:
        # Nothing but compiled definitions is cached; they are still right.
        return None


def _survivor(profiles: Mapping[str, ProfileState], pid: str) -> str:
    seen = 0
    while (state := profiles.get(pid)) is not None and state.merged_into and seen < 100:
        pid, seen = state.merged_into, seen + 1
    return pid
