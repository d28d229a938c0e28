"""The segments context, built: definitions and memberships, the real-time engine and its
listener, the sweeper, and what segments hold on a person."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from unico.collect.store import EventStore
from unico.core.clock import Clock
from unico.core.module import ContextModule
from unico.core.settings import Settings
from unico.db.engine import Store
from unico.profiles.store import ProfileStore
from unico.segments.persons import SegmentData
from unico.segments.realtime import SegmentEngine, SegmentListener
from unico.segments.service import SegmentService
from unico.segments.sql import install_sqlite_functions
from unico.segments.store import SegmentStore
from unico.segments.sweeper import Sweeper


@dataclass(kw_only=True)
class SegmentsModule(ContextModule):
    #: Segments: definitions, memberships (``is_member``, ``memberships``), static lists.
    segments: SegmentService
    #: Re-evaluates people when a window expires or a relative date passes.
    sweeper: Sweeper


def build(
    settings: Settings,
    store: Store,
    clock: Clock,
    segment_store: SegmentStore,
    profile_store: ProfileStore,
    event_store: EventStore,
    consent_defaults: Callable[[str], Mapping[str, bool]],
) -> SegmentsModule:
    """The service and the sweeper (one process sweeps for all); the membership listener
    evaluates people on every ingest group."""
    if store.is_sqlite:
        install_sqlite_functions(store.engine)  # ``matches`` in SQL
    engine = SegmentEngine(
        segment_store, event_store, consent_defaults, max_points=settings.segment_window_points
    )
    segments = SegmentService(
        store,
        segment_store,
        engine,
        profile_store,
        clock,
        consent_defaults,
        max_list_rows=settings.segment_upload_max_rows,
    )
    sweeper = Sweeper(
        store,
        segment_store,
        engine,
        profile_store,
        clock,
        poll_seconds=settings.segment_sweep_seconds,
    )
    return SegmentsModule(
        "segments",
        listeners=[SegmentListener(engine)],
        singleton_workers=[sweeper],
        person_data=SegmentData(segment_store, profile_store),
        segments=segments,
        sweeper=sweeper,
    )
