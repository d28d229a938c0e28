"""The ingest pipeline: one transaction takes a group of events from "received" to
"stored, de-duplicated, profiled or aggregated, consent applied"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection

from unico.collect.store import AggregateKey, DeadLetter, EventStore
from unico.core.event import Event
from unico.core.types import EpochMs
from unico.profiles.store import ConsentChange, Merge, ProfileState
from unico.profiles.updater import ProfileUpdater

DAY_MS = 86_400_000


@dataclass(slots=True)
class Submission:
    """One request's worth of work for one workspace."""

    workspace_id: str
    consent_defaults: Mapping[str, bool]
    events: list[Event]
    dead_letters: list[DeadLetter]


@dataclass(slots=True)
class Receipt:
    """What happened to a submission, returned once it is committed."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    #: Events from erased people: accepted and discarded.
    suppressed: int = 0
    #: Events kept only in anonymous aggregates (no analytics consent).
    anonymous: int = 0


@dataclass(slots=True)
class ProfiledGroup:
    """What one workspace's part of an ingest group did to profiles, for listeners.

    ``events`` are the stored (profiled) events in arrival order with the surviving profile
    id of each; ``profiles`` every profile state the group touched, after the group (merged
    losers included, with ``merged_into`` set); ``merges`` and ``consent`` the merges and
    consent changes it made.
    """

    workspace_id: str
    events: list[tuple[Event, str]]
    profiles: Mapping[str, ProfileState]
    merges: list[Merge] = field(default_factory=list)
    consent: list[ConsentChange] = field(default_factory=list)
    now: EpochMs = 0


class EventListener(Protocol):
    """Another context reacting to ingested events inside the ingest transaction, so that
    what it derives (windowed counters, memberships, item co-occurrence...) commits or rolls
    back with the events themselves. Listeners run in the writer (thread or process): they
    must be quick and must not call back into the ingestor.

    >>> # class ItemInteractions:
    >>> #     def on_events(self, conn, group): ...   # write rows with conn
    """

    def on_events(self, conn: Connection, group: ProfiledGroup) -> None: ...

    def rollback(self) -> None:
        """The transaction around the last `on_events` calls failed: drop cached state."""


def day_of(ms: EpochMs) -> int:
    """Days since the epoch (UTC) — the aggregate bucket."""
    return ms // DAY_MS


class IngestPipeline:
    """Processes submissions inside a write transaction the caller opened."""

    def __init__(
        self,
        events: EventStore,
        updater: ProfileUpdater,
        listeners: Sequence[EventListener] = (),
    ) -> None:
        self.events = events
        self.updater = updater
        #: Other contexts' listeners; the container appends to it while wiring.
        self.listeners = list(listeners)

    def rollback(self) -> None:
        """The transaction around `process` failed: drop state that assumed it committed."""
        self.updater.rollback()
        for listener in self.listeners:
            listener.rollback()

    def process(
        self, conn: Connection, submissions: list[Submission], now: EpochMs
    ) -> list[Receipt]:
        """Process submissions (any workspaces) in arrival order; one receipt each."""
        self.updater.begin()
        receipts = [Receipt(rejected=len(s.dead_letters)) for s in submissions]
        by_workspace: dict[str, list[int]] = {}
        for i, sub in enumerate(submissions):
            by_workspace.setdefault(sub.workspace_id, []).append(i)
        for workspace_id, indexes in by_workspace.items():
            self._process_workspace(conn, workspace_id, submissions, indexes, receipts, now)
        return receipts

    def _process_workspace(
        self,
        conn: Connection,
        workspace_id: str,
        submissions: list[Submission],
        indexes: list[int],
        receipts: list[Receipt],
        now: EpochMs,
    ) -> None:
        letters = [d for i in indexes for d in submissions[i].dead_letters]
        self.events.insert_dead_letters(conn, workspace_id, letters, now)
        owners: dict[str, int] = {}
        batch: list[Event] = []
        for i in indexes:
            for event in submissions[i].events:
                if event.message_id in owners:
                    receipts[i].duplicates += 1
                    continue
                owners[event.message_id] = i
                batch.append(event)
        fresh = self.events.claim(conn, workspace_id, [e.message_id for e in batch], now)
        todo = []
        for event in batch:
            if event.message_id in fresh:
                todo.append(event)
            else:
                receipts[owners[event.message_id]].duplicates += 1
        if not todo:
            return
        defaults = submissions[indexes[0]].consent_defaults
        outcomes, changes = self.updater.apply(conn, workspace_id, defaults, todo, now)
        stored: list[tuple[Event, str]] = []
        counts: Counter[AggregateKey] = Counter()
        for event, outcome in zip(todo, outcomes, strict=True):
            receipt = receipts[owners[event.message_id]]
            receipt.accepted += 1
            if outcome.suppressed:
                receipt.suppressed += 1
                continue
            if outcome.profiled and outcome.profile_id is not None:
                stored.append((event, outcome.profile_id))
            else:
                receipt.anonymous += 1
            counts[(day_of(event.timestamp), event.type, event.name or "", outcome.profiled)] += 1
        self.events.insert_events(conn, workspace_id, stored)
        self.events.bump_aggregates(conn, workspace_id, counts)
        if self.listeners and changes.profiles:
            group = ProfiledGroup(
                workspace_id, stored, changes.profiles, changes.merges, changes.consent, now
            )
            for listener in self.listeners:
                listener.on_events(conn, group)
